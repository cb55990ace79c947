#include "pyml/openvino_backend.h"

#include <openvino/openvino.hpp>

#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "pyml/errors.h"
#include "pyml/thread_pool.h"

namespace pyml {
namespace {

constexpr std::size_t kShapeCache = 16;

class OpenVinoBackend : public Backend {
 public:
  OpenVinoBackend(const std::string& model_dir, int threads, const std::string& precision) {
    if (precision != "fp32" && precision != "bf16") {
      throw std::invalid_argument("precision must be fp32 or bf16, not '" + precision + "'");
    }
    const std::string file = model_dir + "/inference.onnx";
    if (!std::ifstream(file).good()) {
      throw ModelError(file + ": not found; write it with `pyml convert " + model_dir + "`");
    }
    try {
      model_ = core_.read_model(file);
    } catch (const std::exception& e) {
      throw ModelError(file + ": OpenVINO cannot read it: " + e.what());
    }
    const ov::PartialShape out = model_->output(0).get_partial_shape();
    if (out.rank().is_dynamic() || out.rank().get_length() != 2 || out[1].is_dynamic()) {
      throw ModelError(file + ": expected an output of shape [N, classes], got " + out.to_string());
    }
    classes_ = static_cast<std::size_t>(out[1].get_length());
    input_name_ = model_->input(0).get_any_name();
    const int n = threads > 0 ? threads : usable_cores();
    settings_ = {
        ov::hint::inference_precision(precision == "bf16" ? ov::element::bf16 : ov::element::f32),
        ov::inference_num_threads(n),
        ov::hint::performance_mode(ov::hint::PerformanceMode::LATENCY), ov::num_streams(1)};
  }

  std::vector<float> infer(const float* batch, std::size_t n, int height, int width) override {
    std::lock_guard<std::mutex> lock(mutex_);  // one infer request per shape: one call at a time
    ov::InferRequest& request = request_for(n, height, width);
    const ov::Shape shape{n, 3, static_cast<std::size_t>(height), static_cast<std::size_t>(width)};
    // The caller's buffer is wrapped, not copied.
    request.set_input_tensor(ov::Tensor(ov::element::f32, shape, const_cast<float*>(batch)));
    request.infer();
    const ov::Tensor scores = request.get_output_tensor();
    const float* data = scores.data<const float>();
    return std::vector<float>(data, data + scores.get_size());
  }

  std::size_t num_classes() const override { return classes_; }

 private:
  ov::InferRequest& request_for(std::size_t n, int height, int width) {
    const auto key = std::make_tuple(n, height, width);
    auto found = requests_.find(key);
    if (found != requests_.end()) return found->second;
    if (requests_.size() >= kShapeCache) requests_.clear();  // odd shapes cannot grow it forever
    std::shared_ptr<ov::Model> model = model_->clone();
    model->reshape({{input_name_, ov::PartialShape{static_cast<int64_t>(n), 3, height, width}}});
    ov::CompiledModel compiled = core_.compile_model(model, "CPU", settings_);
    return requests_.emplace(key, compiled.create_infer_request()).first->second;
  }

  ov::Core core_;
  std::shared_ptr<ov::Model> model_;
  std::string input_name_;
  std::size_t classes_ = 0;
  ov::AnyMap settings_;
  std::mutex mutex_;
  std::map<std::tuple<std::size_t, int, int>, ov::InferRequest> requests_;
};

}  // namespace

std::shared_ptr<Backend> openvino_backend(const std::string& model_dir, int threads,
                                          const std::string& precision) {
  return std::make_shared<OpenVinoBackend>(model_dir, threads, precision);
}

}  // namespace pyml

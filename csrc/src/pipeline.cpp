#include "pyml/pipeline.h"

#include <algorithm>

#include "pyml/errors.h"
#include "pyml/postprocess.h"

namespace pyml {

Pipeline::Pipeline(ModelConfig config, std::shared_ptr<Backend> backend, int threads)
    : config_(std::move(config)),
      backend_(std::move(backend)),
      preprocessor_(config_.preprocess, threads) {
  if (!backend_) throw std::invalid_argument("Pipeline needs a backend");
  if (!config_.labels.empty() && config_.labels.size() != backend_->num_classes()) {
    throw ModelError("label_list has " + std::to_string(config_.labels.size()) +
                     " names but the backend outputs " + std::to_string(backend_->num_classes()) +
                     " scores");
  }
}

std::vector<Classification> Pipeline::classify(const std::vector<ImageInput>& items,
                                               int top_k) const {
  std::vector<float> tensor;
  const BatchReport report = preprocessor_.run(items, [&](std::size_t n, int h, int w) {
    tensor.assign(n * 3 * static_cast<std::size_t>(h) * w, 0.0f);
    return tensor.data();
  });
  std::vector<Classification> out(items.size());
  std::vector<bool> failed(items.size(), false);
  for (const ItemError& e : report.errors) {
    failed[e.index] = true;
    out[e.index].error = e;
  }
  // Only the good rows go to the backend, packed together.
  const std::size_t slot = 3 * static_cast<std::size_t>(report.height) * report.width;
  std::vector<std::size_t> good;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!failed[i]) good.push_back(i);
  }
  if (good.empty()) return out;
  for (std::size_t r = 0; r < good.size(); ++r) {
    if (good[r] != r) std::copy_n(tensor.data() + good[r] * slot, slot, tensor.data() + r * slot);
  }
  const std::size_t classes = backend_->num_classes();
  const std::vector<float> scores =
      backend_->infer(tensor.data(), good.size(), report.height, report.width);
  if (scores.size() != good.size() * classes) {
    throw std::runtime_error("backend returned " + std::to_string(scores.size()) + " scores for " +
                             std::to_string(good.size()) + " images of " + std::to_string(classes) +
                             " classes");
  }
  const std::vector<Labels> labels =
      postprocess(scores.data(), good.size(), classes,
                  config_.class_thresholds.empty() ? std::vector<float>{config_.threshold}
                                                   : config_.class_thresholds,
                  top_k, false);
  for (std::size_t r = 0; r < good.size(); ++r) {
    Classification& c = out[good[r]];
    c.class_ids = labels[r].class_ids;
    c.scores = labels[r].scores;
    for (int id : c.class_ids) {
      c.label_names.push_back(static_cast<std::size_t>(id) < config_.labels.size()
                                  ? config_.labels[id]
                                  : std::to_string(id));
    }
  }
  return out;
}

}  // namespace pyml

// File: pyml/pipeline.h
//
// The whole classification for C++ hosts: preprocess (from a ModelConfig), the
// host's Backend, postprocess with the model's threshold. A bad image fails only
// its own Classification (`error` set). Part of `pyml::model`.
//
// Example:
//   pyml::Pipeline pipeline(pyml::load_model_config(dir), backend);
//   auto results = pipeline.classify({pyml::ImageInput::encoded(buf, len)});
#ifndef PYML_PIPELINE_H_
#define PYML_PIPELINE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pyml/backend.h"
#include "pyml/model_config.h"
#include "pyml/preprocess.h"

namespace pyml {

struct Classification {
  std::vector<int> class_ids;  // high score first
  std::vector<float> scores;
  std::vector<std::string> label_names;
  std::optional<ItemError> error;
};

class Pipeline {
 public:
  // threads <= 0: one per hardware thread. Throws ModelError when the backend's
  // class count differs from the label list.
  Pipeline(ModelConfig config, std::shared_ptr<Backend> backend, int threads = 0);

  const ModelConfig& config() const noexcept { return config_; }

  // top_k <= 0: every class over the threshold.
  std::vector<Classification> classify(const std::vector<ImageInput>& items, int top_k = 0) const;

 private:
  ModelConfig config_;
  std::shared_ptr<Backend> backend_;
  Preprocessor preprocessor_;
};

}  // namespace pyml

#endif  // PYML_PIPELINE_H_

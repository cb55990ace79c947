// File: pyml/backend.h
//
// The inference runtime as a host supplies it. pyml's C++ Pipeline preprocesses and
// postprocesses; a Backend turns the float32 [N,3,H,W] batch into scores. A host
// with the Paddle Inference C++ SDK would wrap a paddle_infer::Predictor here
// (copy_from_cpu the batch into input "x", Run(), copy_to_cpu the [N,C] output);
// that SDK is not in this project's package registries, so no such backend ships.
// pyml ships one over OpenVINO instead: pyml/openvino_backend.h.
//
// Example:
//   class MyRuntime : public pyml::Backend { ... };
//   pyml::Pipeline pipeline(pyml::load_model_config(dir), std::make_shared<MyRuntime>());
#ifndef PYML_BACKEND_H_
#define PYML_BACKEND_H_

#include <cstddef>
#include <vector>

namespace pyml {

class Backend {
 public:
  virtual ~Backend() = default;
  // Probabilities for n images: n * num_classes() floats, row-major. May throw.
  virtual std::vector<float> infer(const float* batch, std::size_t n, int height, int width) = 0;
  virtual std::size_t num_classes() const = 0;
};

}  // namespace pyml

#endif  // PYML_BACKEND_H_

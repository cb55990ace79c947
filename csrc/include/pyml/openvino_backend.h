// File: pyml/openvino_backend.h
//
// A Backend that runs the model with OpenVINO on the CPU, so a C++ host classifies
// images with no Python: it reads MODEL_DIR/inference.onnx, the file `pyml convert
// MODEL_DIR` writes (PaddleX's own inference.onnx works too). Each batch shape is
// compiled once and kept. Precision is pinned to fp32 unless "bf16" is asked (on a CPU
// with bf16 instructions OpenVINO would otherwise pick bf16 and change the scores).
// Part of the optional `pyml::openvino` library (built when CMake finds OpenVINO,
// e.g. -DOpenVINO_DIR=<site-packages>/openvino/cmake from the openvino wheel).
//
// Example:
//   pyml::ModelConfig config = pyml::load_model_config(dir);
//   pyml::Pipeline pipeline(config, pyml::openvino_backend(dir));
//   auto results = pipeline.classify({pyml::ImageInput::encoded(buf, len)});
#ifndef PYML_OPENVINO_BACKEND_H_
#define PYML_OPENVINO_BACKEND_H_

#include <memory>
#include <string>

#include "pyml/backend.h"

namespace pyml {

// threads <= 0: every hardware thread. precision: "fp32" or "bf16". Throws ModelError
// when inference.onnx is missing or unreadable, std::invalid_argument for a bad precision.
std::shared_ptr<Backend> openvino_backend(const std::string& model_dir, int threads = 0,
                                          const std::string& precision = "fp32");

}  // namespace pyml

#endif  // PYML_OPENVINO_BACKEND_H_

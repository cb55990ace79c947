#include <pybind11/stl.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "bindings.h"
#include "pyml/model_config.h"

namespace py = pybind11;

namespace pyml::python {
namespace {

[[noreturn]] void raise_model_error(const std::string& message) {
  py::object cls = py::module_::import("pyml.errors").attr("ModelError");
  PyErr_SetObject(cls.ptr(), cls(message).ptr());
  throw py::error_already_set();
}

// The float32 threshold as the shortest decimal that rounds back to it: 0.35, not
// 0.3499999940395355, as the yml wrote it.
double shortest_decimal(float value) {
  char text[32];
  for (int digits = 6; digits <= 9; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, static_cast<double>(value));
    if (std::strtof(text, nullptr) == value) break;
  }
  return std::strtod(text, nullptr);
}

// The keyword arguments of PreprocessSpec, as the model's yml gives them.
py::dict preprocess_kwargs(const PreprocessSpec& spec) {
  py::dict out;
  if (spec.resize_mode == ResizeMode::kStretch) {
    out["resize_mode"] = "stretch";
    out["width"] = spec.width;
    out["height"] = spec.height;
  } else {
    out["resize_mode"] = "short";
    out["short_side"] = spec.short_side;
  }
  out["filter"] = spec.filter == ResizeFilter::kPilBilinear ? "pil_bilinear" : "cv2_linear";
  out["scale"] = spec.scale;
  out["mean"] = py::make_tuple(spec.mean[0], spec.mean[1], spec.mean[2]);
  out["std"] = py::make_tuple(spec.std_dev[0], spec.std_dev[1], spec.std_dev[2]);
  return out;
}

py::dict read_model_dir(const std::string& model_dir) {
  ModelFiles files;
  ModelConfig config;
  try {
    files = find_model_files(model_dir);
    config = load_model_config(model_dir);
  } catch (const ModelError& e) {
    raise_model_error(e.what());
  }
  py::dict out;
  out["model_name"] = config.model_name;
  out["architecture"] = config.architecture;
  out["model_file"] = files.model_file;
  out["params_file"] = files.params_file;
  out["preprocess"] = preprocess_kwargs(config.preprocess);
  if (config.class_thresholds.empty()) {
    out["threshold"] = shortest_decimal(config.threshold);
  } else {
    py::list per_class;
    for (float t : config.class_thresholds) per_class.append(shortest_decimal(t));
    out["threshold"] = per_class;
  }
  out["labels"] = config.labels;
  out["categories"] = config.categories;
  out["ignored_sections"] = config.ignored_sections;
  return out;
}

}  // namespace

void register_model(py::module_& m) {
  m.def("read_model_dir", &read_model_dir, py::arg("model_dir"),
        "Reads a PaddleX model directory (files and inference.yml) with the C++ reader C++ hosts "
        "use: "
        "a dict of model_name, architecture, model_file, params_file, preprocess (PreprocessSpec "
        "keyword "
        "arguments), "
        "threshold, labels and ignored_sections. Raises pyml.errors.ModelError naming the file and "
        "key.");
}

}  // namespace pyml::python

// File: pyml/model_config.h
//
// Reads a PaddleX model directory's inference.yml into what the native core
// needs: the preprocessing spec, the default threshold and the label list. It is
// the only reader: the Python package calls it through pyml._native. Rules: ResizeImage (size |
// resize_short, pil bilinear or cv2 linear), NormalizeImage, ToCHWImage, CropImage (ignored),
// PostProcess.MultiLabelThreshOutput; anything else is a ModelError naming the
// file and the key. Part of the separate `pyml::model` library (needs yaml-cpp).
//
// Example:
//   pyml::ModelConfig config = pyml::load_model_config("/models/PP-LCNet_x1_0_ML");
//   pyml::Preprocessor pre(config.preprocess, 0);
#ifndef PYML_MODEL_CONFIG_H_
#define PYML_MODEL_CONFIG_H_

#include <string>
#include <vector>

#include "pyml/preprocess.h"

namespace pyml {

struct ModelConfig {
  std::string model_name;    // Global.model_name, else the directory's name
  std::string architecture;  // Global.pyml_architecture (pyml train's exports), else empty
  PreprocessSpec preprocess;
  float threshold = 0.5f;
  std::vector<float> class_thresholds;  // one per class when the yml gives a list; else empty
  std::vector<std::string> labels;
  // Global.pyml_categories (pyml train's exports from a label.txt with a category column):
  // one category per label, "" for none; empty when the yml has none.
  std::vector<std::string> categories;
  std::vector<std::string> ignored_sections;  // top-level sections pyml does not read
};

struct ModelFiles {
  std::string model_file;   // inference.json (preferred) or inference.pdmodel
  std::string params_file;  // inference.pdiparams
};

// `model_dir` holds inference.yml. Throws ModelError.
ModelConfig load_model_config(const std::string& model_dir);

// The graph and weights of a PaddleX model directory; a ModelError names what is missing.
ModelFiles find_model_files(const std::string& model_dir);

}  // namespace pyml

#endif  // PYML_MODEL_CONFIG_H_

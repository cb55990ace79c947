// The one reader of PaddleX model directories: C++ hosts call it directly and the
// Python package through pyml._native.read_model_dir. Every refusal is a ModelError
// naming the file and the key; nothing is approximated silently.
#include "pyml/model_config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <filesystem>
#include <set>
#include <string>

#include "pyml/errors.h"

namespace fs = std::filesystem;

namespace pyml {
namespace {

const std::set<std::string> kKnownSections = {"Global", "PreProcess", "PostProcess", "Hpi"};
const std::set<std::string> kPilKnown = {"nearest", "bilinear", "bicubic", "box",
                                         "lanczos", "lanczos4", "hamming"};
const std::set<std::string> kCvKnown = {"nearest", "linear",   "cubic",
                                        "area",    "lanczos4", "bicubic"};

[[noreturn]] void fail(const std::string& file, const std::string& where, const std::string& why) {
  throw ModelError(file + ": " + where + ": " + why);
}

std::string join(const std::set<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// What a value looks like in a message: its YAML text, flow style.
std::string shown(const YAML::Node& node) {
  if (!node || node.IsNull()) return "null";
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool given(const YAML::Node& node) { return node && !node.IsNull(); }

void check_keys(const std::string& file, const std::string& op, const YAML::Node& params,
                const std::set<std::string>& allowed) {
  std::set<std::string> unknown;
  for (const auto& kv : params) {
    const std::string key = kv.first.as<std::string>();
    if (!allowed.count(key)) unknown.insert(key);
  }
  if (!unknown.empty())
    fail(file, op, "unknown key(s) " + join(unknown) + " (known: " + join(allowed) + ")");
}

// A positive int written as one (not 1.5, not true, not "7").
bool positive_int(const YAML::Node& node, int* out) {
  if (!node.IsScalar() || node.Tag() == "!") return false;  // "!" marks a quoted string
  const std::string text = node.Scalar();
  if (text.empty() || text.size() > 9) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  *out = std::stoi(text);
  return *out > 0;
}

bool number(const YAML::Node& node, double* out) {
  if (!node.IsScalar() || node.Tag() == "!") return false;
  try {
    std::size_t used = 0;
    *out = std::stod(node.Scalar(), &used);
    return used == node.Scalar().size();
  } catch (const std::exception&) {
    return false;
  }
}

double parse_scale(const std::string& file, const YAML::Node& node) {
  double value = 0;
  if (number(node, &value)) return value;
  if (node.IsScalar()) {  // PaddleClas writes "1.0/255.0" in training configs
    const std::string text = node.Scalar();
    const auto slash = text.find('/');
    const auto parse = [](const std::string& part, double* out) {
      try {
        std::size_t used = 0;
        *out = std::stod(part, &used);
        return used == part.size();
      } catch (const std::exception&) {
        return false;
      }
    };
    double a = 0, b = 1;
    if (parse(text.substr(0, slash), &a) &&
        (slash == std::string::npos || (parse(text.substr(slash + 1), &b) && b != 0))) {
      return a / b;
    }
    fail(file, "NormalizeImage.scale", "cannot read '" + text + "' as a number");
  }
  fail(file, "NormalizeImage.scale", shown(node) + " is not a number");
}

void read_resize(const std::string& file, const YAML::Node& p, PreprocessSpec& spec) {
  check_keys(file, "ResizeImage", p,
             {"size", "resize_short", "interpolation", "backend", "return_numpy"});
  const std::string backend = given(p["backend"]) ? lower(p["backend"].as<std::string>()) : "cv2";
  if (backend != "pil" && backend != "cv2")
    fail(file, "ResizeImage.backend", "'" + backend + "' is not one of pil, cv2");
  const bool pil = backend == "pil";
  const std::string interp = given(p["interpolation"]) ? lower(p["interpolation"].as<std::string>())
                                                       : (pil ? "bilinear" : "linear");
  if (pil && interp == "bilinear") {
    spec.filter = ResizeFilter::kPilBilinear;
  } else if (!pil && interp == "linear") {
    spec.filter = ResizeFilter::kCvLinear;
  } else {
    const bool known = (pil ? kPilKnown : kCvKnown).count(interp) > 0;
    fail(file, "ResizeImage.interpolation",
         "'" + interp + "' with backend " + backend +
             (known ? " is not supported by pyml's native resize yet" : " is unknown") +
             " (supported: " + (pil ? "bilinear" : "linear") + ")");
  }
  const YAML::Node size = p["size"], shorter = p["resize_short"];
  if (given(size) == given(shorter))
    fail(file, "ResizeImage", "exactly one of 'size' and 'resize_short' must be given");
  if (given(size)) {
    int w = 0, h = 0;
    if (positive_int(size, &w)) {
      h = w;
    } else if (!(size.IsSequence() && size.size() == 2 && positive_int(size[0], &w) &&
                 positive_int(size[1], &h))) {
      fail(file, "ResizeImage.size", shown(size) + " is not a positive int or [w, h]");
    }
    spec.resize_mode = ResizeMode::kStretch;
    spec.width = w;  // PaddleClas lists are [w, h]
    spec.height = h;
  } else {
    if (!positive_int(shorter, &spec.short_side))
      fail(file, "ResizeImage.resize_short", shown(shorter) + " is not a positive int");
    spec.resize_mode = ResizeMode::kShortSide;
  }
}

void read_normalize(const std::string& file, const YAML::Node& p, PreprocessSpec& spec) {
  check_keys(file, "NormalizeImage", p, {"scale", "mean", "std", "order", "channel_num"});
  spec.scale = given(p["scale"]) ? parse_scale(file, p["scale"]) : 1.0 / 255.0;
  spec.mean = {0.485, 0.456, 0.406};
  spec.std_dev = {0.229, 0.224, 0.225};
  for (const char* key : {"mean", "std"}) {
    const YAML::Node values = p[key];
    if (!given(values)) continue;
    auto& target = std::string(key) == "mean" ? spec.mean : spec.std_dev;
    bool ok = values.IsSequence() && values.size() == 3;
    for (std::size_t c = 0; ok && c < 3; ++c) ok = number(values[c], &target[c]);
    if (!ok)
      fail(file, std::string("NormalizeImage.") + key,
           shown(values) + " is not a list of 3 numbers");
  }
  int channels = 3;
  if (given(p["channel_num"]) && !(positive_int(p["channel_num"], &channels) && channels == 3)) {
    fail(file, "NormalizeImage.channel_num", "only 3 channels are supported");
  }
  if (given(p["order"])) {
    const std::string order = p["order"].as<std::string>();
    if (order != "" && order != "hwc" && order != "chw")
      fail(file, "NormalizeImage.order", "'" + order + "' is not '', hwc or chw");
  }
}

void read_preprocess(const std::string& file, const YAML::Node& ops, PreprocessSpec& spec) {
  if (!ops.IsSequence()) fail(file, "PreProcess.transform_ops", "must be a list of operations");
  spec.scale = 1.0;
  spec.mean = {0, 0, 0};
  spec.std_dev = {1, 1, 1};
  bool has_resize = false;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const std::string where = "PreProcess.transform_ops[" + std::to_string(i) + "]";
    if (!ops[i].IsMap() || ops[i].size() != 1)
      fail(file, where, "each operation is a one-key mapping");
    const std::string name = ops[i].begin()->first.as<std::string>();
    const YAML::Node given_params = ops[i].begin()->second;
    if (given(given_params) && !given_params.IsMap())
      fail(file, name, "parameters must be a mapping, not " + shown(given_params));
    const YAML::Node p = given(given_params) ? given_params : YAML::Node(YAML::NodeType::Map);
    if (name == "ResizeImage") {
      read_resize(file, p, spec);
      has_resize = true;
    } else if (name == "NormalizeImage") {
      read_normalize(file, p, spec);
    } else if (name == "ToCHWImage") {
      check_keys(file, name, p, {});  // our layout already
    } else if (name == "CropImage") {
      // PaddleX's multi-label predictor ignores it; so does pyml.
    } else {
      fail(file, where, "unknown operation '" + name + "'");
    }
  }
  if (!has_resize)
    fail(file, "PreProcess.transform_ops", "no ResizeImage operation: batches need one size");
}

void read_postprocess(const std::string& file, const YAML::Node& section, ModelConfig& config) {
  if (!given(section)) return;
  if (!section.IsMap() || section.size() != 1 || !section["MultiLabelThreshOutput"]) {
    fail(file, "PostProcess", "expected exactly one operation, MultiLabelThreshOutput");
  }
  const YAML::Node op = section["MultiLabelThreshOutput"];
  const YAML::Node p = given(op) ? op : YAML::Node(YAML::NodeType::Map);
  if (!p.IsMap())
    fail(file, "MultiLabelThreshOutput", "parameters must be a mapping, not " + shown(p));
  check_keys(file, "MultiLabelThreshOutput", p, {"threshold", "label_list", "delimiter"});
  const YAML::Node threshold = p["threshold"];
  double value = 0;
  if (!given(threshold)) {
  } else if (number(threshold, &value)) {
    config.threshold = static_cast<float>(value);
  } else if (threshold.IsSequence() && threshold.size() > 0) {
    for (const auto& t : threshold) {
      if (!number(t, &value))
        fail(file, "MultiLabelThreshOutput.threshold",
             shown(threshold) + " is not a number or a list of numbers");
      config.class_thresholds.push_back(static_cast<float>(value));
    }
  } else {
    fail(file, "MultiLabelThreshOutput.threshold",
         shown(threshold) + " is not a number or a list of numbers");
  }
  const YAML::Node labels = p["label_list"];
  if (given(labels)) {
    if (!labels.IsSequence())
      fail(file, "MultiLabelThreshOutput.label_list", "must be a list of names");
    for (const auto& label : labels)
      config.labels.push_back(label.IsScalar() ? label.Scalar() : shown(label));
  }
}

}  // namespace

ModelFiles find_model_files(const std::string& model_dir) {
  const fs::path dir(model_dir);
  if (!fs::is_directory(dir)) throw ModelError(model_dir + ": model directory not found");
  ModelFiles files;
  for (const char* name : {"inference.json", "inference.pdmodel"}) {
    if (fs::is_regular_file(dir / name)) {
      files.model_file = (dir / name).string();
      break;
    }
  }
  if (files.model_file.empty())
    throw ModelError(model_dir + ": no inference.json or inference.pdmodel in the model directory");
  for (const char* name : {"inference.pdiparams", "inference.yml"}) {
    if (!fs::is_regular_file(dir / name))
      throw ModelError(model_dir + ": " + name + " is missing from the model directory");
  }
  files.params_file = (dir / "inference.pdiparams").string();
  return files;
}

ModelConfig load_model_config(const std::string& model_dir) {
  const std::string file = (fs::path(model_dir) / "inference.yml").string();
  if (!fs::is_regular_file(file))
    throw ModelError(model_dir + ": inference.yml is missing from the model directory");
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::Exception& e) {
    throw ModelError(file + ": not valid YAML: " + e.what());
  }
  if (!root.IsMap()) throw ModelError(file + ": expected a mapping at the top level");
  ModelConfig config;
  try {
    for (const auto& kv : root) {
      const std::string section = kv.first.as<std::string>();
      if (!kKnownSections.count(section)) config.ignored_sections.push_back(section);
    }
    const YAML::Node global = root["Global"];
    config.model_name = global.IsMap() && given(global["model_name"])
                            ? global["model_name"].as<std::string>()
                            : fs::path(model_dir).filename().string();
    if (config.model_name.empty())
      config.model_name = fs::absolute(model_dir).parent_path().filename().string();
    if (global.IsMap() && given(global["pyml_architecture"]))
      config.architecture = global["pyml_architecture"].as<std::string>();
    const YAML::Node pre = root["PreProcess"];
    if (!pre.IsMap() || !pre["transform_ops"])
      fail(file, "PreProcess", "missing PreProcess.transform_ops");
    read_preprocess(file, pre["transform_ops"], config.preprocess);
    read_postprocess(file, root["PostProcess"], config);
    if (global.IsMap() && given(global["pyml_categories"])) {
      const YAML::Node categories = global["pyml_categories"];
      if (!categories.IsSequence() || categories.size() != config.labels.size())
        fail(file, "Global.pyml_categories",
             "must be a list with one category per label (" + std::to_string(config.labels.size()) +
                 ")");
      for (const auto& category : categories)
        config.categories.push_back(category.IsNull() ? "" : category.as<std::string>());
    }
    config.preprocess.validate();
  } catch (const YAML::Exception& e) {
    throw ModelError(file + ": unexpected value: " + e.what());
  } catch (const std::invalid_argument& e) {
    throw ModelError(file + ": " + e.what());
  }
  return config;
}

}  // namespace pyml

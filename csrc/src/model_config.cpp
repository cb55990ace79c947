#include "pyml/model_config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <set>
#include <string>

#include "pyml/errors.h"

namespace pyml {
namespace {

[[noreturn]] void fail(const std::string& file, const std::string& where, const std::string& why) {
  throw ModelError(file + ": " + where + ": " + why);
}

void check_keys(const std::string& file, const std::string& op, const YAML::Node& params,
                const std::set<std::string>& allowed) {
  for (const auto& kv : params) {
    const std::string key = kv.first.as<std::string>();
    if (!allowed.count(key)) fail(file, op, "unknown key '" + key + "'");
  }
}

double parse_scale(const std::string& file, const YAML::Node& node) {
  const std::string text = node.as<std::string>();
  const auto slash = text.find('/');
  try {
    if (slash == std::string::npos) return std::stod(text);
    return std::stod(text.substr(0, slash)) / std::stod(text.substr(slash + 1));
  } catch (const std::exception&) {
    fail(file, "NormalizeImage.scale", "cannot read '" + text + "' as a number");
  }
}

void read_resize(const std::string& file, const YAML::Node& p, PreprocessSpec& spec) {
  check_keys(file, "ResizeImage", p, {"size", "resize_short", "interpolation", "backend", "return_numpy"});
  const std::string backend = p["backend"] && !p["backend"].IsNull() ? p["backend"].as<std::string>() : "cv2";
  std::string interp = p["interpolation"] && !p["interpolation"].IsNull()
                           ? p["interpolation"].as<std::string>()
                           : (backend == "pil" ? "bilinear" : "linear");
  for (char& c : interp) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (backend == "pil" && interp == "bilinear") {
    spec.filter = ResizeFilter::kPilBilinear;
  } else if (backend == "cv2" && interp == "linear") {
    spec.filter = ResizeFilter::kCvLinear;
  } else {
    fail(file, "ResizeImage.interpolation", "'" + interp + "' with backend " + backend +
                                               " is not supported (pil bilinear, cv2 linear)");
  }
  const bool has_size = p["size"] && !p["size"].IsNull();
  const bool has_short = p["resize_short"] && !p["resize_short"].IsNull();
  if (has_size == has_short) fail(file, "ResizeImage", "exactly one of size and resize_short must be given");
  if (has_size) {
    spec.resize_mode = ResizeMode::kStretch;
    if (p["size"].IsSequence() && p["size"].size() == 2) {
      spec.width = p["size"][0].as<int>();
      spec.height = p["size"][1].as<int>();
    } else {
      spec.width = spec.height = p["size"].as<int>();
    }
  } else {
    spec.resize_mode = ResizeMode::kShortSide;
    spec.short_side = p["resize_short"].as<int>();
  }
}

void read_normalize(const std::string& file, const YAML::Node& p, PreprocessSpec& spec) {
  check_keys(file, "NormalizeImage", p, {"scale", "mean", "std", "order", "channel_num"});
  spec.scale = p["scale"] ? parse_scale(file, p["scale"]) : 1.0 / 255.0;
  spec.mean = {0.485, 0.456, 0.406};
  spec.std_dev = {0.229, 0.224, 0.225};
  for (const char* key : {"mean", "std"}) {
    if (!p[key]) continue;
    if (!p[key].IsSequence() || p[key].size() != 3) fail(file, std::string("NormalizeImage.") + key, "needs 3 numbers");
    auto& target = std::string(key) == "mean" ? spec.mean : spec.std_dev;
    for (int c = 0; c < 3; ++c) target[c] = p[key][c].as<double>();
  }
}

}  // namespace

ModelConfig load_model_config(const std::string& model_dir) {
  const std::string file = model_dir + "/inference.yml";
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::Exception& e) {
    throw ModelError(file + ": cannot read: " + e.what());
  }
  ModelConfig config;
  try {
    config.model_name = root["Global"] && root["Global"]["model_name"] ? root["Global"]["model_name"].as<std::string>()
                                                                       : std::string();
    config.preprocess = PreprocessSpec{};
    config.preprocess.scale = 1.0;
    config.preprocess.mean = {0, 0, 0};
    config.preprocess.std_dev = {1, 1, 1};
    const YAML::Node ops = root["PreProcess"]["transform_ops"];
    if (!ops || !ops.IsSequence()) fail(file, "PreProcess.transform_ops", "missing or not a list");
    bool has_resize = false;
    for (std::size_t i = 0; i < ops.size(); ++i) {
      if (!ops[i].IsMap() || ops[i].size() != 1) fail(file, "PreProcess.transform_ops", "each operation is a one-key mapping");
      const std::string name = ops[i].begin()->first.as<std::string>();
      const YAML::Node params = ops[i].begin()->second;
      const YAML::Node p = params.IsNull() ? YAML::Node(YAML::NodeType::Map) : params;
      if (name == "ResizeImage") {
        read_resize(file, p, config.preprocess);
        has_resize = true;
      } else if (name == "NormalizeImage") {
        read_normalize(file, p, config.preprocess);
      } else if (name == "ToCHWImage" || name == "CropImage") {
        // ToCHWImage: our layout already; CropImage: ignored, as PaddleX's multi-label predictor does.
      } else {
        fail(file, "PreProcess.transform_ops", "unknown operation '" + name + "'");
      }
    }
    if (!has_resize) fail(file, "PreProcess.transform_ops", "no ResizeImage operation");
    const YAML::Node post = root["PostProcess"]["MultiLabelThreshOutput"];
    if (post) {
      check_keys(file, "MultiLabelThreshOutput", post, {"threshold", "label_list", "delimiter"});
      if (post["threshold"]) config.threshold = post["threshold"].as<float>();
      if (post["label_list"]) config.labels = post["label_list"].as<std::vector<std::string>>();
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

#include "pyml/pipeline.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <tuple>
#include <unistd.h>

#include "pyml/errors.h"
#include "test_images.h"

namespace {

namespace fs = std::filesystem;

const char* kYml = R"(Global:
  model_name: test-model
PreProcess:
  transform_ops:
  - ResizeImage:
      backend: pil
      interpolation: bilinear
      size: [32, 24]
  - NormalizeImage:
      channel_num: 3
      mean: [0.5, 0.5, 0.5]
      order: ''
      scale: 1.0/255.0
      std: [0.5, 0.5, 0.5]
  - ToCHWImage: null
PostProcess:
  MultiLabelThreshOutput:
    threshold: 0.5
    label_list: [red, green, blue]
)";

fs::path write_model(const std::string& yml) {
  static int counter = 0;
  fs::path dir = fs::temp_directory_path() / ("pyml_model_test_" + std::to_string(::getpid()) +
                                              "_" + std::to_string(counter++));
  fs::create_directories(dir);
  std::ofstream(dir / "inference.yml") << yml;
  return dir;
}

// A host runtime: class c's score is how bright plane c is (sigmoid of its mean).
class PlaneBrightness : public pyml::Backend {
 public:
  std::vector<float> infer(const float* batch, std::size_t n, int height, int width) override {
    const std::size_t plane = static_cast<std::size_t>(height) * width;
    std::vector<float> out;
    for (std::size_t i = 0; i < n; ++i) {
      for (int c = 0; c < 3; ++c) {
        double sum = 0;
        for (std::size_t k = 0; k < plane; ++k) sum += batch[(i * 3 + c) * plane + k];
        out.push_back(static_cast<float>(1.0 / (1.0 + std::exp(-4.0 * sum / plane))));
      }
    }
    return out;
  }
  std::size_t num_classes() const override { return 3; }
};

TEST(ModelConfig, ReadsPaddleXLayout) {
  const pyml::ModelConfig config = pyml::load_model_config(write_model(kYml).string());
  EXPECT_EQ(config.model_name, "test-model");
  EXPECT_EQ(config.preprocess.width, 32);
  EXPECT_EQ(config.preprocess.height, 24);
  EXPECT_DOUBLE_EQ(config.preprocess.scale, 1.0 / 255.0);
  EXPECT_EQ(config.labels, (std::vector<std::string>{"red", "green", "blue"}));
  EXPECT_FLOAT_EQ(config.threshold, 0.5f);
}

TEST(ModelConfig, UnknownThingsNameFileAndKey) {
  for (auto [from, to, key] :
       {std::tuple{"ToCHWImage: null", "RandomFlip: null", "RandomFlip"},
        std::tuple{"interpolation: bilinear", "interpolation: bicubic", "bicubic"},
        std::tuple{"threshold: 0.5", "topk: 5", "topk"}}) {
    std::string yml = kYml;
    yml.replace(yml.find(from), std::string(from).size(), to);
    try {
      pyml::load_model_config(write_model(yml).string());
      ADD_FAILURE() << "expected ModelError for " << key;
    } catch (const pyml::ModelError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("inference.yml"), std::string::npos);
    }
  }
  EXPECT_THROW(pyml::load_model_config("/no/such/dir"), pyml::ModelError);
}

TEST(Pipeline, ClassifiesWithAHostBackendAndIsolatesBadItems) {
  pyml::Pipeline pipeline(pyml::load_model_config(write_model(kYml).string()),
                          std::make_shared<PlaneBrightness>(), 2);
  pyml::Image red(40, 30);
  for (int i = 0; i < 40 * 30; ++i) red.pixels[3 * i] = 255;  // RGB: bright red plane only
  const auto png = pyml::testing::encode_png(red);
  const std::vector<std::uint8_t> junk = {'x', 'y'};
  const auto results = pipeline.classify({pyml::ImageInput::encoded(junk.data(), junk.size()),
                                          pyml::ImageInput::encoded(png.data(), png.size())});
  ASSERT_EQ(results.size(), 2u);
  ASSERT_TRUE(results[0].error.has_value());
  EXPECT_EQ(results[0].error->kind, pyml::InputErrorKind::kUnsupported);
  ASSERT_FALSE(results[1].error.has_value());
  EXPECT_EQ(results[1].label_names, (std::vector<std::string>{"red"}));
}

TEST(Pipeline, LabelCountMustMatchBackend) {
  std::string yml = kYml;
  yml.replace(yml.find("[red, green, blue]"), 18, "[red, green]");
  EXPECT_THROW(pyml::Pipeline(pyml::load_model_config(write_model(yml).string()),
                              std::make_shared<PlaneBrightness>()),
               pyml::ModelError);
}

}  // namespace

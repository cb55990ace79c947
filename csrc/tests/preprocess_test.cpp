#include "pyml/preprocess.h"

#include <gtest/gtest.h>

#include <cmath>

#include "test_images.h"

namespace {

TEST(Preprocess, NormalizesWithScaleMeanStd) {
  pyml::PreprocessSpec spec;
  spec.width = 4;
  spec.height = 2;
  pyml::Image src(4, 2);
  for (int x = 0; x < 8; ++x) {  // BGR pixels as a caller's array: B=10, G=20, R=30
    src.pixels[3 * x] = 10;
    src.pixels[3 * x + 1] = 20;
    src.pixels[3 * x + 2] = 30;
  }
  pyml::Preprocessor pre(spec, 1);
  std::vector<float> out(3 * 8);
  auto report = pre.run_into(
      {pyml::ImageInput::pixels(src.pixels.data(), 4, 2, 3, 12, pyml::ChannelOrder::kBGR)},
      out.data());
  EXPECT_TRUE(report.errors.empty());
  const float expected_r = 30.0f * float(1.0 / 255.0 / 0.229) + float(-0.485 / 0.229);
  const float expected_b = 10.0f * float(1.0 / 255.0 / 0.225) + float(-0.406 / 0.225);
  EXPECT_EQ(out[0], expected_r);          // plane 0 is R
  EXPECT_EQ(out[2 * 8 + 7], expected_b);  // plane 2 is B
}

TEST(Preprocess, BadItemIsZeroedAndReportedOthersAreKept) {
  pyml::PreprocessSpec spec;
  spec.width = spec.height = 32;
  pyml::Preprocessor pre(spec, 2);
  const auto good = pyml::testing::encode_png(pyml::testing::pattern(50, 40));
  const std::vector<std::uint8_t> bad = {'n', 'o', 'p', 'e'};
  std::vector<pyml::ImageInput> items = {pyml::ImageInput::encoded(good.data(), good.size()),
                                         pyml::ImageInput::encoded(bad.data(), bad.size()),
                                         pyml::ImageInput::encoded(good.data(), good.size())};
  const std::size_t slot = 3 * 32 * 32;
  std::vector<float> out(3 * slot, 123.0f);
  auto report = pre.run_into(items, out.data());
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_EQ(report.errors[0].index, 1u);
  EXPECT_EQ(report.errors[0].kind, pyml::InputErrorKind::kUnsupported);
  for (std::size_t i = slot; i < 2 * slot; ++i) ASSERT_EQ(out[i], 0.0f);
  for (std::size_t i = 0; i < slot; ++i) ASSERT_EQ(out[i], out[2 * slot + i]);
}

TEST(Preprocess, ResizeShortAllocatesTheComputedSize) {
  pyml::PreprocessSpec spec;
  spec.resize_mode = pyml::ResizeMode::kShortSide;
  spec.short_side = 20;
  pyml::Preprocessor pre(spec, 2);
  const auto img = pyml::testing::encode_png(pyml::testing::pattern(80, 40));
  std::vector<float> buffer;
  auto report = pre.run({pyml::ImageInput::encoded(img.data(), img.size())},
                        [&](std::size_t n, int h, int w) {
                          buffer.resize(n * 3 * h * w);
                          return buffer.data();
                        });
  EXPECT_EQ(report.width, 40);
  EXPECT_EQ(report.height, 20);
  EXPECT_EQ(buffer.size(), 3u * 40 * 20);
}

TEST(Preprocess, ResizeShortRefusesOutputsOverThePixelLimit) {
  // Found by the fuzzer: a 1-pixel-high strip resized to a short side grows without bound.
  pyml::PreprocessSpec spec;
  spec.resize_mode = pyml::ResizeMode::kShortSide;
  spec.short_side = 256;
  pyml::Preprocessor pre(spec, 2);
  const auto strip =
      pyml::testing::encode_png(pyml::testing::pattern(4000, 1));  // 256 x 1,024,000 out
  std::size_t allocated = 0;
  std::vector<float> buffer;
  auto report = pre.run({pyml::ImageInput::encoded(strip.data(), strip.size())},
                        [&](std::size_t n, int h, int w) {
                          allocated = n * 3 * static_cast<std::size_t>(h) * w;
                          buffer.resize(allocated);
                          return buffer.data();
                        });
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_EQ(report.errors[0].kind, pyml::InputErrorKind::kTooLarge);
  EXPECT_NE(report.errors[0].message.find("4000x1"), std::string::npos);
  EXPECT_EQ(allocated, 0u);
}

TEST(Preprocess, InvalidSpecsAreRefused) {
  pyml::PreprocessSpec spec;
  spec.std_dev[1] = 0.0;
  EXPECT_THROW(pyml::Preprocessor(spec, 1), std::invalid_argument);
  pyml::PreprocessSpec shortless;
  shortless.resize_mode = pyml::ResizeMode::kShortSide;
  EXPECT_THROW(shortless.validate(), std::invalid_argument);
}

}  // namespace

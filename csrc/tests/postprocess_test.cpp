#include "pyml/postprocess.h"

#include <gtest/gtest.h>

#include <cmath>

namespace {

TEST(Postprocess, StrictThresholdSortedHighToLow) {
  const float scores[] = {0.5f, 0.9f, 0.6f, 0.51f};
  auto out = pyml::postprocess(scores, 1, 4, {0.5f}, 0, false);
  EXPECT_EQ(out[0].class_ids, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(out[0].scores, (std::vector<float>{0.9f, 0.6f, 0.51f}));
}

TEST(Postprocess, PerClassThresholdsApplyPerClass) {
  const float scores[] = {0.3f, 0.3f, 0.3f, 0.3f, 0.3f, 0.3f};  // two rows, three classes
  auto out = pyml::postprocess(scores, 2, 3, {0.1f, 0.5f, 0.2f}, 0, false);
  for (const auto& row : out) EXPECT_EQ(row.class_ids, (std::vector<int>{0, 2}));
}

TEST(Postprocess, TopKTiesAndNaN) {
  const float scores[] = {0.7f, NAN, 0.7f, 0.9f, 0.1f};
  auto out = pyml::postprocess(scores, 1, 5, {0.0f}, 2, false);
  EXPECT_EQ(out[0].class_ids, (std::vector<int>{3, 0}));
}

TEST(Postprocess, SigmoidBeforeThreshold) {
  const float logits[] = {-1.0f, 2.0f};
  auto out = pyml::postprocess(logits, 1, 2, {0.5f}, 0, true);
  ASSERT_EQ(out[0].class_ids, (std::vector<int>{1}));
  EXPECT_NEAR(out[0].scores[0], 1.0 / (1.0 + std::exp(-2.0)), 1e-6);
}

TEST(Postprocess, WrongThresholdLengthThrows) {
  const float scores[] = {0.1f, 0.2f, 0.3f};
  EXPECT_THROW(pyml::postprocess(scores, 1, 3, {0.1f, 0.2f}, 0, false), std::invalid_argument);
}

}  // namespace

#include "pyml/resize.h"

#include <gtest/gtest.h>

#include "test_images.h"

namespace {

using pyml::ResizeFilter;

TEST(Resize, SameSizeIsIdentityForBothFilters) {
  const pyml::Image src = pyml::testing::pattern(31, 17);
  for (auto f : {ResizeFilter::kPilBilinear, ResizeFilter::kCvLinear}) {
    EXPECT_EQ(pyml::resize(src.view(), 31, 17, f).pixels, src.pixels);
  }
}

TEST(Resize, ConstantImageStaysConstant) {
  pyml::Image src(123, 77);
  std::fill(src.pixels.begin(), src.pixels.end(), 200);
  for (auto f : {ResizeFilter::kPilBilinear, ResizeFilter::kCvLinear}) {
    for (auto [w, h] : {std::pair{448, 448}, std::pair{10, 300}, std::pair{1, 1}}) {
      const pyml::Image out = pyml::resize(src.view(), w, h, f);
      for (std::uint8_t v : out.pixels) ASSERT_EQ(v, 200);
    }
  }
}

TEST(Resize, TwoToOneAveragesNeighbours) {
  pyml::Image src(2, 1);
  const std::uint8_t px[] = {10, 20, 30, 50, 60, 71};
  std::copy(px, px + 6, src.pixels.begin());
  const pyml::Image pil = pyml::resize(src.view(), 1, 1, ResizeFilter::kPilBilinear);
  EXPECT_EQ(pil.pixels, (std::vector<std::uint8_t>{30, 40, 51}));  // (71 + 30) / 2 = 50.5 -> 51
}

TEST(Resize, RowsArriveInOrderWithTheRightWidth) {
  const pyml::Image src = pyml::testing::pattern(300, 200);
  int expected = 0;
  pyml::resize_rows(src.view(), 64, 48, ResizeFilter::kPilBilinear,
                    [&](int y, const std::uint8_t*) { EXPECT_EQ(y, expected++); });
  EXPECT_EQ(expected, 48);
}

TEST(Resize, ShortSideRoundsHalfToEven) {
  EXPECT_EQ(pyml::short_side_size(640, 480, 256), (std::pair<int, int>{341, 256}));
  EXPECT_EQ(pyml::short_side_size(5, 2, 1), (std::pair<int, int>{2, 1}));  // 2.5 -> 2
  EXPECT_EQ(pyml::short_side_size(7, 2, 1), (std::pair<int, int>{4, 1}));  // 3.5 -> 4
}

TEST(Resize, NonPositiveSizesThrow) {
  const pyml::Image src = pyml::testing::pattern(4, 4);
  EXPECT_THROW(pyml::resize(src.view(), 0, 4, ResizeFilter::kPilBilinear), std::invalid_argument);
  EXPECT_THROW(pyml::short_side_size(4, 4, 0), std::invalid_argument);
}

}  // namespace

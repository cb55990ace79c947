// The training kernels against direct loops in double, on geometries that take both the
// row loops and the padded-copy loops; under the sanitizers these also check that no tap
// reads or writes outside its plane.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "pyml/depthwise.h"
#include "pyml/elementwise.h"

namespace {

std::vector<float> random_values(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Input value at (plane p, y, x), zero outside.
float at(const std::vector<float>& x, const pyml::DepthwiseShape& s, std::size_t p, int y, int xx) {
  if (y < 0 || y >= s.height || xx < 0 || xx >= s.width) return 0.0f;
  return x[(p * s.height + y) * s.width + xx];
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  double scale = 1e-6;
  for (double w : want) scale = std::max(scale, std::fabs(w));
  for (std::size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 1e-5 * scale) << "at " << i;
}

class Depthwise : public ::testing::TestWithParam<pyml::DepthwiseShape> {};

TEST_P(Depthwise, MatchesDirectLoops) {
  const pyml::DepthwiseShape s = GetParam();
  const int oh = s.out_h(), ow = s.out_w();
  const std::size_t planes = static_cast<std::size_t>(s.n) * s.channels;
  const std::size_t taps = static_cast<std::size_t>(s.kernel_h) * s.kernel_w;
  const auto x = random_values(planes * s.height * s.width, 1);
  const auto w = random_values(s.channels * taps, 2);
  const auto dy = random_values(planes * oh * ow, 3);
  std::vector<double> want_y(planes * oh * ow, 0.0), want_dx(x.size(), 0.0), want_dw(w.size(), 0.0);
  for (std::size_t p = 0; p < planes; ++p) {
    const std::size_t c = p % s.channels;
    for (int oy = 0; oy < oh; ++oy) {
      for (int ox = 0; ox < ow; ++ox) {
        const std::size_t o = (p * oh + oy) * ow + ox;
        for (int i = 0; i < s.kernel_h; ++i) {
          for (int j = 0; j < s.kernel_w; ++j) {
            const int iy = oy * s.stride_h - s.pad_h + i, ix = ox * s.stride_w - s.pad_w + j;
            const double wv = w[c * taps + i * s.kernel_w + j];
            want_y[o] += wv * at(x, s, p, iy, ix);
            want_dw[c * taps + i * s.kernel_w + j] +=
                static_cast<double>(dy[o]) * at(x, s, p, iy, ix);
            if (iy >= 0 && iy < s.height && ix >= 0 && ix < s.width) {
              want_dx[(p * s.height + iy) * s.width + ix] += wv * dy[o];
            }
          }
        }
      }
    }
  }
  pyml::ThreadPool pool(2);
  std::vector<float> y(want_y.size()), dx(x.size()), dw(w.size());
  pyml::depthwise_forward(x.data(), w.data(), y.data(), s, pool);
  pyml::depthwise_backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(), s, pool);
  expect_close(y, want_y);
  expect_close(dx, want_dx);
  expect_close(dw, want_dw);
}

// n, channels, height, width, kernel h/w, stride h/w, pad h/w
INSTANTIATE_TEST_SUITE_P(Geometries, Depthwise,
                         ::testing::Values(pyml::DepthwiseShape{2, 3, 9, 11, 3, 3, 1, 1, 1, 1},
                                           pyml::DepthwiseShape{2, 3, 9, 11, 5, 5, 1, 1, 2, 2},
                                           pyml::DepthwiseShape{2, 3, 9, 11, 5, 5, 2, 2, 2, 2},
                                           pyml::DepthwiseShape{1, 2, 5, 4, 5, 5, 2, 2, 2, 2},
                                           pyml::DepthwiseShape{1, 2, 6, 7, 3, 3, 1, 1, 0, 0},
                                           pyml::DepthwiseShape{1, 2, 7, 7, 3, 5, 1, 2, 1, 2},
                                           pyml::DepthwiseShape{1, 2, 100, 90, 3, 3, 1, 1, 1, 1},
                                           pyml::DepthwiseShape{1, 1, 100, 90, 5, 5, 1, 1, 2, 2}));

TEST(Elementwise, HardswishReluAndAffineFollowTheirFormulas) {
  const auto x = random_values(200003, 4);  // several chunks and a ragged end
  const auto dy = random_values(x.size(), 5);
  pyml::ThreadPool pool(3);
  std::vector<float> y(x.size()), dx(x.size());
  pyml::hardswish_forward(x.data(), y.data(), x.size(), pool);
  for (std::size_t i = 0; i < x.size(); i += 997) {
    ASSERT_FLOAT_EQ(y[i], x[i] * std::min(std::max(x[i] + 3.0f, 0.0f), 6.0f) / 6.0f);
  }
  pyml::relu_forward(x.data(), y.data(), x.size(), pool);
  pyml::relu_backward(y.data(), dy.data(), dx.data(), x.size(), pool);
  for (std::size_t i = 0; i < x.size(); i += 997) {
    ASSERT_EQ(y[i], std::max(x[i], 0.0f));
    ASSERT_EQ(dx[i], x[i] > 0.0f ? dy[i] : 0.0f);
  }
  float dscale = 0.0f, dbias = 0.0f;
  pyml::affine_backward(x.data(), dy.data(), 2.0f, dx.data(), &dscale, &dbias, x.size(), pool);
  double want_scale = 0.0, want_bias = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    want_scale += static_cast<double>(dy[i]) * x[i];
    want_bias += dy[i];
    ASSERT_EQ(dx[i], 2.0f * dy[i]);
  }
  EXPECT_NEAR(dscale, want_scale, 1e-3);
  EXPECT_NEAR(dbias, want_bias, 1e-3);
}

}  // namespace

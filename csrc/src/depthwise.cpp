// Depthwise convolution by rows: each kernel tap is one multiply-add of an input row
// segment into an output row segment (forward, input gradient), or into per-column
// partial sums (weight gradient). Rows of a 448-pixel network fit in L1, so the loops
// run at the speed of the vector units instead of the GEMM-per-channel Paddle uses on
// CPU. The CPU dispatch (target_clones) is per plane, so the short rows of the late
// layers (14 values) pay no call per row.
#include "pyml/depthwise.h"

#include <algorithm>
#include <cstddef>
#include <vector>

namespace pyml {
namespace {

// The output columns [lo, hi) whose tap `j` lands inside the input row.
struct Span {
  int lo, hi;
};

inline Span tap_span(int j, int pad, int stride, int in_size, int out_size) {
  const int lo = pad > j ? (pad - j + stride - 1) / stride : 0;
  const int last = in_size - 1 + pad - j;  // the largest ox * stride that stays inside
  const int hi = last < 0 ? 0 : std::min(out_size, last / stride + 1);
  return {lo, std::max(lo, hi)};
}

inline std::size_t plane_size(int h, int w) { return static_cast<std::size_t>(h) * w; }

// Calls tap(i, j, oy, iy, span) for every kernel tap and output row that meet inside
// the input, in one fixed order (output row, kernel row, kernel column).
template <typename Tap>
inline void each_tap(const DepthwiseShape& s, int oh, int ow, Tap tap) {
  for (int oy = 0; oy < oh; ++oy) {
    for (int i = 0; i < s.kernel_h; ++i) {
      const int iy = oy * s.stride_h - s.pad_h + i;
      if (iy < 0 || iy >= s.height) continue;
      for (int j = 0; j < s.kernel_w; ++j) {
        const Span span = tap_span(j, s.pad_w, s.stride_w, s.width, ow);
        if (span.lo < span.hi) tap(i, j, oy, iy, span);
      }
    }
  }
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void forward_plane(
    const float* xp, const float* wp, float* yp, const DepthwiseShape& s) {
  const int oh = s.out_h(), ow = s.out_w(), sw = s.stride_w;
  std::fill(yp, yp + plane_size(oh, ow), 0.0f);
  each_tap(s, oh, ow, [&](int i, int j, int oy, int iy, Span span) {
    float* y = yp + plane_size(oy, ow) + span.lo;
    const float* x = xp + plane_size(iy, s.width) + span.lo * sw - s.pad_w + j;
    const float w = wp[i * s.kernel_w + j];
    const int n = span.hi - span.lo;
    if (sw == 1) {
      for (int k = 0; k < n; ++k) y[k] += w * x[k];
    } else {
      for (int k = 0; k < n; ++k) y[k] += w * x[k * sw];
    }
  });
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void input_grad_plane(
    const float* dyp, const float* wp, float* dxp, const DepthwiseShape& s) {
  const int oh = s.out_h(), ow = s.out_w(), sw = s.stride_w;
  std::fill(dxp, dxp + plane_size(s.height, s.width), 0.0f);
  each_tap(s, oh, ow, [&](int i, int j, int oy, int iy, Span span) {
    const float* dy = dyp + plane_size(oy, ow) + span.lo;
    float* dx = dxp + plane_size(iy, s.width) + span.lo * sw - s.pad_w + j;
    const float w = wp[i * s.kernel_w + j];
    const int n = span.hi - span.lo;
    if (sw == 1) {
      for (int k = 0; k < n; ++k) dx[k] += w * dy[k];
    } else {
      for (int k = 0; k < n; ++k) dx[k * sw] += w * dy[k];
    }
  });
}

// Adds one plane's products to `columns` ([taps][ow]): a partial sum per tap and output
// column, kept apart until one fixed-order reduction per channel.
__attribute__((target_clones("avx512f", "avx2", "default"))) void weight_grad_plane(
    const float* xp, const float* dyp, float* columns, const DepthwiseShape& s) {
  const int oh = s.out_h(), ow = s.out_w(), sw = s.stride_w;
  each_tap(s, oh, ow, [&](int i, int j, int oy, int iy, Span span) {
    float* acc = columns + plane_size(i * s.kernel_w + j, ow) + span.lo;
    const float* dy = dyp + plane_size(oy, ow) + span.lo;
    const float* x = xp + plane_size(iy, s.width) + span.lo * sw - s.pad_w + j;
    const int n = span.hi - span.lo;
    if (sw == 1) {
      for (int k = 0; k < n; ++k) acc[k] += dy[k] * x[k];
    } else {
      for (int k = 0; k < n; ++k) acc[k] += dy[k] * x[k * sw];
    }
  });
}

}  // namespace

void depthwise_forward(const float* x, const float* weights, float* y, const DepthwiseShape& s,
                       ThreadPool& pool) {
  const std::size_t in_plane = plane_size(s.height, s.width),
                    out_plane = plane_size(s.out_h(), s.out_w());
  const std::size_t taps = plane_size(s.kernel_h, s.kernel_w);
  pool.parallel_for(static_cast<std::size_t>(s.n) * s.channels, [&](std::size_t p) {
    forward_plane(x + p * in_plane, weights + (p % s.channels) * taps, y + p * out_plane, s);
  });
}

void depthwise_backward(const float* x, const float* weights, const float* dy, float* dx,
                        float* dweights, const DepthwiseShape& s, ThreadPool& pool) {
  const int ow = s.out_w();
  const std::size_t in_plane = plane_size(s.height, s.width), out_plane = plane_size(s.out_h(), ow);
  const std::size_t taps = plane_size(s.kernel_h, s.kernel_w);
  if (dx != nullptr) {
    pool.parallel_for(static_cast<std::size_t>(s.n) * s.channels, [&](std::size_t p) {
      input_grad_plane(dy + p * out_plane, weights + (p % s.channels) * taps, dx + p * in_plane, s);
    });
  }
  // One channel per task, its batch summed in order: no two tasks write one weight.
  pool.parallel_for(static_cast<std::size_t>(s.channels), [&](std::size_t c) {
    std::vector<float> columns(taps * ow, 0.0f);
    for (int b = 0; b < s.n; ++b) {
      const std::size_t p = static_cast<std::size_t>(b) * s.channels + c;
      weight_grad_plane(x + p * in_plane, dy + p * out_plane, columns.data(), s);
    }
    float* dwp = dweights + c * taps;
    for (std::size_t t = 0; t < taps; ++t) {
      double sum = 0.0;
      for (int k = 0; k < ow; ++k) sum += columns[t * ow + k];
      dwp[t] = static_cast<float>(sum);
    }
  });
}

}  // namespace pyml

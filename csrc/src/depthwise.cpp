// Depthwise convolution by rows: each kernel tap is one multiply-add of an input row
// segment into an output row segment (forward, input gradient), or into per-column
// partial sums (weight gradient); small stride-1 planes take each tap as one loop over
// a padded copy instead. Rows of a 448-pixel network fit in L1, so the loops
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

// Stride 1 runs on padded copies laid out with the padded width: a tap is then one long
// loop over the whole plane (output row r at r * padded_w), whatever the row length, so
// the 14-value rows of the late layers vectorize too. The columns past out_w are
// scratch and never copied out.
struct Padded {
  int w, h;          // the padded input's size
  std::size_t wide;  // out_h * w: a plane in the padded width
};

inline Padded padded(const DepthwiseShape& s) {
  const int w = s.width + 2 * s.pad_w, h = s.height + 2 * s.pad_h;
  return {w, h, plane_size(s.out_h(), w)};
}

// The input plane inside zeros, with kernel_w more zeros so the last tap reads in bounds.
inline void pad_plane(const float* xp, const DepthwiseShape& s, const Padded& g,
                      std::vector<float>& out) {
  out.assign(plane_size(g.h, g.w) + s.kernel_w, 0.0f);
  for (int y = 0; y < s.height; ++y) {
    std::copy(xp + plane_size(y, s.width), xp + plane_size(y + 1, s.width),
              out.data() + plane_size(y + s.pad_h, g.w) + s.pad_w);
  }
}

// dy in the padded width, zeros in the scratch columns.
inline void widen_plane(const float* dyp, const DepthwiseShape& s, const Padded& g,
                        std::vector<float>& out) {
  const int ow = s.out_w();
  out.assign(g.wide, 0.0f);
  for (int y = 0; y < s.out_h(); ++y) {
    std::copy(dyp + plane_size(y, ow), dyp + plane_size(y + 1, ow),
              out.data() + plane_size(y, g.w));
  }
}

inline std::size_t tap_offset(int i, int j, const Padded& g) { return plane_size(i, g.w) + j; }

// Large planes stay on the row loops, whose rows stay in L1 (measured, batch 16, forward +
// backward: 112x112 3x3 took 26 ms on padded copies, 17-22 ms by rows; 14x14 5x5 7 ms
// padded, 25-35 ms by rows; 56x56 9-17 ms padded, 14-26 ms by rows).
constexpr std::size_t kFlatMaxValues = 8192;
inline bool flat(const DepthwiseShape& s) {
  return s.stride_h == 1 && s.stride_w == 1 && padded(s).wide <= kFlatMaxValues;
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void forward_plane(
    const float* xp, const float* wp, float* yp, const DepthwiseShape& s) {
  const int oh = s.out_h(), ow = s.out_w(), sw = s.stride_w;
  if (flat(s)) {
    const Padded g = padded(s);
    std::vector<float> xpad, wide(g.wide, 0.0f);
    pad_plane(xp, s, g, xpad);
    for (int i = 0; i < s.kernel_h; ++i) {
      for (int j = 0; j < s.kernel_w; ++j) {
        const float w = wp[i * s.kernel_w + j];
        const float* x = xpad.data() + tap_offset(i, j, g);
        for (std::size_t f = 0; f < g.wide; ++f) wide[f] += w * x[f];
      }
    }
    for (int y = 0; y < oh; ++y) {
      std::copy(wide.data() + plane_size(y, g.w), wide.data() + plane_size(y, g.w) + ow,
                yp + plane_size(y, ow));
    }
    return;
  }
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
  if (flat(s)) {
    const Padded g = padded(s);
    std::vector<float> dy, dxpad(plane_size(g.h, g.w) + s.kernel_w, 0.0f);
    widen_plane(dyp, s, g, dy);
    for (int i = 0; i < s.kernel_h; ++i) {
      for (int j = 0; j < s.kernel_w; ++j) {
        const float w = wp[i * s.kernel_w + j];
        float* dx = dxpad.data() + tap_offset(i, j, g);
        for (std::size_t f = 0; f < g.wide; ++f) dx[f] += w * dy[f];
      }
    }
    for (int y = 0; y < s.height; ++y) {
      const float* row = dxpad.data() + plane_size(y + s.pad_h, g.w) + s.pad_w;
      std::copy(row, row + s.width, dxp + plane_size(y, s.width));
    }
    return;
  }
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

// Adds one plane's products to `columns` ([taps][columns_per_tap(s)]): a partial sum per
// tap and output position, kept apart until one fixed-order reduction per channel.
inline std::size_t columns_per_tap(const DepthwiseShape& s) {
  return flat(s) ? padded(s).wide : static_cast<std::size_t>(s.out_w());
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void weight_grad_plane(
    const float* xp, const float* dyp, float* columns, const DepthwiseShape& s) {
  const int oh = s.out_h(), ow = s.out_w(), sw = s.stride_w;
  if (flat(s)) {
    const Padded g = padded(s);
    std::vector<float> xpad, dy;
    pad_plane(xp, s, g, xpad);
    widen_plane(dyp, s, g, dy);
    for (int i = 0; i < s.kernel_h; ++i) {
      for (int j = 0; j < s.kernel_w; ++j) {
        float* acc = columns + (i * s.kernel_w + j) * g.wide;
        const float* x = xpad.data() + tap_offset(i, j, g);
        for (std::size_t f = 0; f < g.wide; ++f) acc[f] += dy[f] * x[f];
      }
    }
    return;
  }
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
  const std::size_t per_tap = columns_per_tap(s);
  const std::size_t in_plane = plane_size(s.height, s.width),
                    out_plane = plane_size(s.out_h(), s.out_w());
  const std::size_t taps = plane_size(s.kernel_h, s.kernel_w);
  if (dx != nullptr) {
    pool.parallel_for(static_cast<std::size_t>(s.n) * s.channels, [&](std::size_t p) {
      input_grad_plane(dy + p * out_plane, weights + (p % s.channels) * taps, dx + p * in_plane, s);
    });
  }
  // One channel per task, its batch summed in order: no two tasks write one weight.
  pool.parallel_for(static_cast<std::size_t>(s.channels), [&](std::size_t c) {
    std::vector<float> columns(taps * per_tap, 0.0f);
    for (int b = 0; b < s.n; ++b) {
      const std::size_t p = static_cast<std::size_t>(b) * s.channels + c;
      weight_grad_plane(x + p * in_plane, dy + p * out_plane, columns.data(), s);
    }
    float* dwp = dweights + c * taps;
    for (std::size_t t = 0; t < taps; ++t) {
      double sum = 0.0;
      for (std::size_t k = 0; k < per_tap; ++k) sum += columns[t * per_tap + k];
      dwp[t] = static_cast<float>(sum);
    }
  });
}

}  // namespace pyml

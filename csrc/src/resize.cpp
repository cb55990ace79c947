// Two separable passes driven by per-axis tap tables, computed once per call.
// The arithmetic follows the libraries bit for bit (see resize.h); the
// comments say where a choice is theirs rather than ours.
#include "pyml/resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define PYML_X86_KERNELS 1
#endif

namespace pyml {
namespace {

// For each output position along one axis: the first input index, how many
// taps, and the fixed-point weights (ksize per position, zero-padded).
struct Taps {
  int ksize = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<std::int32_t> weights;
};

// Pillow keeps 22 fractional bits: 8 bits of pixel and 2 of headroom in an int32.
constexpr int kPilBits = 22;

double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

Taps pil_bilinear_taps(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = 1.0 * filter_scale;  // the triangle's support is 1
  Taps t;
  t.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  if (static_cast<std::size_t>(out_size) >
      std::numeric_limits<std::size_t>::max() / sizeof(std::int32_t) / t.ksize) {
    throw std::invalid_argument("resize: output size too large");
  }
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.weights.assign(static_cast<std::size_t>(out_size) * t.ksize, 0);
  std::vector<double> k(t.ksize);
  for (int o = 0; o < out_size; ++o) {
    const double center = (o + 0.5) * scale;
    const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
    const int hi = std::min(static_cast<int>(center + support + 0.5), in_size);
    const int n = hi - lo;
    double total = 0.0;
    for (int i = 0; i < n; ++i) {
      k[i] = triangle((i + lo - center + 0.5) / filter_scale);
      total += k[i];
    }
    std::int32_t* w = &t.weights[static_cast<std::size_t>(o) * t.ksize];
    for (int i = 0; i < n; ++i) {
      const double normalized = total != 0.0 ? k[i] / total : k[i];
      const double fixed = normalized * (1 << kPilBits);
      w[i] = static_cast<std::int32_t>(fixed < 0 ? fixed - 0.5 : fixed + 0.5);
    }
    t.first[o] = lo;
    t.count[o] = n;
  }
  return t;
}

inline std::uint8_t pil_clip8(std::int32_t acc) {
  const std::int32_t v = acc >> kPilBits;
  return static_cast<std::uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

void pil_horizontal(const std::uint8_t* src, const Taps& t, int out_w, std::uint8_t* dst) {
  for (int o = 0; o < out_w; ++o) {
    const std::uint8_t* s = src + t.first[o] * 3;
    const std::int32_t* w = &t.weights[static_cast<std::size_t>(o) * t.ksize];
    std::int32_t r = 1 << (kPilBits - 1), g = r, b = r;
    for (int i = 0, n = t.count[o]; i < n; ++i, s += 3) {
      r += s[0] * w[i];
      g += s[1] * w[i];
      b += s[2] * w[i];
    }
    dst[o * 3 + 0] = pil_clip8(r);
    dst[o * 3 + 1] = pil_clip8(g);
    dst[o * 3 + 2] = pil_clip8(b);
  }
}

#ifdef PYML_X86_KERNELS
// The same arithmetic as pil_horizontal, two taps per step: pixels k and k+1
// become int32 lanes [r g b 0 | r g b 0] and meet weights [wk x4 | wk+1 x4].
// Loads read up to two bytes past the last tap, so output pixels whose taps
// end within two bytes of the row's end take the scalar path.
__attribute__((target("avx2"))) void pil_horizontal_avx2(const std::uint8_t* src, int in_w,
                                                         const Taps& t, int out_w,
                                                         std::uint8_t* dst) {
  const __m128i spread = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const int row_bytes = in_w * 3;
  for (int o = 0; o < out_w; ++o) {
    const int first = t.first[o], n = t.count[o];
    const std::int32_t* w = &t.weights[static_cast<std::size_t>(o) * t.ksize];
    if ((first + n) * 3 + 2 > row_bytes) {
      std::int32_t acc[3] = {1 << (kPilBits - 1), 1 << (kPilBits - 1), 1 << (kPilBits - 1)};
      const std::uint8_t* s = src + first * 3;
      for (int i = 0; i < n; ++i, s += 3) {
        for (int c = 0; c < 3; ++c) acc[c] += s[c] * w[i];
      }
      for (int c = 0; c < 3; ++c) dst[o * 3 + c] = pil_clip8(acc[c]);
      continue;
    }
    const std::uint8_t* s = src + first * 3;
    __m256i acc = _mm256_setzero_si256();
    int i = 0;
    for (; i + 1 < n; i += 2, s += 6) {
      const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(s));
      const __m256i px = _mm256_cvtepu8_epi32(_mm_shuffle_epi8(bytes, spread));
      const __m256i wk = _mm256_set_m128i(_mm_set1_epi32(w[i + 1]), _mm_set1_epi32(w[i]));
      acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(px, wk));
    }
    __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    if (i < n) {
      std::int32_t four;
      std::memcpy(&four, s, 4);
      const __m128i px = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(four));
      sum = _mm_add_epi32(sum, _mm_mullo_epi32(px, _mm_set1_epi32(w[i])));
    }
    sum = _mm_add_epi32(sum, _mm_set1_epi32(1 << (kPilBits - 1)));
    const __m128i shifted = _mm_srai_epi32(sum, kPilBits);
    const __m128i packed = _mm_packus_epi16(_mm_packs_epi32(shifted, shifted), _mm_setzero_si128());
    const std::int32_t rgb0 = _mm_cvtsi128_si32(packed);
    std::memcpy(dst + o * 3, &rgb0, 3);
  }
}

// PYML_DISABLE_AVX2=1 forces the portable kernels (the tests use it to check both).
bool cpu_has_avx2() {
  static const bool has =
      __builtin_cpu_supports("avx2") && std::getenv("PYML_DISABLE_AVX2") == nullptr;
  return has;
}
#endif

// One row of the horizontal pass with the fastest kernel this CPU runs.
void pil_horizontal_row(const std::uint8_t* src, int in_w, const Taps& t, int out_w,
                        std::uint8_t* dst) {
#ifdef PYML_X86_KERNELS
  if (cpu_has_avx2()) return pil_horizontal_avx2(src, in_w, t, out_w, dst);
#endif
  (void)in_w;
  pil_horizontal(src, t, out_w, dst);
}

// Tap-major so the inner loop runs along a row and vectorizes; `acc` is
// scratch of src.width * 3 values.
__attribute__((target_clones("avx2", "default"))) void pil_vertical_row(const ImageView& src,
                                                                        const Taps& t, int o,
                                                                        std::int32_t* acc,
                                                                        std::uint8_t* dst) {
  const int values = src.width * 3;
  const std::int32_t* w = &t.weights[static_cast<std::size_t>(o) * t.ksize];
  std::fill(acc, acc + values, std::int32_t{1} << (kPilBits - 1));
  for (int i = 0, n = t.count[o]; i < n; ++i) {
    const std::uint8_t* s = src.row(t.first[o] + i);
    const std::int32_t wi = w[i];
    for (int x = 0; x < values; ++x) acc[x] += s[x] * wi;
  }
  for (int x = 0; x < values; ++x) dst[x] = pil_clip8(acc[x]);
}

// Pillow 13 runs the vertical pass first when the height shrinks by more
// than twice as many pixels as the width does (older Pillow: always
// horizontal first). The order changes the 8-bit rounding in between, so we
// follow it; the rule was checked against Pillow 13.0 on 648 random sizes.
bool pil_vertical_first(const ImageView& src, int width, int height) {
  return height < src.height && (src.height - height) > 2 * (src.width - width);
}

void resize_pil(const ImageView& src, int width, int height, const RowSink& sink) {
  // Pillow skips a pass whose axis keeps its size; so do we (the pass would be an identity).
  const bool horizontal = width != src.width, vertical = height != src.height;
  std::vector<std::uint8_t> row(static_cast<std::size_t>(width) * 3);
  if (horizontal && vertical && pil_vertical_first(src, width, height)) {
    const Taps ty = pil_bilinear_taps(src.height, height);
    const Taps tx = pil_bilinear_taps(src.width, width);
    std::vector<std::uint8_t> column_pass(static_cast<std::size_t>(src.width) * 3);
    std::vector<std::int32_t> acc(column_pass.size());
    for (int y = 0; y < height; ++y) {
      pil_vertical_row(src, ty, y, acc.data(), column_pass.data());
      pil_horizontal_row(column_pass.data(), src.width, tx, width, row.data());
      sink(y, row.data());
    }
    return;
  }
  Image horizontal_pass;
  ImageView stage = src;
  if (horizontal) {
    const Taps tx = pil_bilinear_taps(src.width, width);
    horizontal_pass = Image(width, src.height);
    for (int y = 0; y < src.height; ++y)
      pil_horizontal_row(src.row(y), src.width, tx, width, horizontal_pass.row(y));
    stage = horizontal_pass.view();
  }
  if (!vertical) {
    for (int y = 0; y < height; ++y) sink(y, stage.row(y));
    return;
  }
  const Taps ty = pil_bilinear_taps(src.height, height);
  std::vector<std::int32_t> acc(row.size());
  for (int y = 0; y < height; ++y) {
    pil_vertical_row(stage, ty, y, acc.data(), row.data());
    sink(y, row.data());
  }
}

// ---- OpenCV INTER_LINEAR ----------------------------------------------------

constexpr int kCvBits = 11;  // INTER_RESIZE_COEF_BITS
constexpr int kCvScale = 1 << kCvBits;

struct LinearTap {
  int index;
  std::int16_t w0, w1;
};

std::int16_t cv_weight(float f) {
  return static_cast<std::int16_t>(
      std::lrint(f * kCvScale));  // saturate_cast<short>: round half even
}

// `clamp_weights`: OpenCV zeroes the fraction at the left/right borders of the
// horizontal axis; on the vertical axis it only replicates the border rows.
std::vector<LinearTap> cv_linear_taps(int in_size, int out_size, bool clamp_weights) {
  const double scale = 1.0 / (static_cast<double>(out_size) / in_size);
  std::vector<LinearTap> taps(out_size);
  for (int o = 0; o < out_size; ++o) {
    float f = static_cast<float>((o + 0.5) * scale - 0.5);
    int s = static_cast<int>(std::floor(f));
    f -= static_cast<float>(s);
    if (clamp_weights) {
      if (s < 0) f = 0.f, s = 0;
      if (s >= in_size - 1) f = 0.f, s = in_size - 1;
    }
    taps[o] = LinearTap{s, cv_weight(1.f - f), cv_weight(f)};
  }
  return taps;
}

void resize_cv(const ImageView& src, int width, int height, const RowSink& sink) {
  const std::vector<LinearTap> tx = cv_linear_taps(src.width, width, true);
  const std::vector<LinearTap> ty = cv_linear_taps(src.height, height, false);
  const int values = width * 3;
  auto clamp_row = [&](int y) { return std::min(std::max(y, 0), src.height - 1); };

  // Only the source rows some output row reads get the horizontal pass.
  std::vector<int> slot(src.height, -1);
  int needed = 0;
  for (const LinearTap& t : ty) {
    for (int y : {clamp_row(t.index), clamp_row(t.index + 1)}) {
      if (slot[y] < 0) slot[y] = needed++;
    }
  }
  std::vector<std::int32_t> rows(static_cast<std::size_t>(needed) * values);
  for (int y = 0; y < src.height; ++y) {
    if (slot[y] < 0) continue;
    const std::uint8_t* s = src.row(y);
    std::int32_t* d = &rows[static_cast<std::size_t>(slot[y]) * values];
    for (int x = 0; x < width; ++x) {
      const int i0 = tx[x].index * 3;
      const int i1 = std::min(tx[x].index + 1, src.width - 1) * 3;
      for (int c = 0; c < 3; ++c) d[x * 3 + c] = s[i0 + c] * tx[x].w0 + s[i1 + c] * tx[x].w1;
    }
  }
  // Vertical pass with the rounding of OpenCV's SIMD kernel (the one x86 runs):
  // ((S0 >> 4) * b0 >> 16) + ((S1 >> 4) * b1 >> 16), then (+2) >> 2.
  std::vector<std::uint8_t> out(values);
  for (int y = 0; y < height; ++y) {
    const std::int32_t* s0 = &rows[static_cast<std::size_t>(slot[clamp_row(ty[y].index)]) * values];
    const std::int32_t* s1 =
        &rows[static_cast<std::size_t>(slot[clamp_row(ty[y].index + 1)]) * values];
    const int b0 = ty[y].w0, b1 = ty[y].w1;
    for (int x = 0; x < values; ++x) {
      const int v = (((s0[x] >> 4) * b0) >> 16) + (((s1[x] >> 4) * b1) >> 16);
      const int r = (v + 2) >> 2;
      out[x] = static_cast<std::uint8_t>(r < 0 ? 0 : (r > 255 ? 255 : r));
    }
    sink(y, out.data());
  }
}

// OpenCV turns an exact 2x2 INTER_LINEAR downscale into INTER_AREA: a rounded mean.
void resize_cv_half(const ImageView& src, int width, int height, const RowSink& sink) {
  std::vector<std::uint8_t> out(static_cast<std::size_t>(width) * 3);
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* a = src.row(2 * y);
    const std::uint8_t* b = src.row(2 * y + 1);
    for (int x = 0; x < width * 3; ++x) {
      const int c = x % 3, i = (x / 3) * 6 + c;
      out[x] = static_cast<std::uint8_t>((a[i] + a[i + 3] + b[i] + b[i + 3] + 2) >> 2);
    }
    sink(y, out.data());
  }
}

}  // namespace

void resize_rows(const ImageView& src, int width, int height, ResizeFilter filter,
                 const RowSink& sink) {
  if (width <= 0 || height <= 0 || src.width <= 0 || src.height <= 0) {
    throw std::invalid_argument("resize: sizes must be positive (from " +
                                std::to_string(src.width) + "x" + std::to_string(src.height) +
                                " to " + std::to_string(width) + "x" + std::to_string(height) +
                                ")");
  }
  if (filter == ResizeFilter::kPilBilinear) {
    resize_pil(src, width, height, sink);
  } else if (src.width == 2 * width && src.height == 2 * height) {
    resize_cv_half(src, width, height, sink);
  } else {
    resize_cv(src, width, height, sink);
  }
}

Image resize(const ImageView& src, int width, int height, ResizeFilter filter) {
  Image out(width, height);
  resize_rows(src, width, height, filter, [&](int y, const std::uint8_t* row) {
    std::copy(row, row + static_cast<std::size_t>(width) * 3, out.row(y));
  });
  return out;
}

std::pair<int, int> short_side_size(int width, int height, int short_side) {
  if (width <= 0 || height <= 0 || short_side <= 0) {
    throw std::invalid_argument("resize_short: sizes must be positive");
  }
  const double percent = static_cast<double>(short_side) / std::min(width, height);
  // std::nearbyint rounds half to even under the default rounding mode, like Python's round().
  const double w = std::nearbyint(width * percent), h = std::nearbyint(height * percent);
  if (w > std::numeric_limits<int>::max() || h > std::numeric_limits<int>::max()) {
    throw std::invalid_argument("resize_short: the output would be over 2^31 pixels wide or high");
  }
  return {static_cast<int>(w), static_cast<int>(h)};
}

}  // namespace pyml

// Elementwise over fixed-size chunks spread on the pool. Each element is independent,
// and the affine's sums are per chunk and then over chunks in order, so no result
// depends on the thread count.
#include "pyml/elementwise.h"

#include <algorithm>
#include <vector>

namespace pyml {
namespace {

constexpr std::size_t kChunk = 1 << 16;

template <typename Fn>
void chunked(std::size_t count, ThreadPool& pool, Fn fn) {
  const std::size_t chunks = (count + kChunk - 1) / kChunk;
  pool.parallel_for(chunks, [&](std::size_t c) {
    const std::size_t begin = c * kChunk;
    fn(begin, std::min(kChunk, count - begin));
  });
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void hardswish_chunk(const float* x,
                                                                                  float* y,
                                                                                  std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const float clipped = std::min(std::max(x[i] + 3.0f, 0.0f), 6.0f);
    y[i] = x[i] * clipped / 6.0f;
  }
}

// Below -3 the function is 0, above 3 it is x, between them x * (x + 3) / 6.
__attribute__((target_clones("avx512f", "avx2", "default"))) void hardswish_grad_chunk(
    const float* x, const float* dy, float* dx, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const float shifted = x[i] + 3.0f;
    const float slope =
        shifted <= 0.0f ? 0.0f : (shifted < 6.0f ? (2.0f * x[i] + 3.0f) / 6.0f : 1.0f);
    dx[i] = dy[i] * slope;
  }
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void relu_chunk(const float* x,
                                                                             float* y,
                                                                             std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = std::max(x[i], 0.0f);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void relu_grad_chunk(const float* y,
                                                                                  const float* dy,
                                                                                  float* dx,
                                                                                  std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void affine_chunk(const float* x,
                                                                               float scale,
                                                                               float bias, float* y,
                                                                               std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = scale * x[i] + bias;
}

// dx of the chunk, and its two sums over 16 fixed float lanes, reduced in double.
constexpr int kLanes = 16;
__attribute__((target_clones("avx512f", "avx2", "default"))) void affine_grad_chunk(
    const float* x, const float* dy, float scale, float* dx, std::size_t n, double* sum_dyx,
    double* sum_dy) {
  float lanes_dyx[kLanes] = {}, lanes_dy[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      dx[i + l] = scale * dy[i + l];
      lanes_dyx[l] += dy[i + l] * x[i + l];
      lanes_dy[l] += dy[i + l];
    }
  }
  double dyx = 0.0, d = 0.0;
  for (; i < n; ++i) {
    dx[i] = scale * dy[i];
    dyx += static_cast<double>(dy[i] * x[i]);
    d += dy[i];
  }
  for (int l = 0; l < kLanes; ++l) {
    dyx += lanes_dyx[l];
    d += lanes_dy[l];
  }
  *sum_dyx = dyx;
  *sum_dy = d;
}

}  // namespace

void hardswish_forward(const float* x, float* y, std::size_t count, ThreadPool& pool) {
  chunked(count, pool,
          [&](std::size_t begin, std::size_t n) { hardswish_chunk(x + begin, y + begin, n); });
}

void hardswish_backward(const float* x, const float* dy, float* dx, std::size_t count,
                        ThreadPool& pool) {
  chunked(count, pool, [&](std::size_t begin, std::size_t n) {
    hardswish_grad_chunk(x + begin, dy + begin, dx + begin, n);
  });
}

void relu_forward(const float* x, float* y, std::size_t count, ThreadPool& pool) {
  chunked(count, pool,
          [&](std::size_t begin, std::size_t n) { relu_chunk(x + begin, y + begin, n); });
}

void relu_backward(const float* y, const float* dy, float* dx, std::size_t count,
                   ThreadPool& pool) {
  chunked(count, pool, [&](std::size_t begin, std::size_t n) {
    relu_grad_chunk(y + begin, dy + begin, dx + begin, n);
  });
}

void affine_forward(const float* x, float scale, float bias, float* y, std::size_t count,
                    ThreadPool& pool) {
  chunked(count, pool, [&](std::size_t begin, std::size_t n) {
    affine_chunk(x + begin, scale, bias, y + begin, n);
  });
}

void affine_backward(const float* x, const float* dy, float scale, float* dx, float* dscale,
                     float* dbias, std::size_t count, ThreadPool& pool) {
  const std::size_t chunks = (count + kChunk - 1) / kChunk;
  std::vector<double> dyx(chunks), d(chunks);
  chunked(count, pool, [&](std::size_t begin, std::size_t n) {
    const std::size_t c = begin / kChunk;
    affine_grad_chunk(x + begin, dy + begin, scale, dx + begin, n, &dyx[c], &d[c]);
  });
  double total_dyx = 0.0, total_d = 0.0;
  for (std::size_t c = 0; c < chunks; ++c) {
    total_dyx += dyx[c];
    total_d += d[c];
  }
  *dscale = static_cast<float>(total_dyx);
  *dbias = static_cast<float>(total_d);
}

}  // namespace pyml

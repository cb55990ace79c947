// Elementwise over fixed-size chunks spread on the pool; each element is independent,
// so the result does not depend on the thread count.
#include "pyml/hardswish.h"

#include <algorithm>

namespace pyml {
namespace {

constexpr std::size_t kChunk = 1 << 16;

__attribute__((target_clones("avx512f", "avx2", "default"))) void forward_chunk(const float* x,
                                                                                float* y,
                                                                                std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const float clipped = std::min(std::max(x[i] + 3.0f, 0.0f), 6.0f);
    y[i] = x[i] * clipped / 6.0f;
  }
}

// Below -3 the function is 0, above 3 it is x, between them x * (x + 3) / 6.
__attribute__((target_clones("avx512f", "avx2", "default"))) void backward_chunk(const float* x,
                                                                                 const float* dy,
                                                                                 float* dx,
                                                                                 std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const float shifted = x[i] + 3.0f;
    const float slope =
        shifted <= 0.0f ? 0.0f : (shifted < 6.0f ? (2.0f * x[i] + 3.0f) / 6.0f : 1.0f);
    dx[i] = dy[i] * slope;
  }
}

template <typename Fn>
void chunked(std::size_t count, ThreadPool& pool, Fn fn) {
  const std::size_t chunks = (count + kChunk - 1) / kChunk;
  pool.parallel_for(chunks, [&](std::size_t c) {
    const std::size_t begin = c * kChunk;
    fn(begin, std::min(kChunk, count - begin));
  });
}

}  // namespace

void hardswish_forward(const float* x, float* y, std::size_t count, ThreadPool& pool) {
  chunked(count, pool,
          [&](std::size_t begin, std::size_t n) { forward_chunk(x + begin, y + begin, n); });
}

void hardswish_backward(const float* x, const float* dy, float* dx, std::size_t count,
                        ThreadPool& pool) {
  chunked(count, pool, [&](std::size_t begin, std::size_t n) {
    backward_chunk(x + begin, dy + begin, dx + begin, n);
  });
}

}  // namespace pyml

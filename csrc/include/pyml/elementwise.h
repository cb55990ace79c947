// File: pyml/elementwise.h
//
// The elementwise layers of a `pyml train` step that Paddle's dynamic graph runs on one
// thread: hard swish (PP-LCNet), ReLU, and the learnable scalar affine of PP-HGNetV2
// (y = scale * x + bias), forward and backward, over fixed chunks spread on a pool.
// Forwards follow Paddle's formulas in Paddle's order, so their values are the same
// bits; the affine's parameter gradients are sums taken in one fixed order (double
// per chunk, chunks in order), the same whatever the thread count.
#ifndef PYML_ELEMENTWISE_H_
#define PYML_ELEMENTWISE_H_

#include <cstddef>

#include "pyml/thread_pool.h"

namespace pyml {

// x * min(max(x + 3, 0), 6) / 6, and dx = dy * its derivative at x.
void hardswish_forward(const float* x, float* y, std::size_t count, ThreadPool& pool);
void hardswish_backward(const float* x, const float* dy, float* dx, std::size_t count,
                        ThreadPool& pool);

// max(x, 0), and dx = dy where the output is positive, else 0 (Paddle's rule, from y).
void relu_forward(const float* x, float* y, std::size_t count, ThreadPool& pool);
void relu_backward(const float* y, const float* dy, float* dx, std::size_t count, ThreadPool& pool);

// y = scale * x + bias; backward: dx = scale * dy, dscale = sum(dy * x), dbias = sum(dy).
void affine_forward(const float* x, float scale, float bias, float* y, std::size_t count,
                    ThreadPool& pool);
void affine_backward(const float* x, const float* dy, float scale, float* dx, float* dscale,
                     float* dbias, std::size_t count, ThreadPool& pool);

}  // namespace pyml

#endif  // PYML_ELEMENTWISE_H_

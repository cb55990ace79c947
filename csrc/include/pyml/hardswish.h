// File: pyml/hardswish.h
//
// Hard swish, x * min(max(x + 3, 0), 6) / 6 (PP-LCNet's activation), and its gradient,
// for `pyml train`: Paddle's dynamic graph runs these elementwise on one thread, and in
// PP-LCNet_x1_0_ML at 448 they took about a seventh of a training step. The forward is
// Paddle's formula in Paddle's order, so its values are the same bits.
#ifndef PYML_HARDSWISH_H_
#define PYML_HARDSWISH_H_

#include <cstddef>

#include "pyml/thread_pool.h"

namespace pyml {

void hardswish_forward(const float* x, float* y, std::size_t count, ThreadPool& pool);

// dx = dy * d(hardswish)/dx at x.
void hardswish_backward(const float* x, const float* dy, float* dx, std::size_t count,
                        ThreadPool& pool);

}  // namespace pyml

#endif  // PYML_HARDSWISH_H_

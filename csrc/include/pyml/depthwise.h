// File: pyml/depthwise.h
//
// Depthwise 2-D convolution (one filter per channel, NCHW float32, no bias), forward
// and backward, for `pyml train`. Paddle's dynamic graph runs these layers as one
// tiny GEMM per channel on one thread; PP-LCNet spends about a third of a training
// step there. These loops run along rows (vectorized) and spread planes or channels
// over a pool.
//
// Deterministic: every sum is taken in one fixed order, whatever the thread count and
// vector width, so a resumed training run gets the weights an uninterrupted one had.
//
// Example:
//   pyml::DepthwiseShape s{n, c, h, w, 3, 3, 1, 1, 1, 1};
//   pyml::depthwise_forward(x, weights, y, s, pool);
#ifndef PYML_DEPTHWISE_H_
#define PYML_DEPTHWISE_H_

#include "pyml/thread_pool.h"

namespace pyml {

struct DepthwiseShape {
  int n, channels, height, width;  // the input, NCHW
  int kernel_h, kernel_w;
  int stride_h, stride_w;
  int pad_h, pad_w;  // zero padding on each side

  int out_h() const { return (height + 2 * pad_h - kernel_h) / stride_h + 1; }
  int out_w() const { return (width + 2 * pad_w - kernel_w) / stride_w + 1; }
};

// y[n, c] = x[n, c] (*) weights[c]; weights is [C, kernel_h, kernel_w], y [N, C, out_h, out_w].
void depthwise_forward(const float* x, const float* weights, float* y, const DepthwiseShape& s,
                       ThreadPool& pool);

// Gradients from dy ([N, C, out_h, out_w]): dx ([N, C, H, W]; skipped when null) and
// dweights ([C, kernel_h, kernel_w], summed over the batch).
void depthwise_backward(const float* x, const float* weights, const float* dy, float* dx,
                        float* dweights, const DepthwiseShape& s, ThreadPool& pool);

}  // namespace pyml

#endif  // PYML_DEPTHWISE_H_

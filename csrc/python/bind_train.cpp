#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <string>
#include <utility>
#include <vector>

#include "bindings.h"
#include "pyml/depthwise.h"
#include "pyml/elementwise.h"

namespace py = pybind11;

namespace pyml::python {
namespace {

// Only float32 C-contiguous arrays: a silent conversion would copy a whole activation.
using Floats = py::array_t<float, py::array::c_style>;

// ndim < 0: any number of dimensions. (isinstance<Floats> checks the dtype and the layout.)
Floats require_floats(const py::handle& obj, const char* name, int ndim) {
  if (!py::isinstance<Floats>(obj)) {
    throw py::type_error(std::string(name) + " must be a C-contiguous float32 numpy array");
  }
  Floats out = py::reinterpret_borrow<Floats>(obj);
  if (ndim >= 0 && out.ndim() != ndim) {
    throw py::value_error(std::string(name) + " must have " + std::to_string(ndim) + " dimensions");
  }
  return out;
}

// Freed buffers kept for the next step, which asks for the same sizes again: a fresh
// 50 MB buffer from malloc is a fresh mmap whose pages the kernel zeroes on first touch,
// which cost more than a batch norm's arithmetic. At most kMaxHeld bytes wait here.
class BufferCache {
 public:
  static constexpr std::size_t kAlign = 64;
  static constexpr std::size_t kMaxHeld = std::size_t{1} << 30;

  // `bytes` usable bytes on a kAlign boundary, behind a header that records the size.
  static float* get(std::size_t bytes) {
    BufferCache& c = instance();
    {
      std::lock_guard<std::mutex> lock(c.mutex_);
      auto it = c.free_.find(bytes);
      if (it != c.free_.end()) {
        void* block = it->second;
        c.free_.erase(it);
        c.held_ -= bytes;
        return data_of(block);
      }
    }
    void* block = std::aligned_alloc(kAlign, kAlign + bytes);
    if (block == nullptr) throw std::bad_alloc();
    *static_cast<std::size_t*>(block) = bytes;
    return data_of(block);
  }

  static void put(void* data) {
    void* block = static_cast<char*>(data) - kAlign;
    const std::size_t bytes = *static_cast<std::size_t*>(block);
    BufferCache& c = instance();
    {
      std::lock_guard<std::mutex> lock(c.mutex_);
      if (c.held_ + bytes <= kMaxHeld) {
        c.free_.emplace(bytes, block);
        c.held_ += bytes;
        return;
      }
    }
    std::free(block);
  }

 private:
  static float* data_of(void* block) {
    return reinterpret_cast<float*>(static_cast<char*>(block) + kAlign);
  }
  static BufferCache& instance() {
    static BufferCache* cache = new BufferCache();  // never destroyed: capsules may outlive exit
    return *cache;
  }

  std::mutex mutex_;
  std::unordered_multimap<std::size_t, void*> free_;
  std::size_t held_ = 0;
};

// A new array on a 64-byte boundary. The arrays these kernels return become Paddle
// tensors (by DLPack) that the next layers read, and MKL's GEMMs round differently with
// the alignment of their inputs: on numpy's 16-byte-aligned memory two identical
// training runs drifted apart, which would break exact resume.
Floats aligned(std::vector<py::ssize_t> shape) {
  std::size_t count = 1;
  for (py::ssize_t d : shape) count *= static_cast<std::size_t>(d);
  const std::size_t bytes =
      std::max<std::size_t>(BufferCache::kAlign, (count * sizeof(float) + BufferCache::kAlign - 1) /
                                                     BufferCache::kAlign * BufferCache::kAlign);
  float* data = BufferCache::get(bytes);
  py::capsule owner(data, [](void* p) { BufferCache::put(p); });
  return Floats(std::move(shape), data, owner);
}

// Runs fn(pool) on `threads` threads with the GIL released.
template <typename Fn>
void without_gil(int threads, Fn fn) {
  py::gil_scoped_release release;
  ThreadPool pool(threads);
  fn(pool);
}

DepthwiseShape shape_of(const Floats& x, const Floats& weights, std::pair<int, int> stride,
                        std::pair<int, int> padding) {
  const DepthwiseShape s{static_cast<int>(x.shape(0)),
                         static_cast<int>(x.shape(1)),
                         static_cast<int>(x.shape(2)),
                         static_cast<int>(x.shape(3)),
                         static_cast<int>(weights.shape(1)),
                         static_cast<int>(weights.shape(2)),
                         stride.first,
                         stride.second,
                         padding.first,
                         padding.second};
  if (weights.shape(0) != x.shape(1)) {
    throw py::value_error("weights must be [C, kernel_h, kernel_w] with x's channel count");
  }
  if (s.stride_h < 1 || s.stride_w < 1 || s.pad_h < 0 || s.pad_w < 0) {
    throw py::value_error("stride must be >= 1 and padding >= 0");
  }
  if (s.out_h() < 1 || s.out_w() < 1)
    throw py::value_error("the kernel is larger than the padded input");
  return s;
}

Floats forward(const py::handle& x_obj, const py::handle& w_obj, std::pair<int, int> stride,
               std::pair<int, int> padding, int threads) {
  const Floats x = require_floats(x_obj, "x", 4), w = require_floats(w_obj, "weights", 3);
  const DepthwiseShape s = shape_of(x, w, stride, padding);
  Floats y = aligned({x.shape(0), x.shape(1), static_cast<py::ssize_t>(s.out_h()),
                      static_cast<py::ssize_t>(s.out_w())});
  float* out = y.mutable_data();
  without_gil(threads,
              [&](ThreadPool& pool) { depthwise_forward(x.data(), w.data(), out, s, pool); });
  return y;
}

py::tuple backward(const py::handle& x_obj, const py::handle& w_obj, const py::handle& dy_obj,
                   std::pair<int, int> stride, std::pair<int, int> padding, bool need_dx,
                   int threads) {
  const Floats x = require_floats(x_obj, "x", 4), w = require_floats(w_obj, "weights", 3);
  const Floats dy = require_floats(dy_obj, "dy", 4);
  const DepthwiseShape s = shape_of(x, w, stride, padding);
  if (dy.shape(0) != x.shape(0) || dy.shape(1) != x.shape(1) || dy.shape(2) != s.out_h() ||
      dy.shape(3) != s.out_w()) {
    throw py::value_error("dy must have the forward output's shape");
  }
  Floats dw = aligned({w.shape(0), w.shape(1), w.shape(2)});
  py::object dx_obj = py::none();
  float* dx = nullptr;
  if (need_dx) {
    Floats dx_arr = aligned({x.shape(0), x.shape(1), x.shape(2), x.shape(3)});
    dx = dx_arr.mutable_data();
    dx_obj = dx_arr;
  }
  float* dwp = dw.mutable_data();
  without_gil(threads, [&](ThreadPool& pool) {
    depthwise_backward(x.data(), w.data(), dy.data(), dx, dwp, s, pool);
  });
  return py::make_tuple(dx_obj, dw);
}

Floats like(const Floats& x) {
  return aligned(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
}

// y = f(x) for an elementwise forward.
template <void (*Forward)(const float*, float*, std::size_t, ThreadPool&)>
Floats unary(const py::handle& x_obj, int threads) {
  const Floats x = require_floats(x_obj, "x", -1);
  Floats y = like(x);
  float* out = y.mutable_data();
  without_gil(threads, [&](ThreadPool& pool) {
    Forward(x.data(), out, static_cast<std::size_t>(x.size()), pool);
  });
  return y;
}

// dx from (saved, dy) for an elementwise backward; `saved` is x or y, as the layer keeps.
template <void (*Backward)(const float*, const float*, float*, std::size_t, ThreadPool&)>
Floats unary_grad(const py::handle& saved_obj, const py::handle& dy_obj, int threads) {
  const Floats saved = require_floats(saved_obj, "x", -1), dy = require_floats(dy_obj, "dy", -1);
  if (dy.size() != saved.size()) throw py::value_error("dy must have x's shape");
  Floats dx = like(saved);
  float* out = dx.mutable_data();
  without_gil(threads, [&](ThreadPool& pool) {
    Backward(saved.data(), dy.data(), out, static_cast<std::size_t>(saved.size()), pool);
  });
  return dx;
}

Floats affine(const py::handle& x_obj, float scale, float bias, int threads) {
  const Floats x = require_floats(x_obj, "x", -1);
  Floats y = like(x);
  float* out = y.mutable_data();
  without_gil(threads, [&](ThreadPool& pool) {
    affine_forward(x.data(), scale, bias, out, static_cast<std::size_t>(x.size()), pool);
  });
  return y;
}

py::tuple affine_grad(const py::handle& x_obj, const py::handle& dy_obj, float scale, int threads) {
  const Floats x = require_floats(x_obj, "x", -1), dy = require_floats(dy_obj, "dy", -1);
  if (dy.size() != x.size()) throw py::value_error("dy must have x's shape");
  Floats dx = like(x);
  float* out = dx.mutable_data();
  float dscale = 0.0f, dbias = 0.0f;
  without_gil(threads, [&](ThreadPool& pool) {
    affine_backward(x.data(), dy.data(), scale, out, &dscale, &dbias,
                    static_cast<std::size_t>(x.size()), pool);
  });
  return py::make_tuple(dx, dscale, dbias);
}

}  // namespace

void register_train(py::module_& m) {
  m.def("depthwise_conv2d", &forward, py::arg("x"), py::arg("weights"), py::arg("stride"),
        py::arg("padding"), py::arg("threads") = 1,
        "Depthwise convolution of x [N, C, H, W] with weights [C, kh, kw] (float32, no bias).");
  m.def("depthwise_conv2d_backward", &backward, py::arg("x"), py::arg("weights"), py::arg("dy"),
        py::arg("stride"), py::arg("padding"), py::arg("need_dx") = true, py::arg("threads") = 1,
        "(dx or None, dweights) of depthwise_conv2d for the output gradient dy.");
  m.def("hardswish", &unary<hardswish_forward>, py::arg("x"), py::arg("threads") = 1,
        "x * min(max(x + 3, 0), 6) / 6, elementwise (float32).");
  m.def("hardswish_backward", &unary_grad<hardswish_backward>, py::arg("x"), py::arg("dy"),
        py::arg("threads") = 1, "dy times hardswish's derivative at x.");
  m.def("relu", &unary<relu_forward>, py::arg("x"), py::arg("threads") = 1, "max(x, 0) (float32).");
  m.def("relu_backward", &unary_grad<relu_backward>, py::arg("y"), py::arg("dy"),
        py::arg("threads") = 1, "dy where relu's output y is positive, else 0.");
  m.def("affine", &affine, py::arg("x"), py::arg("scale"), py::arg("bias"), py::arg("threads") = 1,
        "scale * x + bias (float32).");
  m.def("affine_backward", &affine_grad, py::arg("x"), py::arg("dy"), py::arg("scale"),
        py::arg("threads") = 1, "(dx, dscale, dbias) of affine for the output gradient dy.");
}

}  // namespace pyml::python

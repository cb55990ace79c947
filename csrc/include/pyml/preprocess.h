// File: pyml/preprocess.h
//
// The whole preprocessing of a batch in one call: decode (or take pixels),
// resize, normalize with per-channel scale/mean/std, and lay out as one
// contiguous float32 [N, 3, H, W] tensor in RGB channel order.
//
// A bad item never spoils the batch: its slot is zero-filled and its error is
// reported in the BatchReport; the other items are processed normally.
//
// Example:
//   pyml::PreprocessSpec spec;                 // 448x448, Pillow bilinear, ImageNet mean/std
//   pyml::Preprocessor pre(spec, /*threads=*/0);
//   std::vector<pyml::ImageInput> items = {pyml::ImageInput::encoded(buf, len)};
//   std::vector<float> out(items.size() * 3 * 448 * 448);
//   pyml::BatchReport report = pre.run_into(items, out.data());
#ifndef PYML_PREPROCESS_H_
#define PYML_PREPROCESS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pyml/decode.h"
#include "pyml/errors.h"
#include "pyml/image.h"
#include "pyml/resize.h"
#include "pyml/thread_pool.h"

namespace pyml {

enum class ResizeMode {
  kStretch,    // to exactly width x height (`ResizeImage: size`)
  kShortSide,  // short side to short_side, aspect kept (`ResizeImage: resize_short`)
};

enum class DecodeMode {
  kExact,  // full-resolution decode: pixel-identical to OpenCV decode + the resize filter
  kFast,   // JPEG decoded at the smallest DCT scale that still covers the target size
};

struct PreprocessSpec {
  ResizeMode resize_mode = ResizeMode::kStretch;
  int width = 448;
  int height = 448;
  int short_side = 0;
  ResizeFilter filter = ResizeFilter::kPilBilinear;
  std::array<double, 3> mean = {0.485, 0.456, 0.406};
  std::array<double, 3> std_dev = {0.229, 0.224, 0.225};
  double scale = 1.0 / 255.0;
  DecodeMode decode_mode = DecodeMode::kExact;
  std::uint64_t max_pixels = kDefaultMaxPixels;

  // Throws std::invalid_argument naming the bad field.
  void validate() const;
};

// One batch item: encoded bytes (JPEG/PNG), or 8-bit pixels with 3 channels
// (or 1, grey) in the stated order. The memory is borrowed for the call.
struct ImageInput {
  enum class Kind { kEncoded, kPixels };
  Kind kind = Kind::kEncoded;
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;  // encoded bytes
  int width = 0, height = 0, channels = 3;
  std::ptrdiff_t row_stride = 0;
  ChannelOrder order = ChannelOrder::kBGR;

  static ImageInput encoded(const std::uint8_t* data, std::size_t size);
  static ImageInput pixels(const std::uint8_t* data, int width, int height, int channels,
                           std::ptrdiff_t row_stride, ChannelOrder order);
};

struct ItemError {
  std::size_t index;
  InputErrorKind kind;
  std::string message;
};

struct BatchReport {
  int height = 0;
  int width = 0;
  std::vector<ItemError> errors;  // in index order; empty when every item succeeded
};

// Returns a buffer for n * 3 * height * width floats; called once per batch.
using TensorAllocator = std::function<float*(std::size_t n, int height, int width)>;

class Preprocessor {
 public:
  // threads <= 0: one per hardware thread.
  Preprocessor(PreprocessSpec spec, int threads);

  const PreprocessSpec& spec() const noexcept { return spec_; }
  int threads() const noexcept { return pool_->size(); }

  // The batch into a tensor obtained from `allocate` once the output size is known.
  // Throws std::invalid_argument when resize_short gives items different sizes.
  BatchReport run(const std::vector<ImageInput>& items, const TensorAllocator& allocate) const;

  // For kStretch specs: straight into a caller buffer of n * 3 * height * width floats.
  BatchReport run_into(const std::vector<ImageInput>& items, float* out) const;

 private:
  PreprocessSpec spec_;
  std::array<std::array<float, 256>, 3> lut_;  // normalized value per channel and byte
  std::unique_ptr<ThreadPool> pool_;
};

}  // namespace pyml

#endif  // PYML_PREPROCESS_H_

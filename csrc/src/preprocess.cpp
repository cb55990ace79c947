#include "pyml/preprocess.h"

#include <algorithm>
#include <cmath>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

namespace pyml {
namespace {

using Lut = std::array<std::array<float, 256>, 3>;

// PaddleX normalizes in float32 as `x * alpha + beta` with alpha = scale/std
// and beta = -mean/std computed in double and then rounded to float32; the
// table holds exactly those results (kept apart so no fused multiply-add
// changes the rounding).
Lut make_lut(const PreprocessSpec& s) {
  Lut lut;
  for (int c = 0; c < 3; ++c) {
    const float alpha = static_cast<float>(s.scale / s.std_dev[c]);
    const float beta = static_cast<float>(-s.mean[c] / s.std_dev[c]);
    for (int v = 0; v < 256; ++v) {
      volatile float product = static_cast<float>(v) * alpha;
      lut[c][v] = product + beta;
    }
  }
  return lut;
}

// Writes resized RGB/BGR rows into the planes of one CHW slot.
class PlaneWriter {
 public:
  PlaneWriter(const Lut& lut, float* slot, int width, int height, ChannelOrder order)
      : lut_(lut), slot_(slot), width_(width), plane_(static_cast<std::size_t>(width) * height) {
    for (int c = 0; c < 3; ++c) plane_of_[c] = order == ChannelOrder::kBGR ? 2 - c : c;
  }
  void operator()(int y, const std::uint8_t* row) const {
    for (int c = 0; c < 3; ++c) {
      const int p = plane_of_[c];
      const std::array<float, 256>& table = lut_[p];
      float* out = slot_ + p * plane_ + static_cast<std::size_t>(y) * width_;
      for (int x = 0; x < width_; ++x) out[x] = table[row[x * 3 + c]];
    }
  }

 private:
  const Lut& lut_;
  float* slot_;
  int width_;
  std::size_t plane_;
  int plane_of_[3];
};

// A decoded image or a borrowed caller array, ready to resize.
struct Source {
  Image owned;
  ImageView view;
};

// Each pool thread keeps the pixel memory of the last image it decoded and decodes
// the next one into it. A 12 MP image needs 36 MB, above glibc's largest mmap
// threshold, so without this every image paid for fresh zeroed pages: page faults
// were ~30% of the CPU time of a 12 MP batch (perf). Buffers over the cap are not
// kept, so one huge image does not pin its memory in every thread.
constexpr std::size_t kMaxKeptPixelBytes = 64u << 20;
thread_local std::vector<std::uint8_t> t_spare_pixels;

void keep_for_reuse(Source& source) {
  std::vector<std::uint8_t>& pixels = source.owned.pixels;
  if (pixels.capacity() > t_spare_pixels.capacity() && pixels.capacity() <= kMaxKeptPixelBytes) {
    t_spare_pixels = std::move(pixels);
  }
}

Source expand_grey(const ImageInput& in) {
  Source s;
  s.owned = Image(in.width, in.height);
  for (int y = 0; y < in.height; ++y) {
    const std::uint8_t* src = in.data + y * in.row_stride;
    std::uint8_t* dst = s.owned.row(y);
    for (int x = 0; x < in.width; ++x) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = src[x];
  }
  s.view = s.owned.view();
  return s;
}

Source load(const ImageInput& in, const PreprocessSpec& spec) {
  if (in.kind == ImageInput::Kind::kEncoded) {
    DecodeOptions options;
    options.max_pixels = spec.max_pixels;
    if (spec.decode_mode == DecodeMode::kFast) {
      if (spec.resize_mode == ResizeMode::kStretch) {
        options.min_width = spec.width;
        options.min_height = spec.height;
      } else {
        options.min_short_side = spec.short_side;
      }
    }
    options.reuse = &t_spare_pixels;
    Source s;
    s.owned = decode_image(in.data, in.size, options);
    s.view = s.owned.view();
    return s;
  }
  if (in.data == nullptr || in.width <= 0 || in.height <= 0) {
    throw InputError(InputErrorKind::kInvalidArray, "pixel array has an empty shape (" +
                                                        std::to_string(in.height) + "x" +
                                                        std::to_string(in.width) + ")");
  }
  if (in.channels != 1 && in.channels != 3) {
    throw InputError(InputErrorKind::kInvalidArray, "pixel array has " +
                                                        std::to_string(in.channels) +
                                                        " channels; expected 3 (BGR) or 1 (grey)");
  }
  const std::uint64_t pixels = static_cast<std::uint64_t>(in.width) * in.height;
  if (pixels > spec.max_pixels) {
    throw InputError(InputErrorKind::kTooLarge, "pixel array has " + std::to_string(pixels) +
                                                    " pixels, over the limit of " +
                                                    std::to_string(spec.max_pixels));
  }
  if (in.channels == 1) return expand_grey(in);
  Source s;
  s.view = ImageView{in.data, in.width, in.height, in.row_stride, in.order};
  return s;
}

// The resize_short output size of an image, refused like an oversized input when it
// is over the pixel limit: an extreme aspect ratio makes a small image huge (1x16397
// at short side 256 would be 4,197,632x256, a 12 GB tensor).
std::pair<int, int> short_side_output(const PreprocessSpec& spec, const ImageView& v) {
  const auto refuse = [&](const std::string& what) {
    return InputError(InputErrorKind::kTooLarge,
                      "a " + std::to_string(v.width) + "x" + std::to_string(v.height) +
                          " image resized to short side " + std::to_string(spec.short_side) +
                          " would have " + what + ", over the limit of " +
                          std::to_string(spec.max_pixels) + " pixels");
  };
  std::pair<int, int> size;
  try {
    size = short_side_size(v.width, v.height, spec.short_side);
  } catch (const std::invalid_argument&) {  // a side over 2^31
    throw refuse("a side over 2^31 pixels");
  }
  const std::uint64_t pixels =
      static_cast<std::uint64_t>(size.first) * static_cast<std::uint64_t>(size.second);
  if (pixels > spec.max_pixels) throw refuse(std::to_string(pixels) + " pixels");
  return size;
}

// Runs `fn` for one item, turning any failure into an ItemError.
template <typename Fn>
std::optional<ItemError> guarded(std::size_t index, Fn&& fn) {
  try {
    fn();
    return std::nullopt;
  } catch (const InputError& e) {
    return ItemError{index, e.kind(), e.what()};
  } catch (const std::bad_alloc&) {
    return ItemError{index, InputErrorKind::kTooLarge, "not enough memory to decode the image"};
  } catch (const std::exception& e) {
    return ItemError{index, InputErrorKind::kCorrupt, e.what()};
  }
}

std::vector<ItemError> compact(std::vector<std::optional<ItemError>>& slots) {
  std::vector<ItemError> errors;
  for (auto& e : slots) {
    if (e) errors.push_back(std::move(*e));
  }
  return errors;
}

}  // namespace

void PreprocessSpec::validate() const {
  auto fail = [](const std::string& what) {
    throw std::invalid_argument("PreprocessSpec: " + what);
  };
  if (resize_mode == ResizeMode::kStretch && (width <= 0 || height <= 0)) {
    fail("width and height must be positive for a stretch resize");
  }
  if (resize_mode == ResizeMode::kShortSide && short_side <= 0) {
    fail("short_side must be positive for resize_short");
  }
  for (int c = 0; c < 3; ++c) {
    if (!(std_dev[c] != 0.0) || !std::isfinite(std_dev[c]))
      fail("std_dev values must be finite and non-zero");
    if (!std::isfinite(mean[c])) fail("mean values must be finite");
  }
  if (!std::isfinite(scale)) fail("scale must be finite");
  if (max_pixels == 0) fail("max_pixels must be positive");
}

ImageInput ImageInput::encoded(const std::uint8_t* data, std::size_t size) {
  ImageInput in;
  in.kind = Kind::kEncoded;
  in.data = data;
  in.size = size;
  return in;
}

ImageInput ImageInput::pixels(const std::uint8_t* data, int width, int height, int channels,
                              std::ptrdiff_t row_stride, ChannelOrder order) {
  ImageInput in;
  in.kind = Kind::kPixels;
  in.data = data;
  in.width = width;
  in.height = height;
  in.channels = channels;
  in.row_stride = row_stride;
  in.order = order;
  return in;
}

Preprocessor::Preprocessor(PreprocessSpec spec, int threads)
    : spec_(std::move(spec)), pool_(std::make_unique<ThreadPool>(threads)) {
  spec_.validate();
  lut_ = make_lut(spec_);
}

BatchReport Preprocessor::run_into(const std::vector<ImageInput>& items, float* out) const {
  if (spec_.resize_mode != ResizeMode::kStretch) {
    throw std::invalid_argument("run_into needs a fixed output size; use run() for resize_short");
  }
  return run(items, [out](std::size_t, int, int) { return out; });
}

BatchReport Preprocessor::run(const std::vector<ImageInput>& items,
                              const TensorAllocator& allocate) const {
  const std::size_t n = items.size();
  std::vector<std::optional<ItemError>> failures(n);
  BatchReport report;

  if (spec_.resize_mode == ResizeMode::kStretch) {
    // The size is known up front: each item goes decode -> resize -> tensor in one task.
    report.width = spec_.width;
    report.height = spec_.height;
    float* out = allocate(n, report.height, report.width);
    const std::size_t slot = 3 * static_cast<std::size_t>(report.width) * report.height;
    pool_->parallel_for(n, [&](std::size_t i) {
      float* dst = out + i * slot;
      failures[i] = guarded(i, [&] {
        Source src = load(items[i], spec_);
        resize_rows(src.view, report.width, report.height, spec_.filter,
                    PlaneWriter(lut_, dst, report.width, report.height, src.view.order));
        keep_for_reuse(src);
      });
      if (failures[i]) std::fill(dst, dst + slot, 0.0f);
    });
    report.errors = compact(failures);
    return report;
  }

  // resize_short: sizes depend on the images, so decode everything first.
  std::vector<Source> sources(n);
  pool_->parallel_for(n, [&](std::size_t i) {
    failures[i] = guarded(i, [&] { sources[i] = load(items[i], spec_); });
  });
  for (std::size_t i = 0; i < n; ++i) {
    if (failures[i]) continue;
    int w = 0, h = 0;
    failures[i] = guarded(i, [&] { std::tie(w, h) = short_side_output(spec_, sources[i].view); });
    if (failures[i]) {
      sources[i] = Source{};
      continue;
    }
    if (report.width == 0) {
      report.width = w;
      report.height = h;
    } else if (w != report.width || h != report.height) {
      throw std::invalid_argument("resize_short gives images of different sizes in one batch (" +
                                  std::to_string(report.width) + "x" +
                                  std::to_string(report.height) + " and " + std::to_string(w) +
                                  "x" + std::to_string(h) + "); use batch size 1");
    }
  }
  float* out = allocate(n, report.height, report.width);
  const std::size_t slot = 3 * static_cast<std::size_t>(report.width) * report.height;
  pool_->parallel_for(n, [&](std::size_t i) {
    float* dst = out + i * slot;
    if (!failures[i]) {
      failures[i] = guarded(i, [&] {
        resize_rows(sources[i].view, report.width, report.height, spec_.filter,
                    PlaneWriter(lut_, dst, report.width, report.height, sources[i].view.order));
      });
    }
    if (failures[i]) std::fill(dst, dst + slot, 0.0f);
    keep_for_reuse(sources[i]);
    sources[i] = Source{};
  });
  report.errors = compact(failures);
  return report;
}

}  // namespace pyml

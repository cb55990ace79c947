// File: pyml/image.h
//
// Pixel containers shared by decode, resize and preprocess.
//
// `Image` owns interleaved 8-bit pixels (HWC, 3 channels, RGB after decode).
// `ImageView` borrows pixels owned by someone else (a decoded Image, or a
// caller's array) and records their channel order, so that a BGR array from
// Python is resized in place and only swapped when written out.
//
// Example:
//   pyml::Image img = pyml::decode_image(buf, len, {});
//   pyml::ImageView view = img.view();   // RGB, tightly packed
#ifndef PYML_IMAGE_H_
#define PYML_IMAGE_H_

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace pyml {

enum class ChannelOrder { kRGB, kBGR };

struct ImageView {
  const std::uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  std::ptrdiff_t row_stride = 0;  // bytes from one row to the next
  ChannelOrder order = ChannelOrder::kRGB;

  const std::uint8_t* row(int y) const { return data + y * row_stride; }
};

struct Image {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> pixels;  // height * width * 3, RGB

  Image() = default;
  Image(int w, int h) : width(w), height(h), pixels(static_cast<std::size_t>(w) * h * 3) {}
  // Takes over `storage` for the pixels: its capacity is reused, no new pages when it is big
  // enough.
  Image(int w, int h, std::vector<std::uint8_t>&& storage)
      : width(w), height(h), pixels(std::move(storage)) {
    pixels.resize(static_cast<std::size_t>(w) * h * 3);
  }

  std::uint8_t* row(int y) { return pixels.data() + static_cast<std::size_t>(y) * width * 3; }
  ImageView view() const {
    return ImageView{pixels.data(), width, height, static_cast<std::ptrdiff_t>(width) * 3,
                     ChannelOrder::kRGB};
  }
};

}  // namespace pyml

#endif  // PYML_IMAGE_H_

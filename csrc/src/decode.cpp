#include <cstring>
#include <string>

#include "decoders.h"
#include "pyml/errors.h"

namespace pyml {

ImageFormat sniff_format(const std::uint8_t* data, std::size_t size) {
  static const std::uint8_t kPngMagic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return ImageFormat::kJpeg;
  if (size >= 8 && std::memcmp(data, kPngMagic, 8) == 0) return ImageFormat::kPng;
  return ImageFormat::kUnknown;
}

Image decode_image(const std::uint8_t* data, std::size_t size, const DecodeOptions& options) {
  if (data == nullptr || size == 0)
    throw InputError(InputErrorKind::kEmpty, "empty input (0 bytes)");
  switch (sniff_format(data, size)) {
    case ImageFormat::kJpeg:
      return internal::decode_jpeg(data, size, options);
    case ImageFormat::kPng:
      return internal::decode_png(data, size, options);
    case ImageFormat::kUnknown:
      break;
  }
  throw InputError(InputErrorKind::kUnsupported,
                   "not a JPEG or PNG image (unrecognised leading bytes)");
}

namespace internal {

void check_dimensions(const char* format, std::int64_t width, std::int64_t height,
                      std::uint64_t max_pixels) {
  if (width <= 0 || height <= 0) {
    throw InputError(InputErrorKind::kCorrupt,
                     std::string(format) + " header gives an empty size " + std::to_string(width) +
                         "x" + std::to_string(height));
  }
  const std::uint64_t pixels =
      static_cast<std::uint64_t>(width) * static_cast<std::uint64_t>(height);
  if (pixels > max_pixels) {
    throw InputError(InputErrorKind::kTooLarge,
                     std::string(format) + " image is " + std::to_string(width) + "x" +
                         std::to_string(height) + " (" + std::to_string(pixels) +
                         " pixels), over the limit of " + std::to_string(max_pixels) + " pixels");
  }
}

}  // namespace internal
}  // namespace pyml

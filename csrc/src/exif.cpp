// EXIF orientation: just enough of TIFF to find tag 0x0112 in IFD0, with every
// offset bounds-checked, since the bytes come straight from the user.
#include <cstring>

#include "pyml/decode.h"

namespace pyml {
namespace {

constexpr std::uint16_t kOrientationTag = 0x0112;
constexpr std::uint16_t kTypeShort = 3;

struct TiffReader {
  const std::uint8_t* base;
  std::size_t size;
  bool little_endian;

  bool u16(std::size_t at, std::uint16_t* out) const {
    if (at + 2 > size) return false;
    *out = little_endian ? static_cast<std::uint16_t>(base[at] | (base[at + 1] << 8))
                         : static_cast<std::uint16_t>((base[at] << 8) | base[at + 1]);
    return true;
  }
  bool u32(std::size_t at, std::uint32_t* out) const {
    if (at + 4 > size) return false;
    const std::uint8_t* p = base + at;
    *out = little_endian ? (std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 |
                            std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24)
                         : (std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 |
                            std::uint32_t{p[2]} << 8 | std::uint32_t{p[3]});
    return true;
  }
};

int orientation_from_tiff(const std::uint8_t* tiff, std::size_t size) {
  if (size < 8) return 1;
  TiffReader r{tiff, size, false};
  if (std::memcmp(tiff, "II", 2) == 0) {
    r.little_endian = true;
  } else if (std::memcmp(tiff, "MM", 2) != 0) {
    return 1;
  }
  std::uint16_t magic = 0;
  std::uint32_t ifd = 0;
  if (!r.u16(2, &magic) || magic != 42 || !r.u32(4, &ifd)) return 1;
  std::uint16_t count = 0;
  if (!r.u16(ifd, &count)) return 1;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::size_t entry = std::size_t{ifd} + 2 + std::size_t{i} * 12;
    std::uint16_t tag = 0, type = 0, value = 0;
    if (!r.u16(entry, &tag) || !r.u16(entry + 2, &type)) return 1;
    if (tag != kOrientationTag) continue;
    if (type != kTypeShort || !r.u16(entry + 8, &value)) return 1;
    return (value >= 1 && value <= 8) ? value : 1;
  }
  return 1;
}

}  // namespace

int jpeg_exif_orientation(const std::uint8_t* data, std::size_t size) {
  if (size < 4 || data[0] != 0xFF || data[1] != 0xD8) return 1;
  std::size_t pos = 2;
  while (pos + 4 <= size) {
    if (data[pos] != 0xFF) return 1;
    const std::uint8_t marker = data[pos + 1];
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) return 1;  // image data starts: no EXIF before it
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
      pos += 2;
      continue;
    }
    const std::size_t length = (std::size_t{data[pos + 2]} << 8) | data[pos + 3];
    if (length < 2 || pos + 2 + length > size) return 1;
    const std::uint8_t* segment = data + pos + 4;
    const std::size_t segment_size = length - 2;
    if (marker == 0xE1 && segment_size >= 6 && std::memcmp(segment, "Exif\0\0", 6) == 0) {
      return orientation_from_tiff(segment + 6, segment_size - 6);
    }
    pos += 2 + length;
  }
  return 1;
}

Image apply_orientation(Image image, int orientation) {
  if (orientation <= 1 || orientation > 8) return image;
  const int w = image.width, h = image.height;
  const bool swaps_axes = orientation >= 5;
  Image out(swaps_axes ? h : w, swaps_axes ? w : h);
  // For each output pixel (x, y), the source pixel it takes.
  for (int y = 0; y < out.height; ++y) {
    std::uint8_t* dst = out.row(y);
    for (int x = 0; x < out.width; ++x) {
      int sx = x, sy = y;
      switch (orientation) {
        case 2:
          sx = w - 1 - x;
          break;  // mirror horizontally
        case 3:
          sx = w - 1 - x;
          sy = h - 1 - y;
          break;  // rotate 180
        case 4:
          sy = h - 1 - y;
          break;  // mirror vertically
        case 5:
          sx = y;
          sy = x;
          break;  // transpose
        case 6:
          sx = y;
          sy = h - 1 - x;
          break;  // rotate 90 clockwise
        case 7:
          sx = w - 1 - y;
          sy = h - 1 - x;
          break;  // transverse
        case 8:
          sx = w - 1 - y;
          sy = x;
          break;  // rotate 90 counter-clockwise
        default:
          break;
      }
      const std::uint8_t* src = image.row(sy) + sx * 3;
      dst[x * 3 + 0] = src[0];
      dst[x * 3 + 1] = src[1];
      dst[x * 3 + 2] = src[2];
    }
  }
  return out;
}

}  // namespace pyml

// File: pyml/decode.h
//
// Decoding of encoded JPEG and PNG images from memory into RGB pixels, with the
// semantics of OpenCV's `cv2.imdecode(buf, IMREAD_COLOR)` followed by BGR->RGB:
// grey is expanded to three channels, alpha is dropped, 16-bit samples are
// reduced to 8, palettes are expanded, CMYK/YCCK JPEGs are converted, and the
// EXIF orientation of a JPEG is applied.
//
// Other formats (BMP, WebP, TIFF, ...) are reported as kUnsupported: callers
// decode them elsewhere and pass pixels in.
//
// Example:
//   pyml::DecodeOptions opts;
//   opts.min_width = opts.min_height = 448;  // allow JPEG DCT-domain downscaling
//   pyml::Image img = pyml::decode_image(data, size, opts);
#ifndef PYML_DECODE_H_
#define PYML_DECODE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "pyml/image.h"

namespace pyml {

// Pillow's default MAX_IMAGE_PIXELS.
inline constexpr std::uint64_t kDefaultMaxPixels = 178956970;

enum class ImageFormat { kUnknown, kJpeg, kPng };

// Format from the leading magic bytes; kUnknown when neither matches.
ImageFormat sniff_format(const std::uint8_t* data, std::size_t size);

struct DecodeOptions {
  // Images with more pixels than this are refused before any pixel memory is taken.
  std::uint64_t max_pixels = kDefaultMaxPixels;
  // Fast mode. When any of these is > 0 a JPEG may be decoded at a reduced DCT
  // scale (1/2, 1/4, 1/8): the smallest one whose output, after EXIF
  // orientation, is still at least min_width x min_height and has a short side
  // of at least min_short_side. Zero everywhere means full resolution (exact).
  int min_width = 0;
  int min_height = 0;
  int min_short_side = 0;
  // When set, the decoded pixels are written into this vector's memory (it is
  // moved into the returned Image), so a caller decoding many images can hand
  // the same allocation back each time instead of paying for fresh pages.
  std::vector<std::uint8_t>* reuse = nullptr;
};

// Throws InputError (kEmpty, kTruncated, kCorrupt, kUnsupported, kTooLarge).
Image decode_image(const std::uint8_t* data, std::size_t size, const DecodeOptions& options);

// The EXIF orientation (1..8) stored in a JPEG's APP1 segment; 1 when absent or unreadable.
int jpeg_exif_orientation(const std::uint8_t* data, std::size_t size);

// Applies an EXIF orientation (1..8) as OpenCV does for IMREAD_COLOR.
Image apply_orientation(Image image, int orientation);

}  // namespace pyml

#endif  // PYML_DECODE_H_

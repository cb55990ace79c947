// JPEG through libjpeg-turbo's TurboJPEG API. Default flags keep the accurate
// integer IDCT and fancy upsampling, which is what OpenCV's decoder uses.
#include <turbojpeg.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "decoders.h"
#include "pyml/errors.h"

namespace pyml::internal {
namespace {

struct TjHandleDeleter {
  void operator()(void* handle) const { tjDestroy(handle); }
};
using TjHandle = std::unique_ptr<void, TjHandleDeleter>;

bool mentions_end_of_data(const std::string& message) {
  return message.find("Premature end") != std::string::npos ||
         message.find("end of data") != std::string::npos;
}

// True when the marker segments run off the end of the data before the scan
// starts: the file was cut inside its header.
bool ends_before_scan(const std::uint8_t* data, std::size_t size) {
  std::size_t pos = 2;  // after SOI
  while (pos + 4 <= size) {
    if (data[pos] != 0xFF) return false;  // not a marker: corrupt rather than cut
    const std::uint8_t marker = data[pos + 1];
    if (marker == 0xFF) {
      ++pos;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) return false;
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
      pos += 2;
      continue;
    }
    pos += 2 + ((std::size_t{data[pos + 2]} << 8) | data[pos + 3]);
  }
  return true;
}

// The smallest DCT scale (1/8, 1/4, 1/2) whose oriented output still covers the
// requested minimum; {1, 1} when none does or none is requested.
tjscalingfactor choose_scale(int width, int height, bool swaps_axes, const DecodeOptions& o) {
  if (o.min_width <= 0 && o.min_height <= 0 && o.min_short_side <= 0) return {1, 1};
  for (int denom : {8, 4, 2}) {
    const tjscalingfactor sf{1, denom};
    int w = TJSCALED(width, sf), h = TJSCALED(height, sf);
    if (swaps_axes) std::swap(w, h);
    if (w >= o.min_width && h >= o.min_height && std::min(w, h) >= o.min_short_side) return sf;
  }
  return {1, 1};
}

// OpenCV's CMYK->BGR rule (for Adobe-style inverted CMYK), written out as RGB.
void cmyk_to_rgb(const std::uint8_t* cmyk, std::uint8_t* rgb, std::size_t pixels) {
  for (std::size_t i = 0; i < pixels; ++i, cmyk += 4, rgb += 3) {
    const int k = cmyk[3];
    rgb[0] = static_cast<std::uint8_t>(k - (((255 - cmyk[0]) * k) >> 8));
    rgb[1] = static_cast<std::uint8_t>(k - (((255 - cmyk[1]) * k) >> 8));
    rgb[2] = static_cast<std::uint8_t>(k - (((255 - cmyk[2]) * k) >> 8));
  }
}

}  // namespace

Image decode_jpeg(const std::uint8_t* data, std::size_t size, const DecodeOptions& options) {
  TjHandle handle(tjInitDecompress());
  if (!handle) throw std::runtime_error("TurboJPEG could not create a decompressor");
  auto* buf = const_cast<unsigned char*>(data);  // TurboJPEG 2.x takes non-const input
  const auto len = static_cast<unsigned long>(size);

  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  const bool header_failed =
      tjDecompressHeader3(handle.get(), buf, len, &width, &height, &subsamp, &colorspace) != 0;
  if (header_failed || width <= 0 || height <= 0) {
    const std::string why = header_failed ? tjGetErrorStr2(handle.get()) : "no image size";
    if (mentions_end_of_data(why) || ends_before_scan(data, size)) {
      throw InputError(InputErrorKind::kTruncated,
                       "truncated JPEG: the data ends inside the header");
    }
    throw InputError(InputErrorKind::kCorrupt, "invalid JPEG header: " + why);
  }
  check_dimensions("JPEG", width, height, options.max_pixels);

  const int orientation = jpeg_exif_orientation(data, size);
  const tjscalingfactor sf = choose_scale(width, height, orientation >= 5, options);
  const int out_w = TJSCALED(width, sf), out_h = TJSCALED(height, sf);
  const bool is_cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  const int pixel_format = is_cmyk ? TJPF_CMYK : TJPF_RGB;
  const std::size_t pixels = static_cast<std::size_t>(out_w) * out_h;

  Image image =
      options.reuse ? Image(out_w, out_h, std::move(*options.reuse)) : Image(out_w, out_h);
  std::vector<std::uint8_t> cmyk;
  unsigned char* target = image.pixels.data();
  if (is_cmyk) {
    cmyk.resize(pixels * 4);
    target = cmyk.data();
  }
  if (tjDecompress2(handle.get(), buf, len, target, out_w, 0, out_h, pixel_format, 0) != 0) {
    const std::string why = tjGetErrorStr2(handle.get());
    // A warning leaves a complete image behind, except the end-of-data one,
    // where libjpeg pads the missing rows with grey: refuse that as truncated.
    const bool warning_only = tjGetErrorCode(handle.get()) == TJERR_WARNING;
    if (mentions_end_of_data(why)) {
      throw InputError(InputErrorKind::kTruncated, "truncated JPEG: " + why);
    }
    if (!warning_only) throw InputError(InputErrorKind::kCorrupt, "corrupt JPEG: " + why);
  }
  if (is_cmyk) cmyk_to_rgb(cmyk.data(), image.pixels.data(), pixels);
  return apply_orientation(std::move(image), orientation);
}

}  // namespace pyml::internal

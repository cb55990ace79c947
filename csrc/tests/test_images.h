// Small encoders for the C++ tests: images are made here, never read from disk.
#ifndef PYML_TESTS_TEST_IMAGES_H_
#define PYML_TESTS_TEST_IMAGES_H_

#include <png.h>
#include <turbojpeg.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "pyml/image.h"

namespace pyml::testing {

inline Image pattern(int width, int height) {
  Image img(width, height);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      std::uint8_t* p = img.row(y) + 3 * x;
      p[0] = static_cast<std::uint8_t>((x * 7 + y * 3) & 255);
      p[1] = static_cast<std::uint8_t>((x * 2 + y * 5) & 255);
      p[2] = static_cast<std::uint8_t>((x ^ y) & 255);
    }
  }
  return img;
}

inline std::vector<std::uint8_t> encode_jpeg(const Image& img, int quality = 95) {
  tjhandle h = tjInitCompress();
  unsigned char* out = nullptr;
  unsigned long size = 0;
  const int rc = tjCompress2(h, img.pixels.data(), img.width, 0, img.height, TJPF_RGB, &out, &size,
                             TJSAMP_420, quality, 0);
  std::vector<std::uint8_t> bytes(out, out + (rc == 0 ? size : 0));
  tjFree(out);
  tjDestroy(h);
  if (rc != 0) throw std::runtime_error("test JPEG encode failed");
  return bytes;
}

inline void append_bytes(png_structp png, png_bytep data, png_size_t n) {
  auto* out = static_cast<std::vector<std::uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}

inline std::vector<std::uint8_t> encode_png(const Image& img) {
  std::vector<std::uint8_t> bytes;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw std::runtime_error("test PNG encode failed");
  }
  png_set_write_fn(png, &bytes, append_bytes, nullptr);
  png_set_IHDR(png, info, img.width, img.height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < img.height; ++y) {
    png_write_row(png, const_cast<png_bytep>(img.pixels.data() +
                                             static_cast<std::size_t>(y) * img.width * 3));
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return bytes;
}

}  // namespace pyml::testing

#endif  // PYML_TESTS_TEST_IMAGES_H_

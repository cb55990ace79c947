// PNG through libpng's progressive-free read API. libpng reports errors by
// longjmp, so all state that must survive one lives behind a pointer made
// before setjmp, and no C++ object is created between setjmp and the read.
#include <png.h>

#include <csetjmp>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "decoders.h"
#include "pyml/errors.h"

namespace pyml::internal {
namespace {

struct ReadState {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
  std::size_t pos = 0;
  bool ran_out = false;
  char message[256] = {0};
  Image image;
  std::vector<png_bytep> rows;
};

void on_error(png_structp png, png_const_charp message) {
  auto* state = static_cast<ReadState*>(png_get_error_ptr(png));
  std::strncpy(state->message, message, sizeof(state->message) - 1);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}  // benign ancillary-chunk issues

void read_from_memory(png_structp png, png_bytep out, png_size_t count) {
  auto* state = static_cast<ReadState*>(png_get_io_ptr(png));
  if (count > state->size - state->pos) {
    state->ran_out = true;
    png_error(png, "unexpected end of data");
  }
  std::memcpy(out, state->data + state->pos, count);
  state->pos += count;
}

struct PngStructs {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngStructs() { png_destroy_read_struct(&png, info ? &info : nullptr, nullptr); }
};

// Transforms that give what cv2.imdecode(IMREAD_COLOR) gives: 8-bit RGB.
void request_rgb8(png_structp png, png_infop info) {
  const int color_type = png_get_color_type(png, info);
  const int bit_depth = png_get_bit_depth(png, info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (bit_depth == 16) png_set_strip_16(png);
  if (color_type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
  if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) {
    png_set_gray_to_rgb(png);
  }
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
}

}  // namespace

Image decode_png(const std::uint8_t* data, std::size_t size, const DecodeOptions& options) {
  auto state = std::make_unique<ReadState>();
  state->data = data;
  state->size = size;
  PngStructs s;
  s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, state.get(), on_error, on_warning);
  if (s.png == nullptr) throw std::bad_alloc();
  s.info = png_create_info_struct(s.png);
  if (s.info == nullptr) throw std::bad_alloc();

  bool too_large = false;
  png_uint_32 width = 0, height = 0;
  if (setjmp(png_jmpbuf(s.png))) {
    if (state->ran_out) {
      throw InputError(InputErrorKind::kTruncated, "truncated PNG: the data ends inside the image");
    }
    throw InputError(InputErrorKind::kCorrupt, std::string("corrupt PNG: ") + state->message);
  }
  png_set_read_fn(s.png, state.get(), read_from_memory);
  png_read_info(s.png, s.info);
  width = png_get_image_width(s.png, s.info);
  height = png_get_image_height(s.png, s.info);
  too_large = static_cast<std::uint64_t>(width) * height > options.max_pixels;
  if (!too_large) {
    request_rgb8(s.png, s.info);
    if (png_get_rowbytes(s.png, s.info) != static_cast<png_size_t>(width) * 3) {
      png_error(s.png, "unexpected row layout after conversion to RGB");
    }
    state->image = options.reuse ? Image(static_cast<int>(width), static_cast<int>(height),
                                         std::move(*options.reuse))
                                 : Image(static_cast<int>(width), static_cast<int>(height));
    state->rows.resize(height);
    for (png_uint_32 y = 0; y < height; ++y) state->rows[y] = state->image.row(static_cast<int>(y));
    png_read_image(s.png, state->rows.data());
  }
  // Outside the setjmp-protected calls: safe to throw.
  if (too_large) check_dimensions("PNG", width, height, options.max_pixels);
  return std::move(state->image);
}

}  // namespace pyml::internal

// File: pyml/resize.h
//
// Resizing of 8-bit, 3-channel images with the exact arithmetic of the two
// libraries PaddleX models are preprocessed with:
//   kPilBilinear  Pillow's Image.resize(..., BILINEAR): an antialiased triangle
//                 filter whose support widens with the downscale factor, two
//                 separable passes, each rounded to 8 bits, in the order Pillow 13
//                 picks (see resize.cpp).
//   kCvLinear     OpenCV's cv2.resize(..., INTER_LINEAR): two-tap bilinear,
//                 11-bit fixed-point weights, no antialiasing.
//
// The result is delivered row by row to a sink, so a caller can normalize each
// row while it is still in cache instead of writing and re-reading an image.
//
// Example:
//   pyml::Image small = pyml::resize(img.view(), 448, 448, pyml::ResizeFilter::kPilBilinear);
//
// Caveat: channel order is carried through untouched; a BGR view gives BGR rows.
#ifndef PYML_RESIZE_H_
#define PYML_RESIZE_H_

#include <functional>
#include <utility>

#include "pyml/image.h"

namespace pyml {

enum class ResizeFilter { kPilBilinear, kCvLinear };

// Receives output row y (width * 3 bytes, interleaved). Rows arrive in order.
using RowSink = std::function<void(int y, const std::uint8_t* row)>;

// Throws std::invalid_argument for non-positive sizes.
void resize_rows(const ImageView& src, int width, int height, ResizeFilter filter,
                 const RowSink& sink);

Image resize(const ImageView& src, int width, int height, ResizeFilter filter);

// PaddleX's `resize_short`: the short side becomes `short_side`, the other side
// is scaled by the same factor and rounded half to even, as Python's round().
std::pair<int, int> short_side_size(int width, int height, int short_side);

}  // namespace pyml

#endif  // PYML_RESIZE_H_

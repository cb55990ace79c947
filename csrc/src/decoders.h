// Per-format decoders behind decode_image(); private to pyml_core.
#ifndef PYML_SRC_DECODERS_H_
#define PYML_SRC_DECODERS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "pyml/decode.h"

namespace pyml::internal {

Image decode_jpeg(const std::uint8_t* data, std::size_t size, const DecodeOptions& options);
Image decode_png(const std::uint8_t* data, std::size_t size, const DecodeOptions& options);

// Throws InputError(kTooLarge) when width x height exceeds the limit or is not positive.
void check_dimensions(const char* format, std::int64_t width, std::int64_t height,
                      std::uint64_t max_pixels);

}  // namespace pyml::internal

#endif  // PYML_SRC_DECODERS_H_

// libFuzzer target over pyml's decoder and the preprocessing that follows it.
//
// Any input must either decode (and then resize and normalize cleanly) or be
// refused with pyml::InputError. Anything else — a crash, a sanitizer report,
// another exception type escaping, a hang — is a finding.
//
// The whole input is the file, so the seed corpus is plain JPEG/PNG files. The
// options (exact or fast decode, filter, resize mode, target size) come from the
// input's length and last byte: deterministic per input, and varied by mutation.
//
//   cmake -S . -B build/fuzz -DCMAKE_CXX_COMPILER=clang++ -DPYML_FUZZ=ON -DPYML_BUILD_PYTHON=OFF
//   build/fuzz/pyml_decode_fuzzer -max_total_time=60 tests/reliability/corpus

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "pyml/decode.h"
#include "pyml/errors.h"
#include "pyml/preprocess.h"

namespace {

// Small enough that one input cannot take seconds or gigabytes, large enough to
// reach every decoder path (the limit check itself is exercised at any size).
constexpr std::uint64_t kFuzzMaxPixels = 1u << 18;

pyml::PreprocessSpec spec_for(std::uint8_t selector) {
  pyml::PreprocessSpec spec;
  spec.resize_mode = (selector & 1) ? pyml::ResizeMode::kShortSide : pyml::ResizeMode::kStretch;
  spec.filter = (selector & 2) ? pyml::ResizeFilter::kCvLinear : pyml::ResizeFilter::kPilBilinear;
  spec.decode_mode = (selector & 4) ? pyml::DecodeMode::kFast : pyml::DecodeMode::kExact;
  spec.width = 8 + (selector >> 3);  // 8..39
  spec.height = 8 + ((selector * 7) & 31);
  spec.short_side = spec.width;
  spec.max_pixels = kFuzzMaxPixels;
  return spec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::uint8_t selector =
      size == 0 ? 0 : static_cast<std::uint8_t>(size * 31u + data[size - 1]);
  const std::uint8_t* file = data;
  const std::size_t file_size = size;

  // The decoder on its own.
  pyml::DecodeOptions options;
  options.max_pixels = kFuzzMaxPixels;
  if (selector & 4) options.min_width = options.min_height = 8 + (selector >> 4);
  try {
    pyml::Image image = pyml::decode_image(file, file_size, options);
    if (image.width <= 0 || image.height <= 0) __builtin_trap();  // a decode must yield pixels
  } catch (const pyml::InputError&) {
  }

  // The whole batch path, one item: errors are reported, never thrown.
  // One preprocessor per selector, made on first use (each owns a thread pool).
  static std::unique_ptr<pyml::Preprocessor> preprocessors[256];
  auto& slot = preprocessors[selector];
  if (!slot) slot = std::make_unique<pyml::Preprocessor>(spec_for(selector), 1);
  const pyml::Preprocessor& pre = *slot;
  std::vector<pyml::ImageInput> items = {pyml::ImageInput::encoded(file, file_size)};
  std::vector<float> tensor;
  pyml::BatchReport report = pre.run(items, [&](std::size_t n, int h, int w) {
    tensor.assign(n * 3 * static_cast<std::size_t>(h) * static_cast<std::size_t>(w), 0.0f);
    return tensor.data();
  });
  if (report.errors.size() > 1) __builtin_trap();
  return 0;
}

#include "pyml/decode.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <string>

#include "pyml/errors.h"
#include "test_images.h"

namespace {

using pyml::InputError;
using pyml::InputErrorKind;

InputErrorKind kind_of(const std::vector<std::uint8_t>& bytes,
                       const pyml::DecodeOptions& opts = {}) {
  try {
    pyml::decode_image(bytes.data(), bytes.size(), opts);
  } catch (const InputError& e) {
    return e.kind();
  }
  ADD_FAILURE() << "expected an InputError";
  return InputErrorKind::kEmpty;
}

TEST(Decode, PngRoundTripIsExact) {
  const pyml::Image src = pyml::testing::pattern(37, 23);
  const auto bytes = pyml::testing::encode_png(src);
  EXPECT_EQ(pyml::sniff_format(bytes.data(), bytes.size()), pyml::ImageFormat::kPng);
  const pyml::Image out = pyml::decode_image(bytes.data(), bytes.size(), {});
  EXPECT_EQ(out.width, 37);
  EXPECT_EQ(out.height, 23);
  EXPECT_EQ(out.pixels, src.pixels);
}

TEST(Decode, JpegIsCloseToSource) {
  pyml::Image src(64, 48);
  for (std::size_t i = 0; i < src.pixels.size(); ++i)
    src.pixels[i] = static_cast<std::uint8_t>(100 + (i % 3) * 40);
  const auto bytes = pyml::testing::encode_jpeg(src, 100);
  const pyml::Image out = pyml::decode_image(bytes.data(), bytes.size(), {});
  ASSERT_EQ(out.pixels.size(), src.pixels.size());
  for (std::size_t i = 0; i < src.pixels.size(); ++i) {
    ASSERT_LE(std::abs(int(out.pixels[i]) - int(src.pixels[i])), 4) << "at byte " << i;
  }
}

TEST(Decode, ReusedStorageGivesTheSamePixelsInTheSameMemory) {
  const auto src = pyml::testing::pattern(300, 200);
  const std::vector<std::vector<std::uint8_t>> files = {pyml::testing::encode_jpeg(src),
                                                        pyml::testing::encode_png(src)};
  for (const auto& bytes : files) {
    const pyml::Image fresh = pyml::decode_image(bytes.data(), bytes.size(), {});
    std::vector<std::uint8_t> storage(1000 * 1000 * 3, 7);  // bigger than needed, not zeroed
    const std::uint8_t* memory = storage.data();
    pyml::DecodeOptions opts;
    opts.reuse = &storage;
    const pyml::Image reused = pyml::decode_image(bytes.data(), bytes.size(), opts);
    EXPECT_EQ(reused.pixels.data(), memory);  // decoded in place, no new allocation
    EXPECT_EQ(reused.pixels.size(), fresh.pixels.size());
    EXPECT_EQ(reused.pixels, fresh.pixels);
  }
}

TEST(Decode, FastModeUsesDctScaling) {
  const auto bytes = pyml::testing::encode_jpeg(pyml::testing::pattern(800, 600));
  pyml::DecodeOptions opts;
  opts.min_width = opts.min_height = 140;  // 1/4 gives 200x150, 1/8 gives 100x75
  const pyml::Image out = pyml::decode_image(bytes.data(), bytes.size(), opts);
  EXPECT_EQ(out.width, 200);
  EXPECT_EQ(out.height, 150);
}

TEST(Decode, BadInputsHaveTheirKinds) {
  const auto jpeg = pyml::testing::encode_jpeg(pyml::testing::pattern(64, 64));
  const auto png = pyml::testing::encode_png(pyml::testing::pattern(64, 64));
  EXPECT_EQ(kind_of({}), InputErrorKind::kEmpty);
  EXPECT_EQ(kind_of({'G', 'I', 'F', '8', '9', 'a'}), InputErrorKind::kUnsupported);
  EXPECT_EQ(kind_of(std::vector<std::uint8_t>(jpeg.begin(), jpeg.begin() + jpeg.size() / 2)),
            InputErrorKind::kTruncated);
  EXPECT_EQ(
      kind_of(std::vector<std::uint8_t>(jpeg.begin(), jpeg.begin() + 40)),  // cut in the header
      InputErrorKind::kTruncated);
  EXPECT_EQ(kind_of(std::vector<std::uint8_t>(png.begin(), png.begin() + png.size() / 2)),
            InputErrorKind::kTruncated);
  // A well-formed APP0 segment followed by bytes that are no marker at all.
  std::vector<std::uint8_t> garbage = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 'a', 'b'};
  for (int i = 0; i < 200; ++i) garbage.push_back(static_cast<std::uint8_t>(1 + i * 37 % 250));
  EXPECT_EQ(kind_of(garbage), InputErrorKind::kCorrupt);
  std::vector<std::uint8_t> bad_png = png;
  bad_png[20] ^= 0xFF;  // inside IHDR: CRC mismatch
  EXPECT_EQ(kind_of(bad_png), InputErrorKind::kCorrupt);
}

TEST(Decode, PixelLimitIsCheckedBeforeDecoding) {
  pyml::DecodeOptions opts;
  opts.max_pixels = 64 * 64 - 1;
  EXPECT_EQ(kind_of(pyml::testing::encode_jpeg(pyml::testing::pattern(64, 64)), opts),
            InputErrorKind::kTooLarge);
  EXPECT_EQ(kind_of(pyml::testing::encode_png(pyml::testing::pattern(64, 64)), opts),
            InputErrorKind::kTooLarge);
  // A 60000x60000 header (a decompression bomb) is refused by the default limit.
  auto bomb = pyml::testing::encode_jpeg(pyml::testing::pattern(16, 16));
  for (std::size_t i = 0; i + 8 < bomb.size(); ++i) {
    if (bomb[i] == 0xFF &&
        bomb[i + 1] == 0xC0) {  // SOF0: length(2) precision(1) height(2) width(2)
      bomb[i + 5] = 0xEA;
      bomb[i + 6] = 0x60;
      bomb[i + 7] = 0xEA;
      bomb[i + 8] = 0x60;
      break;
    }
  }
  EXPECT_EQ(kind_of(bomb), InputErrorKind::kTooLarge);
}

TEST(Decode, ExifOrientationIsParsedAndBoundsChecked) {
  // SOI, APP1 "Exif\0\0" + big-endian TIFF with one IFD0 entry: Orientation = 6.
  const std::vector<std::uint8_t> exif = {
      0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x22, 'E',  'x',  'i',  'f',  0,    0,  // APP1, length 34
      'M',  'M',  0x00, 0x2A, 0x00, 0x00, 0x00, 0x08,                       // TIFF header
      0x00, 0x01,                                                           // one entry
      0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00,  // next IFD
      0xFF, 0xD9};
  EXPECT_EQ(pyml::jpeg_exif_orientation(exif.data(), exif.size()), 6);
  for (std::size_t cut = 0; cut < exif.size(); ++cut) {
    const int o = pyml::jpeg_exif_orientation(exif.data(), cut);  // must never read past `cut`
    EXPECT_TRUE(o == 1 || o == 6);
  }
}

TEST(Decode, OrientationsPermutePixels) {
  const pyml::Image src = pyml::testing::pattern(5, 3);
  const pyml::Image r90 = pyml::apply_orientation(src, 6);
  ASSERT_EQ(r90.width, 3);
  ASSERT_EQ(r90.height, 5);
  // Rotating clockwise puts the bottom-left source pixel at the top-left.
  const pyml::Image copy = src;
  EXPECT_EQ(r90.pixels[0], const_cast<pyml::Image&>(copy).row(2)[0]);
  const pyml::Image back = pyml::apply_orientation(pyml::apply_orientation(r90, 8), 1);
  EXPECT_EQ(back.pixels, src.pixels);
  EXPECT_EQ(pyml::apply_orientation(pyml::apply_orientation(src, 3), 3).pixels, src.pixels);
}

TEST(Errors, EveryKindHasItsOwnName) {
  std::set<std::string> names;
  for (auto k :
       {InputErrorKind::kEmpty, InputErrorKind::kTruncated, InputErrorKind::kCorrupt,
        InputErrorKind::kUnsupported, InputErrorKind::kTooLarge, InputErrorKind::kInvalidArray}) {
    const std::string name = pyml::to_string(k);
    EXPECT_NE(name, "unknown");
    names.insert(name);
  }
  EXPECT_EQ(names.size(), 6u);
}

}  // namespace

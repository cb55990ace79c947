#include <pybind11/numpy.h>

#include <cstring>
#include <string>

#include "bindings.h"
#include "pyml/decode.h"
#include "pyml/resize.h"

namespace py = pybind11;

namespace pyml::python {

bool as_byte_view(const py::handle& obj, ByteView* out) {
  if (!PyObject_CheckBuffer(obj.ptr())) return false;
  if (py::isinstance<py::array>(obj)) {
    auto arr = py::reinterpret_borrow<py::array>(obj);
    if (arr.ndim() != 1 || !arr.dtype().is(py::dtype::of<std::uint8_t>())) return false;
  }
  py::buffer_info info = py::reinterpret_borrow<py::buffer>(obj).request();
  if (info.ndim != 1 || info.itemsize != 1 || (info.shape[0] > 1 && info.strides[0] != 1)) {
    return false;
  }
  out->data = static_cast<const std::uint8_t*>(info.ptr);
  out->size = static_cast<std::size_t>(info.shape[0]);
  return true;
}

namespace {

py::array_t<std::uint8_t> to_array(Image&& image) {
  auto* owned = new Image(std::move(image));
  py::capsule free_when_done(owned, [](void* p) { delete static_cast<Image*>(p); });
  return py::array_t<std::uint8_t>({owned->height, owned->width, 3}, owned->pixels.data(),
                                   free_when_done);
}

ResizeFilter parse_filter(const std::string& name) {
  if (name == "pil_bilinear") return ResizeFilter::kPilBilinear;
  if (name == "cv2_linear") return ResizeFilter::kCvLinear;
  throw py::value_error("unknown resize filter '" + name +
                        "' (expected pil_bilinear or cv2_linear)");
}

py::array_t<std::uint8_t> decode(const py::object& data, std::uint64_t max_pixels, int min_width,
                                 int min_height, int min_short_side) {
  ByteView bytes{};
  if (!as_byte_view(data, &bytes)) throw py::type_error("decode() takes a bytes-like object");
  DecodeOptions options;
  options.max_pixels = max_pixels;
  options.min_width = min_width;
  options.min_height = min_height;
  options.min_short_side = min_short_side;
  Image image;
  {
    py::gil_scoped_release release;
    image = decode_image(bytes.data, bytes.size, options);
  }
  return to_array(std::move(image));
}

py::array_t<std::uint8_t> resize_array(
    const py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>& image, int width,
    int height, const std::string& filter) {
  if (image.ndim() != 3 || image.shape(2) != 3) {
    throw py::value_error("resize() takes an HxWx3 uint8 array");
  }
  const ResizeFilter f = parse_filter(filter);
  const ImageView view{image.data(), static_cast<int>(image.shape(1)),
                       static_cast<int>(image.shape(0)),
                       static_cast<std::ptrdiff_t>(image.strides(0)), ChannelOrder::kRGB};
  Image out;
  {
    py::gil_scoped_release release;
    out = resize(view, width, height, f);
  }
  return to_array(std::move(out));
}

}  // namespace

void register_image(py::module_& m) {
  m.attr("DEFAULT_MAX_PIXELS") = kDefaultMaxPixels;
  m.def("decode", &decode, py::arg("data"), py::arg("max_pixels") = kDefaultMaxPixels,
        py::arg("min_width") = 0, py::arg("min_height") = 0, py::arg("min_short_side") = 0,
        "Decode JPEG/PNG bytes to an HxWx3 RGB uint8 array (cv2.imdecode semantics, EXIF "
        "orientation applied). Non-zero minimums allow JPEG DCT-domain downscaling.");
  m.def("resize", &resize_array, py::arg("image"), py::arg("width"), py::arg("height"),
        py::arg("filter") = "pil_bilinear",
        "Resize an HxWx3 uint8 array with Pillow BILINEAR or OpenCV INTER_LINEAR arithmetic.");
  m.def(
      "sniff_format",
      [](const py::object& data) -> py::object {
        ByteView bytes{};
        if (!as_byte_view(data, &bytes))
          throw py::type_error("sniff_format() takes a bytes-like object");
        switch (sniff_format(bytes.data, bytes.size)) {
          case ImageFormat::kJpeg:
            return py::str("jpeg");
          case ImageFormat::kPng:
            return py::str("png");
          case ImageFormat::kUnknown:
            break;
        }
        return py::none();
      },
      py::arg("data"), "'jpeg', 'png' or None, from the leading bytes.");
  m.def(
      "exif_orientation",
      [](const py::object& data) {
        ByteView bytes{};
        if (!as_byte_view(data, &bytes))
          throw py::type_error("exif_orientation() takes a bytes-like object");
        return jpeg_exif_orientation(bytes.data, bytes.size);
      },
      py::arg("data"), "EXIF orientation (1..8) of JPEG bytes; 1 when absent.");
  m.def(
      "short_side_size",
      [](int width, int height, int short_side) {
        return short_side_size(width, height, short_side);
      },
      py::arg("width"), py::arg("height"), py::arg("short_side"),
      "(width, height) after PaddleX's resize_short.");
}

}  // namespace pyml::python

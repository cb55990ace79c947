#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "bindings.h"
#include "pyml/preprocess.h"

namespace py = pybind11;

namespace pyml::python {
namespace {

template <typename Enum>
struct Names {
  Enum value;
  const char* name;
};

constexpr Names<ResizeMode> kResizeModes[] = {{ResizeMode::kStretch, "stretch"},
                                              {ResizeMode::kShortSide, "short"}};
constexpr Names<ResizeFilter> kFilters[] = {{ResizeFilter::kPilBilinear, "pil_bilinear"},
                                            {ResizeFilter::kCvLinear, "cv2_linear"}};
constexpr Names<DecodeMode> kDecodeModes[] = {{DecodeMode::kExact, "exact"},
                                              {DecodeMode::kFast, "fast"}};

template <typename Enum, std::size_t N>
Enum parse(const Names<Enum> (&table)[N], const std::string& name, const char* what) {
  std::string known;
  for (const auto& entry : table) {
    if (name == entry.name) return entry.value;
    known += known.empty() ? entry.name : std::string(", ") + entry.name;
  }
  throw py::value_error(std::string("unknown ") + what + " '" + name +
                        "' (expected one of: " + known + ")");
}

template <typename Enum, std::size_t N>
std::string name_of(const Names<Enum> (&table)[N], Enum value) {
  for (const auto& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

// Items borrowed from Python for one run: what the core reads, plus what keeps it alive.
struct BorrowedBatch {
  std::vector<ImageInput> inputs;
  std::vector<py::object> keep_alive;
  struct Refusal {
    InputErrorKind kind;
    std::string message;
  };
  std::vector<std::optional<Refusal>> refused;  // per item: why the binding refused it
};

std::string type_name(const py::handle& obj) { return py::str(py::type::of(obj).attr("__name__")); }

void borrow_array(py::array arr, BorrowedBatch& batch, std::size_t i) {
  if (!arr.dtype().is(py::dtype::of<std::uint8_t>())) {
    batch.refused[i] = BorrowedBatch::Refusal{
        InputErrorKind::kInvalidArray,
        "pixel array has dtype " + std::string(py::str(arr.dtype())) + "; expected uint8"};
    return;
  }
  const bool grey = arr.ndim() == 2;
  if (!grey && arr.ndim() != 3) {
    batch.refused[i] = BorrowedBatch::Refusal{
        InputErrorKind::kInvalidArray, "pixel array has " + std::to_string(arr.ndim()) +
                                           " dimensions; expected HxWx3 (BGR) or HxW (grey)"};
    return;
  }
  if (!(arr.flags() & py::array::c_style)) {
    arr = py::module_::import("numpy").attr("ascontiguousarray")(arr);
  }
  const int channels = grey ? 1 : static_cast<int>(arr.shape(2));
  batch.inputs[i] = ImageInput::pixels(
      static_cast<const std::uint8_t*>(arr.data()), static_cast<int>(arr.shape(1)),
      static_cast<int>(arr.shape(0)), channels, arr.strides(0), ChannelOrder::kBGR);
  batch.keep_alive.push_back(arr);
}

BorrowedBatch borrow(const py::sequence& items) {
  BorrowedBatch batch;
  const std::size_t n = py::len(items);
  batch.inputs.resize(n, ImageInput::pixels(nullptr, 0, 0, 3, 0, ChannelOrder::kBGR));
  batch.refused.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    py::object item = items[i];
    ByteView bytes{};
    if (py::isinstance<py::array>(item) && py::reinterpret_borrow<py::array>(item).ndim() >= 2) {
      borrow_array(py::reinterpret_borrow<py::array>(item), batch, i);
    } else if (as_byte_view(item, &bytes)) {
      batch.inputs[i] = ImageInput::encoded(bytes.data, bytes.size);
      batch.keep_alive.push_back(item);
    } else {
      batch.refused[i] = BorrowedBatch::Refusal{
          InputErrorKind::kUnsupported, "cannot preprocess a " + type_name(item) +
                                            "; expected encoded bytes or a uint8 pixel array"};
    }
  }
  return batch;
}

py::object run(const Preprocessor& pre, const py::sequence& items, const std::string& errors) {
  if (errors != "raise" && errors != "return") {
    throw py::value_error("errors must be 'raise' or 'return', not '" + errors + "'");
  }
  BorrowedBatch batch = borrow(items);
  std::optional<py::array_t<float>> tensor;
  BatchReport report;
  {
    py::gil_scoped_release release;
    report = pre.run(batch.inputs, [&](std::size_t n, int h, int w) {
      py::gil_scoped_acquire acquire;
      tensor.emplace(std::vector<py::ssize_t>{static_cast<py::ssize_t>(n), 3, h, w});
      return tensor->mutable_data();
    });
  }
  py::list item_errors;
  for (const ItemError& e : report.errors) {
    const auto& refused = batch.refused[e.index];
    const InputErrorKind kind = refused ? refused->kind : e.kind;
    const std::string message = refused ? refused->message : e.message;
    if (errors == "raise") {
      raise_input_error("item " + std::to_string(e.index) + ": " + message, kind,
                        static_cast<long>(e.index));
    }
    item_errors.append(py::make_tuple(e.index, to_string(kind), message));
  }
  if (errors == "raise") return std::move(*tensor);
  return py::make_tuple(std::move(*tensor), item_errors);
}

PreprocessSpec make_spec(const std::string& resize_mode, int width, int height, int short_side,
                         const std::string& filter, std::array<double, 3> mean,
                         std::array<double, 3> std_dev, double scale,
                         const std::string& decode_mode, std::uint64_t max_pixels) {
  PreprocessSpec s;
  s.resize_mode = parse(kResizeModes, resize_mode, "resize mode");
  s.width = width;
  s.height = height;
  s.short_side = short_side;
  s.filter = parse(kFilters, filter, "resize filter");
  s.mean = mean;
  s.std_dev = std_dev;
  s.scale = scale;
  s.decode_mode = parse(kDecodeModes, decode_mode, "decode mode");
  s.max_pixels = max_pixels;
  try {
    s.validate();
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
  return s;
}

}  // namespace

void register_preprocess(py::module_& m) {
  py::class_<PreprocessSpec>(
      m, "PreprocessSpec",
      "How a batch is preprocessed: resize, filter, normalization, decode mode.")
      .def(py::init(&make_spec), py::kw_only(), py::arg("resize_mode") = "stretch",
           py::arg("width") = 448, py::arg("height") = 448, py::arg("short_side") = 0,
           py::arg("filter") = "pil_bilinear",
           py::arg("mean") = std::array<double, 3>{0.485, 0.456, 0.406},
           py::arg("std") = std::array<double, 3>{0.229, 0.224, 0.225},
           py::arg("scale") = 1.0 / 255.0, py::arg("decode_mode") = "exact",
           py::arg("max_pixels") = kDefaultMaxPixels)
      .def_property_readonly(
          "resize_mode",
          [](const PreprocessSpec& s) { return name_of(kResizeModes, s.resize_mode); })
      .def_readonly("width", &PreprocessSpec::width)
      .def_readonly("height", &PreprocessSpec::height)
      .def_readonly("short_side", &PreprocessSpec::short_side)
      .def_property_readonly("filter",
                             [](const PreprocessSpec& s) { return name_of(kFilters, s.filter); })
      .def_readonly("mean", &PreprocessSpec::mean)
      .def_readonly("std", &PreprocessSpec::std_dev)
      .def_readonly("scale", &PreprocessSpec::scale)
      .def_property_readonly(
          "decode_mode",
          [](const PreprocessSpec& s) { return name_of(kDecodeModes, s.decode_mode); })
      .def_readonly("max_pixels", &PreprocessSpec::max_pixels)
      .def("__repr__", [](const PreprocessSpec& s) {
        return "PreprocessSpec(resize_mode='" + name_of(kResizeModes, s.resize_mode) +
               "', width=" + std::to_string(s.width) + ", height=" + std::to_string(s.height) +
               ", short_side=" + std::to_string(s.short_side) + ", filter='" +
               name_of(kFilters, s.filter) + "', decode_mode='" +
               name_of(kDecodeModes, s.decode_mode) + "')";
      });

  py::class_<Preprocessor>(
      m, "Preprocessor",
      "Turns a batch of images into one float32 [N,3,H,W] RGB tensor on a thread pool.")
      .def(py::init<PreprocessSpec, int>(), py::arg("spec"), py::arg("threads") = 0)
      .def_property_readonly("spec", &Preprocessor::spec)
      .def_property_readonly("threads", &Preprocessor::threads)
      .def("run", &run, py::arg("items"), py::arg("errors") = "raise",
           "Preprocess a list of encoded images (bytes) and/or uint8 arrays (HxWx3 BGR or HxW "
           "grey).\n"
           "errors='raise': return the tensor, or raise InputError for the first bad item.\n"
           "errors='return': return (tensor, [(index, reason, message), ...]); bad slots are "
           "zeros.");
}

}  // namespace pyml::python

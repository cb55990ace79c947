#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <limits>
#include <vector>

#include "bindings.h"
#include "pyml/postprocess.h"

namespace py = pybind11;

namespace pyml::python {
namespace {

std::vector<float> to_thresholds(const py::object& threshold) {
  if (py::isinstance<py::float_>(threshold) || py::isinstance<py::int_>(threshold)) {
    return {threshold.cast<float>()};
  }
  auto arr = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(threshold);
  if (!arr || arr.ndim() != 1) {
    throw py::type_error("threshold must be a number or a 1-D sequence of numbers (one per class)");
  }
  return std::vector<float>(arr.data(), arr.data() + arr.shape(0));
}

// None -> 0 (every label over the threshold). Any Python integer is accepted: one larger
// than the class count (even than an int) keeps every label, so it is clamped here.
int to_top_k(const py::object& top_k) {
  if (top_k.is_none()) return 0;
  if (py::isinstance<py::bool_>(top_k) || !PyIndex_Check(top_k.ptr())) {
    throw py::type_error("top_k must be an integer or None");
  }
  int overflow = 0;
  const long long value = PyLong_AsLongLongAndOverflow(
      py::reinterpret_steal<py::object>(PyNumber_Index(top_k.ptr())).ptr(), &overflow);
  if (overflow < 0 || (overflow == 0 && value <= 0))
    throw py::value_error("top_k must be a positive integer");
  if (overflow > 0 || value > std::numeric_limits<int>::max())
    return std::numeric_limits<int>::max();
  return static_cast<int>(value);
}

py::list run(const py::array_t<float, py::array::c_style | py::array::forcecast>& scores,
             const py::object& threshold, const py::object& top_k_arg, bool sigmoid) {
  if (scores.ndim() != 2) throw py::value_error("scores must be a 2-D [N, classes] array");
  const int top_k = to_top_k(top_k_arg);
  const std::vector<float> thresholds = to_thresholds(threshold);
  std::vector<Labels> labels;
  {
    py::gil_scoped_release release;
    // A threshold vector of the wrong length throws std::invalid_argument -> ValueError.
    labels =
        postprocess(scores.data(), scores.shape(0), scores.shape(1), thresholds, top_k, sigmoid);
  }
  py::list out;
  for (Labels& l : labels) out.append(py::make_tuple(py::cast(l.class_ids), py::cast(l.scores)));
  return out;
}

}  // namespace

void register_postprocess(py::module_& m) {
  m.def("postprocess", &run, py::arg("scores"), py::arg("threshold") = 0.5,
        py::arg("top_k") = py::none(), py::arg("sigmoid") = false,
        "Labels for a batch of scores: [(class_ids, scores), ...] per row, high score first.\n"
        "threshold is one number or one per class (entry c applies to class c); a class is kept\n"
        "when score > threshold (float32 compare).");
}

}  // namespace pyml::python

#include <pybind11/stl.h>

#include <vector>

#include "bindings.h"

namespace py = pybind11;

namespace pyml::python {
namespace {

constexpr InputErrorKind kAllKinds[] = {
    InputErrorKind::kEmpty,       InputErrorKind::kTruncated, InputErrorKind::kCorrupt,
    InputErrorKind::kUnsupported, InputErrorKind::kTooLarge,  InputErrorKind::kInvalidArray,
};

}  // namespace

[[noreturn]] void raise_input_error(const std::string& message, InputErrorKind kind, long index) {
  py::object cls = py::module_::import("pyml.errors").attr("InputError");
  py::object index_arg = index >= 0 ? py::object(py::int_(index)) : py::object(py::none());
  py::object exc = cls(message, py::arg("reason") = to_string(kind), py::arg("index") = index_arg);
  PyErr_SetObject(cls.ptr(), exc.ptr());
  throw py::error_already_set();
}

void register_errors(py::module_& m) {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InputError& e) {
      try {
        raise_input_error(e.what(), e.kind());
      } catch (py::error_already_set& set) {
        set.restore();
      }
    }
  });
  m.def(
      "input_error_kinds",
      [] {
        std::vector<std::string> names;
        for (InputErrorKind k : kAllKinds) names.emplace_back(to_string(k));
        return names;
      },
      "Names of every native InputError kind, in declaration order.");
}

}  // namespace pyml::python

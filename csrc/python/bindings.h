// The pieces of the `pyml._native` module, one per concept; module.cpp lists them.
#ifndef PYML_PYTHON_BINDINGS_H_
#define PYML_PYTHON_BINDINGS_H_

#include <pybind11/pybind11.h>

#include <string>

#include "pyml/errors.h"

namespace pyml::python {

void register_errors(pybind11::module_& m);
void register_image(pybind11::module_& m);
void register_preprocess(pybind11::module_& m);
void register_postprocess(pybind11::module_& m);
void register_model(pybind11::module_& m);
void register_train(pybind11::module_& m);

// Raises pyml.errors.InputError(message, reason=kind, index=index) in Python.
[[noreturn]] void raise_input_error(const std::string& message, InputErrorKind kind,
                                    long index = -1);

// A read-only view of a 1-D bytes-like object (bytes, bytearray, memoryview, uint8 array).
struct ByteView {
  const std::uint8_t* data;
  std::size_t size;
};
bool as_byte_view(const pybind11::handle& obj, ByteView* out);

}  // namespace pyml::python

#endif  // PYML_PYTHON_BINDINGS_H_

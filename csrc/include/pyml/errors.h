// File: pyml/errors.h
//
// The typed failures of pyml's native core. Everything that a caller can cause
// with a bad image is an `InputError` carrying a machine-readable kind, so that
// hosts (and the Python binding) can report it without parsing the message.
// Misuse of the API itself (a bad spec, mismatched sizes) throws
// std::invalid_argument.
//
// Example:
//   try {
//     pyml::Image img = pyml::decode_image(data, size, {});
//   } catch (const pyml::InputError& e) {
//     std::cerr << pyml::to_string(e.kind()) << ": " << e.what() << "\n";
//   }
#ifndef PYML_ERRORS_H_
#define PYML_ERRORS_H_

#include <stdexcept>
#include <string>

namespace pyml {

enum class InputErrorKind {
  kEmpty,         // zero bytes
  kTruncated,     // the data ends before the image does
  kCorrupt,       // the data is not a valid image of its format
  kUnsupported,   // a format (or variant) the native decoder does not read
  kTooLarge,      // more pixels than the configured limit
  kInvalidArray,  // a pixel array of the wrong dtype, shape or channel count
};

// Stable lower-case name of a kind ("empty", "truncated", ...). Every kind has one.
const char* to_string(InputErrorKind kind);

class InputError : public std::runtime_error {
 public:
  InputError(InputErrorKind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}
  InputErrorKind kind() const noexcept { return kind_; }

 private:
  InputErrorKind kind_;
};

// A model directory or its inference.yml cannot be used (missing file, unknown
// operation or key, a value of the wrong type). The message names file and key.
class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace pyml

#endif  // PYML_ERRORS_H_

#include "pyml/errors.h"

namespace pyml {

const char* to_string(InputErrorKind kind) {
  switch (kind) {
    case InputErrorKind::kEmpty:
      return "empty";
    case InputErrorKind::kTruncated:
      return "truncated";
    case InputErrorKind::kCorrupt:
      return "corrupt";
    case InputErrorKind::kUnsupported:
      return "unsupported";
    case InputErrorKind::kTooLarge:
      return "too_large";
    case InputErrorKind::kInvalidArray:
      return "invalid_array";
  }
  return "unknown";
}

}  // namespace pyml

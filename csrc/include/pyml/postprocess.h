// File: pyml/postprocess.h
//
// Scores to labels for a whole batch: optional sigmoid, a threshold per class
// (or one for all), optional top-k, sorted high to low.
//
// Semantics kept from PaddleX's MultiLabelThreshOutput: a class is kept when
// its score is strictly greater than its threshold, compared in float32.
// Where PaddleX applies a per-class list by batch position (a bug), pyml
// applies entry c to class c. Equal scores keep ascending class-id order.
//
// Example:
//   auto labels = pyml::postprocess(scores, rows, 80, {0.5f}, /*top_k=*/0, /*sigmoid=*/false);
//   for (int id : labels[0].class_ids) ...
#ifndef PYML_POSTPROCESS_H_
#define PYML_POSTPROCESS_H_

#include <cstddef>
#include <vector>

namespace pyml {

struct Labels {
  std::vector<int> class_ids;  // high score first
  std::vector<float> scores;   // parallel to class_ids
};

// `thresholds` holds one value (for every class) or exactly `classes` values.
// top_k <= 0 keeps every class over its threshold. Throws std::invalid_argument
// for a threshold vector of another length.
std::vector<Labels> postprocess(const float* scores, std::size_t rows, std::size_t classes,
                                const std::vector<float>& thresholds, int top_k, bool sigmoid);

}  // namespace pyml

#endif  // PYML_POSTPROCESS_H_

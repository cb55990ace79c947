#include "pyml/postprocess.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace pyml {

std::vector<Labels> postprocess(const float* scores, std::size_t rows, std::size_t classes,
                                const std::vector<float>& thresholds, int top_k, bool sigmoid) {
  if (thresholds.size() != 1 && thresholds.size() != classes) {
    throw std::invalid_argument("threshold has " + std::to_string(thresholds.size()) +
                                " values; expected 1 or one per class (" + std::to_string(classes) +
                                ")");
  }
  std::vector<Labels> out(rows);
  std::vector<float> row(classes);
  for (std::size_t r = 0; r < rows; ++r) {
    const float* in = scores + r * classes;
    for (std::size_t c = 0; c < classes; ++c) {
      row[c] = sigmoid ? 1.0f / (1.0f + std::exp(-in[c])) : in[c];
    }
    std::vector<int>& ids = out[r].class_ids;
    for (std::size_t c = 0; c < classes; ++c) {
      const float t = thresholds.size() == 1 ? thresholds[0] : thresholds[c];
      if (row[c] > t) ids.push_back(static_cast<int>(c));  // NaN never passes
    }
    std::stable_sort(ids.begin(), ids.end(), [&](int a, int b) { return row[a] > row[b]; });
    if (top_k > 0 && ids.size() > static_cast<std::size_t>(top_k)) ids.resize(top_k);
    out[r].scores.reserve(ids.size());
    for (int id : ids) out[r].scores.push_back(row[id]);
  }
  return out;
}

}  // namespace pyml

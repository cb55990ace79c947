// classify_dir: classify every JPEG/PNG in a folder with a PaddleX model directory,
// end to end in C++: pyml decodes and preprocesses as inference.yml says, OpenVINO
// runs MODEL_DIR/inference.onnx (`pyml convert MODEL_DIR` writes it), pyml applies the
// threshold. Prints one JSON line per image, in file-name order, in the row form `pyml batch`
// writes to its JSONL file: img_path, class_ids, scores (rounded to 5 decimals), label_names,
// and for an image that fails empty lists and "error": {"reason", "message"}.
// Exit status as pyml's: 0 all classified, 1 some images failed, 2 arguments or model.
//
//   classify_dir MODEL_DIR IMAGE_DIR [BATCH]
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "pyml/errors.h"
#include "pyml/model_config.h"
#include "pyml/openvino_backend.h"
#include "pyml/pipeline.h"

namespace fs = std::filesystem;

namespace {

// A JSON string; control characters escaped, UTF-8 passed through (as json.dumps with
// ensure_ascii=False writes it).
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void print_row(const std::string& path, const pyml::Classification& result) {
  std::string ids, scores, names;
  char number[32];
  for (std::size_t k = 0; k < result.class_ids.size(); ++k) {
    const char* sep = k ? ", " : "";
    ids += sep + std::to_string(result.class_ids[k]);
    std::snprintf(number, sizeof number, "%.5f", static_cast<double>(result.scores[k]));
    scores += sep + std::string(number);
    names += sep + quoted(result.label_names[k]);
  }
  std::string line = "{\"img_path\": " + quoted(path) + ", \"class_ids\": [" + ids +
                     "], \"scores\": [" + scores + "], \"label_names\": [" + names + "]";
  if (result.error) {
    line += ", \"error\": {\"reason\": " + quoted(pyml::to_string(result.error->kind)) +
            ", \"message\": " + quoted(path + ": " + result.error->message) + "}";
  }
  std::cout << line << "}\n";
}

// The JPEG and PNG files of a folder, sorted; a folder that is missing or unreadable is a
// std::runtime_error naming it.
std::vector<fs::path> pictures_in(const std::string& folder) {
  std::error_code error;
  fs::directory_iterator entries(folder, error);
  if (error)
    throw std::runtime_error(folder + ": cannot list the folder (" + error.message() + ")");
  std::vector<fs::path> files;
  for (const auto& entry : entries) {
    std::string ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (ext == ".jpg" || ext == ".jpeg" || ext == ".png") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::cerr << "usage: classify_dir MODEL_DIR IMAGE_DIR [BATCH]\n";
    return 2;
  }
  const int batch_arg = argc > 3 ? std::atoi(argv[3]) : 8;
  if (batch_arg < 1) {
    std::cerr << "classify_dir: error: BATCH must be a whole number >= 1, not '" << argv[3]
              << "'\n";
    return 2;
  }
  const auto batch = static_cast<std::size_t>(batch_arg);
  try {
    const std::vector<fs::path> files = pictures_in(argv[2]);
    const pyml::Pipeline pipeline(pyml::load_model_config(argv[1]),
                                  pyml::openvino_backend(argv[1]));
    int failed = 0;
    for (std::size_t start = 0; start < files.size(); start += batch) {
      const std::size_t end = std::min(files.size(), start + batch);
      std::vector<std::vector<std::uint8_t>> buffers;
      std::vector<pyml::ImageInput> inputs;
      for (std::size_t i = start; i < end; ++i) {
        std::ifstream in(files[i], std::ios::binary);
        buffers.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      }
      for (const auto& bytes : buffers)
        inputs.push_back(pyml::ImageInput::encoded(bytes.data(), bytes.size()));
      const std::vector<pyml::Classification> results = pipeline.classify(inputs);
      for (std::size_t i = start; i < end; ++i) {
        print_row(files[i].string(), results[i - start]);
        failed += results[i - start].error.has_value();
      }
    }
    return failed ? 1 : 0;
  } catch (const std::exception& e) {  // a model, folder or file-system error: one line
    std::cerr << "classify_dir: error: " << e.what() << "\n";
    return 2;
  }
}

// classify_dir: classify every JPEG/PNG in a folder with a PaddleX model directory,
// end to end in C++: pyml decodes and preprocesses as inference.yml says, OpenVINO
// runs MODEL_DIR/inference.onnx (`pyml convert MODEL_DIR` writes it), pyml applies the
// threshold. Prints one JSON line per image, as `pyml --input` prints its results
// (scores rounded to 5 decimals), in file-name order.
//
//   classify_dir MODEL_DIR IMAGE_DIR [BATCH]
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "pyml/errors.h"
#include "pyml/model_config.h"
#include "pyml/openvino_backend.h"
#include "pyml/pipeline.h"

namespace fs = std::filesystem;

namespace {

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

void print_row(const std::string& path, const pyml::Classification& result) {
  std::string line = "{\"img_path\": " + quoted(path);
  if (result.error) {
    line += ", \"error\": " +
            quoted(std::string(pyml::to_string(result.error->kind)) + ": " + result.error->message);
  } else {
    std::string ids, scores, names;
    char number[32];
    for (std::size_t k = 0; k < result.class_ids.size(); ++k) {
      const char* sep = k ? ", " : "";
      ids += sep + std::to_string(result.class_ids[k]);
      std::snprintf(number, sizeof number, "%.5f", static_cast<double>(result.scores[k]));
      scores += sep + std::string(number);
      names += sep + quoted(result.label_names[k]);
    }
    line += ", \"class_ids\": [" + ids + "], \"scores\": [" + scores + "], \"label_names\": [" +
            names + "]";
  }
  std::cout << line << "}\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: classify_dir MODEL_DIR IMAGE_DIR [BATCH]\n";
    return 2;
  }
  const std::size_t batch =
      argc > 3 ? static_cast<std::size_t>(std::max(1, std::atoi(argv[3]))) : 8;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(argv[2])) {
    const std::string ext = entry.path().extension().string();
    if (ext == ".jpg" || ext == ".jpeg" || ext == ".png") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  try {
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
  } catch (const pyml::ModelError& e) {
    std::cerr << "classify_dir: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "classify_dir: " << e.what() << "\n";
    return 2;
  }
}

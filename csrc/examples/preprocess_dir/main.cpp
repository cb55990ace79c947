// preprocess_dir: preprocess every JPEG/PNG in a folder as a model's inference.yml
// says, with pyml's native core, and print per image the tensor shape, a checksum
// and the time it took.
//
//   preprocess_dir MODEL_DIR IMAGE_DIR [OUT_DIR]
//
// With OUT_DIR, each image's float32 CHW tensor is written to OUT_DIR/<name>.f32.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "pyml/errors.h"
#include "pyml/model_config.h"
#include "pyml/preprocess.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: preprocess_dir MODEL_DIR IMAGE_DIR [OUT_DIR]\n";
    return 2;
  }
  pyml::PreprocessSpec spec;
  try {
    spec = pyml::load_model_config(argv[1]).preprocess;
  } catch (const pyml::ModelError& e) {
    std::cerr << "preprocess_dir: " << e.what() << "\n";
    return 2;
  }
  if (spec.resize_mode != pyml::ResizeMode::kStretch) {
    std::cerr << "preprocess_dir: only fixed-size (ResizeImage size) models are supported here\n";
    return 2;
  }
  const pyml::Preprocessor preprocessor(spec, /*threads=*/1);
  const bool write = argc > 3;

  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(argv[2])) {
    const std::string ext = entry.path().extension().string();
    if (ext == ".jpg" || ext == ".jpeg" || ext == ".png") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());

  int failed = 0;
  std::vector<float> tensor(3 * static_cast<std::size_t>(spec.width) * spec.height);
  for (const fs::path& path : files) {
    std::ifstream in(path, std::ios::binary);
    const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
    const auto start = std::chrono::steady_clock::now();
    const pyml::BatchReport report = preprocessor.run_into(
        {pyml::ImageInput::encoded(bytes.data(), bytes.size())}, tensor.data());
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (!report.errors.empty()) {
      std::cout << path.filename().string() << " error " << pyml::to_string(report.errors[0].kind)
                << ": " << report.errors[0].message << "\n";
      ++failed;
      continue;
    }
    double checksum = 0;
    for (float v : tensor) checksum += v;
    std::cout << path.filename().string() << " [3," << spec.height << "," << spec.width
              << "] checksum " << checksum << " " << ms << " ms\n";
    if (write) {
      std::ofstream out(fs::path(argv[3]) / (path.filename().string() + ".f32"), std::ios::binary);
      out.write(reinterpret_cast<const char*>(tensor.data()),
                static_cast<std::streamsize>(tensor.size() * sizeof(float)));
    }
  }
  return failed == 0 ? 0 : 1;
}

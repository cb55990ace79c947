// stream_client: streams every JPEG/PNG of a folder to `pyml serve` over one
// bidirectional ClassifyStream and prints each image's labels as they come back.
//
//   stream_client HOST:PORT IMAGE_DIR [MODEL]
//
// Output, one line per image: "<file> <label> <label> ..." or "<file> error <reason>".
// Exit status 1 if any image failed.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "pyml/v1/classifier.grpc.pb.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: stream_client HOST:PORT IMAGE_DIR [MODEL]\n";
    return 2;
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(argv[2])) {
    const std::string ext = entry.path().extension().string();
    if (ext == ".jpg" || ext == ".jpeg" || ext == ".png") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());

  auto channel = grpc::CreateChannel(argv[1], grpc::InsecureChannelCredentials());
  auto stub = pyml::v1::MultiLabelClassifier::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
  auto stream = stub->ClassifyStream(&context);

  std::thread writer([&] {
    for (const fs::path& path : files) {
      std::ifstream in(path, std::ios::binary);
      pyml::v1::ClassifyRequest request;
      request.set_request_id(path.filename().string());
      if (argc > 3) request.set_model(argv[3]);
      request.set_encoded(std::string(std::istreambuf_iterator<char>(in), {}));
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
  });

  int failed = 0;
  pyml::v1::ClassifyResponse response;
  while (stream->Read(&response)) {
    std::cout << response.request_id();
    if (response.has_error()) {
      std::cout << " error " << response.error().reason();
      ++failed;
    }
    for (const auto& category : response.categories()) std::cout << " " << category.name();
    std::cout << "\n";
  }
  writer.join();
  const grpc::Status status = stream->Finish();
  if (!status.ok()) {
    std::cerr << "stream_client: " << status.error_code() << ": " << status.error_message() << "\n";
    return 2;
  }
  return failed == 0 ? 0 : 1;
}

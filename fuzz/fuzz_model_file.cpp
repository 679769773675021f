// libFuzzer target: model files as `nabla eval`, `predict` and `export` read them (load_model):
// the safetensors container, then the __metadata__ record of the architecture, the data set and
// the preprocessing, and the fit of the tensors to the model it describes. Seeds: small MLP files
// written by fuzz/make_model_seeds.py (mean-image and per-channel preprocessing).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "nabla/error.h"
#include "train/model_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // load_model reads a file: one per process, rewritten for every input.
  static const std::filesystem::path file = std::filesystem::temp_directory_path() /
                                            ("nabla-fuzz-model-" + std::to_string(::getpid()) +
                                             ".safetensors");
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    nabla::LoadedModel loaded = nabla::load_model(file);
    (void)loaded;
  } catch (const nabla::DataError&) {
  } catch (const nabla::ConfigError&) {
  }
  return 0;
}

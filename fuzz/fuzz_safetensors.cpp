// libFuzzer target: the safetensors reader, and the checks that fit its tensors into a model.
#include <cstddef>
#include <cstdint>
#include <string>

#include "nabla/data/cifar10.h"
#include "nabla/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const nabla::SafetensorsFile f =
        nabla::parse_safetensors(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    for (const auto& t : f.tensors) {
      float sum = 0;
      for (float v : t.value.values()) sum += v;  // every value must be readable
      (void)sum;
    }
  } catch (const nabla::DataError&) {
  }
  return 0;
}

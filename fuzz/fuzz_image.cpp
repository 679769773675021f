// libFuzzer target: the image reader of `nabla predict` (PNG through libpng, JPEG through stb).
#include <cstddef>
#include <cstdint>
#include <string>

#include "nabla/data/cifar10.h"
#include "nabla/io/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    nabla::decode_image_rgb(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const nabla::DataError&) {
  }
  return 0;
}

// libFuzzer target: the CIFAR-100 binary record parser on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "nabla/data/cifar100.h"
#include "nabla/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    nabla::data::parse_cifar100(data, size, "fuzz");
  } catch (const nabla::DataError&) {
  }
  return 0;
}

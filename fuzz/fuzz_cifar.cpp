// libFuzzer target: the CIFAR-10 binary record parser on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "nabla/data/cifar10.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto records = static_cast<int64_t>(size / nabla::kCifarRecordBytes);
  for (int64_t r : {records, records + 1}) {
    try {
      nabla::parse_cifar10(data, size, r, "fuzz");
    } catch (const nabla::DataError&) {
    }
  }
  return 0;
}

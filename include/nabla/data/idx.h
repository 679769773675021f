/// \file
/// IDX files, the format of MNIST and Fashion-MNIST, plain or gzip-compressed. An unsigned-byte
/// IDX file is the magic 00 00 08 D (D dimensions: 1 for labels, 3 for images), D big-endian
/// 32-bit sizes, then their product of bytes, row-major.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "nabla/data/dataset.h"

namespace nabla::data {

/// The most bytes an IDX file may hold, or decompress to: a gzip file that would inflate past it
/// (a decompression bomb) is refused. MNIST's largest file is 47 MB.
inline constexpr uint64_t kIdxMaxBytes = uint64_t{1} << 30;

/// An unsigned-byte IDX array.
struct IdxArray {
  std::vector<int64_t> dims;    ///< the sizes, outermost first: (N) for labels, (N, H, W) images
  std::vector<uint8_t> values;  ///< the product of dims bytes, row-major
};

/// `bytes` unchanged unless they start with the gzip magic 1f 8b; then the data they decompress
/// to (every gzip member in turn). Throws DataError naming `name` for corrupt or truncated gzip
/// data and for data that would decompress to more than max_bytes.
std::string decompress_if_gzip(const std::string& bytes, const std::string& name,
                               uint64_t max_bytes = kIdxMaxBytes);

/// Parses an unsigned-byte IDX array of 1 or 3 dimensions (magic 0x00000801 or 0x00000803) from
/// uncompressed bytes. Every size must be positive and their product match the bytes after the
/// header exactly. `name` (the file) starts every error message. Throws DataError.
IdxArray parse_idx(const std::string& bytes, const std::string& name);

/// Reads an IDX file, plain or gzip (detected by its first bytes, not its name). Throws DataError
/// naming the file.
IdxArray read_idx_file(const std::filesystem::path& file);

/// Reads MNIST or Fashion-MNIST from `dir`: train-images-idx3-ubyte, train-labels-idx1-ubyte,
/// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each plain or with the suffix .gz (the plain
/// file when both exist). `name` is "mnist" (classes "0".."9") or "fashion-mnist" (classes
/// "T-shirt/top", "Trouser", ..., "Ankle boot") and names the result. Images are (N, 1, H, W) with
/// H and W from the files. Throws ConfigError for another name, DataError naming the folder or
/// the bad file (a missing file, mismatched counts or sizes, a label above 9).
ImageSplits load_mnist(const std::filesystem::path& dir, const std::string& name = "mnist");

}  // namespace nabla::data

// The whole of a data file in memory, for the readers in src/data/ (not part of the public API).
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "nabla/error.h"

namespace nabla::data::detail {

// The bytes of `file`; throws DataError naming it when it is missing, not a regular file, larger
// than max_bytes (checked before reading) or cannot be read.
inline std::string read_file_bytes(const std::filesystem::path& file, uint64_t max_bytes) {
  namespace fs = std::filesystem;
  const std::string name = file.string();
  std::error_code ec;
  if (!fs::exists(file, ec)) throw DataError(name + ": no such file");
  if (!fs::is_regular_file(file, ec)) throw DataError(name + ": not a regular file");
  const uint64_t size = fs::file_size(file, ec);
  if (ec) throw DataError(name + ": cannot read its size (" + ec.message() + ")");
  if (size > max_bytes) {
    throw DataError(name + ": " + std::to_string(size) + " bytes, more than the " +
                    std::to_string(max_bytes) + " this reader accepts");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw DataError(name + ": cannot open (" + std::strerror(errno) + ")");
  std::string bytes(static_cast<size_t>(size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (static_cast<uint64_t>(in.gcount()) != size) throw DataError(name + ": read ended early");
  return bytes;
}

}  // namespace nabla::data::detail

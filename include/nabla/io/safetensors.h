// Model files in the safetensors format: an 8-byte little-endian header length, a JSON header
// mapping each name to {dtype, shape, data_offsets}, plus an optional "__metadata__" object of
// strings, then the raw little-endian data. nabla writes F32; it reads F32 and F64.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "nabla/tensor.h"

namespace nabla {

struct NamedTensor {
  std::string name;
  Tensor<float> value;
};

struct SafetensorsFile {
  std::vector<NamedTensor> tensors;  // in data order
  std::map<std::string, std::string> metadata;
  const Tensor<float>* find(const std::string& name) const;
};

// Writes atomically (a temporary file, flushed and fsynced, then renamed). Throws
// std::runtime_error naming the file.
void save_safetensors(const std::filesystem::path& file, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads and validates everything (header size, JSON, dtypes, shapes, offsets inside the file).
// Throws DataError naming the file and what is wrong.
SafetensorsFile load_safetensors(const std::filesystem::path& file);

// The same from the file's bytes in memory; `name` is used in error messages.
SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& name);

// Writes `bytes` to `file` atomically. Throws std::runtime_error naming the file.
void write_file_atomic(const std::filesystem::path& file, const std::string& bytes);

}  // namespace nabla

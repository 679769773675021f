/// \file
/// Model files in the safetensors format: an 8-byte little-endian header length, a JSON header
/// mapping each name to {dtype, shape, data_offsets}, plus an optional "__metadata__" object of
/// strings, then the raw little-endian data. nabla writes F32 (and I64 for counts); it reads every
/// dtype PyTorch writes for its models (F32, F64, F16, BF16, I64, I32, U8, BOOL) and converts the
/// values to float32.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "nabla/tensor.h"

namespace nabla {

/// The element types of a safetensors file, by their names there ("F32", "I64", ...).
enum class DType { kF32, kF64, kF16, kBF16, kI64, kI32, kU8, kBool };

/// The dtype's name in a safetensors header ("F32", "BF16", ...).
const char* dtype_name(DType dtype);

/// A tensor of a safetensors file, with its name and stored dtype.
struct NamedTensor {
  std::string name;     ///< its key in the header, e.g. "fc1.weight"
  Tensor<float> value;  ///< the values as float32, with the shape in the file
  /// Read: the dtype in the file (value holds it converted to float). Written: the dtype to store,
  /// F32, or I64 for a count such as batch norm's num_batches_tracked (values rounded).
  DType dtype = DType::kF32;
};

/// A parsed safetensors file: its tensors and its metadata.
struct SafetensorsFile {
  std::vector<NamedTensor> tensors;  ///< in data order
  /// The header's "__metadata__" strings; empty when it has none.
  std::map<std::string, std::string> metadata;
  /// The tensor of that name, or nullptr when the file has none.
  const Tensor<float>* find(const std::string& name) const;
};

/// Writes atomically (a temporary file, flushed and fsynced, then renamed). Throws
/// std::runtime_error naming the file, std::invalid_argument for a dtype other than F32 and I64.
void save_safetensors(const std::filesystem::path& file, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

/// Reads and validates everything (header size, JSON, dtypes, shapes, offsets inside the file, BOOL
/// bytes 0 or 1). Throws DataError naming the file, the tensor and what is wrong.
SafetensorsFile load_safetensors(const std::filesystem::path& file);

/// The same from the file's bytes in memory; `name` is used in error messages.
SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& name);

/// Writes `bytes` to `file` atomically. Throws std::runtime_error naming the file.
void write_file_atomic(const std::filesystem::path& file, const std::string& bytes);

}  // namespace nabla

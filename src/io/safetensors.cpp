#include "nabla/io/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "nabla/error.h"

namespace nabla {

namespace fs = std::filesystem;
static_assert(std::endian::native == std::endian::little, "nabla assumes a little-endian host");

namespace {

struct DTypeInfo {
  DType dtype;
  const char* name;
  size_t bytes;
};
constexpr DTypeInfo kDTypes[] = {{DType::kF32, "F32", 4}, {DType::kF64, "F64", 8},
                                 {DType::kF16, "F16", 2}, {DType::kBF16, "BF16", 2},
                                 {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4},
                                 {DType::kU8, "U8", 1},   {DType::kBool, "BOOL", 1}};

const DTypeInfo& info(DType dtype) {
  for (const DTypeInfo& d : kDTypes) {
    if (d.dtype == dtype) return d;
  }
  throw std::logic_error("unknown dtype");
}

// IEEE half precision to float: exact (every half is a float).
float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
    const float v = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -v : v;
  }
  const uint32_t bits = exponent == 0x1f ? sign | 0x7f800000 | (mantissa << 13)  // inf, NaN
                                         : sign | ((exponent + 112) << 23) | (mantissa << 13);
  return std::bit_cast<float>(bits);
}

template <typename S>
S load_as(const char* p) {
  S v;
  std::memcpy(&v, p, sizeof(S));
  return v;
}

// count elements of `dtype` at `src` into floats; where: the tensor, for errors.
void convert_to_float(DType dtype, const char* src, uint64_t count, float* dst,
                      const std::string& where) {
  for (uint64_t i = 0; i < count; ++i) {
    switch (dtype) {
      case DType::kF32: dst[i] = load_as<float>(src + 4 * i); break;
      case DType::kF64: dst[i] = static_cast<float>(load_as<double>(src + 8 * i)); break;
      case DType::kF16: dst[i] = half_to_float(load_as<uint16_t>(src + 2 * i)); break;
      case DType::kBF16:
        dst[i] = std::bit_cast<float>(static_cast<uint32_t>(load_as<uint16_t>(src + 2 * i)) << 16);
        break;
      case DType::kI64: dst[i] = static_cast<float>(load_as<int64_t>(src + 8 * i)); break;
      case DType::kI32: dst[i] = static_cast<float>(load_as<int32_t>(src + 4 * i)); break;
      case DType::kU8: dst[i] = static_cast<float>(static_cast<uint8_t>(src[i])); break;
      case DType::kBool:
        if (static_cast<uint8_t>(src[i]) > 1) {
          throw DataError(where + " is BOOL but holds the byte " +
                          std::to_string(static_cast<uint8_t>(src[i])) + " at element " +
                          std::to_string(i));
        }
        dst[i] = static_cast<float>(src[i]);
        break;
    }
  }
}

}  // namespace

const char* dtype_name(DType dtype) { return info(dtype).name; }

const Tensor<float>* SafetensorsFile::find(const std::string& name) const {
  for (const auto& t : tensors) {
    if (t.name == name) return &t.value;
  }
  return nullptr;
}

void write_file_atomic(const fs::path& file, const std::string& bytes) {
  const std::string tmp = file.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(tmp + ": cannot create (" + std::strerror(errno) + ")");
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      throw std::runtime_error(tmp + ": write failed (" + why + ")");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    throw std::runtime_error(tmp + ": flush failed (" + std::strerror(errno) + ")");
  }
  if (std::rename(tmp.c_str(), file.c_str()) != 0) {
    throw std::runtime_error(file.string() + ": cannot rename into place (" + std::strerror(errno) +
                             ")");
  }
}

void save_safetensors(const fs::path& file, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (t.name == "__metadata__" || header.contains(t.name)) {
      throw std::invalid_argument(file.string() + ": tensor name '" + t.name +
                                  "' is given twice or reserved");
    }
    if (t.dtype != DType::kF32 && t.dtype != DType::kI64) {
      throw std::invalid_argument(file.string() + ": tensor '" + t.name + "': nabla writes F32 or I64, not " +
                                  dtype_name(t.dtype));
    }
    const uint64_t bytes = static_cast<uint64_t>(t.value.numel()) * info(t.dtype).bytes;
    header[t.name] = {{"dtype", dtype_name(t.dtype)},
                      {"shape", t.value.shape()},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned
  std::string out(8, '\0');
  const uint64_t n = json.size();
  std::memcpy(out.data(), &n, 8);
  out += json;
  for (const auto& t : tensors) {
    if (t.dtype == DType::kF32) {
      out.append(reinterpret_cast<const char*>(t.value.data()), t.value.numel() * sizeof(float));
      continue;
    }
    for (const float v : t.value.values()) {
      const auto count = static_cast<int64_t>(std::llround(v));
      out.append(reinterpret_cast<const char*>(&count), sizeof count);
    }
  }
  write_file_atomic(file, out);
}

SafetensorsFile load_safetensors(const fs::path& file) {
  const std::string name = file.string();
  std::ifstream in(file, std::ios::binary);
  if (!in) throw DataError(name + ": cannot open model file");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_safetensors(bytes, name);
}

SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& name) {
  if (bytes.size() < 8) throw DataError(name + ": too short for a safetensors file");
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  if (header_len > bytes.size() - 8) {
    throw DataError(name + ": header length " + std::to_string(header_len) +
                    " runs past the end of the file");
  }
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + header_len);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(name + ": header is not valid JSON (" + e.what() + ")");
  }
  if (!header.is_object()) throw DataError(name + ": header is not a JSON object");
  const uint64_t data_size = bytes.size() - 8 - header_len;
  const char* data = bytes.data() + 8 + header_len;

  SafetensorsFile result;
  std::vector<std::pair<uint64_t, NamedTensor>> ordered;
  for (const auto& [key, entry] : header.items()) {
    const std::string where = name + ": tensor '" + key + "'";
    if (key == "__metadata__") {
      if (!entry.is_object()) throw DataError(name + ": __metadata__ is not an object");
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) throw DataError(name + ": metadata '" + k + "' is not a string");
        result.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets")) {
      throw DataError(where + " lacks dtype, shape or data_offsets");
    }
    const auto& dtype_json = entry["dtype"];
    const DTypeInfo* dtype = nullptr;
    for (const DTypeInfo& d : kDTypes) {
      if (dtype_json.is_string() && dtype_json == d.name) dtype = &d;
    }
    if (dtype == nullptr) {
      throw DataError(where + " has dtype " + dtype_json.dump() +
                      "; nabla reads F32, F64, F16, BF16, I64, I32, U8 and BOOL");
    }
    const size_t elem = dtype->bytes;
    const auto& shape_json = entry["shape"];
    if (!shape_json.is_array() || shape_json.size() > 8)
      throw DataError(where + " has a bad shape");
    Shape shape;
    uint64_t count = 1;
    for (const auto& d : shape_json) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t{1} << 40)) {
        throw DataError(where + " has a bad dimension " + d.dump());
      }
      const uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && count > data_size / dim) {
        throw DataError(where + " has a shape larger than the file");
      }
      count *= dim;
      shape.push_back(static_cast<int64_t>(dim));
    }
    const auto& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned()) {
      throw DataError(where + " has bad data_offsets");
    }
    const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      throw DataError(where + " has data_offsets [" + std::to_string(begin) + ", " +
                      std::to_string(end) + "] outside the " + std::to_string(data_size) +
                      " data bytes");
    }
    if (end - begin != count * elem) {
      throw DataError(where + " has " + std::to_string(end - begin) + " bytes for shape " +
                      shape_str(shape));
    }
    Tensor<float> value(shape);
    convert_to_float(dtype->dtype, data + begin, count, value.data(), where);
    ordered.push_back({begin, {key, std::move(value), dtype->dtype}});
  }
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [offset, t] : ordered) result.tensors.push_back(std::move(t));
  return result;
}

}  // namespace nabla

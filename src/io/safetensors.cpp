#include "nabla/io/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "nabla/error.h"

namespace nabla {

namespace fs = std::filesystem;
static_assert(std::endian::native == std::endian::little, "nabla assumes a little-endian host");

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
    const uint64_t bytes = static_cast<uint64_t>(t.value.numel()) * sizeof(float);
    header[t.name] = {
        {"dtype", "F32"}, {"shape", t.value.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned
  std::string out(8, '\0');
  const uint64_t n = json.size();
  std::memcpy(out.data(), &n, 8);
  out += json;
  for (const auto& t : tensors) {
    out.append(reinterpret_cast<const char*>(t.value.data()), t.value.numel() * sizeof(float));
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
    const auto& dtype = entry["dtype"];
    if (!dtype.is_string() || (dtype != "F32" && dtype != "F64")) {
      throw DataError(where + " has dtype " + dtype.dump() + "; only F32 and F64 are read");
    }
    const size_t elem = dtype == "F32" ? 4 : 8;
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
    if (elem == 4) {
      std::memcpy(value.data(), data + begin, count * 4);
    } else {
      for (uint64_t i = 0; i < count; ++i) {
        double v;
        std::memcpy(&v, data + begin + i * 8, 8);
        value[static_cast<int64_t>(i)] = static_cast<float>(v);
      }
    }
    ordered.push_back({begin, {key, std::move(value)}});
  }
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [offset, t] : ordered) result.tensors.push_back(std::move(t));
  return result;
}

}  // namespace nabla

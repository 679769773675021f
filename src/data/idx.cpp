#include "nabla/data/idx.h"

#include <zlib.h>

#include <climits>
#include <cstdio>

#include "data/file_bytes.h"
#include "nabla/error.h"

namespace nabla::data {

namespace fs = std::filesystem;

namespace {

bool is_gzip(const std::string& bytes) {
  return bytes.size() >= 2 && static_cast<uint8_t>(bytes[0]) == 0x1f &&
         static_cast<uint8_t>(bytes[1]) == 0x8b;
}

// Ends a zlib stream on every way out of decompress_if_gzip.
struct InflateGuard {
  z_stream* stream;
  ~InflateGuard() { inflateEnd(stream); }
};

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

}  // namespace

std::string decompress_if_gzip(const std::string& bytes, const std::string& name,
                               uint64_t max_bytes) {
  if (!is_gzip(bytes)) return bytes;
  if (bytes.size() > UINT_MAX) throw DataError(name + ": gzip file too large");
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {  // 16: a gzip header and trailer, not zlib's
    throw DataError(name + ": cannot start gzip decompression");
  }
  InflateGuard guard{&zs};
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = static_cast<uInt>(bytes.size());
  std::string out;
  unsigned char chunk[1 << 16];
  for (;;) {
    zs.next_out = chunk;
    zs.avail_out = sizeof chunk;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    const size_t produced = sizeof chunk - zs.avail_out;
    if (out.size() + produced > max_bytes) {
      throw DataError(name + ": gzip data decompresses to more than " + std::to_string(max_bytes) +
                      " bytes (refused as a likely decompression bomb)");
    }
    out.append(reinterpret_cast<const char*>(chunk), produced);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      // Concatenated gzip members decompress to the concatenation of their data.
      if (zs.avail_in >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b) {
        inflateReset(&zs);
        continue;
      }
      throw DataError(name + ": " + std::to_string(zs.avail_in) +
                      " bytes after the end of the gzip data");
    }
    if (rc == Z_BUF_ERROR) throw DataError(name + ": truncated gzip data");
    if (rc != Z_OK) {
      throw DataError(name + ": corrupt gzip data (" + (zs.msg ? zs.msg : "zlib error") + ")");
    }
  }
  return out;
}

IdxArray parse_idx(const std::string& bytes, const std::string& name) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const uint64_t size = bytes.size();
  if (size < 4) {
    throw DataError(name + ": " + std::to_string(size) +
                    " bytes, too short for an IDX header (truncated file)");
  }
  const uint32_t magic = uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
  if (magic != 0x00000801 && magic != 0x00000803) {
    throw DataError(name + ": wrong magic " + hex32(magic) +
                    ", not an unsigned-byte IDX file of labels (0x00000801) or images "
                    "(0x00000803)");
  }
  const int rank = p[3];
  const uint64_t header = 4 + 4 * static_cast<uint64_t>(rank);
  if (size < header) {
    throw DataError(name + ": " + std::to_string(size) +
                    " bytes, too short for the IDX header of " + std::to_string(header) +
                    " (truncated file)");
  }
  const uint64_t data_bytes = size - header;
  IdxArray out;
  uint64_t product = 1;
  bool over = false;  // the product exceeds data_bytes (and may not fit 64 bits)
  std::string dims_text;
  for (int d = 0; d < rank; ++d) {
    const uint8_t* q = p + 4 + 4 * d;
    const uint32_t dim = uint32_t{q[0]} << 24 | uint32_t{q[1]} << 16 | uint32_t{q[2]} << 8 | q[3];
    if (dim == 0) throw DataError(name + ": dimension " + std::to_string(d) + " is 0");
    out.dims.push_back(dim);
    dims_text += (d ? " x " : "") + std::to_string(dim);
    if (!over && product > data_bytes / dim) over = true;
    if (!over) product *= dim;
  }
  if (over || product > data_bytes) {
    throw DataError(name + ": truncated file, " + std::to_string(data_bytes) +
                    " bytes of data where the header's sizes " + dims_text + " need " +
                    (over ? "more" : std::to_string(product)));
  }
  if (product < data_bytes) {
    throw DataError(name + ": oversized file, " + std::to_string(data_bytes) +
                    " bytes of data where the header's sizes " + dims_text + " make " +
                    std::to_string(product) + " (" + std::to_string(data_bytes - product) +
                    " extra)");
  }
  out.values.assign(p + header, p + size);
  return out;
}

IdxArray read_idx_file(const fs::path& file) {
  const std::string name = file.string();
  std::string bytes = detail::read_file_bytes(file, kIdxMaxBytes);
  if (is_gzip(bytes)) bytes = decompress_if_gzip(bytes, name);
  return parse_idx(bytes, name);
}

namespace {

const char* const kFashionNames[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                       "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

// dir/base, else dir/base.gz.
fs::path find_idx(const fs::path& dir, const std::string& base) {
  std::error_code ec;
  if (fs::exists(dir / base, ec)) return dir / base;
  if (fs::exists(dir / (base + ".gz"), ec)) return dir / (base + ".gz");
  throw DataError(dir.string() + ": neither " + base + " nor " + base + ".gz found");
}

// The images and labels of one part: prefix "train" or "t10k".
LabeledImages read_part(const fs::path& dir, const std::string& prefix) {
  const fs::path images_file = find_idx(dir, prefix + "-images-idx3-ubyte");
  const fs::path labels_file = find_idx(dir, prefix + "-labels-idx1-ubyte");
  const IdxArray images = read_idx_file(images_file);
  if (images.dims.size() != 3) {
    throw DataError(images_file.string() + ": " + std::to_string(images.dims.size()) +
                    " dimension(s) where images need 3 (N, H, W)");
  }
  const IdxArray labels = read_idx_file(labels_file);
  if (labels.dims.size() != 1) {
    throw DataError(labels_file.string() + ": " + std::to_string(labels.dims.size()) +
                    " dimensions where labels need 1 (N)");
  }
  if (labels.dims[0] != images.dims[0]) {
    throw DataError(labels_file.string() + ": " + std::to_string(labels.dims[0]) +
                    " labels for the " + std::to_string(images.dims[0]) + " images of " +
                    images_file.string());
  }
  LabeledImages out{
      Tensor<float>::uninitialized({images.dims[0], 1, images.dims[1], images.dims[2]}), {}};
  out.labels.reserve(labels.values.size());
  for (size_t i = 0; i < labels.values.size(); ++i) {
    if (labels.values[i] > 9) {
      throw DataError(labels_file.string() + ": label " + std::to_string(i) + " is " +
                      std::to_string(labels.values[i]) + ", above 9");
    }
    out.labels.push_back(labels.values[i]);
  }
  float* dst = out.images.data();
  for (uint8_t v : images.values) *dst++ = static_cast<float>(v);
  return out;
}

}  // namespace

ImageSplits load_mnist(const fs::path& dir, const std::string& name) {
  if (name != "mnist" && name != "fashion-mnist") {
    throw ConfigError("name: \"" + name + "\" is neither \"mnist\" nor \"fashion-mnist\"");
  }
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw DataError(dir.string() + ": " + name + " folder not found");
  ImageSplits splits;
  splits.name = name;
  for (int c = 0; c < 10; ++c) {
    splits.classes.push_back(name == "mnist" ? std::to_string(c) : kFashionNames[c]);
  }
  splits.train = read_part(dir, "train");
  splits.test = read_part(dir, "t10k");
  const Shape& train = splits.train.images.shape();
  const Shape& test = splits.test.images.shape();
  if (train[2] != test[2] || train[3] != test[3]) {
    throw DataError(find_idx(dir, "t10k-images-idx3-ubyte").string() + ": images of " +
                    std::to_string(test[2]) + "x" + std::to_string(test[3]) +
                    " where the training images are " + std::to_string(train[2]) + "x" +
                    std::to_string(train[3]));
  }
  return splits;
}

}  // namespace nabla::data

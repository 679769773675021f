#include "nabla/data/cifar10.h"

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "nabla/data/transforms.h"

namespace nabla {

const char* const kCifarClassNames[kCifarClasses] = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};

namespace fs = std::filesystem;

namespace {

std::string size_error(const std::string& name, int64_t size, int64_t records) {
  const int64_t expected = records * kCifarRecordBytes;
  return name + ": wrong size, " + std::to_string(size) + " bytes where " +
         std::to_string(records) + " records of " + std::to_string(kCifarRecordBytes) +
         " bytes make " + std::to_string(expected) +
         (size < expected ? " (short or truncated file)" : "");
}

}  // namespace

CifarRaw read_cifar10_file(const fs::path& file, int64_t records) {
  const std::string name = file.string();
  std::error_code ec;
  if (!fs::exists(file, ec)) throw DataError(name + ": no such file");
  if (!fs::is_regular_file(file, ec)) throw DataError(name + ": not a regular file");
  const auto size = static_cast<int64_t>(fs::file_size(file, ec));
  if (ec) throw DataError(name + ": cannot read its size (" + ec.message() + ")");
  const int64_t expected = records * kCifarRecordBytes;
  if (size != expected) throw DataError(size_error(name, size, records));  // before reading it
  std::ifstream in(file, std::ios::binary);
  if (!in) throw DataError(name + ": cannot open (" + std::strerror(errno) + ")");
  std::vector<uint8_t> bytes(static_cast<size_t>(expected));
  in.read(reinterpret_cast<char*>(bytes.data()), expected);
  if (in.gcount() != expected) throw DataError(name + ": read ended early");
  return parse_cifar10(bytes.data(), bytes.size(), records, name);
}

CifarRaw parse_cifar10(const uint8_t* bytes, size_t size, int64_t records,
                       const std::string& name) {
  if (records < 0 || static_cast<int64_t>(size) != records * kCifarRecordBytes) {
    throw DataError(size_error(name, static_cast<int64_t>(size), records));
  }
  CifarRaw raw;
  raw.pixels.resize(static_cast<size_t>(records * kCifarImageBytes));
  raw.labels.resize(static_cast<size_t>(records));
  for (int64_t r = 0; r < records; ++r) {
    const uint8_t* record = bytes + r * kCifarRecordBytes;
    if (record[0] >= kCifarClasses) {
      throw DataError(name + ": record " + std::to_string(r) + " has label " +
                      std::to_string(record[0]) + ", above 9");
    }
    raw.labels[r] = record[0];
    std::memcpy(raw.pixels.data() + r * kCifarImageBytes, record + 1, kCifarImageBytes);
  }
  return raw;
}

namespace {

LabeledImages to_float(const std::vector<CifarRaw>& parts) {
  int64_t n = 0;
  for (const auto& p : parts) n += p.count();
  LabeledImages out{Tensor<float>({n, 3, 32, 32}), {}};
  out.labels.reserve(static_cast<size_t>(n));
  float* dst = out.images.data();
  for (const auto& p : parts) {
    for (uint8_t v : p.pixels) *dst++ = static_cast<float>(v);
    out.labels.insert(out.labels.end(), p.labels.begin(), p.labels.end());
  }
  return out;
}

}  // namespace

data::ImageSplits read_cifar10_splits(const fs::path& dir, int64_t records_per_file) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw DataError(dir.string() +
                    ": CIFAR-10 folder not found (give --data_dir or CIFAR10_DIR, or run "
                    "`make data`)");
  }
  std::vector<CifarRaw> train_parts;
  for (int b = 1; b <= 5; ++b) {
    train_parts.push_back(
        read_cifar10_file(dir / ("data_batch_" + std::to_string(b) + ".bin"), records_per_file));
  }
  std::vector<CifarRaw> test_parts;
  test_parts.push_back(read_cifar10_file(dir / "test_batch.bin", records_per_file));
  return {"cifar10", std::vector<std::string>(kCifarClassNames, kCifarClassNames + kCifarClasses),
          to_float(train_parts), to_float(test_parts)};
}

Cifar10 load_cifar10(const fs::path& dir, int64_t records_per_file) {
  data::ImageSplits splits = read_cifar10_splits(dir, records_per_file);
  Cifar10 data{std::move(splits.train), std::move(splits.test), {}, {}};
  data.mean_image = data::mean_image(data.train.images);
  const data::SubtractMeanImage centre(data.mean_image);
  Rng unused(0);
  centre.apply(data.train.images, unused);
  centre.apply(data.test.images, unused);
  return data;
}

void split_validation(Cifar10& data, int64_t n) {
  LabeledImages held_out = split_front(data.train, n);
  if (n > 0) data.validation = std::move(held_out);
}

fs::path resolve_data_dir(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("CIFAR10_DIR"); env && *env) return env;
  return "data/cifar-10-batches-bin";
}

DataSet::DataSet(LabeledImages data, uint64_t seed) : data_(std::move(data)), rng_(seed) {
  order_.resize(data_.labels.size());
  for (size_t i = 0; i < order_.size(); ++i) order_[i] = static_cast<int64_t>(i);
}

void DataSet::set_state(const State& state) {
  std::vector<bool> seen(static_cast<size_t>(size()), false);
  bool ok = static_cast<int64_t>(state.order.size()) == size() && state.index_in_epoch >= 0 &&
            state.index_in_epoch <= size() && state.epochs_completed >= 0;
  for (size_t i = 0; ok && i < state.order.size(); ++i) {
    const int64_t k = state.order[i];
    ok = k >= 0 && k < size() && !seen[static_cast<size_t>(k)];
    if (ok) seen[static_cast<size_t>(k)] = true;
  }
  if (!ok)
    throw std::invalid_argument("data order does not fit a data set of " + std::to_string(size()));
  order_ = state.order;
  index_in_epoch_ = state.index_in_epoch;
  epochs_completed_ = state.epochs_completed;
  rng_.set_state(state.rng);
}

LabeledImages DataSet::next_batch(int64_t batch_size) {
  if (batch_size <= 0 || batch_size > size()) {
    throw std::invalid_argument("batch size " + std::to_string(batch_size) + " must be in 1.." +
                                std::to_string(size()));
  }
  if (index_in_epoch_ + batch_size > size()) {
    ++epochs_completed_;
    rng_.shuffle(order_.begin(), order_.end());
    index_in_epoch_ = 0;
  }
  std::vector<int64_t> indices(order_.begin() + index_in_epoch_,
                               order_.begin() + index_in_epoch_ + batch_size);
  index_in_epoch_ += batch_size;
  return gather(data_, indices);
}

}  // namespace nabla

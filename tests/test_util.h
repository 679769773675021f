// Helpers shared by the tests: temporary folders, synthetic CIFAR-10 files, running the binary.
#pragma once

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "nabla/data/cifar10.h"
#include "nabla/rng.h"

namespace nabla::testing {

// A float64 tensor of normal draws with mean 0 and standard deviation `scale`.
inline Tensor<double> random_normal(Shape shape, Rng& rng, double scale = 1.0) {
  Tensor<double> t(std::move(shape));
  for (double& v : t.values()) v = rng.normal(0.0, scale);
  return t;
}

// A convolution for the kernel tests: input and weight shapes, stride and padding.
struct ConvCase {
  Shape x, w;
  int64_t stride, pad;
};

// Odd convolutions every convolution kernel must get right: one channel, batch 1, sizes that are
// no multiple of a vector, a non-square kernel, stride 2, no padding, a 1x1 kernel.
inline std::vector<ConvCase> odd_conv_cases() {
  return {{{1, 1, 5, 5}, {1, 1, 3, 3}, 1, 1},
          {{2, 3, 7, 6}, {4, 3, 3, 3}, 1, 1},
          {{3, 2, 9, 8}, {5, 2, 3, 2}, 2, 0},
          {{1, 5, 4, 4}, {3, 5, 1, 1}, 1, 0},
          {{2, 17, 3, 5}, {19, 17, 3, 3}, 2, 1}};
}

// A fresh, empty folder under the system's temp folder, removed when the object dies.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    path_ = std::filesystem::temp_directory_path() /
            ("nabla-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::filesystem::path path_;
};

inline void write_bytes(const std::filesystem::path& file, const std::vector<uint8_t>& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// `records` random CIFAR records (label, then R, G, B planes) whose pixels depend on the label,
// so a classifier can learn them.
inline std::vector<uint8_t> synthetic_records(int64_t records, Rng& rng) {
  std::vector<uint8_t> bytes;
  bytes.reserve(static_cast<size_t>(records * kCifarRecordBytes));
  for (int64_t r = 0; r < records; ++r) {
    const auto label = static_cast<uint8_t>(rng.below(kCifarClasses));
    bytes.push_back(label);
    for (int64_t i = 0; i < kCifarImageBytes; ++i) {
      const double base = 20.0 * label + 30.0 * ((i * (label + 1)) % 7);
      bytes.push_back(static_cast<uint8_t>(std::min(255.0, base + rng.uniform(0, 40))));
    }
  }
  return bytes;
}

// Writes data_batch_1..5.bin and test_batch.bin, each of `records` records.
inline void write_synthetic_cifar(const std::filesystem::path& dir, int64_t records,
                                  uint64_t seed = 1) {
  Rng rng(seed);
  for (int b = 1; b <= 5; ++b) {
    write_bytes(dir / ("data_batch_" + std::to_string(b) + ".bin"),
                synthetic_records(records, rng));
  }
  write_bytes(dir / "test_batch.bin", synthetic_records(records, rng));
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line, capturing its output.
inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// A child's exit code from waitpid's status; 128 + N when signal N ended it, as a shell says.
inline int exit_code(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Waits, however long it takes, until `file` exists or the process exits. True when the file
// appeared first; otherwise *rc is the process's exit code. An event, not a time: a loaded
// machine only makes it wait longer.
inline bool wait_for_file(pid_t pid, const std::filesystem::path& file, int* rc) {
  while (!std::filesystem::exists(file)) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      *rc = exit_code(status);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// metrics.csv without its last column (elapsed_s), the only one allowed to differ between runs.
inline std::string without_elapsed(const std::string& csv) {
  std::string out;
  size_t begin = 0;
  while (begin < csv.size()) {
    size_t end = csv.find('\n', begin);
    if (end == std::string::npos) end = csv.size();
    const std::string line = csv.substr(begin, end - begin);
    out += line.substr(0, line.rfind(',')) + "\n";
    begin = end + 1;
  }
  return out;
}

// The real CIFAR-10 folder when present ($CIFAR10_DIR or data/cifar-10-batches-bin), else "".
inline std::string real_data_dir() {
  const auto dir = resolve_data_dir("");
  return std::filesystem::exists(dir / "test_batch.bin") ? dir.string() : std::string();
}

}  // namespace nabla::testing

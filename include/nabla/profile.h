/// \file
/// Op timing and FLOP counting for `nabla bench`. Off by default, and then each hook costs one
/// branch. When on, every recorded op's forward time (the time since the previous op or mark() on
/// this thread) and every backward closure's time add up under the op's name, and the kernels add
/// the floating-point operations they do (a multiply-add counts two).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

namespace nabla::profile {

/// Turns profiling on or off, for all threads.
void enable(bool on);
/// Whether profiling is on.
bool enabled();

/// Starts the clock for the next forward op on this thread.
void mark();
/// Called by each op after its forward computation.
void forward_done(const char* op);
/// Adds seconds to the total under name; nothing when profiling is off.
void add_seconds(const std::string& name, double seconds);
/// Adds to the count of floating-point operations; nothing when profiling is off.
void add_flops(double flops);

/// Adds the bytes an op read and wrote to its total under name (for GB/s beside its seconds).
void add_bytes(const std::string& name, double bytes);

/// One pass of one convolution kernel (`nabla bench --layers`): its wall time, the FLOPs of the
/// direct convolution it computes and the least bytes it must read and write, and, for Winograd,
/// the seconds its threads spent in its GEMMs (summed over the threads) and the GEMMs' own FLOPs.
struct KernelTime {
  std::string algorithm;    ///< "winograd F(4,3)", "oneDNN direct", ...
  int64_t calls = 0;        ///< passes added up here
  double seconds = 0;       ///< wall time
  double flops = 0;         ///< of the direct convolution
  double gemm_seconds = 0;  ///< thread-seconds in the GEMMs
  double gemm_flops = 0;    ///< the GEMMs' own
  double bytes = 0;         ///< its inputs and outputs once each (a pass that only prepares: 0)
};
/// A kernel's pass: the layer (its geometry as text) and the pass ("forward", "input gradient",
/// ...).
using KernelKey = std::pair<std::string, std::string>;
/// Adds one pass to the totals under key; nothing when profiling is off.
void add_kernel(const KernelKey& key, const KernelTime& time);

/// Seconds per name and the FLOP count, summed over all threads.
struct Totals {
  std::map<std::string, double> seconds;  ///< "conv2d", "conv2d backward", "adam", ...
  double flops = 0;                     ///< floating-point operations, a multiply-add counting two
  std::map<std::string, double> bytes;  ///< read and written, by op name (where recorded)
  std::map<KernelKey, KernelTime> kernels;  ///< the convolutions' passes, by layer and pass
};
/// The totals since the last take(), which clears them.
Totals take();

/// Adds its lifetime under `name` when profiling is on.
class Scope {
 public:
  /// Starts the clock; name must outlive the scope (a string literal does).
  explicit Scope(const char* name);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  const char* name_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace nabla::profile

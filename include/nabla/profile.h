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

/// Seconds per name and the FLOP count, summed over all threads.
struct Totals {
  std::map<std::string, double> seconds;  ///< "conv2d", "conv2d backward", "adam", ...
  double flops = 0;  ///< floating-point operations, a multiply-add counting two
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

// The convolutions' part of `nabla bench --layers` (nabla/profile.h's add_kernel): a layer's name
// from its geometry, and a clock for the passes of one call and the GEMMs inside them. With
// profiling off a clock reads the time once, when it is made, and does nothing else.
#pragma once

#include <chrono>
#include <string>

#include "nabla/conv.h"
#include "nabla/profile.h"

namespace nabla::detail {

// "3x3 conv 64->256 on 15x15, stride 1, batch 1024".
inline std::string conv_layer_name(const Conv2dGeometry& g) {
  return std::to_string(g.KH) + "x" + std::to_string(g.KW) + " conv " + std::to_string(g.C) + "->" +
         std::to_string(g.O) + " on " + std::to_string(g.H) + "x" + std::to_string(g.W) +
         ", stride " + std::to_string(g.stride) + ", batch " + std::to_string(g.N);
}

// Multiply-adds of the direct convolution, counted as two FLOPs: the work every algorithm does.
inline double direct_conv_flops(const Conv2dGeometry& g) {
  return 2.0 * static_cast<double>(g.N * g.O * g.OH * g.OW) *
         static_cast<double>(g.C * g.KH * g.KW);
}

// The passes a clock tells apart.
constexpr int kForwardPass = 0, kDyPass = 1, kWeightPass = 2, kInputPass = 3;

// The float32 bytes a pass must at least read and write: each pass reads two of x, the weight and
// y (or their gradients) and writes the third, once each.
inline double conv_pass_bytes(const Conv2dGeometry& g) {
  return static_cast<double>(g.N * g.C * g.H * g.W + g.O * g.C * g.KH * g.KW +
                             g.N * g.O * g.OH * g.OW) *
         sizeof(float);
}

// Times the passes of one convolution call, which may interleave (the Winograd backward pass runs
// block by block): lap(pass) adds the time since the clock started, or since the last lap, to that
// pass; gemm(pass, f) adds the duration of f, one GEMM on any thread, to the pass's GEMM
// thread-seconds (the table divides them by the thread count: the wall time when the GEMMs split
// evenly over the threads); report(pass, ...) hands a pass's totals to profile::add_kernel.
class PassClock {
 public:
  static constexpr int kPasses = 4;

  explicit PassClock(const Conv2dGeometry& g) : g_(g), on_(profile::enabled()) {}

  template <typename F>
  void gemm(int pass, F f) {
    if (!on_) {
      f();
      return;
    }
    const Clock::time_point t0 = Clock::now();
    f();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
#pragma omp atomic
    gemm_seconds_[pass] += s;
  }

  void lap(int pass) {
    if (!on_) return;
    const Clock::time_point now = Clock::now();
    seconds_[pass] += std::chrono::duration<double>(now - start_).count();
    start_ = now;
  }

  // gemm_flops: the FLOPs of the pass's GEMMs (0 for an algorithm without them); direct: whether
  // the pass computes the convolution (its FLOPs count) or only prepares for it.
  void report(int pass, const char* name, const char* algorithm, double gemm_flops = 0,
              bool direct = true) const {
    if (!on_) return;
    profile::add_kernel({conv_layer_name(g_), name}, {.algorithm = algorithm,
                                                      .calls = 1,
                                                      .seconds = seconds_[pass],
                                                      .flops = direct ? direct_conv_flops(g_) : 0.0,
                                                      .gemm_seconds = gemm_seconds_[pass],
                                                      .gemm_flops = gemm_flops,
                                                      .bytes = direct ? conv_pass_bytes(g_) : 0.0});
  }

  // lap and report in one, for a pass that runs in one piece.
  void done(int pass, const char* name, const char* algorithm, double gemm_flops = 0) {
    lap(pass);
    report(pass, name, algorithm, gemm_flops);
  }

 private:
  using Clock = std::chrono::steady_clock;
  Conv2dGeometry g_;
  bool on_;
  Clock::time_point start_ = Clock::now();
  double seconds_[kPasses] = {}, gemm_seconds_[kPasses] = {};
};

}  // namespace nabla::detail

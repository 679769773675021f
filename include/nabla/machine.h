/// \file
/// The machine's measured ceiling, so that a benchmark can say how close a kernel runs to it:
/// the sustained float32 fused multiply-add rate of the instruction set in use, on one core and
/// on all OpenMP threads, and the memory bandwidth.
#pragma once

namespace nabla {

/// What measure_machine_peak found.
struct MachinePeak {
  int threads = 1;                ///< OpenMP threads of the all-threads figure
  double gflops_one_core = 0;     ///< float32 GFLOPS of one core (a multiply-add counts two)
  double gflops_all_threads = 0;  ///< float32 GFLOPS of all threads at once
  double bandwidth_gbs = 0;       ///< GB/s read plus written by b = s * a over 2 x 256 MiB
};

/// Runs a loop of independent multiply-adds in vector registers (fused where the instruction set in
/// use has FMA, as nabla's kernels) on one thread, then on every thread, and a scaled copy over
/// arrays larger than most last-level caches on every thread: the median of `repeats` runs of each
/// (a few hundredths of a second a run on an AVX-512 core).
MachinePeak measure_machine_peak(int repeats = 5);

}  // namespace nabla

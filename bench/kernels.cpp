// The machine's ceiling and nabla's GEMM against it (issue 24): the sustained float32 FMA rate on
// one core and on all threads (a loop of independent fused multiply-adds in registers, the build
// for the instruction set in use), the memory bandwidth (b = s * a over arrays larger than the
// last-level cache), and the Winograd convolutions' products of airbench at batch 1024 (per
// position: forward V U^T, input gradient dM U, weight gradient dM^T V) in nabla's own kernel
// (src/tensor/gemm_kernel.h), in oneDNN's SGEMM and in LIBXSMM's JIT kernels (src/tensor/xsmm.h,
// what the AVX-512 Winograd build runs), each as GFLOPS per core and percent of the measured peak
// (nabla/machine.h). Two settings: one block of tiles in cache on one core, and the
// whole batch with the positions spread over the threads, as the unfused Winograd passes run them.
//   build/release/bench_kernels [--repeats N]     (medians of N runs; OMP_NUM_THREADS sets threads)
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "nabla/machine.h"
#include "simd/simd.h"
#include "tensor/gemm_kernel.h"
#include "tensor/xsmm.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_of(const std::function<void()>& f) {
  const auto start = Clock::now();
  f();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median_seconds(int repeats, const std::function<void()>& f) {
  f();  // warm-up: page faults, oneDNN's JIT, clock ramp
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) t.push_back(seconds_of(f));
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// One Winograd layer of airbench at batch 1024: T tiles, C input and O output channels.
struct Layer {
  const char* name;
  int64_t T, C, O, positions;
};

// The three products of one position, in one of three kernels. V is [t][c] and dM [t][o]; U is
// read as each kernel reads it best, [c][o] by nabla's and LIBXSMM's forward and [o][c] by
// oneDNN's ('T') (the values are constant, so both hold the same numbers). LIBXSMM's weight
// gradient runs in slices of 256 tiles, as in the Winograd code (which also sums each slice from
// zero before adding it: an add pass over dU that this leaves out).
enum class Pass { kForward, kInputGradient, kWeightGradient };
enum class Kernel { kNabla, kOneDnn, kLibxsmm };

void product(Pass pass, Kernel kernel, int64_t T, int64_t C, int64_t O, const float* V,
             const float* U, const float* dM, float* out) {
  using nabla::detail::gemm_f32;
  thread_local nabla::detail::SmallGemm small;
  if (kernel == Kernel::kLibxsmm) {
    switch (pass) {
      case Pass::kForward:
        return small(O, T, C, U, O, V, C, out, O);
      case Pass::kInputGradient:
        return small(C, T, O, U, C, dM, O, out, C);
      case Pass::kWeightGradient:
        for (int64_t t0 = 0; t0 < T; t0 += 256) {
          small(C, O, std::min<int64_t>(256, T - t0), V + t0 * C, C, dM + t0 * O, O, out, C, t0 > 0,
                true);
        }
        return;
    }
  }
  const bool own = kernel == Kernel::kNabla;
  switch (pass) {
    case Pass::kForward:
      if (own) {
        gemm_f32({.M = T,
                  .N = O,
                  .K = C,
                  .a = V,
                  .a_row = C,
                  .a_col = 1,
                  .b = U,
                  .b_row = O,
                  .b_col = 1,
                  .c = out,
                  .ldc = O});
      } else {
        dnnl_sgemm('N', 'T', T, O, C, 1.0F, V, C, U, C, 0.0F, out, O);
      }
      return;
    case Pass::kInputGradient:
      if (own) {
        gemm_f32({.M = T,
                  .N = C,
                  .K = O,
                  .a = dM,
                  .a_row = O,
                  .a_col = 1,
                  .b = U,
                  .b_row = 1,
                  .b_col = O,
                  .c = out,
                  .ldc = C});
      } else {
        dnnl_sgemm('N', 'N', T, C, O, 1.0F, dM, O, U, C, 0.0F, out, C);
      }
      return;
    case Pass::kWeightGradient:
      if (own) {
        gemm_f32({.M = O,
                  .N = C,
                  .K = T,
                  .a = dM,
                  .a_row = 1,
                  .a_col = O,
                  .b = V,
                  .b_row = C,
                  .b_col = 1,
                  .c = out,
                  .ldc = C});
      } else {
        dnnl_sgemm('T', 'N', O, C, T, 1.0F, dM, O, V, C, 0.0F, out, C);
      }
      return;
  }
}

// GFLOPS per core of `pass` for `positions` positions of T tiles spread over `threads` threads,
// each product run `rounds` times in a row (on the same operands: in cache when they fit).
double product_gflops(Pass pass, Kernel kernel, const Layer& l, int64_t T, int64_t positions,
                      int threads, int repeats, int rounds = 1) {
  const auto size = [](int64_t n) { return static_cast<size_t>(n); };
  std::vector<float> V(size(positions * T * l.C), 0.5F), U(size(positions * l.C * l.O), 0.25F),
      dM(size(positions * T * l.O), 0.125F);
  std::vector<float> out(size(positions * std::max({T * l.O, T * l.C, l.O * l.C})));
  const int64_t out_stride = std::max({T * l.O, T * l.C, l.O * l.C});
  // One thread: no parallel region, and OpenMP capped at one thread, or oneDNN (which starts its
  // own threads outside an active parallel region) would not run on one core.
  const int threads_before = omp_get_max_threads();
  if (threads == 1) omp_set_num_threads(1);
  const double s = median_seconds(repeats, [&] {
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (int64_t xi = 0; xi < positions; ++xi) {
      for (int r = 0; r < rounds; ++r) {
        product(pass, kernel, T, l.C, l.O, V.data() + xi * T * l.C, U.data() + xi * l.C * l.O,
                dM.data() + xi * T * l.O, out.data() + xi * out_stride);
      }
    }
  });
  omp_set_num_threads(threads_before);
  return 2.0 * static_cast<double>(positions * T) * l.C * l.O * rounds / s / 1e9 / threads;
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 5;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) {
      repeats = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: bench_kernels [--repeats N]\n");
      return 2;
    }
  }
  const int threads = omp_get_max_threads();
  const auto shape = nabla::detail::gemm_build().shape;
  std::printf("bench_kernels: %s build, micro-kernel %d x %d, %d threads, medians of %d\n",
              nabla::simd::isa_name(nabla::simd::active_isa()).c_str(), shape.mr, shape.nr, threads,
              repeats);
  const nabla::MachinePeak peak = nabla::measure_machine_peak(repeats);
  const double peak1 = peak.gflops_one_core, peak_all = peak.gflops_all_threads;
  std::printf("FMA peak: 1 core %.1f GFLOPS, %d threads %.1f GFLOPS (%.1f a core)\n", peak1,
              threads, peak_all, peak_all / threads);
  std::printf("memory bandwidth (b = s * a, 2 x 256 MiB, %d threads): %.1f GB/s\n", threads,
              peak.bandwidth_gbs);

  const Layer layers[] = {{"24->64 at 31x31, F(4,3)", 65536, 24, 64, 36},
                          {"64->64 at 15x15, F(4,3)", 16384, 64, 64, 36},
                          {"64->256 at 15x15, F(4,3)", 16384, 64, 256, 36},
                          {"256->256 at 7x7, F(4,3)", 4096, 256, 256, 36},
                          {"256->256 at 3x3, F(2,3)", 4096, 256, 256, 16}};
  const struct {
    Pass pass;
    const char* name;
  } passes[] = {{Pass::kForward, "forward"},
                {Pass::kInputGradient, "input gradient"},
                {Pass::kWeightGradient, "weight gradient"}};
  // In cache: one position, 256 tiles (forward and input gradient: the rows of a block of
  // tiles as oneDNN's blocks have them, LIBXSMM's forward blocks being 16-80 tiles; weight
  // gradient: its depth), one core. Whole batch: every tile of 2 x threads
  // positions, spread over the threads.
  constexpr int64_t kBlockTiles = 256;
  std::printf("\n%-26s %-16s | %-41s | %-41s\n", "layer (GEMM per position)", "pass",
              "in cache, 1 core: nabla / oneDNN / LIBXSMM", "whole batch, all threads");
  constexpr Kernel kKernels[] = {Kernel::kNabla, Kernel::kOneDnn, Kernel::kLibxsmm};
  for (const Layer& l : layers) {
    for (const auto& p : passes) {
      std::printf("%-26s %-16s |", l.name, p.name);
      // The kernels take turns on each shape, so that a slow spell of a shared machine falls on
      // all three alike.
      for (const Kernel k : kKernels) {
        const double block = product_gflops(p.pass, k, l, kBlockTiles, 1, 1, repeats, 100);
        std::printf(" %5.1f %3.0f%%", block, 100 * block / peak1);
      }
      std::printf(" |");
      const int64_t positions = std::min<int64_t>(l.positions, 2 * threads);
      for (const Kernel k : kKernels) {
        const double all = product_gflops(p.pass, k, l, l.T, positions, threads, repeats);
        std::printf(" %5.1f %3.0f%%", all, 100 * all * threads / peak_all);
      }
      std::printf("\n");
    }
  }
  std::printf(
      "(GFLOPS a core and percent of the measured FMA peak: in cache against one core's, "
      "whole batch against all threads')\n");
  return 0;
}

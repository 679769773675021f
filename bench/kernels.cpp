// The machine's ceiling and nabla's GEMM against it (issue 24): the sustained float32 FMA rate on
// one core and on all threads (a loop of independent fused multiply-adds in registers, the build
// for the instruction set in use), the memory bandwidth (b = s * a over arrays larger than the
// last-level cache), and the Winograd convolutions' products of airbench at batch 1024 (per
// position: forward V U^T, input gradient dM U, weight gradient dM^T V) in nabla's own kernel
// (src/tensor/gemm_kernel.h) and in oneDNN's SGEMM, each as GFLOPS per core and percent of the
// measured peak (nabla/machine.h). Two settings: one block of tiles in cache on one core, and the
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

// The three products of one position; `own` picks nabla's kernel or oneDNN's SGEMM. V is
// [t][c] and dM [t][o]; U is read as each kernel reads it best, [c][o] by nabla's forward and
// [o][c] by oneDNN's ('T'), which the Winograd code stores (the values are constant, so both hold
// the same numbers).
enum class Pass { kForward, kInputGradient, kWeightGradient };

void product(Pass pass, bool own, int64_t T, int64_t C, int64_t O, const float* V, const float* U,
             const float* dM, float* out) {
  using nabla::detail::gemm_f32;
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
double product_gflops(Pass pass, bool own, const Layer& l, int64_t T, int64_t positions,
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
        product(pass, own, T, l.C, l.O, V.data() + xi * T * l.C, U.data() + xi * l.C * l.O,
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
  // tiles; weight gradient: its depth), one core. Whole batch: every tile of 2 x threads
  // positions, spread over the threads.
  constexpr int64_t kBlockTiles = 256;
  std::printf("\n%-26s %-16s | %-27s | %-27s\n", "layer (GEMM per position)", "pass",
              "in cache, 1 core: nabla/oneDNN", "whole batch, all threads");
  for (const Layer& l : layers) {
    for (const auto& p : passes) {
      const double own_block = product_gflops(p.pass, true, l, kBlockTiles, 1, 1, repeats, 100);
      const double dnnl_block = product_gflops(p.pass, false, l, kBlockTiles, 1, 1, repeats, 100);
      const int64_t positions = std::min<int64_t>(l.positions, 2 * threads);
      const double own_all = product_gflops(p.pass, true, l, l.T, positions, threads, repeats);
      const double dnnl_all = product_gflops(p.pass, false, l, l.T, positions, threads, repeats);
      std::printf("%-26s %-16s | %5.1f %3.0f%% / %5.1f %3.0f%% | %5.1f %3.0f%% / %5.1f %3.0f%%\n",
                  l.name, p.name, own_block, 100 * own_block / peak1, dnnl_block,
                  100 * dnnl_block / peak1, own_all, 100 * own_all * threads / peak_all, dnnl_all,
                  100 * dnnl_all * threads / peak_all);
    }
  }
  std::printf(
      "(GFLOPS a core and percent of the measured FMA peak: in cache against one core's, "
      "whole batch against all threads')\n");
  return 0;
}

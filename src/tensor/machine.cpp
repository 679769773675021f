#include "nabla/machine.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "tensor/gemm_kernel.h"

namespace nabla {
namespace {

// The median seconds of `repeats` runs of f, after one run that warms the caches, the pages and
// the clock.
double median_seconds(int repeats, const std::function<void()>& f) {
  using Clock = std::chrono::steady_clock;
  f();
  std::vector<double> t;
  for (int r = 0; r < std::max(repeats, 1); ++r) {
    const auto start = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

double fma_gflops(int threads, int repeats) {
  const detail::GemmBuild& build = detail::gemm_build();
  constexpr int64_t kIterations = 4000000;
  std::vector<float> results(static_cast<size_t>(threads));
  int ran = 1;  // the threads OpenMP gave
  const double s = median_seconds(repeats, [&] {
#pragma omp parallel num_threads(threads)
    {
      results[static_cast<size_t>(omp_get_thread_num())] = build.fma_peak_loop(kIterations);
#pragma omp single
      ran = omp_get_num_threads();
    }
  });
  return ran * static_cast<double>(kIterations) * build.flops_per_iteration / s / 1e9;
}

double bandwidth_gbs(int repeats) {
  constexpr int64_t kFloats = (int64_t{256} << 20) / static_cast<int64_t>(sizeof(float));
  // Uninitialised, then first touched by the threads that later copy them (their own memory
  // where there are several memory nodes).
  const std::unique_ptr<float[]> a(new float[kFloats]), b(new float[kFloats]);
  float* pa = a.get();
  float* pb = b.get();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < kFloats; ++i) pa[i] = pb[i] = 1.0F;
  const double s = median_seconds(repeats, [&] {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < kFloats; ++i) pb[i] = 1.0001F * pa[i];
  });
  return 2.0 * static_cast<double>(kFloats) * sizeof(float) / s / 1e9;
}

}  // namespace

MachinePeak measure_machine_peak(int repeats) {
  const int threads = omp_get_max_threads();
  return {.threads = threads,
          .gflops_one_core = fma_gflops(1, repeats),
          .gflops_all_threads = fma_gflops(threads, repeats),
          .bandwidth_gbs = bandwidth_gbs(repeats)};
}

}  // namespace nabla

#include "train/bench_layers.h"

#include <algorithm>
#include <cstdio>
#include <string>

namespace nabla {

void print_peak(const MachinePeak& peak, std::ostream& out) {
  char line[256];
  std::snprintf(line, sizeof line,
                "measured peak: float32 FMA %.1f GFLOPS on 1 core, %.1f on %d threads; memory "
                "%.1f GB/s (b = s * a, %d threads)\n",
                peak.gflops_one_core, peak.gflops_all_threads, peak.threads, peak.bandwidth_gbs,
                peak.threads);
  out << line;
}

void print_layers(const BenchResult& r, const MachinePeak& peak, std::ostream& out) {
  const auto steps = static_cast<double>(r.step_seconds.size());
  char line[512];
  out << "  convolutions, per step (GFLOPS: of the direct convolution; GEMM: the pass's GEMMs, "
         "their wall time and percent of one core's peak on each thread):\n";
  std::snprintf(line, sizeof line, "    %-46s %-26s %-30s %6s %8s %8s %9s %6s\n", "layer", "pass",
                "algorithm", "GFLOP", "ms", "GFLOPS", "GEMM ms", "GEMM %");
  out << line;
  double conv_seconds = 0;
  // The step's bound: each pass at the peak of all threads for its GEMMs' FLOPs (the direct
  // convolution's where it has no GEMMs) or at the bandwidth for its least bytes, whichever takes
  // longer; each memory-bound op at the bandwidth; the other ops (optimizer, loss, ...) free.
  const double flop_rate = peak.gflops_all_threads * 1e9, byte_rate = peak.bandwidth_gbs * 1e9;
  double bound = 0;
  for (const auto& [key, k] : r.step_kernels) {
    const double seconds = k.seconds / steps;
    conv_seconds += seconds;
    bound += std::max((k.gemm_flops > 0 ? k.gemm_flops : k.flops) / steps / flop_rate,
                      k.bytes / steps / byte_rate);
    // The GEMMs run one per thread: their thread-seconds over the threads is their wall time.
    const double gemm_wall = k.gemm_seconds / steps / peak.threads;
    const double gemm_percent =
        k.gemm_seconds > 0 ? 100.0 * k.gemm_flops / k.gemm_seconds / 1e9 / peak.gflops_one_core
                           : 0.0;
    std::snprintf(line, sizeof line, "    %-46s %-26s %-30s %6.2f %8.1f %8.1f", key.first.c_str(),
                  key.second.c_str(), k.algorithm.c_str(), k.flops / steps * 1e-9, seconds * 1e3,
                  seconds > 0 ? k.flops / steps / seconds * 1e-9 : 0.0);
    out << line;
    if (k.gemm_seconds > 0) {
      std::snprintf(line, sizeof line, " %9.1f %5.0f%%", gemm_wall * 1e3, gemm_percent);
      out << line;
    }
    out << "\n";
  }
  std::snprintf(line, sizeof line, "    convolutions in all: %.1f ms of a %.1f ms step\n",
                conv_seconds * 1e3, median(r.step_seconds) * 1e3);
  out << line;
  out << "  memory-bound ops, per step (GB: the least they must read and write):\n";
  std::snprintf(line, sizeof line, "    %-26s %8s %8s %8s %8s\n", "op", "GB", "ms", "GB/s",
                "% of bw");
  out << line;
  for (const auto& [op, bytes] : r.step_bytes) {
    bound += bytes / steps / byte_rate;
    const auto it = r.step_breakdown.find(op);
    if (it == r.step_breakdown.end() || it->second <= 0) continue;
    const double gb = bytes / steps * 1e-9, gbs = gb / it->second;
    std::snprintf(line, sizeof line, "    %-26s %8.3f %8.1f %8.1f %7.0f%%\n", op.c_str(), gb,
                  it->second * 1e3, gbs, 100.0 * gbs / peak.bandwidth_gbs);
    out << line;
  }
  std::snprintf(line, sizeof line,
                "  bound of the step: %.1f ms (each convolution pass at %.1f GFLOPS for its GEMMs "
                "or at %.1f GB/s for its bytes, whichever is longer; the ops above at %.1f GB/s); "
                "the step takes %.2fx that\n",
                bound * 1e3, peak.gflops_all_threads, peak.bandwidth_gbs, peak.bandwidth_gbs,
                bound > 0 ? median(r.step_seconds) / bound : 0.0);
  out << line << std::flush;
}

}  // namespace nabla

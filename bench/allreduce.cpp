// The time of one MPI_Allreduce (sum, float) of each size given in megabytes, through
// nabla::dist's Communicator, on the processes mpirun started: the median of --repeats, after
// two warm-up rounds. Rank 0 prints one line per size:
//   allreduce MB median_ms bus_GB/s
// where bus_GB/s is 2 (P-1)/P * bytes / time, the bandwidth a ring allreduce needs (NCCL's
// "bus bandwidth"), comparable across process counts.
//   mpirun -np 2 build/release/bench_allreduce [--repeats N] MB...
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "nabla/dist/communicator.h"

int main(int argc, char** argv) {
  const nabla::dist::Environment mpi;
  const nabla::dist::Communicator world = mpi.world();
  int repeats = 20;
  std::vector<double> sizes_mb;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--repeats" && i + 1 < argc) {
      repeats = std::max(1, std::atoi(argv[++i]));
    } else {
      sizes_mb.push_back(std::atof(argv[i]));
    }
  }
  for (const double mb : sizes_mb) {
    std::vector<float> values(static_cast<size_t>(mb * 1e6 / sizeof(float)), 1.0F);
    std::vector<double> ms;
    for (int r = 0; r < repeats + 2; ++r) {
      world.barrier();
      const auto start = std::chrono::steady_clock::now();
      world.sum(values);
      const double t =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      if (r >= 2) ms.push_back(t);
    }
    std::nth_element(ms.begin(), ms.begin() + static_cast<long>(ms.size() / 2), ms.end());
    // The collective takes as long as its slowest process: the largest of the medians.
    std::vector<double> medians(static_cast<size_t>(world.size()), 0.0);
    medians[static_cast<size_t>(world.rank())] = ms[ms.size() / 2];
    world.sum(medians);
    const double worst = *std::max_element(medians.begin(), medians.end());
    const double p = world.size();
    const double bus = p > 1 ? 2 * (p - 1) / p * mb * 1e6 / (worst * 1e-3) / 1e9 : 0;
    if (world.rank() == 0) std::printf("allreduce %.3f %.3f %.2f\n", mb, worst, bus);
  }
  return 0;
}

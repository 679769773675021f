// `nabla bench --layers`: a training step per convolution pass (algorithm, GFLOP, time, GFLOPS,
// and the GEMMs' time and percent of one core's measured peak) and per memory-bound op (batch
// norm, GELU, pooling: GB/s and percent of the measured bandwidth), and the step against its bound
// from those FLOPs and bytes at the measured peak.
#pragma once

#include <ostream>

#include "nabla/machine.h"
#include "train/bench.h"

namespace nabla {

void print_peak(const MachinePeak& peak, std::ostream& out);
void print_layers(const BenchResult& result, const MachinePeak& peak, std::ostream& out);

}  // namespace nabla

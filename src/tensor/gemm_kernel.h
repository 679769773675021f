// nabla's own float32 GEMM, made for the Winograd convolutions' per-position products
// (src/tensor/gemm_kernel.cpp): a register-blocked micro-kernel (Goto and van de Geijn's scheme,
// as BLIS and LIBXSMM use it), built for AVX-512, AVX2 and plain x86-64 like src/simd's kernels,
// the build for the instruction set in use chosen at run time. It is single-threaded, and a
// product's sums always run in one order for given sizes. The convolutions do not use it yet:
// inside them it measured slower than oneDNN's SGEMM (bench_kernels, `nabla bench --layers`;
// docs/results.md).
#pragma once

#include <cstdint>

namespace nabla::detail {

// C (M x N) = A (M x K) B (K x N), or C += A B when accumulate. A's element (i, k) is at
// a[i * a_row + k * a_col]: a row-major A has a_row = its leading dimension and a_col = 1, a
// transposed one a_row = 1 and a_col = its leading dimension; one of the two must be 1 (else
// std::invalid_argument). B's element (k, n) is at
// b[k * b_row + n * b_col] in the same way; C is row-major with leading dimension ldc.
struct GemmOperands {
  int64_t M, N, K;
  const float* a;
  int64_t a_row, a_col;
  const float* b;
  int64_t b_row, b_col;
  float* c;
  int64_t ldc;
  bool accumulate = false;
};

void gemm_f32(const GemmOperands& p);

// The micro-kernel's shape: rows of C (mr) by columns (nr), and the lanes of a vector register.
struct GemmShape {
  int mr, nr, lanes;
};

// One instruction set's build. fma_peak_loop runs independent fused multiply-adds on registers,
// for the machine's sustained float32 peak: `iterations` rounds of flops_per_iteration
// floating-point operations; it returns a value that depends on every one, so none is left out.
struct GemmBuild {
  void (*gemm)(const GemmOperands& p);
  GemmShape shape;
  float (*fma_peak_loop)(int64_t iterations);
  double flops_per_iteration;
};

// The build for the instruction set in use (gemm_f32 calls its gemm).
const GemmBuild& gemm_build();

}  // namespace nabla::detail

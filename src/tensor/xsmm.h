// The one way nabla calls LIBXSMM: its JIT-compiled small-GEMM kernels for the Winograd
// convolutions' per-position products (src/tensor/winograd_impl.h's AVX-512 build), which measure
// faster there than oneDNN's SGEMM (bench/kernels.cpp, docs/results.md). Column-major like
// LIBXSMM:
//   c (m x n, leading dimension ldc) = a (m x k, lda) b (k x n, ldb), plus c when accumulate;
// with trans_b, b is stored n x k (ldb) and read transposed. Each call runs on the calling thread
// with a kernel that depends only on the shape, so that results are the same on any number of
// threads. A kernel LIBXSMM cannot make (std::runtime_error naming the caller and the shape) is
// only recorded, as the calls run on OpenMP threads where no exception can escape; check() after
// the parallel region throws it.
#pragma once

#include <atomic>
#include <cstdint>

namespace nabla::detail {

class SmallGemm {
 public:
  SmallGemm();
  void operator()(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                  int64_t ldb, float* c, int64_t ldc, bool accumulate = false,
                  bool trans_b = false) noexcept;
  void check(const char* caller) const;

 private:
  std::atomic<bool> failed_{false};
  // The first shape that failed, for check()'s message.
  std::atomic<int64_t> m_{0}, n_{0}, k_{0};
};

}  // namespace nabla::detail

// The one way nabla calls oneDNN's SGEMM. A Sgemm object initialises oneDNN (NABLA_MAX_ISA) when
// made; each call runs one row-major product C = alpha op(A) op(B) + beta C ('N' or 'T') and, as
// it may run on OpenMP threads where no exception can escape, only records a failure; check(),
// after the parallel region, throws std::runtime_error naming the caller and oneDNN's status.
#pragma once

#include <atomic>
#include <cstdint>

namespace nabla::detail {

class Sgemm {
 public:
  Sgemm();
  void operator()(char trans_a, char trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                  const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                  int64_t ldc) noexcept;
  void check(const char* caller) const;

 private:
  std::atomic<int> status_;
};

}  // namespace nabla::detail

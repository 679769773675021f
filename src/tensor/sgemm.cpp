#include "tensor/sgemm.h"

#include <oneapi/dnnl/dnnl.h>

#include <stdexcept>
#include <string>

#include "tensor/conv_dnnl.h"

namespace nabla::detail {

Sgemm::Sgemm() : status_(dnnl_success) { init_dnnl(); }

void Sgemm::operator()(char trans_a, char trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                       const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                       float* C, int64_t ldc) noexcept {
  const dnnl_status_t s = dnnl_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  if (s != dnnl_success) {
    int expected = dnnl_success;
    status_.compare_exchange_strong(expected, static_cast<int>(s));
  }
}

void Sgemm::check(const char* caller) const {
  const int s = status_.load();
  if (s != dnnl_success) {
    throw std::runtime_error(std::string(caller) + ": oneDNN's SGEMM failed with status " +
                             std::to_string(s));
  }
}

}  // namespace nabla::detail

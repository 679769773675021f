#include "tensor/xsmm.h"

#include <libxsmm.h>

#include <stdexcept>
#include <string>

namespace nabla::detail {

SmallGemm::SmallGemm() {
  // libxsmm_init is idempotent and thread-safe; dispatching before it also works, but
  // initialising once here keeps the first GEMM of a parallel region from paying for it.
  static const bool initialised = [] {
    libxsmm_init();
    return true;
  }();
  (void)initialised;
}

void SmallGemm::operator()(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                           const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate,
                           bool trans_b) noexcept {
  const libxsmm_blasint lm = m, ln = n, lk = k, la = lda, lb = ldb, lc = ldc;
  const float alpha = 1.0F, beta = accumulate ? 1.0F : 0.0F;
  const int flags = (trans_b ? LIBXSMM_GEMM_FLAG_TRANS_B : LIBXSMM_GEMM_FLAG_NONE) |
                    (accumulate ? 0 : LIBXSMM_GEMM_FLAG_BETA_0);
  const int prefetch = LIBXSMM_GEMM_PREFETCH_NONE;
  // LIBXSMM keeps the kernels it made in its own cache, keyed by the shape: dispatching again is
  // a look-up.
  const libxsmm_smmfunction kernel =
      libxsmm_smmdispatch(lm, ln, lk, &la, &lb, &lc, &alpha, &beta, &flags, &prefetch);
  if (kernel == nullptr) {
    if (!failed_.exchange(true)) {
      m_ = m;
      n_ = n;
      k_ = k;
    }
    return;
  }
  kernel(a, b, c);
}

void SmallGemm::check(const char* caller) const {
  if (failed_.load()) {
    throw std::runtime_error(std::string(caller) + ": LIBXSMM made no kernel for the product " +
                             std::to_string(m_.load()) + " x " + std::to_string(n_.load()) + " x " +
                             std::to_string(k_.load()));
  }
}

}  // namespace nabla::detail

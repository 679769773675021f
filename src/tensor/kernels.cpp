#include "nabla/kernels.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <type_traits>

#include "nabla/profile.h"
#include "simd/simd.h"
#include "tensor/sgemm.h"

namespace nabla {
namespace {

CBLAS_TRANSPOSE to_cblas(Trans t) { return t == Trans::kYes ? CblasTrans : CblasNoTrans; }

void require_rank2(const Shape& s, const char* what) {
  if (s.size() != 2) {
    throw std::invalid_argument(std::string(what) + " must be a matrix, got shape " + shape_str(s));
  }
}

}  // namespace

template <typename T>
void gemm(Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  profile::add_flops(2.0 * static_cast<double>(M) * static_cast<double>(N) *
                     static_cast<double>(K));
  const auto m = static_cast<blasint>(M), n = static_cast<blasint>(N), k = static_cast<blasint>(K);
  if constexpr (std::is_same_v<T, float>) {
    // oneDNN's SGEMM: AVX-512 kernels chosen at run time (OpenBLAS is capped at AVX2 where
    // OPENBLAS_CORETYPE=Haswell), on the same OpenMP threads as every other kernel.
    detail::Sgemm sgemm;
    const char ta = trans_a == Trans::kYes ? 'T' : 'N', tb = trans_b == Trans::kYes ? 'T' : 'N';
    // A small product runs on one thread, inside a parallel region (where oneDNN runs one thread
    // itself): its sums then never depend on the thread count, which oneDNN's own threading may
    // split them by; that is how the ConvNet's last layer keeps its training the same bits on
    // any thread count. Larger products keep oneDNN's threading (sharing packed panels between
    // threads, which splitting C into per-thread calls lost; docs/results.md, session 5).
    // Inside a parallel region a failure cannot be thrown (the caller's region would end the
    // process): callers there use a detail::Sgemm of their own and check it after the region.
    constexpr int64_t kSmallWork = int64_t{1} << 20;
    const auto run = [&] { sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc); };
    if (omp_in_parallel() || M * N * K > kSmallWork) {
      run();
    } else {
#pragma omp parallel
      {
#pragma omp single
        run();
      }
    }
    sgemm.check("gemm");
  } else {
    cblas_dgemm(CblasRowMajor, to_cblas(trans_a), to_cblas(trans_b), m, n, k, alpha, A,
                static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C,
                static_cast<blasint>(ldc));
  }
}

template <typename T>
void gemm_reference(Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                    const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < K; ++p) {
        const T a = trans_a == Trans::kYes ? A[p * lda + i] : A[i * lda + p];
        const T b = trans_b == Trans::kYes ? B[j * ldb + p] : B[p * ldb + j];
        acc += static_cast<double>(a) * static_cast<double>(b);
      }
      T& c = C[i * ldc + j];
      c = static_cast<T>(alpha * acc + (beta == T(0) ? T(0) : beta * c));
    }
  }
}

template <typename T>
Tensor<T> matmul(const Tensor<T>& a, const Tensor<T>& b, Trans trans_a, Trans trans_b) {
  require_rank2(a.shape(), "matmul's left operand");
  require_rank2(b.shape(), "matmul's right operand");
  const int64_t M = trans_a == Trans::kYes ? a.dim(1) : a.dim(0);
  const int64_t K = trans_a == Trans::kYes ? a.dim(0) : a.dim(1);
  const int64_t Kb = trans_b == Trans::kYes ? b.dim(1) : b.dim(0);
  const int64_t N = trans_b == Trans::kYes ? b.dim(0) : b.dim(1);
  if (K != Kb) {
    throw std::invalid_argument("matmul: inner sizes differ, " + shape_str(a.shape()) + " and " +
                                shape_str(b.shape()));
  }
  // With K = 0 the product is zero; otherwise the GEMM (beta 0) writes every element.
  Tensor<T> c = K == 0 ? Tensor<T>({M, N}) : Tensor<T>::uninitialized({M, N});
  gemm(trans_a, trans_b, M, N, K, T(1), a.data(), a.dim(1), b.data(), b.dim(1), T(0), c.data(), N);
  return c;
}

template <typename T>
void add_row_vector(Tensor<T>& out, const Tensor<T>& bias) {
  require_rank2(out.shape(), "add_row_vector's output");
  const int64_t rows = out.dim(0), cols = out.dim(1);
  if (bias.numel() != cols) {
    throw std::invalid_argument("add_row_vector: bias of shape " + shape_str(bias.shape()) +
                                " for rows of " + std::to_string(cols));
  }
  T* o = out.data();
  const T* b = bias.data();
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) o[i * cols + j] += b[j];
  }
}

template <typename T>
Tensor<T> sum_rows(const Tensor<T>& x) {
  require_rank2(x.shape(), "sum_rows' input");
  const int64_t rows = x.dim(0), cols = x.dim(1);
  std::vector<double> acc(static_cast<size_t>(cols), 0.0);
  const T* p = x.data();
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) acc[j] += p[i * cols + j];
  }
  Tensor<T> out({cols});
  for (int64_t j = 0; j < cols; ++j) out[j] = static_cast<T>(acc[j]);
  return out;
}

template <typename T>
std::vector<int64_t> argmax_rows(const Tensor<T>& x) {
  require_rank2(x.shape(), "argmax_rows' input");
  const int64_t rows = x.dim(0), cols = x.dim(1);
  std::vector<int64_t> idx(static_cast<size_t>(rows), 0);
  for (int64_t i = 0; i < rows; ++i) {
    const T* row = x.data() + i * cols;
    for (int64_t j = 1; j < cols; ++j) {
      if (row[j] > row[idx[i]]) idx[i] = j;
    }
  }
  return idx;
}

template <typename T>
void axpy(T alpha, const Tensor<T>& x, Tensor<T>& y) {
  if (x.numel() != y.numel()) {
    throw std::invalid_argument("axpy: shapes " + shape_str(x.shape()) + " and " +
                                shape_str(y.shape()) + " differ in size");
  }
  const T* px = x.data();
  T* py = y.data();
  if constexpr (std::is_same_v<T, float>) {
    simd::axpy(alpha, px, py, x.numel());
  } else {
    for (int64_t i = 0; i < x.numel(); ++i) py[i] += alpha * px[i];
  }
}

template <typename T>
bool all_finite(const Tensor<T>& x) {
  if constexpr (std::is_same_v<T, float>) {
    return simd::all_finite(x.data(), x.numel());
  } else {
    return std::all_of(x.values().begin(), x.values().end(), [](T v) { return std::isfinite(v); });
  }
}

template <typename T>
T max_abs_diff(const Tensor<T>& a, const Tensor<T>& b) {
  if (a.shape() != b.shape()) {
    throw std::invalid_argument("max_abs_diff: shapes " + shape_str(a.shape()) + " and " +
                                shape_str(b.shape()) + " differ");
  }
  T worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

#define NABLA_INSTANTIATE_KERNELS(T)                                                             \
  template void gemm<T>(Trans, Trans, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, \
                        int64_t, T, T*, int64_t);                                                \
  template void gemm_reference<T>(Trans, Trans, int64_t, int64_t, int64_t, T, const T*, int64_t, \
                                  const T*, int64_t, T, T*, int64_t);                            \
  template Tensor<T> matmul<T>(const Tensor<T>&, const Tensor<T>&, Trans, Trans);                \
  template void add_row_vector<T>(Tensor<T>&, const Tensor<T>&);                                 \
  template Tensor<T> sum_rows<T>(const Tensor<T>&);                                              \
  template std::vector<int64_t> argmax_rows<T>(const Tensor<T>&);                                \
  template void axpy<T>(T, const Tensor<T>&, Tensor<T>&);                                        \
  template bool all_finite<T>(const Tensor<T>&);                                                 \
  template T max_abs_diff<T>(const Tensor<T>&, const Tensor<T>&);
NABLA_INSTANTIATE_KERNELS(float)
NABLA_INSTANTIATE_KERNELS(double)

}  // namespace nabla

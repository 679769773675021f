/// \file
/// Plain numeric kernels on raw row-major buffers and tensors, without autograd. Templates on
/// float and double only, instantiated in src/tensor/kernels.cpp.
#pragma once

#include <cstdint>

#include "nabla/tensor.h"

namespace nabla {

/// Whether gemm or matmul uses an operand as stored (kNo) or transposed (kYes).
enum class Trans { kNo, kYes };

/// C (M,N) = alpha * op(A) (M,K) * op(B) (K,N) + beta * C, through CBLAS. A is (M,K) when not
/// transposed and (K,M) when transposed; likewise B. Leading dimensions are the stored row lengths.
template <typename T>
void gemm(Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

/// The same contract as gemm with three plain loops: the oracle the fast path is tested against.
template <typename T>
void gemm_reference(Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                    const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

/// op(a) (M,K) @ op(b) (K,N) -> (M,N) for rank-2 tensors; throws on mismatched shapes.
template <typename T>
Tensor<T> matmul(const Tensor<T>& a, const Tensor<T>& b, Trans trans_a = Trans::kNo,
                 Trans trans_b = Trans::kNo);

/// out (N,M) += bias (M) on every row.
template <typename T>
void add_row_vector(Tensor<T>& out, const Tensor<T>& bias);

/// x (N,M) -> (M): the sum over rows, accumulated in a wider type for float.
template <typename T>
Tensor<T> sum_rows(const Tensor<T>& x);

/// x (N,M) -> the index of each row's largest element (the first one on ties).
template <typename T>
std::vector<int64_t> argmax_rows(const Tensor<T>& x);

/// y += alpha * x, elementwise; shapes must have the same number of elements.
template <typename T>
void axpy(T alpha, const Tensor<T>& x, Tensor<T>& y);

/// Whether every element is finite (no NaN, no infinity); vectorised for float.
template <typename T>
bool all_finite(const Tensor<T>& x);

/// Largest |a - b| over all elements; shapes must match.
template <typename T>
T max_abs_diff(const Tensor<T>& a, const Tensor<T>& b);

}  // namespace nabla

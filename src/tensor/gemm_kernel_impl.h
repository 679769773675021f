// The body of gemm_kernel.h, compiled once per instruction set like src/simd/kernels_impl.h: each
// gemm_kernel_<isa>.cpp defines NABLA_GEMM_NS and includes this file with its own -m flags, and
// with floating-point contraction on, so that `sum += a * b` is one fused multiply-add.
//
// C is computed in blocks of kRows x kCols held in registers (AVX-512: 14 x 32, 28 of the 32
// vector registers; AVX2: 6 x 16 of 16; SSE2: 4 x 8). For each slice of kDepth of the inner
// dimension, B is packed into panels of kCols columns (zero past N), each of which stays in L1
// while it meets a block of kBlockRows rows of A (in L2). The micro-kernel reads A where it lies,
// row-major or transposed (only a last, partial block of rows is packed, zero-padded), one
// broadcast of A and kVectors vectors of B for every kRows x kVectors multiply-adds.
#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>

#include "gemm_kernel.h"

namespace nabla::detail::NABLA_GEMM_NS {
namespace {

#if defined(__AVX512F__)
constexpr int kLanes = 16, kRows = 14, kVectors = 2, kChains = 24;
#elif defined(__AVX2__)
constexpr int kLanes = 8, kRows = 6, kVectors = 2, kChains = 12;
#else
constexpr int kLanes = 4, kRows = 4, kVectors = 2, kChains = 12;
#endif
constexpr int kCols = kLanes * kVectors;
constexpr int64_t kDepth = 256;

using Vec = float __attribute__((vector_size(kLanes * sizeof(float))));
using UnalignedVec = float __attribute__((vector_size(kLanes * sizeof(float)), aligned(4)));

struct AlignedDelete {
  void operator()(float* p) const { ::operator delete[](p, std::align_val_t(64)); }
};
using Panel = std::unique_ptr<float[], AlignedDelete>;

Panel panel(int64_t n) {
  return Panel(static_cast<float*>(
      ::operator new[](static_cast<size_t>(n) * sizeof(float), std::align_val_t(64))));
}

// B's rows k0 .. k0 + kc in panels of kCols columns: panel q holds kc rows of kCols floats, zero
// past N. B is packed once per slice of the depth and shared by every block of rows, so even a
// transposed B (b_row 1) costs little here.
void pack_b(const GemmOperands& p, int64_t k0, int64_t kc, float* out) {
  for (int64_t n0 = 0; n0 < p.N; n0 += kCols, out += kc * kCols) {
    const int64_t cols = std::min<int64_t>(kCols, p.N - n0);
    for (int64_t k = 0; k < kc; ++k) {
      float* dst = out + k * kCols;
      const float* src = p.b + (k0 + k) * p.b_row + n0 * p.b_col;
      if (p.b_col == 1) {
        std::memcpy(dst, src, static_cast<size_t>(cols) * sizeof(float));
      } else {
        for (int64_t j = 0; j < cols; ++j) dst[j] = src[j * p.b_col];
      }
      std::fill(dst + cols, dst + kCols, 0.0F);
    }
  }
}

// How the micro-kernel reads A's kRows x kc block: element (i, k) at a[i * row + k * col].
// Whole blocks are read where they lie (a row-major A has row = its leading dimension and col = 1,
// a transposed or packed one row = 1); only the last, partial block of rows is packed.
struct ABlock {
  const float* a;
  int64_t row, col;
};

// A's rows m0 .. M (fewer than kRows) over k0 .. k0 + kc, zero-padded to kRows, into out.
ABlock pack_a_edge(const GemmOperands& p, int64_t m0, int64_t k0, int64_t kc, float* out) {
  const int64_t rows = p.M - m0;
  for (int64_t k = 0; k < kc; ++k) {
    for (int64_t i = 0; i < kRows; ++i) {
      out[k * kRows + i] = i < rows ? p.a[(m0 + i) * p.a_row + (k0 + k) * p.a_col] : 0.0F;
    }
  }
  return {.a = out, .row = 1, .col = kRows};
}

// The rows x cols corner of a kRows x kCols block of C at c: sum, or c + sum when accumulate.
void store_block(const Vec (&sum)[kRows][kVectors], float* c, int64_t ldc, int64_t rows,
                 int64_t cols, bool accumulate) {
  if (rows == kRows && cols == kCols) {
    for (int i = 0; i < kRows; ++i) {
      for (int v = 0; v < kVectors; ++v) {
        auto* dst = reinterpret_cast<UnalignedVec*>(c + i * ldc + v * kLanes);
        *dst = accumulate ? *dst + sum[i][v] : sum[i][v];
      }
    }
    return;
  }
  for (int64_t i = 0; i < rows; ++i) {
    float values[kCols];
    std::memcpy(values, sum[i], sizeof(values));
    float* dst = c + i * ldc;
    for (int64_t j = 0; j < cols; ++j) dst[j] = accumulate ? dst[j] + values[j] : values[j];
  }
}

// A kRows x kCols block of C from A's block and kc rows of a packed B panel. kRowMajor: A's rows
// are `row` apart and each row's k contiguous; else its k are `col` apart and each k's rows
// contiguous. Each k adds its product to the sums, in order.
template <bool kRowMajor>
void micro_kernel(int64_t kc, ABlock a, const float* b, float* c, int64_t ldc, int64_t rows,
                  int64_t cols, bool accumulate) {
  Vec sum[kRows][kVectors] = {};
  const float* ak = a.a;
  for (int64_t k = 0; k < kc; ++k, b += kCols, ak += kRowMajor ? 1 : a.col) {
    Vec bv[kVectors];
#pragma GCC unroll 4
    for (int v = 0; v < kVectors; ++v) bv[v] = *reinterpret_cast<const Vec*>(b + v * kLanes);
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i) {
      const float ai = kRowMajor ? ak[i * a.row] : ak[i];
#pragma GCC unroll 4
      for (int v = 0; v < kVectors; ++v) sum[i][v] += ai * bv[v];
    }
  }
  store_block(sum, c, ldc, rows, cols, accumulate);
}

// Rows of A in a block that stays in L2 while each B panel (in L1) meets all of them.
constexpr int64_t kBlockRows = 24 * kRows;

void gemm(const GemmOperands& p) {
  if (p.a_row != 1 && p.a_col != 1) {
    throw std::invalid_argument("gemm_f32: A must be row-major (a_col 1) or transposed (a_row 1)");
  }
  if (p.M <= 0 || p.N <= 0) return;
  if (p.K <= 0) {
    if (!p.accumulate) {
      for (int64_t i = 0; i < p.M; ++i) std::fill(p.c + i * p.ldc, p.c + i * p.ldc + p.N, 0.0F);
    }
    return;
  }
  const int64_t panels = (p.N + kCols - 1) / kCols;
  const Panel b = panel(std::min(kDepth, p.K) * panels * kCols);
  const Panel edge = panel(kDepth * kRows);
  const bool row_major = p.a_col == 1;
  for (int64_t k0 = 0; k0 < p.K; k0 += kDepth) {
    const int64_t kc = std::min(kDepth, p.K - k0);
    const bool accumulate = p.accumulate || k0 > 0;
    pack_b(p, k0, kc, b.get());
    for (int64_t mb = 0; mb < p.M; mb += kBlockRows) {
      const int64_t m_end = std::min(p.M, mb + kBlockRows);
      const int64_t last = m_end - (m_end - mb) % kRows;  // the partial block of rows, if any
      const ABlock edge_block = last < m_end ? pack_a_edge(p, last, k0, kc, edge.get()) : ABlock{};
      for (int64_t q = 0; q < panels; ++q) {
        const float* bq = b.get() + q * kc * kCols;
        const int64_t cols = std::min<int64_t>(kCols, p.N - q * kCols);
        for (int64_t m0 = mb; m0 < m_end; m0 += kRows) {
          float* c = p.c + m0 * p.ldc + q * kCols;
          if (m0 == last) {
            micro_kernel<false>(kc, edge_block, bq, c, p.ldc, m_end - m0, cols, accumulate);
            continue;
          }
          const ABlock block{
              .a = p.a + m0 * p.a_row + k0 * p.a_col, .row = p.a_row, .col = p.a_col};
          if (row_major) {
            micro_kernel<true>(kc, block, bq, c, p.ldc, kRows, cols, accumulate);
          } else {
            micro_kernel<false>(kc, block, bq, c, p.ldc, kRows, cols, accumulate);
          }
        }
      }
    }
  }
}

float fma_peak_loop(int64_t iterations) {
  Vec acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = Vec{} + 1e-3F * static_cast<float>(j);
  const Vec scale = Vec{} + 0.999F, shift = Vec{} + 1e-4F;
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 32
    for (int j = 0; j < kChains; ++j) acc[j] = acc[j] * scale + shift;
  }
  float total = 0.0F;
  for (const Vec& v : acc) {
    for (int l = 0; l < kLanes; ++l) total += v[l];
  }
  return total;
}

}  // namespace

extern const GemmBuild gemm_build;
const GemmBuild gemm_build = {
    .gemm = gemm,
    .shape = {.mr = kRows, .nr = kCols, .lanes = kLanes},
    .fma_peak_loop = fma_peak_loop,
    .flops_per_iteration = 2.0 * kChains * kLanes,
};

}  // namespace nabla::detail::NABLA_GEMM_NS

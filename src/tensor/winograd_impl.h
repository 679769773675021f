// Winograd F(4x4, 3x3) (Lavin and Gray, 2016) for 3x3, stride-1, pad-1 float32 convolutions:
// each 4x4 output tile comes from a 6x6 input tile with 36 multiplications per channel pair
// instead of 144. With B, G, A the transforms below,
//   V = B^T d B (input tile),  U = G g G^T (filter),  Y = A^T (sum over c of U (.) V) A,
// so for each of the 36 positions xi of the 6x6 tile, M[xi] (T x O) = V[xi] (T x C) U[xi]^T
// is one GEMM over all tiles T of the batch (buffers are tile-major, channels innermost). The
// backward pass is the adjoint of each step:
//   dM = A dY A^T,  dU[xi] = dM[xi]^T V[xi] -> dW = G^T dU G,  dV[xi] = dM[xi] U[xi] -> dX = B dV
//   B^T
// (the last summed over the overlapping input tiles). U may be kept from the forward pass; V is
// transformed again (keeping it for every layer of a network cost more memory than the transform
// costs time: 0.9 GB at airbench's batch of 1024).
// F(2x2, 3x3) is the same with 4x4 input tiles and 16 positions.
// The GEMMs run one per thread (single-threaded inside the parallel loop), so that every result is
// the same on any number of threads: LIBXSMM's JIT kernels in the AVX-512 build on the layers
// where they measured faster (small_gemm_for), oneDNN's SGEMM elsewhere and in the other builds.
// This file is compiled once per instruction set, like src/simd/kernels_impl.h: each
// winograd_<isa>.cpp defines NABLA_WINO_NS and includes it, with its own -m flags, and
// winograd.cpp calls the build for the instruction set in use. No floating-point contraction:
// the transforms give the same bits in every build.

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "nabla/conv.h"
#include "nabla/profile.h"
#include "tensor/conv_profile.h"
#include "tensor/sgemm.h"
#include "tensor/xsmm.h"
#include "winograd.h"
#include "winograd_tiles.h"

namespace nabla::detail::NABLA_WINO_NS {
namespace {

// Where a tile's transformed values are in a tile-major buffer: value xi of channel c at
// at[xi * stride + c] (the row of the tile in the buffer, with `stride` floats between positions).
template <typename Float>
struct TileRow {
  Float* at;
  int64_t stride;
};

// The row of tile t in a buffer [xi][t][channel] of `rows` tiles and `channels` channels.
template <typename Float>
TileRow<Float> row_of(Float* buffer, int64_t t, int64_t rows, int64_t channels) {
  return {buffer + t * channels, rows * channels};
}

// Whether this build may run the products on LIBXSMM (winograd_avx512.cpp sets it).
#ifdef NABLA_WINO_SMALL_GEMM
constexpr bool kSmallGemmBuild = true;
#else
constexpr bool kSmallGemmBuild = false;
#endif

// LIBXSMM where it measured faster than oneDNN's SGEMM (docs/results.md): a batch of at least
// kMinSmallGemmTiles tiles (airbench's layers at batch 1024) whose transformed filter takes at
// most 256 KB a position (C x O <= 65536), so that it stays in L2 while the kernel streams the
// tiles past it. The ConvNet's layers (batch 32, at most 2048 tiles; 512 channels) ran slower on
// it: its step 124 -> 170 ms. The weight gradient, summed in slices (Products::weight_gradient),
// gains only up to C x O = 64 x 256 (256->256: 4-21% slower in bench/winograd_ab.sh). The
// choice depends only on the geometry.
constexpr int64_t kMinSmallGemmTiles = 4096, kMaxSmallGemmFilter = int64_t{256} * 256,
                  kMaxSmallWeightGemmFilter = int64_t{64} * 256;

// Which products of a layer with T tiles in its batch run on LIBXSMM.
struct SmallGemmUse {
  bool products = false;  // forward and input gradient
  bool weight = false;    // weight gradient
};

SmallGemmUse small_gemm_for(int64_t T, const Conv2dGeometry& g) {
  const bool products =
      kSmallGemmBuild && T >= kMinSmallGemmTiles && g.C * g.O <= kMaxSmallGemmFilter;
  return {.products = products, .weight = products && g.C * g.O <= kMaxSmallWeightGemmFilter};
}

// The three products of one position, row-major, on LIBXSMM (column-major: each product below is
// written as the transposed one it computes) or oneDNN's SGEMM. Calls may run on any thread;
// check() after the parallel region throws a failure of either.
class Products {
 public:
  explicit Products(SmallGemmUse use) : use_(use) {}

  // The layout of U the forward product reads: [c][o] for LIBXSMM (which transposes only its
  // second operand), [o][c] for SGEMM. The input gradient reads [o][c] in both.
  bool forward_filter_transposed() const { return use_.products; }

  // M (T x O) = V (T x C) U^T.
  void forward(int64_t T, int64_t C, int64_t O, const float* V, const float* U, float* M) {
    if (use_.products) {
      small_(O, T, C, U, O, V, C, M, O);  // M^T = U^T' V^T, with U stored [c][o]
    } else {
      sgemm_('N', 'T', T, O, C, 1.0F, V, C, U, C, 0.0F, M, O);
    }
  }

  // dV (T x C) = dM (T x O) U (O x C).
  void input_gradient(int64_t T, int64_t C, int64_t O, const float* dM, const float* U, float* dV) {
    if (use_.products) {
      small_(C, T, O, U, C, dM, O, dV, C);  // dV^T = U^T dM^T
    } else {
      sgemm_('N', 'N', T, C, O, 1.0F, dM, O, U, C, 0.0F, dV, C);
    }
  }

  // dU (O x C) = dM^T (O x T) V (T x C), or dU += that when accumulate. LIBXSMM's kernels run
  // far below their peak at a depth of thousands of tiles, so the depth goes in slices of
  // kDepthSlice tiles, in order, each slice's product made from zero and then added to dU: a
  // sum straight down thousands of tiles onto dU lost accuracy (2.4e-5 against the float64
  // reference; WinogradOnLibxsmmShapesMatchesReference in tests/test_kernels.cpp).
  void weight_gradient(int64_t T, int64_t C, int64_t O, const float* dM, const float* V, float* dU,
                       bool accumulate) {
    if (use_.weight) {
      constexpr int64_t kDepthSlice = 256;
      FloatBuffer slice;
      for (int64_t t0 = 0; t0 < T; t0 += kDepthSlice) {
        const bool add = accumulate || t0 > 0;
        if (add && slice == nullptr) slice = buffer(C * O);
        // dU^T (C x O) = V^T (C x depth) dM (depth x O), dM read transposed from [t][o].
        small_(C, O, std::min(kDepthSlice, T - t0), V + t0 * C, C, dM + t0 * O, O,
               add ? slice.get() : dU, C, false, true);
        if (add) {
          for (int64_t e = 0; e < C * O; ++e) dU[e] += slice[e];
        }
      }
    } else {
      sgemm_('T', 'N', O, C, T, 1.0F, dM, O, V, C, accumulate ? 1.0F : 0.0F, dU, C);
    }
  }

  void check(const char* caller) const {
    sgemm_.check(caller);
    small_.check(caller);
  }

 private:
  SmallGemmUse use_;
  detail::Sgemm sgemm_;
  detail::SmallGemm small_;
};

// Tile row i's strips of [pixel][lane] values (winograd_tiles.h): an input strip holds the
// kTile rows i * kOut - 1 .. of the input padded by 1, its columns -1 .. (so the tile at column j
// starts at j * kOut); an output strip the kOut rows i * kOut .. and columns 0 .. of the output.
template <typename F>
int64_t input_strip_stride(const Tiling& tl) {
  return tl.tiles_w * F::kOut + F::kTile - F::kOut;
}
template <typename F>
int64_t input_strip_size(const Tiling& tl) {
  return F::kTile * input_strip_stride<F>(tl);
}
template <typename F>
int64_t output_strip_stride(const Tiling& tl) {
  return tl.tiles_w * F::kOut;
}
template <typename F>
int64_t output_strip_size(const Tiling& tl) {
  return F::kOut * output_strip_stride<F>(tl);
}

// The input strip of tile row i of channels c0 .. c0 + lanes of image n of x (N, C, H, W): the
// rows inside the plane copied, the others zero. Its padding columns are never written, so they
// stay zero from lane_buffer.
template <typename F>
void stage_input_rows(const float* x, const Tiling& tl, int64_t n, int64_t i, int64_t c0, int lanes,
                      Lanes* strip) {
  const int64_t stride = input_strip_stride<F>(tl), plane = tl.H * tl.W, first = i * F::kOut - 1;
  const int64_t h0 = std::max<int64_t>(first, 0), h1 = std::min<int64_t>(first + F::kTile, tl.H);
  for (int64_t h = first; h < first + F::kTile; ++h) {
    if (h < h0 || h >= h1) std::fill_n(strip[(h - first) * stride], stride * kLanes, 0.0F);
  }
  planes_to_lanes(x + (n * tl.C + c0) * plane, plane, tl.W, h0, h1, lanes,
                  strip + (h0 - first) * stride + 1, stride);
}

// (B^T d B) of the input tile at column j of a staged input strip, into `row`.
template <typename F>
void input_tile(const Lanes* strip, int64_t stride, int64_t j, int64_t c0, int lanes,
                TileRow<float> row) {
  constexpr int kPositions = F::kTile * F::kTile;
  Lanes v[kPositions];
  transform_2d(strip + j * F::kOut, stride, F::kTile, F::input_1d, F::kTile, v);
  for (int xi = 0; xi < kPositions; ++xi) store_lanes(v[xi], lanes, row.at + xi * row.stride + c0);
}

// V[xi][t][c] = (B^T d B)[xi] for the 6x6 tile t of channel c of x (N, C, H, W), padded by 1.
template <typename F>
void transform_input(const float* x, const Tiling& tl, float* V) {
  const int64_t stride = input_strip_stride<F>(tl);
  for_each_tile_row(tl, tl.C, input_strip_size<F>(tl),
                    [&](int64_t n, int64_t i, int64_t c0, int lanes, Lanes* strip) {
                      stage_input_rows<F>(x, tl, n, i, c0, lanes, strip);
                      const int64_t t0 = (n * tl.tiles_h + i) * tl.tiles_w;
                      for (int64_t j = 0; j < tl.tiles_w; ++j) {
                        input_tile<F>(strip, stride, j, c0, lanes, row_of(V, t0 + j, tl.T, tl.C));
                      }
                    });
}

// u[xi][l] = (G g G^T)[xi] for g = w[o][c0 + l], l < lanes (the last lane's again beyond), times
// scale[o] when scale is not null.
template <typename F>
void filter_lanes(const float* w, int64_t C, int64_t o, int64_t c0, int lanes, const float* scale,
                  Lanes* u) {
  Lanes g[9];
  for (int l = 0; l < kLanes; ++l) {
    const float* k = w + (o * C + c0 + std::min(l, lanes - 1)) * 9;
    for (int e = 0; e < 9; ++e) g[e][l] = k[e];
  }
  transform_2d(g, 3, F::filter_1d, F::kTile, u);
  if (scale != nullptr) {
    for (int xi = 0; xi < F::kTile * F::kTile; ++xi) {
      for (float& v : u[xi]) v *= scale[o];
    }
  }
}

// U[xi][o][c] = (G g G^T)[xi] for g = w[o][c], times scale[o] when scale is not null.
template <typename F>
void transform_filter(const float* w, int64_t O, int64_t C, float* U,
                      const float* scale = nullptr) {
  constexpr int kTile = F::kTile, kPositions = kTile * kTile;
  const int64_t blocks = lane_blocks(C);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t o = 0; o < O; ++o) {
    for (int64_t cb = 0; cb < blocks; ++cb) {
      const int64_t c0 = cb * kLanes;
      const int lanes = lanes_from(c0, C);
      Lanes u[kPositions];
      filter_lanes<F>(w, C, o, c0, lanes, scale, u);
      for (int xi = 0; xi < kPositions; ++xi) store_lanes(u[xi], lanes, U + (xi * O + o) * C + c0);
    }
  }
}

// The same values stored U[xi][c][o]: blocks of 16 filters by 16 channels, transformed as above
// and turned by 16x16 transposes, so that every store is a run of floats along o. (Lanes along o
// instead read the weights 16 filters apart, a page apart for 512 channels: that missed the TLB
// on every filter and made the transform the slowest part of the ConvNet's forward pass.)
template <typename F>
void transform_filter_transposed(const float* w, int64_t O, int64_t C, float* U,
                                 const float* scale = nullptr) {
  constexpr int kTile = F::kTile, kPositions = kTile * kTile;
  const int64_t o_blocks = lane_blocks(O), c_blocks = lane_blocks(C);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t ob = 0; ob < o_blocks; ++ob) {
    for (int64_t cb = 0; cb < c_blocks; ++cb) {
      const int64_t o0 = ob * kLanes, c0 = cb * kLanes;
      const int o_lanes = lanes_from(o0, O), c_lanes = lanes_from(c0, C);
      Vec16 block[kPositions][kLanes];  // [xi][o - o0][c - c0], then [xi][c - c0][o - o0]
      for (int r = 0; r < kLanes; ++r) {
        Lanes u[kPositions];
        filter_lanes<F>(w, C, o0 + std::min(r, o_lanes - 1), c0, c_lanes, scale, u);
        for (int xi = 0; xi < kPositions; ++xi) std::memcpy(&block[xi][r], u[xi], sizeof(Vec16));
      }
      for (int xi = 0; xi < kPositions; ++xi) {
        transpose16(block[xi]);
        for (int l = 0; l < c_lanes; ++l) {
          Lanes row;
          std::memcpy(row, &block[xi][l], sizeof(Vec16));
          store_lanes(row, o_lanes, U + (xi * C + c0 + l) * O + o0);
        }
      }
    }
  }
}

// M[xi] (T x rows) = V[xi] (T x inner) U[xi]^T (inner x rows), for the 36 positions.
template <typename F>
void batched_gemm(const float* U, const float* V, int64_t rows, int64_t inner, int64_t T, float* M,
                  Products& products, PassClock& clock) {
  [[maybe_unused]] constexpr int kTile = F::kTile, kOut = F::kOut, kPositions = kTile * kTile;
#pragma omp parallel for schedule(static)
  for (int xi = 0; xi < kPositions; ++xi) {
    clock.gemm(kForwardPass, [&] {
      products.forward(T, inner, rows, V + xi * T * inner, U + xi * rows * inner,
                       M + xi * T * rows);
    });
  }
  products.check("winograd position products");
}

// The output tile at column j of channels o0 .. o0 + lanes: A^T M A of the tile's `row` of M,
// plus bias (may be null), then max(0, .) with relu (NaN stays NaN), into an output strip.
template <typename F>
void output_tile(TileRow<const float> row, int64_t o0, int lanes, const float* bias, bool relu,
                 int64_t j, Lanes* strip, int64_t stride) {
  constexpr int kTile = F::kTile, kOut = F::kOut, kPositions = kTile * kTile;
  Lanes m[kPositions], out[kOut * kOut], b;
  for (int xi = 0; xi < kPositions; ++xi) load_lanes(row.at + xi * row.stride + o0, lanes, m[xi]);
  transform_2d(m, kTile, F::output_1d, kOut, out);
  if (bias != nullptr) {
    load_lanes(bias + o0, lanes, b);
  } else {
    std::fill(b, b + kLanes, 0.0F);
  }
  for (auto& e : out) {
    for (int l = 0; l < kLanes; ++l) e[l] += b[l];
  }
  if (relu) {
    for (auto& e : out) {
      for (int l = 0; l < kLanes; ++l) e[l] = e[l] < 0.0F ? 0.0F : e[l];
    }
  }
  for (int r = 0; r < kOut; ++r) {
    for (int q = 0; q < kOut; ++q) {
      std::memcpy(strip[r * stride + j * kOut + q], out[r * kOut + q], sizeof(Lanes));
    }
  }
}

// The rows of an output strip of tile row i inside the plane, into channels o0 .. o0 + lanes of
// image n of y (N, O, H, W).
template <typename F>
void unstage_output_rows(const Lanes* strip, const Tiling& tl, int64_t O, int64_t n, int64_t i,
                         int64_t o0, int lanes, float* y) {
  const int64_t plane = tl.H * tl.W, h0 = i * F::kOut;
  lanes_to_planes(strip, output_strip_stride<F>(tl), tl.W, h0,
                  std::min<int64_t>(h0 + F::kOut, tl.H), lanes, y + (n * O + o0) * plane, plane);
}

// y (N, O, H, W) = A^T M A per tile, plus bias (may be null), then max(0, .) with relu; M is
// [xi][t][o].
template <typename F>
void transform_output(const float* M, const Tiling& tl, int64_t O, const float* bias, bool relu,
                      float* y) {
  const int64_t stride = output_strip_stride<F>(tl);
  for_each_tile_row(tl, O, output_strip_size<F>(tl),
                    [&](int64_t n, int64_t i, int64_t o0, int lanes, Lanes* strip) {
                      const int64_t t0 = (n * tl.tiles_h + i) * tl.tiles_w;
                      for (int64_t j = 0; j < tl.tiles_w; ++j) {
                        output_tile<F>(row_of(M, t0 + j, tl.T, O), o0, lanes, bias, relu, j, strip,
                                       stride);
                      }
                      unstage_output_rows<F>(strip, tl, O, n, i, o0, lanes, y);
                    });
}

// dM[xi][t][o] = (A dy A^T)[xi] for the 4x4 tile t of dy (N, O, H, W), zero past the edges: tile
// row i's rows of dy staged in an output strip (its columns past W never written, so zero).
template <typename F>
void transform_output_adjoint(const float* dy, const Tiling& tl, int64_t O, float* dM) {
  constexpr int kTile = F::kTile, kOut = F::kOut, kPositions = kTile * kTile;
  const int64_t stride = output_strip_stride<F>(tl), plane = tl.H * tl.W;
  for_each_tile_row(
      tl, O, output_strip_size<F>(tl),
      [&](int64_t n, int64_t i, int64_t o0, int lanes, Lanes* strip) {
        const int64_t h0 = i * kOut, h1 = std::min<int64_t>(h0 + kOut, tl.H);
        if (h1 < h0 + kOut) {
          std::fill_n(strip[(h1 - h0) * stride], (h0 + kOut - h1) * stride * kLanes, 0.0F);
        }
        planes_to_lanes(dy + (n * O + o0) * plane, plane, tl.W, h0, h1, lanes, strip, stride);
        const int64_t t0 = (n * tl.tiles_h + i) * tl.tiles_w;
        for (int64_t j = 0; j < tl.tiles_w; ++j) {
          Lanes m[kPositions];
          transform_2d(strip + j * kOut, stride, kOut, F::output_adjoint_1d, kTile, m);
          const TileRow<float> row = row_of(dM, t0 + j, tl.T, O);
          for (int xi = 0; xi < kPositions; ++xi) {
            store_lanes(m[xi], lanes, row.at + xi * row.stride + o0);
          }
        }
      });
}

// dx (N, C, H, W) = the sum over tiles of B dV[.][t][c] B^T, each 6x6 (or 4x4) result added at
// its tile's place in the padded input: a lane buffer of the whole padded plane (rows as an input
// strip's), added to in vectors and then moved into dx. Threads own whole planes and walk their
// tiles in order, so that the overlapping sums are the same on any number of threads.
template <typename F>
void transform_input_adjoint(const float* dV, const Tiling& tl, float* dx) {
  constexpr int kTile = F::kTile, kOut = F::kOut, kPositions = kTile * kTile;
  const int64_t TC = tl.T * tl.C, blocks = lane_blocks(tl.C), plane = tl.H * tl.W;
  const int64_t stride = input_strip_stride<F>(tl),
                padded = (tl.tiles_h * kOut + kTile - kOut) * stride;
#pragma omp parallel
  {
    const LaneBuffer sums = lane_buffer(padded);
#pragma omp for collapse(2) schedule(static)
    for (int64_t n = 0; n < tl.N; ++n) {
      for (int64_t cb = 0; cb < blocks; ++cb) {
        const int64_t c0 = cb * kLanes;
        const int lanes = lanes_from(c0, tl.C);
        std::fill_n(sums[0], padded * kLanes, 0.0F);
        for (int64_t i = 0; i < tl.tiles_h; ++i) {
          for (int64_t j = 0; j < tl.tiles_w; ++j) {
            const int64_t t = (n * tl.tiles_h + i) * tl.tiles_w + j;
            Lanes v[kPositions], d[kPositions];
            for (int xi = 0; xi < kPositions; ++xi) {
              load_lanes(dV + xi * TC + t * tl.C + c0, lanes, v[xi]);
            }
            transform_2d(v, kTile, F::input_adjoint_1d, kTile, d);
            Lanes* at = sums.get() + i * kOut * stride + j * kOut;
            for (int r = 0; r < kTile; ++r) {
              for (int q = 0; q < kTile; ++q) {
                for (int l = 0; l < kLanes; ++l) at[r * stride + q][l] += d[r * kTile + q][l];
              }
            }
          }
        }
        lanes_to_planes(sums.get() + stride + 1, stride, tl.W, 0, tl.H, lanes,
                        dx + (n * tl.C + c0) * plane, plane);
      }
    }
  }
}

// dU[xi] (O x C) = dM[xi]^T (O x T) V[xi] (T x C) for every position, or dU += that when
// accumulate; one position's product per thread.
template <typename F>
void weight_products(const float* dM, const float* V, int64_t O, int64_t C, int64_t T, float* dU,
                     bool accumulate, Products& products, PassClock& clock) {
  [[maybe_unused]] constexpr int kTile = F::kTile, kOut = F::kOut, kPositions = kTile * kTile;
#pragma omp parallel for schedule(static)
  for (int xi = 0; xi < kPositions; ++xi) {
    clock.gemm(kWeightPass, [&] {
      products.weight_gradient(T, C, O, dM + xi * T * O, V + xi * T * C, dU + xi * O * C,
                               accumulate);
    });
  }
  products.check("winograd weight gradient");
}

// dw[o][c] = G^T dU[.][o][c] G.
template <typename F>
void filter_adjoint(const float* dU, int64_t O, int64_t C, float* dw) {
  [[maybe_unused]] constexpr int kTile = F::kTile, kOut = F::kOut, kPositions = kTile * kTile;
  const int64_t blocks = lane_blocks(C);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t o = 0; o < O; ++o) {
    for (int64_t cb = 0; cb < blocks; ++cb) {
      const int64_t c0 = cb * kLanes;
      const int lanes = lanes_from(c0, C);
      Lanes u[kPositions], g[9];
      for (int xi = 0; xi < kPositions; ++xi) {
        const float* src = dU + (xi * O + o) * C + c0;
        load_lanes(src, lanes, u[xi]);
      }
      transform_2d(u, kTile, F::filter_adjoint_1d, 3, g);
      for (int l = 0; l < lanes; ++l) {
        float* k = dw + (o * C + c0 + l) * 9;
        for (int e = 0; e < 9; ++e) k[e] = g[e][l];
      }
    }
  }
}

// Multiply-adds of the direct convolution this replaces, counted as two FLOPs: `nabla bench`
// reports the same work for every algorithm.
void count_pass(const Conv2dGeometry& g) { profile::add_flops(direct_conv_flops(g)); }

// The algorithm for a geometry: 4x4 output tiles when there are enough of them, else 2x2 tiles.
// Few channels leave the GEMMs too small to pay for the transforms, and with few 4x4 tiles,
// transforming the filters (36 values for every 9) costs more than the multiplications saved.
// 2x2 tiles fit every map of at least 2x2 (a 2x2 map is one tile: all the multiplications of its
// 4 live taps and no more), at 16 values for every 9 filter values.
enum class Algorithm { kNone, kF23, kF43 };

Algorithm algorithm_for(const Conv2dGeometry& g) {
  constexpr int64_t kMinTiles43 = 128, kMinTiles23 = 32;
  if (g.KH != 3 || g.KW != 3 || g.stride != 1 || g.pad != 1 || g.H < 2 || g.W < 2 || g.C < 16 ||
      g.O < 16) {
    return Algorithm::kNone;
  }
  if (g.H >= 4 && g.W >= 4 && tiling(g.N, g.C, g.H, g.W, F43::kOut).T >= kMinTiles43) {
    return Algorithm::kF43;
  }
  if (tiling(g.N, g.C, g.H, g.W, F23::kOut).T >= kMinTiles23) return Algorithm::kF23;
  return Algorithm::kNone;
}

template <typename F>
constexpr int64_t positions() {
  return int64_t{F::kTile} * F::kTile;
}

// The FLOPs of one pass's GEMMs: a product of T x C by C x O (or its adjoints) per position.
template <typename F>
double gemm_flops(const Tiling& tl, const Conv2dGeometry& g) {
  return 2.0 * static_cast<double>(positions<F>() * tl.T) * static_cast<double>(g.C * g.O);
}

// The blocked forward pass works on blocks of tiles whose V and M (positions x tiles x channels)
// take about BlockSizes::forward_bytes, so that they stay in cache from the input transform
// through the GEMMs to the output transform instead of going out to memory and back. Every block's
// GEMMs read all of U, so it serves only layers with a small U (at most kMaxBlockedFilter bytes)
// and at least kMinBlocks blocks (every thread gets some): airbench's layers and the ConvNet's
// evaluation; the ConvNet's training layers (batch 32) run whole, one position's GEMM per thread.
constexpr int64_t kMaxBlockedFilter = int64_t{12} << 20, kMinBlocks = 4;

// The blocks' sizes, by which GEMM runs the products (so by the geometry only, never by the
// thread count; measured in docs/results.md). LIBXSMM's kernels keep near their peak on blocks
// small enough for L2 (1 MB forward: airbench's forward GEMMs 73-86% -> 87-96% of the peak on an
// AMD EPYC with 1 MB of L2 a core, its backward 7% faster at 2 MB), where oneDNN's SGEMM loses
// more on the smaller products than the traffic saves (the ConvNet's step was slower at 1 MB).
struct BlockSizes {
  int64_t forward_bytes, backward_bytes, backward_min_tiles;
};

BlockSizes block_sizes(SmallGemmUse use) {
  if (use.products) {
    return {.forward_bytes = int64_t{1} << 20,
            .backward_bytes = int64_t{2} << 20,
            .backward_min_tiles = 256};
  }
  return {.forward_bytes = int64_t{4} << 20,
          .backward_bytes = int64_t{16} << 20,
          .backward_min_tiles = 512};
}

int64_t tiles_per_block(int64_t P, int64_t C, int64_t O, int64_t tiles_w, const BlockSizes& sizes) {
  const int64_t per_tile = P * (C + O) * static_cast<int64_t>(sizeof(float));
  const int64_t tiles = std::clamp<int64_t>(sizes.forward_bytes / per_tile / 16 * 16, 16, 256);
  return std::max(tiles_w, tiles / tiles_w * tiles_w);  // whole tile rows, for the strips
}

// y for the tiles of `tl` in blocks of `block` tiles (whole tile rows), spread over the threads:
// each block's input transform, its GEMMs (M = V U^T, one per position) and its output transform,
// in turn. V lives only per block: the backward pass transforms the input again rather than
// keeping V.
template <typename F>
void forward_blocked(const float* x, const float* U, const Tiling& tl, int64_t O, int64_t block,
                     const float* bias, bool relu, float* y, Products& products, PassClock& clock) {
  constexpr int64_t P = positions<F>();
  const int64_t C = tl.C, blocks = (tl.T + block - 1) / block, tw = tl.tiles_w;
  const int64_t c_blocks = lane_blocks(C), o_blocks = lane_blocks(O);
  const int64_t in_stride = input_strip_stride<F>(tl), out_stride = output_strip_stride<F>(tl);
#pragma omp parallel
  {
    auto M = buffer(P * block * O);
    auto V = buffer(P * block * C);
    const LaneBuffer in_strip = lane_buffer(input_strip_size<F>(tl)),
                     out_strip = lane_buffer(output_strip_size<F>(tl));
#pragma omp for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t t0 = b * block, rows = std::min(block, tl.T - t0);
      const TileRow<float> v0 = row_of(V.get(), 0, rows, C);
      // Tile row k of the batch is row k % tiles_h of image k / tiles_h.
      for (int64_t k = t0 / tw; k < (t0 + rows) / tw; ++k) {
        for (int64_t cb = 0; cb < c_blocks; ++cb) {
          const int64_t c0 = cb * kLanes;
          const int lanes = lanes_from(c0, C);
          stage_input_rows<F>(x, tl, k / tl.tiles_h, k % tl.tiles_h, c0, lanes, in_strip.get());
          for (int64_t j = 0; j < tw; ++j) {
            const TileRow<float> v{v0.at + (k * tw + j - t0) * C, v0.stride};
            input_tile<F>(in_strip.get(), in_stride, j, c0, lanes, v);
          }
        }
      }
      clock.gemm(kForwardPass, [&] {
        for (int64_t xi = 0; xi < P; ++xi) {
          products.forward(rows, C, O, v0.at + xi * v0.stride, U + xi * O * C,
                           M.get() + xi * rows * O);
        }
      });
      for (int64_t k = t0 / tw; k < (t0 + rows) / tw; ++k) {
        for (int64_t ob = 0; ob < o_blocks; ++ob) {
          const int64_t o0 = ob * kLanes;
          const int lanes = lanes_from(o0, O);
          for (int64_t j = 0; j < tw; ++j) {
            output_tile<F>(row_of<const float>(M.get(), k * tw + j - t0, rows, O), o0, lanes, bias,
                           relu, j, out_strip.get(), out_stride);
          }
          unstage_output_rows<F>(out_strip.get(), tl, O, k / tl.tiles_h, k % tl.tiles_h, o0, lanes,
                                 y);
        }
      }
    }
  }
  products.check("winograd blocked forward");
}

template <typename F>
void forward(const float* x, const float* weight, const float* bias, const Conv2dGeometry& g,
             float* y, WinogradSaved* keep, const WinogradEpilogue& epilogue) {
  const Tiling tl = tiling(g.N, g.C, g.H, g.W, F::kOut);
  const SmallGemmUse use = small_gemm_for(tl.T, g);
  const int64_t block = tiles_per_block(positions<F>(), g.C, g.O, tl.tiles_w, block_sizes(use));
  const int64_t filter_bytes = positions<F>() * g.O * g.C * static_cast<int64_t>(sizeof(float));
  PassClock clock(g);
  Products products(use);
  auto U = buffer(positions<F>() * g.O * g.C);
  if (products.forward_filter_transposed()) {
    transform_filter_transposed<F>(weight, g.O, g.C, U.get(), epilogue.filter_scale);
  } else {
    transform_filter<F>(weight, g.O, g.C, U.get(), epilogue.filter_scale);
  }
  if (tl.T >= kMinBlocks * block && filter_bytes <= kMaxBlockedFilter) {
    forward_blocked<F>(x, U.get(), tl, g.O, block, bias, epilogue.relu, y, products, clock);
  } else {
    auto V = buffer(positions<F>() * tl.T * g.C);
    auto M = buffer(positions<F>() * tl.T * g.O);
    transform_input<F>(x, tl, V.get());
    batched_gemm<F>(U.get(), V.get(), g.O, g.C, tl.T, M.get(), products, clock);
    transform_output<F>(M.get(), tl, g.O, bias, epilogue.relu, y);
  }
  count_pass(g);
  clock.done(kForwardPass, "forward", F::kName, gemm_flops<F>(tl, g));
  if (keep != nullptr) {
    // The backward pass reads U as [o][c].
    if (products.forward_filter_transposed()) {
      transform_filter<F>(weight, g.O, g.C, U.get(), epilogue.filter_scale);
    }
    keep->U = std::move(U);
    keep->tile = F::kOut;
  }
}

// The backward pass runs in blocks of whole images, in order, so that a block's dM, V and dV
// (positions x tiles x channels) are made, used and overwritten while they are in the last-level
// cache, instead of going out to memory and back for the whole batch (dM alone is 604 MB for
// airbench's 64->256 layer); whole images, so that no two blocks add to the same values of dx. dU
// sums the blocks' products in block order, each position's on one thread, and the blocks depend
// only on the geometry: the same bits on any number of threads, and the same whichever gradients
// are wanted. A block's buffers take about BlockSizes::backward_bytes, or more where that holds
// fewer than backward_min_tiles tiles: smaller GEMMs run further from the peak than the memory
// traffic they save (measured in docs/results.md).
template <typename F>
int64_t images_per_block(const Conv2dGeometry& g, const BlockSizes& sizes) {
  const int64_t tiles = tiling(1, g.C, g.H, g.W, F::kOut).T;
  const int64_t per_image =
      positions<F>() * tiles * (g.O + 2 * g.C) * static_cast<int64_t>(sizeof(float));
  const int64_t by_bytes = sizes.backward_bytes / per_image;
  const int64_t by_tiles = (sizes.backward_min_tiles + tiles - 1) / tiles;
  return std::clamp<int64_t>(std::max(by_bytes, by_tiles), 1, g.N);
}

template <typename F>
void backward(const float* dy, const float* x, const float* weight, const Conv2dGeometry& g,
              float* dx, float* dweight, const WinogradSaved* kept) {
  constexpr int64_t P = positions<F>();
  if (kept != nullptr && kept->tile != F::kOut) {
    throw std::logic_error("winograd_backward: saved state of another algorithm");
  }
  if (dx == nullptr && dweight == nullptr) return;
  PassClock clock(g);
  const SmallGemmUse use = small_gemm_for(tiling(g.N, g.C, g.H, g.W, F::kOut).T, g);
  const int64_t images = images_per_block<F>(g, block_sizes(use));
  const int64_t rows = tiling(images, g.C, g.H, g.W, F::kOut).T, plane = g.H * g.W;
  FloatBuffer U, dU, V, dV;
  const float* u = kept ? kept->U.get() : nullptr;
  if (dx != nullptr) {
    if (u == nullptr) {
      U = buffer(P * g.O * g.C);
      transform_filter<F>(weight, g.O, g.C, U.get());
      u = U.get();
    }
    dV = buffer(P * rows * g.C);
  }
  if (dweight != nullptr) {
    dU = buffer(P * g.O * g.C);
    V = buffer(P * rows * g.C);
  }
  auto dM = buffer(P * rows * g.O);
  clock.lap(kInputPass);
  Products products(use);
  for (int64_t n0 = 0; n0 < g.N; n0 += images) {
    const Tiling tl = tiling(std::min(images, g.N - n0), g.C, g.H, g.W, F::kOut);
    transform_output_adjoint<F>(dy + n0 * g.O * plane, tl, g.O, dM.get());
    clock.lap(kDyPass);
    if (dweight != nullptr) {
      transform_input<F>(x + n0 * g.C * plane, tl, V.get());
      weight_products<F>(dM.get(), V.get(), g.O, g.C, tl.T, dU.get(), n0 > 0, products, clock);
      clock.lap(kWeightPass);
    }
    if (dx != nullptr) {
      // dV[xi] (T x C) = dM[xi] (T x O) U[xi] (O x C).
#pragma omp parallel for schedule(static)
      for (int64_t xi = 0; xi < P; ++xi) {
        clock.gemm(kInputPass, [&] {
          products.input_gradient(tl.T, g.C, g.O, dM.get() + xi * tl.T * g.O, u + xi * g.O * g.C,
                                  dV.get() + xi * tl.T * g.C);
        });
      }
      transform_input_adjoint<F>(dV.get(), tl, dx + n0 * g.C * plane);
      clock.lap(kInputPass);
    }
  }
  products.check("winograd backward");
  const double product_flops = gemm_flops<F>(tiling(g.N, g.C, g.H, g.W, F::kOut), g);
  clock.report(kDyPass, "backward: transform of dy", F::kName, 0, false);
  if (dweight != nullptr) {
    filter_adjoint<F>(dU.get(), g.O, g.C, dweight);
    clock.lap(kWeightPass);
    count_pass(g);
    clock.report(kWeightPass, "weight gradient", F::kName, product_flops);
  }
  if (dx != nullptr) {
    count_pass(g);
    clock.report(kInputPass, "input gradient", F::kName, product_flops);
  }
}

}  // namespace

bool winograd_applies(const Conv2dGeometry& g) { return algorithm_for(g) != Algorithm::kNone; }

void winograd_forward(const float* x, const float* weight, const float* bias,
                      const Conv2dGeometry& g, float* y, WinogradSaved* keep,
                      const WinogradEpilogue& epilogue) {
  switch (algorithm_for(g)) {
    case Algorithm::kF43:
      return forward<F43>(x, weight, bias, g, y, keep, epilogue);
    case Algorithm::kF23:
      return forward<F23>(x, weight, bias, g, y, keep, epilogue);
    default:
      throw std::logic_error("winograd_forward: unsupported geometry");
  }
}

void winograd_backward(const float* dy, const float* x, const float* weight,
                       const Conv2dGeometry& g, float* dx, float* dweight,
                       const WinogradSaved* kept) {
  switch (algorithm_for(g)) {
    case Algorithm::kF43:
      return backward<F43>(dy, x, weight, g, dx, dweight, kept);
    case Algorithm::kF23:
      return backward<F23>(dy, x, weight, g, dx, dweight, kept);
    default:
      throw std::logic_error("winograd_backward: unsupported geometry");
  }
}

}  // namespace nabla::detail::NABLA_WINO_NS

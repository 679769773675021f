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
#include "winograd_transforms.h"

namespace nabla::detail::NABLA_WINO_NS {
namespace {

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
  if (block % tw != 0) throw std::logic_error("winograd forward: a block of part of a tile row");
#pragma omp parallel
  {
    auto M = buffer(P * block * O);
    auto V = buffer(P * block * C);
    // Two strips: an output strip's tiles write the columns an input strip keeps at zero.
    const LaneBuffer in_strip = lane_buffer(input_strip<F>(tl).pixels),
                     out_strip = lane_buffer(output_strip<F>(tl).pixels);
#pragma omp for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t t0 = b * block, rows = std::min(block, tl.T - t0);
      // Tile row k of the batch is row k % tiles_h of image k / tiles_h.
      for (int64_t k = t0 / tw; k < (t0 + rows) / tw; ++k) {
        for (int64_t cb = 0; cb < c_blocks; ++cb) {
          input_tile_row<F>(x, tl, k / tl.tiles_h, k % tl.tiles_h, cb * kLanes,
                            lanes_from(cb * kLanes, C), in_strip.get(),
                            row_of(V.get(), k * tw - t0, rows, C));
        }
      }
      clock.gemm(kForwardPass, [&] {
        for (int64_t xi = 0; xi < P; ++xi) {
          products.forward(rows, C, O, V.get() + xi * rows * C, U + xi * O * C,
                           M.get() + xi * rows * O);
        }
      });
      for (int64_t k = t0 / tw; k < (t0 + rows) / tw; ++k) {
        for (int64_t ob = 0; ob < o_blocks; ++ob) {
          output_tile_row<F>(row_of<const float>(M.get(), k * tw - t0, rows, O), tl, O,
                             k / tl.tiles_h, k % tl.tiles_h, ob * kLanes,
                             lanes_from(ob * kLanes, O), bias, relu, out_strip.get(), y);
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

// The Winograd transforms of src/tensor/winograd_impl.h (and, like it, compiled once per
// instruction set inside NABLA_WINO_NS): input, filter and output tiles and their adjoints,
// between NCHW planes and the tile-major buffers [xi][t][channel] the GEMMs read and write. Planes
// go in and out through [pixel][lane] strips of one tile row (winograd_tiles.h), so that tiles
// are read and written as vectors of kLanes channels. Included only by winograd_impl.h.
#pragma once

#include <algorithm>
#include <cstring>

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
  return {.at = buffer + t * channels, .stride = rows * channels};
}

// The row of the tile `j` tiles after `first`'s, in a buffer of `channels` channels.
template <typename Float>
TileRow<Float> next_row(TileRow<Float> first, int64_t j, int64_t channels) {
  return {.at = first.at + j * channels, .stride = first.stride};
}

// Tile row i's strips of [pixel][lane] values, `stride` pixels a row, `pixels` in all. An input
// strip holds the kTile rows i * kOut - 1 .. of the input padded by 1, and its columns -1 ..
// tiles_w * kOut + kTile - kOut - 2, so that the tile at column j starts at j * kOut; an output
// strip the kOut rows i * kOut .. and columns 0 .. tiles_w * kOut - 1 of the output (or dy). Past
// the plane's last column an input strip and a strip of dy hold zeros, which they keep from
// lane_buffer because nothing else writes there; an output strip holds whatever its tiles made.
struct StripShape {
  int64_t stride, pixels;
};

// The input's extent padded for `tiles` tiles along one side: from -1 to the last tile's end.
template <typename F>
int64_t padded_extent(int64_t tiles) {
  return tiles * F::kOut + F::kTile - F::kOut;
}

template <typename F>
StripShape input_strip(const Tiling& tl) {
  const int64_t stride = padded_extent<F>(tl.tiles_w);
  return {.stride = stride, .pixels = F::kTile * stride};
}

template <typename F>
StripShape output_strip(const Tiling& tl) {
  const int64_t stride = tl.tiles_w * F::kOut;
  return {.stride = stride, .pixels = F::kOut * stride};
}

// Zeroes `pixels` pixels of a lane buffer from p.
inline void clear_lanes(Lanes* p, int64_t pixels) {
  std::memset(p, 0, static_cast<size_t>(pixels) * sizeof(Lanes));
}

// The input strip of tile row i of channels c0 .. c0 + lanes of image n of x (N, C, H, W): the
// rows inside the plane copied, the others zero.
template <typename F>
void stage_input_rows(const float* x, const Tiling& tl, int64_t n, int64_t i, int64_t c0, int lanes,
                      Lanes* strip) {
  const int64_t stride = input_strip<F>(tl).stride, plane = tl.H * tl.W, first = i * F::kOut - 1;
  const int64_t h0 = std::max<int64_t>(first, 0), h1 = std::min<int64_t>(first + F::kTile, tl.H);
  for (int64_t h = first; h < first + F::kTile; ++h) {
    if (h < h0 || h >= h1) clear_lanes(strip + (h - first) * stride, stride);
  }
  planes_to_lanes(x + (n * tl.C + c0) * plane, plane, tl.W, h0, h1, lanes,
                  strip + (h0 - first) * stride + 1, stride);
}

// The strip of dy (an output strip) of tile row i of channels o0 .. o0 + lanes of image n of dy
// (N, O, H, W): the rows inside the plane copied, the others zero.
template <typename F>
void stage_output_rows(const float* dy, const Tiling& tl, int64_t O, int64_t n, int64_t i,
                       int64_t o0, int lanes, Lanes* strip) {
  const int64_t stride = output_strip<F>(tl).stride, plane = tl.H * tl.W;
  const int64_t h0 = i * F::kOut, h1 = std::min<int64_t>(h0 + F::kOut, tl.H);
  clear_lanes(strip + (h1 - h0) * stride, (h0 + F::kOut - h1) * stride);
  planes_to_lanes(dy + (n * O + o0) * plane, plane, tl.W, h0, h1, lanes, strip, stride);
}

// The rows of an output strip of tile row i inside the plane, into channels o0 .. o0 + lanes of
// image n of y (N, O, H, W).
template <typename F>
void unstage_output_rows(const Lanes* strip, const Tiling& tl, int64_t O, int64_t n, int64_t i,
                         int64_t o0, int lanes, float* y) {
  const int64_t plane = tl.H * tl.W, h0 = i * F::kOut;
  lanes_to_planes(strip, output_strip<F>(tl).stride, tl.W, h0,
                  std::min<int64_t>(h0 + F::kOut, tl.H), lanes, y + (n * O + o0) * plane, plane);
}

// (B^T d B) of the input tiles of tile row i of channels c0 .. c0 + lanes of image n of x, staged
// in `strip`: tile j's into next_row(first, j) of V (channels innermost).
template <typename F>
void input_tile_row(const float* x, const Tiling& tl, int64_t n, int64_t i, int64_t c0, int lanes,
                    Lanes* strip, TileRow<float> first) {
  constexpr int kPositions = F::kTile * F::kTile;
  stage_input_rows<F>(x, tl, n, i, c0, lanes, strip);
  const int64_t stride = input_strip<F>(tl).stride;
  for (int64_t j = 0; j < tl.tiles_w; ++j) {
    Lanes v[kPositions];
    transform_2d(strip + j * F::kOut, stride, F::kTile, F::input_1d, F::kTile, v);
    const TileRow<float> row = next_row(first, j, tl.C);
    for (int xi = 0; xi < kPositions; ++xi)
      store_lanes(v[xi], lanes, row.at + xi * row.stride + c0);
  }
}

// V[xi][t][c] = (B^T d B)[xi] for the 6x6 tile t of channel c of x (N, C, H, W), padded by 1.
template <typename F>
void transform_input(const float* x, const Tiling& tl, float* V) {
  for_each_tile_row(tl, tl.C, input_strip<F>(tl).pixels,
                    [&](int64_t n, int64_t i, int64_t c0, int lanes, Lanes* strip) {
                      const int64_t t0 = (n * tl.tiles_h + i) * tl.tiles_w;
                      input_tile_row<F>(x, tl, n, i, c0, lanes, strip, row_of(V, t0, tl.T, tl.C));
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

// body(o, c0, lanes) for every filter o of O and every block of kLanes of its C channels starting
// at c0, spread over the threads.
template <typename Body>
void for_each_filter_block(int64_t O, int64_t C, Body body) {
  const int64_t blocks = lane_blocks(C);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t o = 0; o < O; ++o) {
    for (int64_t cb = 0; cb < blocks; ++cb) body(o, cb * kLanes, lanes_from(cb * kLanes, C));
  }
}

// U[xi][o][c] = (G g G^T)[xi] for g = w[o][c], times scale[o] when scale is not null.
template <typename F>
void transform_filter(const float* w, int64_t O, int64_t C, float* U,
                      const float* scale = nullptr) {
  constexpr int kPositions = F::kTile * F::kTile;
  for_each_filter_block(O, C, [&](int64_t o, int64_t c0, int lanes) {
    Lanes u[kPositions];
    filter_lanes<F>(w, C, o, c0, lanes, scale, u);
    for (int xi = 0; xi < kPositions; ++xi) store_lanes(u[xi], lanes, U + (xi * O + o) * C + c0);
  });
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

// A^T M A of the tiles of tile row i of channels o0 .. o0 + lanes (tile j's M at next_row(first,
// j)), plus bias and relu as output_tile, through `strip` into image n of y (N, O, H, W).
template <typename F>
void output_tile_row(TileRow<const float> first, const Tiling& tl, int64_t O, int64_t n, int64_t i,
                     int64_t o0, int lanes, const float* bias, bool relu, Lanes* strip, float* y) {
  const int64_t stride = output_strip<F>(tl).stride;
  for (int64_t j = 0; j < tl.tiles_w; ++j) {
    output_tile<F>(next_row(first, j, O), o0, lanes, bias, relu, j, strip, stride);
  }
  unstage_output_rows<F>(strip, tl, O, n, i, o0, lanes, y);
}

// y (N, O, H, W) = A^T M A per tile, plus bias (may be null), then max(0, .) with relu; M is
// [xi][t][o].
template <typename F>
void transform_output(const float* M, const Tiling& tl, int64_t O, const float* bias, bool relu,
                      float* y) {
  for_each_tile_row(tl, O, output_strip<F>(tl).pixels,
                    [&](int64_t n, int64_t i, int64_t o0, int lanes, Lanes* strip) {
                      const int64_t t0 = (n * tl.tiles_h + i) * tl.tiles_w;
                      output_tile_row<F>(row_of(M, t0, tl.T, O), tl, O, n, i, o0, lanes, bias, relu,
                                         strip, y);
                    });
}

// dM[xi][t][o] = (A dy A^T)[xi] for the 4x4 tile t of dy (N, O, H, W), zero past the edges.
template <typename F>
void transform_output_adjoint(const float* dy, const Tiling& tl, int64_t O, float* dM) {
  constexpr int kTile = F::kTile, kOut = F::kOut, kPositions = kTile * kTile;
  const StripShape shape = output_strip<F>(tl);
  for_each_tile_row(
      tl, O, shape.pixels, [&](int64_t n, int64_t i, int64_t o0, int lanes, Lanes* strip) {
        stage_output_rows<F>(dy, tl, O, n, i, o0, lanes, strip);
        const int64_t t0 = (n * tl.tiles_h + i) * tl.tiles_w;
        for (int64_t j = 0; j < tl.tiles_w; ++j) {
          Lanes m[kPositions];
          transform_2d(strip + j * kOut, shape.stride, kOut, F::output_adjoint_1d, kTile, m);
          const TileRow<float> row = row_of(dM, t0 + j, tl.T, O);
          for (int xi = 0; xi < kPositions; ++xi) {
            store_lanes(m[xi], lanes, row.at + xi * row.stride + o0);
          }
        }
      });
}

// dx (N, C, H, W) = the sum over tiles of B dV[.][t][c] B^T, each 6x6 (or 4x4) result added at
// its tile's place in the padded input: a lane buffer of the whole padded plane (rows as long as
// an input strip's), added to in vectors and then moved into dx. Threads own whole planes and
// walk their tiles in order, so that the overlapping sums are the same on any number of threads.
template <typename F>
void transform_input_adjoint(const float* dV, const Tiling& tl, float* dx) {
  constexpr int kTile = F::kTile, kOut = F::kOut, kPositions = kTile * kTile;
  const int64_t TC = tl.T * tl.C, blocks = lane_blocks(tl.C), plane = tl.H * tl.W;
  const int64_t stride = input_strip<F>(tl).stride, pixels = padded_extent<F>(tl.tiles_h) * stride;
#pragma omp parallel
  {
    const LaneBuffer sums = lane_buffer(pixels);
#pragma omp for collapse(2) schedule(static)
    for (int64_t n = 0; n < tl.N; ++n) {
      for (int64_t cb = 0; cb < blocks; ++cb) {
        const int64_t c0 = cb * kLanes;
        const int lanes = lanes_from(c0, tl.C);
        clear_lanes(sums.get(), pixels);
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

// dw[o][c] = G^T dU[.][o][c] G.
template <typename F>
void filter_adjoint(const float* dU, int64_t O, int64_t C, float* dw) {
  constexpr int kTile = F::kTile, kPositions = kTile * kTile;
  for_each_filter_block(O, C, [&](int64_t o, int64_t c0, int lanes) {
    Lanes u[kPositions], g[9];
    for (int xi = 0; xi < kPositions; ++xi) load_lanes(dU + (xi * O + o) * C + c0, lanes, u[xi]);
    transform_2d(u, kTile, F::filter_adjoint_1d, 3, g);
    for (int l = 0; l < lanes; ++l) {
      float* k = dw + (o * C + c0 + l) * 9;
      for (int e = 0; e < 9; ++e) k[e] = g[e][l];
    }
  });
}

}  // namespace
}  // namespace nabla::detail::NABLA_WINO_NS

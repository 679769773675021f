// Winograd tiles for src/tensor/winograd_impl.h (and, like it, compiled once per instruction set
// inside NABLA_WINO_NS): the 1-D transforms of F(4x4, 3x3) and F(2x2, 3x3), the tiling of a batch,
// and the moves between NCHW planes and the [element][lane] blocks the transforms work on.
// Included only by winograd_impl.h.
#pragma once

#include <cstring>
#include <memory>
#include <utility>

#include "winograd.h"

namespace nabla::detail::NABLA_WINO_NS {
namespace {

// Transforms work on kLanes channels at once, stored [element][lane], so that the arithmetic is
// vectorised across channels and every write to the tile-major buffers is a run of kLanes floats.
constexpr int kLanes = 16;
using Lanes = float[kLanes];

constexpr float k1_2 = 1.0F / 2, k1_4 = 1.0F / 4, k1_6 = 1.0F / 6, k1_12 = 1.0F / 12,
                k1_24 = 1.0F / 24;

// F(4x4, 3x3): 6x6 input tiles. Each 1-D transform maps values at stride s (each kLanes wide)
// to values at stride rs.
struct F43 {
  static constexpr int kOut = 4, kTile = 6;
  static constexpr const char* kName = "winograd F(4,3)";
  // r = B^T v (6 -> 6).
  static void input_1d(const Lanes* v, int s, Lanes* r, int rs) {
    for (int l = 0; l < kLanes; ++l) {
      const float v0 = v[0][l], v1 = v[s][l], v2 = v[2 * s][l], v3 = v[3 * s][l], v4 = v[4 * s][l],
                  v5 = v[5 * s][l];
      r[0][l] = 4.0F * v0 - 5.0F * v2 + v4;
      r[rs][l] = -4.0F * v1 - 4.0F * v2 + v3 + v4;
      r[2 * rs][l] = 4.0F * v1 - 4.0F * v2 - v3 + v4;
      r[3 * rs][l] = -2.0F * v1 - v2 + 2.0F * v3 + v4;
      r[4 * rs][l] = 2.0F * v1 - v2 - 2.0F * v3 + v4;
      r[5 * rs][l] = 4.0F * v1 - 5.0F * v3 + v5;
    }
  }
  // v = B r (6 -> 6), the adjoint of input_1d.
  static void input_adjoint_1d(const Lanes* r, int s, Lanes* v, int vs) {
    for (int l = 0; l < kLanes; ++l) {
      const float r0 = r[0][l], r1 = r[s][l], r2 = r[2 * s][l], r3 = r[3 * s][l], r4 = r[4 * s][l],
                  r5 = r[5 * s][l];
      v[0][l] = 4.0F * r0;
      v[vs][l] = -4.0F * r1 + 4.0F * r2 - 2.0F * r3 + 2.0F * r4 + 4.0F * r5;
      v[2 * vs][l] = -5.0F * r0 - 4.0F * r1 - 4.0F * r2 - r3 - r4;
      v[3 * vs][l] = r1 - r2 + 2.0F * r3 - 2.0F * r4 - 5.0F * r5;
      v[4 * vs][l] = r0 + r1 + r2 + r3 + r4;
      v[5 * vs][l] = r5;
    }
  }
  // o = A^T m (6 -> 4).
  static void output_1d(const Lanes* m, int s, Lanes* o, int os) {
    for (int l = 0; l < kLanes; ++l) {
      const float m0 = m[0][l], m1 = m[s][l], m2 = m[2 * s][l], m3 = m[3 * s][l], m4 = m[4 * s][l],
                  m5 = m[5 * s][l];
      o[0][l] = m0 + m1 + m2 + m3 + m4;
      o[os][l] = m1 - m2 + 2.0F * m3 - 2.0F * m4;
      o[2 * os][l] = m1 + m2 + 4.0F * m3 + 4.0F * m4;
      o[3 * os][l] = m1 - m2 + 8.0F * m3 - 8.0F * m4 + m5;
    }
  }
  // m = A o (4 -> 6), the adjoint of output_1d.
  static void output_adjoint_1d(const Lanes* o, int s, Lanes* m, int ms) {
    for (int l = 0; l < kLanes; ++l) {
      const float o0 = o[0][l], o1 = o[s][l], o2 = o[2 * s][l], o3 = o[3 * s][l];
      m[0][l] = o0;
      m[ms][l] = o0 + o1 + o2 + o3;
      m[2 * ms][l] = o0 - o1 + o2 - o3;
      m[3 * ms][l] = o0 + 2.0F * o1 + 4.0F * o2 + 8.0F * o3;
      m[4 * ms][l] = o0 - 2.0F * o1 + 4.0F * o2 - 8.0F * o3;
      m[5 * ms][l] = o3;
    }
  }
  // u = G g (3 -> 6).
  static void filter_1d(const Lanes* g, int s, Lanes* u, int us) {
    for (int l = 0; l < kLanes; ++l) {
      const float g0 = g[0][l], g1 = g[s][l], g2 = g[2 * s][l];
      u[0][l] = k1_4 * g0;
      u[us][l] = -k1_6 * (g0 + g1 + g2);
      u[2 * us][l] = -k1_6 * (g0 - g1 + g2);
      u[3 * us][l] = k1_24 * g0 + k1_12 * g1 + k1_6 * g2;
      u[4 * us][l] = k1_24 * g0 - k1_12 * g1 + k1_6 * g2;
      u[5 * us][l] = g2;
    }
  }
  // g = G^T u (6 -> 3), the adjoint of filter_1d.
  static void filter_adjoint_1d(const Lanes* u, int s, Lanes* g, int gs) {
    for (int l = 0; l < kLanes; ++l) {
      const float u0 = u[0][l], u1 = u[s][l], u2 = u[2 * s][l], u3 = u[3 * s][l], u4 = u[4 * s][l],
                  u5 = u[5 * s][l];
      g[0][l] = k1_4 * u0 - k1_6 * (u1 + u2) + k1_24 * (u3 + u4);
      g[gs][l] = k1_6 * (u2 - u1) + k1_12 * (u3 - u4);
      g[2 * gs][l] = k1_6 * (u3 + u4 - u1 - u2) + u5;
    }
  }
};

// F(2x2, 3x3): 4x4 input tiles, 16 multiplications for 4 outputs instead of 36; used on maps too
// small for enough 4x4 tiles.
struct F23 {
  static constexpr int kOut = 2, kTile = 4;
  static constexpr const char* kName = "winograd F(2,3)";
  static void input_1d(const Lanes* v, int s, Lanes* r, int rs) {
    for (int l = 0; l < kLanes; ++l) {
      const float v0 = v[0][l], v1 = v[s][l], v2 = v[2 * s][l], v3 = v[3 * s][l];
      r[0][l] = v0 - v2;
      r[rs][l] = v1 + v2;
      r[2 * rs][l] = v2 - v1;
      r[3 * rs][l] = v1 - v3;
    }
  }
  static void input_adjoint_1d(const Lanes* r, int s, Lanes* v, int vs) {
    for (int l = 0; l < kLanes; ++l) {
      const float r0 = r[0][l], r1 = r[s][l], r2 = r[2 * s][l], r3 = r[3 * s][l];
      v[0][l] = r0;
      v[vs][l] = r1 - r2 + r3;
      v[2 * vs][l] = r1 + r2 - r0;
      v[3 * vs][l] = -r3;
    }
  }
  static void output_1d(const Lanes* m, int s, Lanes* o, int os) {
    for (int l = 0; l < kLanes; ++l) {
      const float m0 = m[0][l], m1 = m[s][l], m2 = m[2 * s][l], m3 = m[3 * s][l];
      o[0][l] = m0 + m1 + m2;
      o[os][l] = m1 - m2 - m3;
    }
  }
  static void output_adjoint_1d(const Lanes* o, int s, Lanes* m, int ms) {
    for (int l = 0; l < kLanes; ++l) {
      const float o0 = o[0][l], o1 = o[s][l];
      m[0][l] = o0;
      m[ms][l] = o0 + o1;
      m[2 * ms][l] = o0 - o1;
      m[3 * ms][l] = -o1;
    }
  }
  static void filter_1d(const Lanes* g, int s, Lanes* u, int us) {
    for (int l = 0; l < kLanes; ++l) {
      const float g0 = g[0][l], g1 = g[s][l], g2 = g[2 * s][l];
      u[0][l] = g0;
      u[us][l] = k1_2 * (g0 + g1 + g2);
      u[2 * us][l] = k1_2 * (g0 - g1 + g2);
      u[3 * us][l] = g2;
    }
  }
  static void filter_adjoint_1d(const Lanes* u, int s, Lanes* g, int gs) {
    for (int l = 0; l < kLanes; ++l) {
      const float u0 = u[0][l], u1 = u[s][l], u2 = u[2 * s][l], u3 = u[3 * s][l];
      g[0][l] = u0 + k1_2 * (u1 + u2);
      g[gs][l] = k1_2 * (u1 - u2);
      g[2 * gs][l] = k1_2 * (u1 + u2) + u3;
    }
  }
};

constexpr int kMaxTile = 6;

// out (n_out x n_out) = f applied to the columns of `in` (n_in x n_in), then to the rows.
template <typename F>
void transform_2d(const Lanes* in, int n_in, F f, int n_out, Lanes* out) {
  Lanes t[kMaxTile * kMaxTile];  // n_out x n_in
  for (int q = 0; q < n_in; ++q) f(in + q, n_in, t + q, n_in);
  for (int r = 0; r < n_out; ++r) f(t + r * n_in, 1, out + r * n_out, 1);
}

struct Tiling {
  int64_t N, C, H, W, tiles_h, tiles_w, T;
};

Tiling tiling(int64_t N, int64_t C, int64_t H, int64_t W, int out) {
  const int64_t th = (H + out - 1) / out, tw = (W + out - 1) / out;
  return {N, C, H, W, th, tw, N * th * tw};
}

std::unique_ptr<float[]> buffer(int64_t n) {
  return std::unique_ptr<float[]>(new float[static_cast<size_t>(n)]);
}

int64_t lane_blocks(int64_t n) { return (n + kLanes - 1) / kLanes; }

// How many of `count` channels the block starting at c0 holds: kLanes, fewer in the last block.
int lanes_from(int64_t c0, int64_t count) {
  return static_cast<int>(std::min<int64_t>(kLanes, count - c0));
}

// Where tile t sits: image n, tile row i, tile column j.
struct TileAt {
  int64_t n, i, j;
};
TileAt tile_at(const Tiling& tl, int64_t t) {
  return {t / (tl.tiles_h * tl.tiles_w), t / tl.tiles_w % tl.tiles_h, t % tl.tiles_w};
}

// body(t, tile, c0, lanes) for every tile t and every block of kLanes of `channels` channels
// starting at c0, spread over the threads.
template <typename Body>
void for_each_tile_block(const Tiling& tl, int64_t channels, Body body) {
  const int64_t blocks = lane_blocks(channels);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t t = 0; t < tl.T; ++t) {
    for (int64_t cb = 0; cb < blocks; ++cb) {
      const int64_t c0 = cb * kLanes;
      body(t, tile_at(tl, t), c0, lanes_from(c0, channels));
    }
  }
}

// dst[0..lanes) = v. A full block is a fixed-size copy (vector moves), not a call to memmove.
inline void store_lanes(const Lanes& v, int lanes, float* dst) {
  if (lanes == kLanes) {
    for (int l = 0; l < kLanes; ++l) dst[l] = v[l];
  } else {
    for (int l = 0; l < lanes; ++l) dst[l] = v[l];
  }
}

// v = src[0..lanes), zero beyond.
inline void load_lanes(const float* src, int lanes, Lanes& v) {
  if (lanes == kLanes) {
    for (int l = 0; l < kLanes; ++l) v[l] = src[l];
  } else {
    for (int l = 0; l < kLanes; ++l) v[l] = l < lanes ? src[l] : 0.0F;
  }
}

// Moving between NCHW planes and the [element][lane] blocks: each lane's values are contiguous
// in its plane, so they are copied row by row and the whole block turned by 16x16 transposes in
// registers, instead of one scalar load or store per value and lane.
using Vec16 = float __attribute__((vector_size(64)));
static_assert(kLanes == 16, "the transposes below are 16x16");

template <int kS, size_t... kI>
void exchange_bit(Vec16& a, Vec16& b, std::index_sequence<kI...>) {
  const Vec16 low = __builtin_shufflevector(a, b, ((kI & kS) == 0 ? kI : 16 + kI - kS)...);
  const Vec16 high = __builtin_shufflevector(a, b, ((kI & kS) == 0 ? kI + kS : 16 + kI)...);
  a = low;
  b = high;
}

// rows[r][c] <- rows[c][r]: each step swaps bit kS of the row and column indices.
template <int kS>
void transpose_step(Vec16* rows) {
  for (int i = 0; i < 16; ++i) {
    if ((i & kS) == 0) exchange_bit<kS>(rows[i], rows[i + kS], std::make_index_sequence<16>());
  }
}

inline void transpose16(Vec16* rows) {
  transpose_step<8>(rows);
  transpose_step<4>(rows);
  transpose_step<2>(rows);
  transpose_step<1>(rows);
}

// d[r * kN + q][l] = the value at row h0 + r, column w0 + q of plane l (planes `plane` floats apart
// from x), for r, q < kN: 0 outside the H x W plane and for l >= lanes.
template <int kN>
void gather_window(const float* x, int64_t plane, int64_t H, int64_t W, int64_t h0, int64_t w0,
                   int lanes, Lanes* d) {
  constexpr int kValues = kN * kN, kBlocks = (kValues + 15) / 16;
  alignas(64) float rows[kLanes][kBlocks * 16];
  const bool whole_rows = w0 >= 0 && w0 + kN <= W;
  for (int l = 0; l < kLanes; ++l) {
    float* b = rows[l];
    std::fill(b, b + kBlocks * 16, 0.0F);
    if (l >= lanes) continue;
    const float* p = x + l * plane;
    for (int r = 0; r < kN; ++r) {
      const int64_t h = h0 + r;
      if (h < 0 || h >= H) continue;
      if (whole_rows) {
        std::memcpy(b + r * kN, p + h * W + w0, kN * sizeof(float));
      } else {
        for (int q = 0; q < kN; ++q) {
          const int64_t w = w0 + q;
          if (w >= 0 && w < W) b[r * kN + q] = p[h * W + w];
        }
      }
    }
  }
  for (int k = 0; k < kBlocks; ++k) {
    Vec16 v[kLanes];
    for (int l = 0; l < kLanes; ++l) std::memcpy(&v[l], rows[l] + k * 16, sizeof(Vec16));
    transpose16(v);
    for (int e = 0; e < 16 && k * 16 + e < kValues; ++e)
      std::memcpy(d[k * 16 + e], &v[e], sizeof(Vec16));
  }
}

// The inverse: the value at row h0 + r, column w0 + q of plane l becomes o[r * kN + q][l], for the
// rows and columns inside the H x W plane (h0, w0 >= 0) and l < lanes.
template <int kN>
void scatter_window(const Lanes* o, int64_t plane, int64_t H, int64_t W, int64_t h0, int64_t w0,
                    int lanes, float* y) {
  constexpr int kValues = kN * kN;
  static_assert(kValues <= 16, "one 16x16 transpose");
  Vec16 v[kLanes] = {};
  for (int e = 0; e < kValues; ++e) std::memcpy(&v[e], o[e], sizeof(Vec16));
  transpose16(v);
  const int64_t rows = std::min<int64_t>(kN, H - h0), cols = std::min<int64_t>(kN, W - w0);
  for (int l = 0; l < lanes; ++l) {
    float values[16];
    std::memcpy(values, &v[l], sizeof(Vec16));
    float* p = y + l * plane + h0 * W + w0;
    for (int64_t r = 0; r < rows; ++r) {
      if (cols == kN) {
        std::memcpy(p + r * W, values + r * kN, kN * sizeof(float));
      } else {
        for (int64_t q = 0; q < cols; ++q) p[r * W + q] = values[r * kN + q];
      }
    }
  }
}

}  // namespace
}  // namespace nabla::detail::NABLA_WINO_NS

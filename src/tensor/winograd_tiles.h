// Winograd tiles for src/tensor/winograd_impl.h (and, like it, compiled once per instruction set
// inside NABLA_WINO_NS): the 1-D transforms of F(4x4, 3x3) and F(2x2, 3x3), the tiling of a batch,
// and the moves between NCHW planes and the [pixel][lane] strips the transforms work on.
// Included only by winograd_impl.h.
#pragma once

#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
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

// out (n_out x n_out) = f applied to the columns of `in` (n_in x n_in, rows `in_stride` apart),
// then to the rows.
template <typename F>
void transform_2d(const Lanes* in, int64_t in_stride, int n_in, F f, int n_out, Lanes* out) {
  Lanes t[kMaxTile * kMaxTile];  // n_out x n_in
  for (int q = 0; q < n_in; ++q) f(in + q, static_cast<int>(in_stride), t + q, n_in);
  for (int r = 0; r < n_out; ++r) f(t + r * n_in, 1, out + r * n_out, 1);
}

// The same on a contiguous `in`.
template <typename F>
void transform_2d(const Lanes* in, int n_in, F f, int n_out, Lanes* out) {
  transform_2d(in, n_in, n_in, f, n_out, out);
}

struct Tiling {
  int64_t N, C, H, W, tiles_h, tiles_w, T;
};

Tiling tiling(int64_t N, int64_t C, int64_t H, int64_t W, int out) {
  const int64_t th = (H + out - 1) / out, tw = (W + out - 1) / out;
  return {N, C, H, W, th, tw, N * th * tw};
}

// `count` floats, uninitialised.
inline FloatBuffer buffer(int64_t count) {
  return FloatBuffer(static_cast<float*>(
      ::operator new[](static_cast<size_t>(count) * sizeof(float), std::align_val_t{64})));
}

int64_t lane_blocks(int64_t n) { return (n + kLanes - 1) / kLanes; }

// How many of `count` channels the block starting at c0 holds: kLanes, fewer in the last block.
int lanes_from(int64_t c0, int64_t count) {
  return static_cast<int>(std::min<int64_t>(kLanes, count - c0));
}

// Values of kLanes channels stored [pixel][lane], a pixel to a cache line: the strips of planes the
// transforms read and write.
using LaneBuffer = std::unique_ptr<Lanes[], CacheLineFree>;

// `pixels` pixels of zeros (unlike buffer: the strips rely on columns nothing writes).
inline LaneBuffer lane_buffer(int64_t pixels) {
  const size_t bytes = static_cast<size_t>(pixels) * sizeof(Lanes);
  auto* p = static_cast<Lanes*>(::operator new[](bytes, std::align_val_t{64}));
  std::memset(p, 0, bytes);
  return LaneBuffer(p);
}

// body(n, i, c0, lanes, strip) for every tile row i of every image n and every block of kLanes of
// `channels` channels starting at c0, spread over the threads; strip is the thread's own lane
// buffer of strip_size pixels, zero when the thread starts.
template <typename Body>
void for_each_tile_row(const Tiling& tl, int64_t channels, int64_t strip_size, Body body) {
  const int64_t blocks = lane_blocks(channels);
#pragma omp parallel
  {
    const LaneBuffer strip = lane_buffer(strip_size);
#pragma omp for collapse(3) schedule(static)
    for (int64_t n = 0; n < tl.N; ++n) {
      for (int64_t i = 0; i < tl.tiles_h; ++i) {
        for (int64_t cb = 0; cb < blocks; ++cb) {
          const int64_t c0 = cb * kLanes;
          body(n, i, c0, lanes_from(c0, channels), strip.get());
        }
      }
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

// Moving between NCHW planes and [pixel][lane] strips: each lane's values are contiguous in its
// plane, so runs of 16 of them are loaded as vectors and turned by 16x16 transposes in registers,
// instead of one scalar load or store per value and lane.
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

// v = src[0 .. count), 0 beyond (count <= 16), and its inverse: one masked move in the AVX-512
// build (a copy of variable length became `rep movs`, whose start-up cost showed in profiles of the
// strips).
inline void load_run(const float* src, int count, Vec16& v) {
#ifdef __AVX512F__
  v = _mm512_maskz_loadu_ps(static_cast<__mmask16>((1U << count) - 1), src);
#else
  v = Vec16{};
  for (int e = 0; e < count; ++e) v[e] = src[e];
#endif
}

inline void store_run(const Vec16& v, int count, float* dst) {
#ifdef __AVX512F__
  _mm512_mask_storeu_ps(dst, static_cast<__mmask16>((1U << count) - 1), v);
#else
  for (int e = 0; e < count; ++e) dst[e] = v[e];
#endif
}

// s[(h - h0) * stride + w][l] = the value at row h, column w of plane l of x (H x W planes,
// `plane` floats apart), for the rows h0 <= h < h1, 0 for l >= lanes; s's other values are left
// as they are. The rows are one run of each plane, moved 16 values at a time by a 16x16 transpose.
inline void planes_to_lanes(const float* x, int64_t plane, int64_t W, int64_t h0, int64_t h1,
                            int lanes, Lanes* s, int64_t stride) {
  const float* run = x + h0 * W;
  const int64_t count = (h1 - h0) * W;
  for (int64_t k0 = 0; k0 < count; k0 += kLanes) {
    const int values = static_cast<int>(std::min<int64_t>(kLanes, count - k0));
    Vec16 v[kLanes];
    for (int l = 0; l < kLanes; ++l) {
      if (l >= lanes) {
        v[l] = Vec16{};
      } else if (values == kLanes) {
        std::memcpy(&v[l], run + l * plane + k0, sizeof(Vec16));
      } else {
        load_run(run + l * plane + k0, values, v[l]);
      }
    }
    transpose16(v);
    int64_t r = k0 / W, q = k0 % W;
    for (int e = 0; e < values; ++e) {
      std::memcpy(s[r * stride + q], &v[e], sizeof(Vec16));
      if (++q == W) {
        q = 0;
        ++r;
      }
    }
  }
}

// The inverse: the value at row h, column w of plane l of y becomes s[(h - h0) * stride + w][l],
// for the rows h0 <= h < h1 and l < lanes.
inline void lanes_to_planes(const Lanes* s, int64_t stride, int64_t W, int64_t h0, int64_t h1,
                            int lanes, float* y, int64_t plane) {
  float* run = y + h0 * W;
  const int64_t count = (h1 - h0) * W;
  for (int64_t k0 = 0; k0 < count; k0 += kLanes) {
    const int values = static_cast<int>(std::min<int64_t>(kLanes, count - k0));
    Vec16 v[kLanes] = {};
    int64_t r = k0 / W, q = k0 % W;
    for (int e = 0; e < values; ++e) {
      std::memcpy(&v[e], s[r * stride + q], sizeof(Vec16));
      if (++q == W) {
        q = 0;
        ++r;
      }
    }
    transpose16(v);
    for (int l = 0; l < lanes; ++l) {
      if (values == kLanes) {
        std::memcpy(run + l * plane + k0, &v[l], sizeof(Vec16));
      } else {
        store_run(v[l], values, run + l * plane + k0);
      }
    }
  }
}

}  // namespace
}  // namespace nabla::detail::NABLA_WINO_NS

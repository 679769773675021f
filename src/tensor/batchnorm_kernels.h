// The per-channel kernels of 2-D batch norm (the op batch_norm2d in ops.h): sums and
// normalisation of one channel's N planes, float on the vectorised kernels of src/simd, double
// on plain loops doing the same operations in the same order.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "simd/simd.h"

namespace nabla::detail {

// Sums of f(i) and g(i) over i < n in double, each in 8 interleaved partial sums: a fixed order
// (the same bits on every machine and thread count) without one long chain of dependent adds.
template <typename F, typename G>
std::pair<double, double> lane_sums(int64_t n, F f, G g) {
  double a[8] = {}, b[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; ++l) {
      a[l] += f(i + l);
      b[l] += g(i + l);
    }
  }
  for (int l = 0; i < n; ++i, ++l) {
    a[l] += f(i);
    b[l] += g(i);
  }
  const auto total = [](const double* v) {
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
  };
  return {total(a), total(b)};
}

// The kernels below work on the planes of one channel, H*W values each, C*H*W apart (batch_norm2d
// calls them one plane at a time, through channel_totals and for_each_plane). float runs on the
// vectorised kernels (simd.h states the operations and the order of the sums), double on plain
// loops doing the same, plane by plane, planes' sums added in order.
using simd::Planes;

// The sum over the planes, in order, of plane_sum(offset of the plane).
template <typename F>
double sum_over_planes(const Planes& p, F plane_sum) {
  double total = 0;
  for (int64_t i = 0; i < p.count; ++i) total += plane_sum(i * p.stride);
  return total;
}

inline double channel_sum(const float* x, const Planes& p) { return simd::kernels().sum(x, p); }
inline double channel_sum(const double* x, const Planes& p) {
  return sum_over_planes(p, [&](int64_t off) {
    return lane_sums(
               p.size, [x, off](int64_t s) { return x[off + s]; }, [](int64_t) { return 0.0; })
        .first;
  });
}
inline double channel_sq_dev(const float* x, const Planes& p, double mean) {
  return simd::kernels().sq_dev(x, p, mean);
}
inline double channel_sq_dev(const double* x, const Planes& p, double mean) {
  return sum_over_planes(p, [&](int64_t off) {
    return lane_sums(
               p.size,
               [x, off, mean](int64_t s) { return (x[off + s] - mean) * (x[off + s] - mean); },
               [](int64_t) { return 0.0; })
        .first;
  });
}

// A walk over every plane (n, c) of an (N, C, H, W) tensor in memory order, runs of planes spread
// over the threads, keeping value(n, c) of each plane; then each channel's values added over n in
// order, starting from 0. With value a plane's sum (Planes{1, S, 0}), the totals have the same
// bits as one pass of the channel kernels above over the channel's planes (which add the planes'
// sums in that order), but the walk reads memory in order: one channel's planes are C * H * W
// apart, and on small maps (airbench's 7x7 and 3x3) a walk by channel uses a few values of each
// cache line it reads.
inline void add_to(double& total, double v) { total += v; }
inline void add_to(std::pair<double, double>& total, const std::pair<double, double>& v) {
  total.first += v.first;
  total.second += v.second;
}

template <typename V, typename F>
std::vector<V> channel_totals(int64_t N, int64_t C, F value) {
  std::vector<V> planes(static_cast<size_t>(N * C));
  // Both loops shared out, so that a batch of one image still uses every thread; a static schedule
  // gives each thread a run of planes in memory order.
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t c = 0; c < C; ++c) planes[static_cast<size_t>(n * C + c)] = value(n, c);
  }
  std::vector<V> totals(static_cast<size_t>(C), V{});
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t c = 0; c < C; ++c) {
      add_to(totals[static_cast<size_t>(c)], planes[static_cast<size_t>(n * C + c)]);
    }
  }
  return totals;
}

// f(n, c) for every plane, in memory order, runs of planes spread over the threads.
template <typename F>
void for_each_plane(int64_t N, int64_t C, F f) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t c = 0; c < C; ++c) f(n, c);
  }
}

// The normalisation of one channel. The backward functions recompute xhat and the ReLU's mask
// from x rather than keeping them.
template <typename T>
struct ChannelNorm {
  T mean, inv_std, gamma, beta;
  bool relu;
  T xhat(T x) const { return (x - mean) * inv_std; }
  T dz(T xh, T dy) const { return !relu || gamma * xh + beta > T(0) ? dy : T(0); }
};

inline simd::BatchNormArgs simd_args(const ChannelNorm<float>& a) {
  return {a.mean, a.inv_std, a.gamma, a.beta, a.relu};
}

inline void norm_forward(const ChannelNorm<float>& a, const float* x, float* y, const Planes& p) {
  simd::kernels().batch_norm_forward(simd_args(a), x, y, p);
}
inline void norm_forward(const ChannelNorm<double>& a, const double* x, double* y,
                         const Planes& p) {
  for (int64_t i = 0; i < p.count; ++i) {
    for (int64_t s = i * p.stride; s < i * p.stride + p.size; ++s) {
      const double v = a.gamma * a.xhat(x[s]) + a.beta;
      y[s] = a.relu && v < 0.0 ? 0.0 : v;  // NaN stays NaN
    }
  }
}

// {sum of dz, sum of dz * xhat}.
inline std::pair<double, double> norm_backward_sums(const ChannelNorm<float>& a, const float* x,
                                                    const float* dy, const Planes& p) {
  double sum = 0, dot = 0;
  simd::kernels().batch_norm_backward_sums(simd_args(a), x, dy, p, &sum, &dot);
  return {sum, dot};
}
inline std::pair<double, double> norm_backward_sums(const ChannelNorm<double>& a, const double* x,
                                                    const double* dy, const Planes& p) {
  double sum = 0, dot = 0;
  for (int64_t i = 0; i < p.count; ++i) {
    const double *xp = x + i * p.stride, *dyp = dy + i * p.stride;
    const auto [s, d] = lane_sums(
        p.size, [&](int64_t k) { return a.dz(a.xhat(xp[k]), dyp[k]); },
        [&](int64_t k) { return a.dz(a.xhat(xp[k]), dyp[k]) * a.xhat(xp[k]); });
    sum += s;
    dot += d;
  }
  return {sum, dot};
}

inline void norm_backward_dx(const ChannelNorm<float>& a, const float* x, const float* dy,
                             float* dx, const Planes& p, float scale, float mean_dz,
                             float mean_dz_xhat) {
  simd::kernels().batch_norm_backward_dx(simd_args(a), x, dy, dx, p, scale, mean_dz, mean_dz_xhat);
}
inline void norm_backward_dx(const ChannelNorm<double>& a, const double* x, const double* dy,
                             double* dx, const Planes& p, double scale, double mean_dz,
                             double mean_dz_xhat) {
  for (int64_t i = 0; i < p.count; ++i) {
    for (int64_t s = i * p.stride; s < i * p.stride + p.size; ++s) {
      const double xh = a.xhat(x[s]);
      dx[s] = scale * (a.dz(xh, dy[s]) - mean_dz - xh * mean_dz_xhat);
    }
  }
}

}  // namespace nabla::detail

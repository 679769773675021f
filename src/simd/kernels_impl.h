// The bodies of the vectorised float32 kernels, compiled once per instruction set: each
// kernels_<isa>.cpp defines NABLA_SIMD_NS and NABLA_SIMD_TABLE and includes this file, with its own
// -m flags (see CMakeLists.txt). The loops are plain and independent per element, so that the
// compiler vectorises them for the target, and so that every instruction set gives the same bits
// (no reductions are reordered; floating-point contraction is off in ISO C++ mode).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "simd.h"

namespace nabla::simd::NABLA_SIMD_NS {
namespace {

void relu_forward(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0F ? x[i] : 0.0F;
}

void relu_backward(const float* y, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0.0F ? dy[i] : 0.0F;
}

void leaky_relu_forward(const float* x, float* y, int64_t n, float slope) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0F ? x[i] : slope * x[i];
}

void leaky_relu_backward(const float* x, const float* dy, float* dx, int64_t n, float slope) {
  for (int64_t i = 0; i < n; ++i) dx[i] = x[i] > 0.0F ? dy[i] : slope * dy[i];
}

void axpy(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void adam(const AdamArgs& a, float* w, const float* g, float* m, float* v, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float d = g[i] + a.weight_decay * w[i];
    m[i] = a.beta1 * m[i] + (1.0F - a.beta1) * d;
    v[i] = a.beta2 * v[i] + (1.0F - a.beta2) * d * d;
    w[i] -= a.step_size * m[i] / (std::sqrt(v[i]) / a.bias2_sqrt + a.eps);
  }
}

void sgd(float lr, float weight_decay, float* w, const float* g, int64_t n) {
  for (int64_t i = 0; i < n; ++i) w[i] -= lr * (g[i] + weight_decay * w[i]);
}

// GELU, x * Phi(x) with Phi(x) = (1 + erf(x / sqrt 2)) / 2, from float operations alone, so that
// the loops vectorise and every instruction set gives the same bits. erf(z) for |z| <= 4 is
// z P(z^2) / Q(z^2), a rational fit to erf on [0, 4] (largest error 3.6e-7 in float, about
// 3 ulp of 1); beyond 4 erf(z) is +-1 in float. phi(x) = exp(-x^2 / 2) / sqrt(2 pi) uses exp_neg.
constexpr float kErfP[7] = {1.1283788681e+00F, 2.0411093533e-01F, 5.1103338599e-02F,
                            3.8715349510e-03F, 1.4527981694e-04F, -1.9511032860e-06F,
                            1.9442822463e-08F};
constexpr float kErfQ[5] = {1.0F, 5.1421874762e-01F, 1.1670851708e-01F, 1.4697436243e-02F,
                            9.9544634577e-04F};

inline float erf_approx(float z) {
  const float c = std::min(std::max(z, -4.0F), 4.0F);
  const float t = c * c;
  float p = kErfP[6];
  for (int k = 5; k >= 0; --k) p = p * t + kErfP[k];
  float q = kErfQ[4];
  for (int k = 3; k >= 0; --k) q = q * t + kErfQ[k];
  return std::min(std::max(c * p / q, -1.0F), 1.0F);
}

// e^x for x <= 0: x = n ln 2 + r with |r| <= ln 2 / 2, e^r by its Taylor series to r^7 (relative
// error below 1e-8), times 2^n built in the exponent bits. Below -87 the result is 0.
inline float exp_neg(float x) {
  const float xc = std::max(-87.0F, x);  // NaN becomes -87: no NaN reaches the int conversion
  // n = round(x / ln 2): adding 1.5 * 2^23 rounds to an integer (floor() would not vectorise).
  const float n = (xc * 1.44269504089F + 12582912.0F) - 12582912.0F;
  const float r = (xc - n * 0.693359375F) - n * -2.12194440e-4F;  // ln 2 in two parts
  float p = 1.0F / 5040.0F;
  p = p * r + 1.0F / 720.0F;
  p = p * r + 1.0F / 120.0F;
  p = p * r + 1.0F / 24.0F;
  p = p * r + 1.0F / 6.0F;
  p = p * r + 0.5F;
  p = p * r + 1.0F;
  p = p * r + 1.0F;
  const float scale = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  return x < -87.0F ? 0.0F : p * scale;
}

constexpr float kInvSqrt2 = 0.70710678118654752F, kInvSqrt2Pi = 0.39894228040143268F;

void gelu_forward(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    y[i] = 0.5F * x[i] * (1.0F + erf_approx(x[i] * kInvSqrt2));
  }
}

// dx = dy (Phi(x) + x phi(x)).
void gelu_backward(const float* x, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float cdf = 0.5F * (1.0F + erf_approx(v * kInvSqrt2));
    const float pdf = kInvSqrt2Pi * exp_neg(-0.5F * v * v);
    dx[i] = dy[i] * (cdf + v * pdf);
  }
}

// 1 when every value is finite. x * 0 is 0 for finite x and NaN for NaN or infinity; the
// count of non-zero results is order-independent, so it may be vectorised freely.
bool all_finite(const float* x, int64_t n) {
  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i) bad += (x[i] * 0.0F == 0.0F) ? 0 : 1;
  return bad == 0;
}

// Sums in double over 8 interleaved lanes, combined as ((0+1)+(2+3))+((4+5)+(6+7)): a fixed order,
// so every build gives the same bits (the order of batch norm's lane sums in ops_conv.cpp).
inline double combine(const double* a) {
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

// The 8 lanes as one vector (GCC / Clang vector extensions: elementwise IEEE operations, so the
// same bits as the scalar definition, lowered to whatever width the target has). Written out
// because GCC assembles 8 loose lanes from scalar loads.
using Doubles8 = double __attribute__((vector_size(64)));
using Floats8 = float __attribute__((vector_size(32)));

// Out-parameters rather than vector return values: those change the ABI between the builds
// (GCC warns), even for inline functions.
inline void widen8(const float* x, Doubles8& out) {
  Floats8 v;
  std::memcpy(&v, x, sizeof v);
  out = __builtin_convertvector(v, Doubles8);
}

inline void spill(const Doubles8& v, double* a) { std::memcpy(a, &v, sizeof v); }

double plane_sum(const float* x, int64_t n) {
  Doubles8 acc = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    Doubles8 v;
    widen8(x + i, v);
    acc += v;
  }
  double a[8];
  spill(acc, a);
  for (int l = 0; i < n; ++i, ++l) a[l] += double{x[i]};
  return combine(a);
}

double plane_sq_dev(const float* x, int64_t n, double mean) {
  Doubles8 acc = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    Doubles8 d;
    widen8(x + i, d);
    d -= mean;
    acc += d * d;
  }
  double a[8];
  spill(acc, a);
  for (int l = 0; i < n; ++i, ++l) a[l] += (x[i] - mean) * (x[i] - mean);
  return combine(a);
}

inline float batch_norm_xhat(const BatchNormArgs& a, float x) { return (x - a.mean) * a.inv_std; }

// The gradient reaching the normalisation: dy, or 0 where the fused ReLU's output was 0.
inline float batch_norm_dz(const BatchNormArgs& a, float xhat, float dy) {
  return !a.relu || a.gamma * xhat + a.beta > 0.0F ? dy : 0.0F;
}

void batch_norm_forward_plane(const BatchNormArgs& a, const float* x, float* y, int64_t n) {
  if (a.relu) {
    for (int64_t i = 0; i < n; ++i) {
      const float v = a.gamma * batch_norm_xhat(a, x[i]) + a.beta;
      y[i] = v < 0.0F ? 0.0F : v;  // NaN stays NaN
    }
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = a.gamma * batch_norm_xhat(a, x[i]) + a.beta;
  }
}

template <bool kRelu>
void batch_norm_backward_sums_of(const BatchNormArgs& a, const float* x, const float* dy, int64_t n,
                                 double* sum_dz, double* sum_dz_xhat) {
  // Blocks of xhat and dz first, then the lane sums over them: two plain loops that GCC
  // vectorises (one fused loop with the ReLU's select it leaves scalar).
  constexpr int64_t kBlock = 256;  // a multiple of the 8 lanes
  const float mean = a.mean, inv_std = a.inv_std, gamma = a.gamma, beta = a.beta;
  float xhat[kBlock], dz[kBlock];
  Doubles8 sv = {}, dv = {};
  double s[8], d[8];
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t m = std::min(kBlock, n - b);
    for (int64_t k = 0; k < m; ++k) {
      xhat[k] = (x[b + k] - mean) * inv_std;
      dz[k] = !kRelu || gamma * xhat[k] + beta > 0.0F ? dy[b + k] : 0.0F;
    }
    int64_t k = 0;
    for (; k + 8 <= m; k += 8) {
      Doubles8 g, h;
      widen8(dz + k, g);
      widen8(xhat + k, h);
      sv += g;
      dv += g * h;
    }
    if (k < m) {  // the last block only: kBlock is a multiple of 8
      spill(sv, s);
      spill(dv, d);
      for (int l = 0; k < m; ++k, ++l) {
        s[l] += double{dz[k]};
        d[l] += double{dz[k]} * xhat[k];
      }
      std::memcpy(&sv, s, sizeof sv);
      std::memcpy(&dv, d, sizeof dv);
    }
  }
  spill(sv, s);
  spill(dv, d);
  *sum_dz = combine(s);
  *sum_dz_xhat = combine(d);
}

void batch_norm_backward_sums_plane(const BatchNormArgs& a, const float* x, const float* dy,
                                    int64_t n, double* sum_dz, double* sum_dz_xhat) {
  if (a.relu) {
    batch_norm_backward_sums_of<true>(a, x, dy, n, sum_dz, sum_dz_xhat);
  } else {
    batch_norm_backward_sums_of<false>(a, x, dy, n, sum_dz, sum_dz_xhat);
  }
}

void batch_norm_backward_dx_plane(const BatchNormArgs& a, const float* x, const float* dy,
                                  float* dx, int64_t n, float scale, float mean_dz,
                                  float mean_dz_xhat) {
  for (int64_t i = 0; i < n; ++i) {
    const float xhat = batch_norm_xhat(a, x[i]);
    dx[i] = scale * (batch_norm_dz(a, xhat, dy[i]) - mean_dz - xhat * mean_dz_xhat);
  }
}

// The entry points: the plane kernels above over every plane given, in order, from 0 (batch norm
// gives one plane at a time, so that it can read memory in order).
double sum(const float* x, const Planes& p) {
  double total = 0;
  for (int64_t i = 0; i < p.count; ++i) total += plane_sum(x + i * p.stride, p.size);
  return total;
}

double sq_dev(const float* x, const Planes& p, double mean) {
  double total = 0;
  for (int64_t i = 0; i < p.count; ++i) total += plane_sq_dev(x + i * p.stride, p.size, mean);
  return total;
}

void batch_norm_forward(const BatchNormArgs& a, const float* x, float* y, const Planes& p) {
  for (int64_t i = 0; i < p.count; ++i) {
    batch_norm_forward_plane(a, x + i * p.stride, y + i * p.stride, p.size);
  }
}

void batch_norm_backward_sums(const BatchNormArgs& a, const float* x, const float* dy,
                              const Planes& p, double* sum_dz, double* sum_dz_xhat) {
  double s = 0, d = 0;
  for (int64_t i = 0; i < p.count; ++i) {
    double ps = 0, pd = 0;
    batch_norm_backward_sums_plane(a, x + i * p.stride, dy + i * p.stride, p.size, &ps, &pd);
    s += ps;
    d += pd;
  }
  *sum_dz = s;
  *sum_dz_xhat = d;
}

void batch_norm_backward_dx(const BatchNormArgs& a, const float* x, const float* dy, float* dx,
                            const Planes& p, float scale, float mean_dz, float mean_dz_xhat) {
  for (int64_t i = 0; i < p.count; ++i) {
    const int64_t off = i * p.stride;
    batch_norm_backward_dx_plane(a, x + off, dy + off, dx + off, p.size, scale, mean_dz,
                                 mean_dz_xhat);
  }
}

}  // namespace

extern const KernelTable NABLA_SIMD_TABLE;
const KernelTable NABLA_SIMD_TABLE = {
    relu_forward,
    relu_backward,
    leaky_relu_forward,
    leaky_relu_backward,
    gelu_forward,
    gelu_backward,
    axpy,
    adam,
    sgd,
    all_finite,
    sum,
    sq_dev,
    batch_norm_forward,
    batch_norm_backward_sums,
    batch_norm_backward_dx,
};

}  // namespace nabla::simd::NABLA_SIMD_NS

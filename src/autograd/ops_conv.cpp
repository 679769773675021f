// Convolution, max pooling and 2-D batch norm; each backward directly below its forward.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "nabla/conv.h"
#include "nabla/ops.h"
#include "simd/simd.h"

namespace nabla {
namespace {

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

// Batch norm works on one channel at a time: its N planes of H*W values, C*H*W apart. float runs
// on the vectorised kernels (simd.h states the operations and the order of the sums), double on
// plain loops doing the same, plane by plane, planes' sums added in order.
using simd::Planes;

// The sum over the planes, in order, of plane_sum(offset of the plane).
template <typename F>
double sum_over_planes(const Planes& p, F plane_sum) {
  double total = 0;
  for (int64_t i = 0; i < p.count; ++i) total += plane_sum(i * p.stride);
  return total;
}

double channel_sum(const float* x, const Planes& p) { return simd::kernels().sum(x, p); }
double channel_sum(const double* x, const Planes& p) {
  return sum_over_planes(p, [&](int64_t off) {
    return lane_sums(
               p.size, [x, off](int64_t s) { return x[off + s]; }, [](int64_t) { return 0.0; })
        .first;
  });
}
double channel_sq_dev(const float* x, const Planes& p, double mean) {
  return simd::kernels().sq_dev(x, p, mean);
}
double channel_sq_dev(const double* x, const Planes& p, double mean) {
  return sum_over_planes(p, [&](int64_t off) {
    return lane_sums(
               p.size,
               [x, off, mean](int64_t s) { return (x[off + s] - mean) * (x[off + s] - mean); },
               [](int64_t) { return 0.0; })
        .first;
  });
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

simd::BatchNormArgs simd_args(const ChannelNorm<float>& a) {
  return {a.mean, a.inv_std, a.gamma, a.beta, a.relu};
}

void norm_forward(const ChannelNorm<float>& a, const float* x, float* y, const Planes& p) {
  simd::kernels().batch_norm_forward(simd_args(a), x, y, p);
}
void norm_forward(const ChannelNorm<double>& a, const double* x, double* y, const Planes& p) {
  for (int64_t i = 0; i < p.count; ++i) {
    for (int64_t s = i * p.stride; s < i * p.stride + p.size; ++s) {
      const double v = a.gamma * a.xhat(x[s]) + a.beta;
      y[s] = a.relu && v < 0.0 ? 0.0 : v;  // NaN stays NaN
    }
  }
}

// {sum of dz, sum of dz * xhat}.
std::pair<double, double> norm_backward_sums(const ChannelNorm<float>& a, const float* x,
                                             const float* dy, const Planes& p) {
  double sum = 0, dot = 0;
  simd::kernels().batch_norm_backward_sums(simd_args(a), x, dy, p, &sum, &dot);
  return {sum, dot};
}
std::pair<double, double> norm_backward_sums(const ChannelNorm<double>& a, const double* x,
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

void norm_backward_dx(const ChannelNorm<float>& a, const float* x, const float* dy, float* dx,
                      const Planes& p, float scale, float mean_dz, float mean_dz_xhat) {
  simd::kernels().batch_norm_backward_dx(simd_args(a), x, dy, dx, p, scale, mean_dz, mean_dz_xhat);
}
void norm_backward_dx(const ChannelNorm<double>& a, const double* x, const double* dy, double* dx,
                      const Planes& p, double scale, double mean_dz, double mean_dz_xhat) {
  for (int64_t i = 0; i < p.count; ++i) {
    for (int64_t s = i * p.stride; s < i * p.stride + p.size; ++s) {
      const double xh = a.xhat(x[s]);
      dx[s] = scale * (a.dz(xh, dy[s]) - mean_dz - xh * mean_dz_xhat);
    }
  }
}
}  // namespace

// dx, dweight, dbias from conv2d_backward, each only when that input needs it.
template <typename T>
Variable<T> conv2d(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias,
                   int64_t stride, int64_t pad) {
  const Tensor<T> no_bias;
  // The forward pass keeps what the backward pass can reuse, when there will be one.
  const bool record = grad_enabled() && (x.requires_grad() || weight.requires_grad() ||
                                         (bias.defined() && bias.requires_grad()));
  auto saved = record ? std::make_shared<Conv2dSaved>() : nullptr;
  Tensor<T> y = conv2d_forward(x.value(), weight.value(), bias.defined() ? bias.value() : no_bias,
                               stride, pad, saved.get());
  std::vector<std::shared_ptr<Node<T>>> inputs{x.node(), weight.node()};
  if (bias.defined()) inputs.push_back(bias.node());
  auto xn = x.node(), wn = weight.node();
  auto bn = bias.defined() ? bias.node() : nullptr;
  return Variable<T>::make_result(
      std::move(y), "conv2d", inputs, [xn, wn, bn, stride, pad, saved](const Tensor<T>& dy) {
        const bool need_db = bn && bn->requires_grad;
        Conv2dGrads<T> g = conv2d_backward(dy, xn->value, wn->value, stride, pad, xn->requires_grad,
                                           wn->requires_grad, need_db, saved.get());
        if (xn->requires_grad) xn->accumulate_owned(std::move(g.dx));
        if (wn->requires_grad) wn->accumulate_owned(std::move(g.dweight));
        if (need_db) bn->accumulate_owned(std::move(g.dbias));
      });
}

template <typename T>
Variable<T> conv2d_bn_inference(const Variable<T>& x, const Variable<T>& weight,
                                const Variable<T>& bias, int64_t stride, int64_t pad,
                                const BatchNormStats<T>& bn, bool relu) {
  if (grad_enabled()) {
    throw std::logic_error("conv2d_bn_inference: inference only, call it with autograd off");
  }
  const Tensor<T> no_bias;
  return Variable<T>::make_result(
      conv2d_bn_inference(x.value(), weight.value(), bias.defined() ? bias.value() : no_bias,
                          stride, pad, bn, relu),
      relu ? "conv2d_bn_relu" : "conv2d_bn", {}, nullptr);
}

template <typename T>
Variable<T> max_pool2d(const Variable<T>& x, int64_t kernel, int64_t stride, int64_t pad) {
  if (!grad_enabled() || !x.requires_grad()) {
    return Variable<T>::make_result(max_pool2d_forward(x.value(), kernel, stride, pad),
                                    "max_pool2d", {}, nullptr);
  }
  PoolArgmax argmax;
  Tensor<T> y = max_pool2d_forward(x.value(), kernel, stride, pad, argmax);
  auto xn = x.node();
  const int64_t planes = y.dim(0) * y.dim(1), plane_out = y.dim(2) * y.dim(3);
  return Variable<T>::make_result(
      std::move(y), "max_pool2d", {xn},
      [xn, argmax = std::move(argmax), planes, plane_out](const Tensor<T>& dy) {
        Tensor<T> dx = Tensor<T>::uninitialized(xn->value.shape());
        const int64_t plane_in = dx.dim(2) * dx.dim(3);
        const T* pdy = dy.data();
        const int32_t* arg = argmax.data();
    // Every window's maximum lies in its own (n, c) plane: planes are independent, and each
    // is cleared just before its scatter, while it is in cache.
#pragma omp parallel for schedule(static)
        for (int64_t p = 0; p < planes; ++p) {
          T* plane = dx.data() + p * plane_in;
          std::fill(plane, plane + plane_in, T(0));
          for (int64_t o = p * plane_out; o < (p + 1) * plane_out; ++o) plane[arg[o]] += pdy[o];
        }
        xn->accumulate_owned(std::move(dx));
      });
}

//   With relu, dy is first masked where the output is 0.
template <typename T>
Variable<T> batch_norm2d(const Variable<T>& x, const Variable<T>& gamma, const Variable<T>& beta,
                         Tensor<T>& running_mean, Tensor<T>& running_var, bool training, T momentum,
                         T eps, bool relu) {
  const Tensor<T>& xv = x.value();
  if (xv.rank() != 4) {
    throw std::invalid_argument("batch_norm2d: input must be NCHW, got " + shape_str(xv.shape()));
  }
  const int64_t N = xv.dim(0), C = xv.dim(1), S = xv.dim(2) * xv.dim(3), M = N * S;
  if (gamma.numel() != C || beta.numel() != C || running_mean.numel() != C ||
      running_var.numel() != C) {
    throw std::invalid_argument("batch_norm2d: input has " + std::to_string(C) +
                                " channels, parameters do not match");
  }
  if (training && M < 2) {
    throw std::invalid_argument("batch_norm2d: training needs more than one value per channel");
  }
  // Per channel: the statistics used (batch or running), for the backward pass.
  Tensor<T> mean({C}), inv_std({C}), y = Tensor<T>::uninitialized(xv.shape());
  const T* px = xv.data();
  T* py = y.data();
  const auto channel = [&gamma, &beta, &mean, &inv_std, relu](int64_t c) {
    return ChannelNorm<T>{mean[c], inv_std[c], gamma.value()[c], beta.value()[c], relu};
  };
  const Planes planes{N, S, C * S};
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    T var;
    if (training) {
      // The mean first, then the squared deviations from it (two passes: no cancellation).
      const double mu = channel_sum(px + c * S, planes) / static_cast<double>(M);
      const double sq = channel_sq_dev(px + c * S, planes, mu);
      mean[c] = static_cast<T>(mu);
      var = static_cast<T>(sq / static_cast<double>(M));
      running_mean[c] = (T(1) - momentum) * running_mean[c] + momentum * mean[c];
      running_var[c] = (T(1) - momentum) * running_var[c] +
                       momentum * static_cast<T>(sq / static_cast<double>(M - 1));
    } else {
      mean[c] = running_mean[c];
      var = running_var[c];
    }
    inv_std[c] = T(1) / std::sqrt(var + eps);
    norm_forward(channel(c), px + c * S, py + c * S, planes);
  }
  auto xn = x.node(), gn = gamma.node(), bn = beta.node();
  return Variable<T>::make_result(
      std::move(y), relu ? "batch_norm2d_relu" : "batch_norm2d", {xn, gn, bn},
      [xn, gn, bn, mean, inv_std, relu, training, N, C, S, M](const Tensor<T>& dy) {
        Tensor<T> dgamma({C}), dbeta({C});
        Tensor<T> dx =
            xn->requires_grad ? Tensor<T>::uninitialized(xn->value.shape()) : Tensor<T>();
        const T* g = gn->value.data();
        const T* be = bn->value.data();
        const T* px = xn->value.data();
        const T* pdy = dy.data();
        T* pdx = dx.data();
#pragma omp parallel for schedule(static)
        for (int64_t c = 0; c < C; ++c) {
          const ChannelNorm<T> a{mean[c], inv_std[c], g[c], be[c], relu};
          const Planes planes{N, S, C * S};
          const std::pair<double, double> sums =
              norm_backward_sums(a, px + c * S, pdy + c * S, planes);
          const double sum_dz = sums.first, sum_dz_xhat = sums.second;
          dgamma[c] = static_cast<T>(sum_dz_xhat);
          dbeta[c] = static_cast<T>(sum_dz);
          if (dx.empty()) continue;
          const T scale = g[c] * inv_std[c];
          const T mean_dz = training ? static_cast<T>(sum_dz / static_cast<double>(M)) : T(0);
          const T mean_dz_xhat =
              training ? static_cast<T>(sum_dz_xhat / static_cast<double>(M)) : T(0);
          norm_backward_dx(a, px + c * S, pdy + c * S, pdx + c * S, planes, scale, mean_dz,
                           mean_dz_xhat);
        }
        if (xn->requires_grad) xn->accumulate_owned(std::move(dx));
        if (gn->requires_grad) gn->accumulate_owned(std::move(dgamma));
        if (bn->requires_grad) bn->accumulate_owned(std::move(dbeta));
      });
}

#define NABLA_CONV_OPS(T)                                                                          \
  template Variable<T> conv2d<T>(const Variable<T>&, const Variable<T>&, const Variable<T>&,       \
                                 int64_t, int64_t);                                                \
  template Variable<T> conv2d_bn_inference<T>(const Variable<T>&, const Variable<T>&,              \
                                              const Variable<T>&, int64_t, int64_t,                \
                                              const BatchNormStats<T>&, bool);                     \
  template Variable<T> max_pool2d<T>(const Variable<T>&, int64_t, int64_t, int64_t);               \
  template Variable<T> batch_norm2d<T>(const Variable<T>&, const Variable<T>&, const Variable<T>&, \
                                       Tensor<T>&, Tensor<T>&, bool, T, T, bool);
NABLA_CONV_OPS(float)
NABLA_CONV_OPS(double)

}  // namespace nabla

// Convolution, max pooling and 2-D batch norm; each backward directly below its forward. The
// per-channel batch-norm kernels are in src/tensor/batchnorm_kernels.h.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "nabla/conv.h"
#include "nabla/ops.h"
#include "nabla/pool.h"
#include "nabla/profile.h"
#include "simd/simd.h"
#include "tensor/batchnorm_kernels.h"

namespace nabla {

using detail::channel_sq_dev;
using detail::channel_sum;
using detail::channel_totals;
using detail::ChannelNorm;
using detail::for_each_plane;
using detail::norm_backward_dx;
using detail::norm_backward_sums;
using detail::norm_forward;
using detail::Planes;

namespace {

// `values` summed over the replicas.
std::vector<double> summed(const ReplicaSum& sum, std::vector<double> values) {
  sum(values);
  return values;
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
  // x read, y and the argmax written (backward: dy and the argmax read, dx written).
  const double bytes = static_cast<double>(x.value().numel()) * sizeof(T) +
                       static_cast<double>(y.numel()) * (sizeof(T) + sizeof(int32_t));
  profile::add_bytes("max_pool2d", bytes);
  return Variable<T>::make_result(
      std::move(y), "max_pool2d", {xn},
      [xn, argmax = std::move(argmax), planes, plane_out, bytes](const Tensor<T>& dy) {
        profile::add_bytes("max_pool2d backward", bytes);
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
                         T eps, bool relu, const ReplicaSum& replica_sum) {
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
  const bool synced = training && replica_sum;
  // The values per channel in the batches of all replicas.
  const int64_t M_all = synced ? static_cast<int64_t>(summed(replica_sum, {double(M)})[0]) : M;
  if (training && M_all < 2) {
    throw std::invalid_argument("batch_norm2d: training needs more than one value per channel");
  }
  // Per channel: the statistics used (batch or running), for the backward pass.
  Tensor<T> mean({C}), inv_std({C}), y = Tensor<T>::uninitialized(xv.shape());
  const T* px = xv.data();
  T* py = y.data();
  const auto channel = [&gamma, &beta, &mean, &inv_std, relu](int64_t c) {
    return ChannelNorm<T>{mean[c], inv_std[c], gamma.value()[c], beta.value()[c], relu};
  };
  // Plane by plane in memory order (channel_totals, for_each_plane): the same bits as channel by
  // channel, read in order. Synchronised, each pass's sums are added over the replicas.
  const Planes plane{.count = 1, .size = S, .stride = 0};
  const auto at = [C, S](int64_t n, int64_t c) { return (n * C + c) * S; };
  if (training) {
    // The mean first, then the squared deviations from it (two passes: no cancellation).
    std::vector<double> sums = channel_totals<double>(
        N, C, [&](int64_t n, int64_t c) { return channel_sum(px + at(n, c), plane); });
    if (synced) sums = summed(replica_sum, std::move(sums));
    std::vector<double> mus(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) mus[c] = sums[c] / static_cast<double>(M_all);
    std::vector<double> squares = channel_totals<double>(
        N, C, [&](int64_t n, int64_t c) { return channel_sq_dev(px + at(n, c), plane, mus[c]); });
    if (synced) squares = summed(replica_sum, std::move(squares));
    for (int64_t c = 0; c < C; ++c) {
      mean[c] = static_cast<T>(mus[c]);
      const T var = static_cast<T>(squares[c] / static_cast<double>(M_all));
      running_mean[c] = (T(1) - momentum) * running_mean[c] + momentum * mean[c];
      running_var[c] = (T(1) - momentum) * running_var[c] +
                       momentum * static_cast<T>(squares[c] / static_cast<double>(M_all - 1));
      inv_std[c] = T(1) / std::sqrt(var + eps);
    }
  } else {
    for (int64_t c = 0; c < C; ++c) {
      mean[c] = running_mean[c];
      inv_std[c] = T(1) / std::sqrt(running_var[c] + eps);
    }
  }
  for_each_plane(N, C, [&](int64_t n, int64_t c) {
    norm_forward(channel(c), px + at(n, c), py + at(n, c), plane);
  });
  auto xn = x.node(), gn = gamma.node(), bn = beta.node();
  const char* op = relu ? "batch_norm2d_relu" : "batch_norm2d";
  // The least traffic an op can have, for GB/s in `nabla bench --layers`: x read, y written
  // (backward: x and dy read, dx written).
  const double bytes = static_cast<double>(N * C * S) * sizeof(T);
  profile::add_bytes(op, 2 * bytes);
  return Variable<T>::make_result(
      std::move(y), op, {xn, gn, bn},
      [xn, gn, bn, mean, inv_std, relu, training, N, C, S, M_all, replica_sum, synced, op,
       bytes](const Tensor<T>& dy) {
        Tensor<T> dgamma({C}), dbeta({C});
        Tensor<T> dx =
            xn->requires_grad ? Tensor<T>::uninitialized(xn->value.shape()) : Tensor<T>();
        if (profile::enabled()) {
          profile::add_bytes(std::string(op) + " backward", (dx.empty() ? 2 : 3) * bytes);
        }
        const T* g = gn->value.data();
        const T* be = bn->value.data();
        const T* px = xn->value.data();
        const T* pdy = dy.data();
        T* pdx = dx.data();
        const auto channel = [&](int64_t c) {
          return ChannelNorm<T>{mean[c], inv_std[c], g[c], be[c], relu};
        };
        const Planes plane{.count = 1, .size = S, .stride = 0};
        const auto at = [C, S](int64_t n, int64_t c) { return (n * C + c) * S; };
        // Per channel: the sums of dz and of dz * xhat, plane by plane in memory order.
        // Synchronised: this replica's sums give dgamma and dbeta (its share, which the gradient
        // reducer adds up); dx needs the sums over all replicas' batches.
        std::vector<std::pair<double, double>> sums =
            channel_totals<std::pair<double, double>>(N, C, [&](int64_t n, int64_t c) {
              return norm_backward_sums(channel(c), px + at(n, c), pdy + at(n, c), plane);
            });
        for (int64_t c = 0; c < C; ++c) {
          dbeta[c] = static_cast<T>(sums[c].first);
          dgamma[c] = static_cast<T>(sums[c].second);
        }
        if (dx.empty()) {
          if (gn->requires_grad) gn->accumulate_owned(std::move(dgamma));
          if (bn->requires_grad) bn->accumulate_owned(std::move(dbeta));
          return;
        }
        if (synced) {
          std::vector<double> totals(2 * static_cast<size_t>(C));
          for (int64_t c = 0; c < C; ++c) {
            totals[2 * c] = sums[c].first;
            totals[2 * c + 1] = sums[c].second;
          }
          totals = summed(replica_sum, std::move(totals));
          for (int64_t c = 0; c < C; ++c) sums[c] = {totals[2 * c], totals[2 * c + 1]};
        }
        std::vector<T> scale(static_cast<size_t>(C)), mean_dz(static_cast<size_t>(C)),
            mean_dz_xhat(static_cast<size_t>(C));
        for (int64_t c = 0; c < C; ++c) {
          scale[c] = g[c] * inv_std[c];
          mean_dz[c] = training ? static_cast<T>(sums[c].first / static_cast<double>(M_all)) : T(0);
          mean_dz_xhat[c] =
              training ? static_cast<T>(sums[c].second / static_cast<double>(M_all)) : T(0);
        }
        for_each_plane(N, C, [&](int64_t n, int64_t c) {
          norm_backward_dx(channel(c), px + at(n, c), pdy + at(n, c), pdx + at(n, c), plane,
                           scale[c], mean_dz[c], mean_dz_xhat[c]);
        });
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
                                       Tensor<T>&, Tensor<T>&, bool, T, T, bool,                   \
                                       const ReplicaSum&);
NABLA_CONV_OPS(float)
NABLA_CONV_OPS(double)

}  // namespace nabla

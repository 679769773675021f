// Convolution, max pooling and 2-D batch norm; each backward directly below its forward.
#include <cmath>
#include <stdexcept>
#include <string>

#include "nabla/conv.h"
#include "nabla/ops.h"

namespace nabla {

// dx, dweight, dbias from conv2d_backward, each only when that input needs it.
template <typename T>
Variable<T> conv2d(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias,
                   int64_t stride, int64_t pad) {
  const Tensor<T> no_bias;
  Tensor<T> y = conv2d_forward(x.value(), weight.value(), bias.defined() ? bias.value() : no_bias,
                               stride, pad);
  std::vector<std::shared_ptr<Node<T>>> inputs{x.node(), weight.node()};
  if (bias.defined()) inputs.push_back(bias.node());
  auto xn = x.node(), wn = weight.node();
  auto bn = bias.defined() ? bias.node() : nullptr;
  return Variable<T>::make_result(
      std::move(y), "conv2d", inputs, [xn, wn, bn, stride, pad](const Tensor<T>& dy) {
        const bool need_db = bn && bn->requires_grad;
        Conv2dGrads<T> g = conv2d_backward(dy, xn->value, wn->value, stride, pad, xn->requires_grad,
                                           wn->requires_grad, need_db);
        if (xn->requires_grad) xn->accumulate_owned(std::move(g.dx));
        if (wn->requires_grad) wn->accumulate_owned(std::move(g.dweight));
        if (need_db) bn->accumulate_owned(std::move(g.dbias));
      });
}

template <typename T>
Variable<T> max_pool2d(const Variable<T>& x, int64_t kernel, int64_t stride, int64_t pad) {
  std::vector<int64_t> argmax;
  Tensor<T> y = max_pool2d_forward(x.value(), kernel, stride, pad, argmax);
  auto xn = x.node();
  return Variable<T>::make_result(std::move(y), "max_pool2d", {xn},
                                  [xn, argmax](const Tensor<T>& dy) {
                                    Tensor<T> dx(xn->value.shape());
                                    for (size_t o = 0; o < argmax.size(); ++o) {
                                      dx[argmax[o]] += dy[static_cast<int64_t>(o)];
                                    }
                                    xn->accumulate_owned(std::move(dx));
                                  });
}

// With M = N*H*W values per channel and xhat the normalised input:
//   dgamma = sum dy * xhat, dbeta = sum dy,
//   training:   dx = inv_std / M * (M dxhat - sum dxhat - xhat sum dxhat xhat),  dxhat = dy gamma
//   evaluation: dx = dy * gamma * inv_std (the statistics are constants).
template <typename T>
Variable<T> batch_norm2d(const Variable<T>& x, const Variable<T>& gamma, const Variable<T>& beta,
                         Tensor<T>& running_mean, Tensor<T>& running_var, bool training, T momentum,
                         T eps) {
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
  Tensor<T> xhat(xv.shape()), inv_std({C}), y(xv.shape());
  const T* px = xv.data();
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    T mean, var;
    if (training) {
      double sum = 0, sq = 0;
      for (int64_t n = 0; n < N; ++n) {
        const T* p = px + (n * C + c) * S;
        for (int64_t s = 0; s < S; ++s) sum += p[s];
      }
      const double mu = sum / static_cast<double>(M);
      for (int64_t n = 0; n < N; ++n) {
        const T* p = px + (n * C + c) * S;
        for (int64_t s = 0; s < S; ++s) sq += (p[s] - mu) * (p[s] - mu);
      }
      mean = static_cast<T>(mu);
      var = static_cast<T>(sq / static_cast<double>(M));
      running_mean[c] = (T(1) - momentum) * running_mean[c] + momentum * mean;
      running_var[c] = (T(1) - momentum) * running_var[c] +
                       momentum * static_cast<T>(sq / static_cast<double>(M - 1));
    } else {
      mean = running_mean[c];
      var = running_var[c];
    }
    inv_std[c] = T(1) / std::sqrt(var + eps);
    const T g = gamma.value()[c], b = beta.value()[c];
    for (int64_t n = 0; n < N; ++n) {
      const int64_t off = (n * C + c) * S;
      for (int64_t s = 0; s < S; ++s) {
        xhat[off + s] = (px[off + s] - mean) * inv_std[c];
        y[off + s] = g * xhat[off + s] + b;
      }
    }
  }
  auto xn = x.node(), gn = gamma.node(), bn = beta.node();
  return Variable<T>::make_result(
      std::move(y), "batch_norm2d", {xn, gn, bn},
      [xn, gn, bn, xhat, inv_std, training, N, C, S, M](const Tensor<T>& dy) {
        Tensor<T> dgamma({C}), dbeta({C});
        Tensor<T> dx = xn->requires_grad ? Tensor<T>(xhat.shape()) : Tensor<T>();
        const T* g = gn->value.data();
#pragma omp parallel for schedule(static)
        for (int64_t c = 0; c < C; ++c) {
          double sum_dy = 0, sum_dy_xhat = 0;
          for (int64_t n = 0; n < N; ++n) {
            const int64_t off = (n * C + c) * S;
            for (int64_t s = 0; s < S; ++s) {
              sum_dy += dy[off + s];
              sum_dy_xhat += dy[off + s] * xhat[off + s];
            }
          }
          dgamma[c] = static_cast<T>(sum_dy_xhat);
          dbeta[c] = static_cast<T>(sum_dy);
          if (dx.empty()) continue;
          const T scale = g[c] * inv_std[c];
          const T mean_dy = static_cast<T>(sum_dy / static_cast<double>(M));
          const T mean_dy_xhat = static_cast<T>(sum_dy_xhat / static_cast<double>(M));
          for (int64_t n = 0; n < N; ++n) {
            const int64_t off = (n * C + c) * S;
            for (int64_t s = 0; s < S; ++s) {
              dx[off + s] = training
                                ? scale * (dy[off + s] - mean_dy - xhat[off + s] * mean_dy_xhat)
                                : scale * dy[off + s];
            }
          }
        }
        if (xn->requires_grad) xn->accumulate_owned(std::move(dx));
        if (gn->requires_grad) gn->accumulate_owned(std::move(dgamma));
        if (bn->requires_grad) bn->accumulate_owned(std::move(dbeta));
      });
}

#define NABLA_CONV_OPS(T)                                                                          \
  template Variable<T> conv2d<T>(const Variable<T>&, const Variable<T>&, const Variable<T>&,       \
                                 int64_t, int64_t);                                                \
  template Variable<T> max_pool2d<T>(const Variable<T>&, int64_t, int64_t, int64_t);               \
  template Variable<T> batch_norm2d<T>(const Variable<T>&, const Variable<T>&, const Variable<T>&, \
                                       Tensor<T>&, Tensor<T>&, bool, T, T);
NABLA_CONV_OPS(float)
NABLA_CONV_OPS(double)

}  // namespace nabla

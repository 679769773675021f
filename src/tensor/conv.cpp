#include "nabla/conv.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "conv_dnnl.h"
#include "conv_profile.h"
#include "nabla/kernels.h"
#include "nabla/profile.h"
#include "tensor/sgemm.h"
#include "winograd.h"

namespace nabla {

Conv2dGeometry conv2d_geometry(const Shape& x, const Shape& w, int64_t stride, int64_t pad) {
  if (x.size() != 4) throw std::invalid_argument("conv2d: input must be NCHW, got " + shape_str(x));
  if (w.size() != 4) {
    throw std::invalid_argument("conv2d: weight must be OIHW, got " + shape_str(w));
  }
  if (x[1] != w[1]) {
    throw std::invalid_argument("conv2d: input has " + std::to_string(x[1]) +
                                " channels, weight expects " + std::to_string(w[1]));
  }
  if (stride < 1 || pad < 0) throw std::invalid_argument("conv2d: stride >= 1 and pad >= 0");
  Conv2dGeometry g{x[0], x[1], x[2], x[3], w[0], w[2], w[3], stride, pad, 0, 0};
  if (g.H + 2 * pad < g.KH || g.W + 2 * pad < g.KW) {
    throw std::invalid_argument("conv2d: kernel larger than the padded input");
  }
  g.OH = (g.H + 2 * pad - g.KH) / stride + 1;
  g.OW = (g.W + 2 * pad - g.KW) / stride + 1;
  return g;
}

namespace {

// The receptive fields of image n's outputs: cols[k * ld + oh * OW + ow] for k < C*KH*KW.
template <typename T>
void im2col_image(const T* x, const Conv2dGeometry& g, int64_t n, T* cols, int64_t ld) {
  for (int64_t c = 0; c < g.C; ++c) {
    const T* plane = x + (n * g.C + c) * g.H * g.W;
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        T* row = cols + ((c * g.KH + kh) * g.KW + kw) * ld;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t ih = oh * g.stride - g.pad + kh;
          T* out = row + oh * g.OW;
          if (ih < 0 || ih >= g.H) {
            for (int64_t ow = 0; ow < g.OW; ++ow) out[ow] = T(0);
            continue;
          }
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            const int64_t iw = ow * g.stride - g.pad + kw;
            out[ow] = (iw >= 0 && iw < g.W) ? plane[ih * g.W + iw] : T(0);
          }
        }
      }
    }
  }
}

// cols (C*KH*KW, N*OH*OW): column (n, oh, ow) holds the receptive field of that output.
template <typename T>
void im2col(const T* x, const Conv2dGeometry& g, T* cols) {
  const int64_t S = g.OH * g.OW;
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < g.N; ++n) im2col_image(x, g, n, cols + n * S, g.N * S);
}

// dbias[o] = the sum of dy's channel o over the batch, in double, image after image: the same
// bits on any number of threads.
template <typename T>
void bias_gradient(const T* dy, const Conv2dGeometry& g, T* dbias) {
  const int64_t S = g.OH * g.OW;
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < g.O; ++o) {
    double acc = 0;
    for (int64_t n = 0; n < g.N; ++n) {
      const T* p = dy + (n * g.O + o) * S;
      for (int64_t s = 0; s < S; ++s) acc += p[s];
    }
    dbias[o] = static_cast<T>(acc);
  }
}

// dweight (O, C*KH*KW) = the sum over images n of dy_n (O x OH*OW) cols_n^T. The images fall into
// a number of groups set by the shapes alone; one thread sums each group's products image by
// image (a single-threaded GEMM: oneDNN runs one thread inside a parallel region), and the
// groups' sums are added in group order. Hence the same bits on any number of threads, which
// oneDNN's own weight gradient (its reduction split by thread) does not give.
void weight_gradient_by_groups(const float* dy, const float* x, const Conv2dGeometry& g,
                               float* dweight) {
  const int64_t K = g.C * g.KH * g.KW, S = g.OH * g.OW, size = g.O * K;
  constexpr int64_t kMaxGroups = 8, kPartialBytes = int64_t{64} << 20;
  const int64_t by_memory = kPartialBytes / (size * static_cast<int64_t>(sizeof(float)));
  const int64_t groups = std::clamp<int64_t>(by_memory, 1, std::min(kMaxGroups, g.N));
  std::vector<float> partial(static_cast<size_t>(groups * size));
  profile::add_flops(2.0 * static_cast<double>(g.N) * static_cast<double>(size) *
                     static_cast<double>(S));
  detail::Sgemm sgemm;
#pragma omp parallel
  {
    std::vector<float> cols(static_cast<size_t>(K * S));
#pragma omp for schedule(static)
    for (int64_t q = 0; q < groups; ++q) {
      const int64_t n0 = g.N * q / groups, n1 = g.N * (q + 1) / groups;
      for (int64_t n = n0; n < n1; ++n) {
        im2col_image(x, g, n, cols.data(), S);
        sgemm('N', 'T', g.O, K, S, 1.0F, dy + n * g.O * S, S, cols.data(), S, n == n0 ? 0.0F : 1.0F,
              partial.data() + q * size, K);
      }
    }
  }
  sgemm.check("conv2d weight gradient");
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < size; ++i) {
    float acc = partial[i];
    for (int64_t q = 1; q < groups; ++q) acc += partial[q * size + i];
    dweight[i] = acc;
  }
}

// The adjoint of im2col: dx += each column entry at the input position it was read from.
template <typename T>
void col2im(const T* cols, const Conv2dGeometry& g, T* dx) {
  const int64_t P = g.N * g.OH * g.OW;
  // Parallel over (n, c) planes: each writes only its own plane.
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.N; ++n) {
    for (int64_t c = 0; c < g.C; ++c) {
      T* plane = dx + (n * g.C + c) * g.H * g.W;
      for (int64_t kh = 0; kh < g.KH; ++kh) {
        for (int64_t kw = 0; kw < g.KW; ++kw) {
          const T* row = cols + ((c * g.KH + kh) * g.KW + kw) * P + n * g.OH * g.OW;
          for (int64_t oh = 0; oh < g.OH; ++oh) {
            const int64_t ih = oh * g.stride - g.pad + kh;
            if (ih < 0 || ih >= g.H) continue;
            for (int64_t ow = 0; ow < g.OW; ++ow) {
              const int64_t iw = ow * g.stride - g.pad + kw;
              if (iw >= 0 && iw < g.W) plane[ih * g.W + iw] += row[oh * g.OW + ow];
            }
          }
        }
      }
    }
  }
}

}  // namespace

template <typename T>
Tensor<T> conv2d_forward(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias,
                         int64_t stride, int64_t pad, Conv2dSaved* keep) {
  const Conv2dGeometry g = conv2d_geometry(x.shape(), weight.shape(), stride, pad);
  if constexpr (std::is_same_v<T, float>) {
    Tensor<T> y = Tensor<T>::uninitialized({g.N, g.O, g.OH, g.OW});
    const float* b = bias.empty() ? nullptr : bias.data();
    if (detail::winograd_applies(g)) {
      if (keep != nullptr) {
        auto saved = std::make_shared<detail::WinogradSaved>();
        detail::winograd_forward(x.data(), weight.data(), b, g, y.data(), saved.get());
        keep->state = saved;
      } else {
        detail::winograd_forward(x.data(), weight.data(), b, g, y.data());
      }
    } else {
      detail::PassClock clock(g);
      detail::conv2d_forward_dnnl(x.data(), weight.data(), b, g, y.data());
      clock.done(detail::kForwardPass, "forward", "oneDNN direct");
    }
    return y;
  }
  const int64_t K = g.C * g.KH * g.KW, S = g.OH * g.OW, P = g.N * S;
  std::vector<T> cols(static_cast<size_t>(K * P));
  im2col(x.data(), g, cols.data());
  std::vector<T> out(static_cast<size_t>(g.O * P));  // (O, N*OH*OW)
  gemm(Trans::kNo, Trans::kNo, g.O, P, K, T(1), weight.data(), K, cols.data(), P, T(0), out.data(),
       P);
  Tensor<T> y({g.N, g.O, g.OH, g.OW});
  T* py = y.data();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.N; ++n) {
    for (int64_t o = 0; o < g.O; ++o) {
      const T b = bias.empty() ? T(0) : bias[o];
      const T* src = out.data() + o * P + n * S;
      T* dst = py + (n * g.O + o) * S;
      for (int64_t s = 0; s < S; ++s) dst[s] = src[s] + b;
    }
  }
  return y;
}

template <typename T>
Tensor<T> conv2d_bn_inference(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias,
                              int64_t stride, int64_t pad, const BatchNormStats<T>& bn, bool relu) {
  const Conv2dGeometry g = conv2d_geometry(x.shape(), weight.shape(), stride, pad);
  for (const Tensor<T>* t : {&bn.gamma, &bn.beta, &bn.running_mean, &bn.running_var}) {
    if (t->numel() != g.O) {
      throw std::invalid_argument("conv2d_bn_inference: the convolution has " +
                                  std::to_string(g.O) + " output channels, batch norm " +
                                  std::to_string(t->numel()));
    }
  }
  if (!bias.empty() && bias.numel() != g.O) {
    throw std::invalid_argument("conv2d_bn_inference: bias size " + std::to_string(bias.numel()) +
                                " for " + std::to_string(g.O) + " output channels");
  }
  // The scale and the folded bias in double, rounded once.
  Tensor<T> scale({g.O}), folded_bias({g.O});
  for (int64_t o = 0; o < g.O; ++o) {
    const double s =
        static_cast<double>(bn.gamma[o]) /
        std::sqrt(static_cast<double>(bn.running_var[o]) + static_cast<double>(bn.eps));
    const double b = bias.empty() ? 0.0 : static_cast<double>(bias[o]);
    scale[o] = static_cast<T>(s);
    folded_bias[o] = static_cast<T>((b - static_cast<double>(bn.running_mean[o])) * s +
                                    static_cast<double>(bn.beta[o]));
  }
  if constexpr (std::is_same_v<T, float>) {
    if (detail::winograd_applies(g)) {
      Tensor<T> y = Tensor<T>::uninitialized({g.N, g.O, g.OH, g.OW});
      detail::winograd_forward(x.data(), weight.data(), folded_bias.data(), g, y.data(), nullptr,
                               {scale.data(), relu});
      return y;
    }
  }
  // Elsewhere the folded filters are a copy (the layers that get here have few weights).
  Tensor<T> folded = Tensor<T>::uninitialized(weight.shape());
  const int64_t per_filter = weight.numel() / g.O;
  for (int64_t o = 0; o < g.O; ++o) {
    for (int64_t k = o * per_filter; k < (o + 1) * per_filter; ++k)
      folded[k] = weight[k] * scale[o];
  }
  Tensor<T> y = conv2d_forward(x, folded, folded_bias, stride, pad);
  if (relu) {
    T* py = y.data();
    const int64_t n = y.numel();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) py[i] = py[i] < T(0) ? T(0) : py[i];  // NaN stays NaN
  }
  return y;
}

template <typename T>
Conv2dGrads<T> conv2d_backward(const Tensor<T>& dy, const Tensor<T>& x, const Tensor<T>& weight,
                               int64_t stride, int64_t pad, bool need_dx, bool need_dweight,
                               bool need_dbias, const Conv2dSaved* kept) {
  const Conv2dGeometry g = conv2d_geometry(x.shape(), weight.shape(), stride, pad);
  Conv2dGrads<T> grads;
  // The bias gradient the same way for every algorithm and type.
  if (need_dbias) {
    grads.dbias = Tensor<T>::uninitialized({g.O});
    bias_gradient(dy.data(), g, grads.dbias.data());
  }
  if constexpr (std::is_same_v<T, float>) {
    if (need_dx) grads.dx = Tensor<T>::uninitialized(x.shape());
    if (need_dweight) grads.dweight = Tensor<T>::uninitialized(weight.shape());
    if (detail::winograd_applies(g)) {
      const auto* saved =
          kept ? static_cast<const detail::WinogradSaved*>(kept->state.get()) : nullptr;
      detail::winograd_backward(dy.data(), x.data(), weight.data(), g, grads.dx.data(),
                                grads.dweight.data(), saved);
      return grads;
    }
    // oneDNN for dx (its backward-data kernels give each input value to one thread); the weight
    // gradient by fixed groups of images, so that it does not depend on the thread count as
    // oneDNN's does (also the faster way on maps of a few pixels).
    detail::PassClock clock(g);
    if (need_dx) {
      detail::conv2d_backward_data_dnnl(dy.data(), weight.data(), g, grads.dx.data());
      clock.done(detail::kInputPass, "input gradient", "oneDNN direct");
    }
    if (need_dweight) {
      weight_gradient_by_groups(dy.data(), x.data(), g, grads.dweight.data());
      clock.done(detail::kWeightPass, "weight gradient", "im2col + GEMM by image groups");
    }
    return grads;
  }
  if (!need_dweight && !need_dx) return grads;
  const int64_t K = g.C * g.KH * g.KW, S = g.OH * g.OW, P = g.N * S;
  // dy as (O, N*OH*OW), the layout of the forward GEMM's output.
  std::vector<T> dy_mat(static_cast<size_t>(g.O * P));
  const T* pdy = dy.data();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.N; ++n) {
    for (int64_t o = 0; o < g.O; ++o) {
      const T* src = pdy + (n * g.O + o) * S;
      T* dst = dy_mat.data() + o * P + n * S;
      for (int64_t s = 0; s < S; ++s) dst[s] = src[s];
    }
  }
  if (need_dweight) {
    std::vector<T> cols(static_cast<size_t>(K * P));
    im2col(x.data(), g, cols.data());
    grads.dweight = Tensor<T>(weight.shape());
    gemm(Trans::kNo, Trans::kYes, g.O, K, P, T(1), dy_mat.data(), P, cols.data(), P, T(0),
         grads.dweight.data(), K);
  }
  if (need_dx) {
    std::vector<T> dcols(static_cast<size_t>(K * P));
    gemm(Trans::kYes, Trans::kNo, K, P, g.O, T(1), weight.data(), K, dy_mat.data(), P, T(0),
         dcols.data(), P);
    grads.dx = Tensor<T>(x.shape());
    col2im(dcols.data(), g, grads.dx.data());
  }
  return grads;
}

template <typename T>
Tensor<T> conv2d_forward_reference(const Tensor<T>& x, const Tensor<T>& weight,
                                   const Tensor<T>& bias, int64_t stride, int64_t pad) {
  const Conv2dGeometry g = conv2d_geometry(x.shape(), weight.shape(), stride, pad);
  Tensor<T> y({g.N, g.O, g.OH, g.OW});
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          double acc = bias.empty() ? 0.0 : bias[o];
          for (int64_t c = 0; c < g.C; ++c)
            for (int64_t kh = 0; kh < g.KH; ++kh)
              for (int64_t kw = 0; kw < g.KW; ++kw) {
                const int64_t ih = oh * stride - pad + kh, iw = ow * stride - pad + kw;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                acc += static_cast<double>(x.at({n, c, ih, iw})) * weight.at({o, c, kh, kw});
              }
          y.at({n, o, oh, ow}) = static_cast<T>(acc);
        }
  return y;
}

template <typename T>
Conv2dGrads<T> conv2d_backward_reference(const Tensor<T>& dy, const Tensor<T>& x,
                                         const Tensor<T>& weight, int64_t stride, int64_t pad) {
  const Conv2dGeometry g = conv2d_geometry(x.shape(), weight.shape(), stride, pad);
  Conv2dGrads<T> r{Tensor<T>(x.shape()), Tensor<T>(weight.shape()), Tensor<T>({g.O})};
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const T d = dy.at({n, o, oh, ow});
          r.dbias[o] += d;
          for (int64_t c = 0; c < g.C; ++c)
            for (int64_t kh = 0; kh < g.KH; ++kh)
              for (int64_t kw = 0; kw < g.KW; ++kw) {
                const int64_t ih = oh * stride - pad + kh, iw = ow * stride - pad + kw;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                r.dweight.at({o, c, kh, kw}) += d * x.at({n, c, ih, iw});
                r.dx.at({n, c, ih, iw}) += d * weight.at({o, c, kh, kw});
              }
        }
  return r;
}

#define NABLA_CONV(T)                                                                              \
  template Tensor<T> conv2d_forward<T>(const Tensor<T>&, const Tensor<T>&, const Tensor<T>&,       \
                                       int64_t, int64_t, Conv2dSaved*);                            \
  template Tensor<T> conv2d_forward_reference<T>(const Tensor<T>&, const Tensor<T>&,               \
                                                 const Tensor<T>&, int64_t, int64_t);              \
  template Conv2dGrads<T> conv2d_backward<T>(const Tensor<T>&, const Tensor<T>&, const Tensor<T>&, \
                                             int64_t, int64_t, bool, bool, bool,                   \
                                             const Conv2dSaved*);                                  \
  template Tensor<T> conv2d_bn_inference<T>(const Tensor<T>&, const Tensor<T>&, const Tensor<T>&,  \
                                            int64_t, int64_t, const BatchNormStats<T>&, bool);     \
  template Conv2dGrads<T> conv2d_backward_reference<T>(const Tensor<T>&, const Tensor<T>&,         \
                                                       const Tensor<T>&, int64_t, int64_t);
NABLA_CONV(float)
NABLA_CONV(double)

}  // namespace nabla

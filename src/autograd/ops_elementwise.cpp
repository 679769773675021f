// Elementwise ops with broadcasting; each backward directly below its forward.
#include <cmath>
#include <type_traits>

#include "nabla/broadcast.h"
#include "nabla/ops.h"
#include "nabla/profile.h"
#include "simd/simd.h"

namespace nabla {
namespace {

// y = f(x) elementwise, with dx = dy * df(x, y).
template <typename T, typename F, typename DF>
Variable<T> unary(const Variable<T>& x, const char* name, F f, DF df) {
  const Tensor<T>& xv = x.value();
  Tensor<T> y(xv.shape());
  const T* px = xv.data();
  T* py = y.data();
  const int64_t n = xv.numel();
  for (int64_t i = 0; i < n; ++i) py[i] = f(px[i]);
  auto xn = x.node();
  return Variable<T>::make_result(y, name, {xn}, [xn, y, df](const Tensor<T>& dy) {
    Tensor<T> dx(y.shape());
    const T *px = xn->value.data(), *py = y.data(), *pdy = dy.data();
    T* pdx = dx.data();
    const int64_t n = y.numel();
    for (int64_t i = 0; i < n; ++i) pdx[i] = pdy[i] * df(px[i], py[i]);
    xn->accumulate_owned(std::move(dx));
  });
}

enum class Activation { kRelu, kLeakyRelu, kGelu };

// relu, leaky_relu and gelu on float run the vectorised kernels of src/simd.
Variable<float> activation_float(const Variable<float>& x, const char* name, Activation kind,
                                 float slope = 0) {
  const Tensor<float>& xv = x.value();
  Tensor<float> y = Tensor<float>::uninitialized(xv.shape());
  switch (kind) {
    case Activation::kRelu:
      simd::relu_forward(xv.data(), y.data(), xv.numel());
      break;
    case Activation::kLeakyRelu:
      simd::leaky_relu_forward(xv.data(), y.data(), xv.numel(), slope);
      break;
    case Activation::kGelu:
      simd::gelu_forward(xv.data(), y.data(), xv.numel());
      break;
  }
  auto xn = x.node();
  // The least traffic, for GB/s in `nabla bench --layers`: x read and y written (backward: x or
  // y and dy read, dx written).
  const double bytes = static_cast<double>(xv.numel()) * sizeof(float);
  profile::add_bytes(name, 2 * bytes);
  return Variable<float>::make_result(
      y, name, {xn}, [xn, y, kind, slope, name, bytes](const Tensor<float>& dy) {
        if (profile::enabled()) profile::add_bytes(std::string(name) + " backward", 3 * bytes);
        Tensor<float> dx = Tensor<float>::uninitialized(y.shape());
        const float* px = xn->value.data();
        switch (kind) {
          case Activation::kRelu:
            simd::relu_backward(y.data(), dy.data(), dx.data(), dx.numel());
            break;
          case Activation::kLeakyRelu:
            simd::leaky_relu_backward(px, dy.data(), dx.data(), dx.numel(), slope);
            break;
          case Activation::kGelu:
            simd::gelu_backward(px, dy.data(), dx.data(), dx.numel());
            break;
        }
        xn->accumulate_owned(std::move(dx));
      });
}

}  // namespace

template <typename T>
Variable<T> add(const Variable<T>& a, const Variable<T>& b) {
  auto an = a.node(), bn = b.node();
  return Variable<T>::make_result(broadcast_binary(a.value(), b.value(), BinaryOp::kAdd), "add",
                                  {an, bn}, [an, bn](const Tensor<T>& dy) {
                                    if (an->requires_grad)
                                      an->accumulate(sum_to_shape(dy, an->value.shape()));
                                    if (bn->requires_grad)
                                      bn->accumulate(sum_to_shape(dy, bn->value.shape()));
                                  });
}

template <typename T>
Variable<T> mul(const Variable<T>& a, const Variable<T>& b) {
  auto an = a.node(), bn = b.node();
  return Variable<T>::make_result(
      broadcast_binary(a.value(), b.value(), BinaryOp::kMul), "mul", {an, bn},
      [an, bn](const Tensor<T>& dy) {
        if (an->requires_grad) {
          an->accumulate(
              sum_to_shape(broadcast_binary(dy, bn->value, BinaryOp::kMul), an->value.shape()));
        }
        if (bn->requires_grad) {
          bn->accumulate(
              sum_to_shape(broadcast_binary(dy, an->value, BinaryOp::kMul), bn->value.shape()));
        }
      });
}

template <typename T>
Variable<T> neg(const Variable<T>& x) {
  return unary(
      x, "neg", [](T v) { return -v; }, [](T, T) { return T(-1); });
}

template <typename T>
Variable<T> sub(const Variable<T>& a, const Variable<T>& b) {
  return add(a, neg(b));
}

template <typename T>
Variable<T> div(const Variable<T>& a, const Variable<T>& b) {
  return mul(a, pow(b, T(-1)));
}

template <typename T>
Variable<T> exp(const Variable<T>& x) {
  return unary(
      x, "exp", [](T v) { return std::exp(v); }, [](T, T y) { return y; });
}

template <typename T>
Variable<T> log(const Variable<T>& x) {
  return unary(
      x, "log", [](T v) { return std::log(v); }, [](T v, T) { return T(1) / v; });
}

template <typename T>
Variable<T> pow(const Variable<T>& x, T exponent) {
  return unary(
      x, "pow", [exponent](T v) { return std::pow(v, exponent); },
      [exponent](T v, T) { return exponent * std::pow(v, exponent - T(1)); });
}

template <typename T>
Variable<T> sqrt(const Variable<T>& x) {
  return unary(
      x, "sqrt", [](T v) { return std::sqrt(v); }, [](T, T y) { return T(0.5) / y; });
}

template <typename T>
Variable<T> relu(const Variable<T>& x) {
  if constexpr (std::is_same_v<T, float>) return activation_float(x, "relu", Activation::kRelu);
  return unary(
      x, "relu", [](T v) { return v > 0 ? v : T(0); }, [](T v, T) { return v > 0 ? T(1) : T(0); });
}

template <typename T>
Variable<T> leaky_relu(const Variable<T>& x, T neg_slope) {
  if constexpr (std::is_same_v<T, float>)
    return activation_float(x, "leaky_relu", Activation::kLeakyRelu, neg_slope);
  return unary(
      x, "leaky_relu", [neg_slope](T v) { return v > 0 ? v : neg_slope * v; },
      [neg_slope](T v, T) { return v > 0 ? T(1) : neg_slope; });
}

// Exact GELU: y = x * Phi(x), Phi the standard normal CDF = (1 + erf(x / sqrt 2)) / 2;
// dy/dx = Phi(x) + x * phi(x), phi the standard normal density. float runs the vectorised kernels
// (erf from a rational fit, within 1e-6 of this); double evaluates the definition with std::erf.
template <typename T>
Variable<T> gelu(const Variable<T>& x) {
  if constexpr (std::is_same_v<T, float>) return activation_float(x, "gelu", Activation::kGelu);
  constexpr double kInvSqrt2 = 0.70710678118654752440, kInvSqrt2Pi = 0.39894228040143267794;
  return unary(
      x, "gelu",
      [](T v) {
        const double d = static_cast<double>(v);
        return static_cast<T>(d * 0.5 * (1 + std::erf(d * kInvSqrt2)));
      },
      [](T v, T) {
        const double d = static_cast<double>(v);
        return static_cast<T>(0.5 * (1 + std::erf(d * kInvSqrt2)) +
                              d * kInvSqrt2Pi * std::exp(-0.5 * d * d));
      });
}

#define NABLA_ELEMENTWISE(T)                                           \
  template Variable<T> add<T>(const Variable<T>&, const Variable<T>&); \
  template Variable<T> mul<T>(const Variable<T>&, const Variable<T>&); \
  template Variable<T> sub<T>(const Variable<T>&, const Variable<T>&); \
  template Variable<T> div<T>(const Variable<T>&, const Variable<T>&); \
  template Variable<T> neg<T>(const Variable<T>&);                     \
  template Variable<T> exp<T>(const Variable<T>&);                     \
  template Variable<T> log<T>(const Variable<T>&);                     \
  template Variable<T> pow<T>(const Variable<T>&, T);                  \
  template Variable<T> sqrt<T>(const Variable<T>&);                    \
  template Variable<T> relu<T>(const Variable<T>&);                    \
  template Variable<T> leaky_relu<T>(const Variable<T>&, T);           \
  template Variable<T> gelu<T>(const Variable<T>&);
NABLA_ELEMENTWISE(float)
NABLA_ELEMENTWISE(double)

}  // namespace nabla

// The layers without a family of their own: Linear, the activations, Flatten, Dropout,
// Sequential and Residual.
#include <cmath>
#include <stdexcept>
#include <string>

#include "nabla/error.h"
#include "nabla/nn/dropout.h"
#include "nabla/nn/flatten.h"
#include "nabla/nn/gelu.h"
#include "nabla/nn/leaky_relu.h"
#include "nabla/nn/linear.h"
#include "nabla/nn/relu.h"
#include "nabla/nn/residual.h"
#include "nabla/nn/scale.h"
#include "nabla/nn/sequential.h"
#include "nabla/ops.h"

namespace nabla::nn {

namespace {
template <typename T>
Tensor<T> uniform(Shape shape, double bound, Rng& rng) {
  Tensor<T> t(std::move(shape));
  for (T& v : t.values()) v = static_cast<T>(rng.uniform(-bound, bound));
  return t;
}
}  // namespace

template <typename T>
Linear<T>::Linear(int64_t in_features, int64_t out_features, Rng& rng, bool bias) {
  if (in_features < 1 || out_features < 1) {
    throw ConfigError("Linear: features must be >= 1, got " + std::to_string(in_features) + " -> " +
                      std::to_string(out_features));
  }
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  weight_ = this->register_parameter("weight", uniform<T>({out_features, in_features}, bound, rng));
  if (bias) bias_ = this->register_parameter("bias", uniform<T>({out_features}, bound, rng));
}

template <typename T>
Variable<T> Linear<T>::forward(const Variable<T>& x) {
  return linear(x, weight_, bias_);
}

template <typename T>
Variable<T> ReLU<T>::forward(const Variable<T>& x) {
  return relu(x);
}

template <typename T>
Variable<T> LeakyReLU<T>::forward(const Variable<T>& x) {
  return leaky_relu(x, neg_slope_);
}

template <typename T>
Variable<T> GELU<T>::forward(const Variable<T>& x) {
  return gelu(x);
}

template <typename T>
Variable<T> Scale<T>::forward(const Variable<T>& x) {
  return x * factor_;
}

template <typename T>
Variable<T> Flatten<T>::forward(const Variable<T>& x) {
  return flatten(x, 1);
}

template <typename T>
Dropout<T>::Dropout(double p, uint64_t seed) : p_(p), rng_(seed) {
  if (!(p >= 0 && p < 1))
    throw ConfigError("Dropout: p must be in [0, 1), got " + std::to_string(p));
}

template <typename T>
Variable<T> Dropout<T>::forward(const Variable<T>& x) {
  if (!this->training() || p_ == 0) return x;
  Tensor<T> mask(x.shape());
  const T keep_scale = static_cast<T>(1 / (1 - p_));
  for (T& m : mask.values()) m = rng_.uniform() < p_ ? T(0) : keep_scale;
  return mul(x, Variable<T>(std::move(mask)));
}

template <typename T>
Variable<T> Sequential<T>::forward(const Variable<T>& x) {
  const std::span<const std::shared_ptr<Module<T>>> all(layers_);
  Variable<T> h = x;
  for (size_t i = 0; i < all.size();) {
    size_t consumed = 0;
    h = all[i]->forward_fused(h, all.subspan(i + 1), consumed);
    i += 1 + consumed;
  }
  return h;
}

template <typename T>
Residual<T>::Residual(std::shared_ptr<Module<T>> body, std::shared_ptr<Module<T>> shortcut)
    : body_(std::move(body)), shortcut_(std::move(shortcut)) {
  if (!body_) throw ConfigError("Residual: needs a body");
  this->register_module("body", body_);
  if (shortcut_) this->register_module("shortcut", shortcut_);
}

template <typename T>
Variable<T> Residual<T>::forward(const Variable<T>& x) {
  const Variable<T> f = (*body_)(x);
  const Variable<T> s = shortcut_ ? (*shortcut_)(x) : x;
  if (f.shape() != s.shape()) {
    throw std::invalid_argument("Residual: body gives " + shape_str(f.shape()) +
                                " but the shortcut " + shape_str(s.shape()));
  }
  return add(s, f);
}

#define NABLA_LAYERS(T)         \
  template class Linear<T>;     \
  template class ReLU<T>;       \
  template class LeakyReLU<T>;  \
  template class GELU<T>;       \
  template class Scale<T>;      \
  template class Flatten<T>;    \
  template class Dropout<T>;    \
  template class Sequential<T>; \
  template class Residual<T>;
NABLA_LAYERS(float)
NABLA_LAYERS(double)

}  // namespace nabla::nn

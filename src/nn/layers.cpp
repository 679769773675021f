#include "nabla/nn/layers.h"

#include <cmath>

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
Linear<T>::Linear(int64_t in_features, int64_t out_features, Rng& rng) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  weight_ = this->register_parameter("weight", uniform<T>({out_features, in_features}, bound, rng));
  bias_ = this->register_parameter("bias", uniform<T>({out_features}, bound, rng));
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
Variable<T> Flatten<T>::forward(const Variable<T>& x) {
  return flatten(x, 1);
}

template <typename T>
Variable<T> Sequential<T>::forward(const Variable<T>& x) {
  Variable<T> h = x;
  for (auto& layer : layers_) h = layer->forward(h);
  return h;
}

template class Linear<float>;
template class Linear<double>;
template class ReLU<float>;
template class ReLU<double>;
template class LeakyReLU<float>;
template class LeakyReLU<double>;
template class Flatten<float>;
template class Flatten<double>;
template class Sequential<float>;
template class Sequential<double>;

}  // namespace nabla::nn

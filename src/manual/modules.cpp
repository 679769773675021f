#include "nabla/manual/modules.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "nabla/kernels.h"
#include "simd/simd.h"

namespace nabla::manual {

template <typename T>
Linear<T>::Linear(int64_t in_features, int64_t out_features, Rng& rng, bool input_grad)
    : weight_({out_features, in_features}),
      bias_({out_features}),
      dweight_({out_features, in_features}),
      dbias_({out_features}),
      input_grad_(input_grad) {
  for (T& w : weight_.values()) w = static_cast<T>(rng.normal(0.0, 1e-4));
}

template <typename T>
Tensor<T> Linear<T>::forward(const Tensor<T>& x) {
  x_ = x;
  Tensor<T> out = matmul(x, weight_, Trans::kNo, Trans::kYes);
  add_row_vector(out, bias_);
  return out;
}

template <typename T>
Tensor<T> Linear<T>::backward(const Tensor<T>& dout) {
  dweight_ = matmul(dout, x_, Trans::kYes, Trans::kNo);
  dbias_ = sum_rows(dout);
  if (!input_grad_) return {};
  return matmul(dout, weight_);
}

template <typename T>
Tensor<T> LeakyReLU<T>::forward(const Tensor<T>& x) {
  x_ = x;
  Tensor<T> out(x.shape());
  if constexpr (std::is_same_v<T, float>) {
    simd::leaky_relu_forward(x.data(), out.data(), x.numel(), neg_slope_);
  } else {
    for (int64_t i = 0; i < x.numel(); ++i) out[i] = x[i] > 0 ? x[i] : neg_slope_ * x[i];
  }
  return out;
}

template <typename T>
Tensor<T> LeakyReLU<T>::backward(const Tensor<T>& dout) {
  Tensor<T> dx(dout.shape());
  if constexpr (std::is_same_v<T, float>) {
    simd::leaky_relu_backward(x_.data(), dout.data(), dx.data(), dx.numel(), neg_slope_);
  } else {
    for (int64_t i = 0; i < dout.numel(); ++i) dx[i] = x_[i] > 0 ? dout[i] : neg_slope_ * dout[i];
  }
  return dx;
}

template <typename T>
Tensor<T> SoftMax<T>::forward(const Tensor<T>& x) {
  const int64_t B = x.dim(0), C = x.dim(1);
  out_ = Tensor<T>(x.shape());
  for (int64_t s = 0; s < B; ++s) {
    const T* in = x.data() + s * C;
    T* out = out_.data() + s * C;
    T max = in[0];
    for (int64_t c = 1; c < C; ++c) max = std::max(max, in[c]);
    T sum = 0;
    for (int64_t c = 0; c < C; ++c) sum += out[c] = std::exp(in[c] - max);
    for (int64_t c = 0; c < C; ++c) out[c] /= sum;
  }
  return out_;
}

template <typename T>
Tensor<T> SoftMax<T>::backward(const Tensor<T>& dout) {
  const int64_t B = out_.dim(0), C = out_.dim(1);
  Tensor<T> dx(out_.shape());
  for (int64_t s = 0; s < B; ++s) {
    const T* y = out_.data() + s * C;
    const T* g = dout.data() + s * C;
    T dot = 0;
    for (int64_t c = 0; c < C; ++c) dot += g[c] * y[c];
    for (int64_t c = 0; c < C; ++c) dx[s * C + c] = y[c] * (g[c] - dot);
  }
  return dx;
}

template <typename T>
T CrossEntropy<T>::forward(const Tensor<T>& probs, const std::vector<int32_t>& labels) {
  const int64_t B = probs.dim(0), C = probs.dim(1);
  if (static_cast<int64_t>(labels.size()) != B) {
    throw std::invalid_argument("CrossEntropy: " + std::to_string(labels.size()) +
                                " labels for a batch of " + std::to_string(B));
  }
  probs_ = probs;
  labels_ = labels;
  T loss = 0;
  for (int64_t s = 0; s < B; ++s) {
    const int32_t c = labels[s];
    if (c < 0 || c >= C) throw std::out_of_range("CrossEntropy: label out of range");
    loss -= std::log(probs[s * C + c]);
  }
  return loss / static_cast<T>(B);
}

template <typename T>
Tensor<T> CrossEntropy<T>::backward() {
  const int64_t B = probs_.dim(0), C = probs_.dim(1);
  Tensor<T> dx(probs_.shape());
  for (int64_t s = 0; s < B; ++s) {
    const int64_t i = s * C + labels_[s];
    dx[i] = T(-1) / (static_cast<T>(B) * probs_[i]);
  }
  return dx;
}

template class Linear<float>;
template class Linear<double>;
template class LeakyReLU<float>;
template class LeakyReLU<double>;
template class SoftMax<float>;
template class SoftMax<double>;
template class CrossEntropy<float>;
template class CrossEntropy<double>;

}  // namespace nabla::manual

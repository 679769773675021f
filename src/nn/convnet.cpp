#include "nabla/nn/convnet.h"

#include <cmath>

#include "nabla/ops.h"

namespace nabla::nn {

template <typename T>
Conv2d<T>::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride,
                  int64_t pad, Rng& rng)
    : stride_(stride), pad_(pad) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_channels * kernel * kernel));
  Tensor<T> w({out_channels, in_channels, kernel, kernel}), b({out_channels});
  for (T& v : w.values()) v = static_cast<T>(rng.uniform(-bound, bound));
  for (T& v : b.values()) v = static_cast<T>(rng.uniform(-bound, bound));
  weight_ = this->register_parameter("weight", std::move(w));
  bias_ = this->register_parameter("bias", std::move(b));
}

template <typename T>
Variable<T> Conv2d<T>::forward(const Variable<T>& x) {
  return conv2d(x, weight_, bias_, stride_, pad_);
}

template <typename T>
Variable<T> Conv2d<T>::forward_bn_inference(const Variable<T>& x, const BatchNorm2d<T>& bn,
                                            bool relu) {
  return conv2d_bn_inference(x, weight_, bias_, stride_, pad_, bn.stats(), relu);
}

template <typename T>
BatchNorm2d<T>::BatchNorm2d(int64_t channels, T eps, T momentum) : eps_(eps), momentum_(momentum) {
  gamma_ = this->register_parameter("weight", Tensor<T>::full({channels}, T(1)));
  beta_ = this->register_parameter("bias", Tensor<T>({channels}));
  running_mean_ = this->register_buffer("running_mean", Tensor<T>({channels}));
  running_var_ = this->register_buffer("running_var", Tensor<T>::full({channels}, T(1)));
  num_batches_tracked_ =
      this->register_buffer("num_batches_tracked", Tensor<T>(Shape{}), BufferKind::kCount);
}

template <typename T>
Variable<T> BatchNorm2d<T>::forward(const Variable<T>& x) {
  if (this->training()) num_batches_tracked_[0] += T(1);
  return batch_norm2d(x, gamma_, beta_, running_mean_, running_var_, this->training(), momentum_,
                      eps_);
}

template <typename T>
Variable<T> BatchNorm2d<T>::forward_relu(const Variable<T>& x) {
  if (this->training()) num_batches_tracked_[0] += T(1);
  return batch_norm2d(x, gamma_, beta_, running_mean_, running_var_, this->training(), momentum_,
                      eps_, /*relu=*/true);
}

template <typename T>
Variable<T> MaxPool2d<T>::forward(const Variable<T>& x) {
  return max_pool2d(x, kernel_, stride_, pad_);
}

template <typename T>
ConvNet<T>::ConvNet(int64_t n_channels, int64_t n_classes, Rng& rng) {
  struct Block {
    const char* suffix;
    int64_t out;
    bool pool_after;
    int pool_index;
  };
  const Block blocks[] = {{"1", 64, true, 1},     {"2", 128, true, 2},    {"3_a", 256, false, 0},
                          {"3_b", 256, true, 3},  {"4_a", 512, false, 0}, {"4_b", 512, true, 4},
                          {"5_a", 512, false, 0}, {"5_b", 512, true, 5}};
  int64_t in = n_channels;
  for (const Block& b : blocks) {
    const std::string s = b.suffix;
    this->add("conv" + s, std::make_shared<Conv2d<T>>(in, b.out, 3, 1, 1, rng));
    this->add("bn" + s, std::make_shared<BatchNorm2d<T>>(b.out));
    this->add("relu" + s, std::make_shared<ReLU<T>>());
    if (b.pool_after) {
      this->add("maxpool" + std::to_string(b.pool_index), std::make_shared<MaxPool2d<T>>(3, 2, 1));
    }
    in = b.out;
  }
  this->add("flatten", std::make_shared<Flatten<T>>());
  this->add("linear", std::make_shared<Linear<T>>(in, n_classes, rng));
}

template <typename T>
Variable<T> ConvNet<T>::forward(const Variable<T>& x) {
  const auto& layers = this->layers();
  const bool fold = !this->training() && !grad_enabled();
  const auto is_relu = [&layers](size_t i) {
    return i < layers.size() && dynamic_cast<ReLU<T>*>(layers[i].get()) != nullptr;
  };
  Variable<T> h = x;
  for (size_t i = 0; i < layers.size(); ++i) {
    auto* conv = dynamic_cast<Conv2d<T>*>(layers[i].get());
    auto* conv_bn =
        i + 1 < layers.size() ? dynamic_cast<BatchNorm2d<T>*>(layers[i + 1].get()) : nullptr;
    if (fold && conv != nullptr && conv_bn != nullptr) {
      const bool relu = is_relu(i + 2);
      h = conv->forward_bn_inference(h, *conv_bn, relu);
      i += relu ? 2 : 1;
      continue;
    }
    auto* bn = dynamic_cast<BatchNorm2d<T>*>(layers[i].get());
    if (bn != nullptr && is_relu(i + 1)) {
      h = bn->forward_relu(h);
      ++i;
    } else {
      h = (*layers[i])(h);
    }
  }
  return h;
}

template class Conv2d<float>;
template class Conv2d<double>;
template class BatchNorm2d<float>;
template class BatchNorm2d<double>;
template class MaxPool2d<float>;
template class MaxPool2d<double>;
template class ConvNet<float>;
template class ConvNet<double>;

}  // namespace nabla::nn

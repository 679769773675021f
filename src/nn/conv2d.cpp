#include "nabla/nn/conv2d.h"

#include <cmath>
#include <string>
#include <typeinfo>

#include "nabla/error.h"
#include "nabla/nn/batchnorm2d.h"
#include "nabla/nn/relu.h"
#include "nabla/ops.h"

namespace nabla::nn {

template <typename T>
Conv2d<T>::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, Rng& rng,
                  Conv2dOptions options)
    : kernel_(kernel), stride_(options.stride) {
  if (in_channels < 1 || out_channels < 1 || kernel < 1 || options.stride < 1) {
    throw ConfigError("Conv2d: channels, kernel and stride must be >= 1, got " +
                      std::to_string(in_channels) + " -> " + std::to_string(out_channels) +
                      ", kernel " + std::to_string(kernel) + ", stride " +
                      std::to_string(options.stride));
  }
  switch (options.padding.mode) {
    case Padding::Mode::kExplicit:
      if (options.padding.pixels < 0) throw ConfigError("Conv2d: padding must be >= 0");
      pad_ = options.padding.pixels;
      break;
    case Padding::Mode::kValid:
      break;
    case Padding::Mode::kSame:
      if (options.stride != 1) throw ConfigError("Conv2d: padding \"same\" needs stride 1");
      pad_ = (kernel - 1) / 2;
      pad_right_ = pad_bottom_ = (kernel - 1) - 2 * pad_;  // 1 for an even kernel
      break;
  }
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_channels * kernel * kernel));
  Tensor<T> w({out_channels, in_channels, kernel, kernel});
  for (T& v : w.values()) v = static_cast<T>(rng.uniform(-bound, bound));
  weight_ = this->register_parameter("weight", std::move(w));
  if (options.bias) {
    Tensor<T> b({out_channels});
    for (T& v : b.values()) v = static_cast<T>(rng.uniform(-bound, bound));
    bias_ = this->register_parameter("bias", std::move(b));
  }
}

template <typename T>
Variable<T> Conv2d<T>::pad_input(const Variable<T>& x) const {
  if (pad_right_ == 0 && pad_bottom_ == 0) return x;
  return pad2d(x, 0, pad_right_, 0, pad_bottom_);
}

template <typename T>
Variable<T> Conv2d<T>::forward(const Variable<T>& x) {
  return conv2d(pad_input(x), weight_, bias_, stride_, pad_);
}

template <typename T>
Variable<T> Conv2d<T>::forward_fused(const Variable<T>& x,
                                     std::span<const std::shared_ptr<Module<T>>> next,
                                     size_t& consumed) {
  // Exactly a BatchNorm2d: a subclass (BatchNorm1d, or a user's) may compute something else.
  const Module<T>* first = next.empty() ? nullptr : next[0].get();
  const auto* bn = first != nullptr && typeid(*first) == typeid(BatchNorm2d<T>)
                       ? static_cast<const BatchNorm2d<T>*>(first)
                       : nullptr;
  if (bn == nullptr || bn->training() || grad_enabled()) {
    consumed = 0;
    return forward(x);
  }
  const bool relu = next.size() > 1 && is_relu(*next[1]);
  consumed = relu ? 2 : 1;
  return conv2d_bn_inference(pad_input(x), weight_, bias_, stride_, pad_, bn->stats(), relu);
}

template class Conv2d<float>;
template class Conv2d<double>;

}  // namespace nabla::nn

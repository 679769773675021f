// The custom_cnn example's model, shared with the classify example: a small residual CNN built
// from nabla's layers. x (N, 3, 32, 32) -> logits (N, 10).
#pragma once

#include <memory>

#include "nabla/nn/layers.h"

namespace example {

using Net = nabla::nn::Sequential<float>;

// Conv2d 3x3 ("same", no bias: the batch norm has one), BatchNorm2d, ReLU. Inside a Sequential
// these three run as nabla's fused kernels, and as one folded convolution at evaluation.
inline std::shared_ptr<Net> conv_bn_relu(int64_t in, int64_t out, nabla::Rng& rng) {
  namespace nn = nabla::nn;
  auto block = std::make_shared<Net>();
  block->add("conv", std::make_shared<nn::Conv2d<float>>(
                         in, out, 3, rng, nn::Conv2dOptions{.padding = nn::Padding::same(), .bias = false}));
  block->add("bn", std::make_shared<nn::BatchNorm2d<float>>(out));
  block->add("relu", std::make_shared<nn::ReLU<float>>());
  return block;
}

// conv-bn-relu to `out` channels, 2x2 max pooling, then x + f(x) with f two more conv-bn-relus.
inline std::shared_ptr<Net> stage(int64_t in, int64_t out, nabla::Rng& rng) {
  namespace nn = nabla::nn;
  auto s = conv_bn_relu(in, out, rng);
  s->add("pool", std::make_shared<nn::MaxPool2d<float>>(2));
  auto f = std::make_shared<Net>();
  f->add("0", conv_bn_relu(out, out, rng));
  f->add("1", conv_bn_relu(out, out, rng));
  s->add("residual", std::make_shared<nn::Residual<float>>(f));
  return s;
}

inline std::shared_ptr<Net> make_model(nabla::Rng& rng) {
  namespace nn = nabla::nn;
  auto net = std::make_shared<Net>();
  net->add("stem", conv_bn_relu(3, 32, rng));         // 32x32
  net->add("stage1", stage(32, 64, rng));             // 16x16
  net->add("stage2", stage(64, 128, rng));            // 8x8
  net->add("pool", std::make_shared<nn::AdaptiveAvgPool2d<float>>(1));
  net->add("flatten", std::make_shared<nn::Flatten<float>>());
  net->add("head", std::make_shared<nn::Linear<float>>(128, 10, rng));
  return net;
}

}  // namespace example

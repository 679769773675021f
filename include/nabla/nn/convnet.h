// Convolutional layers and the report's Section 4 ConvNet (the course's Table 1, a small VGG):
//   conv1 3->64, maxpool1, conv2 64->128, maxpool2, conv3_a 128->256, conv3_b 256->256, maxpool3,
//   conv4_a 256->512, conv4_b 512->512, maxpool4, conv5_a 512->512, conv5_b 512->512, maxpool5,
//   linear 512->10.
// Every conv is 3x3, stride 1, padding 1, followed by batch norm and ReLU; every max-pool is 3x3,
// stride 2, padding 1 (32 -> 16 -> 8 -> 4 -> 2 -> 1).
#pragma once

#include "nabla/conv.h"
#include "nabla/nn/layers.h"

namespace nabla::nn {

template <typename T>
class BatchNorm2d;

// y = conv2d(x, weight, bias); weight (O,C,K,K) and bias (O) uniform in +-1/sqrt(C*K*K), as
// torch.nn.Conv2d's default initialisation.
template <typename T>
class Conv2d : public Module<T> {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride, int64_t pad,
         Rng& rng);
  Variable<T> forward(const Variable<T>& x) override;
  // Inference only (autograd off): bn (eval mode) after this convolution and, with relu, a ReLU
  // after that, as one folded convolution (conv2d_bn_inference).
  Variable<T> forward_bn_inference(const Variable<T>& x, const BatchNorm2d<T>& bn, bool relu);

 private:
  int64_t stride_, pad_;
  Variable<T> weight_, bias_;
};

// gamma (weight) 1, beta (bias) 0, eps 1e-5, momentum 0.1; buffers running_mean 0, running_var 1
// and num_batches_tracked (a count of the training batches seen, as PyTorch keeps it).
template <typename T>
class BatchNorm2d : public Module<T> {
 public:
  explicit BatchNorm2d(int64_t channels, T eps = T(1e-5), T momentum = T(0.1));
  Variable<T> forward(const Variable<T>& x) override;
  // relu(forward(x)) as one op.
  Variable<T> forward_relu(const Variable<T>& x);
  // gamma, beta and the running statistics, as eval mode uses them.
  BatchNormStats<T> stats() const {
    return {gamma_.value(), beta_.value(), running_mean_, running_var_, eps_};
  }

 private:
  T eps_, momentum_;
  Variable<T> gamma_, beta_;
  Tensor<T> running_mean_, running_var_, num_batches_tracked_;
};

template <typename T>
class MaxPool2d : public Module<T> {
 public:
  MaxPool2d(int64_t kernel, int64_t stride, int64_t pad)
      : kernel_(kernel), stride_(stride), pad_(pad) {}
  Variable<T> forward(const Variable<T>& x) override;

 private:
  int64_t kernel_, stride_, pad_;
};

// x (N, n_channels, 32, 32) -> logits (N, n_classes). Each batch norm and the ReLU after it run
// as one op (batch_norm2d with relu); in eval mode with autograd off (evaluation), each
// convolution, batch norm and ReLU run as one folded convolution (conv2d_bn_inference). The
// modules and their names stay those of Table 1.
template <typename T>
class ConvNet : public Sequential<T> {
 public:
  ConvNet(int64_t n_channels, int64_t n_classes, Rng& rng);
  Variable<T> forward(const Variable<T>& x) override;
};

}  // namespace nabla::nn

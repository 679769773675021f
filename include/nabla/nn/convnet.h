/// \file
/// The report's Section 4 ConvNet (the course's Table 1, a small VGG), a Sequential of the
/// library's layers:
///   conv1 3->64, maxpool1, conv2 64->128, maxpool2, conv3_a 128->256, conv3_b 256->256, maxpool3,
///   conv4_a 256->512, conv4_b 512->512, maxpool4, conv5_a 512->512, conv5_b 512->512, maxpool5,
///   linear 512->10.
/// Every conv is 3x3, stride 1, padding 1, followed by batch norm and ReLU; every max-pool is 3x3,
/// stride 2, padding 1 (32 -> 16 -> 8 -> 4 -> 2 -> 1). Its speed comes from the layers: each
/// batch norm runs with its ReLU as one op and, at evaluation, each conv + batch norm + ReLU as
/// one folded convolution (Sequential and Module::forward_fused), as in any model built this way.
#pragma once

#include "nabla/nn/batchnorm2d.h"
#include "nabla/nn/conv2d.h"
#include "nabla/nn/flatten.h"
#include "nabla/nn/linear.h"
#include "nabla/nn/maxpool2d.h"
#include "nabla/nn/relu.h"
#include "nabla/nn/sequential.h"

namespace nabla::nn {

/// x (N, n_channels, 32, 32) -> logits (N, n_classes).
template <typename T>
class ConvNet : public Sequential<T> {
 public:
  /// n_channels input channels, n_classes outputs; weights drawn from rng.
  ConvNet(int64_t n_channels, int64_t n_classes, Rng& rng);
};

}  // namespace nabla::nn

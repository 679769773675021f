/// \file
/// The network of airbench94 (Keller Jordan's fast CIFAR-10 recipe, arXiv 2404.00498), a
/// Sequential of the library's layers, with PyTorch's state-dict names ("0.weight",
/// "2.conv1.weight", "2.norm1.bias", ...):
///   0 whitening conv 3 -> 24 (2x2, no padding, bias; its weight frozen, set by whiten()),
///   1 GELU, 2..4 conv groups of widths 64/256/256, 5 max-pool 3, 6 flatten,
///   7 linear 256 -> classes (no bias), 8 scale (1/9).
/// A conv group: conv1 (3x3 same, no bias), pool (max 2), norm1, activ1 (GELU), conv2, norm2,
/// activ2. Its batch norms have eps 1e-12, momentum 0.4 (PyTorch's convention; airbench writes
/// 0.6 for the share kept), a weight frozen at 1 and a trained bias. Each 3x3 conv's first C_in
/// filters start as identities (init::dirac), the rest as PyTorch's default; biases start at 0.
#pragma once

#include <array>
#include <cstdint>

#include "nabla/nn/conv2d.h"
#include "nabla/nn/sequential.h"

namespace nabla::nn {

/// The sizes of AirbenchNet.
struct AirbenchOptions {
  std::array<int64_t, 3> widths{64, 256, 256};  ///< the three conv groups' channels
  double batchnorm_momentum = 0.4;              ///< PyTorch's momentum of the batch norms
  double scale = 1.0 / 9;                       ///< the factor on the logits
};

/// x (N, C, 32, 32) -> logits (N, classes).
template <typename T>
class AirbenchNet : public Sequential<T> {
 public:
  /// n_channels inputs (3 for CIFAR), n_classes outputs; weights drawn from rng.
  AirbenchNet(int64_t n_channels, int64_t n_classes, Rng& rng, AirbenchOptions options = {});
  /// Sets the whitening conv's filters from the 2x2 patches of `images` (N, C, H, W), as
  /// init::whitening_filters with eps 5e-4 (airbench uses the first 5000 training images).
  /// Throws std::invalid_argument unless the images have the network's input channels.
  void whiten(const Tensor<T>& images, double eps = 5e-4);
  /// The whitening conv (layer 0).
  Conv2d<T>& whitening() { return *whitening_; }

 private:
  std::shared_ptr<Conv2d<T>> whitening_;
};

}  // namespace nabla::nn

/// \file
/// The settings of BatchNorm1d and BatchNorm2d, as torch.nn.BatchNorm's arguments.
#pragma once

namespace nabla::nn {

/// The settings of BatchNorm1d and BatchNorm2d.
struct BatchNormOptions {
  double eps = 1e-5;      ///< added to the variance before the square root
  double momentum = 0.1;  ///< running = (1 - momentum) running + momentum batch statistic
  /// With affine, weight (gamma, 1) and bias (beta, 0) are parameters of the state dict; without,
  /// the layer only normalises. A frozen weight or bias is kept but not trained (no gradient).
  bool affine = true;
  bool train_weight = true;  ///< whether weight gets a gradient (with affine)
  bool train_bias = true;    ///< whether bias gets a gradient (with affine)
};

}  // namespace nabla::nn

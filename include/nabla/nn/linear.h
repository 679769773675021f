/// \file
/// Linear: y (B,out) = x (B,in) @ weight^T + bias, as torch.nn.Linear.
#pragma once

#include "nabla/nn/module.h"
#include "nabla/rng.h"

namespace nabla::nn {

/// weight (out,in) and bias (out) uniform in +-1/sqrt(in), PyTorch's default initialisation;
/// no bias when `bias` is false.
template <typename T>
class Linear : public Module<T> {
 public:
  /// in = in_features -> out = out_features, weights drawn from rng; throws ConfigError for a
  /// size below 1.
  Linear(int64_t in_features, int64_t out_features, Rng& rng, bool bias = true);
  /// x (B,in) -> (B,out); throws std::invalid_argument when x is not (B,in).
  Variable<T> forward(const Variable<T>& x) override;
  /// The (out,in) weight, the parameter itself.
  Variable<T>& weight() { return weight_; }
  Variable<T>& bias() { return bias_; }  ///< undefined without a bias

 private:
  Variable<T> weight_, bias_;
};

}  // namespace nabla::nn

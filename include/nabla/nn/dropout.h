/// \file
/// Dropout: in training mode each element is zeroed with probability p and the rest scaled by
/// 1 / (1 - p), as torch.nn.Dropout; in eval mode the identity. The module owns its generator,
/// seeded at construction, so a run is reproducible.
#pragma once

#include "nabla/nn/module.h"
#include "nabla/rng.h"

namespace nabla::nn {

/// Zeroes each element with probability p in training mode, scaling the rest by 1 / (1 - p).
template <typename T>
class Dropout : public Module<T> {
 public:
  /// Throws ConfigError unless 0 <= p < 1.
  explicit Dropout(double p = 0.5, uint64_t seed = 0);
  /// x -> the same shape; the identity in eval mode or with p = 0.
  Variable<T> forward(const Variable<T>& x) override;
  /// The probability of zeroing an element in training mode.
  double p() const { return p_; }

 private:
  double p_;
  Rng rng_;
};

}  // namespace nabla::nn

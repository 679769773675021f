/// \file
/// The report's Section 2 MLP on the autograd engine: for each hidden layer a Linear (fcK), an
/// optional batch norm (bnK) and a LeakyReLU; then the output Linear. Input (B, ...) is flattened.
#pragma once

#include <string>
#include <vector>

#include "nabla/nn/layers.h"

namespace nabla::nn {

/// The batch norm after each hidden Linear: none, CustomBatchNormAutograd or
/// CustomBatchNormManualModule.
enum class BatchNormKind { kNone, kAutograd, kManual };
/// "none", "autograd", "manual"; throws std::invalid_argument otherwise.
BatchNormKind parse_batchnorm_kind(const std::string& name);
/// The name of kind, as parse_batchnorm_kind reads it.
std::string to_string(BatchNormKind kind);

/// The report's Section 2 MLP: fcK, bnK (unless kNone) and actK for each hidden layer, then the
/// output Linear.
template <typename T>
class MLP : public Sequential<T> {
 public:
  /// Layers of widths n_inputs, hidden..., n_classes, with weights drawn from rng. Throws
  /// std::invalid_argument for a hidden size <= 0.
  MLP(int64_t n_inputs, const std::vector<int64_t>& hidden, int64_t n_classes, T neg_slope,
      BatchNormKind batchnorm, Rng& rng);
  /// x (B, ...) -> logits (B, n_classes).
  Variable<T> forward(const Variable<T>& x) override;
};

}  // namespace nabla::nn

#include "nabla/nn/mlp.h"

#include <stdexcept>

#include "nabla/nn/batchnorm.h"
#include "nabla/ops.h"

namespace nabla::nn {

BatchNormKind parse_batchnorm_kind(const std::string& name) {
  if (name == "none") return BatchNormKind::kNone;
  if (name == "autograd") return BatchNormKind::kAutograd;
  if (name == "manual") return BatchNormKind::kManual;
  throw std::invalid_argument("batch norm must be none, autograd or manual, not '" + name + "'");
}

std::string to_string(BatchNormKind kind) {
  switch (kind) {
    case BatchNormKind::kAutograd:
      return "autograd";
    case BatchNormKind::kManual:
      return "manual";
    case BatchNormKind::kNone:
      break;
  }
  return "none";
}

template <typename T>
MLP<T>::MLP(int64_t n_inputs, const std::vector<int64_t>& hidden, int64_t n_classes, T neg_slope,
            BatchNormKind batchnorm, Rng& rng) {
  int64_t width = n_inputs;
  for (size_t i = 0; i < hidden.size(); ++i) {
    if (hidden[i] <= 0) throw std::invalid_argument("MLP: hidden layer sizes must be positive");
    const std::string k = std::to_string(i + 1);
    this->add("fc" + k, std::make_shared<Linear<T>>(width, hidden[i], rng));
    if (batchnorm == BatchNormKind::kAutograd) {
      this->add("bn" + k, std::make_shared<CustomBatchNormAutograd<T>>(hidden[i]));
    } else if (batchnorm == BatchNormKind::kManual) {
      this->add("bn" + k, std::make_shared<CustomBatchNormManualModule<T>>(hidden[i]));
    }
    this->add("act" + k, std::make_shared<LeakyReLU<T>>(neg_slope));
    width = hidden[i];
  }
  this->add("fc" + std::to_string(hidden.size() + 1),
            std::make_shared<Linear<T>>(width, n_classes, rng));
}

template <typename T>
Variable<T> MLP<T>::forward(const Variable<T>& x) {
  return Sequential<T>::forward(flatten(x, 1));
}

template class MLP<float>;
template class MLP<double>;

}  // namespace nabla::nn

#include "nabla/nn/airbench.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "nabla/nn/batchnorm2d.h"
#include "nabla/nn/flatten.h"
#include "nabla/nn/gelu.h"
#include "nabla/nn/init.h"
#include "nabla/nn/linear.h"
#include "nabla/nn/maxpool2d.h"
#include "nabla/nn/scale.h"

namespace nabla::nn {

namespace {

// A 3x3 "same" conv without bias whose first C_in filters are identities.
template <typename T>
std::shared_ptr<Conv2d<T>> identity_conv(int64_t in, int64_t out, Rng& rng) {
  auto conv =
      std::make_shared<Conv2d<T>>(in, out, 3, rng, Conv2dOptions{1, Padding::same(), false});
  init::dirac(conv->weight().value(), std::min(in, out));
  return conv;
}

template <typename T>
std::shared_ptr<Sequential<T>> conv_group(int64_t in, int64_t out, double momentum, Rng& rng) {
  const BatchNormOptions bn{.eps = 1e-12, .momentum = momentum, .train_weight = false};
  auto g = std::make_shared<Sequential<T>>();
  g->add("conv1", identity_conv<T>(in, out, rng));
  g->add("pool", std::make_shared<MaxPool2d<T>>(2));
  g->add("norm1", std::make_shared<BatchNorm2d<T>>(out, bn));
  g->add("activ1", std::make_shared<GELU<T>>());
  g->add("conv2", identity_conv<T>(out, out, rng));
  g->add("norm2", std::make_shared<BatchNorm2d<T>>(out, bn));
  g->add("activ2", std::make_shared<GELU<T>>());
  return g;
}

}  // namespace

template <typename T>
AirbenchNet<T>::AirbenchNet(int64_t n_channels, int64_t n_classes, Rng& rng,
                            AirbenchOptions options) {
  const int64_t whiten_width = 2 * n_channels * 2 * 2;
  whitening_ = this->add(
      std::make_shared<Conv2d<T>>(n_channels, whiten_width, 2, rng, Conv2dOptions{1, 0, true}));
  whitening_->weight().node()->requires_grad = false;
  for (T& b : whitening_->bias().value().values()) b = T(0);
  this->add(std::make_shared<GELU<T>>());
  int64_t in = whiten_width;
  for (int64_t width : options.widths) {
    this->add(conv_group<T>(in, width, options.batchnorm_momentum, rng));
    in = width;
  }
  this->add(std::make_shared<MaxPool2d<T>>(3));
  this->add(std::make_shared<Flatten<T>>());
  this->add(std::make_shared<Linear<T>>(in, n_classes, rng, /*bias=*/false));
  this->add(std::make_shared<Scale<T>>(static_cast<T>(options.scale)));
}

template <typename T>
void AirbenchNet<T>::whiten(const Tensor<T>& images, double eps) {
  Tensor<T>& weight = whitening_->weight().value();
  if (images.rank() != 4 || images.dim(1) != weight.dim(1)) {
    throw std::invalid_argument("AirbenchNet::whiten: images must be (N, " +
                                std::to_string(weight.dim(1)) + ", H, W), got " +
                                shape_str(images.shape()));
  }
  const Tensor<T> filters = init::whitening_filters(images, 2, 2, eps);
  std::copy(filters.values().begin(), filters.values().end(), weight.values().begin());
}

template class AirbenchNet<float>;
template class AirbenchNet<double>;

}  // namespace nabla::nn

/// \file
/// Initialisations beyond the layers' defaults, as torch.nn.init: dirac (identity filters) and
/// the patch-whitening filters of airbench's first convolution.
#pragma once

#include <cstdint>

#include "nabla/tensor.h"

namespace nabla::nn::init {

/// As torch.nn.init.dirac_ on weight[:filters] of a convolution's weight (O, C, KH, KW): each of
/// the first `filters` filters becomes the identity of its own input channel (1 at the kernel's
/// centre of channel o, 0 elsewhere), so the convolution passes those channels through. filters
/// -1 means all O; throws std::invalid_argument unless weight is (O, C, KH, KW) with
/// filters <= min(O, C).
template <typename T>
void dirac(Tensor<T>& weight, int64_t filters = -1);

/// Filters (2 K, C, h, w), K = C h w, that whiten the h x w patches of `images` (N, C, H, W): the
/// covariance (1/P) sum p p^T of all P patches (stride 1, no padding, taken raw), its
/// eigenvectors v_k with eigenvalues l_k in descending order, and filters v_k / sqrt(l_k + eps)
/// followed by their negatives, as airbench's init_whitening_conv. Accumulated in double.
/// Throws std::invalid_argument for no images or patches larger than the images.
template <typename T>
Tensor<T> whitening_filters(const Tensor<T>& images, int64_t h, int64_t w, double eps);

}  // namespace nabla::nn::init

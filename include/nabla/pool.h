/// \file
/// Max-pooling kernels on NCHW tensors, without autograd (the op is max_pool2d in ops.h): a
/// separable, branch-free fast path and the direct loops it is tested against.
#pragma once

#include <cstdint>
#include <vector>

#include "nabla/tensor.h"

namespace nabla {

/// For each output of max pooling, the index within its (n, c) plane of its maximum: the first
/// in row-major order among equal maxima.
using PoolArgmax = std::vector<int32_t, detail::UninitAllocator<int32_t>>;
/// Max pooling: x (N,C,H,W) -> y (N,C,OH,OW), filling argmax. Padded cells never win. Throws
/// std::invalid_argument unless 0 <= 2 pad <= kernel and the window fits the padded input.
template <typename T>
Tensor<T> max_pool2d_forward(const Tensor<T>& x, int64_t kernel, int64_t stride, int64_t pad,
                             PoolArgmax& argmax);
/// The same maxima without the argmax (inference).
template <typename T>
Tensor<T> max_pool2d_forward(const Tensor<T>& x, int64_t kernel, int64_t stride, int64_t pad);
/// The same with direct loops: the oracle for the fast path.
template <typename T>
Tensor<T> max_pool2d_forward_reference(const Tensor<T>& x, int64_t kernel, int64_t stride,
                                       int64_t pad, PoolArgmax& argmax);

}  // namespace nabla

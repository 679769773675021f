/// \file
/// Plain convolution and pooling kernels on NCHW tensors (no autograd). Each fast kernel has a
/// direct reference kernel beside it, used as the oracle in tests.
///   x (N,C,H,W), weight (O,C,KH,KW), bias (O), y (N,O,OH,OW),
///   OH = (H + 2 pad - KH) / stride + 1, likewise OW.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nabla/tensor.h"

namespace nabla {

/// The sizes of one convolution, from conv2d_geometry.
struct Conv2dGeometry {
  int64_t N, C, H, W, O, KH, KW, stride, pad, OH, OW;
  /// \var N
  /// Images in the batch.
  /// \var C
  /// Input channels.
  /// \var H
  /// Input height.
  /// \var W
  /// Input width.
  /// \var O
  /// Output channels (filters).
  /// \var KH
  /// Kernel height.
  /// \var KW
  /// Kernel width.
  /// \var stride
  /// The step between windows, in both directions.
  /// \var pad
  /// Zeros added on each side of the input.
  /// \var OH
  /// Output height, (H + 2 pad - KH) / stride + 1.
  /// \var OW
  /// Output width, (W + 2 pad - KW) / stride + 1.
};
/// Checks the shapes and computes the output size; throws std::invalid_argument naming the problem.
Conv2dGeometry conv2d_geometry(const Shape& x, const Shape& weight, int64_t stride, int64_t pad);

/// What a forward pass can keep for the backward pass on the same x and weight, so that it is not
/// recomputed (the Winograd transform of the filter). Opaque; float32 only.
struct Conv2dSaved {
  std::shared_ptr<void> state;  ///< null when the forward pass kept nothing
};

/// bias may be empty. float32: Winograd (3x3, stride 1, pad 1, enough tiles) or oneDNN; float64:
/// im2col + one GEMM over the whole batch. `keep`, when not null, receives what the backward pass
/// can reuse.
template <typename T>
Tensor<T> conv2d_forward(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias,
                         int64_t stride, int64_t pad, Conv2dSaved* keep = nullptr);
/// The same convolution by direct loops, accumulated in double: the oracle for conv2d_forward.
template <typename T>
Tensor<T> conv2d_forward_reference(const Tensor<T>& x, const Tensor<T>& weight,
                                   const Tensor<T>& bias, int64_t stride, int64_t pad);

/// A batch norm's parameters and running statistics, each (O), for folding into the convolution
/// before it.
template <typename T>
struct BatchNormStats {
  const Tensor<T>& gamma;         ///< the scale (weight)
  const Tensor<T>& beta;          ///< the shift (bias)
  const Tensor<T>& running_mean;  ///< subtracted from the convolution's output
  const Tensor<T>& running_var;   ///< normalises, as sqrt(running_var + eps)
  T eps;                          ///< added to running_var before the square root
};

/// Inference only (no autograd): batch_norm(conv2d(x)) with the batch norm in eval mode, then
/// max(0, .) when relu, as one convolution: for each output channel o, with
/// s = gamma / sqrt(running_var + eps), the filter of o times s and the bias (bias - mean) s + beta
/// (docs/derivations.md). The same function as the three ops up to rounding, one pass fewer.
template <typename T>
Tensor<T> conv2d_bn_inference(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias,
                              int64_t stride, int64_t pad, const BatchNormStats<T>& bn, bool relu);

/// The gradients of conv2d; one that was not computed is empty.
template <typename T>
struct Conv2dGrads {
  Tensor<T> dx, dweight, dbias;
  /// \var dx
  /// The input's gradient (N,C,H,W).
  /// \var dweight
  /// The filters' gradient (O,C,KH,KW).
  /// \var dbias
  /// The bias's gradient (O): dy summed over N, OH and OW.
};
/// Gradients of conv2d given dy (N,O,OH,OW); each output is computed only when its flag is set.
/// `kept`, when not null, is what conv2d_forward kept for the same x and weight.
template <typename T>
Conv2dGrads<T> conv2d_backward(const Tensor<T>& dy, const Tensor<T>& x, const Tensor<T>& weight,
                               int64_t stride, int64_t pad, bool need_dx, bool need_dweight,
                               bool need_dbias, const Conv2dSaved* kept = nullptr);
/// All three gradients by direct loops: the oracle for conv2d_backward.
template <typename T>
Conv2dGrads<T> conv2d_backward_reference(const Tensor<T>& dy, const Tensor<T>& x,
                                         const Tensor<T>& weight, int64_t stride, int64_t pad);

/// The instruction set oneDNN's convolution kernels use on this CPU ("avx512_core", "avx2", ...).
/// ONEDNN_MAX_CPU_ISA=AVX2 (say) caps it; the float64 kernels never use oneDNN.
std::string conv_backend_isa();

}  // namespace nabla

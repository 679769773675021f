/// \file
/// Conv2d: y = conv2d(x, weight, bias) over x (N,C,H,W) -> (N,O,OH,OW), as torch.nn.Conv2d with
/// a square kernel. float32 runs Winograd (3x3, stride 1) or oneDNN; float64 im2col + GEMM.
#pragma once

#include <array>
#include <memory>
#include <span>

#include "nabla/nn/module.h"
#include "nabla/rng.h"

namespace nabla::nn {

/// Zeros added around the input: a number on every side, or "same" (the output has the input's
/// size; stride 1 only; an even kernel gets the extra row and column at the bottom and right, as
/// PyTorch does), or "valid" (none).
struct Padding {
  /// kExplicit: `pixels` zeros on every side; kSame and kValid: "same" and "valid".
  enum class Mode { kExplicit, kSame, kValid };
  /// `pixels` zeros on every side; implicit, so that an integer such as 1 converts to it.
  Padding(int64_t pixels = 0) : mode(Mode::kExplicit), pixels(pixels) {}  // NOLINT: 1 means 1
  /// "same": the output has the input's size (stride 1 only).
  static Padding same() { return Padding(Mode::kSame); }
  /// "valid": no padding.
  static Padding valid() { return Padding(Mode::kValid); }
  Mode mode;       ///< explicit, same or valid
  int64_t pixels;  ///< zeros on each side when explicit, else 0

 private:
  explicit Padding(Mode m) : mode(m), pixels(0) {}
};

/// The optional settings of Conv2d, as torch.nn.Conv2d's arguments.
struct Conv2dOptions {
  int64_t stride = 1;   ///< the step between windows, >= 1
  Padding padding = 0;  ///< zeros around the input, none by default
  bool bias = true;     ///< whether there is a bias
};

/// weight (O,C,K,K) and bias (O) uniform in +-1/sqrt(C*K*K), PyTorch's default initialisation.
/// Throws ConfigError for a kernel, stride or padding that cannot work ("same" with stride > 1).
template <typename T>
class Conv2d : public Module<T> {
 public:
  /// C = in_channels -> O = out_channels with K = kernel, weights drawn from rng.
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, Rng& rng,
         Conv2dOptions options = {});
  /// The same with a stride, pad zeros on every side, and a bias.
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride, int64_t pad,
         Rng& rng)
      : Conv2d(in_channels, out_channels, kernel, rng, {stride, pad, true}) {}
  /// x (N,C,H,W) -> (N,O,OH,OW); throws std::invalid_argument when x is not NCHW with C
  /// channels or the kernel is larger than the padded input.
  Variable<T> forward(const Variable<T>& x) override;
  /// At evaluation (the next module a BatchNorm2d in eval mode, autograd off): the convolution,
  /// that batch norm and a ReLU after it, if there is one, as one convolution with the batch norm
  /// folded into its filters and bias (conv2d_bn_inference).
  Variable<T> forward_fused(const Variable<T>& x, std::span<const std::shared_ptr<Module<T>>> next,
                            size_t& consumed) override;
  /// The (O,C,K,K) filters, the parameter itself.
  Variable<T>& weight() { return weight_; }
  Variable<T>& bias() { return bias_; }  ///< undefined without a bias
  /// The square kernel's size.
  int64_t kernel() const { return kernel_; }
  /// The step between windows.
  int64_t stride() const { return stride_; }
  /// Zeros added on each side, as ONNX orders them: top, left, bottom, right.
  std::array<int64_t, 4> pads() const {
    return {pad_, pad_, pad_ + pad_bottom_, pad_ + pad_right_};
  }

 private:
  /// x with the zeros that the convolution's own symmetric padding does not add.
  Variable<T> pad_input(const Variable<T>& x) const;

  int64_t kernel_, stride_;
  int64_t pad_ = 0;                         ///< symmetric, done by the convolution
  int64_t pad_right_ = 0, pad_bottom_ = 0;  ///< the extra of "same" with an even kernel
  Variable<T> weight_, bias_;
};

}  // namespace nabla::nn

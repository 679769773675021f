/// \file
/// AdaptiveAvgPool2d: x (N,C,H,W) -> (N,C,out_h,out_w) by averaging windows that tile the input,
/// as torch.nn.AdaptiveAvgPool2d; (1, 1) is global average pooling.
#pragma once

#include "nabla/nn/module.h"

namespace nabla::nn {

/// Average pooling to a fixed output size (out_h, out_w), whatever the input size.
template <typename T>
class AdaptiveAvgPool2d : public Module<T> {
 public:
  /// out_w 0 means out_w = out_h.
  explicit AdaptiveAvgPool2d(int64_t out_h = 1, int64_t out_w = 0)
      : out_h_(out_h), out_w_(out_w > 0 ? out_w : out_h) {}
  /// x (N,C,H,W) -> (N,C,out_h,out_w); throws std::invalid_argument unless x is NCHW and
  /// non-empty.
  Variable<T> forward(const Variable<T>& x) override;
  int64_t out_h() const { return out_h_; }  ///< the output's height
  int64_t out_w() const { return out_w_; }  ///< the output's width

 private:
  int64_t out_h_, out_w_;
};

}  // namespace nabla::nn

/// \file
/// AvgPool2d: the mean of each kernel x kernel window of x (N,C,H,W), stride apart, padded zeros
/// counted (count_include_pad), as torch.nn.AvgPool2d.
#pragma once

#include "nabla/nn/module.h"

namespace nabla::nn {

/// Mean pooling over kernel x kernel windows, padded zeros counted in the mean.
template <typename T>
class AvgPool2d : public Module<T> {
 public:
  /// stride 0 means stride = kernel, PyTorch's default.
  explicit AvgPool2d(int64_t kernel, int64_t stride = 0, int64_t pad = 0)
      : kernel_(kernel), stride_(stride == 0 ? kernel : stride), pad_(pad) {}
  /// x (N,C,H,W) -> (N,C,OH,OW), OH = (H + 2 pad - kernel) / stride + 1. Throws
  /// std::invalid_argument unless 2 pad <= kernel and the window fits the padded input.
  Variable<T> forward(const Variable<T>& x) override;
  int64_t kernel() const { return kernel_; }  ///< the square window's size
  int64_t stride() const { return stride_; }  ///< the step between windows
  int64_t pad() const { return pad_; }        ///< cells added on each side

 private:
  int64_t kernel_, stride_, pad_;
};

}  // namespace nabla::nn

// Winograd F(4x4, 3x3) float32 convolution (src/tensor/winograd.cpp) for 3x3, stride-1, pad-1
// layers with at least 16 input and output channels on maps of at least 4x4. Plain NCHW / OIHW
// buffers; a null gradient pointer means that gradient is not wanted.
#pragma once

#include "nabla/conv.h"

namespace nabla::detail {

bool winograd_applies(const Conv2dGeometry& g);
void winograd_forward(const float* x, const float* weight, const float* bias,
                      const Conv2dGeometry& g, float* y);
void winograd_backward(const float* dy, const float* x, const float* weight,
                       const Conv2dGeometry& g, float* dx, float* dweight, float* dbias);

}  // namespace nabla::detail

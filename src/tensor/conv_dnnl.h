// The oneDNN path of the float32 convolution kernels (src/tensor/conv_dnnl.cpp). Plain NCHW / OIHW
// buffers in and out; a null gradient pointer means that gradient is not wanted.
#pragma once

#include "nabla/conv.h"

namespace nabla::detail {

// Applies NABLA_MAX_ISA (avx2 or generic) to oneDNN; must run before any other oneDNN call.
void init_dnnl();

void conv2d_forward_dnnl(const float* x, const float* weight, const float* bias,
                         const Conv2dGeometry& g, float* y);
void conv2d_backward_dnnl(const float* dy, const float* x, const float* weight,
                          const Conv2dGeometry& g, float* dx, float* dweight, float* dbias);

}  // namespace nabla::detail

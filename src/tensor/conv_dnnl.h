// The oneDNN path of the float32 convolution kernels (src/tensor/conv_dnnl.cpp). Plain NCHW / OIHW
// buffers in and out; a null gradient pointer means that gradient is not wanted.
#pragma once

#include "nabla/conv.h"

namespace nabla::detail {

// Applies NABLA_MAX_ISA (avx2 or generic) to oneDNN; must run before any other oneDNN call.
void init_dnnl();

void conv2d_forward_dnnl(const float* x, const float* weight, const float* bias,
                         const Conv2dGeometry& g, float* y);
// dx only: the weight gradient is computed in conv.cpp (the same bits on any thread count).
void conv2d_backward_data_dnnl(const float* dy, const float* weight, const Conv2dGeometry& g,
                               float* dx);

}  // namespace nabla::detail

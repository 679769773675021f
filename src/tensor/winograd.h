// Winograd F(4x4, 3x3) float32 convolution (src/tensor/winograd.cpp) for 3x3, stride-1, pad-1
// layers with at least 16 input and output channels on maps of at least 4x4. Plain NCHW / OIHW
// buffers; a null gradient pointer means that gradient is not wanted.
#pragma once

#include <memory>
#include <new>

#include "nabla/conv.h"

namespace nabla::detail {

// The Winograd kernels' buffers start on a cache line, so that each run of 16 floats at a multiple
// of 16 is one whole line.
struct CacheLineFree {
  template <typename T>
  void operator()(T* p) const {
    ::operator delete[](p, std::align_val_t{64});
  }
};
using FloatBuffer = std::unique_ptr<float[], CacheLineFree>;

// What a forward pass keeps for the backward pass: the transformed filter U and the output tile
// size of the algorithm that made it. (The transformed input V is made again: see
// winograd_impl.h.)
struct WinogradSaved {
  FloatBuffer U;
  int tile = 0;
};

// Inference extras of the forward pass: each output channel o's filter times filter_scale[o]
// (when not null; batch norm folded into the convolution), and max(0, .) on the output (relu).
struct WinogradEpilogue {
  const float* filter_scale = nullptr;
  bool relu = false;
};

bool winograd_applies(const Conv2dGeometry& g);
// keep, when not null, receives U.
void winograd_forward(const float* x, const float* weight, const float* bias,
                      const Conv2dGeometry& g, float* y, WinogradSaved* keep = nullptr,
                      const WinogradEpilogue& epilogue = {});
// kept, when not null, is what the forward pass on the same x and weight kept.
void winograd_backward(const float* dy, const float* x, const float* weight,
                       const Conv2dGeometry& g, float* dx, float* dweight,
                       const WinogradSaved* kept = nullptr);

}  // namespace nabla::detail

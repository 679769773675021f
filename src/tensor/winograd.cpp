// Calls the build of winograd_impl.h for the instruction set in use (src/simd/simd.h).
#include "winograd.h"

#include "simd/simd.h"

namespace nabla::detail {

#define NABLA_DECLARE_WINO(ns)                                                  \
  namespace ns {                                                                \
  bool winograd_applies(const Conv2dGeometry& g);                               \
  void winograd_forward(const float* x, const float* weight, const float* bias, \
                        const Conv2dGeometry& g, float* y, WinogradSaved* keep, \
                        const WinogradEpilogue& epilogue);                      \
  void winograd_backward(const float* dy, const float* x, const float* weight,  \
                         const Conv2dGeometry& g, float* dx, float* dweight,    \
                         const WinogradSaved* kept);                            \
  }
NABLA_DECLARE_WINO(avx512)
NABLA_DECLARE_WINO(avx2)
NABLA_DECLARE_WINO(generic)
#undef NABLA_DECLARE_WINO

bool winograd_applies(const Conv2dGeometry& g) { return generic::winograd_applies(g); }

void winograd_forward(const float* x, const float* weight, const float* bias,
                      const Conv2dGeometry& g, float* y, WinogradSaved* keep,
                      const WinogradEpilogue& epilogue) {
  switch (simd::active_isa()) {
    case simd::Isa::kAvx512:
      return avx512::winograd_forward(x, weight, bias, g, y, keep, epilogue);
    case simd::Isa::kAvx2:
      return avx2::winograd_forward(x, weight, bias, g, y, keep, epilogue);
    default:
      return generic::winograd_forward(x, weight, bias, g, y, keep, epilogue);
  }
}

void winograd_backward(const float* dy, const float* x, const float* weight,
                       const Conv2dGeometry& g, float* dx, float* dweight,
                       const WinogradSaved* kept) {
  switch (simd::active_isa()) {
    case simd::Isa::kAvx512:
      return avx512::winograd_backward(dy, x, weight, g, dx, dweight, kept);
    case simd::Isa::kAvx2:
      return avx2::winograd_backward(dy, x, weight, g, dx, dweight, kept);
    default:
      return generic::winograd_backward(dy, x, weight, g, dx, dweight, kept);
  }
}

}  // namespace nabla::detail

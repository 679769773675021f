// Picks the build of gemm_kernel_impl.h for the instruction set in use (src/simd/simd.h).
#include "gemm_kernel.h"

#include "simd/simd.h"

namespace nabla::detail {

namespace avx512 {
extern const GemmBuild gemm_build;
}
namespace avx2 {
extern const GemmBuild gemm_build;
}
namespace generic {
extern const GemmBuild gemm_build;
}

const GemmBuild& gemm_build() {
  switch (simd::active_isa()) {
    case simd::Isa::kAvx512:
      return avx512::gemm_build;
    case simd::Isa::kAvx2:
      return avx2::gemm_build;
    default:
      return generic::gemm_build;
  }
}

void gemm_f32(const GemmOperands& p) { gemm_build().gemm(p); }

}  // namespace nabla::detail

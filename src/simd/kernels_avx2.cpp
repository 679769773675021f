// The kernels of kernels_impl.h built for avx2 (flags in CMakeLists.txt).
#define NABLA_SIMD_NS avx2
#define NABLA_SIMD_TABLE k_avx2_table
#include "kernels_impl.h"

// The kernels of kernels_impl.h built for avx512 (flags in CMakeLists.txt).
#define NABLA_SIMD_NS avx512
#define NABLA_SIMD_TABLE k_avx512_table
#include "kernels_impl.h"

// The kernels of kernels_impl.h built for generic (flags in CMakeLists.txt).
#define NABLA_SIMD_NS generic
#define NABLA_SIMD_TABLE k_generic_table
#include "kernels_impl.h"

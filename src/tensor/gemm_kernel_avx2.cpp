// The GEMM of gemm_kernel_impl.h built for avx2 (flags in CMakeLists.txt).
#define NABLA_GEMM_NS avx2
#include "gemm_kernel_impl.h"

// The GEMM of gemm_kernel_impl.h built for avx512 (flags in CMakeLists.txt).
#define NABLA_GEMM_NS avx512
#include "gemm_kernel_impl.h"

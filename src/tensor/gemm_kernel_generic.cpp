// The GEMM of gemm_kernel_impl.h built for generic (flags in CMakeLists.txt).
#define NABLA_GEMM_NS generic
#include "gemm_kernel_impl.h"

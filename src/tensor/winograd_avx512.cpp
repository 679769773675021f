// The Winograd kernels of winograd_impl.h built for avx512 (flags in CMakeLists.txt), their
// products on LIBXSMM.
#define NABLA_WINO_NS avx512
#define NABLA_WINO_SMALL_GEMM
#include "winograd_impl.h"

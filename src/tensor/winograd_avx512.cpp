// The Winograd kernels of winograd_impl.h built for avx512 (flags in CMakeLists.txt).
#define NABLA_WINO_NS avx512
#include "winograd_impl.h"

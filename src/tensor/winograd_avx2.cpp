// The Winograd kernels of winograd_impl.h built for avx2 (flags in CMakeLists.txt).
#define NABLA_WINO_NS avx2
#include "winograd_impl.h"

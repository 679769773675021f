// The Winograd kernels of winograd_impl.h built for generic (flags in CMakeLists.txt).
#define NABLA_WINO_NS generic
#include "winograd_impl.h"

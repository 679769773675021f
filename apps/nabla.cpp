#include <malloc.h>

#include "cli.h"

int main(int argc, char** argv) {
  // Training allocates and frees the same large tensors every step. Kept on the heap instead of
  // being mapped and unmapped each time, their pages are faulted in once, not on every step.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  return nabla::run_cli(argc, argv);
}

#include <malloc.h>

#include "cli.h"

int main(int argc, char** argv) {
  // Training allocates and frees the same large tensors every step. Kept on the heap instead of
  // being mapped and unmapped each time, their pages are faulted in once, not on every step. No
  // trimming at all (-1 is the largest size): an airbench step frees 1.1 GB at its end, and a 1 GB
  // threshold gave that back to the system, to be faulted in again (280,000 faults, 0.75 s of
  // system time a step on the Xeon).
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, -1);
  return nabla::run_cli(argc, argv);
}

// A build without MPI: every run is a single process.
#include "train/replicas.h"

namespace nabla {

std::unique_ptr<Replicas> start_replicas() { return std::make_unique<Replicas>(); }

}  // namespace nabla

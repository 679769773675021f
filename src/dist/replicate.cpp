#include "nabla/dist/replicate.h"

#include <vector>

#include "nabla/nn/batchnorm.h"
#include "nabla/nn/batchnorm2d.h"

namespace nabla::dist {

template <typename T>
void broadcast_module(nn::Module<T>& model, const Communicator& comm, int root) {
  for (auto& [name, p] : model.named_parameters()) comm.broadcast(p.value().values(), root);
  broadcast_buffers(model, comm, root);
}

template <typename T>
void broadcast_buffers(nn::Module<T>& model, const Communicator& comm, int root) {
  // Buffers share the module's storage: broadcasting into the copies writes the module's.
  for (auto& [name, buffer] : model.named_buffers()) comm.broadcast(buffer.values(), root);
}

template <typename T>
int convert_sync_batchnorm(nn::Module<T>& model, const Communicator& comm) {
  if (comm.size() == 1) return 0;
  const ReplicaSum sum = comm.duplicate().replica_sum();
  int changed = 0;
  std::vector<nn::Module<T>*> stack{&model};
  while (!stack.empty()) {
    nn::Module<T>* m = stack.back();
    stack.pop_back();
    if (auto* bn = dynamic_cast<nn::BatchNorm2d<T>*>(m)) {
      bn->set_replica_sum(sum);
      ++changed;
    } else if (auto* custom = dynamic_cast<nn::BatchNormParameters<T>*>(m)) {
      custom->set_replica_sum(sum);
      ++changed;
    }
    for (const auto& [name, child] : m->named_children()) stack.push_back(child.get());
  }
  return changed;
}

#define NABLA_DIST_REPLICATE(T)                                                 \
  template void broadcast_module<T>(nn::Module<T>&, const Communicator&, int);  \
  template void broadcast_buffers<T>(nn::Module<T>&, const Communicator&, int); \
  template int convert_sync_batchnorm<T>(nn::Module<T>&, const Communicator&);
NABLA_DIST_REPLICATE(float)
NABLA_DIST_REPLICATE(double)

}  // namespace nabla::dist

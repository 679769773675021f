// A build with MPI: the replicas are the processes mpirun started (nabla::dist), or a single one.
#include <algorithm>
#include <map>
#include <memory>
#include <string>

#include "nabla/dist/communicator.h"
#include "nabla/dist/reducer.h"
#include "nabla/dist/replicate.h"
#include "train/replicas.h"

namespace nabla {

namespace {

class MpiReplicas : public Replicas {
 public:
  MpiReplicas() : world_(env_.world()) {}
  int rank() const override { return world_.rank(); }
  int size() const override { return world_.size(); }
  void sum(std::span<double> values) const override { world_.sum(values); }

  ReplicaStep replicate(nn::Module<float>& model, bool sync_bn, bool average) const override {
    if (world_.size() == 1) return {};
    dist::broadcast_module(model, world_);
    if (sync_bn) dist::convert_sync_batchnorm(model, world_);
    // The gradients travel on a communicator of their own, apart from batch norm's sums.
    auto reducer = std::make_shared<dist::GradientReducer<float>>(
        model.parameters(), world_.duplicate(), dist::ReducerOptions{.average = average});
    ReplicaStep step;
    step.after_backward = [reducer, &model, sync_bn, world = world_] {
      reducer->finish();
      if (!sync_bn) dist::broadcast_buffers(model, world);
    };
    step.stats = [reducer, size = world_.size()] {
      const dist::ReducerStats& s = reducer->stats();
      const std::vector<int64_t> buckets = reducer->bucket_bytes();
      const auto steps = static_cast<double>(std::max<int64_t>(1, s.steps));
      return std::map<std::string, double>{
          {"dist_ranks", size},
          {"dist_buckets", static_cast<double>(buckets.size())},
          {"dist_gradient_mb_per_step", static_cast<double>(s.bytes_per_step) / 1e6},
          // Sent last, when the backward pass has ended: never overlapped.
          {"dist_last_bucket_mb",
           buckets.empty() ? 0.0 : static_cast<double>(buckets.back()) / 1e6},
          {"dist_buckets_overlapped_per_step", static_cast<double>(s.buckets_overlapped) / steps},
          {"dist_wait_s_per_step", s.wait_seconds / steps},
          {"dist_hook_s_per_step", s.hook_seconds / steps}};
    };
    return step;
  }

  void abort(int code) const override {
    if (world_.size() > 1) env_.abort(code);
  }

 private:
  dist::Environment env_;
  dist::Communicator world_;
};

}  // namespace

std::unique_ptr<Replicas> start_replicas() { return std::make_unique<MpiReplicas>(); }

}  // namespace nabla

/// \file
/// GradientReducer: data-parallel training's gradient averaging, as PyTorch's DDP reducer. Every
/// process computes gradients on its part of the global batch; the reducer adds them up over the
/// processes in buckets of parameters, each bucket sent (MPI_Iallreduce) as soon as the backward
/// pass has finished the gradients in it, while the backward pass goes on with earlier layers.
/// finish() waits for the last bucket and writes the averaged gradients back, so that every
/// process applies the same optimizer step.
///
///   dist::GradientReducer<float> reducer(model.parameters(), world);
///   loss.backward();        // buckets start while this runs
///   reducer.finish();       // every process now holds the same gradients
///   optimizer.step();
#pragma once

#include <cstdint>
#include <vector>

#include "nabla/autograd.h"
#include "nabla/dist/communicator.h"

namespace nabla::dist {

/// How the reducer groups and combines gradients.
struct ReducerOptions {
  /// Gradients per bucket, in bytes: one MPI_Iallreduce each (DDP's bucket_cap_mb, 25 MiB).
  int64_t bucket_bytes = int64_t{25} << 20;
  /// The first bucket, which holds the last layers' gradients, is smaller so that sending starts
  /// early (DDP's 1 MiB first bucket).
  int64_t first_bucket_bytes = int64_t{1} << 20;
  /// Divide the sums by the number of processes: the gradient of the mean loss over the global
  /// batch when each process's loss is the mean over its part. false: the sums, for a loss
  /// summed over the examples (airbench's).
  bool average = true;
};

/// What the reducer measured since it was made.
struct ReducerStats {
  int64_t steps = 0;           ///< finish() calls
  int64_t bytes_per_step = 0;  ///< gradient bytes each process sends into the sums per step
  /// Buckets that started while the backward pass was still running (the rest start in finish()).
  int64_t buckets_overlapped = 0;
  double wait_seconds = 0;  ///< time spent in finish(), waiting for the last buckets
  /// Time spent during the backward pass starting buckets and letting MPI move them on: with no
  /// spare core, also time taken from the backward pass.
  double hook_seconds = 0;
};

/// Sums (or averages) the gradients of `params` over a Communicator's processes after each
/// backward pass. Every process must hold the same parameters in the same order and run the same
/// graph. For a single process it does nothing.
template <typename T>
class GradientReducer {
 public:
  /// Groups the parameters into buckets, last parameters first (the order in which the backward
  /// pass finishes them), and hooks them (Variable::add_grad_ready_hook). Parameters frozen now
  /// (no requires_grad) are left out. Throws std::invalid_argument for a bucket size below 1.
  GradientReducer(std::vector<Variable<T>> params, Communicator comm, ReducerOptions options = {});
  /// Waits for buckets still in flight and removes the hooks.
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  /// After backward(): starts the buckets not yet sent (those with a parameter that got no
  /// gradient in this pass, which counts as zeros), waits for all, and writes the sums (or
  /// averages) into the gradients. A parameter that no process gave a gradient keeps none; one
  /// that some did gets the sum on every process. Throws std::logic_error when a backward pass
  /// reached a parameter twice before finish().
  void finish();
  /// The size of each bucket in bytes, in the order they are sent.
  std::vector<int64_t> bucket_bytes() const;
  /// What was measured so far.
  const ReducerStats& stats() const { return stats_; }

 private:
  struct Bucket;
  void on_grad_ready(size_t bucket);
  void start(Bucket& bucket);
  void start_ready_buckets();

  std::vector<Variable<T>> params_;
  Communicator comm_;
  ReducerOptions options_;
  std::vector<Bucket> buckets_;
  std::vector<int64_t> hooks_;  // one per parameter, in params_' order
  size_t next_to_start_ = 0;    // buckets start in order, the same on every process
  ReducerStats stats_;
};

extern template class GradientReducer<float>;
extern template class GradientReducer<double>;

}  // namespace nabla::dist

// The processes of a data-parallel run (`mpirun -np N nabla train ...`): each holds a replica of
// the model and trains on its share of every global batch. One process without mpirun, or a build
// without MPI, is the single replica: rank 0 of 1, and nothing is communicated.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "nabla/nn/module.h"

namespace nabla {

// What a model replica does after each backward pass, and what it measured.
struct ReplicaStep {
  // Sums (or averages) the gradients over the replicas and, without sync_bn, copies rank 0's
  // running statistics to all; empty for a single process.
  std::function<void()> after_backward;
  // Communication figures for summary.json and the final line (ranks, buckets, gradient
  // megabytes and seconds waited per step, buckets sent during the backward pass); empty: none.
  std::function<std::map<std::string, double>()> stats;
};

class Replicas {
 public:
  virtual ~Replicas() = default;
  virtual int rank() const { return 0; }
  virtual int size() const { return 1; }
  // values = their sums over the replicas (a collective: every replica calls it in turn).
  virtual void sum(std::span<double> values) const { (void)values; }
  // Makes `model` a replica: rank 0's parameters and buffers on every process and, with sync_bn,
  // batch norm over the global batch. `average`: the gradients are averaged over the replicas
  // (each replica's loss is a mean over its share); otherwise summed (a summed loss).
  virtual ReplicaStep replicate(nn::Module<float>& model, bool sync_bn, bool average) const {
    (void)model, (void)sync_bn, (void)average;
    return {};
  }
  // After an error on this process: ends every process of the run (MPI_Abort) with `code`, so
  // that none waits for this one forever. Returns only for a single process.
  virtual void abort(int code) const { (void)code; }
};

// The replicas this process belongs to: MPI's when the build has MPI and an MPI launcher started
// the process, else a single one. Keep the result until the program ends (it ends MPI).
std::unique_ptr<Replicas> start_replicas();

// A single process, for code that trains without mpirun.
inline const Replicas& single_process() {
  static const Replicas one;
  return one;
}

}  // namespace nabla

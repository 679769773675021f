/// \file
/// Processes that train together (MPI), as torch.distributed's process group: the Environment
/// starts MPI when an MPI launcher (mpirun, srun) started this process, and a Communicator is a
/// group of processes, each with its rank, that add up and broadcast values together. Every
/// process of a group makes the same collective calls in the same order.
///
/// Without a launcher, nothing of MPI is called: world() is a single process (rank 0 of 1) whose
/// sums and broadcasts leave values as they are, so a program runs the same with and without
/// mpirun -np 1.
#pragma once

#include <mpi.h>

#include <memory>
#include <span>

#include "nabla/ops.h"

namespace nabla::dist {

/// Whether an MPI launcher started this process (Open MPI's, PMIx's or MPICH's variables).
bool launched_by_mpi();

class Communicator;

/// MPI for the object's lifetime: MPI_Init_thread when launched_by_mpi(), MPI_Finalize at the end.
/// Only the thread that made it calls MPI (MPI_THREAD_FUNNELED). One per process; make it first
/// in main() and let every Communicator go before it ends.
class Environment {
 public:
  /// Starts MPI if a launcher started this process; throws std::runtime_error when that fails.
  Environment();
  /// MPI_Finalize (a collective: every process gets here, or the run was aborted).
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;
  /// Whether MPI runs (false for a single process without a launcher).
  bool active() const { return active_; }
  /// All processes of the run: MPI_COMM_WORLD, or a single process.
  Communicator world() const;
  /// Ends every process of the run with `code` (MPI_Abort): what a process does after an error
  /// the others cannot know about, so that none waits forever for it. Exits when MPI is inactive.
  [[noreturn]] void abort(int code) const;

 private:
  bool active_ = false;
};

/// A group of processes. Copies share the group; a duplicate() is a separate one whose messages
/// never mix with this one's (for communication that runs alongside).
class Communicator {
 public:
  /// A single process: rank 0 of 1; sums and broadcasts leave values as they are.
  Communicator() = default;
  /// The group of `comm` (not freed by this object; MPI_COMM_NULL: a single process).
  explicit Communicator(MPI_Comm comm);
  /// This process's rank, in 0..size()-1.
  int rank() const { return rank_; }
  /// The number of processes.
  int size() const { return size_; }
  /// Whether MPI carries this group's messages (false for a single process).
  bool distributed() const { return comm_ != MPI_COMM_NULL; }
  /// The MPI communicator, for calls of one's own (MPI_COMM_NULL for a single process).
  MPI_Comm handle() const { return comm_; }

  /// values = their sum over the group, on every process (MPI_Allreduce).
  void sum(std::span<double> values) const;
  /// The same for float values.
  void sum(std::span<float> values) const;
  /// values = root's values, on every process (MPI_Bcast).
  void broadcast(std::span<float> values, int root = 0) const;
  /// The same for double values.
  void broadcast(std::span<double> values, int root = 0) const;
  /// Waits until every process of the group has called it.
  void barrier() const;
  /// A new group of the same processes (MPI_Comm_dup), freed with its last copy.
  Communicator duplicate() const;
  /// sum() on this group as a ReplicaSum, for synchronised batch norm.
  ReplicaSum replica_sum() const;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  std::shared_ptr<MPI_Comm> owned_;  // set for a duplicate: frees it with the last copy
  int rank_ = 0, size_ = 1;
};

}  // namespace nabla::dist

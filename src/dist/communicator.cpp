#include "nabla/dist/communicator.h"

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "dist/mpi_type.h"

namespace nabla::dist {

namespace {

using detail::mpi_type;

// MPI_Init_thread's and the collectives' errors return (MPI_ERRORS_RETURN is not the default for
// MPI_COMM_WORLD): a failed call aborts the run, which no process can recover from anyway.
void check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw std::runtime_error(std::string(call) + " failed: " + std::string(text, length));
}

template <typename T>
void sum_in_place(MPI_Comm comm, std::span<T> values) {
  if (comm == MPI_COMM_NULL || values.empty()) return;
  check(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), mpi_type<T>(),
                      MPI_SUM, comm),
        "MPI_Allreduce");
}

template <typename T>
void broadcast_from(MPI_Comm comm, std::span<T> values, int root) {
  if (comm == MPI_COMM_NULL || values.empty()) return;
  check(MPI_Bcast(values.data(), static_cast<int>(values.size()), mpi_type<T>(), root, comm),
        "MPI_Bcast");
}

}  // namespace

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

Environment::Environment() {
  if (!launched_by_mpi()) return;
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  active_ = true;
  if (provided < MPI_THREAD_FUNNELED) {
    MPI_Finalize();
    active_ = false;
    throw std::runtime_error("MPI: this MPI library cannot be used from a threaded program");
  }
}

Environment::~Environment() {
  if (active_) MPI_Finalize();
}

Communicator Environment::world() const {
  return active_ ? Communicator(MPI_COMM_WORLD) : Communicator();
}

void Environment::abort(int code) const {
  if (active_) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

Communicator::Communicator(MPI_Comm comm) : comm_(comm) {
  if (comm_ == MPI_COMM_NULL) return;
  check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
}

void Communicator::sum(std::span<double> values) const { sum_in_place(comm_, values); }
void Communicator::sum(std::span<float> values) const { sum_in_place(comm_, values); }
void Communicator::broadcast(std::span<float> values, int root) const {
  broadcast_from(comm_, values, root);
}
void Communicator::broadcast(std::span<double> values, int root) const {
  broadcast_from(comm_, values, root);
}

void Communicator::barrier() const {
  if (comm_ != MPI_COMM_NULL) check(MPI_Barrier(comm_), "MPI_Barrier");
}

Communicator Communicator::duplicate() const {
  if (comm_ == MPI_COMM_NULL) return {};
  auto owned = std::shared_ptr<MPI_Comm>(new MPI_Comm(MPI_COMM_NULL), [](MPI_Comm* c) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (*c != MPI_COMM_NULL && !finalized) MPI_Comm_free(c);
    delete c;
  });
  check(MPI_Comm_dup(comm_, owned.get()), "MPI_Comm_dup");
  Communicator copy(*owned);
  copy.owned_ = std::move(owned);
  return copy;
}

ReplicaSum Communicator::replica_sum() const {
  return [self = *this](std::span<double> values) { self.sum(values); };
}

}  // namespace nabla::dist

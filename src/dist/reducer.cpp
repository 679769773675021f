#include "nabla/dist/reducer.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <stdexcept>
#include <string>

#include "dist/mpi_type.h"

namespace nabla::dist {

using detail::mpi_type;

// A group of parameters whose gradients travel together: copied into one flat buffer, summed in
// place over the processes by one MPI_Iallreduce, copied back by finish(). After the gradients,
// flat holds one value per parameter: 1 where this process had a gradient, so that the sum says
// whether any process had one.
template <typename T>
struct GradientReducer<T>::Bucket {
  std::vector<size_t> params;    // indices into params_
  std::vector<int64_t> offsets;  // of each parameter's gradient in flat
  int64_t flags = 0;             // where the had-a-gradient values begin in flat
  std::vector<T> flat;
  size_t pending = 0;  // parameters whose gradient has not arrived in this pass
  bool started = false;
  MPI_Request request = MPI_REQUEST_NULL;
};

template <typename T>
GradientReducer<T>::GradientReducer(std::vector<Variable<T>> params, Communicator comm,
                                    ReducerOptions options)
    : comm_(std::move(comm)), options_(options) {
  if (options_.bucket_bytes < 1 || options_.first_bucket_bytes < 1) {
    throw std::invalid_argument("GradientReducer: bucket sizes must be >= 1 byte");
  }
  if (comm_.size() == 1) return;
  // A frozen parameter never gets a gradient: waiting for it would hold back every later bucket.
  for (Variable<T>& p : params) {
    if (p.requires_grad()) params_.push_back(std::move(p));
  }
  std::vector<size_t> bucket_of(params_.size());
  int64_t bytes = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const int64_t numel = params_[k].numel();
    const int64_t param_bytes = numel * static_cast<int64_t>(sizeof(T));
    // The bucket being filled is the first while there is at most one.
    const int64_t cap = buckets_.size() <= 1 ? options_.first_bucket_bytes : options_.bucket_bytes;
    if (buckets_.empty() || (bytes > 0 && bytes + param_bytes > cap)) {
      buckets_.emplace_back();
      bytes = 0;
    }
    Bucket& b = buckets_.back();
    b.params.push_back(k);
    b.offsets.push_back(static_cast<int64_t>(b.flat.size()));
    b.flat.resize(b.flat.size() + static_cast<size_t>(numel));
    if (b.flat.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
      throw std::invalid_argument("GradientReducer: a bucket of more than 2^31 values");
    }
    bytes += param_bytes;
    bucket_of[k] = buckets_.size() - 1;
  }
  for (Bucket& b : buckets_) {
    b.pending = b.params.size();
    b.flags = static_cast<int64_t>(b.flat.size());
    b.flat.resize(b.flat.size() + b.params.size());
    stats_.bytes_per_step += static_cast<int64_t>(b.flat.size() * sizeof(T));
  }
  hooks_.resize(params_.size());
  for (size_t k = 0; k < params_.size(); ++k) {
    hooks_[k] = params_[k].add_grad_ready_hook([this, b = bucket_of[k]] { on_grad_ready(b); });
  }
}

template <typename T>
GradientReducer<T>::~GradientReducer() {
  for (size_t k = 0; k < hooks_.size(); ++k) params_[k].remove_grad_ready_hook(hooks_[k]);
  for (Bucket& b : buckets_) {
    if (b.request != MPI_REQUEST_NULL) MPI_Wait(&b.request, MPI_STATUS_IGNORE);
  }
}

template <typename T>
void GradientReducer<T>::on_grad_ready(size_t bucket) {
  const auto begin = std::chrono::steady_clock::now();
  Bucket& b = buckets_[bucket];
  if (b.started || b.pending == 0) {
    throw std::logic_error(
        "GradientReducer: a backward pass reached a parameter twice; call finish() after each "
        "backward pass");
  }
  if (--b.pending == 0) {
    const size_t before = next_to_start_;
    start_ready_buckets();
    stats_.buckets_overlapped += static_cast<int64_t>(next_to_start_ - before);
  }
  // MPI moves a nonblocking collective on only inside MPI calls: test the buckets in flight.
  for (Bucket& other : buckets_) {
    if (other.request == MPI_REQUEST_NULL) continue;
    int done = 0;
    MPI_Test(&other.request, &done, MPI_STATUS_IGNORE);
  }
  stats_.hook_seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
}

template <typename T>
void GradientReducer<T>::start_ready_buckets() {
  // In order, so that every process starts the same collectives in the same order.
  while (next_to_start_ < buckets_.size() && buckets_[next_to_start_].pending == 0) {
    start(buckets_[next_to_start_++]);
  }
}

template <typename T>
void GradientReducer<T>::start(Bucket& b) {
  for (size_t j = 0; j < b.params.size(); ++j) {
    const Tensor<T>& grad = params_[b.params[j]].grad();
    T* dst = b.flat.data() + b.offsets[j];
    b.flat[static_cast<size_t>(b.flags) + j] = grad.empty() ? T(0) : T(1);
    if (grad.empty()) {
      std::fill(dst, dst + params_[b.params[j]].numel(), T(0));
    } else {
      std::copy(grad.data(), grad.data() + grad.numel(), dst);
    }
  }
  b.started = true;
  const int rc = MPI_Iallreduce(MPI_IN_PLACE, b.flat.data(), static_cast<int>(b.flat.size()),
                                mpi_type<T>(), MPI_SUM, comm_.handle(), &b.request);
  if (rc != MPI_SUCCESS) throw std::runtime_error("GradientReducer: MPI_Iallreduce failed");
}

template <typename T>
void GradientReducer<T>::finish() {
  if (buckets_.empty()) return;
  const auto begin = std::chrono::steady_clock::now();
  while (next_to_start_ < buckets_.size()) start(buckets_[next_to_start_++]);
  const T scale = options_.average ? T(1) / static_cast<T>(comm_.size()) : T(1);
  for (Bucket& b : buckets_) {
    if (MPI_Wait(&b.request, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
      throw std::runtime_error("GradientReducer: MPI_Wait failed");
    }
    for (size_t j = 0; j < b.params.size(); ++j) {
      // No process had a gradient: none here either. Some had: every process gets the sum.
      if (b.flat[static_cast<size_t>(b.flags) + j] == T(0)) continue;
      Variable<T>& param = params_[b.params[j]];
      if (param.grad().empty()) param.grad() = Tensor<T>(param.shape());
      Tensor<T>& grad = param.grad();
      const T* src = b.flat.data() + b.offsets[j];
      for (int64_t i = 0; i < grad.numel(); ++i) grad[i] = src[i] * scale;
    }
    b.pending = b.params.size();
    b.started = false;
  }
  next_to_start_ = 0;
  ++stats_.steps;
  stats_.wait_seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
}

template <typename T>
std::vector<int64_t> GradientReducer<T>::bucket_bytes() const {
  std::vector<int64_t> out;
  for (const Bucket& b : buckets_) out.push_back(static_cast<int64_t>(b.flat.size() * sizeof(T)));
  return out;
}

template class GradientReducer<float>;
template class GradientReducer<double>;

}  // namespace nabla::dist

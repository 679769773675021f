#include "nabla/data/loader.h"

#include <pthread.h>
#include <signal.h>

#include <condition_variable>
#include <exception>
#include <limits>
#include <map>
#include <numeric>
#include <stdexcept>
#include <thread>

namespace nabla::data {

namespace {

// SplitMix64's finaliser: spreads the bits of x; folding numbers into a seed with it gives
// unrelated streams for neighbouring epochs, batches and ranks.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t fold(uint64_t seed, std::initializer_list<int64_t> values) {
  uint64_t h = mix(seed);
  for (int64_t v : values) h = mix(h ^ static_cast<uint64_t>(v));
  return h;
}

// Separates the augmentation's and the shuffled order's seeds from the same user seed.
constexpr uint64_t kAugmentStream = 0x6175676d656e7431ULL;  // "augment1"
constexpr uint64_t kOrderStream = 0x6f72646572303031ULL;    // "order001"

}  // namespace

// The last epochs' orders, shared with the batches being made: the workers ask for the current
// and the next epoch, and the course's order is cheap only from the previous epoch's (its
// generator continues from there). The sequential order is one entry for every epoch.
struct DataLoader::Orders {
  struct Entry {
    int64_t epoch;
    std::shared_ptr<const std::vector<int64_t>> order;
    Rng rng;  // kCourse: the generator after this epoch's shuffle
  };
  std::mutex mutex;
  std::vector<Entry> recent;  // at most kKept, any order
  static constexpr size_t kKept = 2;
};

struct DataLoader::Pipeline {
  std::mutex mutex;
  std::condition_variable changed;  // a batch finished, one was taken, or stop
  int64_t next_claim = 0;           // the next batch (counted from start_) a worker takes
  int64_t consumed = 0;             // batches next() took
  std::map<int64_t, std::pair<LabeledImages, std::exception_ptr>> ready;
  bool stop = false;
  std::vector<std::thread> threads;
};

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options,
                       std::shared_ptr<const Transform> transform)
    : dataset_(std::move(dataset)),
      options_(options),
      transform_(std::move(transform)),
      orders_(std::make_unique<Orders>()) {
  if (!dataset_) throw std::invalid_argument("DataLoader: no dataset");
  const LoaderOptions& o = options_;
  if (o.batch_size < 1) throw std::invalid_argument("DataLoader: batch_size must be >= 1");
  if (o.world_size < 1 || o.rank < 0 || o.rank >= o.world_size) {
    throw std::invalid_argument("DataLoader: rank " + std::to_string(o.rank) +
                                " must be in 0..world_size-1 (world_size " +
                                std::to_string(o.world_size) + ")");
  }
  if (o.workers < 0) throw std::invalid_argument("DataLoader: workers must be >= 0");
  if (o.prefetch < 1) throw std::invalid_argument("DataLoader: prefetch must be >= 1");
  const int64_t n = dataset_->size();
  shard_size_ = n > o.rank ? (n - o.rank + o.world_size - 1) / o.world_size : 0;
  batches_per_epoch_ = o.drop_last ? (n / o.world_size) / o.batch_size
                                   : (shard_size_ + o.batch_size - 1) / o.batch_size;
  if (batches_per_epoch_ < 1) {
    throw std::invalid_argument("DataLoader: " + std::to_string(n) + " examples over " +
                                std::to_string(o.world_size) + " ranks make no batch of " +
                                std::to_string(o.batch_size));
  }
}

DataLoader::~DataLoader() { stop_workers(); }

std::shared_ptr<const std::vector<int64_t>> DataLoader::epoch_order(int64_t epoch) const {
  const int64_t n = dataset_->size();
  std::lock_guard lock(orders_->mutex);
  auto& recent = orders_->recent;
  for (const auto& e : recent) {
    if (e.epoch == epoch || options_.order == Order::kSequential) return e.order;
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  Rng rng(0);
  if (options_.order == Order::kShuffled) {
    rng = Rng(fold(options_.seed ^ kOrderStream, {epoch}));
    order = rng.permutation(n);
  } else if (options_.order == Order::kCourse) {
    // Epoch e's order is epoch e-1's reshuffled by the same generator: start from the latest
    // cached epoch before e rather than replaying every epoch from 0.
    int64_t from = 0;
    rng = Rng(options_.seed);
    for (const auto& e : recent) {
      if (e.epoch < epoch && e.epoch >= from) {
        from = e.epoch;
        order = *e.order;
        rng = e.rng;
      }
    }
    for (int64_t k = from + 1; k <= epoch; ++k) rng.shuffle(order.begin(), order.end());
  }
  if (recent.size() == Orders::kKept) {
    auto oldest = recent.begin();
    for (auto it = recent.begin(); it != recent.end(); ++it) {
      if (it->epoch < oldest->epoch) oldest = it;
    }
    recent.erase(oldest);
  }
  recent.push_back({epoch, std::make_shared<const std::vector<int64_t>>(std::move(order)), rng});
  return recent.back().order;
}

void DataLoader::check_position(LoaderPosition position) const {
  if (position.epoch < 0 || position.batch < 0 || position.batch >= batches_per_epoch_ ||
      position.epoch > std::numeric_limits<int64_t>::max() / batches_per_epoch_ - 1) {
    throw std::invalid_argument("DataLoader: no batch " + std::to_string(position.batch) +
                                " in epoch " + std::to_string(position.epoch) + " (" +
                                std::to_string(batches_per_epoch_) + " batches per epoch)");
  }
}

std::vector<int64_t> DataLoader::epoch_indices(int64_t epoch) const {
  if (epoch < 0) throw std::invalid_argument("DataLoader: epoch must be >= 0");
  const auto order = epoch_order(epoch);
  std::vector<int64_t> shard;
  shard.reserve(static_cast<size_t>(shard_size_));
  for (int64_t p = options_.rank; p < static_cast<int64_t>(order->size());
       p += options_.world_size) {
    shard.push_back((*order)[static_cast<size_t>(p)]);
  }
  return shard;
}

LabeledImages DataLoader::batch_at(LoaderPosition position) const {
  check_position(position);
  // The shard's examples begin..end-1 sit at positions rank + k * world_size of the epoch's order.
  const auto order = epoch_order(position.epoch);
  const int64_t begin = position.batch * options_.batch_size;
  const int64_t end = std::min(begin + options_.batch_size, shard_size_);
  std::vector<int64_t> indices;
  indices.reserve(static_cast<size_t>(end - begin));
  for (int64_t k = begin; k < end; ++k) {
    indices.push_back((*order)[static_cast<size_t>(options_.rank + k * options_.world_size)]);
  }
  LabeledImages batch = dataset_->get_batch(indices);
  if (transform_) {
    Rng rng(fold(options_.seed ^ kAugmentStream, {position.epoch, position.batch, options_.rank}));
    transform_->apply_to_batch(batch.images, rng, {options_.seed, position.epoch, indices});
  }
  return batch;
}

LoaderPosition DataLoader::advance(LoaderPosition position, int64_t batches) const {
  const int64_t linear = position.epoch * batches_per_epoch_ + position.batch + batches;
  return {linear / batches_per_epoch_, linear % batches_per_epoch_};
}

LoaderPosition DataLoader::position() const { return advance(start_, delivered_); }

void DataLoader::seek(LoaderPosition position) {
  check_position(position);
  stop_workers();
  start_ = position;
  delivered_ = 0;
}

void DataLoader::stop_workers() {
  if (!pipeline_) return;
  {
    std::lock_guard lock(pipeline_->mutex);
    pipeline_->stop = true;
  }
  pipeline_->changed.notify_all();
  for (auto& t : pipeline_->threads) t.join();
  pipeline_.reset();
  start_ = position();
  delivered_ = 0;
}

namespace {

// For its lifetime, this thread blocks SIGINT and SIGTERM; threads it starts inherit that.
class BlockStopSignals {
 public:
  BlockStopSignals() {
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, &previous_);
  }
  ~BlockStopSignals() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  BlockStopSignals(const BlockStopSignals&) = delete;
  BlockStopSignals& operator=(const BlockStopSignals&) = delete;

 private:
  sigset_t previous_;
};

}  // namespace

void DataLoader::worker(Pipeline& p) const {
  // Each worker makes up to `prefetch` batches ahead, as PyTorch's prefetch_factor.
  const int64_t ahead = options_.prefetch * options_.workers;
  for (;;) {
    int64_t s = 0;
    {
      std::unique_lock lock(p.mutex);
      p.changed.wait(lock, [&] { return p.stop || p.next_claim < p.consumed + ahead; });
      if (p.stop) return;
      s = p.next_claim++;
    }
    LabeledImages batch;
    std::exception_ptr error;
    try {
      batch = batch_at(advance(start_, s));
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard lock(p.mutex);
      p.ready.emplace(s, std::make_pair(std::move(batch), error));
    }
    p.changed.notify_all();
  }
}

LabeledImages DataLoader::next() {
  if (options_.workers == 0) {
    ++delivered_;  // a batch that fails is passed, as with workers
    return batch_at(advance(start_, delivered_ - 1));
  }
  if (!pipeline_) {
    start_ = position();
    delivered_ = 0;
    pipeline_ = std::make_unique<Pipeline>();
    const BlockStopSignals blocked;  // stop signals go to the threads that expect them
    try {
      for (int64_t w = 0; w < options_.workers; ++w) {
        pipeline_->threads.emplace_back([this, &p = *pipeline_] { worker(p); });
      }
    } catch (...) {
      stop_workers();  // joins those that started
      throw;
    }
  }
  Pipeline& p = *pipeline_;
  std::unique_lock lock(p.mutex);
  p.changed.wait(lock, [&] { return p.ready.count(p.consumed) > 0; });
  auto node = p.ready.extract(p.consumed);
  ++p.consumed;
  ++delivered_;
  lock.unlock();
  p.changed.notify_all();
  if (node.mapped().second) std::rethrow_exception(node.mapped().second);
  return std::move(node.mapped().first);
}

}  // namespace nabla::data

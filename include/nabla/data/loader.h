/// \file
/// DataLoader: batches from a Dataset in an order that depends only on the seed and the epoch,
/// augmented by a Transform, made on background threads ahead of the step that uses them
/// (torch.utils.data.DataLoader with num_workers and prefetch_factor), sharded by rank for
/// data-parallel training, with a position that a checkpoint saves and seek() restores.
///
/// What a batch holds is a pure function of (seed, epoch, batch index, rank): its examples come
/// from the epoch's order, and its augmentation draws from a generator seeded from the same four
/// numbers. The number of workers and the prefetch depth change only when a batch is made, never
/// what it holds.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "nabla/data/dataset.h"
#include "nabla/data/transforms.h"

namespace nabla::data {

/// The order of the examples within an epoch.
enum class Order {
  kSequential,  ///< 0, 1, ..., N-1 every epoch
  kShuffled,    ///< a fresh permutation each epoch, drawn from (seed, epoch), as shuffle=True
  /// The course's DataSet.next_batch: the stored order in epoch 0, then each epoch reshuffles
  /// the previous epoch's order with one generator seeded by the seed (the report's runs).
  kCourse,
};

/// How a DataLoader walks its Dataset.
struct LoaderOptions {
  int64_t batch_size = 1;            ///< examples per batch, >= 1
  Order order = Order::kSequential;  ///< the order within each epoch (PyTorch: shuffle=False)
  uint64_t seed = 0;                 ///< of the order and of the augmentation
  bool drop_last = false;            ///< skip the tail of an epoch that does not fill a batch
  int64_t workers = 0;               ///< background threads making batches; 0: on next()'s thread
  int64_t prefetch = 2;    ///< batches each worker makes ahead (PyTorch's prefetch_factor)
  int64_t rank = 0;        ///< this process's shard, in 0..world_size-1
  int64_t world_size = 1;  ///< how many shards split each epoch
};

/// Where a loader is: the next batch it delivers.
struct LoaderPosition {
  int64_t epoch = 0;  ///< epochs completed
  int64_t batch = 0;  ///< batches delivered in this epoch, in 0..batches_per_epoch()-1
  /// Positions are equal when epoch and batch are.
  bool operator==(const LoaderPosition&) const = default;
};

/// Batches from a Dataset, epoch after epoch, without end.
///
/// Epoch e's order is a permutation of 0..N-1 (see Order); with world_size W, rank r takes the
/// positions r, r + W, r + 2W, ... of it, so the ranks together see every example exactly once
/// per epoch. Its batches are consecutive runs of batch_size of those examples; the last is
/// shorter, or skipped with drop_last. Without drop_last, ranks may differ by one batch (nothing
/// is padded or repeated, unlike DistributedSampler); with it every rank has the same number.
/// The loader owns its threads; the Dataset and Transform must be safe to call from several
/// threads at once (const). Worker threads block SIGINT and SIGTERM.
class DataLoader {
 public:
  /// Throws std::invalid_argument for options that cannot work (batch_size < 1, a rank outside
  /// 0..world_size-1, an epoch with no batch, workers < 0, prefetch < 1).
  DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options,
             std::shared_ptr<const Transform> transform = nullptr);
  /// Stops and joins the workers.
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  /// The batch at position(), then moves one batch on (into the next epoch after the last).
  /// Rethrows what making the batch threw (e.g. DataError naming an unreadable file); the
  /// position has moved past that batch.
  LabeledImages next();
  /// The batch at `position`, made on this thread; next() gives the same batch there.
  LabeledImages batch_at(LoaderPosition position) const;

  /// This rank's examples in epoch `epoch`, in order.
  std::vector<int64_t> epoch_indices(int64_t epoch) const;
  /// The number of batches in each epoch for this rank.
  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  /// The next batch next() delivers.
  LoaderPosition position() const;
  /// Continues from `position` (a checkpoint's); batches made ahead are dropped. Throws
  /// std::invalid_argument for a negative epoch or a batch outside 0..batches_per_epoch()-1.
  void seek(LoaderPosition position);
  /// The options it was made with.
  const LoaderOptions& options() const { return options_; }
  /// The data set it reads.
  const Dataset& dataset() const { return *dataset_; }

 private:
  struct Orders;    // the cached epoch orders
  struct Pipeline;  // the workers and their finished batches
  LoaderPosition advance(LoaderPosition position, int64_t batches) const;
  std::shared_ptr<const std::vector<int64_t>> epoch_order(int64_t epoch) const;
  void check_position(LoaderPosition position) const;  // std::invalid_argument outside the epochs
  void stop_workers();
  void worker(Pipeline& pipeline) const;

  std::shared_ptr<const Dataset> dataset_;
  LoaderOptions options_;
  std::shared_ptr<const Transform> transform_;
  int64_t shard_size_ = 0;  // examples this rank takes each epoch (before drop_last)
  int64_t batches_per_epoch_ = 0;
  std::unique_ptr<Orders> orders_;
  std::unique_ptr<Pipeline> pipeline_;
  LoaderPosition start_;   // where the running pipeline (or the next one) starts
  int64_t delivered_ = 0;  // batches next() delivered since start_
};

}  // namespace nabla::data

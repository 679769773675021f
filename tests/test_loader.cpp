// DataLoader: the course's order, shuffling by seed and epoch, shards that cover every example
// once, the same batches whatever the number of workers or the prefetch depth, exact seeking.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>

#include "nabla/data/cifar10.h"
#include "nabla/data/loader.h"
#include "nabla/error.h"

namespace nabla::data {
namespace {

// n images (n, 2, 4, 4) whose pixels encode their index, labels index % 10.
LabeledImages indexed_images(int64_t n) {
  LabeledImages d{Tensor<float>({n, 2, 4, 4}), {}};
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < 32; ++k) d.images[i * 32 + k] = static_cast<float>(i * 100 + k);
    d.labels.push_back(static_cast<int32_t>(i % 10));
  }
  return d;
}

std::shared_ptr<const Dataset> indexed_dataset(int64_t n) {
  return std::make_shared<TensorDataset>(indexed_images(n));
}

void expect_same(const LabeledImages& a, const LabeledImages& b, const std::string& where) {
  ASSERT_EQ(a.images.shape(), b.images.shape()) << where;
  ASSERT_EQ(a.labels, b.labels) << where;
  for (int64_t i = 0; i < a.images.numel(); ++i) ASSERT_EQ(a.images[i], b.images[i]) << where;
}

std::shared_ptr<const Transform> augmentation() {
  return parse_augmentation("flip,crop2,cutout2", 4, 4);
}

TEST(DataLoader, CourseOrderIsTheCourseDataSetsWalk) {
  const LabeledImages images = indexed_images(53);
  DataSet course(images, 77);
  DataLoader loader(std::make_shared<TensorDataset>(images),
                    {.batch_size = 8, .order = Order::kCourse, .seed = 77, .drop_last = true});
  EXPECT_EQ(loader.batches_per_epoch(), 6);
  for (int step = 0; step < 40; ++step) {  // six epochs and a bit
    expect_same(course.next_batch(8), loader.next(), "step " + std::to_string(step));
  }
  EXPECT_EQ(course.epochs_completed(), loader.position().epoch);
}

TEST(DataLoader, ShuffledOrderDependsOnSeedAndEpochOnly) {
  DataLoader a(indexed_dataset(50), {.batch_size = 5, .order = Order::kShuffled, .seed = 1});
  DataLoader b(indexed_dataset(50), {.batch_size = 5, .order = Order::kShuffled, .seed = 1});
  DataLoader c(indexed_dataset(50), {.batch_size = 5, .order = Order::kShuffled, .seed = 2});
  const auto e0 = a.epoch_indices(0), e1 = a.epoch_indices(1);
  EXPECT_NE(e0, e1);
  EXPECT_NE(e0, c.epoch_indices(0));
  (void)b.epoch_indices(5);  // asking for other epochs first changes nothing
  EXPECT_EQ(b.epoch_indices(1), e1);
  EXPECT_EQ(b.epoch_indices(0), e0);
  std::vector<int64_t> sorted = e1;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 50; ++i) EXPECT_EQ(sorted[i], i);
  DataLoader sequential(indexed_dataset(5), {.batch_size = 2, .order = Order::kSequential});
  EXPECT_EQ(sequential.epoch_indices(3), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(sequential.batches_per_epoch(), 3);
  EXPECT_EQ(sequential.batch_at({0, 2}).labels, (std::vector<int32_t>{4}));  // the short tail
}

TEST(DataLoader, ShardsCoverEveryExampleOncePerEpoch) {
  for (int64_t world = 1; world <= 4; ++world) {
    for (int64_t epoch : {0, 1, 2}) {
      std::vector<int> seen(103, 0);
      for (int64_t rank = 0; rank < world; ++rank) {
        DataLoader loader(indexed_dataset(103), {.batch_size = 4,
                                                 .order = Order::kCourse,
                                                 .seed = 5,
                                                 .rank = rank,
                                                 .world_size = world});
        loader.seek({epoch, 0});
        for (int64_t b = 0; b < loader.batches_per_epoch(); ++b) {
          for (int32_t label : loader.next().labels) (void)label;
        }
        EXPECT_EQ(loader.position(), (LoaderPosition{epoch + 1, 0}));
        for (int64_t i : loader.epoch_indices(epoch)) ++seen[static_cast<size_t>(i)];
        // The batches hold exactly the shard's examples, in order.
        std::vector<int64_t> from_batches;
        for (int64_t b = 0; b < loader.batches_per_epoch(); ++b) {
          const LabeledImages batch = loader.batch_at({epoch, b});
          for (int64_t r = 0; r < batch.images.dim(0); ++r) {
            from_batches.push_back(static_cast<int64_t>(batch.images[r * 32]) / 100);
          }
        }
        EXPECT_EQ(from_batches, loader.epoch_indices(epoch));
      }
      for (int64_t i = 0; i < 103; ++i) {
        ASSERT_EQ(seen[i], 1) << "example " << i << ", world " << world << ", epoch " << epoch;
      }
    }
  }
  // With drop_last every rank takes the same number of batches.
  for (int64_t rank = 0; rank < 4; ++rank) {
    DataLoader loader(indexed_dataset(103),
                      {.batch_size = 4, .drop_last = true, .rank = rank, .world_size = 4});
    EXPECT_EQ(loader.batches_per_epoch(), 6);
  }
}

TEST(DataLoader, WorkersAndPrefetchChangeNothing) {
  DataLoader reference(indexed_dataset(61), {.batch_size = 7, .order = Order::kShuffled, .seed = 9},
                       augmentation());
  std::vector<LabeledImages> expected;
  for (int step = 0; step < 25; ++step) expected.push_back(reference.next());
  for (int64_t workers : {0, 1, 3}) {
    for (int64_t prefetch : {1, 4}) {
      DataLoader loader(indexed_dataset(61),
                        {.batch_size = 7,
                         .order = Order::kShuffled,
                         .seed = 9,
                         .workers = workers,
                         .prefetch = prefetch},
                        augmentation());
      for (int step = 0; step < 25; ++step) {
        expect_same(expected[step], loader.next(),
                    "workers " + std::to_string(workers) + ", prefetch " +
                        std::to_string(prefetch) + ", step " + std::to_string(step));
      }
    }
  }
  // The augmentation did something, and differs between epochs for the same examples.
  DataLoader plain(indexed_dataset(61), {.batch_size = 7, .order = Order::kShuffled, .seed = 9});
  const LabeledImages raw = plain.next();
  EXPECT_EQ(raw.labels, expected[0].labels);
  bool changed = false;
  for (int64_t i = 0; i < raw.images.numel(); ++i)
    changed |= raw.images[i] != expected[0].images[i];
  EXPECT_TRUE(changed);
}

TEST(DataLoader, SeekingContinuesExactly) {
  const LoaderOptions options{.batch_size = 6,
                              .order = Order::kCourse,
                              .seed = 3,
                              .drop_last = true,
                              .workers = 2,
                              .prefetch = 3};
  DataLoader first(indexed_dataset(40), options, augmentation());
  for (int step = 0; step < 13; ++step) first.next();
  const LoaderPosition saved = first.position();
  EXPECT_EQ(saved, (LoaderPosition{2, 1}));  // 6 batches per epoch
  std::vector<LabeledImages> after;
  for (int step = 0; step < 10; ++step) after.push_back(first.next());

  DataLoader resumed(indexed_dataset(40), options, augmentation());
  resumed.next();  // some batches made ahead of a position that is then abandoned
  resumed.seek(saved);
  for (int step = 0; step < 10; ++step) expect_same(after[step], resumed.next(), "after seek");
  EXPECT_THROW(resumed.seek({0, 6}), std::invalid_argument);
  EXPECT_THROW(resumed.seek({-1, 0}), std::invalid_argument);
}

// Fails on example 5 with a DataError, as a reader meeting a bad file.
class FailingDataset : public Dataset {
 public:
  int64_t size() const override { return 12; }
  Shape example_shape() const override { return {1, 2, 2}; }
  Example get(int64_t index) const override {
    if (index == 5) throw DataError("images/5.png: not a PNG or JPEG file");
    return {Tensor<float>({1, 2, 2}), static_cast<int32_t>(index)};
  }
};

TEST(DataLoader, ErrorsReachTheCallerInOrder) {
  for (int64_t workers : {0, 2}) {
    DataLoader loader(std::make_shared<FailingDataset>(),
                      {.batch_size = 2, .order = Order::kSequential, .workers = workers});
    EXPECT_EQ(loader.next().labels, (std::vector<int32_t>{0, 1}));
    EXPECT_EQ(loader.next().labels, (std::vector<int32_t>{2, 3}));
    try {
      loader.next();
      FAIL() << "batch 2 holds example 5";
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find("images/5.png"), std::string::npos);
    }
    EXPECT_EQ(loader.next().labels, (std::vector<int32_t>{6, 7}));
  }
}

TEST(DataLoader, RejectsOptionsThatCannotWork) {
  const auto data = indexed_dataset(10);
  EXPECT_THROW(DataLoader(data, {.batch_size = 0}), std::invalid_argument);
  EXPECT_THROW(DataLoader(data, {.batch_size = 11, .drop_last = true}), std::invalid_argument);
  EXPECT_THROW(DataLoader(data, {.batch_size = 1, .rank = 2, .world_size = 2}),
               std::invalid_argument);
  EXPECT_THROW(DataLoader(data, {.batch_size = 1, .workers = -1}), std::invalid_argument);
  EXPECT_THROW(DataLoader(data, {.batch_size = 1, .prefetch = 0}), std::invalid_argument);
  EXPECT_THROW(DataLoader(nullptr, {.batch_size = 1}), std::invalid_argument);
  DataLoader ok(data, {.batch_size = 11});
  EXPECT_EQ(ok.next().labels.size(), 10u);
}

TEST(DataLoader, StopsItsWorkersMidEpoch) {
  // Destroying a loader whose workers wait on a full queue returns (the test ends).
  for (int i = 0; i < 20; ++i) {
    DataLoader loader(indexed_dataset(100), {.batch_size = 3, .workers = 3, .prefetch = 2});
    loader.next();
  }
}

}  // namespace
}  // namespace nabla::data

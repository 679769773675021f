// nabla::dist under `mpirun -np 2` (tests/CMakeLists.txt): every process runs every test, so
// the tests use EXPECT (never ASSERT, which would leave a collective half-made) and the same
// calls in the same order. A replica's gradients after GradientReducer::finish(), with synchronised
// batch norm, equal those of one process on the whole global batch (float64); without it, the
// mean of the per-share gradients; broadcast_module makes different starts equal; the buckets
// start during the backward pass.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>

#include "nabla/dist/communicator.h"
#include "nabla/dist/reducer.h"
#include "nabla/dist/replicate.h"
#include "nabla/nn/convnet.h"
#include "nabla/nn/layers.h"
#include "nabla/nn/mlp.h"
#include "nabla/ops.h"
#include "nabla/optim/optimizer.h"
#include "test_util.h"

namespace nabla {
namespace {

// The run's processes; main() starts MPI first.
dist::Communicator& world() {
  static dist::Communicator comm;
  return comm;
}

struct Batch {
  Tensor<double> images;
  std::vector<int32_t> labels;
};

// The same global batch on every process (seeded), and this process's share: rows
// rank, rank + size, ... as the DataLoader's shards.
Batch global_batch(const Shape& example, int64_t n, int32_t classes) {
  Rng rng(77);
  Shape shape{n};
  shape.insert(shape.end(), example.begin(), example.end());
  Batch b{testing::random_normal(shape, rng), {}};
  for (int64_t i = 0; i < n; ++i) b.labels.push_back(static_cast<int32_t>(i % classes));
  return b;
}

Batch share(const Batch& global, int rank, int size) {
  const int64_t n = global.images.dim(0), row = global.images.numel() / n;
  Shape shape = global.images.shape();
  shape[0] = n / size;
  Batch b{Tensor<double>(shape), {}};
  for (int64_t i = rank, k = 0; i < n; i += size, ++k) {
    std::copy(global.images.data() + i * row, global.images.data() + (i + 1) * row,
              b.images.data() + k * row);
    b.labels.push_back(global.labels[static_cast<size_t>(i)]);
  }
  return b;
}

double backward_on(nn::Module<double>& model, const Batch& b, const CrossEntropyOptions& loss) {
  model.zero_grad();
  Variable<double> l = cross_entropy(model(Variable<double>(b.images)), b.labels, loss);
  l.backward();
  return l.item();
}

// Largest |a - b| over the gradients of two models of the same architecture, relative to b's
// largest gradient entry (a bias before a batch norm has a gradient of zero up to rounding, so
// each parameter's own scale would not do); `worst_name` names the parameter.
double gradient_difference(const nn::Module<double>& a, const nn::Module<double>& b,
                           std::string* worst_name = nullptr) {
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  double scale = 1e-300, worst = 0;
  for (const auto& [name, p] : pb) {
    for (int64_t i = 0; i < p.grad().numel(); ++i) scale = std::max(scale, std::abs(p.grad()[i]));
  }
  for (size_t k = 0; k < pa.size(); ++k) {
    const Tensor<double>& ga = pa[k].second.grad();
    const Tensor<double>& gb = pb[k].second.grad();
    if (ga.empty() != gb.empty()) return INFINITY;
    for (int64_t i = 0; i < ga.numel(); ++i) {
      const double diff = std::abs(ga[i] - gb[i]) / scale;
      if (diff > worst && worst_name) *worst_name = pa[k].first;
      worst = std::max(worst, diff);
    }
  }
  return worst;
}

using ModelFactory = std::function<std::shared_ptr<nn::Module<double>>(Rng&)>;

// Replicas with synchronised batch norm and averaged gradients against one process on the whole
// global batch: the same loss and gradients.
void expect_sync_matches_single(const ModelFactory& make, const Shape& example, int64_t n,
                                int32_t classes) {
  const dist::Communicator& comm = world();
  Rng a(3), b(3);
  auto replica = make(a);
  auto single = make(b);
  EXPECT_EQ(dist::convert_sync_batchnorm(*replica, comm) > 0, comm.size() > 1);
  dist::GradientReducer<double> reducer(replica->parameters(), comm,
                                        {.bucket_bytes = 4096, .first_bucket_bytes = 1024});
  const Batch global = global_batch(example, n, classes);
  for (int step = 0; step < 2; ++step) {  // twice: the reducer starts afresh after finish()
    std::vector<double> loss{backward_on(*replica, share(global, comm.rank(), comm.size()), {})};
    reducer.finish();
    comm.sum(loss);
    const double single_loss = backward_on(*single, global, {});
    EXPECT_NEAR(loss[0] / comm.size(), single_loss, 1e-12 * std::abs(single_loss));
    std::string worst;
    EXPECT_LT(gradient_difference(*replica, *single, &worst), 1e-10)
        << "step " << step << ", " << worst;
  }
  // Running statistics follow the global batch too.
  const auto ra = replica->named_buffers(), rb = single->named_buffers();
  for (size_t k = 0; k < ra.size(); ++k) {
    for (int64_t i = 0; i < ra[k].second.numel(); ++i) {
      EXPECT_NEAR(ra[k].second[i], rb[k].second[i], 1e-12) << ra[k].first;
    }
  }
  if (comm.size() > 1) {
    EXPECT_GT(reducer.stats().buckets_overlapped, 0);
    EXPECT_GT(reducer.bucket_bytes().size(), 1u);
  }
}

std::shared_ptr<nn::Module<double>> small_cnn(Rng& rng) {
  auto m = std::make_shared<nn::Sequential<double>>();
  m->add(std::make_shared<nn::Conv2d<double>>(3, 6, 3, 1, 1, rng));
  m->add(std::make_shared<nn::BatchNorm2d<double>>(6));
  m->add(std::make_shared<nn::ReLU<double>>());
  m->add(std::make_shared<nn::MaxPool2d<double>>(2, 2, 0));
  m->add(std::make_shared<nn::Flatten<double>>());
  m->add(std::make_shared<nn::Linear<double>>(6 * 4 * 4, 16, rng));
  m->add(std::make_shared<nn::BatchNorm1d<double>>(16));
  m->add(std::make_shared<nn::ReLU<double>>());
  m->add(std::make_shared<nn::Linear<double>>(16, 5, rng));
  return m;
}

TEST(Dist, SyncBatchNormLayersMatchOneProcessOnTheGlobalBatch) {
  expect_sync_matches_single(small_cnn, {3, 8, 8}, 12, 5);
}

TEST(Dist, TheConvNetMatchesOneProcessOnTheGlobalBatch) {
  expect_sync_matches_single(
      [](Rng& rng) { return std::make_shared<nn::ConvNet<double>>(3, 10, rng); }, {3, 16, 16}, 4,
      10);
}

TEST(Dist, TheReportsBatchNormsMatchOneProcessOnTheGlobalBatch) {
  for (const auto kind : {nn::BatchNormKind::kAutograd, nn::BatchNormKind::kManual}) {
    expect_sync_matches_single(
        [kind](Rng& rng) {
          return std::make_shared<nn::MLP<double>>(12, std::vector<int64_t>{10, 8}, 4, 0.02, kind,
                                                   rng);
        },
        {12}, 16, 4);
  }
}

// Fifty Adam steps of replicas with synchronised batch norm against one process on the same
// global batches: the losses agree to 1e-4 relative (float64: the ConvNet's float32 training is
// chaotic enough that one process differs from itself by more when only the order of the
// examples within each batch changes; docs/results.md).
void expect_training_follows_single(const ModelFactory& make, const Shape& example, int64_t n,
                                    int32_t classes, double lr) {
  const dist::Communicator& comm = world();
  Rng a(11), b(11);
  auto replica = make(a);
  auto single = make(b);
  dist::convert_sync_batchnorm(*replica, comm);
  dist::GradientReducer<double> reducer(replica->parameters(), comm);
  optim::Adam<double> replica_adam(replica->parameters(), lr);
  optim::Adam<double> single_adam(single->parameters(), lr);
  double worst = 0;
  for (int step = 0; step < 50; ++step) {
    Rng data(1000 + static_cast<uint64_t>(step % 5));  // five global batches, in turn
    Shape shape{n};
    shape.insert(shape.end(), example.begin(), example.end());
    Batch global{testing::random_normal(shape, data), {}};
    for (int64_t i = 0; i < n; ++i) {
      global.labels.push_back(static_cast<int32_t>(data.uniform(0, 1) * classes) % classes);
    }
    std::vector<double> loss{backward_on(*replica, share(global, comm.rank(), comm.size()), {})};
    reducer.finish();
    replica_adam.step();
    comm.sum(loss);
    const double single_loss = backward_on(*single, global, {});
    single_adam.step();
    worst = std::max(worst, std::abs(loss[0] / comm.size() - single_loss) / single_loss);
  }
  EXPECT_LT(worst, 1e-4);
  ::testing::Test::RecordProperty("largest_relative_loss_difference", std::to_string(worst));
}

TEST(Dist, FiftyStepsOfTheConvNetFollowOneProcess) {
  expect_training_follows_single(
      [](Rng& rng) { return std::make_shared<nn::ConvNet<double>>(3, 10, rng); }, {3, 8, 8}, 8, 10,
      1e-3);
}

TEST(Dist, FiftyStepsOfTheMlpFollowOneProcess) {
  for (const auto kind : {nn::BatchNormKind::kAutograd, nn::BatchNormKind::kManual}) {
    expect_training_follows_single(
        [kind](Rng& rng) {
          return std::make_shared<nn::MLP<double>>(48, std::vector<int64_t>{32, 16}, 10, 0.02, kind,
                                                   rng);
        },
        {3, 4, 4}, 16, 10, 1e-3);
  }
}

// Without synchronised batch norm each replica normalises its own share (DDP's default): the
// reduced gradient is the mean of the per-share gradients, not the global batch's.
TEST(Dist, WithoutSyncEachShareIsNormalisedOnItsOwn) {
  const dist::Communicator& comm = world();
  Rng a(5), b(5);
  auto replica = small_cnn(a);
  auto single = small_cnn(b);
  dist::GradientReducer<double> reducer(replica->parameters(), comm);
  const Batch global = global_batch({3, 8, 8}, 12, 5);
  backward_on(*replica, share(global, comm.rank(), comm.size()), {});
  reducer.finish();
  // The same mean, by one process: the shares' gradients one after the other, averaged.
  std::vector<Tensor<double>> mean;
  for (int r = 0; r < comm.size(); ++r) {
    backward_on(*single, share(global, r, comm.size()), {});
    const auto params = single->parameters();
    for (size_t k = 0; k < params.size(); ++k) {
      if (r == 0) mean.push_back(Tensor<double>(params[k].shape()));
      for (int64_t i = 0; i < mean[k].numel(); ++i) mean[k][i] += params[k].grad()[i] / comm.size();
    }
  }
  const auto params = single->parameters();
  for (size_t k = 0; k < params.size(); ++k) params[k].node()->grad = mean[k];
  EXPECT_LT(gradient_difference(*replica, *single), 1e-12);
}

// A loss summed over the examples (airbench's): the gradients are summed, not averaged.
TEST(Dist, SummedLossesSumTheGradients) {
  const dist::Communicator& comm = world();
  Rng a(6), b(6);
  auto replica = small_cnn(a);
  auto single = small_cnn(b);
  dist::convert_sync_batchnorm(*replica, comm);
  dist::GradientReducer<double> reducer(replica->parameters(), comm, {.average = false});
  const Batch global = global_batch({3, 8, 8}, 8, 5);
  const CrossEntropyOptions summed{0.2, Reduction::kSum};
  backward_on(*replica, share(global, comm.rank(), comm.size()), summed);
  reducer.finish();
  backward_on(*single, global, summed);
  EXPECT_LT(gradient_difference(*replica, *single), 1e-10);
}

TEST(Dist, BroadcastModuleGivesEveryProcessRankZerosModel) {
  const dist::Communicator& comm = world();
  Rng own(100 + static_cast<uint64_t>(comm.rank())), zero(100);
  auto model = small_cnn(own);
  auto rank_zeros = small_cnn(zero);
  model->named_buffers()[0].second[0] = 42.0 + comm.rank();  // the first running mean
  rank_zeros->named_buffers()[0].second[0] = 42.0;
  dist::broadcast_module(*model, comm);
  const auto got = model->state_dict(), want = rank_zeros->state_dict();
  EXPECT_EQ(got.size(), want.size());
  for (size_t k = 0; k < got.size(); ++k) {
    for (int64_t i = 0; i < got[k].value.numel(); ++i) {
      EXPECT_EQ(got[k].value[i], want[k].value[i]) << got[k].name;
    }
  }
}

// A parameter that gets no gradient in a pass (a frozen layer) keeps none, on every process.
TEST(Dist, AParameterWithoutGradientKeepsNone) {
  const dist::Communicator& comm = world();
  Rng rng(8);
  auto model = small_cnn(rng);
  const auto params = model->parameters();
  dist::GradientReducer<double> reducer(params, comm);
  params[0].node()->requires_grad = false;  // the first conv's weight, frozen after the start
  backward_on(*model, share(global_batch({3, 8, 8}, 4, 5), comm.rank(), comm.size()), {});
  reducer.finish();
  EXPECT_TRUE(params[0].grad().empty());
  EXPECT_FALSE(params[1].grad().empty());
}

}  // namespace
}  // namespace nabla

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const nabla::dist::Environment mpi;
  nabla::world() = mpi.world();
  const int rc = RUN_ALL_TESTS();
  nabla::world() = nabla::dist::Communicator();
  return rc;
}

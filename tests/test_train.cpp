// Training runs end to end: output files, reproducibility, and a short run on the real data.
#include <gtest/gtest.h>
#include <omp.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <functional>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>
#include <thread>

#include "nabla/io/safetensors.h"
#include "nabla/kernels.h"
#include "test_util.h"
#include "train/bench_layers.h"
#include "train/cnn.h"
#include "train/loop.h"
#include "train/mlp.h"

namespace nabla {
namespace {

using testing::TempDir;

Cifar10 small_data(const TempDir& dir) {
  testing::write_synthetic_cifar(dir.path(), 100);
  return load_cifar10(dir.path(), 100);
}

MlpConfig small_config(const std::filesystem::path& out) {
  MlpConfig c;
  c.dnn_hidden_units = {32};
  c.learning_rate = 2e-3;
  c.max_steps = 45;
  c.batch_size = 50;
  c.eval_freq = 20;
  c.out = out.string();
  c.quiet = true;
  return c;
}

TEST(TrainMlpManual, WritesEveryOutput) {
  TempDir dir("train-out");
  const Cifar10 data = small_data(dir);
  const auto cfg = small_config(dir.path() / "run");
  const RunSummary s = train_mlp_manual(cfg, data);
  const auto out = dir.path() / "run";
  EXPECT_EQ(s.steps, 45);

  const std::string csv = testing::read_text(out / "metrics.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "step,train_loss,train_acc,test_loss,test_acc,elapsed_s");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4);  // header, steps 20, 40 and 45

  const auto summary = nlohmann::json::parse(testing::read_text(out / "summary.json"));
  for (const char* key : {"final_test_acc", "final_test_loss", "best_test_acc", "wall_seconds",
                          "steps", "seed", "config"}) {
    EXPECT_TRUE(summary.contains(key)) << key;
  }
  EXPECT_EQ(summary["steps"], 45);
  EXPECT_EQ(summary["config"]["dnn_hidden_units"], nlohmann::json({32}));
  EXPECT_GE(summary["best_test_acc"].get<double>(), summary["final_test_acc"].get<double>());

  const SafetensorsFile model = load_safetensors(out / "model.safetensors");
  ASSERT_GE(model.tensors.size(), 4u);
  EXPECT_EQ(model.tensors[0].name, "fc1.weight");
  EXPECT_EQ(model.tensors[0].value.shape(), (Shape{32, 3072}));
  EXPECT_EQ(model.tensors[3].name, "fc2.bias");
  EXPECT_EQ(model.metadata.at("model"), "mlp-manual");
  EXPECT_TRUE(std::filesystem::exists(out / "curves.png"));
}

TEST(TrainMlpManual, SameSeedSameMetricsByteForByte) {
  TempDir dir("train-repro");
  const Cifar10 data = small_data(dir);
  train_mlp_manual(small_config(dir.path() / "a"), data);
  train_mlp_manual(small_config(dir.path() / "b"), data);
  auto other_seed = small_config(dir.path() / "c");
  other_seed.seed = 7;
  train_mlp_manual(other_seed, data);
  const auto a = testing::without_elapsed(testing::read_text(dir.path() / "a" / "metrics.csv"));
  EXPECT_EQ(a, testing::without_elapsed(testing::read_text(dir.path() / "b" / "metrics.csv")));
  EXPECT_NE(a, testing::without_elapsed(testing::read_text(dir.path() / "c" / "metrics.csv")));
  const SafetensorsFile ma = load_safetensors(dir.path() / "a" / "model.safetensors");
  const SafetensorsFile mb = load_safetensors(dir.path() / "b" / "model.safetensors");
  ASSERT_EQ(ma.tensors.size(), mb.tensors.size());
  for (size_t i = 0; i < ma.tensors.size(); ++i) {
    EXPECT_TRUE(std::equal(ma.tensors[i].value.values().begin(), ma.tensors[i].value.values().end(),
                           mb.tensors[i].value.values().begin()))
        << ma.tensors[i].name;
  }
}

TEST(TrainMlpManual, LearnsTheSyntheticClasses) {
  TempDir dir("train-learn");
  const Cifar10 data = small_data(dir);
  auto cfg = small_config(dir.path() / "run");
  cfg.max_steps = 200;
  cfg.eval_freq = 100;
  EXPECT_GT(train_mlp_manual(cfg, data).final_test_acc, 0.5);
}

TEST(TrainMlp, EveryOptimizerAndBatchNormLearnsAndReproduces) {
  TempDir dir("train-mlp");
  const Cifar10 data = small_data(dir);
  for (const char* opt : {"sgd", "adam"}) {
    for (const char* bn : {"none", "autograd", "manual"}) {
      auto cfg = small_config(dir.path() / (std::string(opt) + bn));
      cfg.model = "mlp";
      cfg.optimizer = opt;
      cfg.batchnorm = bn;
      cfg.max_steps = 100;
      cfg.eval_freq = 50;
      const RunSummary s = train_mlp(cfg, data);
      EXPECT_GT(s.final_test_acc, 0.5) << opt << " " << bn;
      const auto model = load_safetensors(cfg.out + "/model.safetensors");
      EXPECT_EQ(model.metadata.at("model"), "mlp");
      EXPECT_EQ(model.find("bn1.weight") != nullptr, std::string(bn) != "none");
      // Same seed, same metrics.
      const std::string first =
          testing::without_elapsed(testing::read_text(cfg.out + "/metrics.csv"));
      train_mlp(cfg, data);
      EXPECT_EQ(first, testing::without_elapsed(testing::read_text(cfg.out + "/metrics.csv")));
    }
  }
}

// The same seed gives the same bits on 1, 2 or 3 threads: metrics and model file, for the
// ConvNet (at batch 8 its 2x2 layers take the non-Winograd path; its RGB layer always does) and
// for MLPs small enough that each product runs on one thread (larger ones keep oneDNN's
// threading, whose sums may depend on the thread count: README, "Reproducibility"). oneDNN's
// convolutions are set up per thread count, so they are redone for each.
TEST(Reproducibility, SameBitsOnOneTwoAndThreeThreads) {
  TempDir dir("threads");
  testing::write_synthetic_cifar(dir.path(), 16);  // 80 training and 16 test images
  const Cifar10 data = load_cifar10(dir.path(), 16);
  CnnConfig cnn;
  cnn.batch_size = 8;
  cnn.max_steps = 3;
  cnn.eval_freq = 3;
  cnn.learning_rate = 1e-3;
  cnn.quiet = true;
  MlpConfig manual = small_config("");
  manual.dnn_hidden_units = {16};
  manual.batch_size = 8;  // products of at most 16 x 3072 x 16: small
  manual.max_steps = 5;
  manual.eval_freq = 5;
  MlpConfig mlp = manual;
  mlp.model = "mlp";
  mlp.dnn_hidden_units = {16, 16};
  mlp.optimizer = "adam";
  mlp.batchnorm = "manual";
  const std::vector<std::pair<std::string, std::function<void(const std::string&)>>> runs = {
      {"cnn",
       [&](const std::string& out) {
         CnnConfig c = cnn;
         c.out = out;
         train_cnn(c, data);
       }},
      {"mlp",
       [&](const std::string& out) {
         MlpConfig c = mlp;
         c.out = out;
         train_mlp(c, data);
       }},
      {"mlp-manual", [&](const std::string& out) {
         MlpConfig c = manual;
         c.out = out;
         train_mlp_manual(c, data);
       }}};
  const int threads_before = omp_get_max_threads();
  for (const auto& [name, run] : runs) {
    std::string metrics, model;
    for (int threads = 1; threads <= 3; ++threads) {
      SCOPED_TRACE(name + " on " + std::to_string(threads) + " threads");
      const auto out = dir.path() / (name + std::to_string(threads));
      omp_set_num_threads(threads);
      run(out.string());
      const std::string m = testing::without_elapsed(testing::read_text(out / "metrics.csv"));
      const std::string f = testing::read_text(out / "model.safetensors");
      ASSERT_FALSE(m.empty());
      if (threads == 1) {
        metrics = m;
        model = f;
      } else {
        EXPECT_EQ(m, metrics);
        EXPECT_TRUE(f == model) << "model files differ";
      }
    }
  }
  omp_set_num_threads(threads_before);
}

TEST(TrainMlp, BadSettingsNameTheFlag) {
  MlpConfig c;
  c.model = "mlp";
  c.optimizer = "rmsprop";
  EXPECT_THROW(validate(c), ConfigError);
  c.optimizer = "adam";
  c.batchnorm = "yes";
  EXPECT_THROW(validate(c), ConfigError);
  c.batchnorm = "none";
  c.weight_decay = -1;
  try {
    validate(c);
    ADD_FAILURE();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--weight_decay"), std::string::npos);
  }
}

TEST(TrainMlp, ValidationSplitChoosesTheBestModelOnValidation) {
  TempDir dir("train-val");
  const Cifar10 data = small_data(dir);
  auto cfg = small_config(dir.path() / "run");
  cfg.model = "mlp";
  cfg.optimizer = "adam";
  cfg.validation_size = 100;
  cfg.max_steps = 60;
  train_mlp(cfg, data);
  const std::string csv = testing::read_text(dir.path() / "run" / "metrics.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "step,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,elapsed_s");
  const auto summary =
      nlohmann::json::parse(testing::read_text(dir.path() / "run" / "summary.json"));
  EXPECT_TRUE(summary.contains("best_val_acc"));
  EXPECT_TRUE(summary.contains("test_acc_at_best_val"));
  const auto best = load_safetensors(dir.path() / "run" / "best_model.safetensors");
  EXPECT_NE(best.find("fc1.weight"), nullptr);
  // Too large a validation set, or a batch larger than what is left for training.
  cfg.validation_size = 500;
  EXPECT_THROW(train_mlp(cfg, data), ConfigError);
  cfg.validation_size = 480;
  cfg.batch_size = 30;
  EXPECT_THROW(train_mlp(cfg, data), ConfigError);
}

// A few hundred steps on the real CIFAR-10: clearly above chance (0.1).
TEST(TrainMlpManualReal, ShortRunBeatsChance) {
  const std::string data_dir = testing::real_data_dir();
  if (data_dir.empty()) GTEST_SKIP() << "no CIFAR-10 data (set CIFAR10_DIR)";
  TempDir dir("train-real");
  MlpConfig cfg;
  cfg.data.data_dir = data_dir;
  cfg.max_steps = 300;
  cfg.eval_freq = 300;
  cfg.out = (dir.path() / "run").string();
  cfg.quiet = true;
  EXPECT_GT(train_mlp_manual(cfg).final_test_acc, 0.33);
  // The autograd MLP with `nabla train mlp`'s defaults (SGD). Adam at 1e-3 is no test of this:
  // on raw-pixel inputs its loss is still above 5 after 300 steps and its accuracy lands
  // anywhere from 0.326 to 0.358 with the last bits of the GEMM (measured on each instruction set).
  cfg.model = "mlp";
  EXPECT_GT(train_mlp(cfg).final_test_acc, 0.33);
}

// oneDNN 2.6's JIT SGEMM runs with the stack pointer inside a heap buffer: a signal taken there
// on the ordinary stack writes its frame into the heap, and a later free() aborts
// (uxlfoundation/oneDNN#4845). Stop signals aimed at this thread while it multiplies, as a SIGTERM
// during training can be: with StopSignals' alternate stack the heap stays intact.
TEST(StopSignals, SignalsDuringSgemmLeaveTheHeapIntact) {
  const StopSignals signals;
  const pthread_t self = pthread_self();
  std::atomic<bool> done{false};
  std::atomic<int> sent{0};
  std::thread sender([&] {
    while (!done) {
      pthread_kill(self, sent % 2 == 0 ? SIGTERM : SIGINT);
      ++sent;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  const int64_t M = 1000, N = 16, K = 3072;  // the MLP's evaluation, where the abort was seen
  std::vector<float> a(M * K, 0.5F), b(N * K, 0.25F), c(M * N);
  // A count of signals, not a time: a loaded machine only takes longer.
  while (sent < 2000) {
    gemm(Trans::kNo, Trans::kYes, M, N, K, 1.0F, a.data(), K, b.data(), K, 0.0F, c.data(), N);
    const std::vector<float> churn(static_cast<size_t>(1000 + sent % 977));  // malloc and free
  }
  done = true;
  sender.join();
  EXPECT_NE(signals.received(), 0);
  EXPECT_EQ(c[0], 0.5F * 0.25F * K);
}

// The loop's order of the training examples: the course's walks the stored order in epoch 0
// (every seed alike); kShuffled (airbench's) draws a fresh permutation from the seed, epoch 0
// included. The step records which examples each batch held (each image's value is its index).
std::vector<int64_t> epoch_zero(data::Order order, uint64_t seed) {
  constexpr int64_t kExamples = 20, kBatch = 5;
  TrainData data;
  data.classes = {"a", "b"};
  data.train.images = Tensor<float>({kExamples, 1, 1, 1});
  for (int64_t i = 0; i < kExamples; ++i) data.train.images[i] = static_cast<float>(i);
  data.train.labels.assign(kExamples, 0);
  data.test = data.train;
  std::vector<int64_t> seen;
  Trainable t;
  t.step = [&](const LabeledImages& batch, int64_t) {
    for (int64_t i = 0; i < batch.images.dim(0); ++i) {
      seen.push_back(static_cast<int64_t>(batch.images[i]));
    }
    return StepResult{};
  };
  t.evaluate = [](const LabeledImages&) { return Evaluation{}; };
  t.model_tensors = [] { return std::vector<NamedTensor>{}; };
  t.load_model_tensors = [](const std::vector<NamedTensor>&) {};
  const RunSpec spec{.out = "unused",
                     .title = "order",
                     .config = nlohmann::json::object(),
                     .loop = {.max_steps = kExamples / kBatch,
                              .batch_size = kBatch,
                              .eval_freq = kExamples / kBatch,
                              .checkpoint_every = 0,
                              .seed = seed,
                              .resume = false,
                              .augment = nullptr,
                              .order = order},
                     .quiet = true,
                     .metadata = {}};
  run_training(t, data, spec, nullptr, single_process(), [](const std::filesystem::path&) {});
  return seen;
}

TEST(TrainingLoop, EpochOrderIsTheCoursesOrAFreshPermutationFromTheSeed) {
  std::vector<int64_t> stored(20);
  std::iota(stored.begin(), stored.end(), int64_t{0});
  EXPECT_EQ(epoch_zero(data::Order::kCourse, 1), stored);
  EXPECT_EQ(epoch_zero(data::Order::kCourse, 2), stored);
  const std::vector<int64_t> one = epoch_zero(data::Order::kShuffled, 1);
  const std::vector<int64_t> two = epoch_zero(data::Order::kShuffled, 2);
  EXPECT_NE(one, stored);
  EXPECT_NE(one, two);
  EXPECT_EQ(epoch_zero(data::Order::kShuffled, 1), one);
  std::vector<int64_t> sorted = one;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, stored);
}

// `nabla bench --layers`' table: per step (two steps here), each pass's GFLOP, milliseconds and
// GFLOPS, its GEMMs' wall time (thread-seconds over the threads) and percent of one core's peak,
// each memory-bound op's GB/s against the measured bandwidth, and the step against its bound.
TEST(BenchLayers, TableGivesEachPassAgainstTheMeasuredPeak) {
  BenchResult r;
  r.step_seconds = {0.5, 0.7};
  r.step_kernels[{"3x3 conv 64->64 on 8x8, stride 1, batch 4", "forward"}] = {
      .algorithm = "winograd F(4,3)",
      .calls = 2,
      .seconds = 0.2,               // 100 ms a step
      .flops = 4e9,                 // 2 GFLOP a step: 20 GFLOPS
      .gemm_seconds = 0.16,         // 40 ms of wall a step on 2 threads
      .gemm_flops = 8e9,            // 8e9 / 0.16 s = 50 GFLOPS a thread: 50% of 100
      .bytes = 0.6e9};              // a step: GEMMs 4e9 / 200e9 = 20 ms, bytes 0.3 / 10 = 30 ms
  r.step_bytes["gelu"] = 2e9;       // 1 GB a step
  r.step_breakdown["gelu"] = 0.25;  // per step: 4 GB/s, 40% of 10
  std::ostringstream out;
  print_layers(
      r, {.threads = 2, .gflops_one_core = 100, .gflops_all_threads = 200, .bandwidth_gbs = 10},
      out);
  const std::string text = out.str();
  EXPECT_NE(text.find("3x3 conv 64->64 on 8x8, stride 1, batch 4      forward"), std::string::npos)
      << text;
  EXPECT_NE(text.find("winograd F(4,3)                  2.00    100.0     20.0      40.0    50%"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("gelu                          1.000    250.0      4.0      40%"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("convolutions in all: 100.0 ms of a 600.0 ms step"), std::string::npos)
      << text;
  // 30 ms for the convolution (its bytes), 100 ms for GELU's 1 GB at 10 GB/s: 600 / 130 = 4.62.
  EXPECT_NE(text.find("bound of the step: 130.0 ms"), std::string::npos) << text;
  EXPECT_NE(text.find("the step takes 4.62x that"), std::string::npos) << text;
}

}  // namespace
}  // namespace nabla

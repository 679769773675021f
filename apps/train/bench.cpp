#include "train/bench.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <numeric>
#include <string>

#include "nabla/conv.h"
#include "nabla/data/loader.h"
#include "nabla/nn/convnet.h"
#include "nabla/nn/layers.h"
#include "nabla/nn/mlp.h"
#include "nabla/profile.h"
#include "nabla/rng.h"
#include "train/airbench.h"
#include "train/bench_layers.h"
#include "train/classifier.h"
#include "train/mlp.h"

namespace nabla {
namespace {

// The CPU's model name from /proc/cpuinfo ("unknown CPU" elsewhere): timings from different
// machines are not comparable, so the output says which one it was.
std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
    }
  }
  return "unknown CPU";
}

using Clock = std::chrono::steady_clock;

struct BenchModel {
  std::string description;
  int64_t batch_size;
  Trainable trainable;
  std::vector<std::shared_ptr<void>> keep_alive;  // the model and optimizer behind trainable
};

constexpr int64_t kInputs = 3 * 32 * 32;

BenchModel model_for(const CnnConfig& c, Rng& rng) {
  auto model = std::make_shared<nn::ConvNet<float>>(3, kCifarClasses, rng);
  auto opt = make_optimizer(c.optimizer, model->parameters(), c.learning_rate);
  BenchModel m;
  m.batch_size = c.batch_size;
  m.trainable = make_trainable(*model, *opt);
  m.keep_alive = {model, std::shared_ptr<optim::Optimizer<float>>(std::move(opt))};
  return m;
}

BenchModel model_for(const MlpConfig& c, Rng& rng) {
  BenchModel m;
  m.batch_size = c.batch_size;
  if (c.model == "mlp-manual") {
    auto model = std::make_shared<manual::MLP<float>>(kInputs, c.dnn_hidden_units, kCifarClasses,
                                                      static_cast<float>(c.neg_slope), rng);
    auto ce = std::make_shared<manual::CrossEntropy<float>>();
    m.trainable = make_manual_trainable(*model, *ce, static_cast<float>(c.learning_rate));
    m.keep_alive = {model, ce};
    return m;
  }
  auto model = std::make_shared<nn::MLP<float>>(kInputs, c.dnn_hidden_units, kCifarClasses,
                                                static_cast<float>(c.neg_slope),
                                                nn::parse_batchnorm_kind(c.batchnorm), rng);
  auto opt =
      make_optimizer(c.optimizer, model->parameters(), c.learning_rate, c.momentum, c.weight_decay);
  m.trainable = make_trainable(*model, *opt);
  m.keep_alive = {model, std::shared_ptr<optim::Optimizer<float>>(std::move(opt))};
  return m;
}

BenchModel model_for(const AirbenchConfig& c, Rng& rng) {
  auto model = std::make_shared<nn::AirbenchNet<float>>(
      3, kCifarClasses, rng, nn::AirbenchOptions{parse_airbench_widths(c.widths)});
  // The schedule of a full run on CIFAR-10's training images.
  const int64_t per_epoch = std::max<int64_t>(1, kCifarTrainImages / c.batch_size);
  const int64_t total = std::max<int64_t>(1, airbench_steps(c, kCifarTrainImages));
  auto steps = std::make_shared<AirbenchSteps<float>>(*model, c, per_epoch, total);
  BenchModel m;
  m.description =
      "airbench94's network and recipe, batch " + std::to_string(c.batch_size) + ", Nesterov SGD";
  m.batch_size = c.batch_size;
  m.trainable = make_trainable(*model, steps->optimizer());
  m.trainable.step = [s = steps.get(), total](const LabeledImages& b, int64_t step) {
    return StepResult{s->step(b.images, b.labels, step % total + 1).first, 0};
  };
  m.keep_alive = {model, steps};
  return m;
}

// The ConvNet's layers in a plain nn::Sequential, as a user would build them: it must run as
// fast as the ConvNet class, since the fast paths belong to the layers.
BenchModel user_sequential_cnn(Rng& rng) {
  auto model = std::make_shared<nn::Sequential<float>>();
  int64_t in = 3;
  const std::pair<int64_t, bool> blocks[] = {{64, true},   {128, true}, {256, false}, {256, true},
                                             {512, false}, {512, true}, {512, false}, {512, true}};
  for (const auto& [out, pool] : blocks) {
    model->add(std::make_shared<nn::Conv2d<float>>(in, out, 3, rng, nn::Conv2dOptions{1, 1}));
    model->add(std::make_shared<nn::BatchNorm2d<float>>(out));
    model->add(std::make_shared<nn::ReLU<float>>());
    if (pool) model->add(std::make_shared<nn::MaxPool2d<float>>(3, 2, 1));
    in = out;
  }
  model->add(std::make_shared<nn::Flatten<float>>());
  model->add(std::make_shared<nn::Linear<float>>(in, kCifarClasses, rng));
  auto opt = make_optimizer("adam", model->parameters(), 1e-4);
  BenchModel m;
  m.description = "the ConvNet's layers in a user's nn::Sequential, batch 32, Adam";
  m.batch_size = 32;
  m.trainable = make_trainable(*model, *opt);
  m.keep_alive = {model, std::shared_ptr<optim::Optimizer<float>>(std::move(opt))};
  return m;
}

BenchModel make_bench_model(const std::string& name, Rng& rng) {
  if (name == "cnn") {
    BenchModel m = model_for(CnnConfig{}, rng);
    m.description = "ConvNet of Table 1, batch 32, Adam";
    return m;
  }
  if (name == "cnn-sequential") return user_sequential_cnn(rng);
  if (name == "airbench") return model_for(AirbenchConfig{}, rng);
  MlpConfig c;
  c.model = name == "mlp-manual" ? "mlp-manual" : "mlp";
  c.learning_rate = 2e-3;
  if (name == "mlp-deep") {
    c.dnn_hidden_units = {300, 200, 100, 100, 50, 50};
    c.optimizer = "adam";
  }
  BenchModel m = model_for(c, rng);
  m.description = name == "mlp-deep"     ? "MLP 300,200,100,100,50,50, batch 200, Adam"
                  : name == "mlp-manual" ? "MLP 100 with hand-written backward, batch 200, SGD"
                                         : "MLP 100 (autograd), batch 200, SGD";
  return m;
}

// Mean-subtracted CIFAR-like pixels: normal with the spread of the real ones.
LabeledImages synthetic_images(int64_t n, Rng& rng) {
  LabeledImages d{Tensor<float>({n, 3, 32, 32}), std::vector<int32_t>(static_cast<size_t>(n))};
  for (float& v : d.images.values()) v = static_cast<float>(rng.normal(0.0, 60.0));
  for (int32_t& label : d.labels) label = static_cast<int32_t>(rng.uniform() * kCifarClasses);
  return d;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void print_result(const BenchResult& r, std::ostream& out) {
  const double step = median(r.step_seconds);
  char line[256];
  std::snprintf(line, sizeof line, "%-10s %s\n", r.model.c_str(), r.description.c_str());
  out << line;
  std::snprintf(line, sizeof line, "  training step  %9.3f ms  (median of %zu)  %7.1f GFLOPS\n",
                step * 1e3, r.step_seconds.size(), r.step_flops / step * 1e-9);
  out << line;
  if (!r.eval_seconds.empty()) {
    const double eval = median(r.eval_seconds);
    std::snprintf(line, sizeof line,
                  "  evaluation     %9.3f s   (10,000 images, median of %zu)  %7.1f GFLOPS\n", eval,
                  r.eval_seconds.size(), r.eval_flops / eval * 1e-9);
    out << line;
  }
  std::vector<std::pair<double, std::string>> parts;
  double total = 0;
  for (const auto& [op, s] : r.step_breakdown) {
    parts.emplace_back(s, op);
    total += s;
  }
  std::sort(parts.rbegin(), parts.rend());
  out << "  share of the step:";
  for (const auto& [s, op] : parts) {
    std::snprintf(line, sizeof line, " %s %.1f%%;", op.c_str(), 100.0 * s / total);
    out << line;
  }
  out << "\n" << std::flush;
}

BenchResult bench_model(const std::string& name, const BenchConfig& config) {
  Rng rng(config.seed);
  BenchModel m = make_bench_model(name, rng);
  constexpr int64_t kBatches = 4;
  std::vector<LabeledImages> batches;
  for (int64_t i = 0; i < kBatches; ++i) batches.push_back(synthetic_images(m.batch_size, rng));
  BenchResult r;
  r.model = name;
  r.description = m.description;
  for (int64_t i = 0; i < config.warmup; ++i) m.trainable.step(batches[i % kBatches], i);
  profile::take();
  profile::enable(true);
  double measured = 0;
  for (int64_t i = 0; i < config.repeats; ++i) {
    profile::mark();
    const auto start = Clock::now();
    m.trainable.step(batches[i % kBatches], i);
    r.step_seconds.push_back(seconds_since(start));
    measured += r.step_seconds.back();
  }
  profile::Totals totals = profile::take();
  const auto reps = static_cast<double>(config.repeats);
  r.step_flops = totals.flops / reps;
  double attributed = 0;
  for (const auto& [op, s] : totals.seconds) {
    r.step_breakdown[op] = s / reps;
    attributed += s;
  }
  r.step_breakdown["other"] = std::max(0.0, measured - attributed) / reps;
  r.step_kernels = std::move(totals.kernels);
  r.step_bytes = std::move(totals.bytes);
  profile::enable(false);
  if (config.eval_repeats > 0) {
    const LabeledImages test = synthetic_images(config.eval_images, rng);
    m.trainable.evaluate(test);  // warm-up: the evaluation's own buffers and primitives
    profile::enable(true);
    for (int64_t i = 0; i < config.eval_repeats; ++i) {
      const auto start = Clock::now();
      m.trainable.evaluate(test);
      r.eval_seconds.push_back(seconds_since(start));
    }
    r.eval_flops = profile::take().flops / static_cast<double>(config.eval_repeats);
    profile::enable(false);
  }
  return r;
}

}  // namespace

const std::vector<std::string>& bench_model_names() {
  static const std::vector<std::string> names{"cnn", "mlp", "mlp-deep", "mlp-manual"};
  return names;
}

void validate(const BenchConfig& c) {
  if (c.models.empty()) throw ConfigError("--model: name at least one model");
  for (const std::string& m : c.models) {
    const auto& known = bench_model_names();
    if (m != "cnn-sequential" && m != "airbench" &&
        std::find(known.begin(), known.end(), m) == known.end()) {
      throw ConfigError("--model: unknown model '" + m +
                        "' (cnn, mlp, mlp-deep, mlp-manual, cnn-sequential or airbench)");
    }
  }
  if (c.repeats < 1) throw ConfigError("--repeats must be at least 1");
  if (c.warmup < 0) throw ConfigError("--warmup must not be negative");
  if (c.eval_repeats < 0) throw ConfigError("--eval_repeats must not be negative");
  if (c.eval_images < 1) throw ConfigError("--eval_images must be at least 1");
}

namespace {
void print_machine(std::ostream& out) {
  out << "nabla bench: " << cpu_model() << ", " << omp_get_max_threads()
      << " threads, convolutions on oneDNN " << conv_backend_isa() << "\n";
}
}  // namespace

std::vector<BenchResult> run_bench(const BenchConfig& config, std::ostream& out) {
  validate(config);
  print_machine(out);
  MachinePeak peak;
  if (config.layers) {
    peak = measure_machine_peak();
    print_peak(peak, out);
  }
  std::vector<BenchResult> results;
  for (const std::string& name : config.models) {
    results.push_back(bench_model(name, config));
    print_result(results.back(), out);
    if (config.layers) print_layers(results.back(), peak, out);
  }
  return results;
}

AugmentBench bench_augmentation(const BenchConfig& config, std::ostream& out) {
  validate(config);
  print_machine(out);
  AugmentBench r{config.augment, {}, {}, {}, {}};
  const auto transform = data::parse_augmentation(config.augment, 32, 32);
  if (!transform) throw ConfigError("--augment: name at least one augmentation");
  Rng rng(config.seed);
  constexpr int64_t kBig = 1024;
  const LabeledImages big = synthetic_images(kBig, rng);
  Rng draws(1);
  std::vector<int64_t> indices(kBig);
  std::iota(indices.begin(), indices.end(), 0);
  for (int64_t i = 0; i < config.warmup + config.repeats; ++i) {
    Tensor<float> images = big.images.clone();
    const auto start = Clock::now();
    // As a loader applies it (a transform may depend on the batch's origin: altflip).
    transform->apply_to_batch(images, draws, {config.seed, i, indices});
    if (i >= config.warmup) r.augment_1024_seconds.push_back(seconds_since(start));
  }
  {
    CnnConfig c;
    c.batch_size = kBig;
    BenchModel m = model_for(c, rng);
    m.trainable.step(big, 0);  // warm-up
    for (int64_t i = 1; i <= 3; ++i) {
      const auto start = Clock::now();
      m.trainable.step(big, i);
      r.step_1024_seconds.push_back(seconds_since(start));
    }
  }
  // Two equal ConvNets, one fed plain batches and one augmented ones, stepped in turn.
  const auto dataset = std::make_shared<data::TensorDataset>(synthetic_images(2048, rng));
  const data::LoaderOptions options{.batch_size = 32,
                                    .order = data::Order::kCourse,
                                    .seed = config.seed,
                                    .drop_last = true,
                                    .workers = 1};
  data::DataLoader plain_loader(dataset, options), augmented_loader(dataset, options, transform);
  Rng init_a(config.seed), init_b(config.seed);
  BenchModel plain = model_for(CnnConfig{}, init_a), augmented = model_for(CnnConfig{}, init_b);
  for (int64_t i = 0; i < config.warmup + config.repeats; ++i) {
    for (const bool aug : {false, true}) {
      const auto start = Clock::now();
      const LabeledImages batch = (aug ? augmented_loader : plain_loader).next();
      (aug ? augmented : plain).trainable.step(batch, i);
      if (i >= config.warmup) {
        (aug ? r.augmented_step_seconds : r.plain_step_seconds).push_back(seconds_since(start));
      }
    }
  }
  const double aug = median(r.augment_1024_seconds), step = median(r.step_1024_seconds);
  const double plain_step = median(r.plain_step_seconds);
  const double augmented_step = median(r.augmented_step_seconds);
  char line[256];
  std::snprintf(line, sizeof line, "augment    %s\n", transform->name().c_str());
  out << line;
  std::snprintf(line, sizeof line,
                "  1,024 images   %9.3f ms on one thread (median of %zu) = %.2f%% of a ConvNet "
                "step at batch 1,024 (%.3f s, median of %zu)\n",
                aug * 1e3, r.augment_1024_seconds.size(), 100 * aug / step, step,
                r.step_1024_seconds.size());
  out << line;
  std::snprintf(line, sizeof line,
                "  ConvNet step, batch 32, from the loader: %.3f ms plain, %.3f ms augmented "
                "(medians of %zu, alternated): ratio %.3f\n",
                plain_step * 1e3, augmented_step * 1e3, r.plain_step_seconds.size(),
                augmented_step / plain_step);
  out << line << std::flush;
  return r;
}

nlohmann::json to_json(const AugmentBench& r) {
  return {{"augment", r.augment},
          {"augment_1024_ms", median(r.augment_1024_seconds) * 1e3},
          {"step_1024_s", median(r.step_1024_seconds)},
          {"plain_step_ms", median(r.plain_step_seconds) * 1e3},
          {"augmented_step_ms", median(r.augmented_step_seconds) * 1e3},
          {"plain_steps_s", r.plain_step_seconds},
          {"augmented_steps_s", r.augmented_step_seconds}};
}

namespace {

template <typename Config>
MeasuredRates measure(const Config& config) {
  Rng rng(config.seed);
  BenchModel m = model_for(config, rng);
  const LabeledImages batch = synthetic_images(m.batch_size, rng);
  constexpr int64_t kEvalImages = 500;
  const LabeledImages test = synthetic_images(kEvalImages, rng);
  m.trainable.step(batch, 0);  // warm-up: buffers and oneDNN primitives
  std::vector<double> steps;
  for (int64_t i = 1; i <= 3; ++i) {
    const auto start = Clock::now();
    m.trainable.step(batch, i);
    steps.push_back(seconds_since(start));
  }
  const auto start = Clock::now();
  m.trainable.evaluate(test);
  return {median(steps), seconds_since(start) / static_cast<double>(kEvalImages)};
}

}  // namespace

MeasuredRates measure_rates(const MlpConfig& config) { return measure(config); }
MeasuredRates measure_rates(const CnnConfig& config) { return measure(config); }
MeasuredRates measure_rates(const AirbenchConfig& config) { return measure(config); }

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

nlohmann::json to_json(const std::vector<BenchResult>& results) {
  nlohmann::json models = nlohmann::json::array();
  for (const BenchResult& r : results) {
    const double step = median(r.step_seconds);
    nlohmann::json m = {{"model", r.model},
                        {"description", r.description},
                        {"step_ms", step * 1e3},
                        {"steps_ms", nlohmann::json::array()},
                        {"step_gflops", r.step_flops / step * 1e-9},
                        {"step_share", r.step_breakdown}};
    for (double s : r.step_seconds) m["steps_ms"].push_back(s * 1e3);
    if (!r.eval_seconds.empty()) {
      const double eval = median(r.eval_seconds);
      m["eval_s"] = eval;
      m["evals_s"] = r.eval_seconds;
      m["eval_gflops"] = r.eval_flops / eval * 1e-9;
    }
    models.push_back(m);
  }
  return {{"threads", omp_get_max_threads()}, {"isa", conv_backend_isa()}, {"models", models}};
}

}  // namespace nabla

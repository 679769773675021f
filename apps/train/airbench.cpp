#include "train/airbench.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "nabla/data/transforms.h"
#include "nabla/nn/airbench.h"
#include "nabla/nn/serialize.h"
#include "nabla/ops.h"
#include "nabla/optim/lookahead.h"
#include "nabla/optim/optimizer.h"
#include "nabla/profile.h"
#include "train/classifier.h"
#include "train/loop.h"

namespace nabla {

namespace {

constexpr const char* kLookaheadPrefix = "lookahead.";

}  // namespace

std::array<int64_t, 3> parse_airbench_widths(const std::string& text) {
  std::array<int64_t, 3> w{};
  std::stringstream in(text);
  std::string item;
  size_t k = 0;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (k >= 3 || used != item.size() || v < 1 || v > 4096) {
      throw ConfigError("--widths: three channel counts in 1..4096 separated by commas, not '" +
                        text + "'");
    }
    w[k++] = v;
  }
  if (k != 3 || text.back() == ',') {
    throw ConfigError("--widths: three channel counts, not '" + text + "'");
  }
  return w;
}

int64_t airbench_steps(const AirbenchConfig& c, int64_t train_size) {
  return static_cast<int64_t>(std::ceil(static_cast<double>(train_size / c.batch_size) * c.epochs));
}

namespace {

// airbench's triangular schedule: from 0.2 up to 1 over the first 23% of the steps, then down to
// 0.07 at the end; `step` counts from 0.
double schedule(int64_t step, int64_t total) {
  const int64_t warmup = static_cast<int64_t>(static_cast<double>(total) * 0.23);
  if (step < warmup) {
    const double f = static_cast<double>(step) / static_cast<double>(warmup);
    return 0.2 * (1 - f) + 1.0 * f;
  }
  const double f = static_cast<double>(step - warmup) / static_cast<double>(total - warmup);
  return 1.0 * (1 - f) + 0.07 * f;
}

// a = a * s + b * t elementwise.
void blend(Tensor<float>& a, float s, const Tensor<float>& b, float t) {
  for (int64_t i = 0; i < a.numel(); ++i) a[i] = a[i] * s + b[i] * t;
}

}  // namespace

template <typename T>
AirbenchSteps<T>::AirbenchSteps(nn::AirbenchNet<T>& model, const AirbenchConfig& config,
                                int64_t per_epoch, int64_t total)
    : model_(model),
      per_epoch_(per_epoch),
      total_(total),
      whiten_bias_epochs_(config.whiten_bias_epochs),
      loss_{config.label_smoothing, Reduction::kSum},
      optimizer_(
          [&] {
            // airbench's hyperparameters are per 1024 examples and for the distance Nesterov
            // SGD travels; the decay is divided by each group's rate, so that it is decoupled.
            const double kilostep = 1024 * (1 + 1 / (1 - config.momentum));
            const double lr = config.learning_rate / kilostep;
            const double wd =
                config.weight_decay * static_cast<double>(config.batch_size) / kilostep;
            const double lr_biases = lr * config.bias_scaler;
            optim::ParamGroup<T> biases, others;
            for (const auto& [name, p] : model.named_parameters()) {
              if (!p.requires_grad()) continue;
              (name.find("norm") != std::string::npos ? biases : others).params.push_back(p);
            }
            biases.lr = biases.base_lr = static_cast<T>(lr_biases);
            biases.weight_decay = static_cast<T>(wd / lr_biases);
            others.lr = others.base_lr = static_cast<T>(lr);
            others.weight_decay = static_cast<T>(wd / lr);
            return std::vector<optim::ParamGroup<T>>{biases, others};
          }(),
          static_cast<T>(config.momentum), /*nesterov=*/true),
      lookahead_(model) {
  if (per_epoch < 1 || total < 1) {
    throw std::invalid_argument("AirbenchSteps: needs at least one batch an epoch and one step");
  }
}

template <typename T>
std::pair<T, Tensor<T>> AirbenchSteps<T>::step(const Tensor<T>& images,
                                               const std::vector<int32_t>& labels, int64_t step,
                                               const std::function<void()>& check) {
  if (step < 1 || step > total_) {
    throw std::invalid_argument("AirbenchSteps: step " + std::to_string(step) + " outside 1.." +
                                std::to_string(total_));
  }
  const int64_t done = step - 1;  // steps before this one
  model_.whitening().bias().node()->requires_grad = done / per_epoch_ < whiten_bias_epochs_;
  model_.train();
  optimizer_.zero_grad();
  const Variable<T> logits = model_(Variable<T>(images));
  Variable<T> loss = cross_entropy(logits, labels, loss_);
  loss.backward();
  if (check) check();
  const double factor = schedule(done, total_);
  for (auto& g : optimizer_.param_groups()) g.lr = static_cast<T>(g.base_lr * factor);
  {
    const profile::Scope timed("optimizer step");
    optimizer_.step();
  }
  if (step % 5 == 0) {
    lookahead_.update(std::pow(0.95, 5) *
                      std::pow(static_cast<double>(step) / static_cast<double>(total_), 3));
  }
  if (step == total_) lookahead_.update(1.0);
  return {loss.item(), logits.value()};
}

template class AirbenchSteps<float>;
template class AirbenchSteps<double>;

double tta_accuracy(nn::Module<float>& model, const LabeledImages& data, int64_t level,
                    int64_t chunk) {
  const bool was_training = model.training();
  model.eval();
  NoGradGuard no_grad;
  const auto logits = [&](const Tensor<float>& x) {
    return model(Variable<float>(x)).value().clone();
  };
  const auto with_mirror = [&](const Tensor<float>& x) {
    Tensor<float> y = logits(x);
    blend(y, 0.5F, logits(data::mirrored(x)), 0.5F);
    return y;
  };
  const int64_t n = data.images.dim(0);
  double hits = 0;
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t end = std::min(n, begin + chunk);
    const Tensor<float> x = data.images.slice_rows(begin, end);
    Tensor<float> y;
    if (level == 0) {
      y = logits(x);
    } else {
      y = with_mirror(x);
      if (level >= 2) {
        Tensor<float> t = with_mirror(data::translate(x, 1, 1, data::Padding::kReflect));
        blend(t, 0.5F, with_mirror(data::translate(x, -1, -1, data::Padding::kReflect)), 0.5F);
        blend(y, 0.5F, t, 0.5F);
      }
    }
    const std::vector<int32_t> labels(data.labels.begin() + begin, data.labels.begin() + end);
    hits += accuracy(y, labels) * static_cast<double>(end - begin);
  }
  model.train(was_training);
  return hits / static_cast<double>(n);
}

nlohmann::json to_json(const AirbenchConfig& c) {
  nlohmann::json j = {{"model", "airbench"},
                      {"epochs", c.epochs},
                      {"batch_size", c.batch_size},
                      {"learning_rate", c.learning_rate},
                      {"momentum", c.momentum},
                      {"weight_decay", c.weight_decay},
                      {"bias_scaler", c.bias_scaler},
                      {"label_smoothing", c.label_smoothing},
                      {"whiten_bias_epochs", c.whiten_bias_epochs},
                      {"widths", c.widths},
                      {"tta_level", c.tta_level},
                      {"eval_freq", c.eval_freq},
                      {"seed", c.seed},
                      {"out", c.out}};
  add_to_json(c.data, j);
  if (c.sync_bn) j["sync_bn"] = true;
  return j;
}

void validate(const AirbenchConfig& c) {
  validate(c.data);
  if (!(c.epochs > 0 && c.epochs <= 1000)) throw ConfigError("--epochs: must be in (0, 1000]");
  if (c.batch_size < 2) throw ConfigError("--batch_size: must be >= 2 (batch norm needs it)");
  if (!(c.learning_rate > 0)) throw ConfigError("--learning_rate: must be > 0");
  if (!(c.momentum > 0 && c.momentum < 1)) {
    throw ConfigError("--momentum: must be in (0, 1) (Nesterov needs momentum)");
  }
  if (!(c.weight_decay >= 0)) throw ConfigError("--weight_decay: must be >= 0");
  if (!(c.bias_scaler > 0)) throw ConfigError("--bias_scaler: must be > 0");
  if (!(c.label_smoothing >= 0 && c.label_smoothing <= 1)) {
    throw ConfigError("--label_smoothing: must be in [0, 1]");
  }
  if (c.whiten_bias_epochs < 0) throw ConfigError("--whiten_bias_epochs: must be >= 0");
  if (c.tta_level < 0 || c.tta_level > 2) throw ConfigError("--tta_level: must be 0, 1 or 2");
  if (c.eval_freq < 0) throw ConfigError("--eval_freq: must be >= 0");
  if (c.checkpoint_every < 0) throw ConfigError("--checkpoint_every: must be >= 0");
  parse_airbench_widths(c.widths);
}

RunSummary train_airbench(const AirbenchConfig& config, const Replicas& replicas) {
  validate(config);
  check_batch_splits(config.batch_size, replicas);
  return train_airbench(config, load_train_data(config.data), replicas);
}

RunSummary train_airbench(const AirbenchConfig& config, TrainData data, const Replicas& replicas) {
  validate(config);
  const Shape input = data.input_shape();
  if (input[1] != 32 || input[2] != 32) {
    throw ConfigError("--dataset: airbench's network takes 32x32 images, not " +
                      std::to_string(input[1]) + "x" + std::to_string(input[2]));
  }
  const int64_t train_size = data.train.images.dim(0);
  if (config.batch_size > train_size) {
    throw ConfigError("--batch_size: " + std::to_string(config.batch_size) +
                      " is larger than the training set (" + std::to_string(train_size) + ")");
  }
  const int64_t per_epoch = train_size / config.batch_size;  // the last partial batch dropped
  const int64_t total = airbench_steps(config, train_size);

  Rng init_rng(config.seed);
  nn::AirbenchNet<float> model(input[0], data.n_classes(), init_rng,
                               {parse_airbench_widths(config.widths)});
  model.whiten(data.train.images.slice_rows(0, std::min<int64_t>(5000, train_size)));

  // Before the lookahead copies the parameters: every replica must start from rank 0's.
  const ReplicaStep replica = replicas.replicate(model, config.sync_bn, /*average=*/false);
  AirbenchSteps<float> steps(model, config, per_epoch, total);
  optim::SGD<float>& optimizer = steps.optimizer();
  optim::Lookahead<float>& lookahead = steps.lookahead();
  Trainable t = make_trainable(model, optimizer);
  const auto named = model.named_parameters();
  t.step = [&, named](const LabeledImages& batch, int64_t step) {
    const auto [loss, logits] = steps.step(batch.images, batch.labels, step, [&] {
      if (replica.after_backward) replica.after_backward();
      check_gradients(named, step);
    });
    const auto b = static_cast<double>(batch.labels.size());
    return StepResult{loss / b, accuracy(logits, batch.labels)};
  };
  t.optimizer_tensors = [&] {
    std::vector<NamedTensor> out;
    for (auto& [name, value] : optimizer.state_tensors()) out.push_back({name, value});
    for (const auto& [name, value] : lookahead.average()) {
      out.push_back({kLookaheadPrefix + name, value});
    }
    return out;
  };
  t.load_optimizer = [&](const std::vector<NamedTensor>& tensors,
                         const std::map<std::string, double>& scalars) {
    std::map<std::string, Tensor<float>> sgd, average;
    for (const auto& e : tensors) {
      if (e.name.starts_with(kLookaheadPrefix)) {
        average[e.name.substr(std::string(kLookaheadPrefix).size())] = e.value;
      } else {
        sgd[e.name] = e.value;
      }
    }
    optimizer.load_state(sgd, scalars);
    lookahead.load_average(average);
  };
  t.final_figures = [&] {
    std::map<std::string, double> figures{
        {"tta_level", static_cast<double>(config.tta_level)},
        {"tta_test_acc", tta_accuracy(model, data.test, config.tta_level)}};
    if (replica.stats) figures.merge(replica.stats());
    return figures;
  };

  nlohmann::json saved_config = to_json(config);
  saved_config.erase("out");
  // airbench94 draws a new order every epoch, the first included, so every seed sees every
  // image in epoch 0 (the course's order would give every seed the stored order first).
  const LoopConfig loop{.max_steps = total,
                        .batch_size = config.batch_size,
                        .eval_freq = config.eval_freq == 0 ? total : config.eval_freq,
                        .checkpoint_every = config.checkpoint_every,
                        .seed = config.seed + 1,
                        .resume = config.resume,
                        .augment = make_augmentation(config.data, input),
                        .order = data::Order::kShuffled};
  RunSpec spec{config.out,
               "airbench",
               to_json(config),
               loop,
               config.quiet,
               {{"format", "nabla"},
                {"model", "airbench"},
                {"n_channels", std::to_string(input[0])},
                {"n_classes", std::to_string(data.n_classes())},
                {"widths", config.widths},
                {"config", saved_config.dump()}}};
  add_data_metadata(data, spec.metadata);
  return train_model(t, data, spec, replicas);
}

}  // namespace nabla

#include <algorithm>
#include <optional>

#include "nabla/manual/mlp.h"
#include "nabla/nn/mlp.h"
#include "nabla/optim/optimizer.h"
#include "nabla/profile.h"
#include "train/classifier.h"
#include "train/loop.h"
#include "train/mlp.h"

namespace nabla {

nlohmann::json to_json(const MlpConfig& c) {
  nlohmann::json j = {{"model", c.model},
                      {"dnn_hidden_units", c.dnn_hidden_units},
                      {"learning_rate", c.learning_rate},
                      {"max_steps", c.max_steps},
                      {"batch_size", c.batch_size},
                      {"eval_freq", c.eval_freq},
                      {"neg_slope", c.neg_slope},
                      {"seed", c.seed},
                      {"out", c.out},
                      {"validation_size", c.validation_size}};
  add_to_json(c.data, j);
  if (c.model == "mlp") {
    j["optimizer"] = c.optimizer;
    j["batchnorm"] = c.batchnorm;
    j["weight_decay"] = c.weight_decay;
    j["momentum"] = c.momentum;
    if (c.sync_bn) j["sync_bn"] = true;
  }
  return j;
}

namespace {
LoopConfig loop_config(const MlpConfig& c) {
  return {c.max_steps, c.batch_size, c.eval_freq, c.checkpoint_every,
          c.seed + 1,  c.resume,     nullptr};
}
}  // namespace

void validate(const MlpConfig& c, int64_t train_size) {
  validate(c.data);
  if (c.dnn_hidden_units.empty()) throw ConfigError("--dnn_hidden_units: empty list");
  for (int64_t u : c.dnn_hidden_units) {
    if (u <= 0) {
      throw ConfigError("--dnn_hidden_units: " + std::to_string(u) + " is not a positive size");
    }
  }
  validate_loop(loop_config(c), c.learning_rate, c.optimizer, c.validation_size, train_size);
  if (c.batchnorm != "none" && c.batchnorm != "autograd" && c.batchnorm != "manual") {
    throw ConfigError("--batchnorm: must be none, autograd or manual, not '" + c.batchnorm + "'");
  }
  if (!(c.weight_decay >= 0)) throw ConfigError("--weight_decay: must be >= 0");
  if (!(c.momentum >= 0 && c.momentum < 1)) throw ConfigError("--momentum: must be in [0, 1)");
}

namespace {

double manual_evaluate_loss(manual::MLP<float>& model, const LabeledImages& data, double& acc) {
  constexpr int64_t kChunk = 1000;
  const int64_t n = data.images.dim(0);
  double loss = 0, hits = 0;
  manual::CrossEntropy<float> ce;
  for (int64_t begin = 0; begin < n; begin += kChunk) {
    const int64_t end = std::min(n, begin + kChunk);
    const std::vector<int32_t> labels(data.labels.begin() + begin, data.labels.begin() + end);
    const Tensor<float> probs = model.forward(data.images.slice_rows(begin, end));
    const double count = static_cast<double>(end - begin);
    loss += ce.forward(probs, labels) * count;
    hits += accuracy(probs, labels) * count;
  }
  acc = hits / static_cast<double>(n);
  return loss / static_cast<double>(n);
}

int64_t inputs_per_example(const TrainData& data) {
  return data.train.images.numel() / data.train.images.dim(0);
}

RunSpec run_spec(const MlpConfig& config, const TrainData& data) {
  nlohmann::json c = to_json(config);
  c.erase("out");  // where a model was written is not part of it: equal runs give equal files
  RunSpec spec{
      config.out,      config.model,
      to_json(config), loop_config(config),
      config.quiet,    {{"format", "nabla"}, {"model", config.model}, {"config", c.dump()}}};
  spec.loop.augment = make_augmentation(config.data, data.input_shape());
  add_data_metadata(data, spec.metadata);
  return spec;
}

}  // namespace

Trainable make_manual_trainable(manual::MLP<float>& model, manual::CrossEntropy<float>& ce,
                                float learning_rate) {
  Trainable t;
  t.step = [&model, &ce, learning_rate](const LabeledImages& batch, int64_t step) {
    std::optional<profile::Scope> timed(std::in_place, "forward");
    const Tensor<float> probs = model.forward(batch.images);
    const float loss = ce.forward(probs, batch.labels);
    timed.emplace("backward");
    model.backward(ce.backward());
    timed.emplace("finite check");
    for (const auto& p : model.parameters()) {
      check_finite(*p.grad, "the gradient of " + p.name, step);
    }
    timed.emplace("optimizer step");
    manual::sgd_step(model.parameters(), learning_rate);
    timed.reset();
    return StepResult{loss, accuracy(probs, batch.labels)};
  };
  t.evaluate = [&model](const LabeledImages& set) {
    Evaluation e;
    e.loss = manual_evaluate_loss(model, set, e.accuracy);
    return e;
  };
  t.model_tensors = [&model] {
    std::vector<NamedTensor> tensors;
    for (const auto& p : model.parameters()) tensors.push_back({p.name, *p.value});
    return tensors;
  };
  t.load_model_tensors = [&model](const std::vector<NamedTensor>& tensors) {
    for (const auto& p : model.parameters()) {
      const auto it = std::find_if(tensors.begin(), tensors.end(),
                                   [&](const NamedTensor& n) { return n.name == p.name; });
      if (it == tensors.end() || it->value.shape() != p.value->shape()) {
        throw std::invalid_argument("missing or mis-shaped " + p.name);
      }
      std::copy(it->value.values().begin(), it->value.values().end(), p.value->values().begin());
    }
  };
  return t;
}

RunSummary train_mlp_manual(const MlpConfig& config) {
  // Flags are checked before the data is read.
  validate(config, config.data.dataset == "cifar10" ? 5 * kCifarRecordsPerFile : 0);
  return train_mlp_manual(config, load_train_data(config.data));
}

RunSummary train_mlp_manual(const MlpConfig& config, TrainData data) {
  Rng init_rng = prepare_run(config, data);
  manual::MLP<float> model(inputs_per_example(data), config.dnn_hidden_units, data.n_classes(),
                           static_cast<float>(config.neg_slope), init_rng);
  manual::CrossEntropy<float> ce;
  Trainable t = make_manual_trainable(model, ce, static_cast<float>(config.learning_rate));
  return train_model(t, data, run_spec(config, data));
}

RunSummary train_mlp(const MlpConfig& config, const Replicas& replicas) {
  validate(config, config.data.dataset == "cifar10" ? 5 * kCifarRecordsPerFile : 0);
  check_batch_splits(config.batch_size, replicas);
  return train_mlp(config, load_train_data(config.data), replicas);
}

RunSummary train_mlp(const MlpConfig& config, TrainData data, const Replicas& replicas) {
  Rng init_rng = prepare_run(config, data);
  nn::MLP<float> model(inputs_per_example(data), config.dnn_hidden_units, data.n_classes(),
                       static_cast<float>(config.neg_slope),
                       nn::parse_batchnorm_kind(config.batchnorm), init_rng);
  const auto optimizer = make_optimizer(config.optimizer, model.parameters(), config.learning_rate,
                                        config.momentum, config.weight_decay);
  Trainable t = make_trainable(model, *optimizer,
                               replicas.replicate(model, config.sync_bn, /*average=*/true));
  return train_model(t, data, run_spec(config, data), replicas);
}

}  // namespace nabla

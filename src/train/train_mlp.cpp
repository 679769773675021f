#include <algorithm>

#include "nabla/manual/mlp.h"
#include "nabla/nn/mlp.h"
#include "nabla/optim/optimizer.h"
#include "nabla/train/classifier.h"
#include "nabla/train/mlp.h"

namespace nabla {

nlohmann::json to_json(const MlpConfig& c) {
  nlohmann::json j = {{"model", c.model},           {"dnn_hidden_units", c.dnn_hidden_units},
                      {"learning_rate", c.learning_rate}, {"max_steps", c.max_steps},
                      {"batch_size", c.batch_size}, {"eval_freq", c.eval_freq},
                      {"neg_slope", c.neg_slope},   {"data_dir", c.data_dir},
                      {"seed", c.seed},             {"out", c.out}};
  if (c.model == "mlp") {
    j["optimizer"] = c.optimizer;
    j["batchnorm"] = c.batchnorm;
    j["weight_decay"] = c.weight_decay;
    j["momentum"] = c.momentum;
  }
  return j;
}

void validate(const MlpConfig& c, int64_t train_size) {
  if (c.dnn_hidden_units.empty()) throw ConfigError("--dnn_hidden_units: empty list");
  for (int64_t u : c.dnn_hidden_units) {
    if (u <= 0) {
      throw ConfigError("--dnn_hidden_units: " + std::to_string(u) + " is not a positive size");
    }
  }
  if (!(c.learning_rate > 0)) throw ConfigError("--learning_rate: must be > 0");
  if (c.max_steps <= 0) throw ConfigError("--max_steps: must be > 0");
  if (c.batch_size <= 0) throw ConfigError("--batch_size: must be > 0");
  if (train_size > 0 && c.batch_size > train_size) {
    throw ConfigError("--batch_size: " + std::to_string(c.batch_size) +
                      " is larger than the training set (" + std::to_string(train_size) + ")");
  }
  if (c.eval_freq <= 0) throw ConfigError("--eval_freq: must be > 0");
  if (c.optimizer != "sgd" && c.optimizer != "adam") {
    throw ConfigError("--optimizer: must be sgd or adam, not '" + c.optimizer + "'");
  }
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

int64_t inputs_per_example(const Cifar10& data) {
  return data.train.images.numel() / data.train.images.dim(0);
}

std::map<std::string, std::string> model_metadata(const MlpConfig& config) {
  return {{"format", "nabla"}, {"model", config.model}, {"config", to_json(config).dump()}};
}

}  // namespace

RunSummary train_mlp_manual(const MlpConfig& config) {
  validate(config, 5 * kCifarRecordsPerFile);  // flags are checked before the data is read
  return train_mlp_manual(config, load_cifar10(resolve_data_dir(config.data_dir)));
}

RunSummary train_mlp_manual(const MlpConfig& config, const Cifar10& data) {
  validate(config, data.train.images.dim(0));
  Rng init_rng(config.seed);
  manual::MLP<float> model(inputs_per_example(data), config.dnn_hidden_units, kCifarClasses,
                           static_cast<float>(config.neg_slope), init_rng);
  DataSet train(data.train, config.seed + 1);
  manual::CrossEntropy<float> ce;
  RunWriter run(config.out, config.model, to_json(config), config.max_steps, config.quiet);

  for (int64_t step = 1; step <= config.max_steps; ++step) {
    const LabeledImages batch = train.next_batch(config.batch_size);
    const Tensor<float> probs = model.forward(batch.images);
    const float loss = ce.forward(probs, batch.labels);
    model.backward(ce.backward());
    manual::sgd_step(model.parameters(), static_cast<float>(config.learning_rate));
    run.tick(step, loss);
    if (step % config.eval_freq == 0 || step == config.max_steps) {
      double test_acc = 0;
      const double test_loss = manual_evaluate_loss(model, data.test, test_acc);
      run.record({step, loss, accuracy(probs, batch.labels), test_loss, test_acc,
                  run.elapsed_s()});
    }
  }

  std::vector<NamedTensor> tensors;
  for (const auto& p : model.parameters()) tensors.push_back({p.name, *p.value});
  tensors.push_back({"mean_image", data.mean_image});
  return run.finish(tensors, model_metadata(config));
}

RunSummary train_mlp(const MlpConfig& config) {
  validate(config, 5 * kCifarRecordsPerFile);
  return train_mlp(config, load_cifar10(resolve_data_dir(config.data_dir)));
}

RunSummary train_mlp(const MlpConfig& config, const Cifar10& data) {
  validate(config, data.train.images.dim(0));
  Rng init_rng(config.seed);
  nn::MLP<float> model(inputs_per_example(data), config.dnn_hidden_units, kCifarClasses,
                       static_cast<float>(config.neg_slope),
                       nn::parse_batchnorm_kind(config.batchnorm), init_rng);
  const auto lr = static_cast<float>(config.learning_rate);
  const auto wd = static_cast<float>(config.weight_decay);
  std::unique_ptr<optim::Optimizer<float>> optimizer;
  if (config.optimizer == "adam") {
    optimizer = std::make_unique<optim::Adam<float>>(model.parameters(), lr, 0.9f, 0.999f, 1e-8f, wd);
  } else {
    optimizer = std::make_unique<optim::SGD<float>>(model.parameters(), lr,
                                                    static_cast<float>(config.momentum), wd);
  }
  RunWriter run(config.out, config.model, to_json(config), config.max_steps, config.quiet);
  train_classifier(model, *optimizer, data,
                   {config.max_steps, config.batch_size, config.eval_freq, config.seed + 1}, run);
  std::vector<NamedTensor> tensors = model_tensors(model);
  tensors.push_back({"mean_image", data.mean_image});
  return run.finish(tensors, model_metadata(config));
}

}  // namespace nabla

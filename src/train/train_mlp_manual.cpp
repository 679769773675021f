#include <algorithm>

#include "nabla/kernels.h"
#include "nabla/manual/mlp.h"
#include "nabla/train/mlp_manual.h"

namespace nabla {

nlohmann::json to_json(const MlpManualConfig& c) {
  return {{"model", "mlp-manual"},         {"dnn_hidden_units", c.dnn_hidden_units},
          {"learning_rate", c.learning_rate}, {"max_steps", c.max_steps},
          {"batch_size", c.batch_size},     {"eval_freq", c.eval_freq},
          {"neg_slope", c.neg_slope},       {"data_dir", c.data_dir},
          {"seed", c.seed},                 {"out", c.out}};
}

void validate(const MlpManualConfig& c, int64_t train_size) {
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
}

namespace {

struct Eval {
  double loss = 0, acc = 0;
};

double accuracy(const Tensor<float>& probs, const std::vector<int32_t>& labels) {
  const auto pred = argmax_rows(probs);
  int64_t hits = 0;
  for (size_t i = 0; i < pred.size(); ++i) hits += pred[i] == labels[i];
  return static_cast<double>(hits) / static_cast<double>(pred.size());
}

Eval evaluate(manual::MLP<float>& model, const LabeledImages& data) {
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
  return {loss / static_cast<double>(n), hits / static_cast<double>(n)};
}

}  // namespace

RunSummary train_mlp_manual(const MlpManualConfig& config) {
  validate(config, 5 * kCifarRecordsPerFile);  // flags are checked before the data is read
  return train_mlp_manual(config, load_cifar10(resolve_data_dir(config.data_dir)));
}

RunSummary train_mlp_manual(const MlpManualConfig& config, const Cifar10& data) {
  validate(config, data.train.images.dim(0));
  Rng init_rng(config.seed);
  const int64_t n_inputs = data.train.images.numel() / data.train.images.dim(0);
  manual::MLP<float> model(n_inputs, config.dnn_hidden_units, kCifarClasses,
                           static_cast<float>(config.neg_slope), init_rng);
  DataSet train(data.train, config.seed + 1);
  manual::CrossEntropy<float> ce;
  RunWriter run(config.out, "mlp-manual", to_json(config), config.max_steps, config.quiet);

  for (int64_t step = 1; step <= config.max_steps; ++step) {
    const LabeledImages batch = train.next_batch(config.batch_size);
    const Tensor<float> probs = model.forward(batch.images);
    const float loss = ce.forward(probs, batch.labels);
    model.backward(ce.backward());
    manual::sgd_step(model.parameters(), static_cast<float>(config.learning_rate));
    run.tick(step, loss);
    if (step % config.eval_freq == 0 || step == config.max_steps) {
      const Eval test = evaluate(model, data.test);
      run.record({step, loss, accuracy(probs, batch.labels), test.loss, test.acc, run.elapsed_s()});
    }
  }

  std::vector<NamedTensor> tensors;
  for (const auto& p : model.parameters()) tensors.push_back({p.name, *p.value});
  tensors.push_back({"mean_image", data.mean_image});
  return run.finish(tensors, {{"format", "nabla"},
                              {"model", "mlp-manual"},
                              {"config", to_json(config).dump()}});
}

}  // namespace nabla

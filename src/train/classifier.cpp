#include "nabla/train/classifier.h"

#include <algorithm>

#include "nabla/kernels.h"
#include "nabla/ops.h"

namespace nabla {

double accuracy(const Tensor<float>& scores, const std::vector<int32_t>& labels) {
  const auto pred = argmax_rows(scores);
  int64_t hits = 0;
  for (size_t i = 0; i < pred.size(); ++i) hits += pred[i] == labels[i];
  return pred.empty() ? 0.0 : static_cast<double>(hits) / static_cast<double>(pred.size());
}

Evaluation evaluate(nn::Module<float>& model, const LabeledImages& data, int64_t chunk) {
  const bool was_training = model.training();
  model.eval();
  NoGradGuard no_grad;
  const int64_t n = data.images.dim(0);
  double loss = 0, hits = 0;
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t end = std::min(n, begin + chunk);
    const std::vector<int32_t> labels(data.labels.begin() + begin, data.labels.begin() + end);
    const Variable<float> logits = model(Variable<float>(data.images.slice_rows(begin, end)));
    const double count = static_cast<double>(end - begin);
    loss += cross_entropy(logits, labels).item() * count;
    hits += accuracy(logits.value(), labels) * count;
  }
  model.train(was_training);
  return {loss / static_cast<double>(n), hits / static_cast<double>(n)};
}

void train_classifier(nn::Module<float>& model, optim::Optimizer<float>& optimizer,
                      const Cifar10& data, const LoopConfig& loop, RunWriter& run) {
  DataSet train(data.train, loop.seed);
  model.train();
  for (int64_t step = 1; step <= loop.max_steps; ++step) {
    const LabeledImages batch = train.next_batch(loop.batch_size);
    optimizer.zero_grad();
    const Variable<float> logits = model(Variable<float>(batch.images));
    Variable<float> loss = cross_entropy(logits, batch.labels);
    loss.backward();
    optimizer.step();
    run.tick(step, loss.item());
    if (step % loop.eval_freq == 0 || step == loop.max_steps) {
      const Evaluation test = evaluate(model, data.test);
      run.record({step, loss.item(), accuracy(logits.value(), batch.labels), test.loss,
                  test.accuracy, run.elapsed_s()});
    }
  }
}

std::vector<NamedTensor> model_tensors(const nn::Module<float>& model) {
  std::vector<NamedTensor> out;
  for (const auto& [name, p] : model.named_parameters()) out.push_back({name, p.value()});
  for (const auto& [name, b] : model.named_buffers()) out.push_back({name, b});
  return out;
}

}  // namespace nabla

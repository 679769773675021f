#include "train/classifier.h"

#include <algorithm>

#include "nabla/ops.h"
#include "nabla/profile.h"
#include "train/cnn.h"

namespace nabla {

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

void check_gradients(const std::vector<std::pair<std::string, Variable<float>>>& named,
                     int64_t step) {
  const profile::Scope timed("finite check");
  for (const auto& [name, p] : named) {
    if (!p.grad().empty()) check_finite(p.grad(), "the gradient of " + name, step);
  }
}

Trainable make_trainable(nn::Module<float>& model, optim::Optimizer<float>& optimizer,
                         const ReplicaStep& replica) {
  Trainable t;
  const auto named = model.named_parameters();
  t.step = [&model, &optimizer, named, after_backward = replica.after_backward](
               const LabeledImages& batch, int64_t step) {
    model.train();
    optimizer.zero_grad();
    const Variable<float> logits = model(Variable<float>(batch.images));
    Variable<float> loss = cross_entropy(logits, batch.labels);
    loss.backward();
    if (after_backward) after_backward();
    check_gradients(named, step);
    const profile::Scope timed("optimizer step");
    optimizer.step();
    return StepResult{loss.item(), accuracy(logits.value(), batch.labels)};
  };
  t.evaluate = [&model](const LabeledImages& data) { return evaluate(model, data); };
  t.model_tensors = [&model] { return state_tensors(model); };
  t.load_model_tensors = [&model](const std::vector<NamedTensor>& tensors) {
    model.load_state_dict(to_state_dict(tensors));
  };
  t.optimizer_tensors = [&optimizer] {
    std::vector<NamedTensor> out;
    for (auto& [name, value] : optimizer.state_tensors()) out.push_back({name, value});
    return out;
  };
  t.optimizer_scalars = [&optimizer] { return optimizer.state_scalars(); };
  t.load_optimizer = [&optimizer](const std::vector<NamedTensor>& tensors,
                                  const std::map<std::string, double>& scalars) {
    std::map<std::string, Tensor<float>> by_name;
    for (const auto& t : tensors) by_name[t.name] = t.value;
    optimizer.load_state(by_name, scalars);
  };
  t.final_figures = replica.stats;
  return t;
}

std::unique_ptr<optim::Optimizer<float>> make_optimizer(const std::string& name,
                                                        std::vector<Variable<float>> params,
                                                        double learning_rate, double momentum,
                                                        double weight_decay) {
  const auto lr = static_cast<float>(learning_rate);
  const auto wd = static_cast<float>(weight_decay);
  if (name == "adam") {
    return std::make_unique<optim::Adam<float>>(std::move(params), lr, 0.9f, 0.999f, 1e-8f, wd);
  }
  return std::make_unique<optim::SGD<float>>(std::move(params), lr, static_cast<float>(momentum),
                                             wd);
}

}  // namespace nabla

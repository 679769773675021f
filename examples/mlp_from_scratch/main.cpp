// An MLP on nabla's tensors and autograd alone (no nn, no optim): 3072 -> 100 -> ReLU -> 10,
// cross-entropy, plain SGD on CIFAR-10 with the course's mean-image preprocessing.
// Usage: mlp_from_scratch CIFAR10_DIR [STEPS]
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "nabla/data/cifar10.h"
#include "nabla/ops.h"

using nabla::Variable;

// A trainable tensor drawn uniformly from +-1/sqrt(fan_in), as torch.nn.Linear initialises.
Variable<float> parameter(nabla::Shape shape, int64_t fan_in, nabla::Rng& rng) {
  nabla::Tensor<float> t(std::move(shape));
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  for (float& v : t.values()) v = static_cast<float>(rng.uniform(-bound, bound));
  return Variable<float>(t, /*requires_grad=*/true);
}

int main(int argc, char** argv) {
  if (argc < 2) return std::fprintf(stderr, "usage: %s CIFAR10_DIR [STEPS]\n", argv[0]), 2;
  const int64_t steps = argc > 2 ? std::stoll(argv[2]) : 1500, batch = 200, in = 3 * 32 * 32;
  const nabla::Cifar10 data = nabla::load_cifar10(argv[1]);
  nabla::Rng rng(42);
  std::vector<Variable<float>> w = {parameter({100, in}, in, rng), parameter({100}, in, rng),
                                    parameter({10, 100}, 100, rng), parameter({10}, 100, rng)};
  const auto logits = [&w](const nabla::Tensor<float>& images) {
    const Variable<float> x(images.reshape({images.dim(0), -1}));
    return nabla::linear(nabla::relu(nabla::linear(x, w[0], w[1])), w[2], w[3]);
  };
  nabla::DataSet train(data.train, /*seed=*/42);
  for (int64_t step = 1; step <= steps; ++step) {
    const nabla::LabeledImages b = train.next_batch(batch);
    Variable<float> loss = nabla::cross_entropy(logits(b.images), b.labels);
    loss.backward();
    for (Variable<float>& p : w) {  // SGD, learning rate 2e-3
      for (int64_t i = 0; i < p.numel(); ++i) p.value()[i] -= 2e-3F * p.grad()[i];
      p.zero_grad();
    }
    if (step % 100 == 0 || step == steps) std::printf("step %lld loss %.4f\n", (long long)step, loss.item());
  }
  const nabla::NoGradGuard no_grad;
  const Variable<float> scores = logits(data.test.images);
  int64_t correct = 0;
  for (int64_t r = 0; r < scores.dim(0); ++r) {
    int64_t best = 0;
    for (int64_t c = 1; c < 10; ++c) best = scores.value()[r * 10 + c] > scores.value()[r * 10 + best] ? c : best;
    correct += best == data.test.labels[static_cast<size_t>(r)];
  }
  std::printf("test accuracy %.4f\n", static_cast<double>(correct) / static_cast<double>(scores.dim(0)));
}

// Trains the residual CNN of model.h on CIFAR-10 with Nesterov SGD (weight decay on the conv and
// linear weights only: two parameter groups) and a linear warm-up followed by a cosine schedule,
// on batches that a DataLoader shuffles, flips and crops on a background thread; prints the test
// accuracy, saves the model with nabla::save (classify loads it) and exports it to ONNX, the mean
// image inside the graph, so that ONNX Runtime takes raw pixel values.
// Usage: custom_cnn CIFAR10_DIR [STEPS=1000] [OUT=custom_cnn.safetensors]
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>

#include "model.h"
#include "nabla/data/cifar10.h"
#include "nabla/data/loader.h"
#include "nabla/kernels.h"
#include "nabla/nn/serialize.h"
#include "nabla/onnx.h"
#include "nabla/ops.h"
#include "nabla/optim/schedule.h"

int main(int argc, char** argv) {
  if (argc < 2) return std::fprintf(stderr, "usage: %s CIFAR10_DIR [STEPS] [OUT]\n", argv[0]), 2;
  const int64_t steps = argc > 2 ? std::stoll(argv[2]) : 1000, batch = 64;
  const std::string out = argc > 3 ? argv[3] : "custom_cnn.safetensors";
  const nabla::Cifar10 cifar = nabla::load_cifar10(argv[1]);  // mean image subtracted

  nabla::Rng rng(42);
  const auto model = example::make_model(rng);
  nabla::optim::ParamGroup<float> decayed{{}, 0.05F, 5e-4F}, plain{{}, 0.05F, 0.0F};
  for (auto& [name, p] : model->named_parameters()) {
    (p.shape().size() > 1 ? decayed : plain).params.push_back(p);  // weights vs biases and gammas
  }
  nabla::optim::SGD<float> sgd({decayed, plain}, /*momentum=*/0.9F, /*nesterov=*/true);
  const int64_t warmup = std::max<int64_t>(1, steps / 10);
  nabla::optim::LRScheduler<float> schedule(
      sgd, nabla::optim::sequence({nabla::optim::linear_warmup(warmup, 0.1),
                                   nabla::optim::cosine(std::max<int64_t>(1, steps - warmup))},
                                  {warmup}));

  namespace data = nabla::data;
  const auto augment =
      std::make_shared<data::Compose>(std::vector<std::shared_ptr<const data::Transform>>{
          std::make_shared<data::RandomHorizontalFlip>(0.5),
          std::make_shared<data::RandomCrop>(32, 32, /*padding=*/4, data::Padding::kReflect)});
  data::DataLoader train(std::make_shared<data::TensorDataset>(cifar.train),
                         {.batch_size = batch,
                          .order = data::Order::kShuffled,
                          .seed = 1,
                          .drop_last = true,
                          .workers = 1},
                         augment);
  model->train();
  for (int64_t step = 1; step <= steps; ++step) {
    const nabla::LabeledImages b = train.next();
    sgd.zero_grad();
    nabla::Variable<float> loss =
        nabla::cross_entropy((*model)(nabla::Variable<float>(b.images)), b.labels);
    loss.backward();
    sgd.step();
    schedule.step();
    if (step % 100 == 0 || step == steps) {
      std::printf("step %lld loss %.4f lr %.4f\n", static_cast<long long>(step), loss.item(),
                  sgd.param_groups()[0].lr);
    }
  }

  model->eval();
  const nabla::NoGradGuard no_grad;
  int64_t correct = 0;
  const int64_t n = cifar.test.images.dim(0);
  for (int64_t begin = 0; begin < n; begin += 500) {
    const int64_t end = std::min(n, begin + 500);
    const nabla::Tensor<float> logits =
        (*model)(nabla::Variable<float>(cifar.test.images.slice_rows(begin, end))).value();
    const std::vector<int64_t> best = nabla::argmax_rows(logits);
    for (int64_t i = begin; i < end; ++i)
      correct += best[static_cast<size_t>(i - begin)] == cifar.test.labels[static_cast<size_t>(i)];
  }
  nabla::save(*model, out, {{"model", "custom_cnn"}}, {{"mean_image", cifar.mean_image}});
  nabla::onnx::ExportOptions onnx_options;
  onnx_options.output_name = "logits";
  onnx_options.normalization.subtract = cifar.mean_image;
  onnx_options.class_names.assign(nabla::kCifarClassNames,
                                  nabla::kCifarClassNames + nabla::kCifarClasses);
  const std::string onnx_file = std::filesystem::path(out).replace_extension(".onnx").string();
  nabla::onnx::export_model(*model, {1, 3, 32, 32}, onnx_file, onnx_options);
  std::printf("test accuracy %.4f, saved %s and %s\n",
              static_cast<double>(correct) / static_cast<double>(n), out.c_str(),
              onnx_file.c_str());
}

// Loads a model that custom_cnn saved and classifies image files (PNG or JPEG, resized to 32x32),
// printing the three most probable CIFAR-10 classes of each.
// Usage: classify MODEL_FILE IMAGE...
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "model.h"
#include "nabla/data/cifar10.h"
#include "nabla/io/image.h"
#include "nabla/nn/serialize.h"

int main(int argc, char** argv) {
  if (argc < 3) return std::fprintf(stderr, "usage: %s MODEL_FILE IMAGE...\n", argv[0]), 2;
  nabla::Rng rng(0);  // every value comes from the file
  const auto model = example::make_model(rng);
  try {
    const nabla::SafetensorsFile file = nabla::load(*model, argv[1], /*strict=*/true, {"mean_image"});
    const nabla::Tensor<float>* mean = file.find("mean_image");
    if (mean == nullptr) throw nabla::DataError(std::string(argv[1]) + ": no mean_image");
    model->eval();
    const nabla::NoGradGuard no_grad;
    for (int i = 2; i < argc; ++i) {
      nabla::Tensor<float> x = nabla::image_tensor(nabla::read_image_rgb(argv[i]), 32, 32);
      for (int64_t j = 0; j < x.numel(); ++j) x[j] -= (*mean)[j];
      const nabla::Tensor<float> logits = (*model)(nabla::Variable<float>(x.reshape({1, 3, 32, 32}))).value();
      // Softmax, then the three largest.
      const float top = *std::max_element(logits.values().begin(), logits.values().end());
      std::vector<double> p(10);
      double total = 0;
      for (int c = 0; c < 10; ++c) total += p[static_cast<size_t>(c)] = std::exp(logits[c] - top);
      std::vector<int> order(10);
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + 3, order.end(),
                        [&p](int a, int b) { return p[static_cast<size_t>(a)] > p[static_cast<size_t>(b)]; });
      std::printf("%s:", argv[i]);
      for (int k = 0; k < 3; ++k) {
        std::printf(" %s %.3f", nabla::kCifarClassNames[order[static_cast<size_t>(k)]],
                    p[static_cast<size_t>(order[static_cast<size_t>(k)])] / total);
      }
      std::printf("\n");
    }
  } catch (const nabla::DataError& e) {
    std::fprintf(stderr, "classify: %s\n", e.what());
    return 1;
  }
}

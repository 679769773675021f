#include "nabla/nn/convnet.h"

#include <string>

namespace nabla::nn {

template <typename T>
ConvNet<T>::ConvNet(int64_t n_channels, int64_t n_classes, Rng& rng) {
  struct Block {
    const char* suffix;
    int64_t out;
    bool pool_after;
    int pool_index;
  };
  const Block blocks[] = {{"1", 64, true, 1},     {"2", 128, true, 2},    {"3_a", 256, false, 0},
                          {"3_b", 256, true, 3},  {"4_a", 512, false, 0}, {"4_b", 512, true, 4},
                          {"5_a", 512, false, 0}, {"5_b", 512, true, 5}};
  int64_t in = n_channels;
  for (const Block& b : blocks) {
    const std::string s = b.suffix;
    this->add("conv" + s, std::make_shared<Conv2d<T>>(in, b.out, 3, rng, Conv2dOptions{1, 1}));
    this->add("bn" + s, std::make_shared<BatchNorm2d<T>>(b.out));
    this->add("relu" + s, std::make_shared<ReLU<T>>());
    if (b.pool_after) {
      this->add("maxpool" + std::to_string(b.pool_index), std::make_shared<MaxPool2d<T>>(3, 2, 1));
    }
    in = b.out;
  }
  this->add("flatten", std::make_shared<Flatten<T>>());
  this->add("linear", std::make_shared<Linear<T>>(in, n_classes, rng));
}

template class ConvNet<float>;
template class ConvNet<double>;

}  // namespace nabla::nn

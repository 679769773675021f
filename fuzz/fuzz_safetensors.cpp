// libFuzzer target: the safetensors reader (every dtype), and the checks that fit its tensors
// into a model (load_state_dict). Seeds: fuzz/make_seeds.cpp's small file and the PyTorch-written
// F32/I64, F16 and BF16 state dicts of tests/fixtures/make_fixtures.py.
#include <cstddef>
#include <cstdint>
#include <string>

#include "nabla/error.h"
#include "nabla/nn/convnet.h"
#include "nabla/nn/serialize.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const nabla::SafetensorsFile f =
        nabla::parse_safetensors(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    for (const auto& t : f.tensors) {
      float sum = 0;
      for (float v : t.value.values()) sum += v;  // every value must be readable
      (void)sum;
    }
    // The fixtures' layers: conv 3->4, batch norm, linear 64->5.
    nabla::Rng rng(0);
    nabla::nn::Sequential<float> net;
    net.add("0", std::make_shared<nabla::nn::Conv2d<float>>(3, 4, 3, 1, 1, rng));
    net.add("1", std::make_shared<nabla::nn::BatchNorm2d<float>>(4));
    net.add("5", std::make_shared<nabla::nn::Linear<float>>(64, 5, rng));
    net.load_state_dict(nabla::to_state_dict(f.tensors), /*strict=*/size % 2 == 0);
  } catch (const nabla::DataError&) {
  } catch (const nabla::ConfigError&) {
  }
  return 0;
}

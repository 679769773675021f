#include "nabla/nn/serialize.h"

#include "nabla/error.h"

namespace nabla {

std::vector<NamedTensor> state_tensors(const nn::Module<float>& module) {
  std::vector<NamedTensor> out;
  for (const auto& e : module.state_dict()) {
    out.push_back({e.name, e.value, e.kind == nn::BufferKind::kCount ? DType::kI64 : DType::kF32});
  }
  return out;
}

nn::StateDict<float> to_state_dict(const std::vector<NamedTensor>& tensors,
                                   const std::set<std::string>& skip) {
  nn::StateDict<float> dict;
  for (const auto& t : tensors) {
    if (!skip.contains(t.name)) dict.push_back({t.name, t.value});
  }
  return dict;
}

void save(const nn::Module<float>& module, const std::filesystem::path& file,
          const std::map<std::string, std::string>& metadata,
          const std::vector<NamedTensor>& extra) {
  std::vector<NamedTensor> tensors = state_tensors(module);
  tensors.insert(tensors.end(), extra.begin(), extra.end());
  save_safetensors(file, tensors, metadata);
}

SafetensorsFile load(nn::Module<float>& module, const std::filesystem::path& file, bool strict,
                     const std::set<std::string>& extra) {
  SafetensorsFile st = load_safetensors(file);
  try {
    module.load_state_dict(to_state_dict(st.tensors, extra), strict);
  } catch (const ConfigError& e) {
    throw DataError(file.string() + ": does not fit the model (" + e.what() + ")");
  }
  return st;
}

}  // namespace nabla

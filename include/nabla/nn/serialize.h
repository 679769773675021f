/// \file
/// Saving and loading a module's state dict as a safetensors file, the format
/// `safetensors.torch.save_file(model.state_dict(), f)` writes and PyTorch's load_state_dict reads:
/// the same names, float32 values, counts (num_batches_tracked) as I64. Model files hold float32,
/// as nabla trains in float32; float64 modules are for gradient checks.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "nabla/io/safetensors.h"
#include "nabla/nn/module.h"

namespace nabla {

/// The module's state dict as named tensors to write (sharing the module's storage), counts as I64.
std::vector<NamedTensor> state_tensors(const nn::Module<float>& module);

/// The tensors of a file (or any named tensors) as a state dict, leaving out the names in `skip`.
nn::StateDict<float> to_state_dict(const std::vector<NamedTensor>& tensors,
                                   const std::set<std::string>& skip = {});

/// Writes the module's state dict, then `extra` tensors (e.g. an input's mean image), with the
/// metadata in the header, atomically. Throws std::runtime_error naming the file.
void save(const nn::Module<float>& module, const std::filesystem::path& file,
          const std::map<std::string, std::string>& metadata = {},
          const std::vector<NamedTensor>& extra = {});

/// Loads a file's state dict into the module (load_state_dict with `strict`; the names in
/// `extra` may be in the file without being in the module) and returns the whole file, for its
/// metadata and extra tensors. Throws DataError naming the file and every tensor that is wrong
/// (corrupt, missing, unexpected, mis-shaped).
SafetensorsFile load(nn::Module<float>& module, const std::filesystem::path& file,
                     bool strict = true, const std::set<std::string>& extra = {});

}  // namespace nabla

/// \file
/// Lookahead-style weight averaging, as airbench's LookaheadState: an average of the model's
/// whole state (parameters and buffers such as batch norm's running statistics; not counts) that
/// the model is pulled back to. Every few steps, update(decay) moves the average towards the
/// model, average += (1 - decay) (model - average), and then copies it into the model.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "nabla/nn/module.h"

namespace nabla::optim {

/// An average of a module's state that the module is reset to on each update.
template <typename T>
class Lookahead {
 public:
  /// Starts the average at the module's current state. The module must outlive this object.
  explicit Lookahead(nn::Module<T>& model);
  /// average += (1 - decay) (state - average), then state = average, for every entry; decay in
  /// [0, 1] (1 resets the model to the average). Throws std::invalid_argument otherwise, or when
  /// the model's state no longer has the entries and shapes the average began with.
  void update(double decay);
  /// The average's tensors, named as the state dict's entries.
  const std::vector<std::pair<std::string, Tensor<T>>>& average() const { return average_; }
  /// Restores a saved average (from average()); throws std::invalid_argument when an entry is
  /// missing or mis-shaped.
  void load_average(const std::map<std::string, Tensor<T>>& tensors);

 private:
  nn::Module<T>& model_;
  std::vector<std::pair<std::string, Tensor<T>>> average_;
};

}  // namespace nabla::optim

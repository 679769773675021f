#include "nabla/nn/module.h"

#include <algorithm>
#include <map>

#include "nabla/error.h"

namespace nabla::nn {

template <typename T>
std::vector<std::pair<std::string, Variable<T>>> Module<T>::named_parameters() const {
  auto out = params_;
  for (const auto& [name, child] : children_) {
    for (auto& entry : child->named_parameters()) {
      // A parameter shared by two modules (tied weights) is listed once, under its first name,
      // as PyTorch does: an optimizer must not update it twice. (No structured binding here:
      // clang 14, which builds the fuzzers, cannot capture one in a lambda.)
      const auto& node = entry.second.node();
      const bool seen = std::any_of(out.begin(), out.end(),
                                    [&node](const auto& e) { return e.second.node() == node; });
      if (!seen) out.emplace_back(name + "." + entry.first, entry.second);
    }
  }
  return out;
}

template <typename T>
void Module<T>::check_new_name(const std::string& name) const {
  const bool taken =
      std::any_of(params_.begin(), params_.end(), [&](const auto& e) { return e.first == name; }) ||
      std::any_of(buffers_.begin(), buffers_.end(), [&](const auto& e) { return e.name == name; }) ||
      std::any_of(children_.begin(), children_.end(), [&](const auto& e) { return e.first == name; });
  if (name.empty() || name.find('.') != std::string::npos || taken) {
    throw ConfigError("module: the name '" + name + "' is " +
                      (taken ? "taken already" : "not a name (empty, or with a dot)"));
  }
}

template <typename T>
std::vector<Variable<T>> Module<T>::parameters() const {
  std::vector<Variable<T>> out;
  for (auto& [name, p] : named_parameters()) out.push_back(p);
  return out;
}

template <typename T>
std::vector<std::pair<std::string, Tensor<T>>> Module<T>::named_buffers() const {
  std::vector<std::pair<std::string, Tensor<T>>> out;
  for (const auto& b : buffers_) out.emplace_back(b.name, b.value);
  for (const auto& [name, child] : children_) {
    for (auto& [sub, b] : child->named_buffers()) out.emplace_back(name + "." + sub, b);
  }
  return out;
}

template <typename T>
StateDict<T> Module<T>::state_dict() const {
  StateDict<T> out;
  for (const auto& [name, p] : params_) out.push_back({name, p.value(), BufferKind::kValue});
  for (const auto& b : buffers_) out.push_back(b);
  for (const auto& [name, child] : children_) {
    for (auto& e : child->state_dict()) out.push_back({name + "." + e.name, e.value, e.kind});
  }
  return out;
}

template <typename T>
void Module<T>::load_state_dict(const StateDict<T>& dict, bool strict) {
  std::map<std::string, const StateEntry<T>*> given;
  for (const auto& e : dict) {
    if (!given.emplace(e.name, &e).second) {
      throw ConfigError("load_state_dict: " + e.name + " is given twice");
    }
  }
  // Every problem, by name, in one message: "missing a.b; unexpected c; d has shape [..], expected [..]".
  std::string problems;
  const StateDict<T> own = state_dict();
  for (const auto& e : own) {
    const auto it = given.find(e.name);
    if (it == given.end()) {
      if (strict && e.kind != BufferKind::kCount) problems += "; missing " + e.name;
    } else if (it->second->value.shape() != e.value.shape()) {
      problems += "; " + e.name + " has shape " + shape_str(it->second->value.shape()) +
                  ", expected " + shape_str(e.value.shape());
    }
  }
  for (const auto& e : dict) {
    const bool known = std::any_of(own.begin(), own.end(),
                                   [&e](const StateEntry<T>& o) { return o.name == e.name; });
    if (strict && !known) problems += "; unexpected " + e.name;
  }
  if (!problems.empty()) throw ConfigError("load_state_dict: " + problems.substr(2));
  for (const auto& e : own) {
    Tensor<T> dst = e.value;  // shares the module's storage
    const auto it = given.find(e.name);
    if (it == given.end()) {
      if (e.kind == BufferKind::kCount) dst.fill(T(0));
      continue;
    }
    const auto src = it->second->value.values();
    std::copy(src.begin(), src.end(), dst.values().begin());
  }
}

template <typename T>
void Module<T>::train(bool mode) {
  training_ = mode;
  for (auto& [name, child] : children_) child->train(mode);
}

template <typename T>
void Module<T>::zero_grad() {
  for (auto& p : parameters()) p.zero_grad();
}

template <typename T>
Variable<T> Module<T>::register_parameter(std::string name, Tensor<T> value) {
  check_new_name(name);
  Variable<T> p(std::move(value), true);
  params_.emplace_back(std::move(name), p);
  return p;
}

template <typename T>
Tensor<T> Module<T>::register_buffer(std::string name, Tensor<T> value, BufferKind kind) {
  check_new_name(name);
  buffers_.push_back({std::move(name), value, kind});
  return value;
}

template class Module<float>;
template class Module<double>;

}  // namespace nabla::nn

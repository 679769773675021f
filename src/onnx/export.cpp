// ONNX export (include/nabla/onnx.h) with ONNX's own protobuf classes, checker and shape
// inference (Debian's libonnx-dev). Each layer type has an exporter, found by its exact type
// (the caller's in ExportOptions::layers first, then nabla's own table); the builder walks the
// model through it, running nabla's forward on an example alongside so that every layer's output
// shape is known (AdaptiveAvgPool2d needs its input's).

#include <cxxabi.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "nabla/error.h"
#include "nabla/io/safetensors.h"
#include "nabla/nn/adaptive_avgpool2d.h"
#include "nabla/nn/airbench.h"
#include "nabla/nn/avgpool2d.h"
#include "nabla/nn/batchnorm.h"
#include "nabla/nn/batchnorm1d.h"
#include "nabla/nn/batchnorm2d.h"
#include "nabla/nn/conv2d.h"
#include "nabla/nn/convnet.h"
#include "nabla/nn/dropout.h"
#include "nabla/nn/flatten.h"
#include "nabla/nn/gelu.h"
#include "nabla/nn/leaky_relu.h"
#include "nabla/nn/linear.h"
#include "nabla/nn/maxpool2d.h"
#include "nabla/nn/mlp.h"
#include "nabla/nn/relu.h"
#include "nabla/nn/residual.h"
#include "nabla/nn/scale.h"
#include "nabla/nn/sequential.h"
#include "nabla/onnx.h"

namespace nabla::onnx {

Attribute Attribute::integer(std::string name, int64_t value) {
  Attribute a;
  a.name = std::move(name);
  a.kind = Kind::kInt;
  a.i = value;
  return a;
}

Attribute Attribute::real(std::string name, float value) {
  Attribute a;
  a.name = std::move(name);
  a.kind = Kind::kFloat;
  a.f = value;
  return a;
}

Attribute Attribute::integers(std::string name, std::vector<int64_t> values) {
  Attribute a;
  a.name = std::move(name);
  a.kind = Kind::kInts;
  a.ints = std::move(values);
  return a;
}

namespace {

using Module = nn::Module<float>;

std::string type_name(const Module& m) {
  const char* mangled = typeid(m).name();
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  return status == 0 && demangled ? demangled.get() : mangled;
}

std::string display(const std::string& name) { return name.empty() ? "(the model)" : name; }

// "prefix.rest" or "rest" at the top.
std::string child_name(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

template <typename M>
M& as(Module& m) {
  return static_cast<M&>(m);
}

std::string linear(Module& m, const std::string& name, const std::string& in, GraphBuilder& g) {
  auto& l = as<nn::Linear<float>>(m);
  std::vector<std::string> inputs{in, g.constant(child_name(name, "weight"), l.weight().value())};
  if (l.bias().defined()) inputs.push_back(g.constant(child_name(name, "bias"), l.bias().value()));
  return g.node("Gemm", name, inputs, {Attribute::integer("transB", 1)});
}

std::string conv2d(Module& m, const std::string& name, const std::string& in, GraphBuilder& g) {
  auto& c = as<nn::Conv2d<float>>(m);
  std::vector<std::string> inputs{in, g.constant(child_name(name, "weight"), c.weight().value())};
  if (c.bias().defined()) inputs.push_back(g.constant(child_name(name, "bias"), c.bias().value()));
  const auto p = c.pads();
  return g.node("Conv", name, inputs,
                {Attribute::integers("kernel_shape", {c.kernel(), c.kernel()}),
                 Attribute::integers("strides", {c.stride(), c.stride()}),
                 Attribute::integers("pads", {p[0], p[1], p[2], p[3]})});
}

// BatchNorm1d and BatchNorm2d in inference form: the running statistics.
std::string batchnorm_running(Module& m, const std::string& name, const std::string& in,
                              GraphBuilder& g) {
  const BatchNormStats<float> s = as<nn::BatchNorm2d<float>>(m).stats();
  const int64_t channels = s.running_mean.numel();
  const auto or_fill = [&](const Tensor<float>& t, float v) {
    return t.empty() ? Tensor<float>::full({channels}, v) : t;
  };
  return g.node("BatchNormalization", name,
                {in, g.constant(child_name(name, "weight"), or_fill(s.gamma, 1.0F)),
                 g.constant(child_name(name, "bias"), or_fill(s.beta, 0.0F)),
                 g.constant(child_name(name, "running_mean"), s.running_mean),
                 g.constant(child_name(name, "running_var"), s.running_var)},
                {Attribute::real("epsilon", s.eps)});
}

// The report's batch norms of (B, C), which normalise by the batch's own statistics also at
// evaluation: gamma (x - mean) / sqrt(var + eps) + beta, mean and biased var over the batch.
std::string batchnorm_batch_stats(Module& m, const std::string& name, const std::string& in,
                                  GraphBuilder& g) {
  auto& bn = as<nn::BatchNormParameters<float>>(m);
  const Attribute axes = Attribute::integers("axes", {0});
  const std::string mean = g.node("ReduceMean", name + ".mean", {in}, {axes});
  const std::string centred = g.node("Sub", name + ".centred", {in, mean});
  const std::string square = g.node("Mul", name + ".square", {centred, centred});
  const std::string var = g.node("ReduceMean", name + ".var", {square}, {axes});
  const std::string eps = g.constant(name + ".eps", Tensor<float>({1}, {bn.eps()}));
  const std::string std =
      g.node("Sqrt", name + ".std", {g.node("Add", name + ".var_eps", {var, eps})});
  const std::string xhat = g.node("Div", name + ".xhat", {centred, std});
  const std::string scaled = g.node(
      "Mul", name + ".scaled", {xhat, g.constant(child_name(name, "weight"), bn.gamma().value())});
  return g.node("Add", name, {scaled, g.constant(child_name(name, "bias"), bn.beta().value())});
}

std::string gelu(Module&, const std::string& name, const std::string& in, GraphBuilder& g) {
  // x Phi(x) = x (1 + erf(x / sqrt 2)) / 2, as PyTorch exports the exact GELU before opset 20.
  const std::string scaled =
      g.node("Div", name + ".scaled",
             {in, g.constant(name + ".sqrt2", Tensor<float>({1}, {std::sqrt(2.0F)}))});
  const std::string erf = g.node("Erf", name + ".erf", {scaled});
  const std::string one_plus = g.node("Add", name + ".one_plus",
                                      {erf, g.constant(name + ".one", Tensor<float>({1}, {1.0F}))});
  const std::string times_x = g.node("Mul", name + ".times_x", {in, one_plus});
  return g.node("Mul", name, {times_x, g.constant(name + ".half", Tensor<float>({1}, {0.5F}))});
}

template <typename Pool>
std::vector<Attribute> pool_attributes(const Pool& p) {
  return {Attribute::integers("kernel_shape", {p.kernel(), p.kernel()}),
          Attribute::integers("strides", {p.stride(), p.stride()}),
          Attribute::integers("pads", {p.pad(), p.pad(), p.pad(), p.pad()})};
}

std::string adaptive_avgpool(Module& m, const std::string& name, const std::string& in,
                             GraphBuilder& g) {
  auto& p = as<nn::AdaptiveAvgPool2d<float>>(m);
  if (p.out_h() == 1 && p.out_w() == 1) return g.node("GlobalAveragePool", name, {in});
  const Shape s = g.shape_of(in);
  if (s.size() != 4 || s[2] % p.out_h() != 0 || s[3] % p.out_w() != 0) {
    throw ConfigError("onnx export: AdaptiveAvgPool2d " + display(name) + " to " +
                      std::to_string(p.out_h()) + "x" + std::to_string(p.out_w()) + " of input " +
                      shape_str(s) +
                      " has windows of different sizes, which ONNX's AveragePool cannot express");
  }
  const int64_t kh = s[2] / p.out_h(), kw = s[3] / p.out_w();
  return g.node(
      "AveragePool", name, {in},
      {Attribute::integers("kernel_shape", {kh, kw}), Attribute::integers("strides", {kh, kw})});
}

std::string residual(Module& m, const std::string& name, const std::string& in, GraphBuilder& g) {
  auto& r = as<nn::Residual<float>>(m);
  const std::string shortcut =
      r.shortcut() ? g.layer(*r.shortcut(), child_name(name, "shortcut"), in) : in;
  const std::string body = g.layer(r.body(), child_name(name, "body"), in);
  return g.node("Add", name.empty() ? "residual" : name, {shortcut, body});
}

std::string mlp(Module& m, const std::string& name, const std::string& in, GraphBuilder& g) {
  nn::Flatten<float> flatten;  // MLP::forward flattens its input first
  return sequential_layers(m, name, g.layer(flatten, child_name(name, "flatten"), in), g);
}

// The exporters of nabla's own layers.
std::unordered_map<std::type_index, LayerExporter> builtin_exporters() {
  std::unordered_map<std::type_index, LayerExporter> e;
  const auto op = [](const char* op_type) {
    return [op_type](Module&, const std::string& name, const std::string& in, GraphBuilder& g) {
      return g.node(op_type, name, {in});
    };
  };
  e[typeid(nn::Sequential<float>)] = sequential_layers;
  e[typeid(nn::ConvNet<float>)] = sequential_layers;
  e[typeid(nn::AirbenchNet<float>)] = sequential_layers;
  e[typeid(nn::MLP<float>)] = mlp;
  e[typeid(nn::Residual<float>)] = residual;
  e[typeid(nn::Linear<float>)] = linear;
  e[typeid(nn::Conv2d<float>)] = conv2d;
  e[typeid(nn::BatchNorm2d<float>)] = batchnorm_running;
  e[typeid(nn::BatchNorm1d<float>)] = batchnorm_running;
  e[typeid(nn::CustomBatchNormAutograd<float>)] = batchnorm_batch_stats;
  e[typeid(nn::CustomBatchNormManualModule<float>)] = batchnorm_batch_stats;
  e[typeid(nn::ReLU<float>)] = op("Relu");
  e[typeid(nn::GELU<float>)] = gelu;
  e[typeid(nn::LeakyReLU<float>)] = [](Module& m, const std::string& name, const std::string& in,
                                       GraphBuilder& g) {
    return g.node("LeakyRelu", name, {in},
                  {Attribute::real("alpha", as<nn::LeakyReLU<float>>(m).negative_slope())});
  };
  e[typeid(nn::MaxPool2d<float>)] = [](Module& m, const std::string& name, const std::string& in,
                                       GraphBuilder& g) {
    return g.node("MaxPool", name, {in}, pool_attributes(as<nn::MaxPool2d<float>>(m)));
  };
  e[typeid(nn::AvgPool2d<float>)] = [](Module& m, const std::string& name, const std::string& in,
                                       GraphBuilder& g) {
    auto attributes = pool_attributes(as<nn::AvgPool2d<float>>(m));
    attributes.push_back(Attribute::integer("count_include_pad", 1));
    return g.node("AveragePool", name, {in}, attributes);
  };
  e[typeid(nn::AdaptiveAvgPool2d<float>)] = adaptive_avgpool;
  e[typeid(nn::Flatten<float>)] = [](Module&, const std::string& name, const std::string& in,
                                     GraphBuilder& g) {
    return g.node("Flatten", name, {in}, {Attribute::integer("axis", 1)});
  };
  e[typeid(nn::Dropout<float>)] = [](Module&, const std::string&, const std::string& in,
                                     GraphBuilder&) { return in; };
  e[typeid(nn::Scale<float>)] = [](Module& m, const std::string& name, const std::string& in,
                                   GraphBuilder& g) {
    const float factor = as<nn::Scale<float>>(m).factor();
    return g.node("Mul", name, {in, g.constant(name + ".factor", Tensor<float>({1}, {factor}))});
  };
  return e;
}

// The exporter of m's exact type: the caller's, else nabla's own, else none.
LayerExporter find_exporter(const Module& m, const std::map<std::type_index, LayerExporter>& own) {
  static const std::unordered_map<std::type_index, LayerExporter> builtin = builtin_exporters();
  const std::type_index type(typeid(m));
  if (const auto it = own.find(type); it != own.end()) return it->second;
  const auto it = builtin.find(type);
  return it == builtin.end() ? LayerExporter{} : it->second;
}

// Runs a module on an example without recording the graph.
Tensor<float> run(Module& m, const Tensor<float>& x) {
  NoGradGuard no_grad;
  return m.forward(Variable<float>(x)).value();
}

class Builder final : public GraphBuilder {
 public:
  Builder(::onnx::GraphProto& graph, const std::map<std::type_index, LayerExporter>& layers)
      : graph_(graph), layers_(layers) {}

  std::string constant(const std::string& hint, const Tensor<float>& value) override {
    ::onnx::TensorProto* t = graph_.add_initializer();
    const std::string name = unique(hint);
    t->set_name(name);
    t->set_data_type(::onnx::TensorProto::FLOAT);
    for (int64_t d : value.shape()) t->add_dims(d);
    t->set_raw_data(value.data(), static_cast<size_t>(value.numel()) * sizeof(float));
    return name;
  }

  std::string node(const std::string& op, const std::string& hint,
                   const std::vector<std::string>& inputs,
                   const std::vector<Attribute>& attributes) override {
    ::onnx::NodeProto* n = graph_.add_node();
    const std::string name = unique(hint.empty() ? op : hint);
    n->set_op_type(op);
    n->set_name(name);
    for (const std::string& in : inputs) n->add_input(in);
    n->add_output(name);
    for (const Attribute& a : attributes) {
      ::onnx::AttributeProto* p = n->add_attribute();
      p->set_name(a.name);
      switch (a.kind) {
        case Attribute::Kind::kInt:
          p->set_type(::onnx::AttributeProto::INT);
          p->set_i(a.i);
          break;
        case Attribute::Kind::kFloat:
          p->set_type(::onnx::AttributeProto::FLOAT);
          p->set_f(a.f);
          break;
        case Attribute::Kind::kInts:
          p->set_type(::onnx::AttributeProto::INTS);
          for (int64_t v : a.ints) p->add_ints(v);
          break;
        case Attribute::Kind::kString:
          p->set_type(::onnx::AttributeProto::STRING);
          p->set_s(a.s);
          break;
      }
    }
    return name;
  }

  std::string layer(Module& m, const std::string& name, const std::string& input) override {
    const LayerExporter exporter = find_exporter(m, layers_);
    if (!exporter) {
      throw ConfigError("onnx export: cannot export " + display(name) + " of type " + type_name(m) +
                        ": no exporter knows it (ExportOptions::add_layer gives one)");
    }
    const std::string out = exporter(m, name, input, *this);
    // The output's example, for the layers after this one that need a shape.
    if (const auto it = examples_.find(input); it != examples_.end() && !examples_.count(out)) {
      const Tensor<float> x = it->second;
      examples_[out] = run(m, x);
    }
    return out;
  }

  Shape shape_of(const std::string& value) const override {
    const auto it = examples_.find(value);
    if (it == examples_.end()) {
      throw ConfigError("onnx export: the shape of '" + value +
                        "' is not known (only the model input's and layer outputs' are)");
    }
    return it->second.shape();
  }

  void set_example(const std::string& value, Tensor<float> example) {
    examples_[value] = std::move(example);
  }

  // A name no value, node or initializer of the graph has yet, from hint.
  std::string unique(const std::string& hint) {
    std::string name = hint;
    for (int k = 1; !used_.insert(name).second; ++k) name = hint + "_" + std::to_string(k);
    return name;
  }

 private:
  ::onnx::GraphProto& graph_;
  const std::map<std::type_index, LayerExporter>& layers_;
  std::set<std::string> used_;
  std::map<std::string, Tensor<float>> examples_;
};

void set_value_info(::onnx::ValueInfoProto* v, const std::string& name, const Shape& shape) {
  v->set_name(name);
  auto* tensor = v->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(::onnx::TensorProto::FLOAT);
  auto* dims = tensor->mutable_shape();
  dims->add_dim()->set_dim_param("batch");
  for (size_t i = 1; i < shape.size(); ++i) dims->add_dim()->set_dim_value(shape[i]);
}

// Each module's training flag, in pre-order, to restore after exporting in eval mode: setting
// them parent first (train() sets the whole subtree) leaves every module as it was.
void record_modes(Module& m, std::vector<std::pair<Module*, bool>>& modes) {
  modes.emplace_back(&m, m.training());
  for (const auto& [name, child] : m.named_children()) record_modes(*child, modes);
}

// Checks that t broadcasts against one example (shape without the batch dimension).
void check_broadcast(const Tensor<float>& t, const Shape& example, const char* what) {
  const Shape& s = t.shape();
  bool fits = s.size() <= example.size();
  for (size_t i = 0; fits && i < s.size(); ++i) {
    const int64_t e = example[example.size() - s.size() + i];
    fits = s[i] == 1 || s[i] == e;
  }
  if (!fits) {
    throw ConfigError(std::string("onnx export: normalization.") + what + " " + shape_str(s) +
                      " does not broadcast against the input " + shape_str(example));
  }
}

// The value `name` renamed `to` in every node; `name` is a node output.
void rename_value(::onnx::GraphProto& graph, const std::string& name, const std::string& to) {
  for (auto& n : *graph.mutable_node()) {
    for (auto& in : *n.mutable_input()) {
      if (in == name) in = to;
    }
    for (auto& out : *n.mutable_output()) {
      if (out == name) out = to;
    }
  }
}

bool is_node_output(const ::onnx::GraphProto& graph, const std::string& name) {
  for (const auto& n : graph.node()) {
    for (const auto& out : n.output()) {
      if (out == name) return true;
    }
  }
  return false;
}

::onnx::ModelProto build_model(Module& module, const Shape& example_shape,
                               const ExportOptions& options) {
  if (example_shape.size() < 2 || example_shape[0] < 1 ||
      std::any_of(example_shape.begin(), example_shape.end(), [](int64_t d) { return d < 1; })) {
    throw ConfigError("onnx export: the example input shape " + shape_str(example_shape) +
                      " must be (N, ...) with N >= 1 and every size >= 1");
  }
  if (options.input_name.empty() || options.output_name.empty() ||
      options.input_name == options.output_name) {
    throw ConfigError(
        "onnx export: the input and output names must be two different non-empty names");
  }
  const Shape example(example_shape.begin() + 1, example_shape.end());
  if (!options.normalization.subtract.empty()) {
    check_broadcast(options.normalization.subtract, example, "subtract");
  }
  if (!options.normalization.divide.empty()) {
    check_broadcast(options.normalization.divide, example, "divide");
  }
  ::onnx::ModelProto model;
  model.set_ir_version(8);  // ONNX 1.12's, the first to know opset 17: any newer runtime reads it
  model.set_producer_name("nabla");
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpset);
  ::onnx::GraphProto& graph = *model.mutable_graph();
  graph.set_name("nabla");
  Builder builder(graph, options.layers);
  GraphBuilder& g = builder;
  builder.unique(options.input_name);
  builder.unique(options.output_name);
  set_value_info(graph.add_input(), options.input_name, example_shape);

  // Normalised input, as nabla's data pipeline computes it.
  std::string value = options.input_name;
  Tensor<float> x = Tensor<float>::zeros(example_shape);
  if (!options.normalization.subtract.empty()) {
    value = g.node("Sub", "normalize.subtract",
                   {value, builder.constant("normalize.mean", options.normalization.subtract)});
  }
  if (!options.normalization.divide.empty()) {
    value = g.node("Div", "normalize.divide",
                   {value, builder.constant("normalize.std", options.normalization.divide)});
  }
  builder.set_example(value, x);
  Tensor<float> y;
  try {
    y = run(module, x);
  } catch (const std::invalid_argument& e) {
    throw ConfigError("onnx export: the model does not take inputs of shape " +
                      shape_str(example_shape) + " (" + e.what() + ")");
  }
  value = g.layer(module, "", value);
  if (value == options.input_name || !is_node_output(graph, value)) {
    g.node("Identity", options.output_name, {value});
  } else {
    rename_value(graph, value, options.output_name);
  }
  set_value_info(graph.add_output(), options.output_name, y.shape());

  if (!options.class_names.empty()) {
    auto* p = model.add_metadata_props();
    p->set_key("classes");
    p->set_value(nlohmann::json(options.class_names).dump());
  }
  for (const auto& [key, v] : options.metadata) {
    auto* p = model.add_metadata_props();
    p->set_key(key);
    p->set_value(v);
  }
  return model;
}

}  // namespace

std::string sequential_layers(Module& layer, const std::string& name, const std::string& input,
                              GraphBuilder& graph) {
  std::string value = input;
  for (const auto& [child, module] : layer.named_children()) {
    value = graph.layer(*module, child_name(name, child), value);
  }
  return value;
}

void export_model(Module& module, const Shape& example_input_shape,
                  const std::filesystem::path& file, const ExportOptions& options) {
  std::vector<std::pair<Module*, bool>> modes;
  record_modes(module, modes);
  module.eval();
  ::onnx::ModelProto model;
  try {
    model = build_model(module, example_input_shape, options);
  } catch (...) {
    for (const auto& [m, mode] : modes) m->train(mode);
    throw;
  }
  for (const auto& [m, mode] : modes) m->train(mode);

  const std::string where = file.string();
  try {
    ::onnx::checker::check_model(model);
    ::onnx::ShapeInferenceOptions strict{/*check_type=*/true, /*error_mode=*/1};
    ::onnx::shape_inference::InferShapes(model, ::onnx::OpSchemaRegistry::Instance(), strict);
  } catch (const std::exception& e) {
    throw std::runtime_error(where + ": ONNX's checker rejects the exported graph: " + e.what());
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) {
    throw std::runtime_error(where + ": the ONNX model does not serialise (over 2 GB?)");
  }
  write_file_atomic(file, bytes);
}

}  // namespace nabla::onnx

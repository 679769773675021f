/// \file
/// ONNX export: a float32 model built from nabla's layers as an ONNX file (opset 17, a dynamic
/// batch dimension) that ONNX Runtime, or any other ONNX consumer, runs with nabla's answers.
/// The file is made with ONNX's own protobuf classes and passes ONNX's checker and its strict
/// shape inference before anything is written.
///
///   nabla::onnx::ExportOptions options;
///   options.class_names = {"cat", "dog"};
///   nabla::onnx::export_model(model, {1, 3, 32, 32}, "model.onnx", options);
///
/// Every layer of nabla::nn exports (BatchNorm1d and BatchNorm2d in their inference form, as
/// PyTorch exports them; the report's batch-statistics batch norms of nn/batchnorm.h as the same
/// computation over whatever batch the runtime is given, as nabla evaluates them: a batch of one
/// image then normalises to beta; Dropout as the identity); a container exports child by child. A
/// module of another type (a user's own layer, or a subclass of Sequential whose forward may
/// differ) is refused with an error naming it, unless ExportOptions::add_layer gave the export its
/// nodes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <typeindex>
#include <utility>
#include <vector>

#include "nabla/nn/module.h"
#include "nabla/tensor.h"

namespace nabla::onnx {

/// The ONNX operator set the files use.
inline constexpr int64_t kOpset = 17;

/// One attribute of a node: an integer, a float, a list of integers or a string.
struct Attribute {
  /// Which of the values holds the attribute.
  enum class Kind { kInt, kFloat, kInts, kString };
  std::string name;           ///< the operator's attribute name, e.g. "strides"
  Kind kind = Kind::kInt;     ///< which value is set
  int64_t i = 0;              ///< kInt
  float f = 0;                ///< kFloat
  std::vector<int64_t> ints;  ///< kInts
  std::string s;              ///< kString
  /// An integer attribute.
  static Attribute integer(std::string name, int64_t value);
  /// A float attribute.
  static Attribute real(std::string name, float value);
  /// A list of integers.
  static Attribute integers(std::string name, std::vector<int64_t> values);
};

class GraphBuilder;

/// Adds the nodes of one layer: from the graph value `input` (its name) to the returned output
/// value's name. `name` is the layer's dotted name in the model ("features.0"), for node names.
using LayerExporter = std::function<std::string(nn::Module<float>& layer, const std::string& name,
                                                const std::string& input, GraphBuilder& graph)>;

/// What Sequential exports: every child in turn. A subclass of Sequential that only adds its
/// layers in its constructor exports with options.add_layer<MyNet>(onnx::sequential_layers).
std::string sequential_layers(nn::Module<float>& layer, const std::string& name,
                              const std::string& input, GraphBuilder& graph);

/// The graph being built, as layer exporters see it. Opaque otherwise (ONNX's classes stay in
/// the library).
class GraphBuilder {
 public:
  /// Adds a float constant (an initializer) named after `hint`; returns its name.
  virtual std::string constant(const std::string& hint, const Tensor<float>& value) = 0;
  /// Adds a node of ONNX operator `op` (default domain) named after `hint`, with its inputs and
  /// attributes; returns the name of its one output.
  virtual std::string node(const std::string& op, const std::string& hint,
                           const std::vector<std::string>& inputs,
                           const std::vector<Attribute>& attributes = {}) = 0;
  /// The nodes of `layer`, a child named `name`, from `input`: its registered exporter. Throws
  /// ConfigError naming the layer and its type when none can export it.
  virtual std::string layer(nn::Module<float>& layer, const std::string& name,
                            const std::string& input) = 0;
  /// The shape of a value that the model input or a layer made, as nabla computes it for the
  /// example input (its first dimension the example's batch). Throws ConfigError for a value
  /// made by a node inside a layer (the layer() that returned it knows its shape).
  virtual Shape shape_of(const std::string& value) const = 0;

 protected:
  ~GraphBuilder() = default;
};

/// What the graph does to its input before the model: (x - subtract) / divide, each tensor
/// broadcast against one example without its batch dimension ((C, H, W), or (C, 1, 1) for one
/// value per channel); an empty tensor skips its step. With it, the exported model takes the
/// raw pixel values that nabla's data sets hold.
struct InputNormalization {
  Tensor<float> subtract;  ///< subtracted first (a mean image or per-channel means), or empty
  Tensor<float> divide;    ///< then divided by (per-channel standard deviations), or empty
};

/// The optional settings of export_model.
struct ExportOptions {
  std::string input_name = "input";    ///< the graph's input, (batch, example shape...)
  std::string output_name = "output";  ///< the graph's output, (batch, ...)
  InputNormalization normalization;    ///< preprocessing done inside the graph
  /// Stored in the model's metadata as "classes", a JSON list of the names by label.
  std::vector<std::string> class_names;
  /// More metadata_props (key, value), e.g. the data set's name.
  std::vector<std::pair<std::string, std::string>> metadata;
  /// Exporters of layer types nabla's own do not cover, by exact type (a user's layer, or a
  /// container whose forward is not Sequential's); they come before the built-in ones.
  std::map<std::type_index, LayerExporter> layers;
  /// Teaches the export the nodes of modules whose type is exactly M.
  template <typename M>
  void add_layer(LayerExporter exporter) {
    layers[std::type_index(typeid(M))] = std::move(exporter);
  }
};

/// Writes `module` as an ONNX file: input (batch, example_input_shape without its first
/// dimension) float32, the batch dimension dynamic, output named options.output_name.
/// BatchNorm1d/2d export in inference form (running statistics) whatever the module's mode; the
/// module's modes are as they were afterwards. example_input_shape (N, ...) with N >= 1 must be an
/// input the model accepts: nabla runs the model on zeros of that shape first. Throws ConfigError
/// naming the layer that cannot be exported, std::runtime_error naming the file when ONNX's
/// checker rejects the graph or the file cannot be written; nothing is written then (the file is
/// written whole to a temporary name, flushed and renamed: write_file_atomic).
void export_model(nn::Module<float>& module, const Shape& example_input_shape,
                  const std::filesystem::path& file, const ExportOptions& options = {});

}  // namespace nabla::onnx

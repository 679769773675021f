#include "nabla/data/dataset.h"

#include <cstring>
#include <stdexcept>

#include "nabla/error.h"

namespace nabla {

LabeledImages gather(const LabeledImages& data, const std::vector<int64_t>& indices) {
  Shape shape = data.images.shape();
  const int64_t n = shape.empty() ? 0 : shape[0];
  const int64_t row = n > 0 ? data.images.numel() / n : 0;
  shape[0] = static_cast<int64_t>(indices.size());
  LabeledImages out{Tensor<float>::uninitialized(shape), {}};
  out.labels.reserve(indices.size());
  float* dst = out.images.data();
  for (int64_t idx : indices) {
    if (idx < 0 || idx >= n) {
      throw std::out_of_range("example " + std::to_string(idx) + " of " + std::to_string(n));
    }
    std::memcpy(dst, data.images.data() + idx * row, sizeof(float) * static_cast<size_t>(row));
    dst += row;
    out.labels.push_back(data.labels[static_cast<size_t>(idx)]);
  }
  return out;
}

LabeledImages split_front(LabeledImages& data, int64_t n) {
  const int64_t total = data.images.dim(0);
  if (n < 0 || n >= total) {
    throw std::invalid_argument("validation size " + std::to_string(n) + " must be in 0.." +
                                std::to_string(total - 1));
  }
  LabeledImages front{data.images.slice_rows(0, n),
                      std::vector<int32_t>(data.labels.begin(), data.labels.begin() + n)};
  data = {data.images.slice_rows(n, total),
          std::vector<int32_t>(data.labels.begin() + n, data.labels.end())};
  return front;
}

namespace data {

LabeledImages Dataset::get_batch(const std::vector<int64_t>& indices) const {
  Shape shape = example_shape();
  const int64_t row = shape_numel(shape);
  shape.insert(shape.begin(), static_cast<int64_t>(indices.size()));
  LabeledImages out{Tensor<float>::uninitialized(shape), {}};
  out.labels.reserve(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) {
    const Example e = get(indices[i]);
    if (e.image.numel() != row) {
      throw std::logic_error("example " + std::to_string(indices[i]) + " has shape " +
                             shape_str(e.image.shape()) + ", not " + shape_str(example_shape()));
    }
    std::memcpy(out.images.data() + static_cast<int64_t>(i) * row, e.image.data(),
                sizeof(float) * static_cast<size_t>(row));
    out.labels.push_back(e.label);
  }
  return out;
}

TensorDataset::TensorDataset(LabeledImages data) : data_(std::move(data)) {
  if (data_.images.rank() != 4 ||
      data_.images.dim(0) != static_cast<int64_t>(data_.labels.size())) {
    throw std::invalid_argument("TensorDataset: images " + shape_str(data_.images.shape()) +
                                " must be (N, C, H, W) with one label each (" +
                                std::to_string(data_.labels.size()) + " labels)");
  }
}

Shape TensorDataset::example_shape() const {
  const Shape& s = data_.images.shape();
  return {s[1], s[2], s[3]};
}

Example TensorDataset::get(int64_t index) const {
  LabeledImages one = gather(data_, {index});
  return {one.images.reshape(example_shape()), one.labels[0]};
}

LabeledImages TensorDataset::get_batch(const std::vector<int64_t>& indices) const {
  return gather(data_, indices);
}

void check_labeled_images(const LabeledImages& data, int64_t classes, const std::string& source) {
  const Shape& s = data.images.shape();
  if (s.size() != 4 || s[0] != static_cast<int64_t>(data.labels.size())) {
    throw DataError(source + ": images " + shape_str(s) + " are not (N, C, H, W) with " +
                    std::to_string(data.labels.size()) + " labels");
  }
  for (size_t i = 0; i < data.labels.size(); ++i) {
    if (data.labels[i] < 0 || data.labels[i] >= classes) {
      throw DataError(source + ": example " + std::to_string(i) + " has label " +
                      std::to_string(data.labels[i]) + ", outside 0.." +
                      std::to_string(classes - 1));
    }
  }
}

}  // namespace data
}  // namespace nabla

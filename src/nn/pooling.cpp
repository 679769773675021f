#include "nabla/nn/adaptive_avgpool2d.h"
#include "nabla/nn/avgpool2d.h"
#include "nabla/nn/maxpool2d.h"
#include "nabla/ops.h"

namespace nabla::nn {

template <typename T>
Variable<T> MaxPool2d<T>::forward(const Variable<T>& x) {
  return max_pool2d(x, kernel_, stride_, pad_);
}

template <typename T>
Variable<T> AvgPool2d<T>::forward(const Variable<T>& x) {
  return avg_pool2d(x, kernel_, stride_, pad_);
}

template <typename T>
Variable<T> AdaptiveAvgPool2d<T>::forward(const Variable<T>& x) {
  return adaptive_avg_pool2d(x, out_h_, out_w_);
}

template class MaxPool2d<float>;
template class MaxPool2d<double>;
template class AvgPool2d<float>;
template class AvgPool2d<double>;
template class AdaptiveAvgPool2d<float>;
template class AdaptiveAvgPool2d<double>;

}  // namespace nabla::nn

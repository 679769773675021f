/// \file
/// Every layer of nabla::nn, for code that wants them all; each has its own header.
#pragma once

#include "nabla/nn/adaptive_avgpool2d.h"
#include "nabla/nn/avgpool2d.h"
#include "nabla/nn/batchnorm1d.h"
#include "nabla/nn/batchnorm2d.h"
#include "nabla/nn/conv2d.h"
#include "nabla/nn/dropout.h"
#include "nabla/nn/flatten.h"
#include "nabla/nn/gelu.h"
#include "nabla/nn/leaky_relu.h"
#include "nabla/nn/linear.h"
#include "nabla/nn/maxpool2d.h"
#include "nabla/nn/relu.h"
#include "nabla/nn/residual.h"
#include "nabla/nn/scale.h"
#include "nabla/nn/sequential.h"

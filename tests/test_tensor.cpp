#include <gtest/gtest.h>

#include "nabla/tensor.h"

TEST(Tensor, Placeholder) { EXPECT_EQ(nabla::Tensor<float>({2, 3}).numel(), 6); }

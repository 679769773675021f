#include <gtest/gtest.h>

#include "nabla/gradcheck.h"

namespace nabla {
namespace {

// f(x) = sum x_i^3, df/dx_i = 3 x_i^2.
TEST(Gradcheck, AcceptsTheRightGradientAndNamesAWrongOne) {
  Tensor<double> x({4}, {0.5, -1.0, 2.0, 0.25});
  auto f = [&] {
    double s = 0;
    for (double v : x.values()) s += v * v * v;
    return s;
  };
  Tensor<double> good({4});
  for (int i = 0; i < 4; ++i) good[i] = 3 * x[i] * x[i];
  const auto ok = check_gradient(f, x, good, "x");
  EXPECT_TRUE(ok.ok) << ok.message;
  EXPECT_LT(ok.relative_error, 1e-8);
  EXPECT_EQ(x[2], 2.0);  // restored

  Tensor<double> bad = good.clone();
  bad[2] *= 1.001;
  const auto r = check_gradient(f, x, bad, "x");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.worst_index, 2);
  EXPECT_NE(r.message.find("element 2"), std::string::npos) << r.message;
  EXPECT_FALSE(check_gradient(f, x, Tensor<double>({3}), "x").ok);
}

}  // namespace
}  // namespace nabla

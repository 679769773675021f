// Vectorised float32 kernels for the elementwise work of a training step (activations, gradient
// accumulation, optimizer updates, finiteness checks), built for AVX-512, AVX2 and plain x86-64,
// with the best one this CPU supports chosen at run time. NABLA_MAX_ISA=avx2 or generic caps the
// choice. The wrappers below split large arrays across the OpenMP threads. Every instruction
// set and thread count gives the same bits: the kernels are elementwise.
#pragma once

#include <cstdint>
#include <string>

namespace nabla::simd {

struct AdamArgs {
  float beta1, beta2, step_size, bias2_sqrt, eps, weight_decay;
};

// One channel of batch norm: xhat = (x - mean) * inv_std, y = gamma * xhat + beta, then
// max(y, 0) when relu is set. The backward kernels recompute xhat (and the ReLU's mask) from x
// with the same operations, so they see the forward's bits.
struct BatchNormArgs {
  float mean, inv_std, gamma, beta;
  bool relu;
};

// `count` planes of `size` values, `stride` values apart: one channel of an NCHW tensor is
// {N, H * W, C * H * W}.
struct Planes {
  int64_t count, size, stride;
};

struct KernelTable {
  void (*relu_forward)(const float* x, float* y, int64_t n);
  void (*relu_backward)(const float* y, const float* dy, float* dx, int64_t n);
  void (*leaky_relu_forward)(const float* x, float* y, int64_t n, float slope);
  void (*leaky_relu_backward)(const float* x, const float* dy, float* dx, int64_t n, float slope);
  void (*gelu_forward)(const float* x, float* y, int64_t n);
  void (*gelu_backward)(const float* x, const float* dy, float* dx, int64_t n);
  void (*axpy)(float alpha, const float* x, float* y, int64_t n);
  void (*adam)(const AdamArgs& a, float* w, const float* g, float* m, float* v, int64_t n);
  void (*sgd)(float lr, float weight_decay, float* w, const float* g, int64_t n);
  bool (*all_finite)(const float* x, int64_t n);
  // Batch norm works on planes of one channel (Planes). Single-threaded: batch norm calls these
  // from its own threads, one plane at a time (src/tensor/batchnorm_kernels.h). Sums are in
  // double: each plane's in 8 interleaved lanes combined as ((0+1)+(2+3))+((4+5)+(6+7)), the
  // planes' added in order, starting from 0.
  // Sums of x and of (x - mean)^2:
  double (*sum)(const float* x, const Planes& planes);
  double (*sq_dev)(const float* x, const Planes& planes, double mean);
  // y from x; the backward sums of dz and dz * xhat, where dz is dy masked by the ReLU; and
  // dx = scale * (dz - mean_dz - xhat * mean_dz_xhat).
  void (*batch_norm_forward)(const BatchNormArgs& a, const float* x, float* y,
                             const Planes& planes);
  void (*batch_norm_backward_sums)(const BatchNormArgs& a, const float* x, const float* dy,
                                   const Planes& planes, double* sum_dz, double* sum_dz_xhat);
  void (*batch_norm_backward_dx)(const BatchNormArgs& a, const float* x, const float* dy, float* dx,
                                 const Planes& planes, float scale, float mean_dz,
                                 float mean_dz_xhat);
};

enum class Isa { kGeneric, kAvx2, kAvx512 };

std::string isa_name(Isa isa);
// Whether this CPU (and the operating system) can run the kernels built for `isa`.
bool cpu_supports(Isa isa);
// The instruction set in use: the best supported one, capped by NABLA_MAX_ISA.
Isa active_isa();
// Switches the kernels (tests compare the instruction sets); throws when the CPU lacks `isa`.
void set_isa(Isa isa);
const KernelTable& kernels();

// y = relu(x); dx = dy where y > 0, else 0.
void relu_forward(const float* x, float* y, int64_t n);
void relu_backward(const float* y, const float* dy, float* dx, int64_t n);
void leaky_relu_forward(const float* x, float* y, int64_t n, float slope);
void leaky_relu_backward(const float* x, const float* dy, float* dx, int64_t n, float slope);
// Exact GELU up to float rounding (erf from a rational fit, 3.6e-7 at most off): y = x Phi(x);
// dx = dy (Phi(x) + x phi(x)).
void gelu_forward(const float* x, float* y, int64_t n);
void gelu_backward(const float* x, const float* dy, float* dx, int64_t n);
// y += alpha * x.
void axpy(float alpha, const float* x, float* y, int64_t n);
// PyTorch's Adam and SGD (no momentum) updates of one parameter, in place.
void adam(const AdamArgs& a, float* w, const float* g, float* m, float* v, int64_t n);
void sgd(float lr, float weight_decay, float* w, const float* g, int64_t n);
bool all_finite(const float* x, int64_t n);

}  // namespace nabla::simd

// float32 convolution through oneDNN. oneDNN picks its kernels at run time from the CPU's
// instruction sets (AVX-512 here, AVX2 or SSE4.1 elsewhere; ONEDNN_MAX_CPU_ISA caps the choice),
// in its own blocked layouts. nabla's tensors stay plain NCHW / OIHW: each call reorders into
// the layouts the primitive asked for and back. Primitives and their scratch buffers are made
// once per geometry and reused, so a training step allocates no oneDNN memory after the first.
#include "conv_dnnl.h"

#include <omp.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <tuple>

#include "conv_profile.h"
#include "nabla/profile.h"

namespace nabla::detail {

void init_dnnl() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* cap = std::getenv("NABLA_MAX_ISA");
    if (cap == nullptr) return;
    const std::string c = cap;
    if (c == "avx2") dnnl::set_max_cpu_isa(dnnl::cpu_isa::avx2);
    if (c == "generic") dnnl::set_max_cpu_isa(dnnl::cpu_isa::sse41);
  });
}

namespace {

using dnnl::memory;
using Tag = memory::format_tag;

dnnl::engine& cpu_engine() {
  init_dnnl();
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// A buffer in a primitive's chosen layout, with a reorder from and to the plain layout when the
// two differ. `plain` is rebound to the caller's data on every call.
struct Staged {
  memory::desc plain_desc;
  memory internal;
  bool needs_reorder = false;
  dnnl::reorder to_internal, to_plain;

  Staged() = default;
  Staged(const memory::desc& plain, const memory::desc& chosen)
      : plain_desc(plain), needs_reorder(plain != chosen) {
    if (!needs_reorder) return;
    internal = memory(chosen, cpu_engine());
    memory p(plain, cpu_engine(), DNNL_MEMORY_NONE);
    to_internal = dnnl::reorder(p, internal);
    to_plain = dnnl::reorder(internal, p);
  }
  // The memory the primitive reads, filled from `data`.
  memory input(dnnl::stream& s, const float* data) {
    memory p(plain_desc, cpu_engine(), const_cast<float*>(data));
    if (!needs_reorder) return p;
    to_internal.execute(s, p, internal);
    return internal;
  }
  // The memory the primitive writes; finish() copies it to `data`.
  memory output(float* data) {
    return needs_reorder ? internal : memory(plain_desc, cpu_engine(), data);
  }
  void finish(dnnl::stream& s, float* data) {
    if (!needs_reorder) return;
    memory p(plain_desc, cpu_engine(), data);
    to_plain.execute(s, internal, p);
  }
};

struct ConvPrimitives {
  dnnl::convolution_forward forward;
  Staged fwd_src, fwd_weights, fwd_dst;
  // Made on the first backward call.
  bool have_backward = false;
  dnnl::convolution_backward_data backward_data;
  Staged bwd_data_diff_dst, bwd_data_weights, bwd_data_diff_src;
};

// A primitive is made for the thread count at the time (oneDNN plans its work for it), so the
// count is part of the key: a later call on more threads gets a primitive that uses them.
using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                       int64_t, int>;

Key key_of(const Conv2dGeometry& g) {
  return {g.N, g.C, g.H, g.W, g.O, g.KH, g.KW, g.stride, g.pad, omp_get_max_threads()};
}

struct Descs {
  memory::desc src, weights, bias, dst;
  memory::desc any_src, any_weights, any_dst;
  memory::dims strides, padding;
};

Descs descs_of(const Conv2dGeometry& g) {
  const auto f32 = memory::data_type::f32;
  const memory::dims src{g.N, g.C, g.H, g.W}, wei{g.O, g.C, g.KH, g.KW}, dst{g.N, g.O, g.OH, g.OW};
  return {memory::desc(src, f32, Tag::nchw),
          memory::desc(wei, f32, Tag::oihw),
          memory::desc({g.O}, f32, Tag::x),
          memory::desc(dst, f32, Tag::nchw),
          memory::desc(src, f32, Tag::any),
          memory::desc(wei, f32, Tag::any),
          memory::desc(dst, f32, Tag::any),
          {g.stride, g.stride},
          {g.pad, g.pad}};
}

dnnl::convolution_forward::primitive_desc forward_pd(const Descs& d) {
  return dnnl::convolution_forward::primitive_desc(
      {dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, d.any_src,
       d.any_weights, d.bias, d.any_dst, d.strides, d.padding, d.padding},
      cpu_engine());
}

class ConvCache {
 public:
  ConvPrimitives& get(const Conv2dGeometry& g, bool backward) {
    auto [it, fresh] = cache_.try_emplace(key_of(g));
    ConvPrimitives& p = it->second;
    const Descs d = descs_of(g);
    if (fresh) {
      const auto pd = forward_pd(d);
      p.forward = dnnl::convolution_forward(pd);
      p.fwd_src = Staged(d.src, pd.src_desc());
      p.fwd_weights = Staged(d.weights, pd.weights_desc());
      p.fwd_dst = Staged(d.dst, pd.dst_desc());
    }
    if (backward && !p.have_backward) {
      const auto hint = forward_pd(d);
      const dnnl::convolution_backward_data::primitive_desc data_pd(
          {dnnl::algorithm::convolution_direct, d.any_src, d.any_weights, d.any_dst, d.strides,
           d.padding, d.padding},
          cpu_engine(), hint);
      p.backward_data = dnnl::convolution_backward_data(data_pd);
      p.bwd_data_diff_dst = Staged(d.dst, data_pd.diff_dst_desc());
      p.bwd_data_weights = Staged(d.weights, data_pd.weights_desc());
      p.bwd_data_diff_src = Staged(d.src, data_pd.diff_src_desc());
      p.have_backward = true;
    }
    return p;
  }

 private:
  std::map<Key, ConvPrimitives> cache_;
};

struct Backend {
  std::mutex mutex;
  dnnl::stream stream{cpu_engine()};
  ConvCache convs;
};

Backend& backend() {
  static Backend b;
  return b;
}

// A bias (or its gradient) of O floats, as oneDNN memory over the caller's buffer.
memory bias_memory(int64_t O, const float* data) {
  return memory(memory::desc({O}, memory::data_type::f32, Tag::x), cpu_engine(),
                const_cast<float*>(data));
}

// Multiply-adds of one pass (forward, data gradient or weight gradient), counted as two FLOPs.
double pass_flops(const Conv2dGeometry& g) { return direct_conv_flops(g); }

}  // namespace

void conv2d_forward_dnnl(const float* x, const float* weight, const float* bias,
                         const Conv2dGeometry& g, float* y) {
  Backend& b = backend();
  std::lock_guard lock(b.mutex);
  ConvPrimitives& p = b.convs.get(g, false);
  profile::add_flops(pass_flops(g));
  dnnl::stream& s = b.stream;
  std::vector<float> zeros;
  if (bias == nullptr) {
    zeros.assign(static_cast<size_t>(g.O), 0.0F);
    bias = zeros.data();
  }
  memory bias_mem = bias_memory(g.O, bias);
  memory dst = p.fwd_dst.output(y);
  p.forward.execute(s, {{DNNL_ARG_SRC, p.fwd_src.input(s, x)},
                        {DNNL_ARG_WEIGHTS, p.fwd_weights.input(s, weight)},
                        {DNNL_ARG_BIAS, bias_mem},
                        {DNNL_ARG_DST, dst}});
  p.fwd_dst.finish(s, y);
  s.wait();
}

void conv2d_backward_data_dnnl(const float* dy, const float* weight, const Conv2dGeometry& g,
                               float* dx) {
  Backend& b = backend();
  std::lock_guard lock(b.mutex);
  ConvPrimitives& p = b.convs.get(g, true);
  dnnl::stream& s = b.stream;
  profile::add_flops(pass_flops(g));
  memory diff_src = p.bwd_data_diff_src.output(dx);
  p.backward_data.execute(s, {{DNNL_ARG_DIFF_DST, p.bwd_data_diff_dst.input(s, dy)},
                              {DNNL_ARG_WEIGHTS, p.bwd_data_weights.input(s, weight)},
                              {DNNL_ARG_DIFF_SRC, diff_src}});
  p.bwd_data_diff_src.finish(s, dx);
  s.wait();
}

}  // namespace nabla::detail

namespace nabla {

std::string conv_backend_isa() {
  // The implementation oneDNN chooses for a typical layer of the ConvNet, e.g. "jit:avx512_core".
  const detail::Descs d =
      detail::descs_of(conv2d_geometry({32, 64, 16, 16}, {128, 64, 3, 3}, 1, 1));
  return detail::forward_pd(d).impl_info_str();
}

}  // namespace nabla

#!/bin/bash
# bash bench/winograd_ab.sh REV [REPEATS]: the Winograd kernels of git revision REV ("a") against
# the working tree's ("b"), in one process (bench/winograd_ab.cpp). Needs build/release built.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: bench/winograd_ab.sh REV [REPEATS]}
old=$(mktemp -d)
trap 'rm -rf "$old"' EXIT
# winograd.h stays the working tree's (one WinogradSaved); a revision whose kernels need headers
# that have changed since will not build.
for f in winograd_impl.h winograd_tiles.h winograd_transforms.h; do
  git show "$rev:src/tensor/$f" > "$old/$f" 2>/dev/null || rm "$old/$f"  # (the last since 13)
done
# Revisions before the buffers started on a cache line kept them in std::unique_ptr<float[]>: they
# become FloatBuffers (the type WinogradSaved holds now), still allocated by plain new as they were
# (glibc frees both alike).
sed -i 's/std::unique_ptr<float\[\]>/FloatBuffer/g' "$old/winograd_impl.h" "$old/winograd_tiles.h"
flags=$(grep -o '"-mavx512f[^"]*"' CMakeLists.txt | head -1 | tr -d '"' | tr ';' ' ')
build=build/release
# The libraries of a program that links nabla::nabla, from CMake's own link line.
libs=$(sed -e 's/^.*-o bench_kernels//' -e "s# libnabla.a# $build/libnabla.a#" \
  "$build/CMakeFiles/bench_kernels.dir/link.txt")
g++ -std=c++20 -O3 -DNDEBUG $flags -fopenmp -Iinclude -Isrc -Isrc/tensor \
  -DNABLA_AB_OLD_IMPL="\"$old/winograd_impl.h\"" bench/winograd_ab.cpp -o "$old/winograd_ab" \
  $libs
"$old/winograd_ab" "${2:-7}"

#!/usr/bin/env bash
# Installs nabla from a build folder into a temporary prefix, then configures every project in
# examples/ against it with find_package(nabla), builds it and runs it briefly, as a user would.
# Usage: scripts/check_examples.sh [BUILD_DIR]   (default build/release; CIFAR10_DIR for the data)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build/release}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
data="${CIFAR10_DIR:-data/cifar-10-batches-bin}"

# A few steps of each, enough to show that it builds, links and runs. custom_cnn saves the model
# that classify then loads; classify reads the image seeds of the fuzzers.
examples=(custom_function mlp_from_scratch custom_cnn classify)
run_example() {
  local name="$1" bin="$2"
  case "$name" in
    custom_function) "$bin" ;;
    mlp_from_scratch) "$bin" "$data" 20 ;;
    custom_cnn) "$bin" "$data" 5 "$work/custom_cnn.safetensors" ;;
    classify) "$bin" "$work/custom_cnn.safetensors" fuzz/corpus/image/small.png fuzz/corpus/image/small.jpg ;;
  esac
}
needs_data() { [ "$1" != custom_function ]; }

# custom_cnn exports its residual model to ONNX: ONNX Runtime's accuracy on the whole test set
# must be the one the example printed, within 0.001 (skipped without Node and onnxruntime-node).
ort_modules="${ORT_NODE_MODULES:-$(pwd)/build/ort/node_modules}"
check_onnx_accuracy() {
  local printed="$1" ours theirs
  if ! command -v node >/dev/null || [ ! -d "$ort_modules/onnxruntime-node" ]; then
    echo "example custom_cnn: ONNX file not checked (no node or onnxruntime-node: make ort)"
    [ -z "${NABLA_REQUIRE_ORT:-}" ]; return
  fi
  ours=$(sed -n 's/^test accuracy \([0-9.]*\).*/\1/p' <<< "$printed")
  theirs=$(ORT_NODE_MODULES="$ort_modules" node tests/onnx/run_onnx.js accuracy \
    "$work/custom_cnn.onnx" "$data/test_batch.bin" | sed -n 's/^test_acc=\([0-9.]*\).*/\1/p')
  echo "example custom_cnn: ONNX Runtime's test accuracy $theirs, nabla's $ours"
  awk -v a="$ours" -v b="$theirs" 'BEGIN { d = a - b; exit !(b != "" && d <= 0.001 && -d <= 0.001) }'
}

for dir in examples/*/; do
  name="$(basename "$dir")"
  if [[ ! " ${examples[*]} " =~ " $name " ]]; then
    echo "examples/$name has no run command in $0"; exit 1
  fi
done

failed=0
for name in "${examples[@]}"; do
  if ! { cmake -S "examples/$name" -B "$work/build/$name" -DCMAKE_PREFIX_PATH="$work/prefix" \
           -DCMAKE_BUILD_TYPE=Release && cmake --build "$work/build/$name" -j "$(nproc)"; } \
       > "$work/$name.log" 2>&1; then
    echo "example $name: FAILED to build"; tail -30 "$work/$name.log"; failed=1; continue
  fi
  if needs_data "$name" && [ ! -f "$data/test_batch.bin" ]; then
    echo "example $name: built; not run (no CIFAR-10 in $data: set CIFAR10_DIR)"; continue
  fi
  if run_example "$name" "$work/build/$name/$name" > "$work/$name.run" 2>&1; then
    echo "example $name: built and ran ($(tail -1 "$work/$name.run"))"
    if [ "$name" = custom_cnn ]; then check_onnx_accuracy "$(tail -1 "$work/$name.run")" || failed=1; fi
  else
    echo "example $name: FAILED when run"; tail -30 "$work/$name.run"; failed=1
  fi
done
exit "$failed"

#!/usr/bin/env bash
# Exports nabla model files to ONNX and checks them in ONNX Runtime on the whole CIFAR-10 test
# set: ONNX Runtime's test accuracy must equal `nabla eval`'s within 0.001.
# Usage: scripts/check_onnx.sh NABLA_BINARY DATA_DIR MODEL.safetensors...
# CIFAR-10 models only (run_onnx.js reads the official test_batch.bin as 3x32x32 images).
# Needs Node.js and onnxruntime-node (`make ort`; ORT_NODE_MODULES overrides build/ort/node_modules).
set -euo pipefail
nabla="$1" data_dir="$2"
shift 2
root="$(cd "$(dirname "$0")/.." && pwd)"
export ORT_NODE_MODULES="${ORT_NODE_MODULES:-$root/build/ort/node_modules}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bad=0
for model in "$@"; do
  "$nabla" export --model "$model" --out "$work/model.onnx" >/dev/null
  ours=$("$nabla" eval --model "$model" --data_dir "$data_dir" | sed -n 's/^test_acc=\([0-9.]*\).*/\1/p')
  theirs=$(node "$root/tests/onnx/run_onnx.js" accuracy "$work/model.onnx" "$data_dir/test_batch.bin" |
    sed -n 's/^test_acc=\([0-9.]*\).*/\1/p')
  verdict=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { d = a - b; if (d < 0) d = -d; print (d <= 0.001 ? "ok" : "DIFFERENT") }')
  echo "$model: nabla eval $ours, ONNX Runtime $theirs: $verdict"
  [ "$verdict" = ok ] || bad=1
done
exit "$bad"

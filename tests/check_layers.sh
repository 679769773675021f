#!/usr/bin/env bash
# Layering of the public headers: a header may include headers of its own layer or a lower one,
# never a higher one. Layers, lowest first:
#   0 tensor: tensor.h rng.h error.h kernels.h broadcast.h conv.h pool.h profile.h linalg.h machine.h
#   1 autograd.h ops.h function.h gradcheck.h, io/, manual/ (hand-written backprop on tensors)
#   2 data/
#   3 nn/
#   4 optim/, onnx.h, dist/ (data-parallel training over MPI, library nabla::dist)
# Usage: tests/check_layers.sh [INCLUDE_DIR]   (exits 1 naming every include that goes up)
set -euo pipefail
root="${1:-$(dirname "$0")/../include}"
level() {
  case "$1" in
    optim/* | onnx.h | dist/*) echo 4 ;;
    nn/*) echo 3 ;;
    data/*) echo 2 ;;
    autograd.h | ops.h | function.h | gradcheck.h | io/* | manual/*) echo 1 ;;
    tensor.h | rng.h | error.h | kernels.h | broadcast.h | conv.h | pool.h | profile.h | linalg.h | machine.h) echo 0 ;;
    *) echo "unknown" ;;
  esac
}
bad=0
cd "$root/nabla"
while IFS= read -r header; do
  own=$(level "$header")
  if [ "$own" = unknown ]; then echo "$header: in no layer (add it to $0)"; bad=1; continue; fi
  while IFS= read -r inc; do
    other=$(level "$inc")
    if [ "$other" = unknown ] || [ "$other" -gt "$own" ]; then
      echo "$header (layer $own) includes nabla/$inc (layer $other)"; bad=1
    fi
  done < <(sed -n 's|^#include ["<]nabla/\([^">]*\)[">]|\1|p' "$header")
done < <(find . -name '*.h' | sed 's|^\./||' | sort)
if [ "$bad" -eq 0 ]; then echo "every public header includes only its own layer or lower ones"; fi
exit "$bad"

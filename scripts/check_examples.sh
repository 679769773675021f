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

# A few steps of each, enough to show that it builds, links and runs.
run_example() {
  local name="$1" bin="$2"
  case "$name" in
    custom_function) "$bin" ;;
    mlp_from_scratch) "$bin" "$data" 20 ;;
    *) echo "no run command for example '$name' in $0" >&2; return 1 ;;
  esac
}
needs_data() { [ "$1" != custom_function ]; }

failed=0
for dir in examples/*/; do
  name="$(basename "$dir")"
  if ! { cmake -S "$dir" -B "$work/build/$name" -DCMAKE_PREFIX_PATH="$work/prefix" \
           -DCMAKE_BUILD_TYPE=Release && cmake --build "$work/build/$name" -j "$(nproc)"; } \
       > "$work/$name.log" 2>&1; then
    echo "example $name: FAILED to build"; tail -30 "$work/$name.log"; failed=1; continue
  fi
  if needs_data "$name" && [ ! -f "$data/test_batch.bin" ]; then
    echo "example $name: built; not run (no CIFAR-10 in $data: set CIFAR10_DIR)"; continue
  fi
  if run_example "$name" "$work/build/$name/$name" > "$work/$name.run" 2>&1; then
    echo "example $name: built and ran ($(tail -1 "$work/$name.run"))"
  else
    echo "example $name: FAILED when run"; tail -30 "$work/$name.run"; failed=1
  fi
done
exit "$failed"

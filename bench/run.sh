#!/usr/bin/env bash
# Times nabla against its peers in one run, on the same thread count, and prints the ratios
# (peer time / nabla time; above 1 means nabla is faster), medians of several repetitions.
#   bash bench/run.sh [--threads N] [--repeats N] [--eval_repeats N] [--model cnn,mlp,...]
# Installs python3-torch and python3-numpy from Debian when missing and builds nabla (release).
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for this run only, on both sides, so that
# the BLAS-based peers use every instruction set this CPU has. The peers run twice: as they come,
# and with OMP_WAIT_POLICY=passive, which keeps PyTorch's OpenMP threads from spinning while
# OpenBLAS's own threads work (on 2 cores that fight made PyTorch's MLP steps 2 to 4 times
# slower); each ratio is against the faster of the two.
set -euo pipefail
cd "$(dirname "$0")/.."

threads=2 repeats=20 eval_repeats=3 models=cnn,mlp,mlp-deep,mlp-manual
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    --eval_repeats) eval_repeats="$2"; shift 2 ;;
    --model) models="$2"; shift 2 ;;
    *) echo "bench/run.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

sudo=$([ "$(id -u)" = 0 ] || echo sudo)
if ! /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null; then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-torch python3-numpy
fi
make --no-print-directory release >/dev/null

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OMP_NUM_THREADS="$threads"
echo "== nabla ($threads threads)"
./build/release/nabla bench --model "$models" --repeats "$repeats" --eval_repeats "$eval_repeats" \
  --json "$out/nabla.json"
echo "== peers ($threads threads)"
/usr/bin/python3 bench/peer.py --model "$models" --threads "$threads" --repeats "$repeats" \
  --eval_repeats "$eval_repeats" --json "$out/peer.json"
echo "== peers ($threads threads, OMP_WAIT_POLICY=passive)"
OMP_WAIT_POLICY=passive /usr/bin/python3 bench/peer.py --model "$models" --threads "$threads" \
  --repeats "$repeats" --eval_repeats "$eval_repeats" --json "$out/peer_passive.json"
/usr/bin/python3 bench/ratios.py "$out/nabla.json" "$out/peer.json" "$out/peer_passive.json"

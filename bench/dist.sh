#!/usr/bin/env bash
# Data-parallel training on this machine's cores: the step time of one process with 2 threads
# against 2 processes (mpirun) with 1 thread each, at the same global batch, the time the
# processes spend in allreduce, and a projection to 4 and 16 machines.
#   bash bench/dist.sh [--model cnn|mlp] [--batch_size N] [--steps SHORT,LONG] [--repeats N]
# A step's time is (time of a LONG-step run - time of a SHORT-step run) / (LONG - SHORT), each the
# median of --repeats runs: loading the data, starting MPI and the one evaluation at the end are
# in both and cancel. Needs CIFAR-10 ($CIFAR10_DIR or data/cifar-10-batches-bin).
set -euo pipefail
cd "$(dirname "$0")/.."

model=cnn batch=64 steps=5,65 repeats=3
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --batch_size) batch="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    *) echo "bench/dist.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
short=${steps%,*} long=${steps#*,}
data="${CIFAR10_DIR:-data/cifar-10-batches-bin}"
[ -f "$data/test_batch.bin" ] || { echo "bench/dist.sh: no CIFAR-10 in $data" >&2; exit 2; }
make --no-print-directory release >/dev/null
bin=./build/release/nabla
[ -x build/release/bench_allreduce ] || { echo "bench/dist.sh: built without MPI" >&2; exit 2; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mpirun=(mpirun --allow-run-as-root --oversubscribe -np 2)

# seconds LAYOUT STEPS REPEAT: the wall time of one run (LAYOUT 1x2, 2x1 or 2x1-sync).
seconds() {
  local dir="$out/$1-$2-$3" start end
  local args=(train "$model" --data_dir "$data" --batch_size "$batch" --max_steps "$2"
              --eval_freq "$2" --out "$dir" --quiet)
  start=$(date +%s.%N)
  case "$1" in
    1x2) OMP_NUM_THREADS=2 "$bin" "${args[@]}" >/dev/null ;;
    2x1) OMP_NUM_THREADS=1 "${mpirun[@]}" "$bin" "${args[@]}" >/dev/null ;;
    2x1-sync) OMP_NUM_THREADS=1 "${mpirun[@]}" "$bin" "${args[@]}" --sync_bn >/dev/null ;;
  esac
  end=$(date +%s.%N)
  echo "$start $end" | awk '{printf "%.3f\n", $2 - $1}'
}

echo "== $model, global batch $batch, step time from runs of $short and $long steps, median of $repeats"
./build/release/nabla bench --model mlp --repeats 1 --eval_repeats 1 2>/dev/null | head -1 || true
for layout in 1x2 2x1 2x1-sync; do
  for r in $(seq "$repeats"); do
    echo "$layout $short $(seconds "$layout" "$short" "$r")" >> "$out/times"
    echo "$layout $long $(seconds "$layout" "$long" "$r")" >> "$out/times"
  done
done

# The allreduce of the gradient buckets alone, between the two processes.
buckets=$(/usr/bin/python3 - "$out/2x1-$long-1/summary.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
print(s["dist_gradient_mb_per_step"], s["dist_last_bucket_mb"])
EOF
)
OMP_NUM_THREADS=1 "${mpirun[@]}" build/release/bench_allreduce --repeats 10 1 $buckets \
  > "$out/allreduce"

/usr/bin/python3 - "$out" "$short" "$long" <<'EOF'
import json, statistics, sys
out, short, long_ = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
times = {}
for line in open(f"{out}/times"):
    layout, steps, sec = line.split()
    times.setdefault((layout, int(steps)), []).append(float(sec))
def step(layout):
    return (statistics.median(times[(layout, long_)]) - statistics.median(times[(layout, short)])) / (long_ - short)
one, two, sync = step("1x2"), step("2x1"), step("2x1-sync")
print(f"step, 1 process x 2 threads:          {one:.3f} s")
print(f"step, 2 processes x 1 thread:         {two:.3f} s  ({two / one:.2f}x the 1x2 step)")
print(f"step, 2 processes x 1 thread, sync_bn: {sync:.3f} s  ({sync / one:.2f}x)")
s = json.load(open(f"{out}/2x1-{long_}-1/summary.json"))
g, last = s["dist_gradient_mb_per_step"], s["dist_last_bucket_mb"]
print(f"gradients: {g:.1f} MB a step in {s['dist_buckets']:.0f} buckets, "
      f"{s['dist_buckets_overlapped_per_step']:.1f} started during the backward pass; "
      f"the last ({last:.1f} MB) starts when it ends")
print(f"time in allreduce a step: {s['dist_hook_s_per_step'] * 1e3:.1f} ms starting buckets and moving "
      f"them on during the backward pass, {s['dist_wait_s_per_step'] * 1e3:.1f} ms waiting for them after it")
allreduce = {}
for line in open(f"{out}/allreduce"):
    _, mb, ms, bus = line.split()
    allreduce[float(mb)] = float(ms)
    print(f"MPI_Allreduce of {float(mb):.1f} MB between the 2 processes: {float(ms):.2f} ms ({float(bus):.2f} GB/s bus bandwidth)")

# Projection: each machine computes a 1x2 step on its share; a ring allreduce of B bytes over
# N machines sends 2 (N-1)/N B over each link, plus 2 (N-1) latencies of 50 us (TCP). The
# buckets before the last overlap the backward pass (about 2/3 of a step) when they fit in it;
# the last never does.
print("projection (weak scaling: the same batch per machine, global batch N times larger):")
for gbit in (10, 25):
    bw = gbit / 8 * 1e9
    for n in (4, 16):
        ring = lambda mb: 2 * (n - 1) / n * mb * 1e6 / bw + 2 * (n - 1) * 50e-6
        exposed = ring(last) + max(0.0, ring(g - last) - 2 / 3 * one)
        print(f"  {n:2d} machines, {gbit} Gbit/s: allreduce {ring(g) * 1e3:5.0f} ms a step, "
              f"{exposed * 1e3:5.0f} ms not hidden, step {one + exposed:.3f} s, "
              f"efficiency {one / (one + exposed):.0%}, {n * one / (one + exposed):.1f}x one machine")
EOF

"""The float32 GEMM throughput this machine reaches on a large square product (NumPy's BLAS),
the ceiling any float32 training step's GEMMs can approach: median GFLOPS of several repetitions.
  OMP_NUM_THREADS=2 python3 bench/sgemm_peak.py [--n 2048] [--repeats 10]
Run it as bench/run.sh runs its peers: with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset."""
import argparse
import statistics
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    a = rng.standard_normal((args.n, args.n), dtype=np.float32)
    b = rng.standard_normal((args.n, args.n), dtype=np.float32)
    a @ b  # warm-up: threads started, pages touched
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    flops = 2.0 * args.n**3
    print(f"sgemm {args.n}x{args.n}x{args.n}: median {flops / statistics.median(times) / 1e9:.1f} "
          f"GFLOPS, best {flops / min(times) / 1e9:.1f} GFLOPS ({args.repeats} repetitions)")


if __name__ == "__main__":
    main()

"""Benchmark of the core model: median ms per weekly step, seconds per full-city 10-year run
(set-up included) and peak memory. Not a test: run it by hand and copy the figures into
benchmarks/README.md.

    python benchmarks/bench_model.py [--repeats 5] [--years 10]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import mesa  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402

from sim.model import UmeaModel  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402

TARGET_MS_PER_20K = 2.5


def one_run(years: int, seed: int, specs: list) -> tuple[float, float, list[float]]:
    t0 = time.perf_counter()
    model = UmeaModel(seed=seed, years=years, interventions=specs)
    setup = time.perf_counter() - t0
    steps = []
    for _ in range(years * 52):
        t = time.perf_counter()
        model.step()
        steps.append(time.perf_counter() - t)
    return setup, time.perf_counter() - t0, steps, model.pop.n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--scenario", default=None, help="run with this scenario's interventions")
    args = ap.parse_args()
    specs = load_scenario(args.scenario).specs() if args.scenario else []
    one_run(1, 0, specs)  # warm-up: imports, caches
    setups, totals, medians, yearly = [], [], [], []
    for r in range(args.repeats):
        setup, total, steps, n = one_run(args.years, 100 + r, specs)
        steps = np.array(steps) * 1000
        setups.append(setup)
        totals.append(total)
        medians.append(float(np.median(steps)))
        yearly.append(float(steps[52::52].mean()) if len(steps) > 52 else float("nan"))
    med = statistics.median(medians)
    per20k = med * 20_000 / n
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}, "
          f"numpy {np.__version__}, scipy {scipy.__version__}, mesa {mesa.__version__}")
    print(f"youths simulated: {n}; scenario: {args.scenario or 'no interventions'}")
    print(f"median weekly step: {med:.2f} ms ({per20k:.2f} ms per 20,000 youths; target ≤ "
          f"{TARGET_MS_PER_20K})")
    print(f"school-year step (ageing, newcomers, peers redrawn): {statistics.median(yearly):.1f} ms")
    print(f"set-up: {statistics.median(setups):.2f} s; full {args.years}-year run incl. set-up: "
          f"{statistics.median(totals):.2f} s (min {min(totals):.2f}, max {max(totals):.2f}) "
          f"over {args.repeats} runs")
    print(f"peak memory (max RSS): {peak_mb:.0f} MB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

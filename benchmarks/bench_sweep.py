"""Sweep benchmark (issue 4): Morris, 10 parameters x 20 trajectories = 220 runs of the real model,
on 1 and on 2 local worker processes. Targets: <= 3 min on 2 workers, speed-up >= 1.9x (issue 11;
issue 4 asked for 1.8x).

    python benchmarks/bench_sweep.py                       # the shipped Morris experiment
    python benchmarks/bench_sweep.py --trajectories 4      # quick check (44 runs)
    python benchmarks/bench_sweep.py --workers 2           # only the 2-worker run

Prints the figures; writes nothing outside a temporary directory and appends nowhere.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.experiment import load_experiment  # noqa: E402
from sim.sweep import run_sweep  # noqa: E402

SPEEDUP_TARGET = 1.9  # 2 local workers against 1 (issue 11.5)


def bench(experiment: Path, trajectories: int | None, workers: list[int]) -> list[dict]:
    """Run the experiment once per worker count into a fresh directory; return the timings."""
    exp = load_experiment(experiment)
    if trajectories:
        exp = dataclasses.replace(exp, samples=trajectories)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        for n in workers:
            res = run_sweep(exp, Path(tmp) / f"w{n}", workers=n, progress=False,
                            flush_seconds=1e9)
            per_run = res.results["wall_s"].median() if len(res.results) else float("nan")
            rows.append({"workers": n, "runs": res.n_done, "failed": res.n_failed,
                         "wall_s": res.wall_s, "run_median_s": per_run})
            print(f"  {n} worker(s): {res.n_done} runs ({res.n_failed} failed) in "
                  f"{res.wall_s:.1f} s; median model run {per_run:.2f} s", flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", type=Path, default=ROOT / "experiments/morris_recruitment.yaml")
    ap.add_argument("--trajectories", type=int, default=None, help="override Morris r")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    print(f"sweep benchmark: {args.experiment.name}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}")
    rows = bench(args.experiment, args.trajectories, args.workers)
    by = {r["workers"]: r for r in rows}
    if 1 in by and 2 in by:
        speedup = by[1]["wall_s"] / by[2]["wall_s"]
        ok_time, ok_speed = by[2]["wall_s"] <= 180, speedup >= SPEEDUP_TARGET
        print(f"speed-up 2 vs 1 worker: {speedup:.2f}x (target >= {SPEEDUP_TARGET}: "
              f"{'met' if ok_speed else 'NOT met'}); 2-worker wall {by[2]['wall_s']:.1f} s "
              f"(target <= 180 s: {'met' if ok_time else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

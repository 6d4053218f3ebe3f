"""Sweep benchmark (issue 4): Morris, 11 parameters x 20 trajectories = 240 runs of the real model,
on 1 and on 2 local worker processes. Targets: <= 3 min on 2 workers, speed-up >= 1.9x (issue 11;
issue 4 asked for 1.8x).

    python benchmarks/bench_sweep.py                       # the shipped Morris experiment
    python benchmarks/bench_sweep.py --trajectories 4      # quick check (44 runs)
    python benchmarks/bench_sweep.py --workers 2           # only the 2-worker run
    python benchmarks/bench_sweep.py --workers 2 --reference 9597157   # against another engine

With `--reference REF` the same sweep also runs on the engine at git ref REF (checked out into a
temporary worktree, in a fresh process, alternating round by round with this tree), so that the
two see the same machine load, and the ratio of their wall times is printed.

Prints the figures; writes nothing outside a temporary directory and appends nowhere.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGINE = Path(os.environ.get("UVTS_BENCH_ENGINE", ROOT))  # the tree whose `sim` is measured
sys.path.insert(0, str(ENGINE))

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


def compare_with(args: argparse.Namespace, ref: str) -> None:
    """Run the sweep on this tree and on the engine at `ref`, alternating, in fresh processes
    (each with its own `sim`, the same experiment file); print the wall times and their ratio."""
    import json
    import subprocess

    trees = {"this tree": ROOT}
    with tempfile.TemporaryDirectory(prefix="bench_sweep_ref_") as tmp:
        trees[ref] = Path(tmp) / "ref"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(trees[ref]),
                        ref], check=True, capture_output=True)
        walls: dict[str, list[float]] = {name: [] for name in trees}
        cmd = [sys.executable, str(Path(__file__).resolve()), "--json", "--experiment",
               str(args.experiment.resolve()), "--workers", *map(str, args.workers)]
        if args.trajectories:
            cmd += ["--trajectories", str(args.trajectories)]
        try:
            for r in range(args.rounds):
                for name, tree in trees.items():
                    env = {**os.environ, "UVTS_BENCH_ENGINE": str(tree), "PYTHONPATH": str(tree)}
                    out = subprocess.run(cmd, env=env, cwd=tree, check=True, capture_output=True,
                                         text=True).stdout.strip().splitlines()[-1]
                    rows = json.loads(out)
                    walls[name].append(rows[-1]["wall_s"])
                    print(f"  round {r + 1}: {name}: " + "; ".join(
                        f"{x['workers']} worker(s) {x['runs']} runs in {x['wall_s']:.1f} s"
                        for x in rows), flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(trees[ref])], capture_output=True)
    a, b = (sorted(walls[k])[len(walls[k]) // 2] for k in trees)
    print(f"{args.workers[-1]}-worker wall, median of {args.rounds} round(s): this tree {a:.1f} s, "
          f"{ref} {b:.1f} s: speed-up {b / a:.2f}x")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", type=Path, default=ROOT / "experiments/morris_recruitment.yaml")
    ap.add_argument("--trajectories", type=int, default=None, help="override Morris r")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--reference", default=None,
                    help="git ref of an engine to run the same sweep on, alternating")
    ap.add_argument("--rounds", type=int, default=1, help="alternating rounds with --reference")
    ap.add_argument("--json", action="store_true", help="print the timings as one JSON line")
    args = ap.parse_args()
    if args.reference:
        compare_with(args, args.reference)
        return 0
    if args.json:
        import json

        with contextlib.redirect_stdout(sys.stderr):
            rows = bench(args.experiment, args.trajectories, args.workers)
        print(json.dumps(rows))
        return 0
    print(f"sweep benchmark: {args.experiment.name}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}")
    rows = bench(args.experiment, args.trajectories, args.workers)
    by = {r["workers"]: r for r in rows}
    if 1 in by and 2 in by:
        speedup = by[1]["wall_s"] / by[2]["wall_s"]
        ok_speed = speedup >= SPEEDUP_TARGET
        # the 3-minute target is for the shipped experiment, not a shortened one
        time_note = ("" if args.trajectories else
                     f" (target <= 180 s: {'met' if by[2]['wall_s'] <= 180 else 'NOT met'})")
        print(f"speed-up 2 vs 1 worker: {speedup:.2f}x (target >= {SPEEDUP_TARGET}: "
              f"{'met' if ok_speed else 'NOT met'}); 2-worker wall {by[2]['wall_s']:.1f} s"
              f"{time_note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

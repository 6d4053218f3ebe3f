"""Benchmark of the core model: median ms per weekly step, seconds per full-city 10-year run
(set-up included) and peak memory. Not a test: run it by hand and copy the figures into
benchmarks/README.md.

    python benchmarks/bench_model.py [--repeats 5] [--years 10]      # this tree against today's
    python benchmarks/bench_model.py --reference 71237de --reference 9597157   # other engines
    python benchmarks/bench_model.py --reference none                  # this tree only
    python benchmarks/bench_model.py --with-scenario scenarios/uvts_2024_2026.yaml  # + the plan

By default the benchmark runs alternately on this tree and on the engine before the compiled
kernels (`BEFORE_KERNELS`, issue 11's "today's engine"), each checked out into a temporary git
worktree, one run each at a time in fresh processes, so that all see the same machine load; it
prints the medians and their ratios.
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

_T0 = time.perf_counter()
import mesa  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402

from sim.model import UmeaModel  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402

IMPORT_S = time.perf_counter() - _T0  # numpy, scipy, Mesa, the model (and Numba, if used)

TARGET_MS_PER_20K = 2.5
BEFORE_KERNELS = "9597157"  # the engine before issue 11 (numpy only), "today's engine" there


def one_run(years: int, seed: int, specs: list) -> tuple[float, float, list[float]]:
    t0 = time.perf_counter()
    model = UmeaModel(seed=seed, years=years, interventions=specs)
    setup = time.perf_counter() - t0
    stamps = [time.perf_counter()]
    model.run(progress=lambda week: stamps.append(time.perf_counter()))  # as the runner does
    return setup, time.perf_counter() - t0, list(np.diff(stamps)), model.pop.n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--scenario", default=None, help="run with this scenario's interventions")
    ap.add_argument("--json", action="store_true", help="print one JSON line (for --reference)")
    ap.add_argument("--with-scenario", default=None,
                    help="in each round also run this tree with this scenario's interventions "
                         "and print its ratio to this tree's and the references' runs (the plan "
                         "against 'today' in the same run)")
    ap.add_argument("--reference", action="append", default=None,
                    help=f"git ref of an engine to compare with (repeatable; default "
                         f"{BEFORE_KERNELS}, the engine before the compiled kernels; 'none': "
                         f"this tree only)")
    args = ap.parse_args()
    refs = [r for r in (args.reference or [BEFORE_KERNELS]) if r.lower() != "none"]
    if refs and not args.json:
        compare_with(args, refs)
        return
    specs = load_scenario(args.scenario).specs() if args.scenario else []
    one_run(1, 0, specs)  # warm-up: imports, caches, loading the compiled kernels
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
    if args.json:
        import json

        print(json.dumps({"step_ms": med, "run_s": statistics.median(totals), "import_s": IMPORT_S,
                          "setup_s": statistics.median(setups), "n": n,
                          "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
        return
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


def compare_with(args: argparse.Namespace, refs: list[str]) -> None:
    """Alternate runs of this tree and of each engine in `refs` in fresh processes; print the
    medians and the ratios."""
    import json
    import subprocess
    import tempfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    here = Path(__file__).resolve()
    trees = {"this tree": root}
    with tempfile.TemporaryDirectory() as tmp:
        for k, ref in enumerate(refs):
            trees[ref] = Path(tmp) / f"ref{k}"
            subprocess.run(["git", "-C", str(root), "worktree", "add", "--detach", str(trees[ref]),
                            ref], check=True, capture_output=True)
        try:
            res: dict[str, list[dict]] = {name: [] for name in trees}
            cmd = [sys.executable, str(here), "--repeats", "1", "--years", str(args.years), "--json"]
            runs = [(name, tree, cmd + (["--scenario", str(Path(args.scenario).resolve())]
                                        if args.scenario else [])) for name, tree in trees.items()]
            if args.with_scenario:
                extra = f"this tree, {Path(args.with_scenario).stem}"
                res[extra] = []
                runs.insert(1, (extra, root, cmd + ["--scenario",
                                                    str(Path(args.with_scenario).resolve())]))
            for r in range(args.repeats):
                for name, tree, run_cmd in runs:
                    env = {**os.environ, "PYTHONPATH": str(tree)}
                    out = subprocess.run(run_cmd, env=env, cwd=tree, check=True,
                                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
                    res[name].append(json.loads(out))
                print(f"  round {r + 1}/{args.repeats}: " + ", ".join(
                    f"{k} {v[-1]['run_s']:.2f} s" for k, v in res.items()), flush=True)
        finally:
            for tree in trees.values():
                if tree != root:
                    subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force",
                                    str(tree)], capture_output=True)
    keys = ("step_ms", "run_s", "setup_s", "import_s", "peak_mb")
    med = {k: {m: statistics.median(r.get(m, float("nan")) for r in v) for m in keys}
           for k, v in res.items()}
    n = res["this tree"][0]["n"]
    print(f"{n} youths, {args.years}-year runs, scenario: {args.scenario or 'no interventions'}, "
          f"{args.repeats} alternating rounds (medians)")
    for k, v in med.items():
        print(f"{k:>12}: step {v['step_ms']:.2f} ms, {args.years}-year run incl. set-up "
              f"{v['run_s']:.2f} s, set-up {v['setup_s']:.2f} s, imports {v['import_s']:.2f} s, "
              f"peak RSS {v['peak_mb']:.0f} MB")
    a = med["this tree"]
    fastest = {k: min(r["run_s"] for r in v) for k, v in res.items()}
    if args.with_scenario:
        e = med[extra]
        print(f"{extra} / this tree: full run {e['run_s'] / a['run_s']:.2f} (target ≤ 1.3: "
              f"1.3 s with the plan against 1.0 s without)")
        for ref in refs:
            print(f"{extra} / {ref} (no measures there unless --scenario): full run "
                  f"{e['run_s'] / med[ref]['run_s']:.3f} (speed-up {med[ref]['run_s'] / e['run_s']:.2f}x"
                  f"; target ≥ 2.5 / 1.3 = 1.92x)")
    for ref in refs:
        b = med[ref]
        print(f"ratio this tree / {ref}: step {a['step_ms'] / b['step_ms']:.3f}, full run "
              f"{a['run_s'] / b['run_s']:.3f} (speed-up {b['run_s'] / a['run_s']:.2f}x); "
              f"fastest runs {fastest['this tree']:.2f} s / {fastest[ref]:.2f} s (speed-up "
              f"{fastest[ref] / fastest['this tree']:.2f}x: the least disturbed by other load)")


if __name__ == "__main__":
    main()

"""Scaling benchmark (issue 11.3): cost of a run against city size and against horizon.

City size: 1x, 2x, 4x and 10x Umeå's youths (10x ≈ 271,000 youths aged 3-20, more than
Stockholm's ≈ 250,000 aged 3-20). A city k times larger has k times the youths of every age
(`cohort_size`), the same districts, k times the upper-secondary schools (compulsory schools and
classes follow from the pupils per school and class size), and k times the count-like parameters:
the initial active members, the open demand at which recruiters search at their stated rates
(`open_demand_ref`) and the adult inflow. Rates, shares and everything per youth stay as they are.

Horizon: 1, 2, 5, 10 and 20 years of today's city.

Every run is a fresh process (`--one`), so that its peak RSS is its own; it builds the model
(`UmeaModel(seed, years, city=...)`, no interventions), runs it to the horizon and reports set-up
and run seconds. The script fits cost = a + b·size and cost = a + b·years by least squares,
prints R² and the largest deviation of a point from the line, and saves `benchmarks/scaling.png`.

    python benchmarks/bench_scaling.py                     # sizes at 10 years, horizons at 1x
    python benchmarks/bench_scaling.py --years 5 --repeats 3 --big-repeats 1
    python benchmarks/bench_scaling.py --one 4 10 100      # one run: scale, years, seed (JSON)
    python benchmarks/bench_scaling.py --reference 9597157 # and today's engine, point by point

With `--reference REF` the engine at git ref REF is checked out into a temporary worktree and
every point is also run on it, alternating with this tree in fresh processes (so both see the
same machine load); the tables then give both engines' times and their ratio per point.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

HERE = Path(__file__).resolve().parent
# the engine measured: this tree, or another checkout named by --reference (set for its --one runs)
sys.path.insert(0, os.environ.get("UVTS_BENCH_ENGINE", str(HERE.parent)))

import numpy as np  # noqa: E402

from sim.population import City, load_city  # noqa: E402

SIZES = (1, 2, 4, 10)
HORIZONS = (1, 2, 5, 10, 20)
COUNT_PARAMETERS = ("initial_active_members", "open_demand_ref", "adult_inflow_rate")


def scaled_city(scale: float, city: City | None = None) -> City:
    """Umeå with `scale` times the youths of every age and of the upper-secondary schools."""
    c = city or load_city()
    return dataclasses.replace(
        c, cohort_size={a: int(round(s * scale)) for a, s in c.cohort_size.items()},
        upper_secondary_schools=max(1, int(round(c.upper_secondary_schools * scale))))


def scaled_params(scale: float) -> dict[str, float]:
    """The count-like parameters for a city `scale` times Umeå (rates and shares are per youth)."""
    from sim.params import resolve

    p = resolve({})
    return {k: p[k] * scale for k in COUNT_PARAMETERS}


def one_run(scale: float, years: int, seed: int) -> dict[str, float]:
    """Build and run one model in this process; seconds, size and peak RSS."""
    from sim.model import UmeaModel

    kw = {} if scale == 1 else {"city": scaled_city(scale), **scaled_params(scale)}
    t0 = time.perf_counter()
    model = UmeaModel(seed=seed, years=years, **kw)
    setup = time.perf_counter() - t0
    model.run()
    total = time.perf_counter() - t0
    return {"scale": scale, "years": years, "seed": seed, "n": int(model.pop.n),
            "ties": int(model.net.peers.nnz), "setup_s": setup, "run_s": total,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure(scale: float, years: int, seed: int, engine: Path | None = None) -> dict[str, float]:
    """`one_run` in a fresh process, of this tree's engine or of the checkout `engine`."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", str(scale), str(years), str(seed)]
    env = dict(os.environ)
    if engine is not None:
        env["UVTS_BENCH_ENGINE"] = str(engine)
    else:
        env.pop("UVTS_BENCH_ENGINE", None)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure_pair(scale: float, years: int, seed: int, ref: Path | None) -> dict[str, float]:
    """One point on this tree and, if `ref`, right after on the reference engine."""
    row = measure(scale, years, seed)
    if ref is not None:
        other = measure(scale, years, seed, ref)
        row.update(ref_setup_s=other["setup_s"], ref_run_s=other["run_s"],
                   ref_peak_mb=other["peak_mb"])
    return row


def linear_fit(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Least-squares y = a + b·x; R² and the largest relative deviation of a point from the line."""
    b, a = np.polyfit(x, y, 1)
    fit = a + b * x
    ss_res, ss_tot = float(((y - fit) ** 2).sum()), float(((y - y.mean()) ** 2).sum())
    return {"a": float(a), "b": float(b), "r2": 1 - ss_res / ss_tot if ss_tot > 0 else 1.0,
            "max_dev": float(np.max(np.abs(y - fit) / fit))}


def median_rows(rows: list[dict], key: str) -> list[dict]:
    """One row per value of `key`: medians of the times, max of the peak RSS."""
    out = []
    for v in sorted({r[key] for r in rows}):
        rs = [r for r in rows if r[key] == v]
        row = {**rs[0], "setup_s": statistics.median(r["setup_s"] for r in rs),
               "run_s": statistics.median(r["run_s"] for r in rs),
               "peak_mb": max(r["peak_mb"] for r in rs), "repeats": len(rs)}
        if "ref_run_s" in rs[0]:
            row.update(ref_setup_s=statistics.median(r["ref_setup_s"] for r in rs),
                       ref_run_s=statistics.median(r["ref_run_s"] for r in rs),
                       ref_peak_mb=max(r["ref_peak_mb"] for r in rs))
        out.append(row)
    return out


def plot(sizes: list[dict], horizons: list[dict], fs: dict, fh: dict, path: Path,
         ref_label: str | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.4))
    n = np.array([r["n"] for r in sizes]) / 1000
    y = np.array([r["run_s"] for r in sizes])
    xs = np.linspace(0, n.max() * 1.05, 50)
    a1.plot(xs, fs["a"] + fs["b"] * xs * 1000, "--", color="grey",
            label=f"linear fit (R² = {fs['r2']:.4f})")
    a1.plot(n, y, "o", color="C0", label=f"{sizes[0]['years']}-year run incl. set-up (median)")
    if ref_label:
        a1.plot(n, [r["ref_run_s"] for r in sizes], "s", mfc="none", color="grey",
                label=f"{ref_label} (same run)")
    for r, xi, yi in zip(sizes, n, y, strict=True):
        a1.annotate(f"{r['scale']:g}×", (xi, yi), textcoords="offset points", xytext=(-14, 6))
    a1.set_xlabel("youths simulated (thousands)")
    a1.set_ylabel("seconds per run (one core)")
    a1.set_title("Cost against city size")
    a1.set_xlim(left=0)
    a1.set_ylim(bottom=0)
    a1.legend(loc="upper left")
    yr = np.array([r["years"] for r in horizons])
    yh = np.array([r["run_s"] for r in horizons])
    xs = np.linspace(0, yr.max() * 1.05, 50)
    a2.plot(xs, fh["a"] + fh["b"] * xs, "--", color="grey", label=f"linear fit (R² = {fh['r2']:.4f})")
    a2.plot(yr, yh, "o", color="C1", label=f"today's city ({horizons[0]['n']:,} youths), median")
    if ref_label:
        a2.plot(yr, [r["ref_run_s"] for r in horizons], "s", mfc="none", color="grey",
                label=f"{ref_label} (same run)")
    a2.set_xlabel("horizon (years of weekly steps)")
    a2.set_ylabel("seconds per run (one core)")
    a2.set_title("Cost against horizon")
    a2.set_xlim(left=0)
    a2.set_ylim(bottom=0)
    a2.legend(loc="upper left")
    fig.suptitle("uvts-sim: cost of one run against city size and horizon (no interventions)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--one", nargs=3, metavar=("SCALE", "YEARS", "SEED"), default=None,
                    help="run one model in this process and print JSON")
    ap.add_argument("--sizes", type=float, nargs="+", default=list(SIZES))
    ap.add_argument("--horizons", type=int, nargs="+", default=list(HORIZONS))
    ap.add_argument("--years", type=int, default=10, help="horizon of the size series")
    ap.add_argument("--repeats", type=int, default=2, help="runs per point")
    ap.add_argument("--big-repeats", type=int, default=1, help="runs per point at sizes above 4x")
    ap.add_argument("--png", type=Path, default=HERE / "scaling.png")
    ap.add_argument("--reference", default=None,
                    help="git ref of an engine to run at every point too (e.g. 9597157, the engine "
                         "before the compiled kernels)")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one_run(float(args.one[0]), int(args.one[1]), int(args.one[2]))))
        return 0
    if args.reference:
        import tempfile

        root = HERE.parent
        with tempfile.TemporaryDirectory() as tmp:
            tree = Path(tmp) / "reference"
            subprocess.run(["git", "-C", str(root), "worktree", "add", "--detach", str(tree),
                            args.reference], check=True, capture_output=True)
            try:
                return series(args, tree)
            finally:
                subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(tree)],
                               capture_output=True)
    return series(args, None)


def _ref_cells(r: dict) -> str:
    if "ref_run_s" not in r:
        return ""
    return f" {r['ref_run_s']:.2f} | {r['ref_run_s'] / r['run_s']:.2f}× |"


def series(args: argparse.Namespace, ref: Path | None) -> int:
    """Run the size and horizon series (and the reference engine at every point) and report."""
    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs; "
          "one fresh process per run, BLAS threads pinned to 1"
          + (f"; reference engine {args.reference} at every point" if ref else ""))
    for scale in args.sizes:  # untimed: Numba's cache gets the kernels of every size's dtypes
        measure(scale, 1, 99)
    rows = []
    for scale in args.sizes:
        for r in range(args.repeats if scale <= 4 else args.big_repeats):
            rows.append(measure_pair(scale, args.years, 100 + r, ref))
            print(f"  size {scale:g}x, {args.years} years, seed {100 + r}: {rows[-1]['run_s']:.2f} s"
                  + (f" (reference {rows[-1]['ref_run_s']:.2f} s)" if ref else ""), flush=True)
    sizes = median_rows(rows, "scale")
    rows = []
    for years in args.horizons:
        for r in range(args.repeats):
            rows.append(measure_pair(1, years, 100 + r, ref))
            print(f"  horizon {years} years, size 1x, seed {100 + r}: {rows[-1]['run_s']:.2f} s"
                  + (f" (reference {rows[-1]['ref_run_s']:.2f} s)" if ref else ""), flush=True)
    horizons = median_rows(rows, "years")

    print(f"\nCost against city size ({args.years}-year runs incl. set-up; medians):")
    extra = f" {args.reference} run s | speed-up |" if ref else ""
    print("| size | youths | peer ties | runs | set-up s | run s | µs per youth-week | peak RSS MB |"
          + extra)
    print("|---|---|---|---|---|---|---|---|" + ("---|---|" if ref else ""))
    for r in sizes:
        per = 1e6 * r["run_s"] / (r["n"] * 52 * r["years"])
        print(f"| {r['scale']:g}× | {r['n']:,} | {r['ties']:,} | {r['repeats']} | {r['setup_s']:.2f} | "
              f"{r['run_s']:.2f} | {per:.2f} | {r['peak_mb']:.0f} |" + _ref_cells(r))
    fs = linear_fit(np.array([r["n"] for r in sizes], float), np.array([r["run_s"] for r in sizes]))
    print(f"fit: run s = {fs['a']:.2f} + {1e6 * fs['b']:.1f} µs × youths "
          f"({1e6 * fs['b'] / (52 * args.years):.2f} µs per youth-week); R² = {fs['r2']:.4f}; "
          f"largest deviation from the line {100 * fs['max_dev']:.1f} %")
    big, small = sizes[-1], sizes[0]
    ratio = (big["run_s"] / big["n"]) / (small["run_s"] / small["n"])
    print(f"cost per youth at {big['scale']:g}× / at {small['scale']:g}×: {ratio:.2f} (1 = linear)")

    print(f"\nCost against horizon (size 1×, {horizons[0]['n']:,} youths; medians):")
    print("| years | weeks | runs | set-up s | run s | ms per simulated week |" + extra)
    print("|---|---|---|---|---|---|" + ("---|---|" if ref else ""))
    for r in horizons:
        per_week = 1000 * (r["run_s"] - r["setup_s"]) / (52 * r["years"])
        print(f"| {r['years']} | {52 * r['years']} | {r['repeats']} | {r['setup_s']:.2f} | "
              f"{r['run_s']:.2f} | {per_week:.2f} |" + _ref_cells(r))
    fh = linear_fit(np.array([r["years"] for r in horizons], float),
                    np.array([r["run_s"] for r in horizons]))
    print(f"fit: run s = {fh['a']:.2f} + {fh['b']:.3f} s × years; R² = {fh['r2']:.4f}; largest "
          f"deviation from the line {100 * fh['max_dev']:.1f} %")
    if ref:
        for name, rows_, key in (("size", sizes, "n"), ("horizon", horizons, "years")):
            f = linear_fit(np.array([r[key] for r in rows_], float),
                           np.array([r["ref_run_s"] for r in rows_]))
            sp = [r["ref_run_s"] / r["run_s"] for r in rows_]
            print(f"reference {args.reference} against {name}: R² = {f['r2']:.4f}; speed-up of this "
                  f"tree {min(sp):.2f}-{max(sp):.2f}×")
    plot(sizes, horizons, fs, fh, args.png,
         f"engine {args.reference}" if ref else None)
    print(f"plot: {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of the per-agent Mesa reference against the engine on the same inputs (issue 11.4).

Builds one engine model (`UmeaModel(seed, years=1)`, the full city unless `--scale`), copies its
population, networks and parameters into the per-agent reference (`benchmarks/reference_mesa.py`),
and times in one process, one after the other:

1. the per-agent reference (`ReferenceModel.step`: a Mesa agent per youth, `shuffle_do("step")`
   then `do("advance")`) for `--ref-weeks` weeks (default 4: it is slow, about a second a week for
   the full city; its per-step cost does not depend on the week);
2. the same reduced rules vectorised with the engine's functions (`VectorisedReduced.step`) on
   the same model, for `--weeks` weeks (default 52);
3. for context, the engine's full weekly step (`UmeaModel.step`: all processes, recording, the
   DataCollector) on a fresh model of the same seed, for `--weeks` weeks.

It prints the median milliseconds per weekly step of each and the ratios (goal: the reference at
least 300 times slower than the engine).

    python benchmarks/bench_reference.py                    # full city, 4 reference weeks
    python benchmarks/bench_reference.py --ref-weeks 8 --weeks 104
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import mesa  # noqa: E402
import numpy as np  # noqa: E402
from reference_mesa import ReferenceModel, VectorisedReduced, inputs_from_model  # noqa: E402

from sim.model import UmeaModel  # noqa: E402

GOAL = 300.0


def timed_steps(step, weeks: int) -> list[float]:
    """Seconds per call of `step`, `weeks` times."""
    out = []
    for _ in range(weeks):
        t = time.perf_counter()
        step()
        out.append(time.perf_counter() - t)
    return out


def model_kwargs(scale: float) -> dict:
    if scale == 1:
        return {}
    from bench_scaling import scaled_city, scaled_params

    return {"city": scaled_city(scale), **scaled_params(scale)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ref-weeks", type=int, default=4, help="weeks of the per-agent reference")
    ap.add_argument("--weeks", type=int, default=52, help="weeks of the engine (both variants)")
    ap.add_argument("--scale", type=float, default=1.0, help="city size relative to Umeå")
    args = ap.parse_args()
    print(f"python {platform.python_version()}, numpy {np.__version__}, mesa {mesa.__version__}, "
          f"{os.cpu_count()} CPUs")
    kw = model_kwargs(args.scale)
    model = UmeaModel(seed=args.seed, years=max(1, -(-args.weeks // 52)), **kw)
    inputs = inputs_from_model(model)
    n = inputs.n
    t = time.perf_counter()
    ref = ReferenceModel(inputs, seed=args.seed)
    ref_setup = time.perf_counter() - t
    ref_steps = timed_steps(ref.step, args.ref_weeks)
    vec = VectorisedReduced(model, seed=args.seed)
    vec_steps = timed_steps(vec.step, args.weeks)
    full = UmeaModel(seed=args.seed, years=max(1, -(-args.weeks // 52)), **kw)
    full_steps = timed_steps(full.step, args.weeks)
    ref_ms, vec_ms, full_ms = (1000 * statistics.median(s) for s in (ref_steps, vec_steps, full_steps))
    print(f"youths: {n:,}; peer ties: {inputs.peer_indices.size:,}; seed {args.seed}")
    print(f"per-agent Mesa reference: {ref_ms:9.1f} ms per weekly step (median of {args.ref_weeks} "
          f"weeks; {1e6 * ref_ms / 1000 / n:.1f} µs per youth; creating the agents {ref_setup:.2f} s)")
    print(f"engine, same reduced rules:  {vec_ms:6.2f} ms per weekly step (median of {args.weeks} weeks)")
    print(f"engine, full weekly step:    {full_ms:6.2f} ms per weekly step (median of {args.weeks} "
          "weeks; all processes, recording, DataCollector)")
    for name, ms in (("same reduced rules", vec_ms), ("full weekly step", full_ms)):
        ratio = ref_ms / ms
        print(f"ratio reference / engine ({name}): {ratio:6.0f}x  (goal >= {GOAL:.0f}x: "
              f"{'met' if ratio >= GOAL else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

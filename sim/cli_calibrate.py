"""Command-line subcommand `calibrate` (registered into `uvts` by sim.cli).

    uvts calibrate calibration/umea.yaml [--workers N] [--dask ADDRESS|local] [--out DIR]
                   [--max-minutes M] [--no-report] [--quiet]

Exit codes: 0 complete (ensemble and report written); 1 stopped before the stopping rule
(--max-minutes; run again to continue); 2 bad input; 130 interrupted (run again to resume).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `calibrate` subcommand; it sets `handler` (args -> exit code)."""
    cal = subparsers.add_parser(
        "calibrate", help="calibrate parameters to targets (ABC-SMC), resumable",
        description="Run or resume the calibration of a calibration file (calibration/README.md).")
    cal.add_argument("calibration", type=Path, help="calibration YAML, e.g. calibration/umea.yaml")
    cal.add_argument("--workers", type=int, default=None,
                     help="local worker processes (default: CPU count; 0 = in this process); "
                          "with --dask local: number of Dask workers")
    cal.add_argument("--dask", metavar="ADDRESS", default=None,
                     help="Dask scheduler address (tcp://host:8786), or 'local' for a LocalCluster")
    cal.add_argument("--out", type=Path, default=None,
                     help="output directory (default: calibration/<name>/ next to the file)")
    cal.add_argument("--max-minutes", type=float, default=None, metavar="M",
                     help="start no new generation after M minutes (run again to continue)")
    cal.add_argument("--no-report", action="store_true", help="do not write the fit report")
    cal.add_argument("--estimate", action="store_true",
                     help="only time a few runs here and project the budget's wall time")
    cal.add_argument("--quiet", action="store_true", help="no progress bar")
    cal.set_defaults(handler=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    try:
        from sim.calibrate import check_at_median, estimate, load_calibration, run_calibration
    except ImportError as exc:  # pyabc is the `calibrate` extra
        print(f"error: {exc}; install with: pip install -e '.[calibrate]'", file=sys.stderr)
        return 2
    try:
        spec = load_calibration(args.calibration)
        if args.estimate:
            import os

            workers = args.workers or os.cpu_count() or 1
            e = estimate(spec, workers)
            print(f"{e['seconds_per_run']:.2f} CPU s per run ({spec.simulation.burn_in_years} + "
                  f"{spec.simulation.years} years; {e['wall_seconds_per_run']:.2f} s wall time "
                  f"here); budget {e['candidates']} candidates × {spec.seeds_per_candidate} seeds "
                  f"= {e['model_runs']} runs ≈ {e['projected_minutes']:.0f} min on {workers} idle "
                  "cores (plus start-up and pyabc bookkeeping, ≈ 1-2 min)")
            return 0
        out = args.out or Path(args.calibration).resolve().parent / spec.name
        res = run_calibration(spec, out, workers=args.workers, dask=args.dask,
                              progress=not args.quiet, max_minutes=args.max_minutes)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{res.n_generations} generations, {res.simulations} candidates "
          f"({res.simulations * spec.seeds_per_candidate} model runs) this far; "
          f"{res.wall_s:.0f} s this time; ensemble in {out / 'ensemble.parquet'}")
    if res.interrupted:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    if not res.complete:
        print("not complete: run the same command again to continue", file=sys.stderr)
        return 1
    print(f"complete: {res.stop_reason}")
    if not args.no_report and res.ensemble is not None:
        from sim.calibration_report import write_report

        check = check_at_median(spec, res.ensemble)
        paths = write_report(spec, out, check)
        print(f"report: {paths['report_en']}, {paths['report_sv']}")
        missing = check[(check["kind"] == "target") & ~check["inside"]]
        if len(missing):
            print("targets outside tolerance at the posterior median: "
                  + ", ".join(missing["name"]), file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.cli_calibrate")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())

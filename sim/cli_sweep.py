"""Command-line subcommands `sweep` and `analyze` (registered into `uvts` by sim.cli).

    uvts sweep experiments/X.yaml [--workers N] [--dask ADDRESS|local] [--out DIR] [--no-analyze]
    uvts analyze OUT_DIR [--lang en|sv]

Exit codes: 0 done; 1 some runs failed or the analysis could not run; 2 bad input;
130 interrupted (re-run the same command to resume).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.errors import InputError

DEFAULT_OUT = Path("results")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `sweep` and `analyze` subcommands; each sets `handler` (args -> exit code)."""
    sw = subparsers.add_parser("sweep", help="run (or resume) a parameter sweep",
                               description="Run or resume the sweep of an experiment file.")
    sw.add_argument("experiment", type=Path, help="experiment YAML (see experiments/README.md)")
    sw.add_argument("--workers", type=int, default=None,
                    help="local worker processes (default: CPU count; 0 = in this process); "
                         "with --dask local: number of Dask workers")
    sw.add_argument("--dask", metavar="ADDRESS", default=None,
                    help="Dask scheduler address (tcp://host:8786), or 'local' for a LocalCluster")
    sw.add_argument("--out", type=Path, default=None,
                    help=f"output directory (default: {DEFAULT_OUT}/<experiment name>)")
    sw.add_argument("--no-analyze", action="store_true", help="do not analyse after the sweep")
    sw.add_argument("--limit", type=int, default=None, metavar="N",
                    help="run at most N of the pending runs this time (trial runs)")
    sw.add_argument("--recycle", type=int, default=None, metavar="N",
                    help="replace each local worker process after N runs (if memory grows)")
    sw.add_argument("--lang", choices=("en", "sv"), default="en", help="language of plot labels")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    from sim.cli import add_input_options

    add_input_options(sw)
    sw.set_defaults(handler=cmd_sweep)

    an = subparsers.add_parser("analyze", help="sensitivity analysis of a sweep directory",
                               description="Morris/Sobol tables and plots of a finished sweep.")
    an.add_argument("out_dir", type=Path, help="output directory of `sweep`")
    an.add_argument("--lang", choices=("en", "sv"), default="en", help="language of plot labels")
    an.set_defaults(handler=cmd_analyze)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run the sweep, then (unless --no-analyze) the analysis."""
    from sim.cli import confirm_runs
    from sim.errors import UsageError
    from sim.experiment import load_experiment
    from sim.inputs import safe_name
    from sim.outputs import check_sweep_out, write_files_manifest
    from sim.sweep import run_sweep

    for opt, lo in (("workers", 0), ("limit", 1), ("recycle", 1)):
        value = getattr(args, opt)
        if value is not None and not lo <= value <= 10**9:
            raise UsageError("command line", f"--{opt}", f"a whole number from {lo}", value)
    exp = load_experiment(args.experiment)
    out = args.out or DEFAULT_OUT / safe_name(exp.name)
    check_sweep_out(Path(out))
    n = exp.n_runs if args.limit is None else min(exp.n_runs, args.limit)
    confirm_runs(n, args.yes, str(args.experiment), "samples", exp.describe_runs())
    if not args.quiet:
        drawn = describe_uncertainty(exp)
        print(f"{exp.name}: {exp.describe_runs()}"
              + (f"; at most {args.limit:,} this time" if args.limit else "")
              + (f"; {drawn}" if drawn else ""), file=sys.stderr)
    res = run_sweep(exp, out, workers=args.workers, dask=args.dask, limit=args.limit,
                    progress=not args.quiet, recycle=args.recycle)
    files = sorted(str(p.relative_to(out)) for p in Path(out).rglob("*")
                   if p.is_file() and not p.name.startswith("."))
    write_files_manifest(Path(out), "sweep", files)
    if res.interrupted:
        print(f"uvts: interrupted: {res.n_done}/{res.n_tasks} runs done and saved in {out}; run "
              "the same command again to resume", file=sys.stderr)
        return 130
    print(f"{res.n_done}/{res.n_tasks} runs done ({res.n_run} this time, "
          f"{res.wall_s:.1f} s); results in {out / 'results.parquet'}")
    if res.n_failed:
        print(f"{res.n_failed} runs failed: see {out / 'failures.csv'}; run the same command "
              "again to retry them", file=sys.stderr)
    if args.no_analyze or not res.complete:
        return 1 if res.n_failed else 0
    return _analyze(out, args.lang) or (1 if res.n_failed else 0)


def describe_uncertainty(exp) -> str:
    """What every point draws besides its design values, and a changed horizon (printed
    before a sweep); empty when nothing is drawn."""
    if exp.model != "uvts" or (exp.ensemble is None and exp.effects != "drawn"
                               and exp.years is None):
        return ""
    if exp.ensemble is None:
        text = "fixed parameters (defaults and the scenarios' own)"
    else:
        from sim.ensemble import load_ensemble
        from sim.experiment import _display_path

        ens = load_ensemble(exp.ensemble)
        drawn = sorted(set(ens.params.columns) - set(exp.parameters) - set(exp.fixed))
        text = (f"per point and replicate a parameter set of {_display_path(exp.ensemble)} "
                f"({len(ens)} sets, by weight) for {len(drawn)} parameters not swept")
    text += ("; effects drawn from their ranges (triangular)" if exp.effects == "drawn"
             else "; effects at their point values")
    if exp.years is not None:
        text += (f"; {exp.years} year{'s' if exp.years != 1 else ''} instead of the scenarios' "
                 "horizon")
    return text + "; both scenarios share draws and seed" if len(exp.scenarios) == 2 else text


def cmd_analyze(args: argparse.Namespace) -> int:
    """Analyse a sweep directory (refused for a folder that holds no sweep)."""
    from sim.outputs import acquire_lock, require_sweep_folder

    require_sweep_folder(args.out_dir)
    lock = acquire_lock(args.out_dir)
    try:
        return _analyze(args.out_dir, args.lang)
    finally:
        lock.unlink(missing_ok=True)


def _analyze(out: Path, lang: str) -> int:
    from sim.sensitivity import analyze

    try:
        tables = analyze(out, lang=lang)
    except InputError as exc:
        print(f"uvts: error: {exc}", file=sys.stderr)
        return 1
    names = ", ".join(f"{k} ({len(v)} rows)" for k, v in tables.items())
    print(f"analysis: {names} in {Path(out) / 'analysis'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m sim.cli_sweep sweep|analyze ...` (the same as `uvts sweep|analyze`)."""
    parser = argparse.ArgumentParser(prog="python -m sim.cli_sweep")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    from sim.cli import run_handler

    return run_handler(args.handler, args, debug=False)


if __name__ == "__main__":
    sys.exit(main())

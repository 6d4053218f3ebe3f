"""The `uvts` command: run a scenario, compare scenarios, sweep and analyse experiments, check
input files.

Exit status: 0 done; 1 failed (runs failed, could not write, or an internal error); 2 bad input
(the message names the file, the field, what was expected and what was found); 130 interrupted
(Ctrl-C). `--debug` (anywhere on the command line, or UVTS_DEBUG=1) shows the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from sim.errors import InputError, ScenarioError, UsageError, shorten
from sim.inputs import ALLOW_ENV, SEARCH_ENV, environment, safe_name

MAX_RUNS = 10_000  # model runs a command may start without --yes (see README, "What is refused")


def _int_arg(lo: int, hi: int, what: str) -> Callable[[str], int]:
    """An argparse type: a whole number in [lo, hi]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what} (a whole number), got {text!r}") \
                from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"expected {what} from {lo:,} to {hi:,}, got {value}")
        return value
    parse.__name__ = what
    return parse


REPLICATES = _int_arg(1, 10_000, "a number of replicates")
SEED = _int_arg(0, 2**32 - 1, "a seed")
WORKERS = _int_arg(0, 1024, "a number of worker processes")


def add_input_options(p: argparse.ArgumentParser, runs: bool = True) -> None:
    """Options shared by the commands that read input files (and, with `runs`, start runs)."""
    p.add_argument("--allow-outside-range", action="store_true",
                   help="accept parameter values outside their plausible range (recorded in "
                        "the manifest); hard bounds still apply")
    p.add_argument("--search-path", action="append", default=[], metavar="DIR",
                   help="also read files named by extends:/use:/scenario: from DIR (repeatable)")
    if runs:
        p.add_argument("--yes", action="store_true",
                       help=f"start even if the command implies more than {MAX_RUNS:,} model runs")


def confirm_runs(n_runs: int, yes: bool, where: str, field: str, what: str) -> None:
    """Refuse more than MAX_RUNS model runs without --yes."""
    if n_runs > MAX_RUNS and not yes:
        raise UsageError(where, field, f"at most {MAX_RUNS:,} model runs without --yes (this "
                         f"command implies {what}; add --yes to start it anyway)", n_runs)


def _run(args: argparse.Namespace) -> int:
    from sim import ensemble, plots, results, runner
    from sim.outputs import OutputFolder
    from sim.params import resolve
    from sim.population import load_city
    from sim.rng import replicate_seed
    from sim.scenario import load_scenario

    scen = load_scenario(args.scenario)
    seed = scen.seed if args.seed is None else args.seed
    reps = scen.replicates if args.replicates is None else args.replicates
    confirm_runs(reps, args.yes, args.scenario, "replicates", f"{reps:,} runs")
    out = Path(args.out) if args.out else Path("results") / safe_name(scen.name)
    workers = args.workers or runner.default_workers(reps)
    runner.start_workers_early(workers)
    t0 = time.perf_counter()
    with OutputFolder(out, "run"):
        draws = ensemble.from_args(args)  # ensemble parameters / drawn effects, or None
        tasks = [ensemble.draw_task((scen, r, seed, None, None, args.events), draws)
                 for r in range(reps)]
        runs = runner.run_many(tasks, workers, desc=scen.name, progress=not args.quiet)
        tables = results.runs_tables(runs, load_city().districts, scen.start_year)
        for name, df in tables.items():
            results.write_table(df, out / (f"{name}.csv" if name in (
                "summary", "interventions", "indicators", "groups") else f"{name}.parquet"))
        from sim.interventions.ledger import ledger_tables

        for name, df in ledger_tables(tables["interventions"]).items():
            results.write_table(df, out / f"{name}.csv")  # per measure, level and department
        if args.events:
            micro = out / "micro"
            micro.mkdir(exist_ok=True)
            for r in runs:
                results.write_table(r.persons, micro / f"persons_r{r.replicate}.parquet")
                results.write_table(r.events, micro / f"events_r{r.replicate}.parquet")
        stats = tables["summary"].drop(columns=["scenario", "replicate", "seed"]).describe(
            percentiles=[0.05, 0.5, 0.95]).T
        results.write_table(stats.reset_index(names="output"), out / "summary_stats.csv")
        plots.stage_trajectories(tables["stages"], tables["network"], out / "stages.png",
                                 scen.label(args.lang), args.lang)
        params = resolve(scen.parameters)
        results.write_json(results.manifest([scen], seed,
                                            [replicate_seed(seed, r) for r in range(reps)],
                                            params, " ".join(sys.argv))
                           | {"uncertainty": draws.describe() if draws else "fixed"},
                           out / "manifest.json")
    if not args.quiet:
        print(f"{scen.label(args.lang)}: {reps} replicates in {time.perf_counter() - t0:.1f} s")
        print(stats[["mean", "5%", "95%"]].round(3).to_string())
        print(f"Results written to {out}/ (stages.png, summary.csv, *.parquet, manifest.json)")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from sim.compare import compare_main
    from sim.outputs import OutputFolder
    from sim.scenario import load_scenario

    if len(args.scenarios) < 2:
        raise UsageError("command line", "scenarios", "two or more scenario files",
                         args.scenarios)
    scens = [load_scenario(p) for p in args.scenarios]
    names = [s.name for s in scens]
    if len(set(names)) != len(names):
        raise ScenarioError(args.scenarios[1], "name", "scenario names that differ", names)
    reps = scens[0].replicates if args.replicates is None else args.replicates
    other = {s.id for s in scens[1].specs()}
    groups = [{getattr(s, by) for s in scens[0].specs() if s.id not in other}
              for by in ("department", "level")]
    depts = sum(map(len, groups)) if args.departments else 0
    n = reps * (len(scens) + depts)
    confirm_runs(n, args.yes, args.scenarios[0], "replicates",
                 f"{n:,} runs: {reps:,} replicates x ({len(scens)} scenarios + {depts} departments "
                 "and levels left out)")
    if not args.quiet:
        print(f"compare: {n:,} runs ({reps:,} replicates x ({len(scens)} scenarios + {depts} "
              "departments and levels left out))", file=sys.stderr)
    out = Path(args.out) if args.out else \
        Path("results") / safe_name("compare_" + "_vs_".join(names))
    args.out = str(out)
    with OutputFolder(out, "compare"):
        return compare_main(args, scens)


def _check(args: argparse.Namespace) -> int:
    from sim.check import check_paths

    return check_paths(args.files, quiet=args.quiet)


def _report_cmd(args: argparse.Namespace) -> int:
    from sim.report import write_report

    paths = write_report(args.results_dir, args.lang, pdf=not args.no_pdf)
    print("Report written to " + " and ".join(str(p) for p in paths.values()))
    return 0


def _dashboard_cmd(args: argparse.Namespace) -> int:
    from sim.dashboard.serve import serve

    return serve(lang=args.lang, host=args.host, port=args.port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="uvts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error (also accepted after the command)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one scenario over replicates")
    run.add_argument("scenario", help="scenario YAML file, e.g. scenarios/baseline.yaml")
    run.add_argument("--seed", type=SEED, help="base seed (default: the scenario's)")
    run.add_argument("--replicates", type=REPLICATES,
                     help="replicates, 1-10,000 (default: the scenario's)")
    run.add_argument("--out", help="output folder (default: results/<scenario>)")
    run.add_argument("--workers", type=WORKERS, help="processes (default: one per core)")
    run.add_argument("--lang", choices=("en", "sv"), default="en", help="figure language")
    run.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    run.add_argument("--events", action="store_true",
                     help="also write person-level micro-data per replicate: micro/persons_rR.parquet "
                          "(one row per person ever in the model) and micro/events_rR.parquet "
                          "(stage changes, reports of concern, intervention starts)")
    add_input_options(run)
    run.set_defaults(func=_run)
    from sim.ensemble import add_arguments as ensemble_arguments
    ensemble_arguments(run)
    cmp_ = sub.add_parser("compare", help="compare scenarios with paired seeds")
    cmp_.add_argument("scenarios", nargs="+", help="two or more scenario files; the first is "
                      "the reference")
    cmp_.add_argument("--seed", type=SEED, help="base seed (default: the first scenario's)")
    cmp_.add_argument("--replicates", type=REPLICATES, help="paired replicates, 1-10,000 "
                      "(default: the first scenario's)")
    cmp_.add_argument("--out", help="output folder (default: results/compare_<names>)")
    cmp_.add_argument("--workers", type=WORKERS, help="processes (default: one per core)")
    cmp_.add_argument("--lang", choices=("en", "sv"), default="en", help="labels language")
    cmp_.add_argument("--departments", action="store_true",
                      help="also each department's and each level's contribution, by leaving it "
                           "out (one more run per replicate for each department and level)")
    cmp_.add_argument("--no-departments", action="store_false", dest="departments",
                      help="without the contributions (the default; kept for older scripts)")
    cmp_.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_input_options(cmp_)
    cmp_.set_defaults(func=_compare)
    ensemble_arguments(cmp_, compare=True)
    chk = sub.add_parser("check", help="validate scenario, experiment and calibration files "
                         "without running them (exit 0 only if all are valid)",
                         description="Validate input files (or every .yaml file in a folder) "
                         "without running them: scenarios, intervention files, experiments, "
                         "calibration files, the parameter file.")
    chk.add_argument("files", nargs="+", help="files or folders")
    chk.add_argument("--quiet", action="store_true", help="print only the errors")
    add_input_options(chk, runs=False)
    chk.set_defaults(func=_check)
    rep = sub.add_parser("report", help="a planner's report (HTML and PDF) from `uvts compare` "
                         "results")
    rep.add_argument("results_dir", help="folder written by `uvts compare`")
    rep.add_argument("--lang", choices=("en", "sv"), default="en", help="report language "
                     "(Swedish is written beside English: report_sv.html, report_sv.pdf)")
    rep.add_argument("--no-pdf", action="store_true", help="write the HTML only")
    rep.set_defaults(func=_report_cmd)
    dash = sub.add_parser("dashboard", help="the workshop dashboard in the browser (works offline)")
    dash.add_argument("--lang", choices=("sv", "en"), default="sv", help="language (default sv)")
    dash.add_argument("--host", default="127.0.0.1", help="address to listen on (default "
                      "127.0.0.1: this computer only)")
    dash.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    dash.set_defaults(func=_dashboard_cmd)
    try:
        from sim.cli_sweep import register
    except ImportError:  # the sweep commands are optional while they are being built
        register = None
    if register is not None:
        register(sub)
    from sim.cli_calibrate import register as register_calibrate  # `uvts calibrate`
    register_calibrate(sub)
    return parser


def _start_workers_early(argv: list[str]) -> None:
    """For `run` and `compare` with more than one worker, start the workers' server before the
    engine is imported here, so that both import at once (see sim.workers)."""
    if not argv or argv[0] not in ("run", "compare") or "-h" in argv or "--help" in argv:
        return
    workers = os.cpu_count() or 1
    for k, a in enumerate(argv):
        value = a.split("=", 1)[1] if a.startswith("--workers=") else \
            (argv[k + 1] if a == "--workers" and k + 1 < len(argv) else None)
        if value is not None:
            workers = int(value) if value.strip().isdigit() else 1  # argparse reports the error
    from sim.workers import start_workers_early

    start_workers_early(workers)


def main(argv: list[str] | None = None) -> int:
    """`uvts ...`; returns the exit status (see the module docstring)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("UVTS_DEBUG", "") == "1"
    argv = [a for a in argv if a != "--debug"]
    _start_workers_early(argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already printed
        return exc.code if isinstance(exc.code, int) else 2
    except KeyboardInterrupt:
        return interrupted()
    handler = getattr(args, "func", None) or args.handler  # sweep/analyze set `handler`
    return run_handler(handler, args, debug)


def run_handler(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace,
                debug: bool = False) -> int:
    """Call a command's handler with the user's input options in force, turning every error
    into one line on stderr and an exit status."""
    env: dict[str, str | None] = {}
    if getattr(args, "allow_outside_range", False):
        env[ALLOW_ENV] = "1"
    if getattr(args, "search_path", None):
        paths = [str(Path(p).resolve()) for p in args.search_path]
        env[SEARCH_ENV] = os.pathsep.join(filter(None, [os.environ.get(SEARCH_ENV), *paths]))
    try:
        with environment(**env):
            return handler(args)
    except KeyboardInterrupt:
        return interrupted()
    except InputError as exc:
        if debug:
            traceback.print_exc()
        print(f"uvts: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if debug:
            raise
        name = f"{exc.filename}: " if exc.filename else ""
        print(f"uvts: error: {name}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if debug:
            raise
        print(f"uvts: internal error: {type(exc).__name__}: {shorten(str(exc), 300)} (a bug: "
              "run the same command with --debug and report what it prints)", file=sys.stderr)
        return 1


def interrupted() -> int:
    """Ctrl-C: one line, status 130 (whatever was being written has been removed)."""
    clear = "\r\033[K" if sys.stderr.isatty() else ""  # over a progress bar
    print(f"{clear}uvts: interrupted", file=sys.stderr)
    return 130


if __name__ == "__main__":
    sys.exit(main())

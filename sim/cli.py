"""The `uvts` command: run a scenario, compare scenarios, sweep and analyse experiments."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sim.errors import InputError


def _run(args: argparse.Namespace) -> int:
    from sim import ensemble, plots, results, runner
    from sim.params import resolve
    from sim.population import load_city
    from sim.rng import replicate_seed
    from sim.scenario import load_scenario

    scen = load_scenario(args.scenario)
    seed = scen.seed if args.seed is None else args.seed
    reps = scen.replicates if args.replicates is None else args.replicates
    out = Path(args.out or Path("results") / scen.name)
    workers = args.workers or runner.default_workers(reps)
    t0 = time.perf_counter()
    draws = ensemble.from_args(args)  # ensemble parameters / drawn effects, or None
    tasks = [ensemble.draw_task((scen, r, seed, None, None, args.events), draws)
             for r in range(reps)]
    runs = runner.run_many(tasks, workers, desc=scen.name, progress=not args.quiet)
    out.mkdir(parents=True, exist_ok=True)
    tables = results.runs_tables(runs, load_city().districts, scen.start_year)
    for name, df in tables.items():
        results.write_table(df, out / (f"{name}.csv" if name in ("summary", "interventions",
                                                                 "indicators", "groups")
                                       else f"{name}.parquet"))
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
    results.write_json(results.manifest([scen], seed, [replicate_seed(seed, r) for r in range(reps)],
                                        params, " ".join(sys.argv))
                       | {"uncertainty": draws.describe() if draws else "fixed"}, out / "manifest.json")
    if not args.quiet:
        print(f"{scen.label(args.lang)}: {reps} replicates in {time.perf_counter() - t0:.1f} s")
        print(stats[["mean", "5%", "95%"]].round(3).to_string())
        print(f"Results written to {out}/ (stages.png, summary.csv, *.parquet, manifest.json)")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from sim.compare import compare_main

    return compare_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="uvts", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one scenario over replicates")
    run.add_argument("scenario", help="scenario YAML file, e.g. scenarios/baseline.yaml")
    run.add_argument("--seed", type=int, help="base seed (default: the scenario's)")
    run.add_argument("--replicates", type=int, help="replicates (default: the scenario's)")
    run.add_argument("--out", help="output folder (default: results/<scenario>)")
    run.add_argument("--workers", type=int, help="processes (default: one per core)")
    run.add_argument("--lang", choices=("en", "sv"), default="en", help="figure language")
    run.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    run.add_argument("--events", action="store_true",
                     help="also write person-level micro-data per replicate: micro/persons_rR.parquet "
                          "(one row per person ever in the model) and micro/events_rR.parquet "
                          "(stage changes, reports of concern, intervention starts)")
    run.set_defaults(func=_run)
    from sim.ensemble import add_arguments as ensemble_arguments
    ensemble_arguments(run)
    cmp_ = sub.add_parser("compare", help="compare scenarios with paired seeds")
    cmp_.add_argument("scenarios", nargs="+", help="two or more scenario files; the first is "
                      "the reference")
    cmp_.add_argument("--seed", type=int, help="base seed (default: the first scenario's)")
    cmp_.add_argument("--replicates", type=int, help="paired replicates (default: the first "
                      "scenario's)")
    cmp_.add_argument("--out", help="output folder (default: results/compare_<names>)")
    cmp_.add_argument("--workers", type=int, help="processes (default: one per core)")
    cmp_.add_argument("--lang", choices=("en", "sv"), default="en", help="labels language")
    cmp_.add_argument("--no-departments", action="store_true",
                      help="skip the leave-one-department-out contributions")
    cmp_.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    cmp_.set_defaults(func=_compare)
    ensemble_arguments(cmp_, compare=True)
    try:
        from sim.cli_sweep import register
    except ImportError:  # the sweep commands are optional while they are being built
        register = None
    if register is not None:
        register(sub)
    from sim.cli_calibrate import register as register_calibrate  # `uvts calibrate`
    register_calibrate(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = getattr(args, "func", None) or args.handler  # sweep/analyze set `handler`
    try:
        return handler(args)
    except InputError as exc:
        print(f"uvts: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

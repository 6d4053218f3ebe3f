"""Paired comparison of scenarios: the counterfactual question "what difference does it make?".

The first scenario is the one evaluated; each other scenario is an alternative (e.g. without
UVTS). Replicate r of every scenario uses the same seed, so differences are taken pair by pair:
`recruits prevented` = recruits(other) − recruits(first), per replicate, with a 90% interval.
Each department's contribution to the first scenario is measured by leaving its measures out
(paired leave-one-department-out).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sim import ensemble, plots, results, runner
from sim.errors import ScenarioError
from sim.labels import label
from sim.params import resolve
from sim.population import load_city
from sim.results import FLOW_INDEX, NETWORK_SERIES, REPORT_CHANNELS
from sim.rng import replicate_seed
from sim.scenario import Scenario, load_scenario

RECRUIT_FLOWS = [FLOW_INDEX[f"recruited_{k}"] for k in ("peer", "sibling", "school", "place")]
REPORT_FLOWS = [FLOW_INDEX[c] for c in REPORT_CHANNELS]
Q = (0.05, 0.5, 0.95)
# The headline outcome: children (under 18) drawn into a criminal network's periphery (stage 1 → 2),
# i.e. recruited as "youngers" (Brå 2023:13: children are recruited at 12-15). This is what the
# activity plan sets out to stop ("stoppa rekryteringen av barn och unga till kriminella nätverk")
# and it is frequent enough (≈65 a year) for a paired difference to be estimable; new network
# members (stage 2 → 3, ≈10 a year) are reported beside it.
HEADLINE = "periphery_entries_u18"
OUTCOMES = ("periphery_entries_u18", "periphery_entries", "new_members", "new_members_u18",
            "youth_years_stage2plus", "active_members_mean", "reports_of_concern", "cost_sek")


def per_replicate(runs: list[runner.Run]) -> pd.DataFrame:
    """One row per run: both recruitment outcomes, youth-years at stage ≥2, network size,
    reports of concern, cost."""
    rows = []
    for r in runs:
        rec = r.recorder
        fl = rec.flows.sum(axis=(0, 1))
        rows.append({
            "scenario": r.scenario, "replicate": r.replicate,
            "periphery_entries_u18": int(fl[FLOW_INDEX["recruited_u18"]]),
            "periphery_entries": int(fl[RECRUIT_FLOWS].sum()),
            "new_members": int(fl[FLOW_INDEX["new_members"]]),
            "new_members_u18": int(fl[FLOW_INDEX["new_members_u18"]]),
            "youth_years_stage2plus": rec.stage_counts[:, :, 2:4].sum() / 52.0,
            "active_members_mean": rec.network[:, NETWORK_SERIES.index("active_members")].mean(),
            "reports_of_concern": int(fl[REPORT_FLOWS].sum()),
            "cost_sek": rec.network[:, NETWORK_SERIES.index("cost_sek")].sum(),
        })
    return pd.DataFrame(rows)


def replacement(runs: list[runner.Run], first: str) -> pd.DataFrame:
    """Replacement per alternative scenario, pair by pair.

    Among the youths the first scenario's measures reached individually (participants), the
    measures prevent `direct` = entries(other) − entries(first) into the periphery before 18; the
    net difference over all youths is `net`. What the participants were spared but others took up
    instead is `direct − net`; the replacement share is Σ(direct − net) / Σ direct over the pairs
    (undefined when the measures prevent nothing among participants)."""
    by = {(r.scenario, r.replicate): r for r in runs}
    rows = []
    for (name, rep), r in by.items():
        if name == first or (first, rep) not in by:
            continue
        a = by[(first, rep)]
        part = a.participants if a.participants is not None else np.zeros(0, np.int64)
        direct = np.isin(r.entered_u18, part).sum() - np.isin(a.entered_u18, part).sum()
        net = len(r.entered_u18) - len(a.entered_u18)
        rows.append({"scenario": name, "replicate": rep, "participants": len(part),
                     "prevented_among_participants": int(direct), "prevented_net": int(net)})
    return pd.DataFrame(rows)


def replacement_share(rep: pd.DataFrame) -> float:
    direct = rep["prevented_among_participants"].sum()
    if direct <= 0:
        return float("nan")
    return float((direct - rep["prevented_net"].sum()) / direct)


def per_district(runs: list[runner.Run], districts: tuple[str, ...]) -> pd.DataFrame:
    """Recruits and youth-years at stage ≥2 per run and district."""
    frames = []
    for r in runs:
        rec = r.recorder
        frames.append(pd.DataFrame({
            "scenario": r.scenario, "replicate": r.replicate, "district": districts,
            "periphery_entries_u18": rec.flows[:, :, FLOW_INDEX["recruited_u18"]].sum(axis=0),
            "new_members": rec.flows[:, :, FLOW_INDEX["new_members"]].sum(axis=0),
            "youth_years_stage2plus": rec.stage_counts[:, :, 2:4].sum(axis=(0, 2)) / 52.0,
        }))
    return pd.concat(frames, ignore_index=True)


def paired(df: pd.DataFrame, first: str, keys: list[str], value: str) -> pd.DataFrame:
    """value(other) − value(first) per replicate (and keys), for every other scenario."""
    ref = df[df["scenario"] == first].set_index(["replicate", *keys])[value]
    out = df[df["scenario"] != first].copy()
    out["diff"] = out[value].to_numpy() - ref.reindex(
        pd.MultiIndex.from_frame(out[["replicate", *keys]])).to_numpy()
    return out


def interval(values: pd.Series) -> dict[str, float]:
    """5%, 50% and 95% quantiles."""
    lo, med, hi = np.quantile(values.to_numpy(dtype=float), Q)
    return {"lo": lo, "median": med, "hi": hi}


def summary_table(rep: pd.DataFrame, first: str, repl: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per scenario: medians with 90% intervals; for each alternative, what the first prevents
    (headline: children drawn into the periphery; also new members), SEK per prevented child and
    the replacement share."""
    rows = []
    diff = paired(rep, first, [], HEADLINE)
    diff_members = paired(rep, first, [], "new_members")
    cost = paired(rep, first, [], "cost_sek")
    for name, g in rep.groupby("scenario", sort=False):
        row = {"scenario": name}
        for col in OUTCOMES:
            for k, v in interval(g[col]).items():
                row[f"{col}_{k}"] = v
        if name != first:
            prevented = interval(diff.loc[diff["scenario"] == name, "diff"])
            extra_cost = -cost.loc[cost["scenario"] == name, "diff"].median()
            row.update({f"prevented_by_first_{k}": v for k, v in prevented.items()})
            row["sek_per_prevented"] = extra_cost / prevented["median"] \
                if prevented["median"] > 0 else np.nan
            members = interval(diff_members.loc[diff_members["scenario"] == name, "diff"])
            row.update({f"new_members_prevented_by_first_{k}": v for k, v in members.items()})
            if repl is not None and not repl.empty:
                row["replacement_share"] = replacement_share(repl[repl["scenario"] == name])
        rows.append(row)
    return pd.DataFrame(rows)


def district_table(dist: pd.DataFrame, first: str) -> pd.DataFrame:
    """Per scenario and district: recruits and youth-years, and recruits prevented by the first."""
    base = dist.groupby(["scenario", "district"], sort=False)[
        [HEADLINE, "new_members", "youth_years_stage2plus"]].median().reset_index()
    d = paired(dist, first, ["district"], HEADLINE)
    prev = d.groupby(["scenario", "district"])["diff"].quantile(list(Q)).unstack()
    prev.columns = ["prevented_by_first_lo", "prevented_by_first_median", "prevented_by_first_hi"]
    return base.merge(prev.reset_index(), on=["scenario", "district"], how="left")


def department_contributions(first: Scenario, other: Scenario, seed: int, reps: int,
                             workers: int, full: pd.DataFrame, progress: bool,
                             draws: ensemble.Draws | None = None) -> pd.DataFrame:
    """Recruits each department's measures prevent within the first scenario (leave one out)."""
    other_ids = {s.id for s in other.specs()}
    specs = first.specs()
    depts = sorted({s.department for s in specs if s.id not in other_ids})
    if not depts:
        return pd.DataFrame()
    tasks = [(first, r, seed, None, [s for s in specs if s.department != d or s.id in other_ids])
             for d in depts for r in range(reps)]
    tasks = [ensemble.draw_task(t, draws) for t in tasks]  # same draws as the full runs
    runs = runner.run_many(tasks, workers, desc="departments", progress=progress)
    base = full[full["scenario"] == first.name].set_index("replicate")[HEADLINE]
    rows = []
    for k, d in enumerate(depts):
        without = per_replicate(runs[k * reps:(k + 1) * reps]).set_index("replicate")[HEADLINE]
        iv = interval(without - base)
        cost = sum(s.cost_sek_per_year * s.scale for s in specs
                   if s.department == d and s.id not in other_ids)
        rows.append({"department": d, "prevented_lo": iv["lo"], "prevented_median": iv["median"],
                     "prevented_hi": iv["hi"], "cost_sek_per_year": cost})
    return pd.DataFrame(rows)


def _check_horizons(scens: list[Scenario]) -> None:
    a = scens[0]
    for s in scens[1:]:
        for field in ("start_year", "years"):
            if getattr(s, field) != getattr(a, field):
                raise ScenarioError(s.source_file, field,
                                    f"the same value as in {a.source_file} ({getattr(a, field)}) "
                                    "to compare pair by pair", getattr(s, field))


def compare_main(args: argparse.Namespace) -> int:
    """`uvts compare A.yaml B.yaml [...]`: paired runs, tables, figures, contributions."""
    if len(args.scenarios) < 2:
        raise ScenarioError("command line", "scenarios", "two or more scenario files")
    scens = [load_scenario(p) for p in args.scenarios]
    _check_horizons(scens)
    first = scens[0]
    seed = first.seed if args.seed is None else args.seed
    reps = first.replicates if args.replicates is None else args.replicates
    names = [s.name for s in scens]
    if len(set(names)) != len(names):
        raise ScenarioError(args.scenarios[1], "name", "scenario names that differ", names)
    out = Path(args.out or Path("results") / ("compare_" + "_vs_".join(names)))
    workers = args.workers or runner.default_workers(reps * len(scens))
    t0 = time.perf_counter()
    draws = ensemble.from_args(args)  # ensemble parameters / drawn effects, or None
    tasks = [ensemble.draw_task((s, r, seed), draws) for s in scens for r in range(reps)]
    runs = runner.run_many(tasks, workers, desc="scenarios", progress=not args.quiet)
    districts = load_city().districts
    rep = per_replicate(runs)
    dist = per_district(runs, districts)
    repl = replacement(runs, first.name)
    summary = ensemble.attach(summary_table(rep, first.name, repl), rep, first.name, reps)
    depts = pd.DataFrame() if args.no_departments else department_contributions(
        first, scens[1], seed, reps, workers, rep, not args.quiet, draws)
    decomp = ensemble.decompose(scens, reps, seed, draws or ensemble.Draws(), workers, rep,
                                progress=not args.quiet) if getattr(args, "decompose", False) \
        else None
    out.mkdir(parents=True, exist_ok=True)
    tables = results.runs_tables(runs, districts, first.start_year)
    for name in ("stages", "flows", "network"):
        results.write_table(tables[name], out / f"{name}.parquet")
    results.write_table(rep, out / "per_replicate.csv")
    results.write_table(repl, out / "replacement.csv")
    results.write_table(summary, out / "summary.csv")
    if decomp is not None:
        results.write_table(decomp, out / "variance_decomposition.csv")
    results.write_table(district_table(dist, first.name), out / "summary_by_district.csv")
    if not depts.empty:
        results.write_table(depts, out / "departments.csv")
        plots.contributions(depts, out / "departments.png", args.lang,
                            title=label("contributions_title", args.lang, a=first.label(args.lang),
                                        n=reps))
    _figures(tables, scens, out, args.lang)
    results.write_json(results.manifest(scens, seed, [replicate_seed(seed, r) for r in range(reps)],
                                        resolve(first.parameters), " ".join(sys.argv))
                       | {"uncertainty": draws.describe() if draws else "fixed"},
                       out / "manifest.json")
    if not args.quiet:
        _report(summary, depts, first, reps, time.perf_counter() - t0, out, args.lang,
                {s.name: s.label(args.lang) for s in scens})
        ensemble.report(summary, decomp, draws, reps, {s.name: s.label(args.lang) for s in scens})
    return 0


def _figures(tables: dict[str, pd.DataFrame], scens: list[Scenario], out: Path, lang: str) -> None:
    flows = tables["flows"]
    rec = flows[flows["flow"] == "recruited_u18"]  # the headline: children drawn into the periphery
    weekly = rec.groupby(["scenario", "replicate", "step"], as_index=False)["count"].sum()
    weekly = weekly.rename(columns={"count": "recruits"})
    weekly["time"] = scens[0].start_year + (weekly["step"] + 1) / 52.0
    first = scens[0]
    for k, other in enumerate(scens[1:]):
        suffix = "" if k == 0 else f"_{other.name}"
        plots.counterfactual(weekly[weekly["scenario"] == first.name],
                             weekly[weekly["scenario"] == other.name],
                             first.label(lang), other.label(lang),
                             out / f"counterfactual{suffix}.png", lang)


def _report(summary: pd.DataFrame, depts: pd.DataFrame, first: Scenario, reps: int,
            seconds: float, out: Path, lang: str, labels: dict[str, str]) -> None:
    print(f"{reps} paired replicates per scenario in {seconds:.0f} s")
    for _, row in summary.iloc[1:].iterrows():
        print(f"{first.label(lang)} vs {labels.get(row['scenario'], row['scenario'])}: "
              "children drawn into the periphery (stage 1→2, under 18) prevented "
              f"{row['prevented_by_first_median']:.1f} (90% interval "
              f"{row['prevented_by_first_lo']:.1f} to {row['prevented_by_first_hi']:.1f}); "
              f"new network members prevented {row['new_members_prevented_by_first_median']:.1f}; "
              f"SEK per prevented child: {row['sek_per_prevented']:,.0f}; replacement share "
              f"{row.get('replacement_share', float('nan')):.2f}")
    if not depts.empty:
        print(depts.round(1).to_string(index=False))
    print(f"Results written to {out}/")

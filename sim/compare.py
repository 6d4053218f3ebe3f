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

from sim import plots, results, runner
from sim.errors import ScenarioError
from sim.labels import label
from sim.params import resolve
from sim.population import load_city
from sim.results import FLOW_INDEX
from sim.rng import replicate_seed
from sim.scenario import Scenario, load_scenario

RECRUIT_FLOWS = [FLOW_INDEX[f"recruited_{k}"] for k in ("peer", "sibling", "school", "place")]
Q = (0.05, 0.5, 0.95)


def per_replicate(runs: list[runner.Run]) -> pd.DataFrame:
    """One row per run: recruits, youth-years at stage ≥2, network size, detections, cost."""
    rows = []
    for r in runs:
        rec = r.recorder
        rows.append({
            "scenario": r.scenario, "replicate": r.replicate,
            "new_recruits": int(rec.flows[:, :, RECRUIT_FLOWS].sum()),
            "youth_years_stage2plus": rec.stage_counts[:, :, 2:4].sum() / 52.0,
            "active_members_mean": rec.network[:, 0].mean(),
            "detections": int(rec.flows[:, :, FLOW_INDEX["detections"]].sum()),
            "cost_sek": rec.network[:, -1].sum(),
        })
    return pd.DataFrame(rows)


def per_district(runs: list[runner.Run], districts: tuple[str, ...]) -> pd.DataFrame:
    """Recruits and youth-years at stage ≥2 per run and district."""
    frames = []
    for r in runs:
        rec = r.recorder
        frames.append(pd.DataFrame({
            "scenario": r.scenario, "replicate": r.replicate, "district": districts,
            "new_recruits": rec.flows[:, :, RECRUIT_FLOWS].sum(axis=(0, 2)),
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


def horizon_tag(start_year: int, years: int) -> str:
    """'2024_2033' for a run over 2024-2033: goes into column names, so a number never loses
    the period it counts over."""
    last = start_year + years - 1
    return f"{start_year}_{last}" if last > start_year else f"{start_year}"


SUMMARY_MEASURES = (
    # raw column, column stem, unit, decimals, divisor
    ("new_recruits", "recruits", "youths", 1, 1.0),
    ("youth_years_stage2plus", "youth_years_stage2plus", "youth-years", 0, 1.0),
    ("active_members_mean", "active_members_mean", "persons", 0, 1.0),
    ("detections", "detections", "youths", 0, 1.0),
    ("cost_sek", "cost_msek", "MSEK", 1, 1e6),
)


def summary_table(rep: pd.DataFrame, first: str, horizon: str = "",
                  labels: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per scenario, rounded, with the unit and the horizon in every column name.

    The first scenario is the one evaluated: its row carries the headline — recruits prevented
    compared with the counterfactual (the second scenario), median and 90% interval of the paired
    differences, the extra cost, and SEK per prevented recruit where recruits were prevented (a
    note says why the cost per prevented recruit is missing otherwise). The counterfactual rows
    carry their own outcomes only; comparisons with a third or later scenario are in
    `comparisons_table`."""
    h = f"_{horizon}" if horizon else ""
    labels = labels or {}
    names = list(dict.fromkeys(rep["scenario"]))
    rows = []
    for name in names:
        g = rep[rep["scenario"] == name]
        row = {"scenario": name, "label": labels.get(name, name),
               "role": "evaluated" if name == first else "counterfactual"}
        for col, stem, _unit, digits, div in SUMMARY_MEASURES:
            iv = interval(g[col] / div)
            row[f"{stem}{h}_median"] = round(iv["median"], digits)
            row[f"{stem}{h}_p5"] = round(iv["lo"], digits)
            row[f"{stem}{h}_p95"] = round(iv["hi"], digits)
        rows.append(row)
    out = pd.DataFrame(rows)
    others = [n for n in names if n != first]
    if others:
        head = comparisons_table(rep, first, horizon, labels).iloc[0]
        for col in head.index:
            if col not in ("evaluated", "evaluated_label"):
                out.loc[out["scenario"] == first, col] = head[col]
    return out


def comparisons_table(rep: pd.DataFrame, first: str, horizon: str = "",
                      labels: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per counterfactual: what the evaluated (first) scenario changes compared with it,
    pair by pair (median and 90% interval), at what extra cost, and SEK per prevented recruit
    where the median of recruits prevented is above zero."""
    h = f"_{horizon}" if horizon else ""
    labels = labels or {}
    diff = paired(rep, first, [], "new_recruits")
    cost = paired(rep, first, [], "cost_sek")
    rows = []
    for name in dict.fromkeys(diff["scenario"]):
        prevented = interval(diff.loc[diff["scenario"] == name, "diff"])
        extra = interval(-cost.loc[cost["scenario"] == name, "diff"] / 1e6)
        med = prevented["median"]
        if med > 0:
            per = round(extra["median"] * 1e6 / med, -3)
            note = ("" if prevented["lo"] > 0 else
                    "the 90% interval of recruits prevented includes zero or fewer")
        else:
            per = np.nan
            note = ("no recruits prevented (median of paired runs "
                    f"{med:.1f}{': more recruits than the counterfactual' if med < 0 else ''}); "
                    "SEK per prevented recruit is not defined")
        rows.append({
            "evaluated": first, "evaluated_label": labels.get(first, first),
            "compared_with": name, "compared_with_label": labels.get(name, name),
            f"prevented_recruits{h}_median": round(med, 1),
            f"prevented_recruits{h}_p5": round(prevented["lo"], 1),
            f"prevented_recruits{h}_p95": round(prevented["hi"], 1),
            f"extra_cost_msek{h}_median": round(extra["median"], 1),
            "sek_per_prevented_recruit": per,
            "note": note,
        })
    return pd.DataFrame(rows)


def district_table(dist: pd.DataFrame, first: str, horizon: str = "") -> pd.DataFrame:
    """Per scenario and district: recruits and youth-years (medians), and recruits prevented by
    the first scenario (median and 90% interval of paired differences), rounded."""
    h = f"_{horizon}" if horizon else ""
    base = dist.groupby(["scenario", "district"], sort=False)[
        ["new_recruits", "youth_years_stage2plus"]].median().reset_index()
    d = paired(dist, first, ["district"], "new_recruits")
    prev = d.groupby(["scenario", "district"], sort=False)["diff"].quantile(list(Q)).unstack()
    prev.columns = [f"prevented_recruits{h}_p5", f"prevented_recruits{h}_median",
                    f"prevented_recruits{h}_p95"]
    out = base.merge(prev.reset_index(), on=["scenario", "district"], how="left")
    out = out.rename(columns={"new_recruits": f"recruits{h}_median",
                              "youth_years_stage2plus": f"youth_years_stage2plus{h}_median"})
    num = out.select_dtypes("number").columns
    return out.assign(**{c: out[c].round(1) for c in num})


def plan_period(first: Scenario, other: Scenario) -> tuple[float, float] | None:
    """(start, end) of the measures the evaluated scenario has and the counterfactual lacks, as
    decimal years (end exclusive); None if there are none."""
    other_ids = {s.id for s in other.specs()}
    own = [s for s in first.specs() if s.id not in other_ids]
    if not own:
        return None
    horizon_end = float(first.start_year + first.years)
    lo = max(min(s.start for s in own), float(first.start_year))
    hi = min(max((s.end if s.end is not None else horizon_end) for s in own), horizon_end)
    return (lo, hi) if hi > lo else None


def department_contributions(first: Scenario, other: Scenario, seed: int, reps: int,
                             workers: int, full: pd.DataFrame, progress: bool) -> pd.DataFrame:
    """Recruits each department's measures prevent within the first scenario (leave one out)."""
    other_ids = {s.id for s in other.specs()}
    specs = first.specs()
    depts = sorted({s.department for s in specs if s.id not in other_ids})
    if not depts:
        return pd.DataFrame()
    tasks = [(first, r, seed, None, [s for s in specs if s.department != d or s.id in other_ids])
             for d in depts for r in range(reps)]
    runs = runner.run_many(tasks, workers, desc="departments", progress=progress)
    base = full[full["scenario"] == first.name].set_index("replicate")["new_recruits"]
    rows = []
    for k, d in enumerate(depts):
        without = per_replicate(runs[k * reps:(k + 1) * reps]).set_index("replicate")["new_recruits"]
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
    tasks = [(s, r, seed) for s in scens for r in range(reps)]
    runs = runner.run_many(tasks, workers, desc="scenarios", progress=not args.quiet)
    districts = load_city().districts
    rep = per_replicate(runs)
    dist = per_district(runs, districts)
    horizon = horizon_tag(first.start_year, first.years)
    en_labels = {s.name: s.label("en") for s in scens}
    summary = summary_table(rep, first.name, horizon, en_labels)
    depts = pd.DataFrame() if args.no_departments else department_contributions(
        first, scens[1], seed, reps, workers, rep, not args.quiet)
    out.mkdir(parents=True, exist_ok=True)
    tables = results.runs_tables(runs, districts, first.start_year)
    for name in ("stages", "flows", "network"):
        results.write_table(tables[name], out / f"{name}.parquet")
    results.write_table(rep, out / "per_replicate.csv")
    results.write_table(summary, out / "summary.csv")
    results.write_table(comparisons_table(rep, first.name, horizon, en_labels),
                        out / "comparisons.csv")
    results.write_table(district_table(dist, first.name, horizon), out / "summary_by_district.csv")
    if not depts.empty:
        results.write_table(depts.round(1), out / "departments.csv")
        plots.contributions(depts, out / "departments.png", args.lang,
                            title=label("contributions_title", args.lang, a=first.label(args.lang),
                                        n=reps))
    plan = plan_period(first, scens[1])
    _figures(tables, scens, out, args.lang, plan)
    man = results.manifest(scens, seed, [replicate_seed(seed, r) for r in range(reps)],
                           resolve(first.parameters), " ".join(sys.argv))
    man["comparison"] = {
        "evaluated": first.name, "counterfactuals": [s.name for s in scens[1:]],
        "replicates": reps, "start_year": first.start_year, "years": first.years,
        "plan_period": list(plan) if plan else None,
        "labels": {lang: {s.name: s.label(lang) for s in scens} for lang in ("en", "sv")},
    }
    results.write_json(man, out / "manifest.json")
    if not args.quiet:
        _report(summary, depts, first, reps, time.perf_counter() - t0, out, args.lang,
                {s.name: s.label(args.lang) for s in scens})
    return 0


def weekly_recruits(flows: pd.DataFrame, start_year: int) -> pd.DataFrame:
    """Recruits (stage 1 → 2, all layers) per scenario, replicate and week, with decimal time."""
    f = flows[flows["flow"].astype(str).str.startswith("recruited_")
              & (flows["flow"].astype(str) != "recruited_u18")]
    weekly = f.groupby(["scenario", "replicate", "step"], as_index=False, observed=True)[
        "count"].sum()
    weekly["scenario"] = weekly["scenario"].astype(str)
    weekly = weekly.rename(columns={"count": "recruits"})
    weekly["time"] = start_year + (weekly["step"] + 1) / 52.0
    return weekly


def _figures(tables: dict[str, pd.DataFrame], scens: list[Scenario], out: Path, lang: str,
             plan: tuple[float, float] | None = None) -> None:
    weekly = weekly_recruits(tables["flows"], scens[0].start_year)
    first = scens[0]
    for k, other in enumerate(scens[1:]):
        suffix = "" if k == 0 else f"_{other.name}"
        plots.counterfactual(weekly[weekly["scenario"] == first.name],
                             weekly[weekly["scenario"] == other.name],
                             first.label(lang), other.label(lang),
                             out / f"counterfactual{suffix}.png", lang,
                             plan=plan if k == 0 else plan_period(first, other))


def _report(summary: pd.DataFrame, depts: pd.DataFrame, first: Scenario, reps: int,
            seconds: float, out: Path, lang: str, labels: dict[str, str]) -> None:
    print(f"{reps} paired replicates per scenario in {seconds:.0f} s")
    head = summary.iloc[0]
    med = next(c for c in summary.columns if c.startswith("prevented_recruits") and
               c.endswith("_median"))
    stem = med[:-len("_median")]
    if med in summary and not pd.isna(head[med]):
        per = head["sek_per_prevented_recruit"]
        print(f"{first.label(lang)} vs {labels.get(head['compared_with'], head['compared_with'])}: "
              f"recruits prevented {head[med]:.1f} (90% interval {head[stem + '_p5']:.1f} to "
              f"{head[stem + '_p95']:.1f}); SEK per prevented recruit: "
              + (f"{per:,.0f}" if not pd.isna(per) else f"not defined ({head['note']})"))
    if not depts.empty:
        print(depts.round(1).to_string(index=False))
    print(f"Results written to {out}/")

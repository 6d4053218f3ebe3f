"""Paired comparison of scenarios: the counterfactual question "what difference does it make?".

The first scenario is the one evaluated; each other scenario is an alternative (e.g. without
UVTS). Replicate r of every scenario uses the same seed, so differences are taken pair by pair:
`prevented` = outcome(other) − outcome(first), per replicate, with a 90% interval. The headline
outcome is children (under 18) drawn into a network's periphery (stage 1 → 2); new network members
(stage 2 → 3) are reported beside it.
Each department's contribution to the first scenario is measured by leaving its measures out
(paired leave-one-department-out).
"""

from __future__ import annotations

import argparse
import os
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


def horizon_tag(start_year: int, years: int) -> str:
    """'2024_2033' for a run over 2024-2033 ('2024' for one year): goes into column names, so a
    number never loses the period it counts over."""
    last = start_year + years - 1
    return f"{start_year}_{last}" if last > start_year else f"{start_year}"


SUMMARY_MEASURES = (
    # raw column, column stem, unit, decimals, divisor
    ("periphery_entries_u18", "periphery_entries_u18", "children", 1, 1.0),
    ("periphery_entries", "periphery_entries", "youths", 1, 1.0),
    ("new_members", "new_members", "youths", 1, 1.0),
    ("new_members_u18", "new_members_u18", "children", 1, 1.0),
    ("youth_years_stage2plus", "youth_years_stage2plus", "youth-years", 0, 1.0),
    ("active_members_mean", "active_members_mean", "persons", 0, 1.0),
    ("reports_of_concern", "reports_of_concern", "reports", 0, 1.0),
    ("cost_sek", "cost_msek", "MSEK", 1, 1e6),
)


def summary_table(rep: pd.DataFrame, first: str, horizon: str = "",
                  labels: dict[str, str] | None = None,
                  repl: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per scenario, rounded, with the unit and the horizon in every column name.

    The first scenario is the one evaluated: its row carries the headline against the
    counterfactual (the second scenario) — children kept out of the periphery and new network
    members prevented (median and 90% interval of the paired differences), the extra cost, SEK
    per child kept out where children were kept out (a note says why it is missing otherwise) and
    the replacement share. The counterfactual rows carry their own outcomes only; comparisons
    with a third or later scenario are in `comparisons_table`."""
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
    if len(names) > 1:
        head = comparisons_table(rep, first, horizon, labels, repl).iloc[0]
        for col in head.index:
            if col not in ("evaluated", "evaluated_label"):
                out[col] = pd.Series([head[col] if n == first else None for n in names],
                                     dtype=object if isinstance(head[col], str) else float)
    return out


def comparisons_table(rep: pd.DataFrame, first: str, horizon: str = "",
                      labels: dict[str, str] | None = None,
                      repl: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per counterfactual: what the evaluated (first) scenario changes compared with it,
    pair by pair (median and 90% interval), at what extra cost, SEK per child kept out of the
    periphery where the median is above zero, and the replacement share."""
    h = f"_{horizon}" if horizon else ""
    labels = labels or {}
    diff = paired(rep, first, [], HEADLINE)
    members = paired(rep, first, [], "new_members")
    cost = paired(rep, first, [], "cost_sek")
    rows = []
    for name in dict.fromkeys(diff["scenario"]):
        prevented = interval(diff.loc[diff["scenario"] == name, "diff"])
        mem = interval(members.loc[members["scenario"] == name, "diff"])
        extra = interval(-cost.loc[cost["scenario"] == name, "diff"] / 1e6)
        med = prevented["median"]
        if med > 0:
            per = round(extra["median"] * 1e6 / med, -3)
            note = ("" if prevented["lo"] > 0 else
                    "the 90% interval of children kept out of the periphery includes zero or fewer")
        else:
            per = np.nan
            worse = ": more children drawn in than in the counterfactual" if med < 0 else ""
            note = (f"no children kept out of the periphery (median of paired runs {med:.1f}"
                    f"{worse}); SEK per child kept out is not defined")
        share = np.nan
        if repl is not None and not repl.empty:
            share = replacement_share(repl[repl["scenario"] == name])
        rows.append({
            "evaluated": first, "evaluated_label": labels.get(first, first),
            "compared_with": name, "compared_with_label": labels.get(name, name),
            f"prevented_periphery_entries_u18{h}_median": round(med, 1),
            f"prevented_periphery_entries_u18{h}_p5": round(prevented["lo"], 1),
            f"prevented_periphery_entries_u18{h}_p95": round(prevented["hi"], 1),
            f"prevented_new_members{h}_median": round(mem["median"], 1),
            f"prevented_new_members{h}_p5": round(mem["lo"], 1),
            f"prevented_new_members{h}_p95": round(mem["hi"], 1),
            f"extra_cost_msek{h}_median": round(extra["median"], 1),
            "sek_per_child_kept_out": per,
            "replacement_share": round(share, 2) if share == share else np.nan,
            "note": note,
        })
    return pd.DataFrame(rows)


def district_table(dist: pd.DataFrame, first: str, horizon: str = "") -> pd.DataFrame:
    """Per scenario and district: both recruitment outcomes and youth-years (medians), and
    children kept out of the periphery by the first scenario (median and 90% interval of paired
    differences), rounded."""
    h = f"_{horizon}" if horizon else ""
    base = dist.groupby(["scenario", "district"], sort=False)[
        [HEADLINE, "new_members", "youth_years_stage2plus"]].median().reset_index()
    d = paired(dist, first, ["district"], HEADLINE)
    prev = d.groupby(["scenario", "district"], sort=False)["diff"].quantile(list(Q)).unstack()
    prev.columns = [f"prevented_periphery_entries_u18{h}_p5",
                    f"prevented_periphery_entries_u18{h}_median",
                    f"prevented_periphery_entries_u18{h}_p95"]
    out = base.merge(prev.reset_index(), on=["scenario", "district"], how="left")
    out = out.rename(columns={HEADLINE: f"periphery_entries_u18{h}_median",
                              "new_members": f"new_members{h}_median",
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
                             workers: int, full: pd.DataFrame, progress: bool,
                             by: str = "department",
                             draws: ensemble.Draws | None = None) -> pd.DataFrame:
    """Recruits each department's (or, with by="level", each prevention level's) measures
    prevent within the first scenario (leave one out), with the full runs' draws."""
    other_ids = {s.id for s in other.specs()}
    specs = first.specs()
    depts = sorted({getattr(s, by) for s in specs if s.id not in other_ids})
    if not depts:
        return pd.DataFrame()
    tasks = [(first, r, seed, None, [s for s in specs if getattr(s, by) != d or s.id in other_ids])
             for d in depts for r in range(reps)]
    tasks = [ensemble.draw_task(t, draws) for t in tasks]  # same draws as the full runs
    runs = runner.run_many(tasks, workers, desc="departments", progress=progress)
    base = full[full["scenario"] == first.name].set_index("replicate")[HEADLINE]
    rows = []
    for k, d in enumerate(depts):
        without = per_replicate(runs[k * reps:(k + 1) * reps]).set_index("replicate")[HEADLINE]
        iv = interval(without - base)
        cost = sum(s.cost_sek_per_year * s.scale for s in specs
                   if getattr(s, by) == d and s.id not in other_ids)
        rows.append({by: d, "prevented_lo": iv["lo"], "prevented_median": iv["median"],
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


def compare_main(args: argparse.Namespace, scens: list[Scenario] | None = None) -> int:
    """`uvts compare A.yaml B.yaml [...]`: paired runs, tables, figures, contributions
    (`scens`: the scenarios of `args.scenarios` if the caller has loaded them already)."""
    if len(args.scenarios) < 2:
        raise ScenarioError("command line", "scenarios", "two or more scenario files")
    runner.start_workers_early(args.workers or os.cpu_count() or 1)
    if scens is None:
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
    horizon = horizon_tag(first.start_year, first.years)
    en_labels = {s.name: s.label("en") for s in scens}
    repl = replacement(runs, first.name)
    summary = ensemble.attach(summary_table(rep, first.name, horizon, en_labels, repl), rep,
                              first.name, reps)
    with_groups = getattr(args, "departments", False)
    depts = pd.DataFrame() if not with_groups else department_contributions(
        first, scens[1], seed, reps, workers, rep, not args.quiet, draws=draws)
    levels = pd.DataFrame() if not with_groups else department_contributions(
        first, scens[1], seed, reps, workers, rep, not args.quiet, by="level", draws=draws)
    decomp = ensemble.decompose(scens, reps, seed, draws or ensemble.Draws(), workers, rep,
                                progress=not args.quiet) if getattr(args, "decompose", False) \
        else None
    out.mkdir(parents=True, exist_ok=True)
    tables = results.runs_tables(runs, districts, first.start_year)
    from sim.interventions.ledger import ledger_tables

    for name, df in ledger_tables(tables["interventions"]).items():
        results.write_table(df, out / f"{name}.csv")  # per measure, level and department
    if not levels.empty:
        results.write_table(levels, out / "levels.csv")
    for name in ("stages", "flows", "network"):
        results.write_table(tables[name], out / f"{name}.parquet")
    results.write_table(rep, out / "per_replicate.csv")
    results.write_table(repl, out / "replacement.csv")
    results.write_table(summary, out / "summary.csv")
    results.write_table(comparisons_table(rep, first.name, horizon, en_labels, repl),
                        out / "comparisons.csv")
    if decomp is not None:
        results.write_table(decomp, out / "variance_decomposition.csv")
    results.write_table(district_table(dist, first.name, horizon), out / "summary_by_district.csv")
    # English figures always, and the asked language's beside them (counterfactual_sv.png): the
    # folder holds one run's files, and a Swedish run never replaces the English figures
    langs = list(dict.fromkeys(["en", args.lang]))
    if not depts.empty:
        results.write_table(depts.round(1), out / "departments.csv")
        for lg in langs:
            plots.contributions(depts, out / "departments.png", lg,
                                title=label("contributions_title", lg, a=first.label(lg), n=reps))
    plan = plan_period(first, scens[1])
    for lg in langs:
        _figures(tables, scens, out, lg, plan)
    man = results.manifest(scens, seed, [replicate_seed(seed, r) for r in range(reps)],
                           resolve(first.parameters), " ".join(sys.argv))
    man["comparison"] = {
        "evaluated": first.name, "counterfactuals": [s.name for s in scens[1:]],
        "replicates": reps, "start_year": first.start_year, "years": first.years,
        "plan_period": list(plan) if plan else None,
        "labels": {lang: {s.name: s.label(lang) for s in scens} for lang in ("en", "sv")},
    }
    man["uncertainty"] = draws.describe() if draws else "fixed"
    results.write_json(man, out / "manifest.json")
    if not args.quiet:
        _report(summary, depts, first, reps, time.perf_counter() - t0, out, args.lang,
                {s.name: s.label(args.lang) for s in scens})
        ensemble.report(summary, decomp, draws, reps, {s.name: s.label(args.lang) for s in scens})
        hint = more_hint(args, reps, time.perf_counter() - t0)
        if hint:
            print(hint)
    return 0


def more_hint(args: argparse.Namespace, reps: int, seconds: float) -> str:
    """How to ask for more than this run computed, with the time it would take here."""
    per_rep = seconds / max(reps, 1)
    hints = []
    if reps < 200:
        hints.append(f"a stable 90% interval: --replicates 200 (about "
                     f"{per_rep * 200 / 60:.0f} min here)")
    if not getattr(args, "departments", False):
        hints.append("each department's and level's contribution: --departments")
    if not getattr(args, "decompose", False):
        hints.append("how much of the spread comes from parameters, effects and chance: "
                     "--decompose")
    return ("for more: " + "; ".join(hints)) if hints else ""


def weekly_recruits(flows: pd.DataFrame, start_year: int) -> pd.DataFrame:
    """The headline per scenario, replicate and week: children (under 18) drawn into a network's
    periphery (stage 1 → 2), as column `recruits`, with decimal time."""
    f = flows[flows["flow"].astype(str) == "recruited_u18"]
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
    med = next((c for c in summary.columns if c.startswith("prevented_periphery_entries_u18")
                and c.endswith("_median")), None)
    if med is not None and not pd.isna(head[med]):
        stem = med[:-len("_median")]
        mem = next(c for c in summary.columns if c.startswith("prevented_new_members")
                   and c.endswith("_median"))
        per = head["sek_per_child_kept_out"]
        print(f"{first.label(lang)} vs {labels.get(head['compared_with'], head['compared_with'])}: "
              f"children kept out of the periphery (stage 1→2, under 18) {head[med]:.1f} "
              f"(90% interval {head[stem + '_p5']:.1f} to {head[stem + '_p95']:.1f}); "
              f"new network members prevented {head[mem]:.1f}; SEK per child kept out: "
              + (f"{per:,.0f}" if not pd.isna(per) else f"not defined ({head['note']})")
              + f"; replacement share {head['replacement_share']:.2f}")
    if not depts.empty:
        print(depts.round(1).to_string(index=False))
    print(f"Results written to {out}/")

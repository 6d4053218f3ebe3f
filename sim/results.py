"""Recording a run's outputs (preallocated arrays, filled once a step) and turning them into
tidy tables: stages (step × district × stage), flows, risk means and network size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim import kernels
from sim.recruitment import STAGES
from sim.risk import ALL_FACTORS

FLOWS = (
    "entry", "desist_norm_breaking", "recruited_peer", "recruited_sibling", "recruited_school",
    "recruited_place", "recruited_u18", "recruited_male", "new_members", "new_members_u18",
    "new_members_male", "exits", "turned_away",
    "reports_school", "reports_social", "reports_police", "reports_healthcare_other",
    "reports_behaviour", "children_reported", "investigations", "reached", "placements",
    "offers_declined",
)
FLOW_INDEX = {name: k for k, name in enumerate(FLOWS)}
REPORT_CHANNELS = ("reports_school", "reports_social", "reports_police", "reports_healthcare_other")
NETWORK_SERIES = ("active_members", "youth_members", "incarcerated", "open_demand",
                  "close_13_19", "pop_13_19", "cost_sek", "active_men", "peripheral_recruiters",
                  "outside_youngers", "expired_slots", "norm_13_19", "known", "children")
AGE_BANDS = ((3, 6), (6, 13), (13, 18), (18, 21))
AGE_BAND_LABELS = ("3-5", "6-12", "13-17", "18-20")
SEXES = ("female", "male")
GROUP_FLOWS = ("periphery_entries", "new_members", "reports_of_concern")
MAX_AGE_HIST = 61  # ages 0-60 for the histograms of recruits' and recruiters' ages


@dataclass
class Recorder:
    """Per-step arrays of one run, plus run totals of the recruitment age histograms."""

    stage_counts: np.ndarray   # (T, D, 5)
    flows: np.ndarray          # (T, D, F)
    risk_mean: np.ndarray      # (T, D, 7)
    network: np.ndarray        # (T, len(NETWORK_SERIES))
    known: np.ndarray          # (T, D) youths known to social services (open case)
    children: np.ndarray       # (T, D) youths under 18
    groups: np.ndarray         # (T, age bands, sexes, 5 stages)
    year9: np.ndarray          # (years, D, 2): year-9 pupils not eligible, all year-9 pupils
    group_flows: np.ndarray    # (T, age bands, sexes, GROUP_FLOWS)
    recruit_age: np.ndarray    # (MAX_AGE_HIST,) ages (whole years) at entry into the periphery
    recruiter_age: np.ndarray  # (MAX_AGE_HIST,) recruiters' ages at those recruitments

    @classmethod
    def allocate(cls, steps: int, districts: int) -> Recorder:
        return cls(
            stage_counts=np.zeros((steps, districts, len(STAGES)), np.int32),
            flows=np.zeros((steps, districts, len(FLOWS)), np.int32),
            risk_mean=np.zeros((steps, districts, len(ALL_FACTORS)), np.float32),
            network=np.zeros((steps, len(NETWORK_SERIES)), np.float64),
            known=np.zeros((steps, districts), np.int32),
            children=np.zeros((steps, districts), np.int32),
            groups=np.zeros((steps, len(AGE_BANDS), 2, len(STAGES)), np.int32),
            group_flows=np.zeros((steps, len(AGE_BANDS), 2, len(GROUP_FLOWS)), np.int32),
            year9=np.zeros((max(1, -(-steps // 52)), districts, 2), np.int32),
            recruit_age=np.zeros(MAX_AGE_HIST, np.int64),
            recruiter_age=np.zeros(MAX_AGE_HIST, np.int64),
        )


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b > 0 else float("nan")


def summarise(rec: Recorder) -> dict[str, float]:
    """Scalar outputs of one run (used by comparisons, sweeps and calibration).

    Two recruitment outcomes, clearly named: *periphery entries* (stage 1 → 2, drawn into a
    criminal network's periphery as a "younger") and *new members* (stage 2 → 3). Shares are means
    over the whole run; rates per year over the whole run."""
    steps = rec.flows.shape[0]
    years = steps / 52.0
    flows = rec.flows.sum(axis=(0, 1)).astype(np.float64)
    f = dict(zip(FLOWS, flows, strict=True))
    net = dict(zip(NETWORK_SERIES, rec.network.T, strict=True))
    entries = sum(f[f"recruited_{k}"] for k in ("peer", "sibling", "school", "place"))
    stage2plus = rec.stage_counts[:, :, 2:4].sum(axis=(1, 2))
    reports = sum(f[c] for c in REPORT_CHANNELS)
    child_years = rec.children.sum() / 52.0
    ages = np.arange(MAX_AGE_HIST)
    ra, rr = rec.recruit_age, rec.recruiter_age
    y9 = rec.year9.sum(axis=1)
    y9_share = y9[:, 0][y9[:, 1] > 0] / y9[:, 1][y9[:, 1] > 0]
    return {
        "periphery_entries_per_year": float(entries / years),
        "periphery_entries_u18_per_year": float(f["recruited_u18"] / years),
        "new_members_per_year": float(f["new_members"] / years),
        "new_members_u18_per_year": float(f["new_members_u18"] / years),
        "periphery_entries_total": float(entries),
        "new_members_total": float(f["new_members"]),
        "youth_years_stage2plus": float(stage2plus.sum() / 52.0),
        "active_members_end": float(net["active_members"][-1]),
        "active_members_mean": float(net["active_members"].mean()),
        "men_share_active_members": _ratio(net["active_men"].sum(), net["active_members"].sum()),
        "men_share_periphery_entries": _ratio(f["recruited_male"], entries),
        "men_share_new_members": _ratio(f["new_members_male"], f["new_members"]),
        "close_share_13_19": _ratio(net["close_13_19"].sum(), net["pop_13_19"].sum()),
        "norm_breaking_share_13_19": _ratio(net["norm_13_19"].sum(), net["pop_13_19"].sum()),
        "periphery_entry_age_median": float(np.searchsorted(np.cumsum(ra), ra.sum() / 2.0))
        if ra.sum() else float("nan"),
        "periphery_entry_age_mode": float(np.argmax(ra)) if ra.sum() else float("nan"),
        "periphery_entry_share_12_15": _ratio(ra[12:16].sum(), ra.sum()),
        "recruiter_share_15_20": _ratio(rr[15:21].sum(), rr.sum()),
        "recruiter_age_mean": _ratio((rr * ages).sum(), rr.sum()),
        "reports_per_1000_children_per_year": _ratio(1000.0 * reports, child_years),
        "children_reported_share_per_year": _ratio(f["children_reported"], child_years),
        "reports_per_reported_child": _ratio(reports, f["children_reported"]),
        "reports_behaviour_share": _ratio(f["reports_behaviour"], reports),
        "investigated_share": _ratio(f["investigations"], reports),
        "known_to_social_services_mean": float(net["known"].mean()),
        "placements_per_year": float(f["placements"] / years),
        "year9_not_eligible_share": float(y9_share.mean()) if y9_share.size else float("nan"),
        "turned_away_share": _ratio(f["turned_away"], entries + f["turned_away"]),
        "open_demand_mean": float(net["open_demand"].mean()),
        "expired_slots_per_year": float(net["expired_slots"].sum() / years),
        "cost_sek": float(net["cost_sek"].sum()),
    }


SUMMARY_OUTPUTS = tuple(summarise(Recorder.allocate(52, 1)).keys())


_STR = pd.Series(np.array(["x"], object)).dtype  # what pandas makes of an array of strings


def _labels(values: Sequence[str], idx: np.ndarray) -> Any:
    """The column `np.array(values, object)[idx]` as pandas stores it (its string dtype), taken
    from the few labels instead of converting one Python string per row (6x faster for the
    long tables, the same frame)."""
    return pd.array(np.array(values, object), dtype=_STR).take(idx)


def _step_frame(steps: int, start_year: int) -> pd.DataFrame:
    week = np.arange(steps)
    return pd.DataFrame({"step": week, "year": start_year + week // 52,
                         "week": week % 52})


def stage_table(rec: Recorder, districts: tuple[str, ...], start_year: int) -> pd.DataFrame:
    """Long table: step, year, week, district, stage, count."""
    t, d, s = rec.stage_counts.shape
    steps = _step_frame(t, start_year)
    return pd.DataFrame({
        "step": np.repeat(steps["step"].to_numpy(), d * s),
        "year": np.repeat(steps["year"].to_numpy(), d * s),
        "week": np.repeat(steps["week"].to_numpy(), d * s),
        "district": _labels(districts, np.tile(np.repeat(np.arange(d), s), t)),
        "stage": _labels(STAGES, np.tile(np.arange(s), t * d)),
        "count": rec.stage_counts.reshape(-1),
    })


def flow_table(rec: Recorder, districts: tuple[str, ...], start_year: int) -> pd.DataFrame:
    """Long table: step, year, district, flow, count."""
    t, d, f = rec.flows.shape
    steps = _step_frame(t, start_year)
    return pd.DataFrame({
        "step": np.repeat(steps["step"].to_numpy(), d * f),
        "year": np.repeat(steps["year"].to_numpy(), d * f),
        "district": _labels(districts, np.tile(np.repeat(np.arange(d), f), t)),
        "flow": _labels(FLOWS, np.tile(np.arange(f), t * d)),
        "count": rec.flows.reshape(-1),
    })


def risk_table(rec: Recorder, districts: tuple[str, ...], start_year: int,
               every: int = 4) -> pd.DataFrame:
    """Long table of mean risk factors per district, every `every` weeks."""
    sub = rec.risk_mean[::every]
    t, d, k = sub.shape
    step = np.arange(0, rec.risk_mean.shape[0], every)
    return pd.DataFrame({
        "step": np.repeat(step, d * k),
        "year": np.repeat(start_year + step // 52, d * k),
        "district": _labels(districts, np.tile(np.repeat(np.arange(d), k), t)),
        "factor": _labels(ALL_FACTORS, np.tile(np.arange(k), t * d)),
        "mean": sub.reshape(-1),
    })


def network_table(rec: Recorder, start_year: int) -> pd.DataFrame:
    """Wide table per step: network size, demand, 13-19 close to the environment, cost."""
    df = _step_frame(rec.network.shape[0], start_year)
    for k, name in enumerate(NETWORK_SERIES):
        df[name] = rec.network[:, k]
    return df


def indicator_table(rec: Recorder, districts: tuple[str, ...], start_year: int) -> pd.DataFrame:
    """Per year and district: what the municipality follows up. Counts are sums over the year;
    `*_mean` are the year's weekly means; rates are per 1,000 children under 18 (the model's
    children are 3-17). Both recruitment outcomes are named as such."""
    t, d = rec.known.shape
    n_years = t // 52
    if n_years == 0:
        return pd.DataFrame()
    cut = n_years * 52

    def yearly_sum(a: np.ndarray) -> np.ndarray:
        return a[:cut].reshape(n_years, 52, *a.shape[1:]).sum(axis=1)

    def yearly_mean(a: np.ndarray) -> np.ndarray:
        return a[:cut].reshape(n_years, 52, *a.shape[1:]).mean(axis=1)

    fl = yearly_sum(rec.flows)  # (years, D, F)
    st = yearly_mean(rec.stage_counts)
    children = yearly_mean(rec.children)
    reports = sum(fl[:, :, FLOW_INDEX[c]] for c in REPORT_CHANNELS)
    recruited = sum(fl[:, :, FLOW_INDEX[f"recruited_{k}"]] for k in ("peer", "sibling", "school",
                                                                      "place"))
    cols = {
        "children_under_18_mean": children,
        "reports_of_concern": reports,
        **{c: fl[:, :, FLOW_INDEX[c]] for c in REPORT_CHANNELS},
        "reports_behaviour": fl[:, :, FLOW_INDEX["reports_behaviour"]],
        "children_reported": fl[:, :, FLOW_INDEX["children_reported"]],
        "reports_per_1000_children": 1000.0 * reports / np.maximum(children, 1),
        "children_reported_per_1000": 1000.0 * fl[:, :, FLOW_INDEX["children_reported"]]
        / np.maximum(children, 1),
        "investigations": fl[:, :, FLOW_INDEX["investigations"]],
        "known_to_social_services_mean": yearly_mean(rec.known),
        "placements": fl[:, :, FLOW_INDEX["placements"]],
        "year9_pupils": rec.year9[:n_years, :, 1],
        "year9_not_eligible": rec.year9[:n_years, :, 0],
        "periphery_entries": recruited,
        "periphery_entries_u18": fl[:, :, FLOW_INDEX["recruited_u18"]],
        "new_members": fl[:, :, FLOW_INDEX["new_members"]],
        "new_members_u18": fl[:, :, FLOW_INDEX["new_members_u18"]],
        **{f"youths_{STAGES[k]}_mean": st[:, :, k] for k in range(1, 4)},
    }
    out = pd.DataFrame({"year": np.repeat(start_year + np.arange(n_years), d),
                        "district": np.tile(np.array(districts, object), n_years)})
    for name, arr in cols.items():
        out[name] = np.asarray(arr).reshape(-1)
    out["year9_not_eligible_share"] = out["year9_not_eligible"] / out["year9_pupils"].where(
        out["year9_pupils"] > 0)
    return out


def group_table(rec: Recorder, start_year: int) -> pd.DataFrame:
    """Per year, age band and sex: youths at each stage (weekly means), both recruitment outcomes
    and reports of concern (sums)."""
    t = rec.groups.shape[0]
    n_years = t // 52
    if n_years == 0:
        return pd.DataFrame()
    cut = n_years * 52
    st = rec.groups[:cut].reshape(n_years, 52, *rec.groups.shape[1:]).mean(axis=1)
    gf = rec.group_flows[:cut].reshape(n_years, 52, *rec.group_flows.shape[1:]).sum(axis=1)
    b, s = len(AGE_BANDS), len(SEXES)
    out = pd.DataFrame({
        "year": np.repeat(start_year + np.arange(n_years), b * s),
        "age_band": np.tile(np.repeat(np.array(AGE_BAND_LABELS, object), s), n_years),
        "sex": np.tile(np.array(SEXES, object), n_years * b),
    })
    for k, name in enumerate(STAGES):
        out[f"youths_{name}_mean"] = st[..., k].reshape(-1)
    for k, name in enumerate(GROUP_FLOWS):
        out[name] = gf[..., k].reshape(-1)
    return out


# ---- writing a run's results -------------------------------------------------------------------

def git_commit() -> str | None:
    """The commit of the source tree the package runs from (with '+dirty'), or None."""
    import subprocess
    from pathlib import Path

    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--", "."],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "")


def manifest(scenarios: list, seed: int, replicate_seeds: list[int], params: dict,
             command: str) -> dict:
    """What a result depends on: scenarios (with hashes), parameters, seeds and versions."""
    import platform
    from datetime import UTC, datetime
    from importlib.metadata import version

    import scipy

    import sim

    return {
        "command": command,
        "scenarios": [{"name": s.name, "file": s.source_file, "sha256": s.digest(),
                       "resolved": s.model_dump(exclude={"interventions"}),
                       "interventions": [iv.id for iv in s.specs()]} for s in scenarios],
        "parameters": params,
        # values outside their plausible range, accepted with --allow-outside-range
        "outside_plausible_range": {s.name: s.outside_range for s in scenarios
                                    if getattr(s, "outside_range", None)},
        "seed": seed,
        "replicate_seeds": replicate_seeds,
        "package_version": sim.__version__,
        "git_commit": git_commit(),
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "scipy": scipy.__version__, "mesa": version("mesa"), "pandas": pd.__version__,
                     "numba": _numba_version()},
        # compiled kernels or their numpy fallbacks: the same results bit for bit (sim/kernels.py)
        "kernels": kernels.ENGINE,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _numba_version() -> str | None:
    if kernels.ENGINE != "numba":
        return None
    import numba

    return numba.__version__


def _atomic(path, write) -> None:
    """Write via a temporary file and rename, so a failure never leaves half a file."""
    import os
    from pathlib import Path

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def write_table(df: pd.DataFrame, path) -> None:
    """Parquet or CSV by suffix, atomically. Parquet tables are typed and carry units and
    descriptions in their schema (sim.schema)."""
    from pathlib import Path

    if Path(path).suffix == ".parquet":
        from sim.schema import write_parquet

        write_parquet(df, path)
    else:
        _atomic(path, lambda p: df.to_csv(p, index=False))


def write_json(obj: dict, path) -> None:
    import json

    def _w(p):
        with open(p, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=2, ensure_ascii=False, default=str)
    _atomic(path, _w)


def runs_tables(runs: list, districts: tuple[str, ...], start_year: int) -> dict[str, pd.DataFrame]:
    """Tidy tables over all runs (columns scenario, replicate, seed first)."""
    def tag(df: pd.DataFrame, run) -> pd.DataFrame:
        df.insert(0, "seed", run.seed)
        df.insert(0, "replicate", run.replicate)
        df.insert(0, "scenario", run.scenario)
        return df

    def cat(fn) -> pd.DataFrame:
        return pd.concat([tag(fn(r.recorder), r) for r in runs], ignore_index=True)

    summary = pd.DataFrame([{"scenario": r.scenario, "replicate": r.replicate, "seed": r.seed,
                             **summarise(r.recorder)} for r in runs])
    ledger = pd.DataFrame([{"scenario": r.scenario, "replicate": r.replicate, **row}
                           for r in runs for row in r.ledger])
    return {
        "indicators": cat(lambda rec: indicator_table(rec, districts, start_year)),
        "groups": cat(lambda rec: group_table(rec, start_year)),
        "stages": cat(lambda rec: stage_table(rec, districts, start_year)),
        "flows": cat(lambda rec: flow_table(rec, districts, start_year)),
        "risk": cat(lambda rec: risk_table(rec, districts, start_year)),
        "network": cat(lambda rec: network_table(rec, start_year)),
        "summary": summary,
        "interventions": ledger,
    }

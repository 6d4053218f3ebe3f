"""Recording a run's outputs (preallocated arrays, filled once a step) and turning them into
tidy tables: stages (step × district × stage), flows, risk means and network size."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.recruitment import STAGES
from sim.risk import ALL_FACTORS

FLOWS = (
    "entry", "desist_norm_breaking", "recruited_peer", "recruited_sibling", "recruited_school",
    "recruited_place", "recruited_u18", "new_members", "new_members_u18", "exits",
    "detections", "reached",
)
FLOW_INDEX = {name: k for k, name in enumerate(FLOWS)}
NETWORK_SERIES = ("active_members", "youth_members", "incarcerated", "open_demand",
                  "close_13_19", "pop_13_19", "cost_sek")


@dataclass
class Recorder:
    """Per-step arrays of one run."""

    stage_counts: np.ndarray   # (T, D, 5)
    flows: np.ndarray          # (T, D, F)
    risk_mean: np.ndarray      # (T, D, 7)
    network: np.ndarray        # (T, len(NETWORK_SERIES))

    @classmethod
    def allocate(cls, steps: int, districts: int) -> Recorder:
        return cls(
            stage_counts=np.zeros((steps, districts, len(STAGES)), np.int32),
            flows=np.zeros((steps, districts, len(FLOWS)), np.int32),
            risk_mean=np.zeros((steps, districts, len(ALL_FACTORS)), np.float32),
            network=np.zeros((steps, len(NETWORK_SERIES)), np.float64),
        )


def summarise(rec: Recorder) -> dict[str, float]:
    """Scalar outputs of one run (used by comparisons, sweeps and calibration)."""
    steps = rec.flows.shape[0]
    years = steps / 52.0
    flows = rec.flows.sum(axis=(0, 1))
    net = dict(zip(NETWORK_SERIES, rec.network.T, strict=True))
    last_year = slice(max(0, steps - 52), steps)
    recruited = sum(flows[FLOW_INDEX[f"recruited_{k}"]] for k in ("peer", "sibling", "school", "place"))
    stage2plus = rec.stage_counts[:, :, 2:4].sum(axis=(1, 2))
    return {
        "new_recruits_per_year": float(recruited / years),
        "new_recruits_u18_per_year": float(flows[FLOW_INDEX["recruited_u18"]] / years),
        "new_members_per_year": float(flows[FLOW_INDEX["new_members"]] / years),
        "new_members_u18_per_year": float(flows[FLOW_INDEX["new_members_u18"]] / years),
        "recruits_total": float(recruited),
        "youth_years_stage2plus": float(stage2plus.sum() / 52.0),
        "active_members_end": float(net["active_members"][-1]),
        "active_members_mean": float(net["active_members"].mean()),
        "close_share_13_19": float(net["close_13_19"][last_year].sum()
                                   / max(net["pop_13_19"][last_year].sum(), 1.0)),
        "norm_breaking_share_13_19": float(
            rec.stage_counts[last_year, :, 1].sum() / max(net["pop_13_19"][last_year].sum(), 1.0)),
        "detections_per_year": float(flows[FLOW_INDEX["detections"]] / years),
        "cost_sek": float(net["cost_sek"].sum()),
    }


SUMMARY_OUTPUTS = tuple(summarise(Recorder.allocate(52, 1)).keys())


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
        "district": np.tile(np.repeat(np.array(districts, object), s), t),
        "stage": np.tile(np.array(STAGES, object), t * d),
        "count": rec.stage_counts.reshape(-1),
    })


def flow_table(rec: Recorder, districts: tuple[str, ...], start_year: int) -> pd.DataFrame:
    """Long table: step, year, district, flow, count."""
    t, d, f = rec.flows.shape
    steps = _step_frame(t, start_year)
    return pd.DataFrame({
        "step": np.repeat(steps["step"].to_numpy(), d * f),
        "year": np.repeat(steps["year"].to_numpy(), d * f),
        "district": np.tile(np.repeat(np.array(districts, object), f), t),
        "flow": np.tile(np.array(FLOWS, object), t * d),
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
        "district": np.tile(np.repeat(np.array(districts, object), k), t),
        "factor": np.tile(np.array(ALL_FACTORS, object), t * d),
        "mean": sub.reshape(-1),
    })


def network_table(rec: Recorder, start_year: int) -> pd.DataFrame:
    """Wide table per step: network size, demand, 13-19 close to the environment, cost."""
    df = _step_frame(rec.network.shape[0], start_year)
    for k, name in enumerate(NETWORK_SERIES):
        df[name] = rec.network[:, k]
    return df


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

    import mesa
    import scipy

    import sim

    return {
        "command": command,
        "scenarios": [{"name": s.name, "file": s.source_file, "sha256": s.digest(),
                       "resolved": s.model_dump(exclude={"interventions"}),
                       "interventions": [iv.id for iv in s.specs()]} for s in scenarios],
        "parameters": params,
        "seed": seed,
        "replicate_seeds": replicate_seeds,
        "package_version": sim.__version__,
        "git_commit": git_commit(),
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "scipy": scipy.__version__, "mesa": mesa.__version__, "pandas": pd.__version__},
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }


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
        "stages": cat(lambda rec: stage_table(rec, districts, start_year)),
        "flows": cat(lambda rec: flow_table(rec, districts, start_year)),
        "risk": cat(lambda rec: risk_table(rec, districts, start_year)),
        "network": cat(lambda rec: network_table(rec, start_year)),
        "summary": summary,
        "interventions": ledger,
    }

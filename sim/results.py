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


def summarise(rec: Recorder, start_year: int = 0) -> dict[str, float]:
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

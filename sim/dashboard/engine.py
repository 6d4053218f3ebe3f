"""The dashboard's engine, without any user interface: which scenarios there are, how a choice of
levers becomes a scenario, and paired runs that arrive one pair at a time, cached.

Responsiveness: a run is asked for in two stages. The *quick* stage (a short horizon, two paired
replicates) answers in a few seconds; the *full* stage (the horizon and replicates asked for)
then refines the figures as each pair finishes. Both are cached by what determines them (the
scenarios' contents, horizon, seed and replicate), so asking again, or asking for more
replicates, reuses every pair already run.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim import levers as lv
from sim import runner
from sim.api import iter_pairs
from sim.compare import plan_period
from sim.population import load_city
from sim.results import FLOW_INDEX, NETWORK_SERIES
from sim.scenario import Scenario, load_scenario

HEADLINE_FLOW = FLOW_INDEX["recruited_u18"]  # children drawn into the periphery (stage 1 → 2)
COST = NETWORK_SERIES.index("cost_sek")
QUICK_YEARS = 2
QUICK_REPLICATES = 2
SKIP = {"department_budgets.yaml"}


def scenario_dir() -> Path:
    """The shipped scenarios: $UVTS_SCENARIOS, ./scenarios, or the repository's scenarios/."""
    env = os.environ.get("UVTS_SCENARIOS")
    if env:
        return Path(env)
    here = Path.cwd() / "scenarios"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[2] / "scenarios"


_SCENARIOS: dict[str, Scenario] = {}


def scenarios() -> dict[str, Scenario]:
    """Every scenario file in the scenario folder, by name (loaded once)."""
    if not _SCENARIOS:
        for path in sorted(scenario_dir().glob("*.yaml")):
            if path.name in SKIP:
                continue
            try:
                s = load_scenario(path)
            except Exception:  # noqa: BLE001 - a broken file must not take the workshop down
                continue
            _SCENARIOS[s.name] = s
    return _SCENARIOS


def digest(scen: Scenario) -> str:
    body = scen.model_dump(exclude={"source_file", "name", "title", "title_sv", "description"})
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class Pair:
    """Per-replicate outcomes of one pair of runs (evaluated, counterfactual) that share a seed."""

    replicate: int
    weekly: np.ndarray      # (2, T) children drawn into the periphery per week (evaluated, other)
    district: np.ndarray    # (2, D) the same per district over the horizon
    cost: np.ndarray        # (2,) SEK over the horizon


def _pair(runs: list[runner.Run]) -> Pair:
    weekly = np.stack([r.recorder.flows[:, :, HEADLINE_FLOW].sum(axis=1) for r in runs])
    district = np.stack([r.recorder.flows[:, :, HEADLINE_FLOW].sum(axis=0) for r in runs])
    cost = np.array([r.recorder.network[:, COST].sum() for r in runs])
    return Pair(runs[0].replicate, weekly, district, cost)


@dataclass
class Result:
    """Pairs of one (evaluated, counterfactual, horizon) question, as tables for the figures."""

    evaluated: Scenario
    counterfactual: Scenario
    years: int
    pairs: list[Pair]

    @property
    def n(self) -> int:
        return len(self.pairs)

    def weekly(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Recruits per week (replicate, time, recruits) for the evaluated and the counterfactual."""
        start = self.evaluated.start_year
        out = []
        for k in range(2):
            frames = [pd.DataFrame({"replicate": p.replicate,
                                    "time": start + (np.arange(p.weekly.shape[1]) + 1) / 52.0,
                                    "recruits": p.weekly[k]}) for p in self.pairs]
            out.append(pd.concat(frames, ignore_index=True))
        return out[0], out[1]

    def prevented(self) -> np.ndarray:
        """Recruits prevented by the evaluated scenario, per pair."""
        return np.array([p.weekly[1].sum() - p.weekly[0].sum() for p in self.pairs], float)

    def headline(self) -> dict[str, float]:
        d = self.prevented()
        lo, med, hi = np.quantile(d, (0.05, 0.5, 0.95))
        extra = float(np.median([p.cost[0] - p.cost[1] for p in self.pairs]))
        return {"median": float(med), "lo": float(lo), "hi": float(hi), "n": self.n,
                "extra_cost_msek": extra / 1e6,
                "sek_per_prevented": extra / med if med > 0 else float("nan")}

    def district_prevented(self) -> dict[str, float]:
        names = load_city().districts
        diff = np.stack([p.district[1] - p.district[0] for p in self.pairs])
        return dict(zip(names, np.median(diff, axis=0).astype(float), strict=True))

    def plan(self) -> tuple[float, float] | None:
        return plan_period(self.evaluated, self.counterfactual)


class Engine:
    """Runs pairs in a small process pool and caches them per pair."""

    def __init__(self, workers: int | None = None):
        self.workers = workers or max(1, min(2, os.cpu_count() or 1))
        self._pool: ProcessPoolExecutor | None = None
        self._cache: dict[tuple, Pair] = {}
        self._lock = threading.Lock()

    @property
    def pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                import multiprocessing as mp

                self._pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"))
            return self._pool

    def warm(self) -> None:
        """Start the worker processes (and their imports) before the first click."""
        list(self.pool.map(_noop, range(self.workers)))

    def cached(self, a: Scenario, b: Scenario, years: int, seed: int, r: int) -> Pair | None:
        return self._cache.get((digest(a), digest(b), years, seed, r))

    def run(self, a: Scenario, b: Scenario, years: int, replicates: int, seed: int,
            on_pair: Callable[[Result], None] | None = None,
            cancelled: Callable[[], bool] | None = None) -> Result:
        """Pairs 0..replicates-1 of (a, b) over `years`, from the cache where possible; calls
        `on_pair` with the growing result as each pair arrives."""
        a = a.model_copy(update={"years": years}) if a.years != years else a
        b = b.model_copy(update={"years": years, "start_year": a.start_year}) \
            if (b.years, b.start_year) != (years, a.start_year) else b
        if a.name == b.name:
            b = b.model_copy(update={"name": b.name + "_counterfactual"})
        res = Result(a, b, years, [])
        todo = []
        for r in range(replicates):
            hit = self.cached(a, b, years, seed, r)
            if hit is None:
                todo.append(r)
            else:
                res.pairs.append(hit)
        if res.pairs and on_pair is not None:
            on_pair(res)
        if todo:
            pool = self.pool if self.workers > 1 else None
            for runs in iter_pairs([a, b], seed, todo, workers=self.workers, pool=pool):
                pair = _pair(runs)
                self._cache[(digest(a), digest(b), years, seed, pair.replicate)] = pair
                res.pairs.append(pair)
                res.pairs.sort(key=lambda p: p.replicate)
                if on_pair is not None:
                    on_pair(res)
                if cancelled is not None and cancelled():
                    break
        return res


def _noop(_: int) -> int:
    import sim.runner  # noqa: F401 - import the model in the worker ahead of the first run

    return 0


def with_levers(scen: Scenario, levers: lv.Levers) -> Scenario:
    """The evaluated scenario with the dashboard's levers applied (a new name if changed)."""
    if levers.is_default():
        return scen
    return lv.apply(scen, levers, name=f"{scen.name}_workshop")

"""Running scenarios: one replicate, many replicates in parallel, and scalar summaries.

Replicate r of every scenario run with base seed s uses the seed `replicate_seed(s, r)`, so the
runs of two scenarios pair up (common random numbers) and their difference is computed pair by pair.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from tqdm import tqdm

from sim.interventions import InterventionSpec
from sim.params import resolve
from sim.results import Recorder, summarise
from sim.rng import replicate_seed
from sim.scenario import Scenario, load_scenario
from sim.workers import pool_context, start_workers_early  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    from sim.model import UmeaModel

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


@dataclass
class Run:
    """The outputs of one replicate of one scenario.

    `entered_u18` and `participants` are the person ids of the youths drawn into the periphery
    before 18 and of those who started an individual measure (for the replacement estimate of a
    paired comparison); `events` and `persons` hold the micro-data when asked for."""

    scenario: str
    replicate: int
    seed: int
    recorder: Recorder
    ledger: list[dict]
    entered_u18: np.ndarray | None = None
    participants: np.ndarray | None = None
    events: pd.DataFrame | None = None
    persons: pd.DataFrame | None = None


def build_model(scenario: Scenario, seed: int, overrides: Mapping[str, float] | None = None,
                specs: list[InterventionSpec] | None = None) -> UmeaModel:
    """A model for `scenario` with parameter `overrides` on top of the scenario's own."""
    params = resolve({**scenario.parameters, **(overrides or {})},
                     where=f"{scenario.source_file or scenario.name}: parameters")
    from sim.model import UmeaModel  # here: a parent that only hands runs to workers needs no Mesa

    return UmeaModel(params=params, seed=seed, years=scenario.years,
                     start_year=scenario.start_year,
                     interventions=scenario.specs() if specs is None else specs)


def run_replicate(scenario: Scenario, replicate: int, base_seed: int,
                  overrides: Mapping[str, float] | None = None,
                  specs: list[InterventionSpec] | None = None, micro_data: bool = False) -> Run:
    """Run replicate `replicate` (seed derived from `base_seed`) to the end of the horizon."""
    seed = replicate_seed(base_seed, replicate)
    model = build_model(scenario, seed, overrides, specs)
    model.run()
    log = model.events
    entered = log.person_ids("stage_change", "1>2", age_below=18)
    starts = pd.unique(log.person_ids("intervention_start"))
    return Run(scenario.name, replicate, seed, model.recorder, model.measures.ledger(),
               entered_u18=entered, participants=starts,
               events=log.table() if micro_data else None,
               persons=model.events.person_table() if micro_data else None)


def _run_task(args: tuple) -> Run:
    return run_replicate(*args)


def run_many(tasks: list[tuple], workers: int = 1, desc: str = "runs",
             progress: bool = True) -> list[Run]:
    """Run `run_replicate` argument tuples, in worker processes when workers > 1, in task order."""
    bar = tqdm(total=len(tasks), desc=desc, unit="run", disable=not progress, leave=False)
    out: list[Run] = []
    if workers <= 1 or len(tasks) <= 1:
        for t in tasks:
            out.append(_run_task(t))
            bar.update()
    else:
        from sim.sweep import children_ignore_sigint

        pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_sigint,
                                   mp_context=pool_context())
        try:
            with children_ignore_sigint():  # the workers start here
                results = pool.map(_run_task, tasks)
            for run in results:
                out.append(run)
                bar.update()
        except BaseException:  # Ctrl-C or a failed run: stop the workers now, not after the queue
            procs = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in procs:
                proc.terminate()
            raise
        finally:
            bar.close()
        pool.shutdown()
    bar.close()
    return out


def _ignore_sigint() -> None:
    """Workers ignore Ctrl-C: the main process stops them and reports the interruption."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_scenario(scenario: Scenario, seed: int | None = None, replicates: int | None = None,
                 workers: int = 1, progress: bool = True, micro_data: bool = False) -> list[Run]:
    """All replicates of one scenario (with the person table and event log if `micro_data`)."""
    seed = scenario.seed if seed is None else seed
    reps = scenario.replicates if replicates is None else replicates
    tasks = [(scenario, r, seed, None, None, micro_data) for r in range(reps)]
    return run_many(tasks, workers, desc=scenario.name, progress=progress)


def run_summary(scenario: str | Path | Scenario, overrides: Mapping[str, float] | None,
                seed: int, specs: list[InterventionSpec] | None = None,
                years: int | None = None) -> dict[str, float]:
    """One run of `scenario` with parameter overrides and this exact seed: scalar outputs.
    `specs` replace the scenario's measures (drawn or scaled effects), `years` its horizon."""
    scen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if years is not None and years != scen.years:
        scen = scen.model_copy(update={"years": int(years)})
    model = build_model(scen, seed, overrides, specs)
    return summarise(model.run())


def default_workers(n_tasks: int) -> int:
    """Use every core, but no more processes than tasks."""
    return max(1, min(n_tasks, os.cpu_count() or 1))


ProgressFn = Callable[[int], None]

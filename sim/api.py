"""The Python API: run a scenario or a pair of scenarios and get tidy tables and scalar outputs.

    >>> from sim import api
    >>> res = api.run("scenarios/baseline.yaml", replicates=2, years=1, seed=7)
    >>> res.summary[["replicate", "periphery_entries_u18_per_year"]]  # one row per replicate
    >>> cmp = api.compare("scenarios/uvts_2024_2026.yaml", "scenarios/without_uvts.yaml",
    ...                   replicates=4, years=3)
    >>> cmp.headline                                       # children kept out, 90 % interval
    >>> api.outputs("scenarios/baseline.yaml", seed=1, years=1, entry_base_rate=0.02)

Scalar functions for samplers (SALib, EMA Workbench) take model parameters as keywords:
`outputs` (one run) and `paired_outputs` (one pair of runs with the same seed: the evaluated
scenario's outputs, the counterfactual's and their difference). docs/api.md has worked examples
for SALib, EMA Workbench and `mesa.batch_run`.

Runs are paired: replicate r of every scenario uses the seed `replicate_seed(seed, r)`.
Scenarios are file paths or `Scenario` objects; `overrides` set model parameters on top of the
scenario's own (names from sim/data/parameters.yaml); `years` shortens or lengthens the horizon;
`levers` (a `sim.levers.Levers`) switch measures off or move the main policy levers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sim import compare as cmp
from sim import levers as lv
from sim import results, runner
from sim.population import load_city
from sim.scenario import Scenario, load_scenario

ScenarioLike = str | Path | Scenario

__all__ = ["RunResult", "Comparison", "load", "run", "compare", "outputs", "paired_outputs",
           "iter_pairs", "OUTPUTS"]

#: Names of the scalar outputs of `outputs` (one run).
OUTPUTS = results.SUMMARY_OUTPUTS


def load(scenario: ScenarioLike, years: int | None = None,
         levers: lv.Levers | None = None) -> Scenario:
    """A validated scenario from a file (or a copy of one), with the horizon and levers asked."""
    scen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if levers is not None:
        scen = lv.apply(scen, levers)
    if years is not None and years != scen.years:
        scen = scen.model_copy(update={"years": int(years)})
    return scen


@dataclass
class RunResult:
    """Replicates of one scenario: tidy tables and one row of scalar outputs per replicate."""

    scenario: Scenario
    seed: int
    runs: list[runner.Run] = field(repr=False)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """stages, flows, risk, network (long tables), summary, interventions (sim.results)."""
        if not hasattr(self, "_tables"):
            self._tables = results.runs_tables(self.runs, load_city().districts,
                                               self.scenario.start_year)
        return self._tables

    @property
    def summary(self) -> pd.DataFrame:
        """Scalar outputs (`OUTPUTS`) per replicate, with scenario, replicate and seed."""
        return self.tables["summary"]


@dataclass
class Comparison:
    """Paired replicates of an evaluated scenario and one or more counterfactuals."""

    scenarios: list[Scenario]
    seed: int
    runs: list[runner.Run] = field(repr=False)

    @property
    def evaluated(self) -> Scenario:
        return self.scenarios[0]

    @property
    def horizon(self) -> str:
        return cmp.horizon_tag(self.evaluated.start_year, self.evaluated.years)

    @property
    def per_replicate(self) -> pd.DataFrame:
        """Per scenario and replicate: both recruitment outcomes, youth-years at stage ≥2, network
        members, reports of concern, cost."""
        return cmp.per_replicate(self.runs)

    @property
    def summary(self) -> pd.DataFrame:
        """One rounded row per scenario; the headline on the evaluated scenario's row."""
        return cmp.summary_table(self.per_replicate, self.evaluated.name, self.horizon,
                                 self._labels())

    @property
    def comparisons(self) -> pd.DataFrame:
        """One row per counterfactual: children kept out of the periphery and new members
        prevented (median, 90 % interval), extra cost, SEK per child kept out where children were
        kept out, replacement share."""
        return cmp.comparisons_table(self.per_replicate, self.evaluated.name, self.horizon,
                                     self._labels())

    @property
    def districts(self) -> pd.DataFrame:
        """Per scenario and district, with children kept out of the periphery by the evaluated
        scenario."""
        dist = cmp.per_district(self.runs, load_city().districts)
        return cmp.district_table(dist, self.evaluated.name, self.horizon)

    @property
    def weekly(self) -> pd.DataFrame:
        """Children drawn into the periphery per scenario, replicate and week (columns time in
        decimal years, recruits)."""
        flows = results.runs_tables(self.runs, load_city().districts,
                                    self.evaluated.start_year)["flows"]
        return cmp.weekly_recruits(flows, self.evaluated.start_year)

    @property
    def headline(self) -> dict[str, float | str]:
        """Children kept out of a network's periphery (stage 1 → 2, under 18) by the evaluated
        scenario against the first counterfactual, with new network members prevented."""
        row = self.comparisons.iloc[0]
        h = f"_{self.horizon}"
        p = f"prevented_periphery_entries_u18{h}"
        return {"evaluated": row["evaluated"], "compared_with": row["compared_with"],
                "horizon": self.horizon.replace("_", "–"),
                "replicates": int(self.per_replicate["replicate"].nunique()),
                "prevented_median": float(row[f"{p}_median"]),
                "prevented_p5": float(row[f"{p}_p5"]),
                "prevented_p95": float(row[f"{p}_p95"]),
                "new_members_prevented_median": float(row[f"prevented_new_members{h}_median"]),
                "extra_cost_msek": float(row[f"extra_cost_msek{h}_median"]),
                "sek_per_child_kept_out": float(row["sek_per_child_kept_out"]),
                "replacement_share": float(row["replacement_share"]),
                "note": row["note"]}

    def plan_period(self) -> tuple[float, float] | None:
        return cmp.plan_period(self.evaluated, self.scenarios[1])

    def _labels(self) -> dict[str, str]:
        return {s.name: s.label("en") for s in self.scenarios}


def run(scenario: ScenarioLike, *, replicates: int | None = None, seed: int | None = None,
        years: int | None = None, overrides: Mapping[str, float] | None = None,
        levers: lv.Levers | None = None, workers: int = 1) -> RunResult:
    """Replicates of one scenario (default: the scenario file's replicates and seed)."""
    scen = load(scenario, years, levers)
    seed = scen.seed if seed is None else int(seed)
    reps = scen.replicates if replicates is None else int(replicates)
    tasks = [(scen, r, seed, dict(overrides or {})) for r in range(reps)]
    return RunResult(scen, seed, runner.run_many(tasks, workers, progress=False))


def compare(evaluated: ScenarioLike, counterfactual: ScenarioLike, *others: ScenarioLike,
            replicates: int | None = None, seed: int | None = None, years: int | None = None,
            overrides: Mapping[str, float] | None = None, workers: int = 1,
            on_pair: Callable[[int, int], None] | None = None) -> Comparison:
    """Paired replicates of `evaluated` and each counterfactual (same seeds, same horizon).

    `on_pair(done, total)` is called as each replicate's set of runs finishes."""
    scens = [load(s, years) for s in (evaluated, counterfactual, *others)]
    cmp._check_horizons(scens)
    names = [s.name for s in scens]
    if len(set(names)) != len(names):
        scens = [s.model_copy(update={"name": f"{s.name}_{k}"}) if names.count(s.name) > 1 else s
                 for k, s in enumerate(scens)]
    seed = scens[0].seed if seed is None else int(seed)
    reps = scens[0].replicates if replicates is None else int(replicates)
    runs: list[runner.Run] = []
    for done, pair in enumerate(iter_pairs(scens, seed, range(reps), overrides, workers), 1):
        runs.extend(pair)
        if on_pair is not None:
            on_pair(done, reps)
    order = {s.name: k for k, s in enumerate(scens)}
    runs.sort(key=lambda r: (order[r.scenario], r.replicate))
    return Comparison(scens, seed, runs)


def iter_pairs(scens: list[Scenario], seed: int, replicates: range | list[int],
               overrides: Mapping[str, float] | None = None, workers: int = 1,
               pool: ProcessPoolExecutor | None = None) -> Iterator[list[runner.Run]]:
    """Run replicate r of every scenario for each r in `replicates`; yield the runs of each
    replicate (one per scenario, in scenario order) as soon as all of them have finished."""
    ov = dict(overrides or {})
    reps = list(replicates)
    if workers <= 1 and pool is None:
        for r in reps:
            yield [runner.run_replicate(s, r, seed, ov) for s in scens]
        return
    own = pool is None
    ex = pool or ProcessPoolExecutor(max_workers=workers, mp_context=runner.pool_context())
    try:
        futs: dict[Future, tuple[int, int]] = {
            ex.submit(runner.run_replicate, s, r, seed, ov): (r, k)
            for r in reps for k, s in enumerate(scens)}
        got: dict[int, dict[int, runner.Run]] = {}
        pending = set(futs)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                r, k = futs[f]
                got.setdefault(r, {})[k] = f.result()
                if len(got[r]) == len(scens):
                    done = got.pop(r)
                    yield [done[j] for j in range(len(scens))]
    finally:
        if own:
            ex.shutdown(cancel_futures=True)


def outputs(scenario: ScenarioLike, seed: int = 0, years: int | None = None,
            **parameters: float) -> dict[str, float]:
    """Scalar outputs (`OUTPUTS`) of one run of `scenario` with this exact seed and model
    parameters given as keywords — the function a sampler calls."""
    scen = load(scenario, years)
    model = runner.build_model(scen, int(seed), parameters)
    return results.summarise(model.run())


def paired_outputs(evaluated: ScenarioLike, counterfactual: ScenarioLike, seed: int = 0,
                   years: int | None = None, **parameters: float) -> dict[str, float]:
    """One pair of runs with the same seed and parameters: each output of the evaluated scenario
    (`<output>`), of the counterfactual (`<output>_counterfactual`), and the difference
    counterfactual − evaluated (`<output>_difference`: for recruits, the recruits prevented)."""
    a = outputs(evaluated, seed, years, **parameters)
    b = outputs(counterfactual, seed, years, **parameters)
    out = dict(a)
    out.update({f"{k}_counterfactual": v for k, v in b.items()})
    out.update({f"{k}_difference": b[k] - a[k] for k in a})
    return out

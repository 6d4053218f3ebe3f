"""Calibration: ABC-SMC (pyabc) of model parameters against documented targets.

A calibration file (`calibration/*.yaml`, see calibration/README.md) names the targets (each
a `sim.results.summarise` output with an observed value or range, the years and ages it covers,
its source and its tolerance), the observations kept out for validation, the parameters with
their priors (default: uniform on the range in sim/data/parameters.yaml), the simulation
(scenario, burn-in and measured years), seeds per candidate and the ABC-SMC settings.

Method: pyabc's ABCSMC with a weighted p-norm distance: each target contributes
(simulated − observed) / tolerance, so a distance of 1 (p = 2: root-sum-square) means "one
tolerance away". A candidate's summary is the mean of its outputs over `seeds_per_candidate`
runs, each with its own seed. Epsilon is the median of the previous generation's distances.

Reproducible and resumable: candidates are evaluated by `OrderedSampler`, which numbers the
evaluations of a generation, seeds evaluation j of generation t from (seed, t, j) and accepts
the first n accepted *by number*, whatever the worker count or back end (local processes, Dask,
or this process). Every generation is started by a fresh pyabc object loaded from the sqlite
history, so a run interrupted after generation t and started again does exactly what an
uninterrupted run does from generation t + 1 (the generation in progress is lost and redone).

Layout of OUT: manifest.json, history.db (pyabc), ensemble.parquet|csv (the last generation:
particle, weight, parameters, the simulated outputs `sim.<output>`, distance),
generations.csv, and report files written by `sim.calibration_report`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import random
import signal
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from datetime import UTC, datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.errors import InputError

Simulate = Callable[[dict[str, float], int], Mapping[str, float]]
REPO_ROOT = Path(__file__).resolve().parents[1]
MANIFEST = "manifest.json"
HISTORY = "history.db"
FORMAT_VERSION = 1


try:  # the project-wide error class when it exists (sim.check catches it)
    from sim.errors import CalibrationError as _Base
except ImportError:  # pragma: no cover
    _Base = InputError


class CalibrationError(_Base):
    """A calibration file or directory is invalid; names the file and the field."""


# ---------------------------------------------------------------------------- the file


class Observation(BaseModel):
    """One documented observation: a target (used) or a validation observation (kept out)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    output: str
    value: float | None = None
    range: tuple[float, float] | None = None
    tolerance: float | None = Field(None, gt=0)
    unit: str = ""
    years: tuple[int, int] | None = None
    ages: tuple[float, float] | None = None
    source: str
    weight: float = Field(1.0, gt=0)
    note: str = ""

    @model_validator(mode="after")
    def _check(self) -> Observation:
        if self.value is None and self.range is None:
            raise ValueError("give `value` or `range` (or both)")
        if self.range is not None:
            lo, hi = self.range
            if not lo < hi:
                raise ValueError(f"range [{lo}, {hi}] must have low < high")
            if self.value is not None and not lo <= self.value <= hi:
                raise ValueError(f"value {self.value} lies outside its range [{lo}, {hi}]")
        elif self.tolerance is None:
            raise ValueError("a single `value` needs a `tolerance` (the deviation accepted)")
        if self.years is not None and self.years[0] > self.years[1]:
            raise ValueError("years must be [first, last]")
        if self.ages is not None and self.ages[0] > self.ages[1]:
            raise ValueError("ages must be [youngest, oldest]")
        return self

    @property
    def observed(self) -> float:
        """The point the distance is measured from: `value`, else the middle of `range`."""
        if self.value is not None:
            return float(self.value)
        lo, hi = self.range  # type: ignore[misc]
        return (lo + hi) / 2.0

    @property
    def scale(self) -> float:
        """The tolerance: given, else half the range's width."""
        if self.tolerance is not None:
            return float(self.tolerance)
        lo, hi = self.range  # type: ignore[misc]
        return (hi - lo) / 2.0

    def inside(self, x: float) -> bool:
        """Within tolerance: |x − observed| ≤ tolerance."""
        return bool(abs(x - self.observed) <= self.scale * (1 + 1e-12))


class Pending(BaseModel):
    """A documented observation whose model output does not exist yet."""

    model_config = ConfigDict(extra="allow")
    name: str
    output: str
    use: Literal["target", "validation"] = "target"
    source: str


class Prior(BaseModel):
    """A parameter's prior: uniform on `range` (default: the parameter file's range), or a
    normal (mean, sd) truncated to `range`, or triangular on `range` with its mode."""

    model_config = ConfigDict(extra="forbid")
    distribution: Literal["uniform", "normal", "triangular"] = "uniform"
    range: tuple[float, float] | None = None
    mean: float | None = None
    sd: float | None = Field(None, gt=0)
    mode: float | None = None


class Simulation(BaseModel):
    """What one candidate run is: scenario, burn-in (discarded) and measured years."""

    model_config = ConfigDict(extra="forbid")
    scenario: str = "scenarios/baseline.yaml"
    burn_in_years: int = Field(1, ge=0, le=50)
    years: int = Field(2, ge=1, le=50)


class Method(BaseModel):
    """ABC-SMC settings (pyabc)."""

    model_config = ConfigDict(extra="forbid")
    name: Literal["abc_smc"] = "abc_smc"
    population_size: int = Field(100, ge=2)
    max_generations: int = Field(8, ge=1)
    min_epsilon: float = Field(0.0, ge=0)
    max_simulations: int | None = Field(None, ge=1)
    distance_p: float = Field(2.0, ge=1)
    epsilon_quantile: float = Field(0.5, gt=0, lt=1)


STOPPING = ("max_generations", "min_epsilon", "max_simulations")


class CalibrationSpec(BaseModel):
    """A validated calibration file."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    model: Literal["uvts"] = "uvts"
    simulation: Simulation = Field(default_factory=Simulation)
    seed: int = Field(2026, ge=0)
    seeds_per_candidate: int = Field(3, ge=1, le=100)
    parameters: dict[str, Prior]
    fixed: dict[str, float] = Field(default_factory=dict)
    targets: list[Observation]
    validation: list[Observation] = Field(default_factory=list)
    pending: list[Pending] = Field(default_factory=list)
    method: Method = Field(default_factory=Method)
    path: str = Field("", exclude=True)

    def canonical(self) -> dict[str, Any]:
        """What the result depends on (not descriptions or where the file lies)."""
        body = self.model_dump(exclude={"description", "pending", "path"})
        return body

    def spec_hash(self) -> str:
        """Hash of what each generation depends on. The stopping rules (max_generations,
        min_epsilon, max_simulations) are left out: changing them only decides where to stop, so
        a finished calibration can be extended in its directory with the same result as a run
        with the larger budget from the start."""
        body = self.canonical()
        body["method"] = {k: v for k, v in body["method"].items() if k not in STOPPING}
        blob = json.dumps(body, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()

    @property
    def outputs(self) -> list[str]:
        """Model outputs needed: targets, then validation."""
        seen: dict[str, None] = {}
        for o in (*self.targets, *self.validation):
            seen.setdefault(o.output, None)
        return list(seen)

    def scenario_path(self) -> Path:
        return resolve_path(self.simulation.scenario, Path(self.path).parent if self.path else None)

    def priors(self) -> dict[str, dict[str, float | str]]:
        """Resolved priors: distribution, low, high (and mean/sd/mode)."""
        from sim.params import load_parameters

        specs = load_parameters()
        out: dict[str, dict[str, float | str]] = {}
        for name, pr in self.parameters.items():
            lo, hi = pr.range if pr.range is not None else specs[name].range
            d: dict[str, float | str] = {"distribution": pr.distribution, "low": lo, "high": hi}
            if pr.distribution == "normal":
                d |= {"mean": pr.mean, "sd": pr.sd}
            if pr.distribution == "triangular":
                d["mode"] = specs[name].value if pr.mode is None else pr.mode
            out[name] = d
        return out


def resolve_path(p: str | Path, base: Path | None) -> Path:
    """A relative path is looked up next to the file, then in the repository, then here."""
    p = Path(p)
    if p.is_absolute():
        return p
    for root in (base, REPO_ROOT, Path.cwd()):
        if root is not None and (root / p).exists():
            return (root / p).resolve()
    return (base or Path.cwd()) / p


def _describe(exc: ValidationError) -> tuple[str, str, object]:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "missing":
        return field, "a value (this field is required)", None
    if err["type"] == "extra_forbidden":
        return field, "no such field (check the spelling)", None
    msg = err["msg"].removeprefix("Value error, ")
    return field, msg[0].lower() + msg[1:], err.get("input")


def _known_outputs() -> tuple[str, ...]:
    from sim.results import SUMMARY_OUTPUTS

    return tuple(SUMMARY_OUTPUTS)


class _StrictLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice in one mapping (YAML would keep the last)."""


def _no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} appears twice in one mapping", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def load_calibration(path: str | Path, known_outputs: tuple[str, ...] | None = None,
                     check_scenario: bool = True) -> CalibrationSpec:
    """Read and validate a calibration file. Every error is a CalibrationError naming the file
    and the field (e.g. `targets[2].output`)."""
    import difflib

    from sim.params import load_parameters

    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise CalibrationError(where, "(file)", "an existing calibration file")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        loc = f"{where}:{mark.line + 1}" if mark else where
        raise CalibrationError(loc, "(syntax)", f"valid YAML ({getattr(exc, 'problem', exc)})") \
            from None
    if not isinstance(raw, dict):
        raise CalibrationError(where, "(top level)", "a mapping of calibration fields",
                               type(raw).__name__)
    raw.setdefault("name", path.stem)
    params = raw.get("parameters")
    if isinstance(params, list):  # a list of names: priors from the parameter file
        raw["parameters"] = dict.fromkeys(params)
    if isinstance(raw.get("parameters"), dict):
        raw["parameters"] = {k: ({} if v is None else v) for k, v in raw["parameters"].items()}
    try:
        spec = CalibrationSpec(**raw, path=str(path))
    except ValidationError as exc:
        field, expected, got = _describe(exc)
        raise CalibrationError(where, field, expected, got) from None
    except TypeError as exc:
        raise CalibrationError(where, "(top level)", str(exc)) from None

    specs = load_parameters()
    known = known_outputs if known_outputs is not None else _known_outputs()

    def unknown_param(field: str, name: str) -> CalibrationError:
        close = difflib.get_close_matches(name, specs, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return CalibrationError(where, field, f"a parameter of sim/data/parameters.yaml{hint}", name)

    if not spec.parameters:
        raise CalibrationError(where, "parameters", "at least one parameter to calibrate")
    for name, pr in spec.parameters.items():
        field = f"parameters.{name}"
        if name not in specs:
            raise unknown_param(field, name)
        ps = specs[name]
        lo, hi = pr.range if pr.range is not None else ps.range
        blo, bhi = ps.bounds
        if not lo < hi:
            raise CalibrationError(where, f"{field}.range", "low < high", [lo, hi])
        if (blo is not None and lo < blo) or (bhi is not None and hi > bhi):
            raise CalibrationError(where, f"{field}.range",
                                   f"a range within the hard bounds {list(ps.bounds)}", [lo, hi])
        if pr.distribution == "normal" and (pr.mean is None or pr.sd is None):
            raise CalibrationError(where, field, "`mean` and `sd` for a normal prior")
        if pr.distribution == "triangular":
            mode = ps.value if pr.mode is None else pr.mode
            if not lo <= mode <= hi:
                raise CalibrationError(where, f"{field}.mode", f"a mode inside [{lo}, {hi}]", mode)
    for name, v in spec.fixed.items():
        if name not in specs:
            raise unknown_param(f"fixed.{name}", name)
        if name in spec.parameters:
            raise CalibrationError(where, f"fixed.{name}", "a parameter that is not also calibrated")
        try:
            specs[name].check(v, where)
        except InputError as exc:
            raise CalibrationError(where, f"fixed.{name}", exc.expected, v) from None
    if not spec.targets:
        raise CalibrationError(where, "targets", "at least one target")
    names: set[str] = set()
    for section in ("targets", "validation"):
        for k, ob in enumerate(getattr(spec, section)):
            if ob.output not in known:
                close = difflib.get_close_matches(ob.output, known, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else \
                    " (if it is being added, list it under `pending`)"
                raise CalibrationError(where, f"{section}[{k}].output",
                                       f"an output of sim.results.summarise{hint}", ob.output)
            if ob.name in names:
                raise CalibrationError(where, f"{section}[{k}].name", "a name used only once",
                                       ob.name)
            names.add(ob.name)
    if check_scenario:
        scen = spec.scenario_path()
        if not scen.is_file():
            raise CalibrationError(where, "simulation.scenario", "an existing scenario file",
                                   spec.simulation.scenario)
    return spec


def pending_available(spec: CalibrationSpec, known: tuple[str, ...] | None = None) -> list[str]:
    """Pending observations whose output now exists (move them to targets or validation)."""
    known = known if known is not None else _known_outputs()
    return [p.name for p in spec.pending if p.output in known]


# ---------------------------------------------------------------------------- the model


@lru_cache(maxsize=8)
def _scenario(path: str):
    from sim.scenario import load_scenario

    return load_scenario(path)


def _cut(recorder, burn_in_weeks: int, totals_at_burn_in: dict[str, np.ndarray] | None = None):
    """The recorder without the burn-in: per-step arrays (first axis = weeks) lose their first
    `burn_in_weeks` rows, per-year arrays (first axis = years) their first whole years, and
    run totals (e.g. the age histograms) lose what they held at the end of the burn-in."""
    import dataclasses

    steps = recorder.flows.shape[0]
    n_years = -(-steps // 52)
    cut = {}
    for f in dataclasses.fields(recorder):
        arr = getattr(recorder, f.name)
        if not isinstance(arr, np.ndarray):
            continue
        if arr.shape[:1] == (steps,):
            cut[f.name] = arr[burn_in_weeks:]
        elif arr.shape[:1] == (n_years,) and n_years != steps:
            cut[f.name] = arr[burn_in_weeks // 52:]
        elif totals_at_burn_in is not None and f.name in totals_at_burn_in:
            cut[f.name] = arr - totals_at_burn_in[f.name]
    return dataclasses.replace(recorder, **cut)


def burn_in_summary(recorder, burn_in_weeks: int,
                    totals_at_burn_in: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """`summarise` over the weeks after the burn-in (see `_cut`)."""
    from sim.results import summarise

    if burn_in_weeks <= 0:
        return summarise(recorder)
    return summarise(_cut(recorder, burn_in_weeks, totals_at_burn_in))


def _run_totals(recorder) -> list[str]:
    """Names of the recorder's run-total arrays (neither per step nor per year)."""
    import dataclasses

    steps = recorder.flows.shape[0]
    n_years = -(-steps // 52)
    return [f.name for f in dataclasses.fields(recorder)
            if isinstance(getattr(recorder, f.name), np.ndarray)
            and getattr(recorder, f.name).shape[:1] not in ((steps,), (n_years,))]


def uvts_simulate(scenario: str, burn_in_years: int, years: int, params: dict[str, float],
                  seed: int) -> dict[str, float]:
    """One run of the model: `burn_in_years` + `years`, outputs over the last `years`."""
    from sim.runner import build_model

    scen = _scenario(scenario).model_copy(update={"years": burn_in_years + years})
    model = build_model(scen, seed, params)
    burn = 52 * burn_in_years
    snapshot: dict[str, np.ndarray] = {}

    def at(week: int) -> None:
        if week == burn:
            snapshot.update({n: getattr(model.recorder, n).copy()
                             for n in _run_totals(model.recorder)})

    model.run(progress=at)
    return burn_in_summary(model.recorder, burn, snapshot)


def make_simulate(spec: CalibrationSpec) -> Simulate:
    """The picklable simulator of a calibration: f(params, seed) -> outputs of one run."""
    return partial(uvts_simulate, str(spec.scenario_path()), spec.simulation.burn_in_years,
                   spec.simulation.years)


class CandidateModel:
    """pyabc model: a candidate's outputs are their means over `k` runs with fresh seeds.

    The seeds are drawn from numpy's global generator, which `OrderedSampler` seeds for every
    evaluation from (seed, generation, evaluation number)."""

    def __init__(self, simulate: Simulate, outputs: list[str], k: int, fixed: dict[str, float],
                 targets: list[str] | None = None):
        self.simulate, self.outputs, self.k, self.fixed = simulate, list(outputs), k, dict(fixed)
        self.targets = list(targets or [])

    def __call__(self, par: Mapping[str, float]) -> dict[str, float]:
        seeds = np.random.randint(0, 2**31 - 1, size=self.k)
        params = {**self.fixed, **{k: float(v) for k, v in par.items()}}
        out = candidate_outputs(self.simulate, params, [int(s) for s in seeds], self.outputs)
        # a target the candidate cannot produce (NaN in every seed) puts it infinitely far away,
        # so that it is rejected and cannot poison epsilon (a median of distances)
        return {k: (float("inf") if k in self.targets and not math.isfinite(v) else v)
                for k, v in out.items()}


def candidate_outputs(simulate: Simulate, params: dict[str, float], seeds: list[int],
                      outputs: list[str]) -> dict[str, float]:
    """Mean of each output over runs with `seeds`, over the runs where it is defined (a share
    of nothing is NaN); NaN if it is defined in none (such a candidate is never accepted)."""
    import warnings

    runs = [simulate(dict(params), s) for s in seeds]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return {o: float(np.nanmean([r[o] for r in runs])) for o in outputs}


def make_prior(spec: CalibrationSpec):
    import pyabc
    rvs = {}
    for name, d in spec.priors().items():
        lo, hi = float(d["low"]), float(d["high"])
        if d["distribution"] == "uniform":
            rvs[name] = pyabc.RV("uniform", lo, hi - lo)
        elif d["distribution"] == "normal":
            mu, sd = float(d["mean"]), float(d["sd"])
            rvs[name] = pyabc.RV("truncnorm", (lo - mu) / sd, (hi - mu) / sd, mu, sd)
        else:
            c = (float(d["mode"]) - lo) / (hi - lo)
            rvs[name] = pyabc.RV("triang", c, lo, hi - lo)
    return pyabc.Distribution(**rvs)


def observed(spec: CalibrationSpec) -> dict[str, float]:
    return {t.output: t.observed for t in spec.targets}


def make_distance(spec: CalibrationSpec):
    """Weighted p-norm of (simulated − observed) / tolerance over the targets."""
    import pyabc

    weights = {t.output: t.weight / t.scale for t in spec.targets}
    return pyabc.PNormDistance(p=spec.method.distance_p, fixed_weights={0: weights})


def target_distance(spec: CalibrationSpec, sim: Mapping[str, float]) -> float:
    """The same distance as the calibration uses, computed directly (for reports and tests)."""
    z = np.array([t.weight * (sim[t.output] - t.observed) / t.scale for t in spec.targets])
    p = spec.method.distance_p
    return float(np.max(np.abs(z)) if math.isinf(p) else np.sum(np.abs(z) ** p) ** (1 / p))


# ---------------------------------------------------------------------------- sampler


def _eval_seed(seed: int, t: int, j: int) -> np.ndarray:
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, zlib.crc32(b"abc"), t + 2, j + 1])
    return ss.generate_state(4)


def _evaluate(payload: bytes, seed: int, t: int, j: int):
    """Evaluate one candidate (in a worker): seed numpy and random from (seed, t, j)."""
    import cloudpickle

    simulate_one = _loads(payload, cloudpickle)
    state = _eval_seed(seed, t, j)
    np.random.seed(state)
    random.seed(int(state[0]))
    return simulate_one()


_LAST: list = [None, None]


def _loads(payload: bytes, cloudpickle):
    """Unpickle the generation's simulate_one once per worker and generation."""
    if _LAST[0] != payload:
        _LAST[0], _LAST[1] = payload, cloudpickle.loads(payload)
    return _LAST[1]


class Backend:
    """Where evaluations run: this process, local processes or a Dask cluster."""

    def __init__(self, kind: str, workers: int, client: Any = None, pool: Any = None):
        self.kind, self.workers, self.client, self.pool = kind, workers, client, pool

    @property
    def slots(self) -> int:
        if self.kind == "dask":
            return max(1, sum(self.client.nthreads().values()))
        return max(1, self.workers)

    def submit(self, fn, *args):
        if self.kind == "dask":
            return self.client.submit(fn, *args, pure=False)
        if self.kind == "local":
            return self.pool.submit(fn, *args)
        fut: Future = Future()
        try:
            fut.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed back through the future
            fut.set_exception(exc)
        return fut

    def wait_any(self, futures: list) -> list:
        if self.kind == "dask":
            from distributed import wait as dwait

            return list(dwait(futures, return_when="FIRST_COMPLETED").done)
        return list(wait(futures, return_when=FIRST_COMPLETED).done)

    def cancel(self, futures: list) -> None:
        for f in futures:
            f.cancel()


def _worker_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def open_backend(workers: int | None, dask: Any) -> Iterator[Backend]:
    """workers=0: this process; N: N spawned processes; dask: address, 'local' or a Client."""
    from sim.sweep import dask_client, pinned_threads

    if dask is not None:
        with dask_client(dask, workers) as client:
            yield Backend("dask", workers or 0, client=client)
        return
    n = (os.cpu_count() or 1) if workers is None else workers
    if n <= 0:
        yield Backend("serial", 1)
        return
    import multiprocessing

    with pinned_threads():
        pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_init)
        try:
            yield Backend("local", n, pool=pool)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


class OrderedSampler:
    """A pyabc sampler that is deterministic and parallel: evaluation j of generation t is
    seeded from (seed, t, j); the first n accepted *by number* form the population and the
    evaluation count is the number of the n-th accepted + 1, whatever finished first."""

    def __new__(cls, *args, **kwargs):
        from pyabc.sampler import Sampler

        if cls is OrderedSampler:  # build the real subclass lazily (pyabc is an extra)
            sub = type("OrderedSamplerImpl", (_OrderedMixin, Sampler), {})
            obj = sub.__new__(sub)
            obj.__init__(*args, **kwargs)
            return obj
        return super().__new__(cls)


class _OrderedMixin:
    def __init__(self, seed: int, backend: Backend, on_result: Callable[[int, bool], None]
                 | None = None):
        from pyabc.sampler import Sampler

        Sampler.__init__(self)
        self.seed, self.backend, self.on_result = seed, backend, on_result

    def sample_until_n_accepted(self, n, simulate_one, t, *, max_eval=np.inf,  # noqa: ARG002
                                all_accepted=False, ana_vars=None):  # noqa: ARG002
        import cloudpickle

        payload = cloudpickle.dumps(simulate_one)
        done: dict[int, Any] = {}
        accepted: list[int] = []
        running: dict[Any, int] = {}
        next_j = 0
        slots = self.backend.slots
        try:
            while True:
                last = sorted(accepted)[n - 1] if len(accepted) >= n else None
                if last is not None and all(j in done for j in range(last + 1)):
                    break
                while last is None and len(running) < slots:
                    fut = self.backend.submit(_evaluate, payload, self.seed, t, next_j)
                    running[fut] = next_j
                    next_j += 1
                for fut in self.backend.wait_any(list(running)):
                    j = running.pop(fut)
                    particle = fut.result()
                    done[j] = particle
                    if particle.accepted:
                        accepted.append(j)
                    if self.on_result is not None:
                        self.on_result(t, bool(particle.accepted))
        finally:
            self.backend.cancel(list(running))
        last = sorted(accepted)[n - 1]
        sample = self._create_empty_sample()
        for j in range(last + 1):
            sample.append(done[j])
        self.nr_evaluations_ = last + 1
        return sample


# ---------------------------------------------------------------------------- running


def input_fingerprint(spec: CalibrationSpec) -> dict[str, str]:
    """Hashes of what the runs depend on besides the file: the scenario and parameter file."""
    from sim.params import PARAMETER_FILE

    out = {"parameter_file_sha256": hashlib.sha256(PARAMETER_FILE.read_bytes()).hexdigest()}
    scen = spec.scenario_path()
    if scen.is_file():
        out["scenario_sha256"] = _scenario(str(scen)).digest()
    return out


def _name(fn: Any) -> str:
    """A stable name of a replacement simulator (for the manifest)."""
    inner = getattr(fn, "func", fn)
    return f"{getattr(inner, '__module__', '?')}.{getattr(inner, '__qualname__', type(fn).__name__)}"


def _versions() -> dict[str, str]:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("pyabc", "numpy", "scipy", "pandas", "mesa", "distributed"):
        with contextlib.suppress(PackageNotFoundError):
            out[pkg] = version(pkg)
    return out


def _write_json(obj: dict, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def read_manifest(out: str | Path) -> dict[str, Any]:
    path = Path(out) / MANIFEST
    if not path.is_file():
        raise CalibrationError(str(out), MANIFEST, "a calibration directory with manifest.json")
    return json.loads(path.read_text(encoding="utf-8"))


def _prepare(spec: CalibrationSpec, out: Path, fingerprint: dict[str, str]) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    if (out / MANIFEST).is_file():
        man = read_manifest(out)
        where = str(out / MANIFEST)
        if man.get("spec_hash") != spec.spec_hash():
            old = man.get("calibration", {})
            new = spec.canonical()
            changed = sorted(k for k in new.keys() | old.keys() if new.get(k) != old.get(k)
                             and not (k == "method" and {a: b for a, b in new[k].items()
                                                         if a not in STOPPING}
                                      == {a: b for a, b in old.get(k, {}).items()
                                          if a not in STOPPING}))
            raise CalibrationError(where, "calibration", "the calibration this directory was "
                                   f"started with (changed: {', '.join(changed) or 'format'}); "
                                   "use another --out or delete it")
        if man.get("inputs") != fingerprint:
            raise CalibrationError(where, "inputs", "the scenario and parameter file this "
                                   "directory was started with; use another --out or delete it")
        man["calibration"] = spec.canonical()  # the stopping rules in force now
        return man
    if (out / HISTORY).exists():
        (out / HISTORY).unlink()
    from sim.sweep import git_commit

    man = {"format": FORMAT_VERSION, "name": spec.name, "calibration_file": spec.path,
           "spec_hash": spec.spec_hash(), "calibration": spec.canonical(),
           "priors": spec.priors(), "inputs": fingerprint, "method": "ABC-SMC (pyabc.ABCSMC), "
           "PNormDistance with fixed weights 1/tolerance, QuantileEpsilon, "
           "MultivariateNormalTransition, OrderedSampler (deterministic)",
           "git_commit": git_commit(), "versions": _versions(),
           "created": datetime.now(UTC).isoformat(timespec="seconds"), "sessions": [],
           "generations": [], "complete": False}
    _write_json(man, out / MANIFEST)
    return man


def _abc(spec: CalibrationSpec, simulate: Simulate, sampler):
    import pyabc

    model = CandidateModel(simulate, spec.outputs, spec.seeds_per_candidate, spec.fixed,
                           [t.output for t in spec.targets])
    return pyabc.ABCSMC(model, make_prior(spec), make_distance(spec),
                        population_size=spec.method.population_size,
                        eps=pyabc.QuantileEpsilon(alpha=spec.method.epsilon_quantile),
                        sampler=sampler)


def _generations(history) -> pd.DataFrame:
    """One row per generation; t = -1 is pyabc's prior sample that sets the first epsilon."""
    pops = history.get_all_populations().reset_index(drop=True)
    accepted = history.get_nr_particles_per_population()
    rows = []
    for _, p in pops.iterrows():
        t = int(p["t"])
        n = int(p["samples"])
        acc = float(accepted.get(t, np.nan)) / n if t >= 0 and n else np.nan
        rows.append({"t": t, "epsilon": float(p["epsilon"]) if t >= 0 else np.inf,
                     "simulations": n, "acceptance_rate": acc})
    return pd.DataFrame(rows, columns=["t", "epsilon", "simulations", "acceptance_rate"])


def _stop_reason(spec: CalibrationSpec, gens: pd.DataFrame) -> str | None:
    """Why to start no further generation (None: go on). Deterministic given the history."""
    m = spec.method
    done = gens[gens["t"] >= 0]
    if done.empty:
        return None
    if len(done) >= m.max_generations:
        return f"max_generations ({m.max_generations}) reached"
    if done["epsilon"].iloc[-1] <= m.min_epsilon:
        return f"epsilon {done['epsilon'].iloc[-1]:.3g} ≤ min_epsilon {m.min_epsilon}"
    if m.max_simulations is not None:
        used = int(gens["simulations"].sum())
        # the next generation is expected to need n / (last acceptance rate), and more as
        # epsilon falls: stop before one that would be expected to overrun the budget
        expected = 1.25 * m.population_size / max(done["acceptance_rate"].iloc[-1], 1e-3)
        if used + expected > m.max_simulations:
            return (f"max_simulations ({m.max_simulations}): {used} used, the next generation "
                    f"would need about {expected:.0f}")
    return None


def ensemble_table(spec: CalibrationSpec, history) -> pd.DataFrame:
    """The last generation: particle, weight, parameters, simulated outputs, distance."""
    t = history.max_t
    pop = history.get_population(t)
    rows = []
    for k, p in enumerate(pop.particles):
        row = {"particle": k, "weight": float(p.weight)}
        row |= {n: float(p.parameter[n]) for n in spec.parameters}
        row |= {f"sim.{o}": float(p.sum_stat[o]) for o in spec.outputs}
        row["distance"] = float(p.distance)
        rows.append(row)
    df = pd.DataFrame(rows)
    raw = df["weight"].to_numpy(float) / df["weight"].sum()
    df["weight"] = truncated_weights(raw)
    df.insert(df.columns.get_loc("weight") + 1, "weight_raw", raw)
    df.insert(0, "generation", t)
    return df


def effective_sample_size(w: np.ndarray) -> float:
    """Kish's effective sample size of importance weights: (Σw)² / Σw²."""
    w = np.asarray(w, float)
    return float(w.sum() ** 2 / (w ** 2).sum())


def truncated_weights(w: np.ndarray) -> np.ndarray:
    """Truncated importance sampling (Ionides 2008, J. Comput. Graph. Stat. 17:295): each
    normalised weight is capped at mean(w)·√N, then the weights are normalised again.

    ABC-SMC weights are prior / proposal densities; with a small population in several dimensions
    a particle accepted in the proposal's tail can take most of the weight (the shipped
    calibration: one of 60 particles held 78 %, an effective sample size of 1.6), and every
    comparison over the ensemble would then run almost only that parameter set, understating
    what we do not know. Truncation trades that variance for a small bias towards the proposal;
    the raw weights stay in the table (`weight_raw`) and both sample sizes are reported."""
    w = np.asarray(w, float)
    w = w / w.sum()
    capped = np.minimum(w, w.mean() * np.sqrt(w.size))
    return capped / capped.sum()


def write_ensemble(df: pd.DataFrame, out: Path) -> None:
    from sim.results import write_table

    write_table(df, out / "ensemble.parquet")
    write_table(df, out / "ensemble.csv")


class CalibrationResult:
    def __init__(self, out: Path, ensemble: pd.DataFrame | None, generations: pd.DataFrame,
                 complete: bool, interrupted: bool, stop_reason: str | None, wall_s: float,
                 simulations: int, n_generations: int = 0):
        self.out, self.ensemble, self.generations = out, ensemble, generations
        self.complete, self.interrupted, self.stop_reason = complete, interrupted, stop_reason
        self.wall_s, self.simulations, self.n_generations = wall_s, simulations, n_generations


def run_calibration(spec: CalibrationSpec, out_dir: str | Path, *, workers: int | None = None,
                    dask: Any = None, progress: bool = True, simulate: Simulate | None = None,
                    max_new_generations: int | None = None,
                    max_minutes: float | None = None) -> CalibrationResult:
    """Run (or resume) the calibration of `spec` into `out_dir`.

    workers: local processes (default: CPU count; 0: this process). dask: scheduler address,
    'local' or a Client. simulate: replaces the model, f(params, seed) -> outputs (tests).
    max_new_generations / max_minutes: stop early this time (the next call resumes); the result
    is the same as one uninterrupted run. Ctrl-C stops after keeping finished generations."""
    import pyabc
    from tqdm import tqdm

    out = Path(out_dir)
    t0 = time.perf_counter()
    fingerprint = input_fingerprint(spec) if simulate is None else {"simulate": _name(simulate)}
    man = _prepare(spec, out, fingerprint)
    simulate = simulate or make_simulate(spec)
    db = "sqlite:///" + str((out / HISTORY).resolve())
    logging.getLogger("ABC").setLevel(logging.WARNING)
    logging.getLogger("pyabc").setLevel(logging.WARNING)
    budget = spec.method.max_simulations or spec.method.population_size * 3 * \
        spec.method.max_generations
    history = pyabc.History(db) if (out / HISTORY).exists() else None
    have = 0 if history is None or history.n_populations == 0 else int(history.max_t) + 1
    done_sims = 0 if history is None or have == 0 else int(history.total_nr_simulations)
    bar = tqdm(total=budget, initial=min(done_sims, budget), unit="cand", disable=not progress,
               desc=spec.name, dynamic_ncols=True)
    counts = {"acc": 0, "t": None}

    def on_result(t: int, acc: bool) -> None:
        if t != counts["t"]:  # the prior sample (t = -1) and generation 0 share one pyabc run
            counts["acc"], counts["t"] = 0, t
        counts["acc"] += acc
        if bar.n < bar.total:
            bar.update()
        bar.set_postfix(gen=t, accepted=f"{counts['acc']}/{spec.method.population_size}",
                        refresh=False)

    interrupted = False
    gens = pd.DataFrame(columns=["t", "epsilon", "simulations", "acceptance_rate"])
    gens = gens.astype({"t": int, "epsilon": float, "simulations": int})
    if history is not None and have:
        gens = _generations(history)
    reason = _stop_reason(spec, gens)
    new = 0
    try:
        with open_backend(workers, dask) as backend:
            while reason is None:
                if max_new_generations is not None and new >= max_new_generations:
                    break
                if max_minutes is not None and time.perf_counter() - t0 > 60 * max_minutes:
                    break
                t = have
                state = _eval_seed(spec.seed, t, -1)
                np.random.seed(state)
                random.seed(int(state[0]))
                counts["acc"] = 0
                abc = _abc(spec, simulate, OrderedSampler(spec.seed, backend, on_result))
                if have == 0:
                    abc.new(db, observed(spec))
                else:
                    abc.load(db, 1)
                history = abc.run(max_nr_populations=1)
                have, new = int(history.max_t) + 1, new + 1
                gens = _generations(history)
                reason = _stop_reason(spec, gens)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    complete = reason is not None
    n_gens = int((gens["t"] >= 0).sum()) if len(gens) else 0
    ens = None
    if history is not None and have:
        ens = ensemble_table(spec, history)
        write_ensemble(ens, out)
        gens.to_csv(out / "generations.csv", index=False)
        man["effective_sample_size"] = {
            "raw_weights": round(effective_sample_size(ens["weight_raw"]), 2),
            "truncated_weights": round(effective_sample_size(ens["weight"]), 2),
            "particles": len(ens)}
    sims = int(gens["simulations"].sum()) if len(gens) else 0
    from sim.sweep import git_commit

    man["generations"] = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                           for k, v in row.items()} for row in gens.to_dict("records")]
    man["complete"], man["stop_reason"] = complete, reason
    man["total_candidates"] = sims  # including the prior sample (t = -1)
    man["total_model_runs"] = sims * spec.seeds_per_candidate
    man.setdefault("sessions", []).append({
        "finished": datetime.now(UTC).isoformat(timespec="seconds"), "backend": "dask" if dask
        else ("serial" if workers == 0 else "local"), "workers": workers,
        "new_generations": new, "wall_s": round(time.perf_counter() - t0, 2),
        "interrupted": interrupted, "git_commit": git_commit()})
    _write_json(man, out / MANIFEST)
    return CalibrationResult(out, ens, gens[gens["t"] >= 0].reset_index(drop=True), complete,
                             interrupted, reason, time.perf_counter() - t0, sims, n_gens)


# ---------------------------------------------------------------------------- helpers


def weighted_quantiles(x: np.ndarray, w: np.ndarray, qs=(0.05, 0.5, 0.95)) -> list[float]:
    """Quantiles of a weighted sample (inverse of the weighted empirical CDF, midpoints)."""
    x, w = np.asarray(x, float), np.asarray(w, float)
    keep = np.isfinite(x) & (w > 0)
    if not keep.any():
        return [float("nan")] * len(qs)
    x, w = x[keep], w[keep]
    order = np.argsort(x)
    x, w = x[order], w[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return [float(np.interp(q, cdf, x)) for q in qs]


def posterior_median(ensemble: pd.DataFrame, names: list[str]) -> dict[str, float]:
    """The weighted median of each parameter (marginal)."""
    return {n: weighted_quantiles(ensemble[n], ensemble["weight"], (0.5,))[0] for n in names}


def check_at_median(spec: CalibrationSpec, ensemble: pd.DataFrame,
                    simulate: Simulate | None = None, seeds: int | None = None) -> pd.DataFrame:
    """Run the model at the posterior median (marginal medians) with `seeds` seeds; one row per
    target and validation observation: observed, tolerance, simulated mean, inside."""
    simulate = simulate or make_simulate(spec)
    k = seeds or spec.seeds_per_candidate
    params = {**spec.fixed, **posterior_median(ensemble, list(spec.parameters))}
    rng = np.random.default_rng([spec.seed, zlib.crc32(b"median")])
    sims = candidate_outputs(simulate, params, [int(s) for s in rng.integers(0, 2**31 - 1, k)],
                             spec.outputs)
    rows = []
    for kind, obs in (("target", spec.targets), ("validation", spec.validation)):
        for o in obs:
            rows.append({"kind": kind, "name": o.name, "output": o.output,
                         "observed": o.observed, "tolerance": o.scale,
                         "simulated_at_median": sims[o.output],
                         "inside": o.inside(sims[o.output])})
    return pd.DataFrame(rows)


def estimate(spec: CalibrationSpec, workers: int, simulate: Simulate | None = None,
             runs: int = 2) -> dict[str, float]:
    """Time `runs` model runs (at the priors' midpoints, in this process) and project the wall
    time of the budget (`max_simulations` candidates × seeds) on `workers` idle cores. CPU time
    is used, so a busy machine does not inflate it (the wall time is returned too). The first
    run is not counted (imports and caches), so `runs` + 1 runs are done."""
    simulate = simulate or make_simulate(spec)
    mid = {**spec.fixed, **{n: (float(d["low"]) + float(d["high"])) / 2
                            for n, d in spec.priors().items()}}
    simulate(dict(mid), 0)
    t0, c0 = time.perf_counter(), time.process_time()
    for k in range(runs):
        simulate(dict(mid), k + 1)
    wall = (time.perf_counter() - t0) / runs
    per_run = (time.process_time() - c0) / runs  # CPU time: what an idle core would take
    m = spec.method
    budget = m.max_simulations or m.population_size * (1 + 3 * m.max_generations)
    model_runs = budget * spec.seeds_per_candidate
    return {"seconds_per_run": per_run, "wall_seconds_per_run": wall, "candidates": budget,
            "model_runs": model_runs, "workers": workers,
            "projected_minutes": model_runs * per_run / max(workers, 1) / 60}

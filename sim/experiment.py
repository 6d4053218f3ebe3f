"""Experiment files: what a sweep varies, how it samples, which outputs it records.

An experiment is a YAML file (see `experiments/README.md`) read through the input boundary
(`sim.inputs`: strict YAML, strict types) and validated here. Every error names the file and the
field. Relative scenario paths are looked up next to the experiment file first, then in the
repository root, then in the working directory, and must lie inside the project's scenarios, the
experiment's folder or the user's --search-path. The number of model runs an experiment implies
(`n_runs`) is bounded: above `MAX_RUNS` the sweep needs `--yes`, above `HARD_MAX_RUNS` it is
refused.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator

from sim.errors import ExperimentError, InputError, ParameterError
from sim.inputs import (
    StrictInput,
    allowed_roots,
    check_name,
    describe_validation,
    one_of,
    outside_range_allowed,
    read_mapping,
    reference,
)
from sim.interventions import groups as measure_groups
from sim.interventions.groups import is_group_name

REPO_ROOT = Path(__file__).resolve().parent.parent
METHODS = ("morris", "sobol", "grid", "lhs")
MODELS = ("uvts", "ishigami")
ISHIGAMI_OUTPUTS = ("y", "noise")
MAX_RUNS = 10_000           # model runs a sweep may imply without --yes
HARD_MAX_RUNS = 2_000_000   # model runs a sweep may imply at all
MAX_REPLICATES = 10_000
MAX_LEVELS = 100


@dataclass(frozen=True)
class ParamInfo:
    """A varied or fixable parameter: default value, plausible range and hard bounds."""

    name: str
    value: float
    range: tuple[float, float]
    bounds: tuple[float | None, float | None] = (None, None)
    unit: str = ""
    source: str = ""
    description: str = ""


ISHIGAMI_PARAMETERS: dict[str, ParamInfo] = {
    **{f"x{i}": ParamInfo(f"x{i}", 0.0, (-math.pi, math.pi), unit="-",
                          source="Ishigami & Homma 1990",
                          description=f"input x{i} of the Ishigami function") for i in (1, 2, 3)},
    "a": ParamInfo("a", 7.0, (0.0, 10.0), unit="-", source="Ishigami & Homma 1990",
                   description="coefficient of sin(x2)^2"),
    "b": ParamInfo("b", 0.1, (0.0, 0.5), unit="-", source="Ishigami & Homma 1990",
                   description="coefficient of x3^4 sin(x1)"),
    "noise_sd": ParamInfo("noise_sd", 0.0, (0.0, 1.0), bounds=(0.0, None), unit="-",
                          source="test device", description="sd of seed-driven noise added to y"),
}


class _RangeOverride(StrictInput):
    model_config = ConfigDict(extra="forbid")
    range: tuple[float, float] | None = None
    # the experiment knowingly sweeps beyond the plausible range (recorded in the manifest)
    allow_outside_range: bool = False


class _RawExperiment(StrictInput):
    """The file as written (before names, ranges and paths are resolved)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    description: str = ""
    model: Literal["uvts", "ishigami"] = "uvts"
    scenario: str | None = None
    scenarios: list[str] | None = None
    difference: bool = False
    parameters: list[str] | dict[str, _RangeOverride | None]
    fixed: dict[str, float] = Field(default_factory=dict)
    method: Literal["morris", "sobol", "grid", "lhs"]
    samples: int = Field(gt=0, le=HARD_MAX_RUNS)
    levels: int = Field(default=4, ge=2, le=MAX_LEVELS)
    second_order: bool = False
    replicates: int = Field(default=1, gt=0, le=MAX_REPLICATES)
    outputs: list[str] = Field(min_length=1)
    seed: int = Field(default=12345, ge=0, le=2**32 - 1)
    ensemble: str | None = None
    effects: Literal["drawn", "point"] | None = None
    years: int | None = Field(default=None, ge=1, le=100)

    @field_validator("outputs")
    @classmethod
    def _unique_outputs(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("output names must be unique")
        return v


@dataclass(frozen=True)
class Experiment:
    """A validated experiment: everything a sweep needs, with ranges and paths resolved."""

    name: str
    path: Path | None
    model: str
    scenarios: tuple[Path, ...]
    difference: bool
    parameters: dict[str, tuple[float, float]]
    fixed: dict[str, float]
    method: str
    samples: int
    levels: int
    second_order: bool
    replicates: int
    outputs: tuple[str, ...]
    seed: int
    description: str = ""
    # parameter values outside their plausible range, allowed with --allow-outside-range
    outside_range: Mapping[str, dict] = field(default_factory=dict, compare=False)
    # the calibrated ensemble every point draws its other parameters from (None: defaults),
    # whether measures' effects are drawn from their ranges, and a horizon replacing the
    # scenarios' own `years`
    ensemble: Path | None = None
    effects: str = "point"
    years: int | None = None
    # group parameters (effect_scaling.<kind>.<key>, swept or fixed): their descriptions
    groups: Mapping[str, ParamInfo] = field(default_factory=dict, compare=False)

    @property
    def n_points(self) -> int:
        """Parameter points of the design."""
        return design_points(self.method, len(self.parameters), self.samples, self.second_order)

    @property
    def n_runs(self) -> int:
        """Model runs the experiment implies: points x replicates x scenarios."""
        return self.n_points * self.replicates * max(1, len(self.scenarios))

    def describe_runs(self) -> str:
        """'220 runs (220 points x 1 replicate x 1 scenario)'."""
        n_scen = max(1, len(self.scenarios))
        return (f"{self.n_runs:,} runs ({self.n_points:,} points x {self.replicates} "
                f"replicate{'s' if self.replicates != 1 else ''} x {n_scen} "
                f"scenario{'s' if n_scen != 1 else ''})")

    @property
    def labels(self) -> tuple[str, ...]:
        """One short label per scenario (file stem), used in output column names."""
        return scenario_labels(self.scenarios)

    @property
    def result_columns(self) -> list[str]:
        """Output columns of the tidy table (see `output_columns`)."""
        return output_columns(self.outputs, self.labels, self.difference)

    @property
    def analysis_columns(self) -> list[str]:
        """The columns sensitivity analysis runs on: differences for a paired experiment."""
        if len(self.scenarios) == 2 and self.difference:
            return [f"{o}.difference" for o in self.outputs]
        return self.result_columns

    def to_dict(self) -> dict:
        """A JSON-ready canonical form (paths relative to the repo root where possible)."""
        return {
            "name": self.name, "model": self.model, "method": self.method,
            "scenarios": [_display_path(p) for p in self.scenarios],
            "difference": self.difference,
            "parameters": {k: list(v) for k, v in self.parameters.items()},
            "fixed": dict(self.fixed), "samples": self.samples, "levels": self.levels,
            "second_order": self.second_order, "replicates": self.replicates,
            "outputs": list(self.outputs), "seed": self.seed,
            # only when set, so that experiments without them keep their hash (and resume)
            **({"ensemble": _display_path(self.ensemble)} if self.ensemble else {}),
            **({"effects": self.effects} if self.effects != "point" else {}),
            **({"years": self.years} if self.years is not None else {}),
        }

    def param_info(self, name: str) -> ParamInfo:
        """The description of a varied or fixed parameter (model parameter or group)."""
        return self.groups[name] if name in self.groups else model_parameters(self.model)[name]

    def spec_hash(self) -> str:
        """sha256 of the canonical form: identifies the experiment for resuming."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def scenario_labels(scenarios: tuple[Path, ...]) -> tuple[str, ...]:
    """File stems, or `a`, `b`, ... when two stems coincide."""
    stems = tuple(p.stem for p in scenarios)
    if len(set(stems)) == len(stems):
        return stems
    return tuple(chr(ord("a") + i) for i in range(len(stems)))


def output_columns(outputs: tuple[str, ...] | list[str], labels: tuple[str, ...],
                   difference: bool) -> list[str]:
    """Column names: `out` for one scenario; `out.<label>` per scenario of a pair, plus
    `out.difference` (= first − second scenario) when `difference` is set."""
    if len(labels) <= 1:
        return list(outputs)
    cols = [f"{o}.{lab}" for o in outputs for lab in labels]
    if difference:
        cols += [f"{o}.difference" for o in outputs]
    return cols


def _display_path(p: Path) -> str:
    try:
        return p.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return p.resolve().as_posix()


def model_parameters(model: str) -> Mapping[str, ParamInfo]:
    """Parameter catalogue of a model: the parameter file for `uvts`, built-ins for `ishigami`."""
    if model == "ishigami":
        return ISHIGAMI_PARAMETERS
    from sim.params import load_parameters

    return {
        n: ParamInfo(n, s.value, tuple(s.range), tuple(s.bounds), s.unit, s.source, s.description)
        for n, s in load_parameters().items()
    }


def design_points(method: str, k: int, samples: int, second_order: bool = False) -> int:
    """Parameter points of a design: Morris r (k + 1), Sobol N (k + 2) or N (2k + 2), grid n^k,
    Latin hypercube n."""
    if method == "morris":
        return samples * (k + 1)
    if method == "sobol":
        return samples * (2 * k + 2 if second_order else k + 2)
    if method == "grid":
        return samples ** k
    return samples


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file; raise an InputError naming file and field."""
    path = Path(path)
    where = str(path)
    raw = read_mapping(path, ExperimentError, "experiment file")
    return parse_experiment(raw, where=where, base=path.resolve().parent,
                            default_name=path.stem, source=path)


def parse_experiment(raw: Mapping, where: str = "experiment", base: Path | None = None,
                     default_name: str = "experiment", source: Path | None = None) -> Experiment:
    """Validate an experiment given as a mapping (as from YAML)."""
    if not isinstance(raw, Mapping):
        raise ExperimentError(where, "(top level)", "a mapping of experiment fields",
                              type(raw).__name__)
    try:
        spec = _RawExperiment.model_validate(dict(raw))
    except ValidationError as exc:
        field_, expected, got = describe_validation(exc)
        raise ExperimentError(where, field_ if field_ != "(entry)" else "(file)", expected,
                              got) from None
    if spec.name is not None:
        check_name(spec.name, where, "name", ExperimentError)
    scenarios = _scenarios(spec, where, base)
    catalogue = {**model_parameters(spec.model), **_groups(spec, scenarios, where)}
    ensemble = _ensemble(spec, where, base)
    params = _parameters(spec, catalogue, where)
    fixed = _fixed(spec, catalogue, params, where)
    _check_method(spec, len(params), where)
    _check_outputs(spec, where)
    _check_columns(spec, params, where, len(scenarios))
    outside = _outside_range(params, fixed, catalogue, where, _allowed_outside(spec))
    if spec.model == "uvts":  # refuse a bad scenario now, not after the output folder is made
        from sim.scenario import load_scenario

        for p in scenarios:
            load_scenario(p)
    exp = Experiment(
        name=spec.name or default_name, path=source, model=spec.model, scenarios=scenarios,
        difference=spec.difference, parameters=params, fixed=fixed, method=spec.method,
        samples=spec.samples, levels=spec.levels, second_order=spec.second_order,
        replicates=spec.replicates, outputs=tuple(spec.outputs), seed=spec.seed,
        description=spec.description, outside_range=outside, ensemble=ensemble,
        effects=spec.effects or ("drawn" if ensemble is not None else "point"),
        years=spec.years,
        groups={n: catalogue[n] for n in (*params, *fixed) if is_group_name(n)},
    )
    if exp.n_runs > HARD_MAX_RUNS:
        field_ = "replicates" if exp.n_points <= HARD_MAX_RUNS else "samples"
        raise ExperimentError(where, field_, f"an experiment of at most {HARD_MAX_RUNS:,} model "
                              f"runs (this one implies {exp.describe_runs()})",
                              getattr(spec, field_))
    return exp


def _allowed_outside(spec: _RawExperiment) -> frozenset[str]:
    """Parameters whose entry says `allow_outside_range: true`."""
    if not isinstance(spec.parameters, dict):
        return frozenset()
    return frozenset(n for n, b in spec.parameters.items() if b is not None
                     and b.allow_outside_range)


def _group_names(spec: _RawExperiment) -> list[tuple[str, str]]:
    """(field, name) of every group parameter the file varies or fixes."""
    varied = list(spec.parameters) if isinstance(spec.parameters, list) else list(spec.parameters)
    return [(f"parameters.{n}", n) for n in varied if is_group_name(n)] + [
        (f"fixed.{n}", n) for n in spec.fixed if is_group_name(n)]


def _groups(spec: _RawExperiment, scenarios: tuple[Path, ...], where: str) -> dict[str, ParamInfo]:
    """Descriptions of the group parameters, checked against the measures of the scenarios."""
    names = _group_names(spec)
    if not names:
        return {}
    if spec.model != "uvts":
        field_, name = names[0]
        raise ExperimentError(where, field_, "group effect parameters only with model: uvts", name)
    from sim.scenario import load_scenario

    specs = {}
    for p in scenarios:
        for s in load_scenario(p).specs():
            specs.setdefault(s.id, s)
    out = {}
    for field_, name in names:
        problem = measure_groups.problem(name, specs.values())
        if problem:
            raise ExperimentError(where, field_, problem, name)
        ids = [i for i, s in specs.items() if measure_groups.in_group(s, name)]
        out[name] = ParamInfo(
            name, 1.0, measure_groups.DEFAULT_RANGE, measure_groups.BOUNDS, unit="multiplier",
            source="experiment: a group of measures (sim/interventions/groups.py)",
            description=f"multiplier of the behavioural effects of the {len(ids)} measures of "
                        f"this group, after effect_scaling: {', '.join(ids)}")
    return out


def _ensemble(spec: _RawExperiment, where: str, base: Path | None) -> Path | None:
    """The ensemble file: relative to the experiment's folder, then the repository root;
    checked now (columns, weights), so that a bad file stops the sweep before it starts."""
    if spec.ensemble is None:
        if spec.effects is not None and spec.model != "uvts":
            raise ExperimentError(where, "effects", "effects only with model: uvts", spec.effects)
        return None
    if spec.model != "uvts":
        raise ExperimentError(where, "ensemble", "an ensemble only with model: uvts",
                              spec.ensemble)
    from sim.ensemble import EnsembleError, load_ensemble

    name = spec.ensemble
    if not name.strip() or "\x00" in name or len(name) > 1000:
        raise ExperimentError(where, "ensemble", "a path to an ensemble file", name)
    p = Path(name).expanduser()
    bases = [d for d in (base, REPO_ROOT) if d is not None]
    cands = [p] if p.is_absolute() else [b / p for b in bases]
    roots = [*allowed_roots(base), REPO_ROOT.resolve()]
    found = next((c.resolve() for c in cands if c.resolve().is_file()), None)
    if found is None:
        raise ExperimentError(where, "ensemble", "an existing ensemble file (looked for "
                              f"{', '.join(str(c.resolve()) for c in cands)}; `uvts calibrate` "
                              "writes calibration/<name>/ensemble.parquet)", name)
    if not any(found == r or found.is_relative_to(r) for r in roots):
        raise ExperimentError(where, "ensemble", f"an ensemble file inside "
                              f"{', '.join(str(r) for r in dict.fromkeys(roots))} (files "
                              "elsewhere are not read; allow a folder with --search-path)", name)
    try:
        load_ensemble(found)
    except EnsembleError as exc:
        raise ExperimentError(where, "ensemble", f"a usable ensemble table ({exc.where}: column "
                              f"'{exc.field}': expected {exc.expected})", name) from None
    return found


def _outside_range(params: Mapping[str, tuple[float, float]], fixed: Mapping[str, float],
                   catalogue: Mapping[str, ParamInfo], where: str,
                   allowed: frozenset[str] = frozenset()) -> dict[str, dict]:
    """Swept ranges and fixed values outside the plausible ranges: refused unless allowed
    (--allow-outside-range, or `allow_outside_range: true` on the parameter in the file)."""
    out: dict[str, dict] = {}
    items = [(f"parameters.{n}.range", n, r) for n, r in params.items()]
    items += [(f"fixed.{n}", n, (v, v)) for n, v in fixed.items()]
    for field_, name, (lo, hi) in items:
        plo, phi = catalogue[name].range
        if plo <= lo and hi <= phi:
            continue
        if not outside_range_allowed() and name not in allowed:
            raise ParameterError(where, field_, f"values inside the plausible range [{plo}, {phi}] "
                                 f"of {name}; to use them anyway, run with --allow-outside-range "
                                 "or write 'allow_outside_range: true' in the parameter's entry",
                                 [lo, hi] if lo != hi else lo)
        out[name] = {"used": [lo, hi] if lo != hi else lo, "range": [plo, phi]}
    return out


def _scenarios(spec: _RawExperiment, where: str, base: Path | None) -> tuple[Path, ...]:
    if spec.scenario is not None and spec.scenarios is not None:
        raise ExperimentError(where, "scenarios", "either 'scenario' or 'scenarios', not both")
    names = [spec.scenario] if spec.scenario is not None else list(spec.scenarios or [])
    field = "scenario" if spec.scenario is not None else "scenarios"
    if spec.scenarios is not None and len(names) not in (1, 2):
        raise ExperimentError(where, "scenarios", "a list of one or two scenario files", names)
    if not names and spec.model == "uvts":
        raise ExperimentError(where, "scenario", "a scenario file (or 'scenarios: [A, B]')")
    if spec.difference and len(names) != 2:
        raise ExperimentError(where, "difference", "two scenarios ('scenarios: [A, B]')", names)
    paths = tuple(_find_file(n, base, where, field) for n in names)
    if len(paths) == 2 and paths[0] == paths[1]:
        raise ExperimentError(where, "scenarios", "two different scenario files", names)
    return paths


def _find_file(name: str, base: Path | None, where: str, field: str) -> Path:
    bases = [d for d in (base, REPO_ROOT, Path.cwd()) if d]
    return reference(name, where, base or Path.cwd(), field, ExperimentError, "scenario file",
                     bases=bases)


def _unknown(name: str, catalogue: Mapping, where: str, field: str) -> InputError:
    close = difflib.get_close_matches(name, list(catalogue), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return ExperimentError(where, field, f"a known parameter name{hint}", name)


def _parameters(spec: _RawExperiment, catalogue: Mapping[str, ParamInfo],
                where: str) -> dict[str, tuple[float, float]]:
    items = spec.parameters.items() if isinstance(spec.parameters, dict) else (
        (n, None) for n in spec.parameters)
    params: dict[str, tuple[float, float]] = {}
    for name, body in items:
        field = f"parameters.{name}"
        if name not in catalogue:
            raise _unknown(name, catalogue, where, "parameters")
        if name in params:
            raise ExperimentError(where, field, "each parameter listed once", name)
        rng = body.range if body is not None and body.range is not None else catalogue[name].range
        params[name] = _check_range(catalogue[name], tuple(rng), where, f"{field}.range")
    if not params:
        raise ExperimentError(where, "parameters", "at least one parameter to vary")
    return params


def _check_range(info: ParamInfo, rng: tuple[float, float], where: str,
                 field: str) -> tuple[float, float]:
    lo, hi = float(rng[0]), float(rng[1])  # finite numbers (StrictInput)
    blo, bhi = info.bounds
    ok = math.isfinite(lo) and math.isfinite(hi) and lo < hi
    ok = ok and (blo is None or lo >= blo) and (bhi is None or hi <= bhi)
    if not ok:
        bounds = f"[{'-inf' if blo is None else blo}, {'inf' if bhi is None else bhi}]"
        raise ExperimentError(where, field, f"[lo, hi] with lo < hi inside the hard bounds {bounds}",
                         [lo, hi])
    return lo, hi


def _fixed(spec: _RawExperiment, catalogue: Mapping[str, ParamInfo],
           params: Mapping[str, tuple[float, float]], where: str) -> dict[str, float]:
    fixed: dict[str, float] = {}
    for name, value in spec.fixed.items():
        if name not in catalogue:
            raise _unknown(name, catalogue, where, "fixed")
        if name in params:
            raise ExperimentError(where, f"fixed.{name}", "a parameter that is not also varied", name)
        info = catalogue[name]
        blo, bhi = info.bounds
        if not math.isfinite(value) or (blo is not None and value < blo) or (
                bhi is not None and value > bhi):
            raise ExperimentError(where, f"fixed.{name}", f"a finite number within {info.bounds}", value)
        fixed[name] = float(value)
    return fixed


def _check_method(spec: _RawExperiment, k: int, where: str) -> None:
    if spec.method == "sobol" and spec.samples & (spec.samples - 1):
        raise ExperimentError(where, "samples", "a power of two for Sobol (e.g. 64, 512, 1024)",
                         spec.samples)
    if spec.method == "morris" and spec.samples < 2:
        raise ExperimentError(where, "samples", "at least 2 Morris trajectories", spec.samples)
    if spec.method == "grid" and spec.samples ** k > 1_000_000:
        raise ExperimentError(where, "samples", f"a grid of at most 10^6 points ({spec.samples}^{k})",
                         spec.samples)
    if spec.method == "sobol" and k < 2:
        raise ExperimentError(where, "parameters", "at least two parameters for Sobol", k)


def _check_outputs(spec: _RawExperiment, where: str) -> None:
    if spec.model == "ishigami":
        known: tuple[str, ...] | None = ISHIGAMI_OUTPUTS
    else:
        known = _runner_outputs()
    if known is None:
        return
    for name in spec.outputs:
        if name not in known:
            raise ExperimentError(where, "outputs", f"known output names: {one_of(known, name)}",
                                  name)


RESERVED_COLUMNS = ("task_id", "point", "replicate", "seed", "particle", "wall_s", "worker")


def _check_columns(spec: _RawExperiment, params: Mapping, where: str, n_scenarios: int) -> None:
    labels = tuple(str(i) for i in range(n_scenarios))
    outs = set(output_columns(spec.outputs, labels, spec.difference)) | set(spec.outputs)
    for name in params:
        if name in outs or name in RESERVED_COLUMNS:
            raise ExperimentError(where, f"parameters.{name}", "a name that is not an output or one of "
                             + ", ".join(RESERVED_COLUMNS), name)
    for name in spec.outputs:
        if name in RESERVED_COLUMNS:
            raise ExperimentError(where, "outputs", "names other than " + ", ".join(RESERVED_COLUMNS),
                             name)


def _runner_outputs() -> tuple[str, ...] | None:
    """Output names the model declares (`SUMMARY_OUTPUTS` of sim.runner or sim.results)."""
    import importlib

    for module in ("sim.runner", "sim.results"):
        try:
            names = getattr(importlib.import_module(module), "SUMMARY_OUTPUTS", None)
        except ImportError:
            continue
        if names:
            return tuple(names)
    return None

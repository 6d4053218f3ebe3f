"""`uvts check FILE...`: validate input files without running them (before a workshop, in CI).

The kind of each file is recognised from where it lies and what it holds:
- `calibration/*.yaml` (or a file whose sections are calibration sections): a calibration file,
  each top-level section validated by the schema registered for it (`register_calibration`);
  today `targets:`. A calibration schema added later plugs in with one call;
- a mapping with `method:`: an experiment (sweep) file;
- a mapping with `id:` and `type:`, or a list of them: an intervention file (the catalogue);
- a mapping with `departments:`: the department budgets of the activity plan;
- the parameter file (`sim/data/parameters.yaml`, or a mapping with only `parameters:` groups);
- anything else: a scenario.
A folder stands for every `.yaml`/`.yml` file below it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from sim.errors import CalibrationError, InputError, ScenarioError
from sim.inputs import PROJECT_ROOT, StrictInput, check_keys, describe_validation, one_of, read_yaml

CalibrationSchema = Callable[[Any, str], str]
CALIBRATION_SCHEMAS: dict[str, CalibrationSchema] = {}


def register_calibration(section: str, schema: CalibrationSchema) -> None:
    """Register the validator of a calibration file's top-level `section`: `schema(value, where)`
    raises an InputError or returns a short summary."""
    CALIBRATION_SCHEMAS[section] = schema


class Target(StrictInput):
    """One calibration target: a model output, its documented range, unit and source."""

    output: str
    range: tuple[float, float]
    unit: str = Field(min_length=1)
    source: str = Field(min_length=1)
    ages: str | int | None = None  # the age group the target counts, e.g. "10-20" or 15
    note: str = ""

    @field_validator("output")
    @classmethod
    def _known(cls, v: str) -> str:
        from sim.experiment import _runner_outputs

        known = _runner_outputs()
        if known is not None and v not in known:
            raise ValueError(f"a model output: {one_of(known, v)}")
        return v

    @model_validator(mode="after")
    def _ordered(self) -> Target:
        lo, hi = self.range
        if lo > hi:
            raise ValueError(f"a range [low, high] with low <= high, found [{lo}, {hi}]")
        return self


def _validate(model: type[StrictInput], value: Any, where: str, field: str,
              error: type[InputError]) -> StrictInput:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        sub, expected, got = describe_validation(exc)
        raise error(where, f"{field}.{sub}" if sub != "(entry)" else field, expected, got) \
            from None


def _targets(value: Any, where: str) -> str:
    if not isinstance(value, list) or not value:
        raise CalibrationError(where, "targets", "a non-empty list of targets", value)
    seen: set[str] = set()
    for k, item in enumerate(value):
        if not isinstance(item, dict):
            raise CalibrationError(where, f"targets[{k}]", "a mapping (output, range, unit, "
                                   "source)", item)
        target = _validate(Target, item, where, f"targets[{k}]", CalibrationError)
        if target.output in seen:
            raise CalibrationError(where, f"targets[{k}].output", "each output once",
                                   target.output)
        seen.add(target.output)
    return f"{len(value)} targets"


register_calibration("targets", _targets)


def check_calibration(path: Path, raw: Any = None) -> str:
    """Validate a calibration file section by section."""
    where = str(path)
    raw = read_yaml(path, CalibrationError, "calibration file") if raw is None else raw
    if not isinstance(raw, dict) or not raw:
        raise CalibrationError(where, "(top level)", "a mapping of calibration sections "
                               f"({', '.join(CALIBRATION_SCHEMAS)})", type(raw).__name__)
    check_keys(raw, where, "", CalibrationError)
    parts = []
    for section, value in raw.items():
        schema = CALIBRATION_SCHEMAS.get(section)
        if schema is None:
            raise CalibrationError(where, section, "a calibration section, one of "
                                   f"{', '.join(CALIBRATION_SCHEMAS)}")
        parts.append(schema(value, where))
    return ", ".join(parts)


class _Department(StrictInput):
    name: str = Field(min_length=1)
    source_name: str = ""
    extra_budget_sek: float = Field(ge=0)


class _Budgets(StrictInput):
    stated_total_approx_sek: float | None = Field(None, ge=0)
    sum_of_department_supplements_sek: float | None = Field(None, ge=0)
    departments: list[_Department] = Field(min_length=1)


def check_budgets(path: Path, raw: Any) -> str:
    b = _validate(_Budgets, raw, str(path), "(file)", ScenarioError)
    return f"{len(b.departments)} departments"


def check_scenario(path: Path) -> str:
    from sim.scenario import load_scenario

    s = load_scenario(path)
    extra = f"; outside plausible range: {', '.join(s.outside_range)}" if s.outside_range else ""
    return (f"{s.start_year}-{s.start_year + s.years}, {s.replicates} replicates, "
            f"{len(s.specs())} interventions{extra}")


def check_interventions(path: Path) -> str:
    from sim.interventions import build_interventions

    specs = build_interventions([{"use": path.name}], where=str(path), base_dir=path.parent)
    return f"{len(specs)} intervention{'s' if len(specs) != 1 else ''}"


def check_experiment(path: Path) -> str:
    from sim.experiment import load_experiment

    exp = load_experiment(path)
    return f"{exp.method}, {exp.describe_runs()}"


def check_parameters(path: Path) -> str:
    from sim.params import load_parameters

    load_parameters.cache_clear()
    try:
        return f"{len(load_parameters(path))} parameters"
    finally:
        load_parameters.cache_clear()


def kind_of(path: Path, raw: Any) -> str:
    """The kind of input file (see the module docstring)."""
    from sim.params import PARAMETER_FILE

    resolved = path.resolve()
    if resolved == PARAMETER_FILE.resolve():
        return "parameters"
    if "calibration" in resolved.parent.parts[-1:]:
        return "calibration"
    if isinstance(raw, list):
        if any(isinstance(x, Mapping) and "method" in x for x in raw):
            return "experiment"
        return "interventions"
    if isinstance(raw, Mapping):
        keys = set(raw)
        if keys and keys <= set(CALIBRATION_SCHEMAS):
            return "calibration"
        if "method" in keys:
            return "experiment"
        if "id" in keys and "type" in keys:
            return "interventions"
        if "departments" in keys:
            return "budgets"
        if keys == {"parameters"} and isinstance(raw["parameters"], Mapping) and all(
                isinstance(v, Mapping) for v in raw["parameters"].values()) and raw["parameters"]:
            return "parameters"
    return "scenario"


def check_file(path: str | Path) -> tuple[str, str]:
    """Validate one file: (kind, summary), or an InputError naming file and field."""
    path = Path(path)
    raw = read_yaml(path, InputError, "YAML file")
    kind = kind_of(path, raw)
    if kind == "calibration":
        return kind, check_calibration(path, raw)
    if kind == "budgets":
        return kind, check_budgets(path, raw)
    checks = {"experiment": check_experiment, "interventions": check_interventions,
              "parameters": check_parameters, "scenario": check_scenario}
    return kind, checks[kind](path)


def expand_paths(items: Iterable[str | Path]) -> list[Path]:
    """Files named, with every .yaml/.yml file below a named folder."""
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix in (".yaml", ".yml") and f.is_file()
                          and not any(part.startswith(".") for part in f.relative_to(p).parts))
        else:
            out.append(p)
    return out


def check_paths(items: Iterable[str | Path], quiet: bool = False) -> int:
    """Check files and folders; print one line per file; 0 if all are valid, else 2."""
    files = expand_paths(items)
    bad = 0
    for f in files:
        try:
            kind, summary = check_file(f)
        except InputError as exc:
            bad += 1
            print(f"invalid: {exc}", file=sys.stderr)
            continue
        if not quiet:
            print(f"ok: {_show(f)} ({kind}: {summary})")
    if not files:
        print("uvts: error: no .yaml files found in the folders given", file=sys.stderr)
        return 2
    if not quiet or bad:
        print(f"{len(files) - bad} of {len(files)} files valid", file=sys.stderr if bad else
              sys.stdout)
    return 0 if bad == 0 else 2


def _show(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)

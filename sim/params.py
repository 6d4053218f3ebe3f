"""The parameter file: every model parameter with value, plausible range, unit and source.

`sim/data/parameters.yaml` is the single source of truth. Scenarios and experiments override
values by name; every override is checked against the parameter's hard bounds.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from sim.errors import ParameterError
from sim.inputs import outside_range_allowed, read_mapping

PARAMETER_FILE = Path(__file__).with_name("data") / "parameters.yaml"


class ParameterSpec(BaseModel):
    """One parameter: its default, the plausible range used by sweeps, unit and source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    value: float
    range: tuple[float, float]
    unit: str
    source: str
    description: str
    bounds: tuple[float | None, float | None] = (None, None)
    group: str = "model"

    @property
    def is_assumption(self) -> bool:
        """True when no evidence backs the value."""
        return self.source.lower().startswith("assumption")

    @model_validator(mode="after")
    def _check(self) -> ParameterSpec:
        lo, hi = self.range
        if not lo <= self.value <= hi:
            raise ValueError(f"value {self.value} lies outside its range [{lo}, {hi}]")
        blo, bhi = self.bounds
        if (blo is not None and lo < blo) or (bhi is not None and hi > bhi):
            raise ValueError(f"range [{lo}, {hi}] exceeds the hard bounds {self.bounds}")
        return self

    def check(self, value: object, where: str) -> float:
        """Return `value` as a float if it is a finite number inside the hard bounds."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParameterError(where, self.name, f"a number ({self.unit})", value)
        v = float(value)
        blo, bhi = self.bounds
        if not math.isfinite(v) or (blo is not None and v < blo) or (bhi is not None and v > bhi):
            lo = "-inf" if blo is None else blo
            hi = "inf" if bhi is None else bhi
            raise ParameterError(where, self.name, f"a finite number in [{lo}, {hi}] ({self.unit})", value)
        return v


def _parse(raw: object, where: str) -> dict[str, ParameterSpec]:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("parameters"), Mapping):
        raise ParameterError(where, "parameters", "a mapping of parameter names to specs")
    specs: dict[str, ParameterSpec] = {}
    for group, entries in raw["parameters"].items():
        if not isinstance(entries, Mapping):
            raise ParameterError(where, f"parameters.{group}", "a mapping of parameter specs")
        for name, body in entries.items():
            if not isinstance(body, Mapping):
                raise ParameterError(where, name, "a mapping with value, range, unit, source")
            try:
                specs[name] = ParameterSpec(name=name, group=group, **body)
            except (ValidationError, TypeError) as exc:
                raise ParameterError(where, name, _first_error(exc)) from None
    return specs


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        return f"{loc}: {err['msg']}" if loc else err["msg"]
    return str(exc)


@lru_cache(maxsize=4)
def load_parameters(path: Path | str = PARAMETER_FILE) -> Mapping[str, ParameterSpec]:
    """Load and validate the parameter file (cached; the result is read-only)."""
    path = Path(path)
    raw = read_mapping(path, ParameterError, "parameter file")
    return MappingProxyType(_parse(raw, str(path)))


def resolve(overrides: Mapping[str, object] | None = None, where: str = "overrides",
            specs: Mapping[str, ParameterSpec] | None = None) -> dict[str, float]:
    """Default values with `overrides` applied; unknown names and bad values raise ParameterError."""
    specs = load_parameters() if specs is None else specs
    values = {name: s.value for name, s in specs.items()}
    if overrides is not None and not isinstance(overrides, Mapping):
        raise ParameterError(where, "parameters", "a mapping of parameter names to values",
                             type(overrides).__name__)
    for name, value in (overrides or {}).items():
        if name not in specs:
            close = difflib.get_close_matches(str(name), specs, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ParameterError(where, str(name), f"a known parameter name{hint}", name)
        values[name] = specs[name].check(value, where)
    return values


def outside_plausible(values: Mapping[str, object], where: str,
                      specs: Mapping[str, ParameterSpec] | None = None,
                      allow: bool | None = None) -> dict[str, dict[str, object]]:
    """Values (already within hard bounds) that lie outside their parameter's plausible range.

    Refused with a ParameterError unless allowed (`--allow-outside-range`, see
    `sim.inputs.outside_range_allowed`); then returned as {name: {value, range}} for the
    manifest."""
    specs = load_parameters() if specs is None else specs
    allow = outside_range_allowed() if allow is None else allow
    out: dict[str, dict[str, object]] = {}
    for name, value in values.items():
        spec = specs.get(name)
        if spec is None or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        lo, hi = spec.range
        if lo <= value <= hi:
            continue
        if not allow:
            raise ParameterError(where, str(name), f"a value inside its plausible range [{lo}, {hi}] "
                                 f"({spec.unit}; sim/data/parameters.yaml); to use it anyway, "
                                 "run with --allow-outside-range", value)
        out[str(name)] = {"value": float(value), "range": [lo, hi]}
    return out

"""Scenario files: a readable YAML description of one "what if", validated on load.

A scenario names the horizon, seed and replicates, parameter overrides and the interventions in
force. It can `extends:` another scenario file (path relative to itself): parameters are merged,
interventions are added to the parent's (an entry with the same `id` replaces it) and `remove:`
drops parent interventions by id.

Every file is read through the input boundary (`sim.inputs`): strict YAML, strict types, files
referenced by `extends:` and `use:` only from the project's scenarios, the referring file's
folder or the user's `--search-path`. Each file's own fields are validated before it is merged,
so an error names the file that holds it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, ValidationError

from sim.errors import ScenarioError
from sim.inputs import StrictInput, check_keys, check_name, expand_uses, read_mapping, reference
from sim.interventions import InterventionSpec, build_interventions, describe
from sim.params import PARAMETER_FILE, outside_plausible, resolve

MAX_REPLICATES = 10_000
MAX_YEARS = 50


class Scenario(StrictInput):
    """A validated scenario with its parent chain already merged in."""

    model_config = ConfigDict(extra="forbid")

    name: str
    title: str = ""
    title_sv: str = ""
    description: str = ""
    start_year: int = Field(2024, ge=2000, le=2100)
    years: int = Field(10, ge=1, le=MAX_YEARS)
    replicates: int = Field(10, ge=1, le=MAX_REPLICATES)
    seed: int = Field(2024, ge=0, le=2**63 - 1)
    parameters: dict[str, float] = Field(default_factory=dict)
    interventions: list[dict[str, Any]] = Field(default_factory=list)
    source_file: str = ""
    # parameters outside their plausible range, allowed with --allow-outside-range (manifest)
    outside_range: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def label(self, lang: str = "en") -> str:
        """The scenario's display name in the language asked for."""
        if lang == "sv" and self.title_sv:
            return self.title_sv
        return self.title or self.name

    def specs(self) -> list[InterventionSpec]:
        """The validated interventions (their `use:` references already absolute)."""
        return build_interventions(self.interventions, where=self.source_file or self.name)

    def digest(self) -> str:
        """sha256 of what a result depends on: the resolved scenario, its interventions' contents
        and the parameter file (not the paths they were read from)."""
        body = self.model_dump(exclude={"source_file", "interventions", "outside_range"})
        body["interventions"] = [s.model_dump() for s in self.specs()]
        blob = json.dumps(body, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob + PARAMETER_FILE.read_bytes()).hexdigest()


_FIELDS = set(Scenario.model_fields) - {"source_file", "outside_range"}
_OWN = ("name", "title", "title_sv", "description")  # a child names and describes itself
_SCALARS = _FIELDS - {"parameters", "interventions"}


def _check_file(raw: dict[str, Any], path: Path) -> None:
    """Validate one file's own fields (before merging), so errors name the file that holds them."""
    where = str(path)
    extra = set(raw) - _FIELDS - {"extends", "remove"}
    if extra:
        raise ScenarioError(where, sorted(extra)[0], "one of the scenario fields "
                            f"{sorted(_FIELDS | {'extends', 'remove'})}")
    if "name" in raw:
        check_name(raw["name"], where, "name", ScenarioError)
    params = raw.get("parameters")
    if params is not None:
        if not isinstance(params, dict):
            raise ScenarioError(where, "parameters", "a mapping of parameter names to values",
                                type(params).__name__)
        check_keys(params, where, "parameters", ScenarioError)
        resolve(params, where=f"{where}: parameters")
        outside_plausible(params, where=f"{where}: parameters")
    body = {k: v for k, v in raw.items() if k in _SCALARS}
    try:
        Scenario.model_validate({"name": path.stem, **body})
    except ValidationError as exc:
        field, expected, got = describe(exc)
        raise ScenarioError(where, field, expected, got) from None
    remove = raw.get("remove")
    if remove is not None:
        if "extends" not in raw:
            raise ScenarioError(where, "remove", "'extends' naming a parent scenario")
        if not isinstance(remove, list) or not all(isinstance(r, str) and r for r in remove):
            raise ScenarioError(where, "remove", "a list of intervention ids (text) of the parent",
                                remove)


def _merge(parent: dict[str, Any], child: dict[str, Any], where: str) -> dict[str, Any]:
    out = {k: v for k, v in parent.items() if k not in _OWN}
    out.update({k: v for k, v in child.items()
                if k not in ("parameters", "interventions", "remove", "extends")})
    out["parameters"] = {**(parent.get("parameters") or {}), **(child.get("parameters") or {})}
    drop = set(child.get("remove") or [])
    inherited = parent.get("interventions") or []
    unknown = drop - {iv.get("id") for iv in inherited}
    if unknown:
        raise ScenarioError(where, "remove", "ids of interventions in the parent scenario",
                            sorted(unknown))
    mine = child.get("interventions") or []
    ids = {iv.get("id") for iv in mine if isinstance(iv.get("id"), str)}
    out["interventions"] = [iv for iv in inherited if iv.get("id") not in drop | ids] + list(mine)
    return out


def _load_raw(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        chain = " -> ".join(p.name for p in (*seen, path))
        raise ScenarioError(str(seen[-1]), "extends", "no cycle of scenarios", chain)
    if len(seen) >= 20:
        raise ScenarioError(str(seen[-1]), "extends", "a chain of at most 20 scenarios")
    raw = read_mapping(path, ScenarioError, "scenario file")
    _check_file(raw, path)
    raw["interventions"] = expand_uses(raw.get("interventions"), str(path), path.parent,
                                       ScenarioError, fresh=True)
    parent_ref = raw.get("extends")
    if parent_ref is None:
        return dict(raw)
    parent_path = reference(parent_ref, str(path), path.parent, "extends", ScenarioError)
    parent = _load_raw(parent_path, (*seen, path))
    return _merge(parent, raw, str(path))


def load_scenario(path: str | Path) -> Scenario:
    """Load, merge and validate a scenario file; errors name the file and field.

    A parameter outside its plausible range is refused unless allowed
    (`sim.inputs.allowing_outside_range`, `--allow-outside-range`); then it is listed in
    `Scenario.outside_range`."""
    path = Path(path)
    raw = _load_raw(path)
    raw.pop("extends", None)
    raw.pop("remove", None)
    raw.setdefault("name", path.stem)
    try:
        scen = Scenario(**raw, source_file=str(path))
    except ValidationError as exc:
        field, expected, got = describe(exc)
        raise ScenarioError(str(path), field, expected, got) from None
    resolve(scen.parameters, where=f"{path}: parameters")
    scen.outside_range = outside_plausible(scen.parameters, where=f"{path}: parameters",
                                           allow=True)
    build_interventions(scen.interventions, where=str(path), base_dir=path.parent)
    return scen

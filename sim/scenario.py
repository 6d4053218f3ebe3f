"""Scenario files: a readable YAML description of one "what if", validated on load.

A scenario names the horizon, seed and replicates, parameter overrides and the interventions in
force. It can `extends:` another scenario file (path relative to itself): parameters are merged,
interventions are added to the parent's (an entry with the same `id` replaces it) and `remove:`
drops parent interventions by id.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sim.errors import ScenarioError
from sim.interventions import InterventionSpec, build_interventions, describe, expand
from sim.params import PARAMETER_FILE, resolve


class Scenario(BaseModel):
    """A validated scenario with its parent chain already merged in."""

    model_config = ConfigDict(extra="forbid")

    name: str
    title: str = ""
    title_sv: str = ""
    description: str = ""
    start_year: int = Field(2024, ge=2000, le=2100)
    years: int = Field(10, ge=1, le=50)
    replicates: int = Field(10, ge=1, le=10_000)
    seed: int = Field(2024, ge=0)
    parameters: dict[str, float] = Field(default_factory=dict)
    interventions: list[dict[str, Any]] = Field(default_factory=list)
    source_file: str = ""

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
        body = self.model_dump(exclude={"source_file", "interventions"})
        body["interventions"] = [s.model_dump() for s in self.specs()]
        blob = json.dumps(body, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob + PARAMETER_FILE.read_bytes()).hexdigest()


_FIELDS = set(Scenario.model_fields) - {"source_file"}


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ScenarioError(str(path), "(file)", "an existing scenario file")
    try:
        with path.open(encoding="utf-8") as fh:
            raw = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ScenarioError(where, "(syntax)", f"valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(raw, dict):
        raise ScenarioError(str(path), "(top level)", "a mapping of scenario fields", type(raw).__name__)
    return raw


def _expand_uses(raw: dict[str, Any], path: Path) -> None:
    """Replace `use:` references (relative to this file) by the interventions they name, so that
    children can replace or remove them by id."""
    entries = raw.get("interventions")
    if entries is None:
        return
    if not isinstance(entries, list):
        raise ScenarioError(str(path), "interventions", "a list of interventions", entries)
    raw["interventions"] = expand(entries, str(path), path.parent)


def _merge(parent: dict[str, Any], child: dict[str, Any], where: str) -> dict[str, Any]:
    own = ("name", "title", "title_sv", "description")  # a child names and describes itself
    out = {k: v for k, v in parent.items() if k not in own}
    out.update({k: v for k, v in child.items()
                if k not in ("parameters", "interventions", "remove", "extends")})
    out["parameters"] = {**parent.get("parameters", {}), **(child.get("parameters") or {})}
    drop = set(child.get("remove") or [])
    unknown = drop - {iv.get("id") for iv in parent.get("interventions", [])}
    if unknown:
        raise ScenarioError(where, "remove", "ids of interventions in the parent scenario",
                            sorted(unknown))
    mine = child.get("interventions") or []
    ids = {iv.get("id") for iv in mine if isinstance(iv, dict)} - {None}
    out["interventions"] = [iv for iv in parent.get("interventions", [])
                            if iv.get("id") not in drop | ids] + list(mine)
    return out


def _load_raw(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        chain = " -> ".join(p.name for p in (*seen, path))
        raise ScenarioError(str(path), "extends", "no cycle of scenarios", chain)
    raw = _read_yaml(path)
    _expand_uses(raw, path)
    extra = set(raw) - _FIELDS - {"extends", "remove"}
    if extra:
        raise ScenarioError(str(path), sorted(extra)[0],
                            f"one of the scenario fields {sorted(_FIELDS | {'extends', 'remove'})}")
    parent_ref = raw.get("extends")
    if parent_ref is None:
        if "remove" in raw:
            raise ScenarioError(str(path), "remove", "'extends' naming a parent scenario")
        return {k: v for k, v in raw.items()}
    if not isinstance(parent_ref, str):
        raise ScenarioError(str(path), "extends", "a path to a scenario file", parent_ref)
    parent = _load_raw(path.parent / parent_ref, (*seen, path))
    return _merge(parent, raw, str(path))


def load_scenario(path: str | Path) -> Scenario:
    """Load, merge and validate a scenario file; errors name the file and field."""
    path = Path(path)
    raw = _load_raw(path)
    raw.setdefault("name", path.stem)
    try:
        scen = Scenario(**raw, source_file=str(path))
    except ValidationError as exc:
        field, expected, got = describe(exc)
        raise ScenarioError(str(path), field, expected, got) from None
    resolve(scen.parameters, where=f"{path}: parameters")

    build_interventions(scen.interventions, where=str(path), base_dir=path.parent)
    return scen

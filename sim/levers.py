"""Levers: a scenario changed through its data, as a workshop or a script asks.

Every lever edits the scenario's parameter overrides or its list of interventions — it removes
measures, changes a measure's values (`scale`, `interval_weeks`) or sets a parameter — and never
touches the engine. The result is an ordinary `Scenario`, so everything downstream (runner,
compare, manifest digests) treats it like one read from a file.

- `off_departments`: removes every measure of the named departments;
- `off_measures`: removes the measures with these ids;
- `info_sharing`: parameter `info_sharing_school_social` (the share of school observations that
  reaches social services);
- `uptake`: parameter `uptake_voluntary` (the probability that guardians accept voluntary help;
  mellantvång raises it);
- `est_interval_weeks`: `interval_weeks` of the EST entry (id `est`): 1 weekly, 4 monthly;
- `move_msek` from `move_from` to `move_to`: SEK millions a year moved between departments by
  scaling their measures' `scale` (cost and capacity or reach move together).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sim.errors import ScenarioError
from sim.scenario import Scenario

EST_ID = "est"


@dataclass(frozen=True)
class Levers:
    """Changes to apply to a scenario; the defaults change nothing."""

    off_departments: frozenset[str] = field(default_factory=frozenset)
    off_measures: frozenset[str] = field(default_factory=frozenset)
    info_sharing: float | None = None
    uptake: float | None = None
    est_interval_weeks: int | None = None
    move_msek: float = 0.0
    move_from: str | None = None
    move_to: str | None = None
    years: int | None = None

    def is_default(self) -> bool:
        return self == Levers(years=self.years)


def measures(scen: Scenario) -> list[dict]:
    """The scenario's interventions as data (id, department, names, cost a year with scale)."""
    return [{"id": iv["id"], "department": iv.get("department", "ordinary work"),
             "name_en": iv.get("name_en") or iv["id"], "name_sv": iv.get("name_sv") or
             iv.get("name_en") or iv["id"],
             "cost_sek_per_year": float(iv.get("cost_sek_per_year", 0.0)) *
             float(iv.get("scale", 1.0))} for iv in scen.interventions]


def departments(scen: Scenario) -> list[str]:
    """Departments with measures in the scenario, in order of first appearance."""
    return list(dict.fromkeys(m["department"] for m in measures(scen)))


def budget(scen: Scenario, department: str) -> float:
    """SEK a year the scenario spends on the department's measures."""
    return sum(m["cost_sek_per_year"] for m in measures(scen) if m["department"] == department)


def apply(scen: Scenario, levers: Levers, name: str | None = None) -> Scenario:
    """A copy of `scen` with `levers` applied (a new name if any lever changes something)."""
    where = f"{scen.source_file or scen.name} (levers)"
    known_depts = set(departments(scen))
    known_ids = {iv["id"] for iv in scen.interventions}
    for d in levers.off_departments:
        if d not in known_depts:
            raise ScenarioError(where, "off_departments", f"one of {sorted(known_depts)}", d)
    for i in levers.off_measures:
        if i not in known_ids:
            raise ScenarioError(where, "off_measures", "ids of the scenario's interventions", i)
    ivs = [dict(iv) for iv in scen.interventions
           if iv.get("department", "ordinary work") not in levers.off_departments
           and iv["id"] not in levers.off_measures]
    params = dict(scen.parameters)
    if levers.info_sharing is not None:
        params["info_sharing_school_social"] = float(levers.info_sharing)
    if levers.uptake is not None:
        params["uptake_voluntary"] = float(levers.uptake)
    if levers.est_interval_weeks is not None:
        est = [iv for iv in ivs if iv["id"] == EST_ID]
        if not est:
            raise ScenarioError(where, "est_interval_weeks", f"a scenario with EST (id {EST_ID!r})")
        for iv in est:
            iv["interval_weeks"] = int(levers.est_interval_weeks)
    if levers.move_msek:
        _move(ivs, levers, where)
    update: dict = {"interventions": ivs, "parameters": params}
    if levers.years is not None:
        update["years"] = int(levers.years)
    changed = {k: v for k, v in update.items() if getattr(scen, k) != v}
    if changed:
        update["name"] = name or f"{scen.name}_modified"
    out = scen.model_copy(update=update)
    out.specs()  # validate the edited interventions now, naming the scenario if they fail
    return out


def _move(ivs: list[dict], lv: Levers, where: str) -> None:
    def total(dept: str) -> float:
        return sum(float(iv.get("cost_sek_per_year", 0.0)) * float(iv.get("scale", 1.0))
                   for iv in ivs if iv.get("department") == dept)

    amount = float(lv.move_msek) * 1e6
    src, dst = total(lv.move_from or ""), total(lv.move_to or "")
    if src <= 0:
        raise ScenarioError(where, "move_from", "a department with costed measures", lv.move_from)
    if dst <= 0:
        raise ScenarioError(where, "move_to", "a department with costed measures", lv.move_to)
    if amount > src:
        raise ScenarioError(where, "move_msek", f"at most {src / 1e6:.1f} (the department's "
                            "budget)", lv.move_msek)
    for dept, factor in ((lv.move_from, (src - amount) / src), (lv.move_to, (dst + amount) / dst)):
        for iv in ivs:
            if iv.get("department") == dept and float(iv.get("cost_sek_per_year", 0.0)) > 0:
                iv["scale"] = float(iv.get("scale", 1.0)) * factor


def off(items: Iterable[str]) -> frozenset[str]:
    return frozenset(items)

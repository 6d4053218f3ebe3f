"""The schema of an intervention file, and the loader.

Types (`type:`):
- `universal`   everyone in a target group (ages, districts, school types) who takes part
                (share `uptake`, default all);
- `programme`   a programme with places. Indicated programmes (`requires_detection: true`) take
                youths known to social services by referral: every known youth in the target group
                is offered a place, guardians accept or decline (a household trait), and those who
                accept wait for a place (`queue_order`: highest risk or first come); selective
                programmes recruit by outreach up to their places (`selection`). Places a year are
                `capacity_per_year`, or the budget divided by `cost_per_place_sek`;
- `place`       a place-based action on named districts or on the `top_k` hot spots (the EST loop)
                every `interval_weeks`, re-chosen every `reselect_weeks`, with displacement;
- `detection`, `network`  system changes while in force (detection channels, information sharing,
                uptake, network disruption);
- `compulsory`  the need-driven compulsory path (LVU placement): known youths are placed when their
                involvement or, after their guardians declined help, their risk crosses the
                thresholds of `escalation`; `escalation.mandated_contact` is mellantvång.

Effects (`effects: [{acts_on, value, range, source}]`); any type may carry any kind:
- a risk factor key: d, lowering the factor's baseline by d SDs;
- `protection`: d, raising the protective score by d SDs;
  these two act on the youth's own baselines when `persistence: developmental` (they stay with
  the youth after it leaves the target group, halving every `decay_half_life_weeks`), or on the
  current state while the youth takes part (`persistence: current`);
- `entry_hazard`, `recruitment_hazard`: d, hazard × exp(−d·π/√3) while taking part;
- `desistance`: d, desistance hazard × exp(+d·π/√3) while taking part (exit support);
- `reports`: proportional increase of the chance that concerns about a reached youth are reported;
- `visible_criminals_public_space`: proportional reduction of a district's visible presence
  (the place type's hot spots; other types: their target districts or the whole city);
- `detection_school|social|police|healthcare_other` (`detection_leisure` is read as
  `detection_healthcare_other`): proportional increase of that report channel's rate;
- `info_sharing`, `uptake`: absolute increase of the share / probability;
- `incapacitation`: proportional increase of the incapacitation hazard;
- `demand`: proportional reduction of members' demand for youngers (open slots);
- `reach`: proportional reduction of recruitment contact rates.
Behavioural effects (risk factors, protection, hazards, place) are multiplied by the parameter
`effect_scaling`; every effect by the measure's `fidelity` (the delivered share of what is paid).
An effect whose source is an assumption must have a range that includes zero; so must fidelity
ranges include poor delivery (validated: the range's lower end is at most 0.6 unless sourced).
`unit: household` entries act on every child of a participant's household, siblings with the
parameter `sibling_dilution` of the effect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import ConfigDict, Field, ValidationError, model_validator

from sim.errors import ScenarioError
from sim.inputs import YEAR_BOUNDS, StrictInput, describe_validation, expand_uses
from sim.population import COMPULSORY, PRESCHOOL, UPPER_SECONDARY, load_city
from sim.risk import FACTOR_INDEX, FACTORS, PLACE_FACTOR

D_TO_LOG_OR = float(np.pi / np.sqrt(3.0))
CHANNELS = ("school", "social", "police", "healthcare_other")
CHANNEL_ALIASES = {"leisure": "healthcare_other"}
BASELINE_KINDS = (*FACTORS, "protection")
HAZARD_KINDS = ("entry_hazard", "recruitment_hazard", "desistance")
SYSTEM_KINDS = (*(f"detection_{c}" for c in (*CHANNELS, "leisure")), "info_sharing", "uptake",
                "incapacitation", "demand", "reach")
EFFECT_KINDS = (*BASELINE_KINDS, *HAZARD_KINDS, "reports", PLACE_FACTOR, *SYSTEM_KINDS)
BEHAVIOURAL = (*BASELINE_KINDS, *HAZARD_KINDS, PLACE_FACTOR)
SCHOOL_TYPES = {"preschool": PRESCHOOL, "compulsory": COMPULSORY,
                "upper_secondary": UPPER_SECONDARY}
TYPES = ("universal", "programme", "place", "detection", "network", "compulsory")
# Hard bounds of an effect's value and range in files: d (standardised mean differences) within
# ±1 SD; shares and probabilities within ±1; proportional changes of a rate from -100% to +500%.
EFFECT_BOUNDS = {**{k: (-1.0, 1.0) for k in BEHAVIOURAL},
                 **{k: (-1.0, 5.0) for k in (*(f"detection_{c}" for c in (*CHANNELS, "leisure")),
                                             "incapacitation", "reports")}}


class Effect(StrictInput):
    """One effect of an intervention, with its evidence."""

    model_config = ConfigDict(extra="forbid")
    acts_on: str  # not "on": YAML 1.1 reads a bare `on` key as the boolean true
    value: float
    range: tuple[float, float]
    source: str
    note: str = ""

    @model_validator(mode="after")
    def _check(self) -> Effect:
        if self.acts_on not in EFFECT_KINDS:
            raise ValueError(f"unknown effect {self.acts_on!r}; expected one of {list(EFFECT_KINDS)}")
        lo, hi = self.range
        if not lo <= self.value <= hi:
            raise ValueError(f"value {self.value} outside its range [{lo}, {hi}]")
        if self.source.lower().startswith("assumption") and not lo <= 0.0 <= hi:
            raise ValueError("an assumed effect needs a range that includes zero")
        return self


class Target(StrictInput):
    """Who an intervention can reach."""

    model_config = ConfigDict(extra="forbid")
    ages: tuple[float, float] = (3, 20)
    districts: list[str] | None = Field(None, min_length=1)
    school_types: list[Literal["preschool", "compulsory", "upper_secondary"]] | None = \
        Field(None, min_length=1)
    stages: list[int] = Field(default_factory=lambda: [0, 1, 2, 3], min_length=1)
    risk_threshold: float = Field(0.0, ge=0.0, le=1.0)
    risk_factor: str | None = None  # None: mean of the six factors

    @model_validator(mode="after")
    def _check(self) -> Target:
        names = load_city().districts
        bad = [d for d in self.districts or [] if d not in names]
        if bad:
            raise ValueError(f"unknown district {bad[0]!r}; known: {list(names)}")
        if self.risk_factor is not None and self.risk_factor not in FACTOR_INDEX:
            raise ValueError(f"risk_factor must be one of {list(FACTORS)}")
        if any(s not in (0, 1, 2, 3) for s in self.stages):
            raise ValueError("stages are 0 (none) to 3 (member)")
        if not 0 <= self.ages[0] <= self.ages[1] <= 25:
            raise ValueError(f"ages [youngest, oldest] with 0 <= youngest <= oldest <= 25, "
                             f"found {list(self.ages)}")
        return self


class Escalation(StrictInput):
    """When the compulsory path places a youth known to social services (type `compulsory`).

    A known youth becomes a candidate when its involvement stage reaches `stage_any` (compulsory
    care for the youth's own behaviour needs no consent), or when its guardians have declined
    voluntary help and its stage reaches `stage_declined` or its mean risk `risk_declined`
    (est_method_and_organisation §5.8: "if they decline ... if risk crosses θ_heavy, a heavy
    intervention (placement) happens"). Candidates are placed at `decisions_per_year` (the
    investigation and the court's decision take time). With `mandated_contact` (mellantvång), a
    declining family whose child is at `mandate_stage` or above, or at `mandate_risk` or above,
    must accept the indicated programme's contact instead of declining."""

    model_config = ConfigDict(extra="forbid")
    stage_any: int | None = Field(3, ge=1, le=3)
    stage_declined: int | None = Field(2, ge=1, le=3)
    risk_declined: float | None = Field(None, ge=0.0, le=1.0)
    decisions_per_year: float = Field(1.0, gt=0)
    decisions_range: tuple[float, float] = (0.25, 4.0)
    source: str = ""
    mandated_contact: bool = False
    mandate_stage: int = Field(1, ge=0, le=3)
    mandate_risk: float | None = Field(None, ge=0.0, le=1.0)


class InterventionSpec(StrictInput):
    """An intervention as data (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    type: Literal["universal", "programme", "place", "detection", "network", "compulsory"]
    name_en: str = ""
    name_sv: str = ""
    department: str = "ordinary work"
    level: Literal["universal", "selective", "indicated", "not_targeted"] = "universal"
    catalogue_number: int | None = None
    target: Target = Field(default_factory=Target)
    unit: Literal["youth", "household"] = "youth"
    persistence: Literal["developmental", "current"] = "current"
    persistence_source: str = ""
    capacity_per_year: float | None = Field(None, ge=0, le=100_000)  # Umeå has ~30,000 youths
    cost_per_place_sek: float | None = Field(None, gt=0, le=1e9)
    capacity_range: tuple[float, float] | None = None
    capacity_source: str = ""
    uptake: float | None = Field(None, ge=0.0, le=1.0)
    uptake_range: tuple[float, float] | None = None
    uptake_source: str = ""
    requires_detection: bool = False
    intake: Literal["referral", "outreach"] | None = None
    queue_order: Literal["risk", "first_come"] = "risk"
    selection: Literal["highest_risk", "random"] = "highest_risk"
    delay_weeks: int = Field(0, ge=0, le=2600)  # at most 50 years
    duration_weeks: int = Field(52, ge=1, le=2600)
    decay_half_life_weeks: float = Field(26.0, gt=0, le=5200)
    effects: list[Effect] = Field(default_factory=list)
    fidelity: float = Field(1.0, ge=0.0, le=1.0)
    fidelity_range: tuple[float, float] | None = None
    fidelity_source: str = ""
    escalation: Escalation | None = None
    cost_sek_per_year: float = Field(0.0, ge=0, le=1e10)
    cost_source: str = ""
    start: float = 2024.0
    end: float | None = None
    term: str = ""
    top_k: int | None = Field(None, ge=1, le=1000)
    interval_weeks: int = Field(1, ge=1, le=2600)
    reselect_weeks: int = Field(1, ge=1, le=2600)
    displacement: float = Field(0.0, ge=0.0, le=1.0)
    scale: float = Field(1.0, ge=0.0, le=100.0)
    notes: str = ""

    @model_validator(mode="after")
    def _check(self) -> InterventionSpec:
        if self.type == "programme" and self.capacity_per_year is None \
                and self.cost_per_place_sek is None:
            raise ValueError("a programme needs capacity_per_year or cost_per_place_sek")
        if self.type == "programme" and self.capacity_per_year is None \
                and self.cost_sek_per_year <= 0:
            raise ValueError("capacity from money needs cost_sek_per_year > 0")
        if self.type == "compulsory" and self.escalation is None:
            raise ValueError("the compulsory path needs an escalation block")
        if self.type == "place" and not (self.top_k or self.target.districts):
            raise ValueError("a place action needs target.districts or top_k")
        for when in (self.start, self.end):
            if when is not None and not YEAR_BOUNDS[0] <= when <= YEAR_BOUNDS[1]:
                raise ValueError(f"start and end years within {list(YEAR_BOUNDS)}, found {when}")
        if self.end is not None and self.end <= self.start:
            raise ValueError("end must come after start")
        for name, val, rng in (("fidelity", self.fidelity, self.fidelity_range),
                               ("uptake", self.uptake, self.uptake_range)):
            if rng is not None and val is not None and not rng[0] <= val <= rng[1]:
                raise ValueError(f"{name} {val} outside its range {list(rng)}")
        return self

    def effect(self, on: str) -> float:
        """Total configured effect on `on` (0 if none)."""
        names = {on} | {f"detection_{a}" for a, b in CHANNEL_ALIASES.items()
                        if on == f"detection_{b}"}
        return float(sum(e.value for e in self.effects if e.acts_on in names))

    def places_per_year(self) -> float:
        """Starts a year: set directly, or the budget divided by the cost per place (× scale)."""
        if self.capacity_per_year is not None:
            return self.capacity_per_year * self.scale
        return self.cost_sek_per_year * self.scale / float(self.cost_per_place_sek or 1.0)

    @property
    def referral(self) -> bool:
        """Places are filled by referral (offers to all eligible known youths, a waiting list)."""
        return self.intake == "referral" if self.intake else self.requires_detection


def describe(exc: ValidationError) -> tuple[str, str, object]:
    """Field path, what was expected and what was given, from a pydantic error."""
    return describe_validation(exc)


def expand(entries: list[dict[str, Any]], where: str, base_dir: Path) -> list[dict[str, Any]]:
    """Replace `use:` references (files or globs, relative to the scenario) by their contents
    (read through the input boundary, sim.inputs)."""
    return expand_uses(entries, where, Path(base_dir), ScenarioError)


def _outside_effect_bounds(spec: InterventionSpec) -> tuple[str | None, str, object]:
    """(field, expected, found) of the first effect outside EFFECT_BOUNDS, else (None, "", None).
    Checked for files (user input); code may build extreme effects as test devices."""
    for k, e in enumerate(spec.effects):
        blo, bhi = EFFECT_BOUNDS.get(e.acts_on, (-1.0, 1.0))
        if e.range[0] < blo or e.range[1] > bhi:
            return (f"effects.{k}.range", f"an effect on {e.acts_on!r} (value and range) within "
                    f"[{blo}, {bhi}]", list(e.range))
    return None, "", None


def build_interventions(entries: list[dict[str, Any]], where: str,
                        base_dir: Path | str = ".") -> list[InterventionSpec]:
    """Validated intervention specs; errors name the file, the entry and the field."""
    specs: list[InterventionSpec] = []
    seen: set[str] = set()
    for k, entry in enumerate(expand(entries, where, Path(base_dir))):
        entry = dict(entry)
        src = entry.pop("_file", where)
        ref, mine = entry.pop("_ref", None), entry.pop("_overrides", None)
        label = entry["id"] if isinstance(entry.get("id"), str) else f"interventions[{k}]"
        try:
            spec = InterventionSpec(**entry)
            field, expected, got = _outside_effect_bounds(spec)
        except ValidationError as exc:
            field, expected, got = describe(exc)
        if field is not None:
            if isinstance(ref, str) and isinstance(mine, list) and field.split(".")[0] in mine:
                src, at = ref.rsplit("|", 1)  # an override the referring file wrote
                raise ScenarioError(src, f"{at}.{field}", expected, got) from None
            raise ScenarioError(src, label if field == "(entry)" else f"{label}.{field}",
                                expected, got) from None
        if spec.id in seen:
            raise ScenarioError(src, f"{label}.id", "an id used only once in a scenario", spec.id)
        seen.add(spec.id)
        specs.append(spec)
    return specs

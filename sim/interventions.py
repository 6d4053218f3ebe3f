"""Interventions as data: a few types in code, configured entirely by YAML.

Types (`type:`):
- `universal`   a change for everyone in a target group (ages, districts, school types);
- `programme`   a capacity-limited programme with a selection rule (selective), or for detected
                youths only (`requires_detection: true`, indicated); guardians accept with `uptake`;
- `place`       a place-based action on named districts or on the `top_k` hot spots of the week
                (the EST loop), with displacement of part of the effect to neighbouring districts;
- `detection`   a change to detection channels, to school → social-services information sharing or
                to the uptake of voluntary help;
- `network`     network disruption (more incapacitation of members).

Effects (`effects: [{acts_on, value, range, source}]`), by what they act on:
- a risk factor key: standardised mean difference d, lowering the factor's baseline by d SDs;
- `protection`: d, raising the protective score by d SDs;
- `entry_hazard`, `recruitment_hazard`: d, hazard × exp(−d·π/√3) (d → odds ratio);
- `desistance`: d, desistance hazard × exp(+d·π/√3) (exit support);
- `visible_criminals_public_space`: proportional reduction of a district's visible presence;
- `detection_school|social|police|leisure`: proportional increase of that channel's rate;
- `info_sharing`, `uptake`: absolute increase of the share / probability (capped at 1);
- `incapacitation`: proportional increase of the incapacitation hazard.
Behavioural effects (the first five kinds) are multiplied by the parameter `effect_scaling`.
An effect whose source is an assumption must have a range that includes zero.
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
BEHAVIOURAL = (*FACTORS, "protection", "entry_hazard", "recruitment_hazard", "desistance",
               PLACE_FACTOR)
SYSTEM = ("detection_school", "detection_social", "detection_police", "detection_leisure",
          "info_sharing", "uptake", "incapacitation")
ALLOWED = {
    "universal": (*FACTORS, "protection", "entry_hazard", "recruitment_hazard"),
    "programme": (*FACTORS, "protection", "entry_hazard", "recruitment_hazard", "desistance"),
    "place": (PLACE_FACTOR,),
    "detection": SYSTEM[:6],
    "network": ("incapacitation",),
}
SCHOOL_TYPES = {"preschool": PRESCHOOL, "compulsory": COMPULSORY,
                "upper_secondary": UPPER_SECONDARY}
INTAKE_EVERY = 4  # weeks between programme intake rounds
# Hard bounds of an effect's value and range: d (standardised mean differences) within ±1 SD;
# shares and probabilities within ±1; proportional changes of a rate from -100% to +500%.
EFFECT_BOUNDS = {**{k: (-1.0, 1.0) for k in BEHAVIOURAL},
                 **{k: (-1.0, 5.0) for k in (*SYSTEM[:4], "incapacitation")}}


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


class InterventionSpec(StrictInput):
    """An intervention as data (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    type: Literal["universal", "programme", "place", "detection", "network"]
    name_en: str = ""
    name_sv: str = ""
    department: str = "ordinary work"
    level: Literal["universal", "selective", "indicated", "not_targeted"] = "universal"
    catalogue_number: int | None = None
    target: Target = Field(default_factory=Target)
    capacity_per_year: float | None = Field(None, ge=0, le=100_000)  # Umeå has ~30,000 youths
    uptake: float | None = Field(None, ge=0.0, le=1.0)
    uptake_source: str = ""
    requires_detection: bool = False
    selection: Literal["highest_risk", "random"] = "highest_risk"
    delay_weeks: int = Field(0, ge=0, le=2600)  # at most 50 years
    duration_weeks: int = Field(52, ge=1, le=2600)
    decay_half_life_weeks: float = Field(26.0, gt=0, le=5200)
    effects: list[Effect] = Field(default_factory=list)
    cost_sek_per_year: float = Field(0.0, ge=0, le=1e10)
    cost_source: str = ""
    start: float = 2024.0
    end: float | None = None
    top_k: int | None = Field(None, ge=1, le=1000)
    interval_weeks: int = Field(1, ge=1, le=2600)
    displacement: float = Field(0.0, ge=0.0, le=1.0)
    scale: float = Field(1.0, ge=0.0, le=100.0)
    notes: str = ""

    @model_validator(mode="after")
    def _check(self) -> InterventionSpec:
        allowed = ALLOWED[self.type]
        for e in self.effects:
            if e.acts_on not in allowed:
                raise ValueError(f"effect on {e.acts_on!r} does not fit type {self.type!r}; "
                                 f"expected one of {list(allowed)}")
        if self.type == "programme" and self.capacity_per_year is None:
            raise ValueError("a programme needs capacity_per_year")
        if self.type == "place" and not (self.top_k or self.target.districts):
            raise ValueError("a place action needs target.districts or top_k")
        for when in (self.start, self.end):
            if when is not None and not YEAR_BOUNDS[0] <= when <= YEAR_BOUNDS[1]:
                raise ValueError(f"start and end years within {list(YEAR_BOUNDS)}, found {when}")
        if self.end is not None and self.end <= self.start:
            raise ValueError("end must come after start")
        return self

    def effect(self, on: str) -> float:
        """Total configured effect on `on` (0 if none)."""
        return float(sum(e.value for e in self.effects if e.acts_on == on))


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


# ---- run time ---------------------------------------------------------------------------------

def _log_mult(d: float) -> float:
    """log hazard multiplier of an effect size d (reduction)."""
    return -d * D_TO_LOG_OR


class Measure:
    """Run-time state of one intervention in one model."""

    def __init__(self, spec: InterventionSpec, model: Any):
        self.spec = spec
        self.scaling = model.p["effect_scaling"]
        self.start_week = round((spec.start - model.start_year) * 52)
        self.end_week = None if spec.end is None else round((spec.end - model.start_year) * 52)
        self.decay = 0.5 ** (1.0 / spec.decay_half_life_weeks)
        self.ledger = {"cost_sek": 0.0, "offers": 0, "starts": 0, "reached": 0}
        self.starts_by_year: dict[int, int] = {}
        sd = model.factor_sd
        s = self.scaling
        self.dmu = np.array([-spec.effect(f) * sd[k] * s for k, f in enumerate(FACTORS)], np.float32)
        self.dprot = spec.effect("protection") * model.protection_sd * s
        self.log_entry = _log_mult(spec.effect("entry_hazard") * s)
        self.log_recruit = _log_mult(spec.effect("recruitment_hazard") * s)
        self.log_desist = -_log_mult(spec.effect("desistance") * s)

    def running(self, week: int) -> bool:
        """In force this week (between start and end)."""
        return week >= self.start_week and (self.end_week is None or week < self.end_week)

    def level(self, week: int) -> float:
        """1 while in force after the delay, decaying by the half-life after the end."""
        if week < self.start_week + self.spec.delay_weeks:
            return 0.0
        if self.end_week is None or week < self.end_week:
            return 1.0
        return float(self.decay ** (week - self.end_week))

    def cost(self, week: int) -> float:
        c = self.spec.cost_sek_per_year * self.spec.scale / 52.0 if self.running(week) else 0.0
        self.ledger["cost_sek"] += c
        return c

    def eligible(self, model: Any) -> np.ndarray:
        """Mask of youths in the target group."""
        t, pop = self.spec.target, model.pop
        m = (pop.age >= t.ages[0]) & (pop.age < t.ages[1] + 1)
        if t.districts:
            ids = [model.city.districts.index(d) for d in t.districts]
            m &= np.isin(pop.district, ids)
        if t.school_types:
            codes = [SCHOOL_TYPES[s] for s in t.school_types]
            m &= (pop.school >= 0) & np.isin(pop.school_type[np.maximum(pop.school, 0)], codes)
        if t.stages != [0, 1, 2, 3]:
            m &= np.isin(model.stage, t.stages)
        if t.risk_threshold > 0:
            m &= self.risk(model) >= t.risk_threshold
        return m

    def risk(self, model: Any) -> np.ndarray:
        t = self.spec.target
        if t.risk_factor is None:
            return model.mean_risk()
        return model.pop.x[:, FACTOR_INDEX[t.risk_factor]]


class Universal(Measure):
    """Everyone in the target group who takes part (share `uptake`, default all) is affected.

    Who takes part is drawn per measure (its own stream), so measures reach independent halves."""

    def __init__(self, spec: InterventionSpec, model: Any):
        super().__init__(spec, model)
        self.u_part = model.streams.fresh(f"participation:{spec.id}").random(model.pop.n)

    def forget(self, model: Any, slots: np.ndarray) -> None:
        rng = model.streams.fresh(f"participation:{self.spec.id}", model.week // 52)
        self.u_part[slots] = rng.random(self.u_part.size)[slots]

    def members(self, model: Any) -> np.ndarray:
        share = (1.0 if self.spec.uptake is None else self.spec.uptake) * self.spec.scale
        return np.flatnonzero(self.eligible(model) & (self.u_part < min(share, 1.0)))


def _first_ranked(cand: np.ndarray, key: np.ndarray, places: int, uptake: float,
                  u_accept: np.ndarray) -> np.ndarray:
    """Candidates in rank order (by `key`), enough of them to fill `places` acceptances: a partial
    sort of the best few instead of sorting everyone."""
    k = min(cand.size, int(places / max(uptake, 0.05) * 2) + 16)
    while True:
        top = np.argpartition(key, k - 1)[:k] if k < cand.size else np.arange(cand.size)
        top = top[np.lexsort((top, key[top]))]  # rank by key, ties by position: stable
        if k == cand.size or (u_accept[cand[top]] < uptake).sum() >= places:
            return cand[top]
        k = min(cand.size, 4 * k)


class Programme(Measure):
    """Capacity-limited intake rounds; offers by risk rank; guardians accept with uptake."""

    def __init__(self, spec: InterventionSpec, model: Any):
        super().__init__(spec, model)
        n = model.pop.n
        self.offered = np.zeros(n, bool)
        self.slots = np.zeros(0, np.int64)
        self.begin = np.zeros(0, np.int64)
        self.quota = 0.0
        rng = model.streams.fresh(f"accept:{spec.id}")
        self.u_accept = rng.random(n)
        self.u_select = model.streams.fresh(f"select:{spec.id}").random(n)

    def forget(self, model: Any, slots: np.ndarray) -> None:
        """Slots taken over by newcomers start afresh, with a new acceptance draw."""
        self.offered[slots] = False
        keep = ~np.isin(self.slots, slots)
        self.slots, self.begin = self.slots[keep], self.begin[keep]
        year = model.week // 52
        rng = model.streams.fresh(f"accept:{self.spec.id}", year)
        self.u_accept[slots] = rng.random(self.u_accept.size)[slots]
        rng = model.streams.fresh(f"select:{self.spec.id}", year)
        self.u_select[slots] = rng.random(self.u_select.size)[slots]

    def intake(self, model: Any, week: int) -> None:
        if not self.running(week) or (week - self.start_week) % INTAKE_EVERY:
            return
        self.quota += self.spec.capacity_per_year * self.spec.scale * INTAKE_EVERY / 52.0
        places = int(self.quota)
        if places <= 0:
            return
        pool = self.eligible(model) & ~self.offered
        if self.spec.requires_detection:
            pool &= model.known
        cand = np.flatnonzero(pool)
        if cand.size == 0:
            return
        uptake = model.uptake if self.spec.uptake is None else self.spec.uptake
        if uptake < 1.0:
            uptake = min(1.0, uptake + model.uptake_boost)
        key = -self.risk(model)[cand] if self.spec.selection == "highest_risk" \
            else self.u_select[cand]
        cand = _first_ranked(cand, key, places, uptake, self.u_accept)
        accept = self.u_accept[cand] < uptake
        last = np.searchsorted(np.cumsum(accept), places) + 1
        offered, accept = cand[:last], accept[:last]
        self.offered[offered] = True
        starters = offered[accept]
        self.quota -= starters.size
        self.slots = np.r_[self.slots, starters]
        self.begin = np.r_[self.begin, np.full(starters.size, week + self.spec.delay_weeks)]
        year = week // 52
        self.starts_by_year[year] = self.starts_by_year.get(year, 0) + int(starters.size)
        self.ledger["offers"] += int(offered.size)
        self.ledger["starts"] += int(starters.size)
        model.count_flow("reached", starters)
        model.events.log("intervention_start", starters, self.spec.id)

    def doses(self, week: int) -> tuple[np.ndarray, np.ndarray]:
        """Enrolled or recently finished slots and their dose (1 while enrolled, then halving
        every half-life); faded ones are dropped at intake rounds."""
        if self.slots.size == 0:
            return self.slots, np.zeros(0, np.float32)
        after = week - (self.begin + self.spec.duration_weeks)
        dose = np.where(after < 0, 1.0, self.decay ** np.maximum(after, 0)).astype(np.float32)
        dose[week < self.begin] = 0.0
        if self.end_week is not None and week >= self.end_week:
            dose *= np.float32(self.decay ** (week - self.end_week))
        if week % INTAKE_EVERY == 0:
            keep = (dose > 0.01) | (week < self.begin)
            self.slots, self.begin, dose = self.slots[keep], self.begin[keep], dose[keep]
        return self.slots, dose


class PlaceAction(Measure):
    """Acts on named districts, or on the week's `top_k` hot spots every `interval_weeks` (EST)."""

    def __init__(self, spec: InterventionSpec, model: Any):
        super().__init__(spec, model)
        self.strength = np.zeros(model.city.n_districts)
        self.fixed = None if not spec.target.districts else \
            np.array([model.city.districts.index(d) for d in spec.target.districts])

    def act(self, model: Any, week: int) -> None:
        self.strength *= self.decay
        if not self.running(week) or week < self.start_week + self.spec.delay_weeks:
            return
        if (week - self.start_week) % self.spec.interval_weeks:
            return
        sel = self.fixed if self.fixed is not None else \
            np.argsort(-model.visibility, kind="stable")[: self.spec.top_k]
        v = min(self.spec.effect(PLACE_FACTOR) * self.scaling * self.spec.scale, 1.0)
        self.strength[sel] = np.maximum(self.strength[sel], v)

    def apply(self, model: Any) -> None:
        base = model.city.visibility
        model.place_mult *= 1.0 - self.strength
        moved = self.spec.displacement * self.strength * base
        model.place_mult *= 1.0 + (model.city.neighbours.T @ moved) / base


class SystemChange(Measure):
    """Detection, information sharing, uptake, or network disruption while in force."""

    def apply(self, model: Any, week: int) -> None:
        lv = self.level(week) * self.spec.scale
        if lv == 0:
            return
        for k, ch in enumerate(("school", "social", "police", "leisure")):
            model.detect_mult[k] *= 1.0 + lv * self.spec.effect(f"detection_{ch}")
        model.info_share += lv * self.spec.effect("info_sharing")
        model.uptake_boost += lv * self.spec.effect("uptake")
        model.incapacitation_mult *= 1.0 + lv * self.spec.effect("incapacitation")


KINDS = {"universal": Universal, "programme": Programme, "place": PlaceAction,
         "detection": SystemChange, "network": SystemChange}


class InterventionSet:
    """All measures of a scenario, plus the institutions' detection, acting on a model weekly."""

    def __init__(self, specs: list[InterventionSpec], model: Any):
        self.measures = [KINDS[s.type](s, model) for s in specs]
        self.universal = [m for m in self.measures if isinstance(m, Universal)]
        self.programmes = [m for m in self.measures if isinstance(m, Programme)]
        self.places = [m for m in self.measures if isinstance(m, PlaceAction)]
        self.systems = [m for m in self.measures if isinstance(m, SystemChange)]
        self._cache_key: tuple | None = None
        self._members = [m.members(model) for m in self.universal]

    def new_year(self, model: Any, newcomers: np.ndarray) -> None:
        """Cohorts moved: recompute universal target groups; newcomers start afresh."""
        for m in (*self.universal, *self.programmes):
            m.forget(model, newcomers)
        self._members = [m.members(model) for m in self.universal]
        self._cache_key = None

    def step(self, model: Any) -> None:
        """Apply every measure's effect for this week (the engine has reset the modifiers and run
        reports of concern and social services' assessment before this)."""
        week = model.week
        for m in self.systems:
            m.apply(model, week)
        self._apply_universal(model, week)
        for m in self.programmes:
            m.intake(model, week)
        self._apply_programmes(model, week)
        for m in self.places:
            m.act(model, week)
            m.apply(model)
        model.cost_this_step += sum(m.cost(week) for m in self.measures)

    def _apply_universal(self, model: Any, week: int) -> None:
        # levels are refreshed every INTAKE_EVERY weeks: a decaying measure steps down monthly
        levels = tuple(round(m.level(week - week % INTAKE_EVERY), 6) for m in self.universal)
        if levels != self._cache_key:
            self._cache_key = levels
            self._cache = self._universal_arrays(model, levels)
        mu_eff, prot, mult_e, mult_r = self._cache
        model.mu_eff = mu_eff
        model.protection_boost[:] = prot
        model.entry_mult[:] = mult_e
        model.recruit_mult[:] = mult_r
        model.desist_mult[:] = 1.0

    def _universal_arrays(self, model: Any, levels: tuple[float, ...]) -> tuple[np.ndarray, ...]:
        """Effective baselines (clipped to [0, 1]), protection boost and hazard multipliers of
        the universal measures at these levels. The baselines are shared, not copied: measures
        that change them per youth (programmes) copy first."""
        n = model.pop.n
        mu = np.zeros((n, len(FACTORS)), np.float32)
        prot, log_e, log_r = (np.zeros(n, np.float32) for _ in range(3))
        for m, lv, idx in zip(self.universal, levels, self._members, strict=True):
            if lv == 0 or idx.size == 0:
                continue
            for k in np.flatnonzero(m.dmu):
                mu[idx, k] += lv * m.dmu[k]
            for arr, v in ((prot, m.dprot), (log_e, m.log_entry), (log_r, m.log_recruit)):
                if v:
                    arr[idx] += lv * v
        mu_eff = np.clip(model.pop.mu + mu, 0.0, 1.0) if mu.any() else model.pop.mu
        self._universal_shift = mu
        return mu_eff, prot, np.exp(log_e), np.exp(log_r)

    def _apply_programmes(self, model: Any, week: int) -> None:
        """Add the programmes' effects on top of the universal ones.

        A youth in several programmes at once gets, on each channel (each risk factor, protection,
        each hazard), the strongest of their effects, not the product: casework measures for the
        same youth overlap rather than add up (Swedish evidence puts each at d ≤ 0.2, priors B)."""
        parts = [(m, *m.doses(week)) for m in self.programmes]
        parts = [(m, idx, dose) for m, idx, dose in parts if idx.size]
        if not parts:
            return
        slots, inv = np.unique(np.concatenate([idx for _, idx, _ in parts]), return_inverse=True)
        pos = np.split(inv, np.cumsum([idx.size for _, idx, _ in parts])[:-1])
        # channels: 6 factor shifts (more negative = stronger), protection, then three log hazards
        best = np.zeros((slots.size, len(FACTORS) + 4), np.float32)
        for (m, _, dose), at in zip(parts, pos, strict=True):
            eff = np.r_[m.dmu, -m.dprot, m.log_entry, m.log_recruit, -m.log_desist].astype(np.float32)
            for c in np.flatnonzero(eff):
                np.minimum.at(best[:, c], at, dose * eff[c])
        k = len(FACTORS)
        if best[:, :k].any():
            if model.mu_eff is self._cache[0]:  # copy on first write this step
                model.mu_eff = model.mu_eff.copy()
            model.mu_eff[slots] = np.clip(model.pop.mu[slots] + self._universal_shift[slots]
                                          + best[:, :k], 0.0, 1.0)
        model.protection_boost[slots] -= best[:, k]
        model.entry_mult[slots] *= np.exp(best[:, k + 1])
        model.recruit_mult[slots] *= np.exp(best[:, k + 2])
        model.desist_mult[slots] *= np.exp(-best[:, k + 3])

    def ledger(self) -> list[dict[str, Any]]:
        """Per-intervention totals: id, department, level, type, cost, offers, starts."""
        return [{"id": m.spec.id, "department": m.spec.department, "level": m.spec.level,
                 "type": m.spec.type, **m.ledger} for m in self.measures]

"""Run-time state of each intervention type in one model.

Every measure draws from its own keyed random numbers (keyed by the measure's id and the youth's
stable person id or household id), so that paired scenarios share every draw of the measures they
have in common, whatever else differs (common random numbers).
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
from scipy.special import ndtri

from sim import kernels
from sim.interventions.spec import (
    CHANNELS,
    D_TO_LOG_OR,
    SCHOOL_TYPES,
    InterventionSpec,
)
from sim.recruitment import STAGES
from sim.risk import FACTOR_INDEX, FACTORS, PLACE_FACTOR
from sim.rng import entity_keys, keyed_uniform

INTAKE_EVERY = 4  # weeks between programme intake rounds and updates of lasting effects
KEY_WILLINGNESS, KEY_ACCEPT, KEY_SELECT, KEY_PLACE = 201, 202, 203, 205
F32 = np.float32


def _log_mult(d: float) -> float:
    """log hazard multiplier of an effect size d (reduction)."""
    return -d * D_TO_LOG_OR


def measure_key(spec_id: str) -> int:
    return zlib.crc32(spec_id.encode("utf-8"))


def known(model: Any) -> np.ndarray:
    """Youths known to social services (an open case after a report of concern)."""
    return model.known


def person_ids(model: Any) -> np.ndarray:
    """Stable person ids (not the reusable slots)."""
    return model.pop.person_id


def log_event(model: Any, kind: str, slots: np.ndarray, detail: str) -> None:
    if slots.size:
        model.events.log(kind, slots, detail)


def siblings_of(model: Any, slots: np.ndarray) -> np.ndarray:
    """The other children of the households of `slots` (unique, without `slots` themselves)."""
    sib = model.net.siblings
    if slots.size == 0:
        return slots
    starts, ends = sib.indptr[slots], sib.indptr[slots + 1]
    lens = ends - starts
    pos = np.repeat(starts - np.r_[0, np.cumsum(lens)[:-1]], lens) + np.arange(lens.sum())
    out = np.unique(sib.indices[pos])
    return out[~np.isin(out, slots)]


class Measure:
    """What all types share: dates, levels, effect vectors (× effect_scaling × fidelity), costs,
    the ledger and the youth's lasting (developmental) dose."""

    def __init__(self, spec: InterventionSpec, model: Any):
        self.spec = spec
        self.key = measure_key(spec.id)
        self.seed = model.streams.seed
        self.start_week = round((spec.start - model.start_year) * 52)
        self.end_week = None if spec.end is None else round((spec.end - model.start_year) * 52)
        self.decay = 0.5 ** (1.0 / spec.decay_half_life_weeks)
        self.ledger = {"offered": 0, "declined": 0, "mandated": 0, "started": 0, "completed": 0,
                       "reached": 0, "waiting_end": 0, "waiting_mean": 0.0, "waiting_peak": 0,
                       "placements": 0, "cost_sek": 0.0}
        self._wait_sum, self._wait_n = 0.0, 0
        self.starts_by_year: dict[int, int] = {}
        s, f = model.p["effect_scaling"], spec.fidelity
        sd = model.factor_sd
        self.dmu = np.array([-spec.effect(k) * sd[i] * s * f for i, k in enumerate(FACTORS)], F32)
        self.dprot = F32(spec.effect("protection") * model.protection_sd * s * f)
        self.log_entry = _log_mult(spec.effect("entry_hazard") * s * f)
        self.log_recruit = _log_mult(spec.effect("recruitment_hazard") * s * f)
        self.log_desist = -_log_mult(spec.effect("desistance") * s * f)
        self.reports = spec.effect("reports") * f
        self.place = min(spec.effect(PLACE_FACTOR) * s * f, 1.0)
        self.system = {k: spec.effect(k) * f for k in
                       (*(f"detection_{c}" for c in CHANNELS), "info_sharing", "uptake",
                        "incapacitation", "demand", "reach")}
        self._has_system = any(self.system.values()) or (self.place and spec.type != "place")
        self.developmental = spec.persistence == "developmental" and (
            bool(self.dmu.any()) or bool(self.dprot) or bool(self.log_entry)
            or bool(self.log_recruit) or bool(self.log_desist))
        self.dev = np.zeros(model.pop.n, F32) if self.developmental else None
        self.household = spec.unit == "household"
        self.reached = np.zeros(model.pop.n, bool)  # youths this measure ever acted on (per slot)

    # ---- time -------------------------------------------------------------------------------
    def running(self, week: int) -> bool:
        """In force this week (between start and end)."""
        return week >= self.start_week and (self.end_week is None or week < self.end_week)

    def active(self, week: int) -> bool:
        """In force and past its delay: current-state effects act."""
        return self.running(week) and week >= self.start_week + self.spec.delay_weeks

    def level(self, week: int) -> float:
        """1 while in force after the delay, decaying by the half-life after the end."""
        if week < self.start_week + self.spec.delay_weeks:
            return 0.0
        if self.end_week is None or week < self.end_week:
            return 1.0
        return float(self.decay ** (week - self.end_week))

    def cost(self, week: int) -> float:
        """What is paid this week: the budget while in force (whatever is delivered)."""
        c = self.spec.cost_sek_per_year * self.spec.scale / 52.0 if self.running(week) else 0.0
        self.ledger["cost_sek"] += c
        return c

    # ---- who ------------------------------------------------------------------------------
    def eligible(self, model: Any) -> np.ndarray:
        """Mask of youths in the target group.

        Districts, school types and stages are looked up in small tables (one gather per youth
        rather than a membership test against a list)."""
        t, pop = self.spec.target, model.pop
        fast = self._eligible_compiled(model)
        if fast is not None:
            return fast
        m = (pop.age >= t.ages[0]) & (pop.age < t.ages[1] + 1)
        if t.districts:
            if not hasattr(self, "_in_district"):
                self._in_district = np.zeros(model.city.n_districts, bool)
                self._in_district[[model.city.districts.index(d) for d in t.districts]] = True
            m &= self._in_district[pop.district]
        if t.school_types:
            type_ok = np.zeros(max(SCHOOL_TYPES.values()) + 1, bool)
            type_ok[[SCHOOL_TYPES[s] for s in t.school_types]] = True
            school_ok = np.append(type_ok[pop.school_type], False)  # slot -1: no school
            m &= school_ok[pop.school]
        if t.stages != [0, 1, 2, 3]:
            if not hasattr(self, "_in_stage"):
                self._in_stage = np.zeros(len(STAGES), bool)
                self._in_stage[t.stages] = True
            m &= self._in_stage[model.stage]
        if t.risk_threshold > 0:
            m &= self.risk(model) >= t.risk_threshold
        return m

    def _eligible_compiled(self, model: Any, exclude: np.ndarray | None = None,
                           require: np.ndarray | None = None) -> np.ndarray | None:
        """`eligible` (& ~exclude & require) in one compiled pass over the youths, or None."""
        t, pop = self.spec.target, model.pop
        tables = getattr(self, "_tables", None)
        if tables is None or tables[0] is not pop.school_type:  # built once per run
            dist_ok = school_ok = stage_ok = None
            if t.districts:
                dist_ok = np.zeros(model.city.n_districts, bool)
                dist_ok[[model.city.districts.index(d) for d in t.districts]] = True
            if t.school_types:
                type_ok = np.zeros(max(SCHOOL_TYPES.values()) + 1, bool)
                type_ok[[SCHOOL_TYPES[s] for s in t.school_types]] = True
                school_ok = type_ok[pop.school_type]
            if t.stages != [0, 1, 2, 3]:
                stage_ok = np.zeros(len(STAGES), bool)
                stage_ok[t.stages] = True
            tables = self._tables = (pop.school_type, dist_ok, school_ok, stage_ok)
        _, dist_ok, school_ok, stage_ok = tables
        risk = self.risk(model) if t.risk_threshold > 0 else None
        return kernels.eligible(pop.age, t.ages[0], t.ages[1] + 1, pop.district, dist_ok,
                                pop.school, school_ok, model.stage, stage_ok, risk,
                                t.risk_threshold, exclude, require)

    def risk(self, model: Any) -> np.ndarray:
        t = self.spec.target
        if t.risk_factor is None:
            return model.mean_risk()
        return model.pop.x[:, FACTOR_INDEX[t.risk_factor]]

    def spread(self, model: Any, slots: np.ndarray, dose: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """Household entries reach every child of a participant's household: siblings get the
        dose × `sibling_dilution` (the strongest if several participants share a household)."""
        if not self.household or slots.size == 0:
            return slots, dose
        fast = kernels.spread(slots, dose, model.net.siblings, model.p["sibling_dilution"])
        if fast is not None:
            return fast
        sib = model.net.siblings
        starts, ends = sib.indptr[slots], sib.indptr[slots + 1]
        lens = ends - starts
        pos = np.repeat(starts - np.r_[0, np.cumsum(lens)[:-1]], lens) + np.arange(lens.sum())
        s_slots = sib.indices[pos]
        s_dose = np.repeat(dose, lens) * F32(model.p["sibling_dilution"])
        all_slots = np.concatenate([slots, s_slots])
        all_dose = np.concatenate([dose, s_dose]).astype(F32)
        uniq, inv = np.unique(all_slots, return_inverse=True)
        best = np.zeros(uniq.size, F32)
        np.maximum.at(best, inv, all_dose)
        return uniq, best

    def mark_reached(self, model: Any, slots: np.ndarray) -> None:
        new = slots[~self.reached[slots]]
        self.reached[new] = True
        self.ledger["reached"] += int(new.size)
        if new.size:
            model.count_flow("reached", new)

    def forget(self, model: Any, slots: np.ndarray) -> None:
        """Slots taken over by newcomers start afresh."""
        self.reached[slots] = False
        if self.dev is not None:
            self.dev[slots] = 0.0

    def update_dev(self, slots: np.ndarray, dose: np.ndarray, weeks: int) -> None:
        """Lasting doses: decay for `weeks`, then set to at least `dose` for `slots`."""
        if self.dev is None:
            return
        self.dev *= F32(self.decay ** weeks)
        if slots.size:
            self.dev[slots] = np.maximum(self.dev[slots], dose)

    def apply_system(self, model: Any, lv: float) -> None:
        """System-wide effects at level `lv` (any type may carry them)."""
        if lv == 0 or not self._has_system:
            return
        sy = self.system
        for k, ch in enumerate(CHANNELS):
            if sy[f"detection_{ch}"]:
                model.detect_mult[k] *= 1.0 + lv * sy[f"detection_{ch}"]
        if sy["info_sharing"]:
            model.info_share += lv * sy["info_sharing"]
        if sy["uptake"]:
            model.uptake_boost += lv * sy["uptake"]
        if sy["incapacitation"]:
            model.incapacitation_mult *= 1.0 + lv * sy["incapacitation"]
        if sy["demand"]:
            model.demand_mult = model.demand_mult * max(0.0, 1.0 - lv * sy["demand"])
        if sy["reach"]:
            model.reach_mult = model.reach_mult * max(0.0, 1.0 - lv * sy["reach"])
        if self.place and self.spec.type != "place":
            d = self.spec.target.districts
            ids = [model.city.districts.index(x) for x in d] if d else slice(None)
            model.place_mult[ids] *= 1.0 - lv * self.place

    def behavioural(self) -> np.ndarray:
        """Effect vector: 6 factor shifts, −protection, log hazards (entry, recruitment,
        −desistance); negative = less risk."""
        if not hasattr(self, "_beh"):
            self._beh = np.concatenate([self.dmu, [-self.dprot, self.log_entry, self.log_recruit,
                                                   -self.log_desist]]).astype(F32)
            self._cur = np.zeros_like(self._beh) if self.developmental else self._beh
        return self._beh

    def current(self) -> np.ndarray:
        """The effect vector while taking part (zero for developmental measures, whose
        effects act through the lasting doses instead)."""
        self.behavioural()
        return self._cur


class Universal(Measure):
    """Everyone in the target group who takes part (share `uptake`, default all) is affected.

    Who takes part is drawn per measure (its own stream), so measures reach independent shares;
    newcomers in reused slots get a fresh draw."""

    def __init__(self, spec: InterventionSpec, model: Any):
        super().__init__(spec, model)
        self.u_part = model.streams.fresh(f"participation:{spec.id}").random(model.pop.n)

    def forget(self, model: Any, slots: np.ndarray) -> None:
        super().forget(model, slots)
        rng = model.streams.fresh(f"participation:{self.spec.id}", model.week // 52)
        self.u_part[slots] = rng.random(self.u_part.size)[slots]

    def members(self, model: Any) -> np.ndarray:
        share = min((1.0 if self.spec.uptake is None else self.spec.uptake) * self.spec.scale, 1.0)
        return np.flatnonzero(self.eligible(model) & (self.u_part < share))


def _kept(model: Any, values: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """`~np.isin(values, slots)` through a mask of `slots` made once for all measures that
    forget the same newcomers (np.isin sorted them again for each: 10 ms a school year)."""
    cached = getattr(model, "_forget_mask", None)
    if cached is None or cached[0] is not slots:
        mask = np.zeros(model.pop.n, bool)
        mask[slots] = True
        cached = model._forget_mask = (slots, mask)
    return ~cached[1][values]


class Programme(Measure):
    """Places a year, filled by referral with a waiting list (indicated) or by outreach
    (selective); guardians accept or decline as a household."""

    def __init__(self, spec: InterventionSpec, model: Any):
        super().__init__(spec, model)
        n = model.pop.n
        self.offered = np.zeros(n, bool)
        self.queue = np.zeros(0, np.int64)
        self.queued_at = np.zeros(0, np.int64)
        self.slots = np.zeros(0, np.int64)
        self.begin = np.zeros(0, np.int64)
        self.done = np.zeros(0, bool)
        self.quota = 0.0
        self.places = spec.places_per_year()
        self._enrolled_until: tuple[int, np.ndarray] | None = None  # (next change week, slots)

    def forget(self, model: Any, slots: np.ndarray) -> None:
        super().forget(model, slots)
        self._enrolled_until = None
        self.offered[slots] = False
        keep = _kept(model, self.slots, slots)
        self.slots, self.begin, self.done = self.slots[keep], self.begin[keep], self.done[keep]
        keep = _kept(model, self.queue, slots)
        self.queue, self.queued_at = self.queue[keep], self.queued_at[keep]

    def intake(self, model: Any, week: int, consent: Any) -> None:
        if not self.running(week) or (week - self.start_week) % INTAKE_EVERY:
            return
        per_round = self.places * INTAKE_EVERY / 52.0
        self.quota = min(self.quota, 1.0) + per_round  # unused places are not saved up
        places = int(self.quota)
        if self.spec.referral:
            starters = self._referral(model, week, places, consent)
        else:
            starters = self._outreach(model, week, places, consent)
        self.quota -= starters.size
        self._start(model, week, starters)

    def _uptake(self, model: Any) -> float:
        up = model.uptake if self.spec.uptake is None else self.spec.uptake
        if up < 1.0:
            up = min(1.0, up + model.uptake_boost)
        return up

    def _referral(self, model: Any, week: int, places: int, consent: Any) -> np.ndarray:
        """Every eligible known youth not yet offered gets an offer; those whose guardians accept
        (or who are mandated) join the waiting list; places go by the queue order."""
        elig = self.eligible(model)
        pool = elig & known(model) & ~self.offered
        pool[self.queue] = False
        cand = np.flatnonzero(pool)
        if cand.size:
            self.offered[cand] = True
            accept, mandated = consent.decide(model, self, cand, self._uptake(model))
            self.ledger["offered"] += int(cand.size)
            self.ledger["mandated"] += int(mandated.sum())
            declined = cand[~accept]
            self.ledger["declined"] += int(declined.size)
            consent.declined[declined] = True
            model.count_flow("offers_declined", declined)
            log_event(model, "offer_declined", declined, self.spec.id)
            self.queue = np.concatenate((self.queue, cand[accept]))
            self.queued_at = np.concatenate((self.queued_at, np.full(int(accept.sum()), week)))
        still = elig[self.queue]  # aged out, exited or otherwise no longer in the target group
        if self.spec.requires_detection:
            still &= known(model)[self.queue]  # the referral lapses when the case closes
        self.queue, self.queued_at = self.queue[still], self.queued_at[still]
        if self.spec.queue_order == "risk":
            # np.lexsort((queued_at, -risk)) as two stable sorts (secondary key first): the same
            # order, ties included, in a fraction of the time
            order = np.argsort(self.queued_at, kind="stable")
            order = order[np.argsort(-self.risk(model)[self.queue[order]], kind="stable")]
        else:
            order = np.lexsort((self.queue, self.queued_at))
        self.queue, self.queued_at = self.queue[order], self.queued_at[order]
        starters = self.queue[:max(places, 0)]
        self.queue, self.queued_at = self.queue[starters.size:], self.queued_at[starters.size:]
        q = int(self.queue.size)
        self._wait_sum += q
        self._wait_n += 1
        self.ledger.update(waiting_end=q, waiting_peak=max(self.ledger["waiting_peak"], q),
                           waiting_mean=self._wait_sum / self._wait_n)
        return starters

    def _outreach(self, model: Any, week: int, places: int, consent: Any) -> np.ndarray:
        """Selective programmes: offers by rank (risk or random) until the places are taken."""
        if places <= 0:
            return np.zeros(0, np.int64)
        req = known(model) if self.spec.requires_detection else None
        pool = self._eligible_compiled(model, self.offered, req)
        if pool is None:
            pool = self.eligible(model) & ~self.offered
            if req is not None:
                pool &= req
        cand = np.flatnonzero(pool)
        if cand.size == 0:
            return cand
        if self.spec.selection == "highest_risk":
            key = -self.risk(model)[cand]
        else:
            key = keyed_uniform(entity_keys(self.seed, KEY_SELECT, self.key,
                                            person_ids(model)[cand]), 0)
        up = self._uptake(model)
        k = min(cand.size, int(places / max(up, 0.05) * 2) + 16)
        while True:
            top = kernels.lowest_k(key, k)  # by key, ties by slot
            accept, mandated = consent.decide(model, self, cand[top], up)
            if k == cand.size or accept.sum() >= places:
                break
            k = min(cand.size, 4 * k)
        last = int(np.searchsorted(np.cumsum(accept), places)) + 1
        offered, accept, mandated = cand[top][:last], accept[:last], mandated[:last]
        self.offered[offered] = True
        self.ledger["offered"] += int(offered.size)
        self.ledger["mandated"] += int(mandated.sum())
        declined = offered[~accept]
        self.ledger["declined"] += int(declined.size)
        consent.declined[declined] = True
        model.count_flow("offers_declined", declined)
        log_event(model, "offer_declined", declined, self.spec.id)
        return offered[accept]

    def _start(self, model: Any, week: int, starters: np.ndarray) -> None:
        if starters.size == 0:
            return
        self._enrolled_until = None
        self.slots = np.concatenate((self.slots, starters))
        self.begin = np.concatenate((self.begin, np.full(starters.size, week + self.spec.delay_weeks)))
        self.done = np.concatenate((self.done, np.zeros(starters.size, bool)))
        year = week // 52
        self.starts_by_year[year] = self.starts_by_year.get(year, 0) + int(starters.size)
        self.ledger["started"] += int(starters.size)
        log_event(model, "intervention_start", starters, self.spec.id)

    def enrolled(self, model: Any, week: int) -> np.ndarray:
        """Slots taking part this week; completions are counted (and logged) as they happen;
        finished youths without lasting doses are dropped."""
        if self.slots.size == 0:
            self._enrolled_until = (1 << 40, self.slots)  # until someone starts (`_start`)
            return self.slots
        cached = self._enrolled_until
        if cached is not None and week < cached[0] and week % INTAKE_EVERY:
            return cached[1]  # nobody starts or ends before week cached[0]
        end = self.begin + self.spec.duration_weeks
        fin = (week >= end) & ~self.done
        if fin.any():
            self.done |= fin
            self.ledger["completed"] += int(fin.sum())
            log_event(model, "intervention_end", self.slots[fin], self.spec.id)
        on = (week >= self.begin) & (week < end)
        if week % INTAKE_EVERY == 0:
            keep = ~self.done
            self.slots, self.begin, self.done = self.slots[keep], self.begin[keep], self.done[keep]
            on = on[keep]
            end = end[keep]
        out = self.slots[on]
        later = np.concatenate((self.begin[self.begin > week], end[end > week]))
        self._enrolled_until = (int(later.min()) if later.size else 1 << 40, out)
        return out


class PlaceAction(Measure):
    """Acts on named districts, or on the `top_k` hot spots every `interval_weeks` (EST); the
    hot spots are re-chosen every `reselect_weeks` (1: each action; 13: a quarterly choice)."""

    def __init__(self, spec: InterventionSpec, model: Any):
        super().__init__(spec, model)
        self.strength = np.zeros(model.city.n_districts)
        self.fixed = None if not spec.target.districts else \
            np.array([model.city.districts.index(d) for d in spec.target.districts])
        self.chosen: np.ndarray | None = None

    def act(self, model: Any, week: int) -> None:
        self.strength *= self.decay
        if not self.active(week):
            return
        since = week - self.start_week
        if self.fixed is None and (self.chosen is None or since % self.spec.reselect_weeks == 0):
            self.chosen = np.argsort(-model.visibility, kind="stable")[: self.spec.top_k]
        if since % self.spec.interval_weeks:
            return
        sel = self.fixed if self.fixed is not None else self.chosen
        v = min(self.place * self.spec.scale, 1.0)
        self.strength[sel] = np.maximum(self.strength[sel], v)

    def apply(self, model: Any) -> None:
        base = model.city.visibility
        model.place_mult *= 1.0 - self.strength
        moved = self.spec.displacement * self.strength * base
        model.place_mult *= 1.0 + (model.city.neighbours.T @ moved) / base


class SystemChange(Measure):
    """Detection, information sharing, uptake or network disruption while in force."""


class Compulsory(Measure):
    """The need-driven compulsory path: placements (LVU) when involvement, or risk after a
    declined offer, crosses the thresholds of `escalation` (no fixed number of places)."""

    def __init__(self, spec: InterventionSpec, model: Any):
        super().__init__(spec, model)
        self.esc = spec.escalation
        self.slots = np.zeros(0, np.int64)
        self.begin = np.zeros(0, np.int64)
        self.placed = np.zeros(model.pop.n, bool)
        self.cost_per_place = spec.cost_per_place_sek or 0.0

    def forget(self, model: Any, slots: np.ndarray) -> None:
        super().forget(model, slots)
        keep = _kept(model, self.slots, slots)
        self.slots, self.begin = self.slots[keep], self.begin[keep]
        self.placed[slots] = False

    def candidates(self, model: Any, declined: np.ndarray) -> np.ndarray:
        e, st = self.esc, model.stage
        need = kernels.escalation_need(st, known(model), self.placed, declined, e.stage_any,
                                       e.stage_declined, None if e.risk_declined is None
                                       else model.mean_risk(), e.risk_declined)
        if need is not None:  # the same youths in two compiled passes
            pool = self._eligible_compiled(model, None, need)
            return np.flatnonzero(pool if pool is not None else need & self.eligible(model))
        inv = (st >= 1) & (st <= 3)
        need = np.zeros(model.pop.n, bool)
        if e.stage_any is not None:
            need |= inv & (st >= e.stage_any)
        after = np.zeros(model.pop.n, bool)
        if e.stage_declined is not None:
            after |= inv & (st >= e.stage_declined)
        if e.risk_declined is not None:
            after |= model.mean_risk() >= e.risk_declined
        need |= declined & after
        return np.flatnonzero(need & known(model) & ~self.placed & self.eligible(model))

    def step(self, model: Any, week: int, declined: np.ndarray) -> None:
        # stays end
        if self.slots.size:
            over = week >= self.begin + self.spec.duration_weeks
            if over.any():
                self.placed[self.slots[over]] = False
                self.ledger["completed"] += int(over.sum())
                log_event(model, "intervention_end", self.slots[over], self.spec.id)
                self.slots, self.begin = self.slots[~over], self.begin[~over]
        if not self.running(week):
            return
        cand = self.candidates(model, declined)
        if cand.size == 0:
            return
        u = keyed_uniform(entity_keys(self.seed, KEY_PLACE, self.key, person_ids(model)[cand]), week)
        p = 1.0 - np.exp(-self.esc.decisions_per_year * self.spec.scale / 52.0)
        new = cand[u < p]
        if new.size == 0:
            return
        self.placed[new] = True
        self.slots = np.concatenate((self.slots, new))
        self.begin = np.concatenate((self.begin, np.full(new.size, week + self.spec.delay_weeks)))
        self.ledger["started"] += int(new.size)
        self.ledger["placements"] += int(new.size)
        self.ledger["offered"] += int(new.size)
        year = week // 52
        self.starts_by_year[year] = self.starts_by_year.get(year, 0) + int(new.size)
        model.count_flow("placements", new)
        log_event(model, "placement", new, self.spec.id)

    def enrolled(self, model: Any, week: int) -> np.ndarray:
        on = week >= self.begin
        return self.slots[on]

    def cost(self, week: int) -> float:
        """The budget while in force goes to the run's cost; placements (ordinary budget, paid
        per youth-week) only to this measure's ledger, so that the run's cost stays what the
        scenario's measures are given."""
        self.ledger["cost_sek"] += self.slots.size * self.cost_per_place / 52.0
        return super().cost(week)


class Consent:
    """Guardians' willingness to accept voluntary help: a household trait shared by all offers.

    Acceptance of an offer to youth i by programme m: √ρ·z_h + √(1−ρ)·e_im < Φ⁻¹(uptake), with
    z_h a household's latent willingness and e_im the offer's own draw (both standard normal,
    keyed by household and by person and programme): each offer is accepted with its uptake
    probability, and offers to one family are correlated by ρ = `willingness_household_correlation`
    (0 gives independent offers). With mellantvång (`escalation.mandated_contact` of a compulsory
    entry in the scenario), a declining family of a youth at the mandate thresholds must accept
    an indicated programme's contact."""

    def __init__(self, model: Any):
        self.rho = float(model.p["willingness_household_correlation"])
        self.declined = np.zeros(model.pop.n, bool)
        self.mandate = None
        self.seed = model.streams.seed
        self.z = self._normal(entity_keys(self.seed, KEY_WILLINGNESS, model.pop.household))
        self.own: dict[int, np.ndarray] = {}  # per programme: each youth's own draw

    @staticmethod
    def _normal(keys: np.ndarray) -> np.ndarray:
        return ndtri(np.clip(keyed_uniform(keys, 0), 1e-12, 1 - 1e-12))

    def forget(self, model: Any, slots: np.ndarray) -> None:
        """Newcomers: no declines yet; their household's and their own draws."""
        self.declined[slots] = False
        self.z[slots] = self._normal(entity_keys(self.seed, KEY_WILLINGNESS,
                                                 model.pop.household[slots]))
        pid = person_ids(model)[slots]
        for key, e in self.own.items():
            e[slots] = self._normal(entity_keys(self.seed, KEY_ACCEPT, key, pid))

    def latent(self, model: Any, slots: np.ndarray, key: int) -> np.ndarray:
        e = self.own.get(key)
        if e is None:
            e = self.own[key] = self._normal(entity_keys(self.seed, KEY_ACCEPT, key,
                                                         person_ids(model)))
        return np.sqrt(self.rho) * self.z[slots] + np.sqrt(1.0 - self.rho) * e[slots]

    def decide(self, model: Any, m: Programme, slots: np.ndarray, uptake: float
               ) -> tuple[np.ndarray, np.ndarray]:
        """(accepted, mandated) masks for offers to `slots`."""
        if uptake >= 1.0:
            return np.ones(slots.size, bool), np.zeros(slots.size, bool)
        if uptake <= 0.0:
            accept = np.zeros(slots.size, bool)
        else:
            accept = self.latent(model, slots, m.key) < ndtri(uptake)
        mandated = np.zeros(slots.size, bool)
        e = self.mandate
        if e is not None and m.spec.requires_detection:
            st = model.stage[slots]
            hit = (st >= e.mandate_stage) & (st <= 3)
            if e.mandate_risk is not None:
                hit |= model.mean_risk()[slots] >= e.mandate_risk
            mandated = ~accept & hit
            accept = accept | mandated
        return accept, mandated

"""Involvement: entry into norm-breaking, desistance, recruitment into the periphery, deepening
into network membership and exit (rules in `sim.recruitment`).

All transitions of a week are computed from the state at the start of the step (synchronous).
Each youth has at most two ways out of its stage (a: onward, b: back or out); one uniform per youth
from the stream "transition" decides whether and which, so scenarios share their draws.

**Two outcomes.** *Drawn into the periphery* (stage 1 → 2, "rekryterad till ett kriminellt nätverks
periferi"): a recruiter takes the youth on as a "younger" (errands, storing and selling drugs:
Brå 2023:13). *New network member* (stage 2 → 3): the youth becomes a member.

**Sex.** Each hazard carries a sex factor: boys' hazard is `sex_hr_*` times girls' (entry, recruitment,
deepening), so that about as many girls as boys break norms (SUB 2023: as many girls as boys report
an offence) while about four in five of those drawn into the periphery and 95 % of members are men
(police 2024: women are 19 % of connected persons and 5 % of active members).

**Recruitment** (mass action with the network's demand): rate of candidate i =
susceptibility_i · reach · (r_peer·friends in the network + r_sib·sibling in the network
+ r_school·schoolmates in the network + r_place·visibility·time outdoors)
· (open demand / reference)^ε,
susceptibility_i = a_r(age) · sex · exp(ρ·R − θ·p). Recruits beyond the week's open slots are turned
away (counted). Each recruit takes an open slot; the carrying layer and the recruiter's age are logged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim import kernels
from sim import recruitment as rc
from sim.kernels import in_neighbour_counts
from sim.processes.criminal_network import KEY_ASSIGN, KEY_INITIAL_ADULT, KEY_INITIAL_YOUTH
from sim.recruitment import (
    EXITED,
    MEMBER,
    NONE,
    NORM_BREAKING,
    PERIPHERAL,
    PERIPHERAL_RECRUITER,
    YOUTH_MEMBER,
)
from sim.rng import keyed_uniform

F32 = np.float32
# event details "layer|recruiter's age" (age -1: no recruiter), indexed by layer · 62 + age + 1
RECRUITED_BY = tuple(f"{layer}|{age}" for layer in rc.LAYERS for age in range(-1, 61))
RECRUIT_FLOWS = (*(f"recruited_{name}" for name in rc.LAYERS), "recruited_u18", "recruited_male")
# Share of youths aged 10-20 at stage 1 at the start: about the level the baseline settles at.
INITIAL_NORM_BREAKING = 0.045
ENTRY_MIN_AGE = 10  # youths younger than this are not at risk of norm-breaking
assert (NONE, NORM_BREAKING, PERIPHERAL, MEMBER) == (0, 1, 2, 3)  # kernels.stage_groups' codes


def compete(u: np.ndarray, rate_a: np.ndarray | float, rate_b: np.ndarray | float
            ) -> tuple[np.ndarray, np.ndarray]:
    """Masks of youths taking way a or way b this week, given one uniform each."""
    total = np.asarray(rate_a + rate_b, np.float64)
    p_any = rc.weekly_prob(total)
    fire = u < p_any
    if np.ndim(rate_a) == 0 and rate_a == 0:
        return np.zeros_like(fire), fire
    if np.ndim(rate_b) == 0 and rate_b == 0:
        return fire, np.zeros_like(fire)
    share_a = np.divide(rate_a, total, out=np.zeros_like(total), where=total > 0)
    first = u < p_any * share_a
    return fire & first, fire & ~first


def weighted_sample(rng: np.random.Generator, w: np.ndarray, k: int) -> np.ndarray:
    """k distinct indices drawn with probability proportional to w (Efraimidis-Spirakis)."""
    k = min(k, int((w > 0).sum()))
    if k <= 0:
        return np.zeros(0, np.int64)
    pos = w > 0
    key = np.full(w.size, -np.inf)
    key[pos] = np.log(rng.random(w.size))[pos] / w[pos]
    return np.argpartition(-key, k - 1)[:k]


class Involvement:
    """Stage transitions. Shared state (stage, years in stage, recruiter, member record) lives on
    the model; this process owns the week's exposure and the count of recruits turned away."""

    def __init__(self, model: Any):
        self.turned_away = 0
        self._open: np.ndarray | None = None  # the records' open slots at this week's start
        self._contacts: np.ndarray | None = None  # candidates' contacts per layer (kernels)
        self._exposure: kernels.ExposureState | None = None  # last week's counts (kernels)

    # ---- initial state --------------------------------------------------------------------------
    def initialise(self, model: Any) -> None:
        """Stages at the start, drawn to the documented prevalences (priors A1, A4)."""
        p, pop, cn = model.p, model.pop, model.criminal_network
        rng = model.streams["init"]
        risk = np.exp(pop.x @ model.betas) * rc.sex_factor(pop.boy, p["sex_hr_recruit"]
                                                           * p["sex_hr_progress"])
        teen = (pop.age >= 13) & (pop.age < 20)
        n_close = int(round(p["initial_close_share"] * teen.sum()))
        n_members = int(round(p["initial_active_members"]))
        n_minor = int(round(n_members * p["initial_minor_member_share"]))
        n_youth_members = min(int(round(3.5 * n_minor)), n_members)  # minors plus 18-20s
        members = weighted_sample(rng, risk * ((pop.age >= 15) & (pop.age < 18)), n_minor)
        w_older = risk * ((pop.age >= 18) & (pop.age < 21))
        w_older[members] = 0
        members = np.r_[members, weighted_sample(rng, w_older, n_youth_members - n_minor)]
        w_close = risk * rc.age_profile(pop.age, 15.5, 2.5, lo=12.0)
        w_close[members] = 0
        peripheral = weighted_sample(rng, w_close, max(n_close - n_youth_members, 0))
        w_norm = np.exp(pop.x @ model.betas) * rc.sex_factor(pop.boy, p["sex_hr_entry"]) * \
            rc.age_profile(pop.age, p["entry_age_peak"] + 1.5, p["entry_age_sd"])
        w_norm[members] = w_norm[peripheral] = 0
        n_norm = int(round(INITIAL_NORM_BREAKING * (pop.age >= 10).sum()))
        norm = weighted_sample(rng, w_norm, n_norm)
        st = model.stage
        st[norm] = NORM_BREAKING
        st[peripheral] = PERIPHERAL
        st[members] = MEMBER
        model.years_in_stage[:] = (rng.random(pop.n) * 2.0).astype(F32)
        model.years_in_stage[st == NONE] = 0
        n_adult = n_members - members.size
        adult_age = 21.0 + np.minimum(rng.exponential(7.0, n_adult), 25.0)
        adult_d = rng.choice(model.city.n_districts, size=n_adult,
                             p=model.city.visibility * model.city.youth_share
                             / (model.city.visibility @ model.city.youth_share))
        cn.add_adults(model, adult_age, adult_d, model.keys(KEY_INITIAL_ADULT, np.arange(n_adult)))
        model.member_id[members] = cn.add(model, pop.age[members], pop.district[members], members,
                                          model.keys(KEY_INITIAL_YOUTH, members), YOUTH_MEMBER,
                                          pop.boy[members])
        older = peripheral[pop.age[peripheral] >= p["recruiter_min_age"]]
        model.member_id[older] = cn.add(model, pop.age[older], pop.district[older], older,
                                        model.keys(KEY_INITIAL_YOUTH, older), PERIPHERAL_RECRUITER,
                                        pop.boy[older])
        model.recruiter[peripheral] = cn.assign(model, keyed_uniform(
            model.keys(KEY_ASSIGN, peripheral), -1))
        for s in (NORM_BREAKING, PERIPHERAL, MEMBER):
            model.events.log("stage_at_start", np.flatnonzero(st == s), str(s))

    # ---- exposure -------------------------------------------------------------------------------
    def exposure(self, model: Any) -> dict[str, np.ndarray]:
        """Per-youth exposure to involved friends, siblings, schoolmates."""
        pop, st, net = model.pop, model.stage, model.network
        n = pop.n
        fused = kernels.exposure(st, model.member_id, net.status, rc.INCARCERATED, model.peers_t,
                                 model.net.siblings, pop.school, pop.school_type.size,
                                 model.out_degree, NORM_BREAKING, MEMBER, PERIPHERAL, MEMBER,
                                 self._exposure)
        if fused is not None:  # kept up to date from last week's counts: the same numbers
            ex, self._exposure = fused
            return ex
        involved = np.flatnonzero((st >= NORM_BREAKING) & (st <= MEMBER))
        away = (st == MEMBER) & (model.member_id >= 0)
        away[away] = net.status[model.member_id[away]] == rc.INCARCERATED
        in_network = np.flatnonzero(((st == PERIPHERAL) | (st == MEMBER)) & ~away)
        out_deg = model.out_degree
        share = in_neighbour_counts(model.peers_t, involved, n) / np.maximum(out_deg, 1)
        friends2 = in_neighbour_counts(model.peers_t, in_network, n)
        sib_inv = in_neighbour_counts(model.net.siblings, involved, n) > 0
        sib2 = in_neighbour_counts(model.net.siblings, in_network, n) > 0
        sch = pop.school[in_network]
        per_school = np.bincount(sch[sch >= 0], minlength=pop.school_type.size).astype(F32)
        school2 = np.where(pop.school >= 0, per_school[np.maximum(pop.school, 0)], 0)
        school2 = np.maximum(school2 - friends2, 0)
        return {"share": share, "friends2": friends2, "sib_inv": sib_inv, "sib2": sib2,
                "school2": school2}

    def place_exposure(self, model: Any, idx: np.ndarray) -> np.ndarray:
        """Visible criminals in the district × time outdoors (mean of exclusion and lack of
        positive context), for youths `idx`."""
        x = model.pop.x[idx]
        return model.visibility[model.pop.district[idx]].astype(F32) * F32(0.5) * (x[:, 2] + x[:, 3])

    # ---- hazards --------------------------------------------------------------------------------
    def entry_rate(self, model: Any, idx: np.ndarray, ex: dict[str, np.ndarray],
                   ages: dict[str, np.ndarray]) -> np.ndarray:
        """Hazard of norm-breaking (0 → 1) per year for youths `idx`."""
        p, x = model.p, kernels.take_rows(model.pop.x, idx)
        z = x @ model.betas
        fused = kernels.entry_hazard(
            z, x, idx, model.pop.protection, model.protection_boost, model.protection_dev,
            bool(model.measures.measures or model.mu_dev_active), ex["share"], ex["sib_inv"],
            model.visibility, model.pop.district, p, ages["entry"], model.entry_mult,
            bool(model.measures.measures))
        if fused is not None:  # compiled passes around numpy's exp, the same numbers
            return fused
        z -= F32(p["theta_protection"]) * model.protection(idx)
        z += F32(p["gamma_peer"]) * ex["share"][idx]
        z += F32(p["gamma_sibling"]) * ex["sib_inv"][idx]
        z += F32(p["gamma_place"]) * F32(0.5) * (x[:, 2] + x[:, 3]) * \
            model.visibility[model.pop.district[idx]].astype(F32)
        np.exp(z, out=z)
        z *= F32(p["entry_base_rate"]) * ages["entry"][idx]
        if model.measures.measures:
            z *= model.entry_mult[idx]
        return z

    def contacts(self, model: Any, idx: np.ndarray, ex: dict[str, np.ndarray],
                 pressure: float) -> np.ndarray:
        """Recruitment contact rates per layer (rows: peer, sibling, school, place) per year."""
        p = model.p
        c = np.stack([p["recruit_rate_peer"] * ex["friends2"][idx],
                      p["recruit_rate_sibling"] * ex["sib2"][idx],
                      p["recruit_rate_school"] * ex["school2"][idx],
                      p["recruit_rate_place"] * self.place_exposure(model, idx)])
        return c * F32(pressure * model.reach_mult)

    def pressure(self, model: Any) -> float:
        """Recruiters' search pressure: open demand relative to its reference level."""
        self._open = model.criminal_network.open_slots(model)
        self.open_total = int(self._open.sum())
        return (self.open_total / model.p["open_demand_ref"]) ** model.p["search_elasticity"]

    # ---- the weekly process ---------------------------------------------------------------------
    def step(self, model: Any) -> None:
        u = model.streams.week_uniforms("transition", model.week, model.pop.n)
        (entry, desist1, cand, promote, leave2, leave3), contacts = self.outcomes(
            model, u, self.exposure(model))
        self.change(model, entry, NONE, NORM_BREAKING, "entry")
        self.change(model, desist1, NORM_BREAKING, NONE, "desist_norm_breaking")
        self.recruit(model, cand, contacts)
        self.promote(model, promote)
        self.leave(model, leave2, PERIPHERAL)
        self.leave(model, leave3, MEMBER)

    def outcomes(self, model: Any, u: np.ndarray, ex: dict[str, np.ndarray]
                 ) -> tuple[list[np.ndarray], np.ndarray]:
        """Who takes which way out of their stage this week, from the state at the start of the
        step and one uniform each: the youths entering norm-breaking, desisting from it, drawn
        into the periphery (candidates), promoted to members, leaving the periphery, leaving the
        network, each in slot order; and the candidates' contact rates per layer (4, k)."""
        fused = self.outcomes_compiled(model, u, ex)
        if fused is not None:
            return fused
        p, pop, st = model.p, model.pop, model.stage
        i0, i1, i2, i3 = kernels.stage_groups(st, pop.age, ENTRY_MIN_AGE)
        ages = model.age_terms()
        entry = self.entry_rate(model, i0, ex, ages)
        contacts = self.contacts(model, i1, ex, self.pressure(model))
        sus = ages["recruit"][i1] * np.exp(p["recruit_susceptibility"] * (pop.x[i1] @ model.betas)
                                           - p["theta_protection"] * model.protection(i1)) \
            * model.recruit_mult[i1]
        recruit = sus * contacts.sum(axis=0)
        ramp = ages["ramp"]
        desist1 = p["desist_rate_stage1"] * ramp[i1] * model.desist_mult[i1]
        progress = p["progression_rate"] * np.minimum(1 + model.years_in_stage[i2], 3) * \
            ages["sex_progress"][i2]
        quit2 = p["desist_rate_stage2"] * ramp[i2] * self.quit_mult(model, i2)
        quit3 = p["desist_rate_stage3"] * ramp[i3] * model.desist_mult[i3]
        a0, _ = compete(u[i0], entry, 0.0)
        a1, b1 = compete(u[i1], recruit, desist1)
        a2, b2 = compete(u[i2], progress, quit2)
        _, b3 = compete(u[i3], 0.0, quit3)
        return [i0[a0], i1[b1], i1[a1], i2[a2], i2[b2], i3[b3]], contacts[:, a1]

    def outcomes_compiled(self, model: Any, u: np.ndarray, ex: dict[str, np.ndarray]
                          ) -> tuple[list[np.ndarray], np.ndarray] | None:
        """`outcomes` in three compiled passes (`kernels.transitions`, the same hazards in the
        same float types and order), or None without the kernels."""
        pop = model.pop
        if self._contacts is None or self._contacts.shape[1] != pop.n:
            self._contacts = np.zeros((len(rc.LAYERS), pop.n), np.float64)
        measures = bool(model.measures.measures)
        out = kernels.transitions(
            model.stage, pop.age, ENTRY_MIN_AGE, u, pop.x, model.betas, pop.protection,
            model.protection_boost, model.protection_dev, measures or model.mu_dev_active, ex,
            model.visibility, pop.district, model.p, model.age_terms(), model.entry_mult,
            model.recruit_mult, model.desist_mult, measures, model.years_in_stage,
            model.recruiter, model.network.status, rc.ACTIVE,
            self.pressure(model) * model.reach_mult, self._contacts)
        if out is None:
            return None
        order, starts = out
        groups = [order[starts[c - 1]:starts[c]] for c in range(1, kernels.N_OUTCOMES)]
        return groups, self._contacts[:, groups[2]]

    def quit_mult(self, model: Any, idx: np.ndarray) -> np.ndarray:
        """Desistance multiplier of peripheral youths: exit support, and a recruiter gone."""
        rec = model.recruiter[idx]
        gone = rec >= 0
        gone[gone] = model.network.status[rec[gone]] != rc.ACTIVE
        return model.desist_mult[idx] * np.where(gone, model.p["exit_multiplier_recruiter_gone"], 1.0)

    def change(self, model: Any, idx: np.ndarray, old: int, new: int, flow: str | None) -> None:
        model.stage[idx] = new
        model.years_in_stage[idx] = 0
        model.stage_changes.append(idx)
        if flow:
            model.count_flow(flow, idx)
        model.events.log("stage_change", idx, f"{old}>{new}")

    def recruit(self, model: Any, cand: np.ndarray, contacts: np.ndarray) -> None:
        """Take candidates into the periphery up to the open demand; record the carrying layer
        and the recruiter's age."""
        # two uniforms per youth and week, numbers 2i and 2i + 1 of the counter-based stream
        # ("recruit", week) (common random numbers); only the candidates' are made
        u = model.streams.week_uniforms_at("recruit", model.week,
                                           np.concatenate((2 * cand, 2 * cand + 1)))
        u_rank, u_layer = u[:cand.size], u[cand.size:]
        self.turned_away = 0
        if cand.size == 0:
            return
        if cand.size > self.open_total:
            keep = np.argsort(u_rank, kind="stable")[:self.open_total]
            self.turned_away = cand.size - keep.size
            model.count_flow("turned_away", np.setdiff1d(cand, cand[keep]))
            cand, contacts, u_layer = cand[keep], contacts[:, keep], u_layer[keep]
        if cand.size == 0:
            return
        cum = np.cumsum(contacts, axis=0) / np.maximum(contacts.sum(axis=0), 1e-30)
        layer = (u_layer > cum).sum(axis=0).clip(0, len(rc.LAYERS) - 1)
        # the open slots counted for this week's pressure: nothing has changed them since
        rec = model.criminal_network.assign(model, keyed_uniform(model.keys(KEY_ASSIGN, cand),
                                                                 model.week), self._open)
        model.recruiter[cand] = rec
        pop = model.pop
        # the layers' flows, under-18s and boys in one count (a youth in three of them)
        u18, boys = cand[pop.age[cand] < 18], cand[pop.boy[cand]]
        model.count_flows(RECRUIT_FLOWS, np.concatenate((cand, u18, boys)), np.concatenate(
            (layer, np.full(u18.size, 4, np.int64), np.full(boys.size, 5, np.int64))))
        self.change(model, cand, NORM_BREAKING, PERIPHERAL, None)
        rec_age = np.where(rec >= 0, model.network.age[np.maximum(rec, 0)], -1).astype(int)
        model.recording.recruitment(pop.age[cand], rec_age)
        model.count_group(0, cand)
        code = layer * 62 + np.clip(rec_age, -1, 60) + 1
        model.events.log_coded("recruited_by", cand, RECRUITED_BY, code)

    def promote(self, model: Any, idx: np.ndarray) -> None:
        """Peripheral youths who become network members."""
        if idx.size == 0:
            return
        model.criminal_network.promote(model, idx)
        self.change(model, idx, PERIPHERAL, MEMBER, "new_members")
        model.count_flow("new_members_u18", idx[model.pop.age[idx] < 18])
        model.count_flow("new_members_male", idx[model.pop.boy[idx]])
        model.count_group(1, idx)

    def leave(self, model: Any, idx: np.ndarray, old: int) -> None:
        """Youths who leave the periphery or the network for good."""
        if idx.size == 0:
            return
        model.criminal_network.drop(model, idx)
        model.member_id[idx] = -1
        model.recruiter[idx] = -1
        self.change(model, idx, old, EXITED, "exits")

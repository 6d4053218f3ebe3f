"""A per-agent Mesa reference of the engine's core weekly rules, and its vectorised twin (issue 11.4).

`ReferenceModel` is written the way a Mesa tutorial writes a model: one `mesa.Agent` per youth
holding its own state in Python attributes (six risk factors as a list of floats, its friends and
siblings as lists of agents), a `step` per agent and a `model.step` that calls
`self.agents.shuffle_do("step")` and then `self.agents.do("advance")` (Mesa 3's replacement of
`SimultaneousActivation`: every agent decides from last week's state, then all commit). It exists
to measure what the engine's structure of arrays buys (`benchmarks/bench_reference.py`) and to
check, in `tests/test_reference_model.py`, that both implement the same rules.

`VectorisedReduced` applies exactly the same reduced rules to an engine model (`sim.model.UmeaModel`)
with the engine's own functions and draws: `sim.kernels.risk_week_keyed` (the fused risk update
and family crises the engine's risk process calls, its noise made in the loop from the week's
counter-based streams: compiled by Numba when present, else `sim.risk.update_risk` and
`apply_shocks`), the week's transition uniforms (`sim.kernels.sequence_uniforms`),
`sim.risk.peer_pull`, `sim.recruitment.weekly_prob`, `age_profile`,
`late_teen_ramp` and `sex_factor`, and the hazards of `sim.processes.involvement`
(`Involvement.exposure`, fused by `sim.kernels` too, `entry_rate`, `contacts`, `compete`).

Both start from **the same population and networks**: `inputs_from_model` copies a freshly built
`UmeaModel` (its risk factors x and living baselines μ, ages, sex, districts, schools, protection,
stages and years in stage, the peer network `net.peers` with its row-normalised weights and the
sibling network, the parameters `model.p`, the β's, the districts' visible criminal presence and
the recruiters' search pressure at week 0).

Rules included, each week, in this order:

1. *Time*: ages and years in stage advance by 1/52.
2. *Risk factors* (`sim.risk.update_risk`), synchronous: for each of the six factors
   `x ← clip(x + κ(μ − x) + η·w(age)·(friends' mean − x) + σ·√12·(u − ½), 0, 1)`, the peer term on
   the first four factors only and only for youths with friends; w(age) = 1 up to 17, 0 at 21.
   The friends' mean is recomputed every week (the engine caches it for two weeks).
   *Family crises*: with weekly probability 1 − exp(−shock_rate/52), vulnerable_family and
   mental_ill_health rise by shock_size (capped at 1).
3. *Involvement*, from the stages at the start of the week and this week's risk factors; one
   uniform per youth decides whether and which of its (at most two) transitions happens
   (`compete`):
   - entry 0 → 1 (youths aged 10+): `entry_base_rate · a(age) · sex · exp(R − θp + γ_peer·s +
     γ_sib·b + γ_place·V_d·o)` with R = Σβx, s the share of friends at stages 1-3, b any sibling at
     stages 1-3, V_d the district's visible criminal presence, o = ½(exclusion + lack of positive
     context);
   - stage 1: recruitment 1 → 2 at `a_r(age) · sex · exp(ρR − θp) · P · (r_peer·friends at stages
     2-3 + r_sib·[a sibling at stages 2-3] + r_school·(schoolmates at stages 2-3 − those friends)
     + r_place·V_d·o)` against desistance 1 → 0 at `desist_rate_stage1 · ramp(age)`;
   - stage 2: deepening 2 → 3 at `progression_rate · min(1 + years in stage, 3) · sex` against
     leaving 2 → 4 at `desist_rate_stage2 · ramp(age)`;
   - stage 3: leaving 3 → 4 at `desist_rate_stage3 · ramp(age)`.

Left out (the engine has them; the reduced rules do not): the criminal network's records (adult
members, incarceration and release, adult inflow and exits, the recruiters' open demand, which
caps the week's recruits and expires into outside youngers): the search pressure P = (open demand
/ open_demand_ref)^ε is held at its week-0 value, nobody is incarcerated (every youth at stages
2-3 counts as "in the network"), no recruits are turned away, and a recruiter who is gone does not
speed up leaving; the school-year step (no cohorts in or out, no school transitions, no
re-computed baselines, no redrawn peer network: the same youths simply age); places (V_d stays at
its week-0 value); social services, detection and reports of concern; interventions and their
modifiers; lasting developmental effects; the four-week cache of age profiles and two-week cache of
the friends' mean; recording, the DataCollector and the event log (both reduced models count only
the week's transitions).

Both models draw different random numbers (Python's `random` per agent against numpy arrays) and
compute in float64 against float32, so they agree in distribution, not draw for draw.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import mesa
import numpy as np

from sim import kernels
from sim import recruitment as rc
from sim.kernels import risk_week_keyed, sequence_uniforms
from sim.processes.involvement import compete
from sim.risk import FACTOR_INDEX, PEER_FACTORS, peer_pull
from sim.rng import week_key

F32 = np.float32
WEEK = 1.0 / 52.0
SQRT12 = math.sqrt(12.0)
NONE, NORM_BREAKING, PERIPHERAL, MEMBER, EXITED = range(5)
# the transitions both models count, by name
TRANSITIONS = ("entry", "desist", "recruited", "new_member", "exit_peripheral", "exit_member")
ONWARD = {NONE: NORM_BREAKING, NORM_BREAKING: PERIPHERAL, PERIPHERAL: MEMBER}
BACK = {NORM_BREAKING: NONE, PERIPHERAL: EXITED, MEMBER: EXITED}
VULNERABLE_FAMILY = FACTOR_INDEX["vulnerable_family"]
MENTAL_ILL_HEALTH = FACTOR_INDEX["mental_ill_health"]


@dataclass
class Inputs:
    """The state both reduced models start from, copied out of an engine model."""

    x: np.ndarray               # (N, 6) risk factors
    mu: np.ndarray              # (N, 6) living baselines
    age: np.ndarray             # (N,)
    boy: np.ndarray             # (N,) bool
    district: np.ndarray        # (N,)
    school: np.ndarray          # (N,) -1 = none
    protection: np.ndarray      # (N,)
    stage: np.ndarray           # (N,)
    years_in_stage: np.ndarray  # (N,)
    peer_indptr: np.ndarray     # friendship network (directed: row i lists i's friends)
    peer_indices: np.ndarray
    sib_indptr: np.ndarray      # siblings (symmetric)
    sib_indices: np.ndarray
    betas: np.ndarray           # (6,)
    visibility: np.ndarray      # (D,) visible criminal presence per district, held constant
    pressure: float             # recruiters' search pressure, held constant
    p: dict[str, float]         # the engine's parameters
    n_schools: int

    @property
    def n(self) -> int:
        return self.age.size


def inputs_from_model(model: Any, pressure: float | None = None) -> Inputs:
    """Copy the population, networks and parameters of an engine model (before it steps);
    `pressure` replaces the recruiters' search pressure of week 0."""
    pop, net = model.pop, model.net
    if (model.network.status == rc.INCARCERATED).any():
        raise ValueError("the reduced rules assume nobody is incarcerated at the start")
    if not np.array_equal(net.peer_weights.indptr, net.peers.indptr):
        raise ValueError("peer weights and peers must share their sparsity pattern")
    return Inputs(
        x=pop.x.copy(), mu=model.mu_eff.copy(), age=pop.age.copy(), boy=pop.boy.copy(),
        district=pop.district.copy(), school=pop.school.copy(), protection=pop.protection.copy(),
        stage=model.stage.copy(), years_in_stage=model.years_in_stage.copy(),
        peer_indptr=net.peers.indptr.copy(), peer_indices=net.peers.indices.copy(),
        sib_indptr=net.siblings.indptr.copy(), sib_indices=net.siblings.indices.copy(),
        betas=model.betas.astype(np.float64), visibility=np.asarray(model.visibility, float).copy(),
        pressure=float(model.involvement.pressure(model) if pressure is None else pressure),
        p=dict(model.p),
        n_schools=int(pop.school_type.size),
    )


# ---- the per-agent Mesa reference ------------------------------------------------------------------
def _age_profile(age: float, peak: float, sd: float) -> float:
    return math.exp(-0.5 * ((age - peak) / sd) ** 2) if age >= 10.0 else 0.0


def _ramp(age: float) -> float:
    return 1.0 + min(max((age - 17.0) / 3.0, 0.0), 1.0)


def _weekly_prob(rate: float) -> float:
    return -math.expm1(-rate * WEEK)


class YouthAgent(mesa.Agent):
    """One youth: its state in attributes, its rules in `step`, committed in `advance`."""

    def __init__(self, model: ReferenceModel, i: int, inputs: Inputs):
        super().__init__(model)
        p = inputs.p
        self.x = [float(v) for v in inputs.x[i]]
        self.mu = [float(v) for v in inputs.mu[i]]
        self.age = float(inputs.age[i])
        self.district = int(inputs.district[i])
        self.school = int(inputs.school[i])
        self.protection = float(inputs.protection[i])
        self.stage = int(inputs.stage[i])
        self.years_in_stage = float(inputs.years_in_stage[i])
        sign = 0.5 if inputs.boy[i] else -0.5  # boys' hazard is HR times girls'
        self.sex_entry = math.exp(sign * math.log(p["sex_hr_entry"]))
        self.sex_recruit = math.exp(sign * math.log(p["sex_hr_recruit"]))
        self.sex_progress = math.exp(sign * math.log(p["sex_hr_progress"]))
        self.friends: list[YouthAgent] = []
        self.siblings: list[YouthAgent] = []
        self.next_x = self.x
        self.next_stage = self.stage

    def risk_index(self, x: list[float]) -> float:
        return sum(b * v for b, v in zip(self.model.betas, x, strict=True))

    def step(self) -> None:
        m = self.model
        p = m.p
        self.age += WEEK
        self.years_in_stage += WEEK
        x = self.update_risk(p)
        self.next_x = x
        self.next_stage = self.choose_transition(p, x)

    def update_risk(self, p: dict[str, float]) -> list[float]:
        """Drift to the baseline, pull towards the friends' mean, noise, clip; family crises."""
        kappa, sigma = p["risk_relaxation_rate"], p["risk_noise_sd"]
        friends = self.friends
        pull = 0.0
        if friends:
            pull = p["peer_influence_rate"] * min(max((21.0 - self.age) / 4.0, 0.0), 1.0)
            mean = [sum(f.x[k] for f in friends) / len(friends) for k in range(PEER_FACTORS)]
        new = []
        for k in range(6):
            v = self.x[k]
            step = kappa * (self.mu[k] - v) + sigma * SQRT12 * (self.random.random() - 0.5)
            if k < PEER_FACTORS and friends:
                step += pull * (mean[k] - v)
            new.append(min(max(v + step, 0.0), 1.0))
        if self.random.random() < _weekly_prob(p["shock_rate"]):
            for k in (VULNERABLE_FAMILY, MENTAL_ILL_HEALTH):
                new[k] = min(new[k] + p["shock_size"], 1.0)
        return new

    def choose_transition(self, p: dict[str, float], x: list[float]) -> int:
        """This week's stage from last week's stages of friends and siblings (one uniform)."""
        u = self.random.random()
        stage = self.stage
        if stage == EXITED or (stage == NONE and self.age < 10.0):
            return stage
        self.model.at_risk[stage] += 1
        rate_a = rate_b = 0.0
        if stage == NONE:
            rate_a = self.entry_rate(p, x)
        elif stage == NORM_BREAKING:
            rate_a = self.recruit_rate(p, x)
            rate_b = p["desist_rate_stage1"] * _ramp(self.age)
        elif stage == PERIPHERAL:
            rate_a = p["progression_rate"] * min(1.0 + self.years_in_stage, 3.0) * self.sex_progress
            rate_b = p["desist_rate_stage2"] * _ramp(self.age)
        else:
            rate_b = p["desist_rate_stage3"] * _ramp(self.age)
        total = rate_a + rate_b
        p_any = _weekly_prob(total)
        if u >= p_any:
            return stage
        return ONWARD[stage] if u < p_any * rate_a / total else BACK[stage]

    def outdoors(self, x: list[float]) -> float:
        """Visible criminals where the youth lives × time outdoors."""
        return self.model.visibility[self.district] * 0.5 * (x[2] + x[3])

    def entry_rate(self, p: dict[str, float], x: list[float]) -> float:
        friends = self.friends
        involved = sum(1 for f in friends if NORM_BREAKING <= f.stage <= MEMBER)
        share = involved / max(len(friends), 1)
        sibling = any(NORM_BREAKING <= s.stage <= MEMBER for s in self.siblings)
        z = (self.risk_index(x) - p["theta_protection"] * self.protection + p["gamma_peer"] * share
             + p["gamma_sibling"] * sibling + p["gamma_place"] * self.outdoors(x))
        return (p["entry_base_rate"] * _age_profile(self.age, p["entry_age_peak"], p["entry_age_sd"])
                * self.sex_entry * math.exp(z))

    def recruit_rate(self, p: dict[str, float], x: list[float]) -> float:
        friends2 = sum(1 for f in self.friends if f.stage in (PERIPHERAL, MEMBER))
        sibling2 = any(s.stage in (PERIPHERAL, MEMBER) for s in self.siblings)
        school2 = 0.0
        if self.school >= 0:
            school2 = max(self.model.in_network_at_school[self.school] - friends2, 0)
        contacts = (p["recruit_rate_peer"] * friends2 + p["recruit_rate_sibling"] * sibling2
                    + p["recruit_rate_school"] * school2 + p["recruit_rate_place"] * self.outdoors(x))
        susceptibility = (_age_profile(self.age, p["recruit_age_peak"], p["recruit_age_sd"])
                          * self.sex_recruit
                          * math.exp(p["recruit_susceptibility"] * self.risk_index(x)
                                     - p["theta_protection"] * self.protection))
        return susceptibility * contacts * self.model.pressure

    def advance(self) -> None:
        if self.next_stage != self.stage:
            self.model.count(self.stage, self.next_stage)
            self.stage = self.next_stage
            self.years_in_stage = 0.0
        self.x = self.next_x


class ReferenceModel(mesa.Model):
    """The reduced rules, one Mesa agent per youth (see the module docstring)."""

    def __init__(self, inputs: Inputs, seed: int = 0):
        super().__init__(seed=seed)
        self.p = inputs.p
        self.betas = [float(b) for b in inputs.betas]
        self.visibility = [float(v) for v in inputs.visibility]
        self.pressure = inputs.pressure
        self.n_schools = inputs.n_schools
        self.counts: Counter[str] = Counter()
        self.at_risk = [0] * 4  # youth-weeks at risk of a transition, by stage
        youths = [YouthAgent(self, i, inputs) for i in range(inputs.n)]
        for i, a in enumerate(youths):
            a.friends = [youths[j] for j in inputs.peer_indices[inputs.peer_indptr[i]:
                                                                inputs.peer_indptr[i + 1]]]
            a.siblings = [youths[j] for j in inputs.sib_indices[inputs.sib_indptr[i]:
                                                               inputs.sib_indptr[i + 1]]]
        self.youths = youths  # in slot order, for reading the results
        self.in_network_at_school = [0] * self.n_schools

    def count(self, old: int, new: int) -> None:
        self.counts[_transition_name(old, new)] += 1

    def step(self) -> None:
        self.in_network_at_school = [0] * self.n_schools
        for a in self.agents:
            if a.stage in (PERIPHERAL, MEMBER) and a.school >= 0:
                self.in_network_at_school[a.school] += 1
        self.agents.shuffle_do("step")
        self.agents.do("advance")

    # results, in the same form as VectorisedReduced's
    @property
    def x(self) -> np.ndarray:
        return np.array([a.x for a in self.youths])

    @property
    def stage(self) -> np.ndarray:
        return np.array([a.stage for a in self.youths])


def _transition_name(old: int, new: int) -> str:
    return {(NONE, NORM_BREAKING): "entry", (NORM_BREAKING, NONE): "desist",
            (NORM_BREAKING, PERIPHERAL): "recruited", (PERIPHERAL, MEMBER): "new_member",
            (PERIPHERAL, EXITED): "exit_peripheral", (MEMBER, EXITED): "exit_member"}[(old, new)]


# ---- the same reduced rules with the engine's functions ------------------------------------------
class VectorisedReduced:
    """The reduced rules applied to an engine model's own arrays with the engine's functions.

    Steps `model` in place (its `pop.x`, `pop.age`, `stage`, `years_in_stage`): build it from a
    fresh `UmeaModel` and take `inputs_from_model` first if the reference should start from the
    same state."""

    def __init__(self, model: Any, seed: int = 0, pressure: float | None = None):
        if model.measures.measures:
            raise ValueError("the reduced rules have no interventions")
        self.model = model
        self.seed, self.week = int(seed), 0  # the engine's counter-based weekly streams
        self.pressure = float(model.involvement.pressure(model) if pressure is None else pressure)
        self.counts: Counter[str] = Counter()
        self.at_risk = [0] * 4  # youth-weeks at risk of a transition, by stage
        p, boy = model.p, model.pop.boy
        self.sex = {k: rc.sex_factor(boy, p[f"sex_hr_{k}"]) for k in ("entry", "recruit", "progress")}

    @property
    def x(self) -> np.ndarray:
        return self.model.pop.x

    @property
    def stage(self) -> np.ndarray:
        return self.model.stage

    def step(self) -> None:
        m, week = self.model, self.week
        p, pop = m.p, m.pop
        pop.age += F32(WEEK)
        m.years_in_stage += F32(WEEK)
        # risk factors (synchronous), then family crises
        pull = peer_pull(m.net.peer_weights, pop.age, p["peer_influence_rate"])
        peer_mean = kernels.peer_mean(m.net.peers, pop.x)
        risk_week_keyed(pop.x, m.mu_eff, None, peer_mean, pull, p["risk_relaxation_rate"],
                        p["risk_noise_sd"], week_key(self.seed, "risk", week),
                        week_key(self.seed, "shock", week), rc.weekly_prob(p["shock_rate"]),
                        p["shock_size"])
        # involvement, from the stages at the start of the week
        st = m.stage.copy()
        u = sequence_uniforms(week_key(self.seed, "transition", week), pop.n)
        self.week += 1
        ex = m.involvement.exposure(m)
        ages = {"entry": rc.age_profile(pop.age, p["entry_age_peak"], p["entry_age_sd"]) * self.sex["entry"]}
        ramp = rc.late_teen_ramp(pop.age)
        i0, i1, i2, i3 = kernels.stage_groups(st, pop.age, 10)
        entry = m.involvement.entry_rate(m, i0, ex, ages)
        contacts = m.involvement.contacts(m, i1, ex, self.pressure)
        sus = rc.age_profile(pop.age[i1], p["recruit_age_peak"], p["recruit_age_sd"]) * \
            self.sex["recruit"][i1] * np.exp(p["recruit_susceptibility"] * (pop.x[i1] @ m.betas)
                                             - p["theta_protection"] * m.protection(i1))
        recruit = sus * contacts.sum(axis=0)
        desist1 = p["desist_rate_stage1"] * ramp[i1]
        progress = p["progression_rate"] * np.minimum(1 + m.years_in_stage[i2], 3) * self.sex["progress"][i2]
        quit2 = p["desist_rate_stage2"] * ramp[i2]
        quit3 = p["desist_rate_stage3"] * ramp[i3]
        for s, idx in enumerate((i0, i1, i2, i3)):
            self.at_risk[s] += idx.size
        a0, _ = compete(u[i0], entry, 0.0)
        a1, b1 = compete(u[i1], recruit, desist1)
        a2, b2 = compete(u[i2], progress, quit2)
        _, b3 = compete(u[i3], 0.0, quit3)
        for idx, old, new in ((i0[a0], NONE, NORM_BREAKING), (i1[b1], NORM_BREAKING, NONE),
                              (i1[a1], NORM_BREAKING, PERIPHERAL), (i2[a2], PERIPHERAL, MEMBER),
                              (i2[b2], PERIPHERAL, EXITED), (i3[b3], MEMBER, EXITED)):
            m.stage[idx] = new
            m.years_in_stage[idx] = 0
            self.counts[_transition_name(old, new)] += idx.size


# each transition's stage of origin, for its rate per youth-week at risk
ORIGIN = {"entry": NONE, "desist": NORM_BREAKING, "recruited": NORM_BREAKING,
          "new_member": PERIPHERAL, "exit_peripheral": PERIPHERAL, "exit_member": MEMBER}


def outcomes(reduced: ReferenceModel | VectorisedReduced) -> dict[str, float]:
    """What the test compares: transition counts and rates per 1,000 youth-weeks at risk (stage 0:
    youths aged 10+), youth-weeks at risk by stage, stage counts, mean and sd of each factor."""
    x, st = reduced.x, reduced.stage
    out: dict[str, float] = {name: float(reduced.counts[name]) for name in TRANSITIONS}
    for name in TRANSITIONS:
        out[f"rate_{name}"] = 1000.0 * out[name] / max(reduced.at_risk[ORIGIN[name]], 1)
    for s in range(4):
        out[f"at_risk_{rc.STAGES[s]}"] = float(reduced.at_risk[s])
    for s, name in enumerate(rc.STAGES):
        out[f"stage_{name}"] = float((st == s).sum())
    for k, name in enumerate(FACTOR_INDEX):
        out[f"mean_{name}"] = float(x[:, k].mean())
        out[f"sd_{name}"] = float(x[:, k].std())
    return out

"""The Mesa model: Umeå's youths as agents whose state lives in numpy arrays.

Mesa is the frame (a `mesa.Model`, one `Youth` agent per youth, AgentSet for queries); numpy is the
engine: every weekly step updates all youths at once. Order of a step:

1. new school year (every 52 weeks): ageing of cohorts, leavers out, newcomers in, school
   transitions, peers redrawn;
2. time: ages and time in stage advance a week;
3. places: visible criminal presence moves towards its target (members present, place actions);
4. risk factors: drift to baseline, peer influence, noise, family crises;
5. interventions: detection, referral and the measures in force act on the state;
6. stage transitions: entry, desistance, recruitment (capped by network demand), deepening, exit;
7. criminal network: ageing, incarceration, release, exits, inflow of adult members;
8. recording.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

import mesa
import numpy as np
import scipy.sparse as sp
from mesa.agent import AgentSet

from sim import recruitment as rc
from sim.interventions import InterventionSet, InterventionSpec
from sim.networks import Networks, build_networks
from sim.params import resolve
from sim.population import (
    City,
    Population,
    assign_schools,
    build_population,
    load_city,
    replace_leavers,
)
from sim.recruitment import EXITED, MEMBER, NONE, NORM_BREAKING, PERIPHERAL, CriminalNetwork
from sim.results import FLOW_INDEX, NETWORK_SERIES, Recorder
from sim.risk import FACTORS, PEER_FACTORS, apply_shocks, peer_pull, update_risk
from sim.rng import Streams, entity_keys, keyed_uniform

F32 = np.float32
RISK_EVERY = 4  # weeks between records of mean risk factors
AGE_EVERY = 4   # weeks between refreshes of the age profiles
PEER_EVERY = 2  # weeks between recomputations of the friends' mean risk (a sparse product)
# Share of youths aged 10-20 at stage 1 at the start: the level the baseline settles at
# (≈6.5% of 13-19-year-olds; Brå 2022: ≈5% of 15-20-year-olds suspected a year).
INITIAL_NORM_BREAKING = 0.045
# kinds of entity keys (sim.rng.entity_keys): members and youngsters draw from their own keys
KEY_INITIAL_ADULT, KEY_INITIAL_YOUTH, KEY_PROMOTED, KEY_INFLOW, KEY_ASSIGN, KEY_INFLOW_COUNT = range(6)
BETA_NAMES = tuple(f"beta_{f}" for f in FACTORS)


class Youth(mesa.Agent):
    """A youth of Umeå. Its state is row `slot` of the model's arrays."""

    def __init__(self, model: UmeaModel, slot: int):
        super().__init__(model)
        self.slot = int(slot)
        model.agent_of_slot[self.slot] = self

    @property
    def age(self) -> float:
        return float(self.model.pop.age[self.slot])

    @property
    def stage(self) -> str:
        return rc.STAGES[self.model.stage[self.slot]]

    @property
    def district(self) -> str:
        return self.model.city.districts[self.model.pop.district[self.slot]]

    @property
    def risk(self) -> dict[str, float]:
        return dict(zip(FACTORS, map(float, self.model.pop.x[self.slot]), strict=True))


def _compete(u: np.ndarray, rate_a: np.ndarray | float, rate_b: np.ndarray | float
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


def _in_neighbour_counts(at: sp.csr_array, sources: np.ndarray, n: int) -> np.ndarray:
    """For each youth, how many of `sources` it is tied to, via the transposed matrix `at`."""
    if sources.size == 0:
        return np.zeros(n, np.float32)
    starts, ends = at.indptr[sources], at.indptr[sources + 1]
    lens = ends - starts
    first = np.concatenate(([0], np.cumsum(lens)[:-1]))
    pos = np.repeat(starts - first, lens) + np.arange(lens.sum())
    return np.bincount(at.indices[pos], minlength=n).astype(np.float32)


class UmeaModel(mesa.Model):
    """Youths aged 3-20 in Umeå, their networks, risk factors and involvement, week by week."""

    def __init__(self, params: Mapping[str, float] | None = None, seed: int = 0,
                 years: int = 10, start_year: int = 2024,
                 interventions: Sequence[InterventionSpec] = (), city: City | None = None):
        super().__init__(seed=seed)
        self.p = resolve(params, "model parameters")
        self.seed_value, self.start_year, self.years = int(seed), int(start_year), int(years)
        self.city = city or load_city()
        self.streams = Streams(seed)
        self.week = 0
        self.pop: Population = build_population(seed, self.city)
        n = self.pop.n
        self.stage = np.zeros(n, np.int8)
        self.years_in_stage = np.zeros(n, F32)
        self.recruiter = np.full(n, -1, np.int32)
        self.member_id = np.full(n, -1, np.int32)
        self.detected = np.zeros(n, bool)
        self.mu_eff = self.pop.mu  # baselines after interventions (set by the interventions)
        self._age_cache: dict[str, np.ndarray] = {}
        self._peer_mean: np.ndarray | None = None
        self.protection_boost = np.zeros(n, F32)
        self.entry_mult, self.recruit_mult, self.desist_mult = (np.ones(n, F32) for _ in range(3))
        self.place_mult = np.ones(self.city.n_districts)
        self.incapacitation_mult = 1.0
        self.visibility = self.city.visibility.copy()
        self.factor_sd = self.pop.x.std(axis=0)
        self.protection_sd = float(self.pop.protection.std())
        self.betas = np.array([self.p[b] for b in BETA_NAMES], F32)
        self.network = CriminalNetwork()
        lam = self.p["adult_inflow_rate"] / 52.0  # weekly Poisson inflow, drawn by inversion
        self._inflow_cdf = np.cumsum(np.exp(-lam) * lam ** np.arange(8) / np.cumprod(
            np.r_[1.0, np.arange(1, 8)]))
        self._inflow_key = self._keys(KEY_INFLOW_COUNT, 0)
        self.cost_this_step = 0.0
        self._build_networks(year=0)
        self._initial_involvement()
        self._district_matrix()
        self.recorder = Recorder.allocate(self.years * 52, self.city.n_districts)
        self.agent_of_slot: list[Youth | None] = [None] * n  # a list: the GC sees through it
        self._create_agents(np.arange(n))
        self.measures = InterventionSet(list(interventions), self)

    # ---- set-up -------------------------------------------------------------------------
    def _build_networks(self, year: int) -> None:
        rng = self.streams.fresh("network", year)
        self.net: Networks = build_networks(self.pop, self.pop.x.mean(axis=1), rng)
        self._peers_t = self.net.peers.T.tocsr()
        self._sibs = self.net.siblings

    def _district_matrix(self) -> None:
        d = self.pop.district
        n = d.size
        self._dmat = sp.csr_array((np.ones(n, F32), (d, np.arange(n))),
                                  shape=(self.city.n_districts, n))

    def _initial_involvement(self) -> None:
        """Stages at the start, drawn to the documented prevalences (priors A1, A4)."""
        p, pop = self.p, self.pop
        rng = self.streams["init"]
        risk = np.exp(pop.x @ self.betas)
        teen = (pop.age >= 13) & (pop.age < 20)
        n_close = int(round(p["initial_close_share"] * teen.sum()))
        n_members = int(round(p["initial_active_members"]))
        n_minor = int(round(n_members * p["initial_minor_member_share"]))
        n_youth_members = min(int(round(3.5 * n_minor)), n_members)  # minors plus 18-20s
        w_member = risk * ((pop.age >= 15) & (pop.age < 18))
        members = self._weighted(rng, w_member, n_minor)
        w_older = risk * ((pop.age >= 18) & (pop.age < 21))
        w_older[members] = 0
        members = np.r_[members, self._weighted(rng, w_older, n_youth_members - n_minor)]
        w_close = risk * rc.age_profile(pop.age, 16.0, 2.5, lo=12.0)
        w_close[members] = 0
        peripheral = self._weighted(rng, w_close, max(n_close - n_youth_members, 0))
        w_norm = risk * rc.age_profile(pop.age, p["entry_age_peak"], p["entry_age_sd"])
        w_norm[members] = w_norm[peripheral] = 0
        n_norm = int(round(INITIAL_NORM_BREAKING * (pop.age >= 10).sum()))
        norm = self._weighted(rng, w_norm, n_norm)
        self.stage[norm] = NORM_BREAKING
        self.stage[peripheral] = PERIPHERAL
        self.stage[members] = MEMBER
        self.years_in_stage[:] = (rng.random(pop.n) * 2.0).astype(F32)
        self.years_in_stage[self.stage == NONE] = 0
        n_adult = n_members - members.size
        adult_age = 21.0 + np.minimum(rng.exponential(7.0, n_adult), 25.0)
        self._add_members(adult_age, self._adult_districts(rng, n_adult), -np.ones(n_adult, int),
                          self._keys(KEY_INITIAL_ADULT, np.arange(n_adult)))
        self.member_id[members] = self._add_members(pop.age[members], pop.district[members],
                                                    members, self._keys(KEY_INITIAL_YOUTH, members))
        self.recruiter[peripheral] = self._assign_recruiters(
            keyed_uniform(self._keys(KEY_ASSIGN, peripheral), -1))

    @staticmethod
    def _weighted(rng: np.random.Generator, w: np.ndarray, k: int) -> np.ndarray:
        """k distinct indices drawn with probability proportional to w (Efraimidis-Spirakis)."""
        k = min(k, int((w > 0).sum()))
        if k <= 0:
            return np.zeros(0, np.int64)
        pos = w > 0
        key = np.full(w.size, -np.inf)
        key[pos] = np.log(rng.random(w.size))[pos] / w[pos]
        return np.argpartition(-key, k - 1)[:k]

    def _adult_districts(self, rng: np.random.Generator, k: int) -> np.ndarray:
        w = self.city.visibility * self.city.youth_share
        return rng.choice(self.city.n_districts, size=k, p=w / w.sum())

    def _keys(self, kind: int, *ids: np.ndarray | int) -> np.ndarray:
        return entity_keys(self.seed_value, kind, *ids)

    def _add_members(self, age: np.ndarray, district: np.ndarray, youth: np.ndarray,
                     key: np.ndarray) -> np.ndarray:
        """New member records; their wants and all later draws come from their own keys."""
        u = np.stack([keyed_uniform(key, -1 - j) for j in range(3)], axis=1)
        wanted = rc.wanted_youngers(self.p["youngers_per_recruiter"], u)
        return self.network.add(age, district, wanted, youth, key).astype(np.int32)

    def _assign_recruiters(self, u: np.ndarray) -> np.ndarray:
        """Recruiters for new youngers (one uniform each): distinct open slots, -1 if none left.

        Each youngster takes the open slot at position ⌊u·open⌋ of the members' open slots;
        clashes move to the next free slot."""
        out = np.full(u.size, -1, np.int32)
        open_ = self.network.open_slots(self._youngers(), self.p["recruiter_max_age"])
        total = int(open_.sum())
        take = min(u.size, total)
        if take == 0:
            return out
        order = np.argsort(u[:take], kind="stable")
        pos = np.floor(u[:take][order] * total).astype(np.int64)
        pos = np.maximum.accumulate(pos - np.arange(take)) + np.arange(take)  # distinct, sorted
        pos = np.minimum(pos, total - take + np.arange(take))
        owner = np.searchsorted(np.cumsum(open_), pos, side="right")
        out[order] = owner
        return out

    def _youngers(self) -> np.ndarray:
        held = self.recruiter[(self.stage == PERIPHERAL) & (self.recruiter >= 0)]
        return np.bincount(held, minlength=self.network.n)

    # ---- the weekly step ------------------------------------------------------------------
    def step(self) -> None:
        """Advance the city one week (see the module docstring for the order)."""
        if self.week > 0 and self.week % 52 == 0:
            self._new_school_year()
        self.pop.age += F32(1 / 52)
        self.years_in_stage += F32(1 / 52)
        self.cost_this_step = 0.0
        self._flows = np.zeros((self.city.n_districts, len(FLOW_INDEX)), np.int32)
        self._update_places()
        self._update_risk()
        self.measures.step(self)
        self._transitions()
        self._network_turnover()
        self._record()
        self.week += 1

    def run(self, progress: object | None = None) -> Recorder:
        """Run all weeks of the horizon; `progress` is an optional callable(week)."""
        for _ in range(self.years * 52):
            self.step()
            if progress is not None:
                progress(self.week)
        self.release()
        return self.recorder

    def _age_terms(self) -> dict[str, np.ndarray]:
        """Age profiles of the hazards and of peer influence, refreshed every AGE_EVERY weeks
        (ages move 1/52 a year a week; the profiles change little in a month)."""
        if self.week % AGE_EVERY == 0 or not self._age_cache:
            p, age = self.p, self.pop.age
            self._age_cache = {
                "entry": rc.age_profile(age, p["entry_age_peak"], p["entry_age_sd"]),
                "recruit": rc.age_profile(age, p["recruit_age_peak"], p["recruit_age_sd"]),
                "ramp": rc.late_teen_ramp(age),
                "pull": peer_pull(self.net.peer_weights, age, p["peer_influence_rate"]),
            }
        return self._age_cache

    def mean_risk(self) -> np.ndarray:
        """Mean of the six risk factors per youth, computed once a week."""
        if getattr(self, "_mean_risk_week", None) != self.week:
            self._mean_risk = self.pop.x.mean(axis=1)
            self._mean_risk_week = self.week
        return self._mean_risk

    def release(self) -> None:
        """Let the model be garbage-collected once its run is over (called by `run`).

        Mesa 3.x keeps every model as a key of the class-level id counter `Agent._ids`, so a
        process that runs many models (sweeps) would otherwise keep them all in memory. Agents
        created after this would restart their unique ids at 1."""
        Youth._ids.pop(self, None)

    def _update_places(self) -> None:
        """Visible criminal presence per district moves towards its target."""
        p, net = self.p, self.network
        present = net.active
        members = np.bincount(net.district[present], minlength=self.city.n_districts)
        youths = np.bincount(self.pop.district, minlength=self.city.n_districts)
        target = self.city.visibility * self.place_mult + \
            p["visibility_per_member"] * members * 1000.0 / np.maximum(youths, 1)
        self.visibility += p["visibility_relaxation"] * (np.clip(target, 0, 1) - self.visibility)

    def _update_risk(self) -> None:
        p, pop = self.p, self.pop
        u = self.streams["risk"].random(pop.x.shape, dtype=F32)
        pull = self._age_terms()["pull"]
        mu = self.mu_eff
        if self.week % PEER_EVERY == 0 or self._peer_mean is None:
            self._peer_mean = self.net.peer_weights @ pop.x[:, :PEER_FACTORS]
        update_risk(pop.x, mu, self._peer_mean, pull, p["risk_relaxation_rate"],
                    p["risk_noise_sd"], u)
        hit = self.streams["shock"].random(pop.n, dtype=F32) < rc.weekly_prob(p["shock_rate"])
        apply_shocks(pop.x, hit, p["shock_size"])

    def exposure(self) -> dict[str, np.ndarray]:
        """Per-youth exposure to involved friends, siblings, schoolmates and visible criminals."""
        pop, st, net = self.pop, self.stage, self.network
        n = pop.n
        involved = np.flatnonzero((st >= NORM_BREAKING) & (st <= MEMBER))
        away = (st == MEMBER) & (self.member_id >= 0)
        away[away] = net.status[self.member_id[away]] == rc.INCARCERATED
        in_network = np.flatnonzero(((st == PERIPHERAL) | (st == MEMBER)) & ~away)
        out_deg = np.diff(self.net.peers.indptr).astype(F32)
        share = _in_neighbour_counts(self._peers_t, involved, n) / np.maximum(out_deg, 1)
        friends2 = _in_neighbour_counts(self._peers_t, in_network, n)
        sib_inv = _in_neighbour_counts(self._sibs, involved, n) > 0
        sib2 = _in_neighbour_counts(self._sibs, in_network, n) > 0
        n_schools = pop.school_type.size
        sch = pop.school[in_network]
        per_school = np.bincount(sch[sch >= 0], minlength=n_schools).astype(F32)
        school2 = np.where(pop.school >= 0, per_school[np.maximum(pop.school, 0)], 0)
        school2 = np.maximum(school2 - friends2, 0)
        return {"share": share, "friends2": friends2, "sib_inv": sib_inv, "sib2": sib2,
                "school2": school2}

    def place_exposure(self, idx: np.ndarray) -> np.ndarray:
        """Visible criminals in the district × time outdoors (mean of exclusion and lack of
        positive context), for youths `idx`."""
        x = self.pop.x[idx]
        return self.visibility[self.pop.district[idx]].astype(F32) * F32(0.5) * (x[:, 2] + x[:, 3])

    def _transitions(self) -> None:
        """All stage transitions of the week, from the state at the start of the step.

        Each youth has at most two ways out of its stage (a: onward, b: back or out); one uniform
        per youth decides whether and which, so that scenarios share their draws.
        """
        p, pop, st = self.p, self.pop, self.stage.copy()
        u = self.streams["transition"].random(pop.n, dtype=F32)
        ex = self.exposure()
        i0 = np.flatnonzero((st == NONE) & (pop.age >= 10))
        i1 = np.flatnonzero(st == NORM_BREAKING)
        i2 = np.flatnonzero(st == PERIPHERAL)
        i3 = np.flatnonzero(st == MEMBER)
        ages = self._age_terms()
        entry = self._entry_rate(i0, ex, ages["entry"])
        contacts = self._contacts(i1, ex)
        sus = ages["recruit"][i1] * np.exp(p["recruit_susceptibility"] * (pop.x[i1] @ self.betas)
                                           - p["theta_protection"] * self._protection(i1)) \
            * self.recruit_mult[i1]
        recruit = sus * contacts.sum(axis=0)
        ramp = ages["ramp"]
        desist1 = p["desist_rate_stage1"] * ramp[i1] * self.desist_mult[i1]
        progress = p["progression_rate"] * np.minimum(1 + self.years_in_stage[i2], 3)
        quit2 = p["desist_rate_stage2"] * ramp[i2] * self._quit_mult(i2)
        quit3 = p["desist_rate_stage3"] * ramp[i3] * self.desist_mult[i3]
        a0, _ = _compete(u[i0], entry, 0.0)
        a1, b1 = _compete(u[i1], recruit, desist1)
        a2, b2 = _compete(u[i2], progress, quit2)
        _, b3 = _compete(u[i3], 0.0, quit3)
        self._apply(i0[a0], NORM_BREAKING, "entry")
        self._apply(i1[b1], NONE, "desist_norm_breaking")
        self._recruit(i1[a1], contacts[:, a1])
        self._promote(i2[a2])
        self._leave(np.concatenate([i2[b2], i3[b3]]))

    def _entry_rate(self, idx: np.ndarray, ex: dict[str, np.ndarray],
                    age_profile: np.ndarray) -> np.ndarray:
        """Hazard of norm-breaking (0 → 1) per year for youths `idx`."""
        p, x = self.p, self.pop.x[idx]
        z = x @ self.betas
        z -= F32(p["theta_protection"]) * self._protection(idx)
        z += F32(p["gamma_peer"]) * ex["share"][idx]
        z += F32(p["gamma_sibling"]) * ex["sib_inv"][idx]
        z += F32(p["gamma_place"]) * F32(0.5) * (x[:, 2] + x[:, 3]) * \
            self.visibility[self.pop.district[idx]].astype(F32)
        np.exp(z, out=z)
        z *= F32(p["entry_base_rate"]) * age_profile[idx]
        if self.measures.measures:
            z *= self.entry_mult[idx]
        return z

    def _protection(self, idx: np.ndarray) -> np.ndarray:
        prot = self.pop.protection[idx]
        if self.measures.measures:
            prot = np.clip(prot + self.protection_boost[idx], 0, 1)
        return prot

    def _contacts(self, idx: np.ndarray, ex: dict[str, np.ndarray]) -> np.ndarray:
        """Recruitment contact rates per layer (rows: peer, sibling, school, place) per year."""
        p = self.p
        return np.stack([p["recruit_rate_peer"] * ex["friends2"][idx],
                         p["recruit_rate_sibling"] * ex["sib2"][idx],
                         p["recruit_rate_school"] * ex["school2"][idx],
                         p["recruit_rate_place"] * self.place_exposure(idx)])

    def _quit_mult(self, idx: np.ndarray) -> np.ndarray:
        """Desistance multiplier of peripheral youths: exit support, and a recruiter gone."""
        rec = self.recruiter[idx]
        gone = rec >= 0
        gone[gone] = self.network.status[rec[gone]] != rc.ACTIVE
        return self.desist_mult[idx] * np.where(gone, self.p["exit_multiplier_recruiter_gone"], 1.0)

    def _apply(self, idx: np.ndarray, new_stage: int, flow: str) -> None:
        self.stage[idx] = new_stage
        self.years_in_stage[idx] = 0
        self.count_flow(flow, idx)

    def count_flow(self, flow: str, idx: np.ndarray) -> None:
        """Add the youths `idx` to this week's flow `flow`, by district."""
        self._flows[:, FLOW_INDEX[flow]] += np.bincount(self.pop.district[idx],
                                                        minlength=self.city.n_districts)

    def _recruit(self, cand: np.ndarray, contacts: np.ndarray) -> None:
        """Recruit candidates up to the network's open demand; record the carrying layer."""
        rng = self.streams["recruit"]
        u_rank, u_layer = rng.random((2, self.pop.n), dtype=F32)
        if cand.size == 0:
            return
        open_total = int(self.network.open_slots(self._youngers(), self.p["recruiter_max_age"]).sum())
        if cand.size > open_total:
            keep = np.argsort(u_rank[cand], kind="stable")[:open_total]
            cand, contacts = cand[keep], contacts[:, keep]
        if cand.size == 0:
            return
        c = contacts
        cum = np.cumsum(c, axis=0) / np.maximum(c.sum(axis=0), 1e-30)
        layer = (u_layer[cand] > cum).sum(axis=0).clip(0, len(rc.LAYERS) - 1)
        self.recruiter[cand] = self._assign_recruiters(
            keyed_uniform(self._keys(KEY_ASSIGN, cand), self.week))
        self.stage[cand] = PERIPHERAL
        self.years_in_stage[cand] = 0
        for k, name in enumerate(rc.LAYERS):
            self.count_flow(f"recruited_{name}", cand[layer == k])
        self.count_flow("recruited_u18", cand[self.pop.age[cand] < 18])

    def _promote(self, idx: np.ndarray) -> None:
        """Peripheral youths who become network members."""
        if idx.size == 0:
            return
        self.stage[idx] = MEMBER
        self.years_in_stage[idx] = 0
        key = self._keys(KEY_PROMOTED, idx, self.week)
        self.member_id[idx] = self._add_members(self.pop.age[idx], self.pop.district[idx], idx, key)
        self.count_flow("new_members", idx)
        self.count_flow("new_members_u18", idx[self.pop.age[idx] < 18])

    def _leave(self, idx: np.ndarray) -> None:
        """Youths who leave the periphery or the network for good."""
        if idx.size == 0:
            return
        members = self.member_id[idx]
        self.network.status[members[members >= 0]] = rc.INACTIVE
        self.member_id[idx] = -1
        self.recruiter[idx] = -1
        self._apply(idx, EXITED, "exits")

    def _network_turnover(self) -> None:
        net, p = self.network, self.p
        net.turnover(self.week, p, self.incapacitation_mult)
        u = keyed_uniform(self._inflow_key, self.week)[0]
        k = int(np.searchsorted(self._inflow_cdf, u, side="right"))
        if k:
            key = self._keys(KEY_INFLOW, self.week, np.arange(k))
            ages = 20.0 + np.minimum(-6.0 * np.log1p(-keyed_uniform(key, 1)), 25.0)
            w = np.cumsum(self.city.visibility * self.city.youth_share)
            district = np.searchsorted(w / w[-1], keyed_uniform(key, 2), side="right")
            self._add_members(ages, district, -np.ones(k, int), key)

    # ---- the yearly school-year transition ----------------------------------------------------
    def _new_school_year(self) -> None:
        """Cohorts age a year; 21-year-olds leave; newcomers fill their slots; peers redrawn."""
        pop, year = self.pop, self.week // 52
        rng = self.streams.fresh("cohort", year)
        pop.cohort += 1
        leavers = np.flatnonzero(pop.cohort > 20)
        stay_members = self.member_id[leavers]
        self.network.youth[stay_members[stay_members >= 0]] = -1  # they go on as adult members
        ages = self._newcomer_ages(leavers.size)
        self._agent_set(leavers).do("remove")
        replace_leavers(pop, leavers, ages, self.city, rng)
        self.stage[leavers] = NONE
        self.years_in_stage[leavers] = 0
        self.recruiter[leavers] = -1
        self.member_id[leavers] = -1
        self.detected[leavers] = False
        moving = np.flatnonzero(np.isin(pop.cohort, (6, 16, 19)) & ~np.isin(np.arange(pop.n), leavers))
        assign_schools(pop, moving, self.city, rng)
        self._create_agents(leavers)
        self._build_networks(year)
        self._district_matrix()
        self._age_cache = {}
        self._peer_mean = None
        self.measures.new_year(self, leavers)

    def _create_agents(self, slots: np.ndarray) -> None:
        """One Youth agent per slot (each registers itself with the model and in agent_of_slot)."""
        list(map(partial(Youth, self), slots.tolist()))

    def _agent_set(self, slots: np.ndarray) -> AgentSet:
        return AgentSet([self.agent_of_slot[i] for i in slots.tolist()], random=self.random)

    def _newcomer_ages(self, n_slots: int) -> np.ndarray:
        """Ages for newcomers: fill each cohort's shortfall against its documented size."""
        current = np.bincount(self.pop.cohort[self.pop.cohort <= 20], minlength=21)
        target = np.array([self.city.cohort_size.get(a, 0) for a in range(21)])
        deficit = np.maximum(target - current, 0)
        deficit = np.floor(deficit * n_slots / max(deficit.sum(), 1)).astype(int)
        deficit[3] += n_slots - deficit.sum()
        return np.repeat(np.arange(21), deficit).astype(np.int16)

    # ---- recording ------------------------------------------------------------------------
    def _record(self) -> None:
        rec, t, pop, st = self.recorder, self.week, self.pop, self.stage
        d = self.city.n_districts
        rec.stage_counts[t] = np.bincount(pop.district * 5 + st, minlength=d * 5).reshape(d, 5)
        rec.flows[t] = self._flows
        if t % RISK_EVERY == 0:
            counts = np.maximum(np.bincount(pop.district, minlength=d), 1)[:, None]
            rec.risk_mean[t, :, :-1] = (self._dmat @ pop.x) / counts
            rec.risk_mean[t, :, -1] = self.visibility
        net = self.network
        teen = (pop.age >= 13) & (pop.age < 20)
        rec.network[t] = (
            net.active.sum(), (net.active & (net.youth >= 0)).sum(),
            (net.status == rc.INCARCERATED).sum(),
            net.open_slots(self._youngers(), self.p["recruiter_max_age"]).sum(),
            (teen & ((st == PERIPHERAL) | (st == MEMBER))).sum(), teen.sum(), self.cost_this_step,
        )
        assert len(rec.network[t]) == len(NETWORK_SERIES)

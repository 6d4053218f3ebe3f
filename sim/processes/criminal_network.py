"""The criminal network: its members and recruiters, their demand for youngers, and turnover.

Records (`sim.recruitment.CriminalNetwork`) are adult members, youth members (stage 3) and
peripheral youths aged `recruiter_min_age`+ who recruit youngers of their own to advance
(Brå 2023:13: a recruiter needs 2-5 "own youngers"; most people in the lower tiers recruit;
typically a 16-year-old recruits 12-13-year-olds). Members want 2-5 youngers (mean
`youngers_per_recruiter`), peripheral recruiters `youngers_per_peripheral` (0-2).

**Demand and supply of youngers.** A record's open demand is what it wants minus the youngers it
holds among the model's youths and those it holds from outside (older youths, other towns). Open
demand drives recruitment (`sim.processes.involvement`: recruiters who still want youngers search,
so contacts scale with the open demand relative to `open_demand_ref`), and it turns over: it is
created when a recruiter appears or a younger leaves, filled by recruitment, and an open slot the
model's youths do not fill expires into an outside younger at `demand_expiry_rate` per year. With
no expiry the network waits until the model's youths fill its demand: a youth kept out is in the
long run replaced by another (full replacement). With fast expiry demand is met elsewhere and a
youth kept out is not replaced (no replacement). Between the two the share replaced is emergent.

Each week: members age; incarceration and release (× network disruption); adult exits; adult
inflow; peripheral youths who reach the recruiting age get a record; open slots expire and outside
youngers leave. Draws are counter-based per record and week (common random numbers).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim import kernels
from sim import recruitment as rc
from sim.recruitment import ADULT, PERIPHERAL, PERIPHERAL_RECRUITER, YOUTH_MEMBER
from sim.rng import keyed_uniform, keyed_uniforms

KEY_INITIAL_ADULT, KEY_INITIAL_YOUTH, KEY_PROMOTED, KEY_INFLOW, KEY_ASSIGN, KEY_INFLOW_COUNT, \
    KEY_PERIPHERAL = range(7)
# Share of men among adult members joining from outside and at the start (police 2024: 95 % of
# active members are men; priors A1)
ADULT_MEN_SHARE = 0.95


class CriminalNetworkProcess:
    """Owns the network records (`self.net`)."""

    def __init__(self, model: Any):
        self.net = rc.CriminalNetwork()
        lam = model.p["adult_inflow_rate"] / 52.0  # weekly Poisson inflow, drawn by inversion
        self._inflow_cdf = np.cumsum(np.exp(-lam) * lam ** np.arange(8) / np.cumprod(
            np.r_[1.0, np.arange(1, 8)]))
        self._inflow_key = model.keys(KEY_INFLOW_COUNT, 0)
        self.expired = 0

    # ---- records --------------------------------------------------------------------------------
    def add(self, model: Any, age: np.ndarray, district: np.ndarray, youth: np.ndarray,
            key: np.ndarray, tier: int, boy: np.ndarray | bool) -> np.ndarray:
        """New records; their wants and all later draws come from their own keys."""
        u = keyed_uniforms(key, (-1, -2, -3)).T
        if tier == PERIPHERAL_RECRUITER:
            mean = model.p["youngers_per_peripheral"]
            wanted = (u[:, :2] < mean / 2.0).sum(axis=1).astype(np.int8)
        else:
            wanted = rc.wanted_youngers(model.p["youngers_per_recruiter"], u)
        return self.net.add(age, district, wanted, youth, key, tier, boy).astype(np.int32)

    def add_adults(self, model: Any, age: np.ndarray, district: np.ndarray, key: np.ndarray) -> None:
        boy = keyed_uniform(key, -9) < ADULT_MEN_SHARE
        self.add(model, age, district, -np.ones(len(age), int), key, ADULT, boy)

    def promote(self, model: Any, idx: np.ndarray) -> None:
        """Youths `idx` become members: a new record, or their peripheral record moves up a tier
        and wants what a member wants."""
        rec = model.member_id[idx]
        has = rec >= 0
        net = self.net
        if has.any():
            r = rec[has]
            net.tier[r] = YOUTH_MEMBER
            u = keyed_uniforms(net.key[r], (-4, -5, -6)).T
            net.wanted[r] = rc.wanted_youngers(model.p["youngers_per_recruiter"], u)
        new = idx[~has]
        if new.size:
            key = model.keys(KEY_PROMOTED, new, model.week)
            model.member_id[new] = self.add(model, model.pop.age[new], model.pop.district[new], new,
                                            key, YOUTH_MEMBER, model.pop.boy[new])

    def drop(self, model: Any, idx: np.ndarray) -> None:
        """Youths `idx` leave the periphery or the network: their records end."""
        rec = model.member_id[idx]
        self.net.status[rec[rec >= 0]] = rc.INACTIVE
        self.net.outside[rec[rec >= 0]] = 0

    def age_out(self, model: Any, leavers: np.ndarray) -> None:
        """Youths turning 21 leave the model: members go on as adult members, peripheral
        recruiters' records end."""
        rec = model.member_id[leavers]
        rec = rec[rec >= 0]
        net = self.net
        periph = rec[net.tier[rec] == PERIPHERAL_RECRUITER]
        net.status[periph] = rc.INACTIVE
        net.outside[periph] = 0
        net.youth[rec] = -1
        net.tier[rec[net.tier[rec] == YOUTH_MEMBER]] = ADULT

    # ---- demand ---------------------------------------------------------------------------------
    def youngers(self, model: Any) -> np.ndarray:
        held = model.recruiter[np.flatnonzero(model.stage == PERIPHERAL)]
        return np.bincount(held[held >= 0], minlength=self.net.n)

    def open_slots(self, model: Any) -> np.ndarray:
        """Youngers still wanted by each record (compiled in one call with `youngers`)."""
        net = self.net
        out = kernels.open_slots(model.stage, model.recruiter, PERIPHERAL, net.status, net.age,
                                 model.p["recruiter_max_age"], net.wanted, net.outside,
                                 model.demand_mult, rc.ACTIVE)
        if out is not None:
            return out
        return net.open_slots(self.youngers(model), model.p["recruiter_max_age"],
                              model.demand_mult)

    def assign(self, model: Any, u: np.ndarray, open_: np.ndarray | None = None) -> np.ndarray:
        """Recruiters for new youngers (one uniform each): distinct open slots, -1 if none left.

        Each youngster takes the open slot at position ⌊u·open⌋ of the records' open slots;
        clashes move to the next free slot. `open_`: the records' open slots if the caller has
        them for the network as it is now."""
        out = np.full(u.size, -1, np.int32)
        open_ = self.open_slots(model) if open_ is None else open_
        total = int(open_.sum())
        take = min(u.size, total)
        if take == 0:
            return out
        order = np.argsort(u[:take], kind="stable")
        pos = np.floor(u[:take][order] * total).astype(np.int64)
        pos = np.maximum.accumulate(pos - np.arange(take)) + np.arange(take)  # distinct, sorted
        pos = np.minimum(pos, total - take + np.arange(take))
        out[order] = np.searchsorted(np.cumsum(open_), pos, side="right")
        return out

    # ---- the weekly process ---------------------------------------------------------------------
    def step(self, model: Any) -> None:
        net, p = self.net, model.p
        net.turnover(model.week, p, model.incapacitation_mult)
        u = keyed_uniform(self._inflow_key, model.week)[0]
        k = int(np.searchsorted(self._inflow_cdf, u, side="right"))
        if k:
            key = model.keys(KEY_INFLOW, model.week, np.arange(k))
            ages = 20.0 + np.minimum(-6.0 * np.log1p(-keyed_uniform(key, 1)), 25.0)
            w = np.cumsum(model.city.visibility * model.city.youth_share)
            district = np.searchsorted(w / w[-1], keyed_uniform(key, 2), side="right")
            self.add_adults(model, ages, district, key)
        # peripheral youths who reach the recruiting age start recruiting youngers of their own
        st, pop = model.stage, model.pop
        ready = np.flatnonzero(st == PERIPHERAL)
        ready = ready[(model.member_id[ready] < 0) & (pop.age[ready] >= p["recruiter_min_age"])]
        if ready.size:
            key = model.keys(KEY_PERIPHERAL, pop.person_id[ready])
            model.member_id[ready] = self.add(model, pop.age[ready], pop.district[ready], ready, key,
                                              PERIPHERAL_RECRUITER, pop.boy[ready])
        self.expired = net.outside_demand(model.week, self.open_slots(model), p)

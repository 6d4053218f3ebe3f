"""Involvement stages, their hazards, and the criminal network that recruits (pure rules and data).

Stages: 0 none → 1 norm-breaking → 2 peripheral (a recruiter's "younger": errands, drug handling)
→ 3 network member; 4 exited. Rates are per year; a week's probability is 1 − exp(−rate/52).
The processes that apply these rules each week are in `sim.processes.involvement` and
`sim.processes.criminal_network`.

- entry 0→1: base · age profile · sex · exp(risk index + γ_peer·share of involved friends
  + γ_sib·involved sibling + γ_place·place exposure − θ·protection)
- desistance 1→0: rising from 17 to 20 (age-crime curve)
- recruitment 1→2 (*drawn into the periphery*): contacts (friend, sibling, schoolmate in the network,
  visible criminals where the youth spends time) × susceptibility × the recruiters' open demand
  relative to its reference level (mass action: recruiters who still want youngers search);
  capped by the open demand
- deepening 2→3 (*new network member*): rising with time in stage; leaving 2→4 and 3→4, faster when
  the recruiter is gone
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim import kernels
from sim.rng import counter_mix, keyed_uniform

NONE, NORM_BREAKING, PERIPHERAL, MEMBER, EXITED = range(5)
STAGES = ("none", "norm_breaking", "peripheral", "member", "exited")
LAYERS = ("peer", "sibling", "school", "place")
INACTIVE, ACTIVE, INCARCERATED = 0, 1, 2
# tiers of recruiter records: adult members, youth members (stage 3) and peripheral youths aged
# 15+ who recruit youngers of their own to advance (Brå 2023:13: "most people in the lower tiers
# recruit")
ADULT, YOUTH_MEMBER, PERIPHERAL_RECRUITER = range(3)
WEEK = 1.0 / 52.0


def age_profile(age: np.ndarray, peak: float, sd: float, lo: float = 10.0) -> np.ndarray:
    """Gaussian age profile, 1 at `peak`, zero below age `lo`."""
    prof = np.exp(-0.5 * ((age - peak) / sd) ** 2)
    return np.where(age >= lo, prof, 0.0).astype(np.float32)


def weekly_prob(rate: np.ndarray) -> np.ndarray:
    """Probability of at least one event in a week at `rate` per year."""
    return -np.expm1(-rate * WEEK)


def late_teen_ramp(age: np.ndarray) -> np.ndarray:
    """1 before 17, rising linearly to 2 at 20: desistance speeds up with age."""
    return (1.0 + np.clip((age - 17.0) / 3.0, 0.0, 1.0)).astype(np.float32)


def sex_factor(boy: np.ndarray, hazard_ratio: float) -> np.ndarray:
    """Multiplier √HR for boys and 1/√HR for girls: boys' hazard is HR times girls', while the
    mean over an even sex mix stays near the base rate (so base rates keep their meaning)."""
    half = 0.5 * np.log(hazard_ratio)
    return np.exp(np.where(boy, half, -half)).astype(np.float32)


def wanted_youngers(mean: float, u: np.ndarray, lo: int = 2) -> np.ndarray:
    """Youngers each recruiter wants: lo + Binomial(3, p) with mean `mean`; `u` is (n, 3) uniforms."""
    p = np.clip((mean - lo) / 3.0, 0.0, 1.0)
    return (lo + (u < p).sum(axis=1)).astype(np.int8)


@dataclass
class CriminalNetwork:
    """Recruiter records as a growing structure of arrays: active members (youths at stage 3 and
    adults) and peripheral youths aged 15+ who recruit youngers of their own.

    `outside` counts a record's youngers recruited from outside the modelled youths (older youths,
    other towns): an open slot that the model's youths do not fill expires into one of them at the
    rate `demand_expiry_rate`, and such outside youngers leave again at `outside_younger_exit_rate`.
    """

    age: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    district: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    wanted: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    youth: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    status: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    release: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    key: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    tier: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    boy: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    outside: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))

    @property
    def n(self) -> int:
        return self.age.size

    def add(self, age: np.ndarray, district: np.ndarray, wanted: np.ndarray,
            youth: np.ndarray, key: np.ndarray, tier: np.ndarray | int = ADULT,
            boy: np.ndarray | bool = True) -> np.ndarray:
        """Append active records with their stable random keys; return their record indices."""
        k = len(age)
        idx = np.arange(self.n, self.n + k)
        new = {"age": np.asarray(age, np.float32), "district": np.asarray(district, np.int16),
               "wanted": np.asarray(wanted, np.int8), "youth": np.asarray(youth, np.int32),
               "status": np.full(k, ACTIVE, np.int8), "release": np.zeros(k, np.float32),
               "key": np.asarray(key, np.uint64),
               "tier": np.broadcast_to(np.asarray(tier, np.int8), (k,)),
               "boy": np.broadcast_to(np.asarray(boy, bool), (k,)),
               "outside": np.zeros(k, np.int16)}
        n, bufs = self.n, self.__dict__.setdefault("_bufs", {})
        for name, values in new.items():
            # each field is a view of a buffer with room to grow (doubling): appending copies
            # only the new records, where np.concatenate copied every record at each add
            cur, buf = getattr(self, name), bufs.get(name)
            if buf is None or cur.base is not buf or cur.size != n or buf.size < n + k:
                buf = bufs[name] = np.empty(max(2 * (n + k), 64), cur.dtype)
                buf[:n] = cur
            buf[n:n + k] = values
            setattr(self, name, buf[:n + k])
        return idx

    @property
    def active(self) -> np.ndarray:
        return self.status == ACTIVE

    @property
    def members(self) -> np.ndarray:
        """Records that are network members (adults and youths at stage 3), any status."""
        return self.tier != PERIPHERAL_RECRUITER

    def open_slots(self, youngers: np.ndarray, max_age: float, demand_mult: float = 1.0) -> np.ndarray:
        """Youngers still wanted by each record (0 unless active and young enough to recruit).

        `demand_mult` scales what recruiters want (network disruption lowers it)."""
        can = self.active & (self.age <= max_age)
        want = self.wanted if demand_mult == 1.0 else np.floor(self.wanted * demand_mult + 0.5)
        return np.where(can, np.maximum(want - youngers - self.outside, 0), 0).astype(np.int64)

    def turnover(self, week: int, p: dict[str, float], incapacitation_mult: float) -> None:
        """Weekly ageing, incarceration, release and adult exit of members.

        Each record's draws come from its own key and the week (counter-based), so a member has
        the same luck in every scenario, whatever the order or number of other members.
        Peripheral recruiters are not incarcerated here (their exits are the youths' own)."""
        p_inc = weekly_prob(p["incapacitation_rate"] * incapacitation_mult)
        inc = kernels.turnover(self.age, self.status, self.release, self.tier, self.youth,
                               self.key, np.float32(WEEK),
                               (ACTIVE, INCARCERATED, INACTIVE, PERIPHERAL_RECRUITER),
                               np.uint64(counter_mix(2 * week)), p_inc,
                               weekly_prob(p["adult_exit_rate"]))
        if inc is not None:
            sentence_u = keyed_uniform(self.key[inc], 2 * week + 1)
            self.release[inc] = -np.log1p(-sentence_u) * p["sentence_years"]
            return
        self.age += np.float32(WEEK)
        jailed = np.flatnonzero(self.status == INCARCERATED)
        self.release[jailed] -= np.float32(WEEK)
        self.status[jailed[self.release[jailed] <= 0]] = ACTIVE
        act = np.flatnonzero((self.status == ACTIVE) & self.members)
        u = keyed_uniform(self.key[act], 2 * week)
        p_exit = np.where(self.youth[act] < 0, weekly_prob(p["adult_exit_rate"]), 0.0)
        inc = act[u < p_inc]
        out = act[(u >= p_inc) & (u < p_inc + p_exit)]
        self.status[inc] = INCARCERATED
        sentence_u = keyed_uniform(self.key[inc], 2 * week + 1)
        self.release[inc] = -np.log1p(-sentence_u) * p["sentence_years"]
        self.status[out] = INACTIVE

    def outside_demand(self, week: int, open_: np.ndarray, p: dict[str, float]) -> int:
        """Open slots that expire into youngers from outside the model, and outside youngers who
        leave; returns the number of expired slots this week (counter-based draws per record)."""
        cand = np.flatnonzero(open_ > 0)
        expire = cand[keyed_uniform(self.key[cand], 1_000_003 + 2 * week)
                      < weekly_prob(p["demand_expiry_rate"] * open_[cand])]
        held = np.flatnonzero(self.outside > 0)
        leave = held[keyed_uniform(self.key[held], 1_000_004 + 2 * week)
                     < weekly_prob(p["outside_younger_exit_rate"] * self.outside[held])]
        self.outside[expire] += 1
        self.outside[leave] -= 1
        return int(expire.size)

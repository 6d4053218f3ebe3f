"""Involvement stages, their hazards, and the criminal network that recruits.

Stages: 0 none → 1 norm-breaking → 2 peripheral (a member's "younger": errands, drug handling)
→ 3 network member; 4 exited. Rates are per year; a week's probability is 1 − exp(−rate/52).

- entry 0→1: base · age profile · exp(risk index + γ_peer·share of involved friends
  + γ_sib·involved sibling + γ_place·place exposure − θ·protection)
- desistance 1→0: rising from 17 to 20 (age-crime curve)
- recruitment 1→2: a contact (friend, sibling, schoolmate at stage ≥2, or visible criminals where the
  youth spends time) times susceptibility; capped by the open demand of recruiting members
- deepening 2→3: rising with time in stage; leaving 2→4 and 3→4, faster when the recruiter is gone
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.rng import keyed_uniform

NONE, NORM_BREAKING, PERIPHERAL, MEMBER, EXITED = range(5)
STAGES = ("none", "norm_breaking", "peripheral", "member", "exited")
LAYERS = ("peer", "sibling", "school", "place")
INACTIVE, ACTIVE, INCARCERATED = 0, 1, 2
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


def wanted_youngers(mean: float, u: np.ndarray) -> np.ndarray:
    """Youngers each recruiter wants: 2 + Binomial(3, p) with mean `mean`; `u` is (n, 3) uniforms."""
    p = np.clip((mean - 2.0) / 3.0, 0.0, 1.0)
    return (2 + (u < p).sum(axis=1)).astype(np.int8)


@dataclass
class CriminalNetwork:
    """Active members (youths at stage 3 and adults) as a growing structure of arrays."""

    age: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    district: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    wanted: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    youth: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    status: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    release: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    key: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))

    @property
    def n(self) -> int:
        return self.age.size

    def add(self, age: np.ndarray, district: np.ndarray, wanted: np.ndarray,
            youth: np.ndarray, key: np.ndarray) -> np.ndarray:
        """Append active members with their stable random keys; return their record indices."""
        k = len(age)
        idx = np.arange(self.n, self.n + k)
        self.age = np.r_[self.age, np.asarray(age, np.float32)]
        self.district = np.r_[self.district, np.asarray(district, np.int16)]
        self.wanted = np.r_[self.wanted, np.asarray(wanted, np.int8)]
        self.youth = np.r_[self.youth, np.asarray(youth, np.int32)]
        self.status = np.r_[self.status, np.full(k, ACTIVE, np.int8)]
        self.release = np.r_[self.release, np.zeros(k, np.float32)]
        self.key = np.r_[self.key, np.asarray(key, np.uint64)]
        return idx

    @property
    def active(self) -> np.ndarray:
        return self.status == ACTIVE

    def open_slots(self, youngers: np.ndarray, max_age: float) -> np.ndarray:
        """Youngers still wanted by each member (0 unless active and young enough to recruit)."""
        can = self.active & (self.age <= max_age)
        return np.where(can, np.maximum(self.wanted - youngers, 0), 0).astype(np.int64)

    def turnover(self, week: int, p: dict[str, float], incapacitation_mult: float) -> None:
        """Weekly ageing, incarceration, release and adult exit.

        Each member's draws come from its own key and the week (counter-based), so a member has
        the same luck in every scenario, whatever the order or number of other members."""
        u = keyed_uniform(self.key, 2 * week)
        sentence_u = keyed_uniform(self.key, 2 * week + 1)
        self.age += np.float32(WEEK)
        jailed = self.status == INCARCERATED
        self.release[jailed] -= np.float32(WEEK)
        self.status[jailed & (self.release <= 0)] = ACTIVE
        act = self.status == ACTIVE
        p_inc = weekly_prob(p["incapacitation_rate"] * incapacitation_mult)
        p_exit = np.where(self.youth < 0, weekly_prob(p["adult_exit_rate"]), 0.0)
        inc = act & (u < p_inc)
        out = act & ~inc & (u < p_inc + p_exit)
        self.status[inc] = INCARCERATED
        self.release[inc] = -np.log1p(-sentence_u[inc]) * p["sentence_years"]
        self.status[out] = INACTIVE

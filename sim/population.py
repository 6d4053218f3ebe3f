"""A synthetic population of Umeå's youths, built deterministically from a seed.

Youths aged 3-20 in households (siblings), districts, schools and classes, with the six
individual/household risk factors and a protective score. The builder matches the documented
margins in `sim/data/umea.yaml`: cohort sizes (≈17,000 aged 10-20), child economic
vulnerability (6.6 % city-wide, higher in the north-east), year-9 ineligibility for upper
secondary (≈11 %), classes of about 20.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from sim.risk import FACTOR_INDEX

CITY_FILE = Path(__file__).with_name("data") / "umea.yaml"
MIN_AGE, MAX_AGE = 3, 20
PRESCHOOL, COMPULSORY, UPPER_SECONDARY = 0, 1, 2
SCHOOL_START = {PRESCHOOL: 3, COMPULSORY: 6, UPPER_SECONDARY: 16}
YEAR9_COHORT = 15


def sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


@dataclass(frozen=True)
class City:
    """The static geography and margins of Umeå (from sim/data/umea.yaml)."""

    districts: tuple[str, ...]
    youth_share: np.ndarray
    econ_rr: np.ndarray
    visibility: np.ndarray
    neighbours: np.ndarray  # (D, D) row-normalised adjacency, for displacement
    cohort_size: dict[int, int]
    econ_share: float
    year9_not_eligible: float
    class_size: int
    preschool_group_size: int
    pupils_per_school: int
    upper_secondary_schools: int
    student_districts: tuple[int, ...]

    @property
    def n_districts(self) -> int:
        return len(self.districts)

    @property
    def econ_prob(self) -> np.ndarray:
        """Per-district probability of an economically vulnerable household (city mean = share)."""
        return self.econ_share * self.econ_rr / float(self.youth_share @ self.econ_rr)

    @property
    def deprivation(self) -> np.ndarray:
        return 0.5 * np.log(self.econ_rr)


@lru_cache(maxsize=2)
def load_city(path: Path | str = CITY_FILE) -> City:
    """Read the city file (safe YAML)."""
    with Path(path).open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    names = tuple(d["name"] for d in raw["districts"])
    idx = {n: i for i, n in enumerate(names)}
    adj = np.zeros((len(names), len(names)))
    for i, d in enumerate(raw["districts"]):
        for nb in d["neighbours"]:
            adj[i, idx[nb]] = adj[idx[nb], i] = 1.0
    sizes: dict[int, int] = {}
    for c in raw["cohorts"]:
        for a in range(c["ages"][0], c["ages"][1] + 1):
            sizes[a] = int(c["size"])
    return City(
        districts=names,
        youth_share=np.array([d["youth_share"] for d in raw["districts"]]),
        econ_rr=np.array([d["econ_rr"] for d in raw["districts"]]),
        visibility=np.array([d["visibility"] for d in raw["districts"]]),
        neighbours=adj / adj.sum(axis=1, keepdims=True),
        cohort_size=sizes,
        econ_share=float(raw["economic_vulnerability_share"]),
        year9_not_eligible=float(raw["year9_not_eligible_share"]),
        class_size=int(raw["class_size"]),
        preschool_group_size=int(raw["preschool_group_size"]),
        pupils_per_school=int(raw["pupils_per_compulsory_school"]),
        upper_secondary_schools=int(raw["upper_secondary_schools"]),
        student_districts=tuple(idx[n] for n in raw["student_districts"]),
    )


@dataclass
class Population:
    """Youths as a structure of arrays; row i is the youth in slot i."""

    age: np.ndarray            # float32 years
    cohort: np.ndarray         # int16: age at the last school-year start
    boy: np.ndarray            # bool
    district: np.ndarray       # int16
    household: np.ndarray      # int32
    econ_flag: np.ndarray      # bool: economically vulnerable household
    hh_latent: np.ndarray      # float32: household adversity (shared by siblings)
    school: np.ndarray         # int32, -1 = none
    klass: np.ndarray          # int32, -1 = none
    mu: np.ndarray             # (N, 6) float32 baselines
    x: np.ndarray              # (N, 6) float32 current risk factors
    protection: np.ndarray     # float32 baseline protective score in [0, 1]
    school_type: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    school_climate: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    school_district: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    n_classes: int = 0
    school_failure_intercept: float = 0.0
    # persistent individual draws behind the living baselines (N, 5): school failure, mental
    # ill-health, exclusion, lack of positive context, protection (normal), economic position (uniform)
    z: np.ndarray = field(default_factory=lambda: np.zeros((0, 6), np.float32))
    person_id: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # stable id
    entry_week: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    next_person: int = 0

    @property
    def n(self) -> int:
        return self.age.size


def _district_school_counts(city: City) -> np.ndarray:
    pupils = city.youth_share * sum(city.cohort_size[a] for a in range(6, 16))
    return np.maximum(1, np.round(pupils / city.pupils_per_school)).astype(int)


def _make_schools(city: City, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Preschools and compulsory schools in every district, upper-secondary schools city-wide."""
    per_d = _district_school_counts(city)
    d_ids = np.repeat(np.arange(city.n_districts), per_d)
    centrum = city.districts.index("Centrum") if "Centrum" in city.districts else 0
    types = np.r_[np.full(d_ids.size, PRESCHOOL), np.full(d_ids.size, COMPULSORY),
                  np.full(city.upper_secondary_schools, UPPER_SECONDARY)].astype(np.int8)
    dists = np.r_[d_ids, d_ids, np.full(city.upper_secondary_schools, centrum)].astype(np.int16)
    climate = rng.normal(0.0, 0.3, types.size).astype(np.float32)
    return types, dists, climate


def _school_choice(pop: Population, idx: np.ndarray, stype: int, rng: np.random.Generator) -> np.ndarray:
    """A school of type `stype` for youths `idx`: in their district, or city-wide at upper secondary."""
    ids = np.flatnonzero(pop.school_type == stype)
    if stype == UPPER_SECONDARY:
        return ids[rng.integers(0, ids.size, idx.size)]
    out = np.empty(idx.size, np.int32)
    u = rng.random(idx.size)
    for d in np.unique(pop.district[idx]):
        cand = ids[pop.school_district[ids] == d]
        sel = pop.district[idx] == d
        out[sel] = cand[(u[sel] * cand.size).astype(int)]
    return out


def assign_schools(pop: Population, idx: np.ndarray, city: City, rng: np.random.Generator) -> None:
    """Place youths `idx` in a school by age and split each (school, cohort) into classes."""
    coh = pop.cohort[idx]
    pop.school[idx] = -1
    pop.klass[idx] = -1
    for stype, (lo, hi) in {PRESCHOOL: (3, 5), COMPULSORY: (6, 15), UPPER_SECONDARY: (16, 18)}.items():
        sel = idx[(coh >= lo) & (coh <= hi)]
        if sel.size:
            pop.school[sel] = _school_choice(pop, sel, stype, rng)
    enrolled = idx[pop.school[idx] >= 0]
    if not enrolled.size:
        return
    key = pop.school[enrolled].astype(np.int64) * 64 + pop.cohort[enrolled]
    order = np.lexsort((rng.random(enrolled.size), key))
    keys, start, counts = np.unique(key[order], return_index=True, return_counts=True)
    rank = np.arange(order.size) - np.repeat(start, counts)
    size = np.where(pop.school_type[keys // 64] == PRESCHOOL, city.preschool_group_size,
                    city.class_size)
    n_cls = np.maximum(1, np.round(counts / size)).astype(np.int64)
    offset = pop.n_classes + np.r_[0, np.cumsum(n_cls)[:-1]]
    grp = np.repeat(np.arange(keys.size), counts)
    pop.klass[enrolled[order]] = offset[grp] + rank % n_cls[grp]
    pop.n_classes += int(n_cls.sum())


def _sibling_households(age: np.ndarray, district: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Link youths into sibling chains within districts; return a household id per youth."""
    n = age.size
    hh = np.arange(n)
    wants = rng.random(n) < 0.5  # has a next-younger sibling (assumption: ≈ 2 children per family)
    gap = 1 + np.minimum(rng.poisson(1.5, n), 5)
    target = age - gap
    # youths by (age, district) and those wanting a younger sibling by (target age, district),
    # each group in slot order: slices of these replace a scan of all youths per age and district
    # (a youth is linked to an older sibling only in its own age's pass, so every youth of the
    # age and district in a pass is still free to be one)
    span = int(district.max()) + 1
    cand_key = age.astype(np.int64) * span + district
    cand_all = np.argsort(cand_key, kind="stable")
    cand_key = cand_key[cand_all]
    req_all = np.flatnonzero(wants)
    req_key = target[req_all] * span + district[req_all]
    order = np.argsort(req_key, kind="stable")
    req_all, req_key = req_all[order], req_key[order]
    districts = np.unique(district).tolist()
    for a in range(MAX_AGE - 1, MIN_AGE - 1, -1):
        for d in districts:
            k = a * span + d
            req = req_all[np.searchsorted(req_key, k):np.searchsorted(req_key, k, "right")]
            cand = cand_all[np.searchsorted(cand_key, k):np.searchsorted(cand_key, k, "right")]
            m = min(req.size, cand.size)
            if m:
                req, cand = rng.permutation(req)[:m], rng.permutation(cand)[:m]
                hh[cand] = hh[req]
    return np.unique(hh, return_inverse=True)[1].astype(np.int32)


# Mental ill-health by age and sex (Folkhälsomyndigheten, Skolbarns hälsovanor 2017/18, priors A6):
# recurrent psychological or somatic complaints in 30 % of boys aged 11-15, 41 % of girls aged 11 and
# 62 % of girls aged 15. The intercepts put that share of youths above 0.5 on the score, given the
# linear term's sd of ≈0.86; girls rise linearly from the boys' level at 9 to 41 % at 11 and 62 % at 15
# (ages outside the survey: assumption, flat).
MENTAL_BOYS = -0.45
MENTAL_GIRLS = ((9.0, -0.45), (11.0, -0.196), (15.0, 0.262))
MENTAL_SD = float(np.sqrt(0.5 ** 2 + 0.7 ** 2))


def mental_intercept(age: np.ndarray, boy: np.ndarray) -> np.ndarray:
    """Log-odds intercept of the mental ill-health baseline by age and sex."""
    ages, vals = zip(*MENTAL_GIRLS, strict=True)
    girls = np.interp(age, ages, vals)
    return np.where(boy, MENTAL_BOYS, girls).astype(np.float32)


def baseline_risk(boy: np.ndarray, age: np.ndarray, econ_flag: np.ndarray,
                  hh_latent: np.ndarray, deprivation: np.ndarray, climate: np.ndarray,
                  z: np.ndarray,
                  school_intercept: float) -> tuple[np.ndarray, np.ndarray]:
    """Living baselines μ (N, 6) and the protective score from a youth's current attributes.

    A pure function of age, sex, household (economic flag, latent adversity), the district's
    deprivation, the climate of the school attended now and the youth's persistent draws `z`
    (N, 6): recomputing it as a youth ages or changes school moves its baselines,
    while the same youth keeps its own position in each distribution.
    """
    f = econ_flag.astype(np.float32)
    mu = np.empty((age.size, 6), np.float32)
    u = z[:, 5]
    econ = np.where(econ_flag, 0.65 + 0.3 * u, 0.05 + 0.35 * u ** 1.6)
    mu[:, FACTOR_INDEX["economic_vulnerability"]] = econ
    mu[:, FACTOR_INDEX["vulnerable_family"]] = sigmoid(-1.8 + 0.9 * f + 0.8 * hh_latent)
    mu[:, FACTOR_INDEX["school_failure"]] = sigmoid(
        school_intercept + school_linear(f, hh_latent, climate, boy, z[:, 0]))
    mu[:, FACTOR_INDEX["mental_ill_health"]] = sigmoid(mental_intercept(age, boy)
                                                       + 0.5 * hh_latent + 0.7 * z[:, 1])
    mu[:, FACTOR_INDEX["exclusion"]] = sigmoid(-1.6 + 0.6 * f + deprivation + 0.3 * hh_latent
                                               + 0.7 * z[:, 2])
    mu[:, FACTOR_INDEX["lack_of_positive_context"]] = sigmoid(-1.3 + 0.8 * f + 0.3 * deprivation
                                                              + 0.7 * z[:, 3])
    protection = sigmoid(0.4 - 0.8 * hh_latent + 0.7 * z[:, 4]).astype(np.float32)
    return mu, protection


def school_linear(f: np.ndarray, hh_latent: np.ndarray, climate: np.ndarray, boy: np.ndarray,
                  z: np.ndarray) -> np.ndarray:
    """The school-failure log-odds before the intercept."""
    return 0.9 * f + 0.5 * hh_latent + climate + 0.3 * boy + 0.9 * z


def build_population(seed: int, city: City | None = None, shrink: float = 1.0) -> Population:
    """Build the synthetic population for `seed` (identical for every scenario run with it).

    `shrink` is the share of a youth's deviation from the mean that survives the peer pull in the
    steady state of the risk dynamics (κ/(κ+η)): the school-failure intercept is solved so that the
    documented share of year-9 pupils is above 0.5 *after* that pull, not only at baseline."""
    from sim.rng import make_stream

    city = city or load_city()
    rng = make_stream(seed, "population")
    cohorts = np.repeat(np.arange(MIN_AGE, MAX_AGE + 1),
                        [city.cohort_size[a] for a in range(MIN_AGE, MAX_AGE + 1)]).astype(np.int16)
    n = cohorts.size
    district = rng.choice(city.n_districts, size=n, p=city.youth_share).astype(np.int16)
    household = _sibling_households(cohorts, district, rng)
    n_hh = int(household.max()) + 1
    hh_district = np.zeros(n_hh, np.int16)
    hh_district[household] = district
    hh_flag = rng.random(n_hh) < city.econ_prob[hh_district]
    hh_z = rng.normal(size=n_hh).astype(np.float32)
    types, sdist, climate = _make_schools(city, rng)
    pop = Population(
        age=(cohorts + rng.random(n)).astype(np.float32), cohort=cohorts,
        boy=rng.random(n) < 0.51, district=district, household=household,
        econ_flag=hh_flag[household], hh_latent=hh_z[household],
        school=np.full(n, -1, np.int32), klass=np.full(n, -1, np.int32),
        mu=np.zeros((n, 6), np.float32), x=np.zeros((n, 6), np.float32),
        protection=np.zeros(n, np.float32), school_type=types, school_climate=climate,
        school_district=sdist, z=np.zeros((n, 6), np.float32),
        person_id=np.arange(n, dtype=np.int64), entry_week=np.zeros(n, np.int32), next_person=n,
    )
    assign_schools(pop, np.arange(n), city, rng)
    draw_individual(pop, np.arange(n), rng)
    pop.school_failure_intercept = _school_intercept(pop, city, shrink)
    living_baselines(pop, np.arange(n), city)
    start_state(pop, np.arange(n), rng)
    return pop


def _school_intercept(pop: Population, city: City, shrink: float = 1.0) -> float:
    """Intercept that puts the documented share of year-9 pupils above 0.5 (not eligible) once the
    baselines are shrunk towards their mean by `shrink` (bisection on the intercept)."""
    y9 = np.flatnonzero(pop.cohort == YEAR9_COHORT)
    clim = pop.school_climate[pop.school[y9]]
    lin = school_linear(pop.econ_flag[y9].astype(np.float32), pop.hh_latent[y9], clim,
                        pop.boy[y9], pop.z[y9, 0])
    target = city.year9_not_eligible
    lo, hi = -12.0, 6.0
    for _ in range(50):
        c = 0.5 * (lo + hi)
        mu = sigmoid(c + lin)
        share = ((shrink * mu + (1.0 - shrink) * mu.mean()) > 0.5).mean()
        lo, hi = (c, hi) if share < target else (lo, c)
    return float(0.5 * (lo + hi))


def draw_individual(pop: Population, idx: np.ndarray, rng: np.random.Generator) -> None:
    """The persistent individual draws of youths `idx` (new persons)."""
    z = rng.normal(size=(idx.size, 6)).astype(np.float32)
    z[:, 5] = rng.random(idx.size)
    pop.z[idx] = z


def living_baselines(pop: Population, idx: np.ndarray, city: City) -> None:
    """Recompute μ and protection of youths `idx` from their age, sex, household, the school they
    attend now and their district now (called at set-up and every school year)."""
    sch = pop.school[idx]
    climate = np.where(sch >= 0, pop.school_climate[np.maximum(sch, 0)], 0.0).astype(np.float32)
    mu, prot = baseline_risk(pop.boy[idx], pop.age[idx], pop.econ_flag[idx], pop.hh_latent[idx],
                             city.deprivation[pop.district[idx]], climate, pop.z[idx],
                             pop.school_failure_intercept)
    pop.mu[idx] = mu
    pop.protection[idx] = prot


def start_state(pop: Population, idx: np.ndarray, rng: np.random.Generator) -> None:
    """Current risk factors of new persons: their baselines with a small deviation."""
    pop.x[idx] = np.clip(pop.mu[idx] + rng.normal(0, 0.05, (idx.size, 6)), 0, 1)


def replace_leavers(pop: Population, slots: np.ndarray, ages: np.ndarray, city: City,
                    rng: np.random.Generator, week: int = 0) -> None:
    """Fill freed slots with newcomers of the given integer ages.

    Newcomers are the new cohort of 3-year-olds and youths moving in (students at 19-20 living in
    the student districts, families at other ages). Half of the 3-year-olds join a household that
    has a child aged 4-8 (a younger sibling); all others form new households. Each newcomer is a
    new person with a new stable id.
    """
    n = slots.size
    pop.cohort[slots] = ages
    pop.age[slots] = ages + rng.random(n).astype(np.float32)
    pop.boy[slots] = rng.random(n) < 0.51
    young = np.flatnonzero((pop.cohort >= 4) & (pop.cohort <= 8))
    sib = (ages == MIN_AGE) & (rng.random(n) < 0.5) & (young.size > 0)
    older = young[rng.integers(0, max(young.size, 1), n)] if young.size else np.zeros(n, int)
    student = ages >= 19
    district = rng.choice(city.n_districts, size=n, p=city.youth_share)
    district[student] = np.asarray(city.student_districts)[
        rng.integers(0, len(city.student_districts), int(student.sum()))]
    new_hh = int(pop.household.max()) + 1 + np.arange(n)
    pop.household[slots] = np.where(sib, pop.household[older], new_hh)
    pop.district[slots] = np.where(sib, pop.district[older], district)
    flag = rng.random(n) < city.econ_prob[pop.district[slots]]
    pop.econ_flag[slots] = np.where(sib, pop.econ_flag[older], flag)
    pop.hh_latent[slots] = np.where(sib, pop.hh_latent[older], rng.normal(size=n))
    pop.person_id[slots] = pop.next_person + np.arange(n)
    pop.next_person += n
    pop.entry_week[slots] = week
    assign_schools(pop, slots, city, rng)
    draw_individual(pop, slots, rng)
    living_baselines(pop, slots, city)
    start_state(pop, slots, rng)

"""The per-agent Mesa reference (benchmarks/reference_mesa.py) and the engine implement the same
reduced rules: the same hazards and risk paths for the same state, and the same distribution of
outcomes over seeds (issue 11.4).

A small city (a twentieth of Umeå, 1,351 youths) with involvement rates raised so that every
transition happens often enough to be compared; the recruiters' search pressure is fixed at 1.
Outcomes are compared seed by seed (both models start from the same engine model of each seed)
with paired t-tests at a family-wise alpha of 0.01 (Bonferroni over the compared outcomes). The
same comparison flags the engine side when one rule is changed: entry ×1.3, desistance ×1.44,
recruitment susceptibility ρ 1 → 1.5, deepening ×2, no peer influence, relaxation κ ×1.5.
"""

from __future__ import annotations

import copy
import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from sim.model import UmeaModel
from sim.population import load_city
from sim.recruitment import age_profile, sex_factor

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from reference_mesa import (  # noqa: E402
    ReferenceModel,
    VectorisedReduced,
    inputs_from_model,
    outcomes,
)

_UMEA = load_city()
CITY = dataclasses.replace(_UMEA, cohort_size={a: s // 20 for a, s in _UMEA.cohort_size.items()})
RATES = {"initial_active_members": 4, "entry_base_rate": 0.3, "recruit_rate_peer": 2.0,
         "recruit_rate_sibling": 2.0, "recruit_rate_school": 0.2, "recruit_rate_place": 4.0,
         "progression_rate": 0.5}
PRESSURE = 1.0
SEEDS = range(12)
WEEKS = 26
ALPHA = 0.01  # family-wise, over all compared outcomes (Bonferroni)
# transitions per 1,000 youth-weeks at risk, and the mean and sd of every factor after 26 weeks
COMPARED = ("rate_entry", "rate_desist", "rate_recruited", "rate_new_member",
            *(f"{s}_{f}" for s in ("mean", "sd") for f in (
                "school_failure", "mental_ill_health", "exclusion", "lack_of_positive_context",
                "economic_vulnerability", "vulnerable_family")))


def engine(seed: int, **params: float) -> UmeaModel:
    return UmeaModel(seed=seed, years=1, city=CITY, **{**RATES, **params})


@pytest.fixture(scope="module")
def built() -> dict[int, UmeaModel]:
    """One engine model per seed, never stepped (the tests step copies)."""
    return {seed: engine(seed) for seed in SEEDS}


def run_vectorised(model: UmeaModel, seed: int, **change: float) -> dict[str, float]:
    """The reduced rules on a copy of `model`, with parameters changed after it was built (the
    same population, networks and initial state)."""
    model = copy.deepcopy(model)
    model.p.update(change)
    vec = VectorisedReduced(model, seed=seed, pressure=PRESSURE)
    for _ in range(WEEKS):
        vec.step()
    return outcomes(vec)


@pytest.fixture(scope="module")
def paired(built) -> tuple[list[dict], list[dict]]:
    """Both reduced models from the same population and networks, seed by seed."""
    ref_rows, vec_rows = [], []
    for seed in SEEDS:
        model = copy.deepcopy(built[seed])
        ref = ReferenceModel(inputs_from_model(model, pressure=PRESSURE), seed=seed)
        vec = VectorisedReduced(model, seed=seed, pressure=PRESSURE)
        for _ in range(WEEKS):
            ref.step()
            vec.step()
        ref_rows.append(outcomes(ref))
        vec_rows.append(outcomes(vec))
    return ref_rows, vec_rows


def disagreements(a: list[dict], b: list[dict]) -> dict[str, float]:
    """Outcomes whose seed-by-seed differences have a mean other than 0 (paired t-test,
    Bonferroni over COMPARED at family-wise level ALPHA): name -> p-value."""
    out = {}
    for name in COMPARED:
        x, y = np.array([r[name] for r in a]), np.array([r[name] for r in b])
        if np.array_equal(x, y):
            continue
        p = stats.ttest_rel(x, y).pvalue
        if p < ALPHA / len(COMPARED):
            out[name] = float(p)
    return out


def test_same_hazards_for_the_same_state():
    """At week 0 every youth's entry and recruitment hazard is the engine's (float32 precision)."""
    model = engine(3)
    ref = ReferenceModel(inputs_from_model(model, pressure=PRESSURE), seed=0)
    vec = VectorisedReduced(model, seed=0, pressure=PRESSURE)
    p, pop = model.p, model.pop
    ex = model.involvement.exposure(model)
    i0 = np.flatnonzero((model.stage == 0) & (pop.age >= 10))
    ages = {"entry": age_profile(pop.age, p["entry_age_peak"], p["entry_age_sd"])
            * sex_factor(pop.boy, p["sex_hr_entry"])}
    engine_entry = model.involvement.entry_rate(model, i0, ex, ages)
    ref_entry = np.array([ref.youths[i].entry_rate(p, ref.youths[i].x) for i in i0])
    assert i0.size > 500
    np.testing.assert_allclose(ref_entry, engine_entry, rtol=1e-5)
    for a in ref.youths:  # what ReferenceModel.step counts before the agents act
        if a.stage in (2, 3) and a.school >= 0:
            ref.in_network_at_school[a.school] += 1
    i1 = np.flatnonzero(model.stage == 1)
    contacts = model.involvement.contacts(model, i1, ex, vec.pressure).sum(axis=0)
    engine_recruit = age_profile(pop.age[i1], p["recruit_age_peak"], p["recruit_age_sd"]) * \
        sex_factor(pop.boy[i1], p["sex_hr_recruit"]) * contacts * \
        np.exp(p["recruit_susceptibility"] * (pop.x[i1] @ model.betas) - p["theta_protection"]
               * pop.protection[i1])
    ref_recruit = np.array([ref.youths[i].recruit_rate(p, ref.youths[i].x) for i in i1])
    assert i1.size > 20 and (engine_recruit > 0).sum() > 10
    np.testing.assert_allclose(ref_recruit, engine_recruit, rtol=1e-5, atol=1e-9)


def test_same_risk_paths_without_noise():
    """Without noise and crises the risk dynamics are deterministic: both models follow the same
    path youth by youth (drift, peer pull with the friends' mean of last week, clipping)."""
    model = engine(4, risk_noise_sd=0.0, shock_rate=0.0)
    start = model.pop.x.copy()
    ref = ReferenceModel(inputs_from_model(model, pressure=PRESSURE), seed=1)
    vec = VectorisedReduced(model, seed=2, pressure=PRESSURE)
    for _ in range(26):
        ref.step()
        vec.step()
    assert np.abs(vec.x - start).max() > 0.05  # the factors did move
    np.testing.assert_allclose(ref.x, vec.x, atol=2e-5)


def test_same_distribution_of_outcomes(paired):
    """Transition rates over 26 weeks and the mean and sd of every risk factor at the end agree
    seed by seed (paired t-tests, family-wise alpha 0.01)."""
    ref_rows, vec_rows = paired
    for rows in paired:  # every compared transition happens often enough to be compared
        assert min(sum(r[name] for r in rows) for name in ("desist", "new_member")) > 100
        assert min(sum(r[name] for r in rows) for name in ("entry", "recruited")) > 400
    assert disagreements(ref_rows, vec_rows) == {}


@pytest.mark.parametrize("change, flagged", [
    ({"entry_base_rate": RATES["entry_base_rate"] * 1.3}, "rate_entry"),
    ({"desist_rate_stage1": 0.65}, "rate_desist"),
    ({"recruit_susceptibility": 1.5}, "rate_recruited"),
    ({"progression_rate": RATES["progression_rate"] * 2}, "rate_new_member"),
    ({"peer_influence_rate": 0.0}, "sd_exclusion"),
    ({"risk_relaxation_rate": 0.03}, "sd_"),  # the spread of some factor
])
def test_the_comparison_detects_a_changed_rule(built, paired, change, flagged):
    """The same comparison fails when the engine side runs another rule: the test can fail."""
    ref_rows, _ = paired
    changed = [run_vectorised(built[seed], seed, **change) for seed in SEEDS]
    assert any(name.startswith(flagged) for name in disagreements(ref_rows, changed))

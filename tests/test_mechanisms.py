"""Issue 8: the policy levers answer by mechanism, not by construction.

Each test builds the smallest scenario that shows one mechanism: lasting effects of an early
measure reach the recruitment ages; detection helps only where there are places (and otherwise
lengthens the waiting list); household measures reach siblings; consent is a family trait;
the compulsory path fires above its threshold only; network disruption lowers recruitment
without freeing demand; a measure delivered with fidelity 0 changes nothing but the cost; the
ledgers add up.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from sim.interventions import InterventionSpec
from sim.interventions.ledger import by_group, ledger_tables
from sim.interventions.measures import known
from sim.model import UmeaModel
from sim.population import load_city
from sim.results import FLOW_INDEX, NETWORK_SERIES
from sim.risk import FACTOR_INDEX
from sim.runner import build_model
from sim.scenario import load_scenario

EXACT = {"effect_scaling": 1.0}
RECRUITED = [FLOW_INDEX[f"recruited_{k}"] for k in ("peer", "sibling", "school", "place")]


def eff(on: str, value: float) -> dict:
    return {"acts_on": on, "value": value, "range": [0.0, max(value, 0.0)],
            "source": "assumption: test"}


INTERVENTION_FLOWS = [FLOW_INDEX[f] for f in ("reached", "placements", "offers_declined")]
OUTCOME_FLOWS = [k for k in range(len(FLOW_INDEX)) if k not in INTERVENTION_FLOWS]


def small_city():
    """A third of Umeå (and of its network) for the long runs: the mechanism, not the size."""
    c = load_city()
    return dataclasses.replace(c, cohort_size={k: v // 3 for k, v in c.cohort_size.items()})


SMALL = small_city()


def run(specs, years=2, seed=1, city=SMALL, **params) -> UmeaModel:
    """A run on the small city unless told otherwise (its network scaled with it)."""
    if city is SMALL:
        params = {"initial_active_members": 25, **params}
    m = UmeaModel(params={**EXACT, **params}, seed=seed, years=years, interventions=specs,
                  city=city)
    m.run()
    return m


def recruits(m: UmeaModel, weeks: slice = slice(None)) -> int:
    return int(m.recorder.flows[weeks][:, :, RECRUITED].sum())


# ---- lasting effects ---------------------------------------------------------------------------

def preschool(value: float) -> InterventionSpec:
    return InterventionSpec(
        id="early", type="universal", target={"ages": [3, 5]}, persistence="developmental",
        decay_half_life_weeks=1040, start=2024.0,
        effects=[eff("entry_hazard", value), eff("recruitment_hazard", value)])


@pytest.fixture(scope="module")
def fifteen_years() -> dict[str, UmeaModel]:
    return {k: run(v, years=15, seed=2) for k, v in
            (("none", []), ("zero", [preschool(0.0)]), ("early", [preschool(1.0)]))}


def test_preschool_measure_with_lasting_effect_changes_recruitment_at_12_to_15(fifteen_years):
    none, early = fifteen_years["none"], fifteen_years["early"]
    # nobody reached at 3-5 in 2024 is 10 (the first age of entry) before 2029: identical years
    first = slice(0, 4 * 52)
    assert recruits(early, first) == recruits(none, first)
    # ten to fifteen years on, the reached cohorts are 12-15 and fewer are recruited
    late = slice(9 * 52, 15 * 52)
    assert recruits(early, late) < 0.85 * recruits(none, late)
    # the effect stayed with youths who left the target group long ago
    older = (early.pop.age >= 12) & (early.pop.age < 16)
    assert (early.recruit_mult[older] < 1.0).mean() > 0.5


def test_zero_effect_preschool_measure_changes_nothing_bit_for_bit(fifteen_years):
    none, zero = fifteen_years["none"], fifteen_years["zero"]
    assert np.array_equal(none.recorder.stage_counts, zero.recorder.stage_counts)
    assert np.array_equal(none.recorder.flows[:, :, OUTCOME_FLOWS],
                          zero.recorder.flows[:, :, OUTCOME_FLOWS])
    assert np.array_equal(none.pop.x, zero.pop.x)


# ---- detection, places and the waiting list ---------------------------------------------------

def indicated(capacity: float) -> InterventionSpec:
    return InterventionSpec(
        id="casework", type="programme", requires_detection=True, capacity_per_year=capacity,
        uptake=1.0, target={"ages": [10, 17], "stages": [1, 2]}, duration_weeks=52,
        effects=[eff("recruitment_hazard", 1.0), eff("desistance", 1.0)])


MORE_DETECTION = InterventionSpec(id="detect_more", type="detection",
                                  effects=[eff("detection_social", 3.0), eff("detection_police", 3.0)])


def test_without_binding_capacity_more_detection_means_more_starts_and_fewer_recruits():
    base = run([indicated(5000)], years=3)
    more = run([indicated(5000), MORE_DETECTION], years=3)
    b, m = base.measures.programmes[0].ledger, more.measures.programmes[0].ledger
    assert b["waiting_peak"] == 0 and m["waiting_peak"] == 0  # places never bind
    assert m["started"] > 1.2 * b["started"]
    assert recruits(more) < recruits(base)


def test_with_binding_capacity_more_detection_lengthens_the_queue_instead():
    base = run([indicated(10)], years=2)
    more = run([indicated(10), MORE_DETECTION], years=2)
    b, m = base.measures.programmes[0].ledger, more.measures.programmes[0].ledger
    assert abs(m["started"] - b["started"]) <= 1  # the places, no more
    assert m["waiting_mean"] > 1.2 * b["waiting_mean"] and m["waiting_end"] > b["waiting_end"]


def test_capacity_from_money_is_budget_over_cost_per_place():
    spec = InterventionSpec(id="paid", type="programme", cost_sek_per_year=2_000_000,
                            cost_per_place_sek=50_000, scale=1.5)
    assert spec.places_per_year() == pytest.approx(60)


# ---- households and consent -------------------------------------------------------------------

def test_household_measure_reaches_siblings():
    fam = InterventionSpec(
        id="family", type="programme", unit="household", capacity_per_year=400, uptake=1.0,
        selection="random", target={"ages": [10, 15]}, persistence="developmental",
        decay_half_life_weeks=156, effects=[eff("vulnerable_family", 0.8)])
    m = UmeaModel(params=EXACT, seed=3, years=1, interventions=[fam])
    for _ in range(9):
        m.step()
    prog = m.measures.programmes[0]
    part = prog.slots
    sib = m.net.siblings
    sibs = np.setdiff1d(sib[part].indices if hasattr(sib[part], "indices")
                        else sib[part].nonzero()[1], part)
    others = np.setdiff1d(np.arange(m.pop.n), np.r_[part, sibs])
    k = FACTOR_INDEX["vulnerable_family"]
    assert sibs.size > 20
    assert (m.mu_dev[sibs, k] < 0).all()  # every sibling reached ...
    dil = m.p["sibling_dilution"]
    assert np.allclose(m.mu_dev[sibs, k].min(), dil * m.mu_dev[part, k].min(), rtol=1e-5)
    assert (m.mu_dev[others, k] == 0).all()  # ... and nobody else
    assert prog.ledger["reached"] > prog.ledger["started"]


def test_a_declining_family_declines_the_next_offer_more_often():
    m = UmeaModel(params=EXACT, seed=4, years=1)
    a = InterventionSpec(id="offer_a", type="programme", capacity_per_year=1, uptake=0.45)
    b = InterventionSpec(id="offer_b", type="programme", capacity_per_year=1, uptake=0.45)
    from sim.interventions.measures import Consent, Programme

    slots = np.arange(m.pop.n)
    for rho, ratio in ((0.5, 1.2), (0.0, None)):
        m.p["willingness_household_correlation"] = rho
        c = Consent(m)
        pa, pb = Programme(a, m), Programme(b, m)
        dec_a = ~c.decide(m, pa, slots, 0.45)[0]
        dec_b = ~c.decide(m, pb, slots, 0.45)[0]
        p_b, p_b_after_a = dec_b.mean(), dec_b[dec_a].mean()
        assert p_b == pytest.approx(0.55, abs=0.02)  # each offer keeps its uptake
        # a sibling's offer: the same household's willingness
        hh = m.pop.household
        first = np.unique(hh, return_index=True)[1]
        sib_of = {h: s for s, h in zip(slots, hh, strict=True)}  # last child of each household
        other = np.array([sib_of[hh[f]] for f in first])
        pair = other != first
        sib_after = dec_b[other[pair]][dec_a[first[pair]]].mean()
        if ratio:
            assert p_b_after_a > ratio * p_b and sib_after > ratio * p_b
        else:
            assert p_b_after_a == pytest.approx(p_b, abs=0.03)


# ---- the compulsory path --------------------------------------------------------------------

def compulsory(**esc) -> InterventionSpec:
    return InterventionSpec(
        id="care", type="compulsory", target={"ages": [12, 20]}, duration_weeks=39,
        escalation={"stage_any": 3, "stage_declined": 2, "risk_declined": None,
                    "decisions_per_year": 52.0, **esc},
        effects=[eff("recruitment_hazard", 1.0)])


def test_escalation_fires_above_its_threshold_and_not_below():
    m = UmeaModel(params=EXACT, seed=5, years=1, interventions=[compulsory()])
    m.step()  # the week's flow counters exist
    ms = m.measures.compulsory[0]
    n = m.pop.n
    teen = np.flatnonzero((m.pop.age >= 13) & (m.pop.age < 18))[:400]
    stage = np.zeros(n, np.int8)
    stage[teen[:100]] = 3                 # members: placed whether or not anyone declined
    stage[teen[100:300]] = 2              # peripheral: placed only after a declined offer
    stage[teen[300:]] = 1                 # norm-breaking: below every threshold
    m.stage = stage
    kn = known(m)
    kn[:] = False
    kn[teen] = True
    declined = np.zeros(n, bool)
    declined[teen[100:200]] = True        # half of the peripheral ones
    declined[teen[300:]] = True           # and all the norm-breaking ones
    for week in range(12):
        ms.step(m, week, declined)
    placed = ms.placed
    assert placed[teen[:100]].mean() > 0.9
    assert placed[teen[100:200]].mean() > 0.9
    assert not placed[teen[200:300]].any()   # peripheral, family accepted help
    assert not placed[teen[300:]].any()      # declined but below the threshold
    assert ms.ledger["placements"] == int(placed.sum())


def test_placements_follow_need_not_a_fixed_number():
    low = run([compulsory(decisions_per_year=0.5)], years=2, seed=6)
    high = run([compulsory(decisions_per_year=2.0)], years=2, seed=6)
    f = FLOW_INDEX["placements"]
    n_low, n_high = low.recorder.flows[:, :, f].sum(), high.recorder.flows[:, :, f].sum()
    assert 0 < n_low < n_high


# ---- network disruption ----------------------------------------------------------------------

def test_network_measure_lowers_recruitment_without_freeing_demand():
    net = InterventionSpec(id="disrupt", type="network",
                           effects=[eff("demand", 0.5), eff("reach", 0.3)])
    base, dis = run([], years=3, seed=7), run([net], years=3, seed=7)
    assert recruits(dis) < 0.85 * recruits(base)
    inc = NETWORK_SERIES.index("incarcerated")
    # members are not taken away (which would free their youngers' slots for others)
    assert dis.recorder.network[:, inc].mean() <= base.recorder.network[:, inc].mean() * 1.1 + 1


# ---- fidelity ----------------------------------------------------------------------------------

def test_fidelity_zero_gives_the_counterfactual_at_the_measures_cost():
    common = dict(fidelity=0.0, fidelity_range=(0.0, 1.0), cost_sek_per_year=5_200_000)
    specs = [
        InterventionSpec(id="prog", type="programme", capacity_per_year=500, uptake=0.6,
                         unit="household", target={"ages": [10, 17]}, persistence="developmental",
                         effects=[eff("recruitment_hazard", 1.0), eff("school_failure", 0.5),
                                  eff("reports", 0.5)], **common),
        InterventionSpec(id="uni", type="universal", target={"ages": [10, 15]},
                         effects=[eff("entry_hazard", 0.5), eff("protection", 0.5)], **common),
        InterventionSpec(id="sys", type="detection",
                         effects=[eff("detection_school", 1.0), eff("demand", 0.3)], **common),
    ]
    base, poor = run([], years=2, seed=8), run(specs, years=2, seed=8)
    assert poor.measures.programmes[0].ledger["started"] > 0
    assert np.array_equal(base.recorder.stage_counts, poor.recorder.stage_counts)
    assert np.array_equal(base.recorder.flows[:, :, OUTCOME_FLOWS],
                          poor.recorder.flows[:, :, OUTCOME_FLOWS])
    cost = poor.recorder.network[:, NETWORK_SERIES.index("cost_sek")].sum()
    assert cost == pytest.approx(3 * 5_200_000 * 2)


def test_a_reporting_measure_that_reaches_nobody_changes_nothing_bit_for_bit():
    """Per-youth report multipliers (here all 1: a programme with no places) must not change how
    often the report hazards see the risk factors. Before, a plan with such a measure
    recomputed them every week and its counterfactual every fourth week: 22 fewer reports in
    two years on this small city, which no measure caused."""
    spec = InterventionSpec(id="no_places", type="programme", capacity_per_year=0, uptake=1.0,
                            target={"ages": [10, 17]}, duration_weeks=52,
                            effects=[eff("reports", 1.0)])
    base, idle = run([], years=2, seed=3), run([spec], years=2, seed=3)
    assert idle.measures.reports and idle.measures.programmes[0].ledger["started"] == 0
    assert base.social.reports.sum() > 1000
    assert np.array_equal(base.social.reports, idle.social.reports)
    assert np.array_equal(base.recorder.stage_counts, idle.recorder.stage_counts)
    assert np.array_equal(base.recorder.flows[:, :, OUTCOME_FLOWS],
                          idle.recorder.flows[:, :, OUTCOME_FLOWS])


# ---- ledgers ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def plan_year() -> UmeaModel:
    scen = load_scenario("scenarios/uvts_continued.yaml").model_copy(update={"years": 1})
    m = build_model(scen, seed=1)
    m.run()
    return m


def test_ledgers_add_up_to_the_totals(plan_year):
    m = plan_year
    led = pd.DataFrame(m.measures.ledger())
    rec = m.recorder
    assert led["cost_sek"][led["type"] != "compulsory"].sum() == pytest.approx(
        rec.network[:, NETWORK_SERIES.index("cost_sek")].sum())
    assert led["reached"].sum() == rec.flows[:, :, FLOW_INDEX["reached"]].sum()
    assert led["placements"].sum() == rec.flows[:, :, FLOW_INDEX["placements"]].sum()
    assert led["declined"].sum() == rec.flows[:, :, FLOW_INDEX["offers_declined"]].sum()
    assert (led["started"] <= led["offered"]).all()
    assert (led["declined"] <= led["offered"]).all()
    for group in ("level", "department"):
        g = by_group(led.assign(scenario="s", replicate=0), group)
        for col in ("offered", "started", "reached", "cost_sek"):
            assert g[col].sum() == pytest.approx(led[col].sum())
    tables = ledger_tables(led.assign(scenario="s", replicate=0))
    assert set(tables) == {"ledger", "ledger_by_level", "ledger_by_department"}
    # universal measures count everyone they act on
    uni = led[led["type"] == "universal"]
    assert (uni["reached"] > 0).all() and (uni["started"] == uni["reached"]).all()


def test_every_catalogue_entry_loads_and_runs(plan_year):
    m = plan_year
    led = {row["id"]: row for row in m.measures.ledger()}
    specs = {ms.spec.id: ms.spec for ms in m.measures.measures}
    for key, spec in specs.items():
        if spec.catalogue_number is None:
            continue
        row = led[key]
        in_force = spec.start < m.start_year + 1 - spec.delay_weeks / 52
        if spec.cost_sek_per_year > 0 and spec.start < m.start_year + 1:
            assert row["cost_sek"] > 0, key
        if spec.type == "programme" and in_force and spec.start < m.start_year + 0.9:
            assert row["offered"] > 0, key
        if spec.type == "universal" and in_force:
            assert row["reached"] > 0, key


def test_report_hazards_see_the_risk_factors_on_the_same_weeks_in_every_scenario():
    """The plan's detection measures move the channels' shares from week to week as they phase
    in. Only the channel totals may follow them: the risk-factor part of the report hazards is
    refreshed every fourth week as in the run without measures (before, the plan refreshed it
    in 482 of 520 weeks), and totals made from the kept hazards equal a full recomputation."""
    base = UmeaModel(seed=5, years=2)
    plan = UmeaModel(seed=5, years=2, scenario="scenarios/uvts_2024_2026.yaml")
    for _ in range(56):  # into the plan's second year, when its measures move every week
        base.step()
        plan.step()
    seen = {id(base): [], id(plan): []}
    moved = 0
    for _ in range(40):
        for m in (base, plan):
            key = m.social._key
            m.step()
            seen[id(m)].append(m.social._rate_week)
        moved += plan.social._key != key
    assert seen[id(base)] == seen[id(plan)] and len(set(seen[id(base)])) == 10
    assert moved >= 30  # the plan's channels did move between refreshes
    social, share = plan.social, plan.social._shares(plan)
    social._base_rates(plan, share)  # from scratch (compiled when Numba is present)
    full = social._fam_total.copy(), social._beh_total.copy()
    social._totals(share)  # from the kept hazards (compiled when Numba is present)
    assert np.array_equal(full[0], social._fam_total) and np.array_equal(full[1], social._beh_total)
    assert full[0].any() and full[1].any()
    from sim import kernels

    with pytest.MonkeyPatch.context() as mp:  # and numpy's products from the kept hazards
        mp.setattr(kernels, "_jit", None)
        social._totals(share)
    assert np.array_equal(full[0], social._fam_total) and np.array_equal(full[1], social._beh_total)


def test_the_burn_in_refreshes_report_hazards_on_schedule_and_keeps_them_exact():
    """The 156 weeks of reports before the start refresh the risk-factor part every fourth week
    (the state does not move then) and update the weekly probabilities youth by youth between
    refreshes: every week's probabilities equal a recomputation from scratch, and the first
    week of the run refreshes again."""
    model = UmeaModel(seed=9, years=1)
    social = model.social
    assert social._rate_week is None  # refreshed in the first week of the run
    used, refreshed, orig = [], [], social.weekly_hazards

    def checked(m):
        p = orig(m).copy()
        refreshed.append(social._rate_week == m.week)
        kept = (social._fam, social._beh, social._child, social._fam_total, social._beh_total,
                social._rate_week)
        social._base_rates(m, social._shares(m))
        used.append(np.array_equal(p, social._rates_of(m, None)) and p.sum() > 0)
        (social._fam, social._beh, social._child, social._fam_total, social._beh_total,
         social._rate_week) = kept
        return p

    social.weekly_hazards = checked
    social.burn_in(model)  # again, on the model's state at the start
    assert len(used) == 156 and all(used)
    assert sum(refreshed) == 39 and refreshed[0]  # every fourth week, from the first
    assert (social.last_any > -156).sum() > 1000  # the burn-in did report youths
    model.step()
    assert social._rate_week == 0

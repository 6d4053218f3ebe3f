"""The synthetic population matches the documented margins of Umeå (sim/data/umea.yaml)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.population import build_population, load_city

SEEDS = (1, 2, 3)


@pytest.fixture(scope="module", params=SEEDS)
def pop(request):
    return build_population(request.param)


def test_about_17000_aged_10_to_20(pop):
    n = int(((pop.cohort >= 10) & (pop.cohort <= 20)).sum())
    assert 16_500 <= n <= 17_500


def test_ages_span_preschool_to_20(pop):
    assert pop.age.min() >= 3 and pop.age.max() < 21
    assert set(np.unique(pop.cohort)) == set(range(3, 21))


def test_child_economic_vulnerability_about_6_6_percent(pop):
    share = pop.econ_flag[pop.cohort <= 17].mean()
    assert share == pytest.approx(0.066, abs=0.01)


def test_economic_vulnerability_higher_in_north_east(pop):
    city = load_city()
    ne = np.isin(pop.district, [city.districts.index(d) for d in ("Ålidhem", "Ersboda", "Mariehem")])
    assert pop.econ_flag[ne].mean() > 1.5 * pop.econ_flag[~ne].mean()


def test_year9_not_eligible_about_11_percent(pop):
    # "not eligible for upper secondary" = school-failure score above 0.5 in year 9 (age 15)
    share = (pop.x[pop.cohort == 15, 0] > 0.5).mean()
    assert 0.08 <= share <= 0.14


def test_classes_of_about_20(pop):
    school_age = (pop.cohort >= 6) & (pop.cohort <= 18)
    sizes = np.bincount(pop.klass[school_age])
    sizes = sizes[sizes > 0]
    assert 18.5 <= sizes.mean() <= 21.5
    assert sizes.max() <= 32


def test_siblings_share_district_and_household_traits(pop):
    hh = pop.household
    order = np.argsort(hh, kind="stable")
    same = hh[order][1:] == hh[order][:-1]
    a, b = order[1:][same], order[:-1][same]
    assert same.sum() > 3000  # many youths have a sibling
    assert (pop.district[a] == pop.district[b]).all()
    assert (pop.econ_flag[a] == pop.econ_flag[b]).all()


def test_schools_by_age(pop):
    assert (pop.school[pop.cohort >= 19] == -1).all()
    assert (pop.school[pop.cohort <= 18] >= 0).all()
    upper = pop.school_type[pop.school[(pop.cohort >= 16) & (pop.cohort <= 18)]]
    assert (upper == 2).all()


def test_same_seed_same_population():
    a, b = build_population(7), build_population(7)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.household, b.household)
    c = build_population(8)
    assert not np.array_equal(a.x, c.x)


def test_yearly_ageing_keeps_cohorts(short_run):
    """After a school-year change the oldest left, a cohort entered, sizes stay on target."""
    model = short_run
    city = model.city
    counts = np.bincount(model.pop.cohort, minlength=21)
    for age in range(3, 21):
        assert counts[age] == pytest.approx(city.cohort_size[age], abs=60)
    assert model.pop.age.max() < 22 and model.pop.cohort.max() == 20
    assert len(model.agents) == model.pop.n


def test_school_year_keeps_mesa_registers_consistent(short_run):
    """Leavers' agents are removed in bulk and newcomers' added: Mesa's registers hold exactly one
    agent per slot, the one the slot points to, and no agent of a youth who left."""
    from sim.model import Youth

    model = short_run
    current = set(model.agent_of_slot)
    assert set(model.agents) == set(model.agents_by_type[Youth]) == set(model._agents) == current
    assert len(current) == model.pop.n
    assert all(a.slot == s for s, a in enumerate(model.agent_of_slot))
    newcomers = int((model.pop.entry_week > 0).sum())
    assert newcomers > 0  # a school year was crossed
    assert max(a.unique_id for a in current) == model.pop.n + newcomers


def test_agents_made_on_demand_are_the_agents_made_as_youths_came():
    """The Mesa agents are made when first asked for: the same agents (ids, slots, order of
    `agents` and of Mesa's registers, the id counter) as a model whose agents were made from the
    start and replaced at each school year, and the same run."""
    from sim.model import UmeaModel, Youth

    def run(eager: bool) -> UmeaModel:
        model = UmeaModel(seed=11, years=3)
        if eager:
            assert len(model.agents) == model.pop.n  # asking makes them now
        assert model._deferred is not eager
        while model.week < 110:  # two school years: the second year's leavers are mid-table
            model.step()
        return model

    eager, lazy = run(True), run(False)
    assert lazy._deferred and len(lazy._all_agents) == 0  # nothing made during the run
    assert np.array_equal(eager.recorder.stage_counts, lazy.recorder.stage_counts)

    def registers(m: UmeaModel) -> list:
        return [[(a.unique_id, a.slot) for a in agents] for agents in
                (m.agents, m.agents_by_type[Youth], m._agents, m.agent_of_slot)]

    got, want = registers(lazy), registers(eager)
    assert not lazy._deferred and got == want
    assert want[0] != sorted(want[0], key=lambda t: t[1])  # newcomers come after the others
    assert next(Youth._ids[lazy]) == next(Youth._ids[eager]) == lazy._uid_next
    lazy.add_youths([3])  # after that, youths come as before
    eager.add_youths([3])
    assert registers(lazy) == registers(eager)


def test_risk_by_district_follows_newcomers():
    """After a school year the district means of the risk factors are over the youths living in
    each district now: newcomers in reused slots may live elsewhere than those they replaced
    (the sum operator by district was once built at the start and never again)."""
    from sim.model import UmeaModel
    from sim.processes.recording import RISK_EVERY

    model = UmeaModel(seed=5, years=2)
    week = 52 + RISK_EVERY  # the first monthly record after the school year
    while model.week <= week:
        model.step()
    pop, d = model.pop, model.city.n_districts
    moved = pop.entry_week > 0
    assert moved.any()
    per_district = np.bincount(pop.district, minlength=d)
    for k in range(pop.x.shape[1]):
        expect = np.bincount(pop.district, weights=pop.x[:, k].astype(float), minlength=d)
        got = model.recorder.risk_mean[week, :, k].astype(float) * per_district
        assert np.allclose(got, expect, rtol=1e-4, atol=1e-3), k

"""The compiled kernels (sim/kernels.py) give the same results as their numpy fallbacks, bit for
bit: kernel by kernel on random inputs, and for whole runs of the model with measures in force."""

from __future__ import annotations

import numpy as np
import pytest

import sim.kernels as kernels
from sim.model import UmeaModel
from sim.results import summarise

pytestmark = pytest.mark.skipif(kernels.ENGINE != "numba", reason="Numba kernels not in use")


def _risk_inputs(seed: int, n: int = 5000, dev: bool = False):
    rng = np.random.default_rng(seed)
    f = np.float32
    x = rng.random((n, 6), dtype=f)
    x[:50] = 0.0  # at the bounds: clipping
    x[50:100] = 1.0
    mu = rng.random((n, 6), dtype=f)
    mu_dev = (rng.random((n, 6), dtype=f) - f(0.5)) if dev else None
    peer_mean = rng.random((n, 4), dtype=f)
    pull = (rng.random(n, dtype=f) * f(0.1)) * (rng.random(n) < 0.9)
    u = rng.random((n, 6), dtype=f)
    shock_u = rng.random(n, dtype=f)
    return x, mu, mu_dev, peer_mean, pull.astype(f), u, shock_u


@pytest.mark.parametrize("dev", [False, True])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_risk_kernel_equals_numpy(seed, dev):
    x, mu, mu_dev, pm, pull, u, su = _risk_inputs(seed, dev=dev)
    a, b = x.copy(), x.copy()
    args = (0.04, 0.03)
    kernels.risk_week(a, mu, mu_dev, pm, pull, *args, u.copy(), su, 0.05, 0.15)
    kernels.risk_week_numpy(b, mu, mu_dev, pm, pull, *args, u.copy(), su, 0.05, 0.15)
    assert a.dtype == np.float32
    assert np.array_equal(a, b)
    assert not np.array_equal(a, x)  # the kernel did something
    assert (a >= 0).all() and (a <= 1).all()


def test_in_counts_kernel_equals_numpy():
    import scipy.sparse as sp

    rng = np.random.default_rng(5)
    n = 3000
    m = sp.random_array((n, n), density=0.003, format="csr", rng=rng)
    for k in (0, 1, 50, 900):
        src = np.sort(rng.choice(n, k, replace=False))
        got = kernels.in_neighbour_counts(m, src, n)
        ref = kernels.in_neighbour_counts_numpy(m.indptr, m.indices, src, n)
        assert got.dtype == np.float32 and np.array_equal(got, ref)
        assert got.sum() == m.indptr[src + 1].sum() - m.indptr[src].sum()


def _run(monkeypatch, compiled: bool):
    if not compiled:
        monkeypatch.setattr(kernels, "_jit", None)
    model = UmeaModel.from_scenario("scenarios/uvts_2024_2026.yaml", seed=11, years=1)
    model.run()
    monkeypatch.undo()
    return model


def test_whole_runs_are_bit_identical(monkeypatch):
    """A year of the plan with all its measures (developmental effects, shocks, recruitment):
    every recorded table and the final state agree exactly."""
    a, b = _run(monkeypatch, True), _run(monkeypatch, False)
    assert a.mu_dev_active  # the measures' lasting effects were in the kernel's path
    assert np.array_equal(a.pop.x, b.pop.x)
    assert np.array_equal(a.stage, b.stage)
    for name in ("stage_counts", "flows", "risk_mean", "known", "children", "groups",
                 "group_flows", "network"):
        assert np.array_equal(getattr(a.recorder, name), getattr(b.recorder, name)), name
    sa, sb = summarise(a.recorder), summarise(b.recorder)
    assert sa.keys() == sb.keys()
    assert all(sa[k] == sb[k] or (np.isnan(sa[k]) and np.isnan(sb[k])) for k in sa)
    assert sa["periphery_entries_per_year"] > 0


def test_counter_based_draws_equal_numpy(monkeypatch):
    """splitmix64 keys and keyed uniforms: the same integers and floats with and without the
    kernels, for arrays, 2-d arrays and scalars."""
    from sim import rng as r

    keys_in = np.random.default_rng(3).integers(0, 2**63, 1000, dtype=np.uint64)
    cases = [lambda: r.splitmix64(keys_in), lambda: r.splitmix64(keys_in.reshape(10, 100)),
             lambda: r.splitmix64(np.uint64(12345)), lambda: r.entity_keys(7, 3, np.arange(50), 9),
             lambda: r.keyed_uniform(keys_in, 17), lambda: r.keyed_uniform(keys_in, -1)]
    compiled = [f() for f in cases]
    monkeypatch.setattr(kernels, "_jit", None)
    for f, got in zip(cases, compiled, strict=True):
        ref = f()
        assert np.shape(got) == np.shape(ref) and np.array_equal(got, ref)
    u = compiled[-2]
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.05


@pytest.mark.parametrize("size", [1, 2, 999, 27_101])
def test_youths_below_their_probability_in_one_pass(size):
    """`sequence_below` (social services' weekly reports) fires where the stream's uniform is
    below the probability: the same positions as making the uniforms and comparing, for odd
    and even sizes, probabilities of 0 and 1 and probabilities equal to the uniforms."""
    key = 0x9E3779B97F4A7C15 + size
    u = kernels.sequence_uniforms(key, size)
    p = np.random.default_rng(size).random(size, dtype=np.float32) * np.float32(0.3)
    p[::7] = 0
    p[3::11] = 1
    p[5::13] = u[5::13]  # exactly equal: not below, no event
    p[6::17] = np.nextafter(u[6::17], np.float32(2))  # one step above: an event
    got = kernels.sequence_below(key, p)
    assert np.array_equal(got, np.flatnonzero(u < p))
    if size > 100:
        assert 0.1 < got.size / size < 0.3  # p averages about 0.2 here


@pytest.mark.parametrize("size", [1, 2, 999, 27_101])
def test_reports_at_weekly_hazards_compute_the_probability_only_where_needed(size):
    """`sequence_below_weekly` and `below_weekly` (social services' weekly reports from weekly
    hazards) fire at the same positions as making every week's probability -expm1(-x) and
    comparing, also where a uniform equals the probability or lies one step either side of it
    (where the shortcut's bound must not cut), and at hazards of 0 and of several per week."""
    key = 0x9E3779B97F4A7C15 + 7 * size
    u = kernels.sequence_uniforms(key, size)
    x = np.random.default_rng(size).random(size, dtype=np.float32) * np.float32(0.4)
    x[::7] = 0
    x[3::11] = 5  # probability ~0.993
    p = kernels.weekly_prob32(x)
    assert p.dtype == np.float32 and np.all(p <= x) and np.all(p >= 0)
    exact = -np.expm1(-x.astype(np.float64))  # float32's expm1 within an ulp of float64's
    assert np.all(np.abs(p - exact) <= np.spacing(np.float32(exact)))
    for sl, shift in ((slice(5, None, 13), 0), (slice(6, None, 17), -1), (slice(8, None, 19), 1)):
        target = p[sl] if shift == 0 else np.nextafter(p[sl], np.float32(2 * shift))
        u[sl] = np.clip(target, 0, np.nextafter(np.float32(1), np.float32(0)))
    assert np.array_equal(kernels.below_weekly(u, x), np.flatnonzero(u < p))
    u = kernels.sequence_uniforms(key, size)
    got = kernels.sequence_below_weekly(key, x)
    assert np.array_equal(got, np.flatnonzero(u < p))
    if size > 100:
        assert 0.1 < got.size / size < 0.3  # p averages about 0.2 here


def test_exposure_kernel_equals_numpy(monkeypatch):
    """The fused exposure pass against the numpy code, on a model with youths at every stage,
    members in prison included."""
    model = UmeaModel(seed=4, years=1)
    for _ in range(30):
        model.step()
    from sim.recruitment import INCARCERATED, MEMBER

    jailed = np.flatnonzero((model.stage == MEMBER) & (model.member_id >= 0))[:3]
    assert jailed.size
    model.network.status[model.member_id[jailed]] = INCARCERATED  # exercise the prison branch
    got = model.involvement.exposure(model)
    monkeypatch.setattr(kernels, "_jit", None)
    ref = model.involvement.exposure(model)
    assert got.keys() == ref.keys()
    for k in ref:
        assert got[k].dtype == ref[k].dtype and np.array_equal(got[k], ref[k]), k
    assert ref["friends2"].sum() > 0 and ref["school2"].sum() > 0 and ref["sib_inv"].any()


def test_exposure_kept_up_to_date_equals_a_count_from_scratch(monkeypatch):
    """The exposure arrays carried from week to week (only joiners' and leavers' ties counted
    again) equal the numpy count from scratch every week, through the school year's new
    networks and with the plan's measures, arrests and exits at work."""
    model = UmeaModel(seed=8, years=2, scenario="scenarios/uvts_2024_2026.yaml")
    inv, checked, rebuilt = model.involvement, 0, 0
    for week in range(60):
        model.step()
        if week < 44 and week % 6:
            continue
        got = {k: v.copy() for k, v in inv.exposure(model).items()}
        with monkeypatch.context() as mp:
            mp.setattr(kernels, "_jit", None)
            ref = inv.exposure(model)
        for k in ref:
            assert got[k].dtype == ref[k].dtype and np.array_equal(got[k], ref[k]), (week, k)
        checked += 1
        rebuilt += week == 52
    assert checked > 20 and rebuilt
    assert ref["friends2"].sum() > 0 and ref["school2"].sum() > 0 and ref["sib2"].any()


# ---- risk and involvement kernels (issue 11) -------------------------------------------------
def test_peer_mean_rows_and_stages_equal_numpy(monkeypatch):
    """The friends' mean (sums in scipy's order, then divided by the number of friends), row
    gathering and the youths at risk of each transition, against numpy on a model's own
    networks and states."""
    model = UmeaModel(seed=6, years=1)
    for _ in range(12):
        model.step()
    pop, peers = model.pop, model.net.peers
    idx = np.flatnonzero(pop.age >= 10)
    got = (kernels.peer_mean(peers, pop.x), kernels.take_rows(pop.x, idx),
           kernels.stage_groups(model.stage, pop.age, 10))
    monkeypatch.setattr(kernels, "_jit", None)
    ref = (kernels.peer_mean(peers, pop.x), pop.x[idx],
           kernels.stage_groups(model.stage, pop.age, 10))
    assert np.array_equal(got[0], ref[0]) and got[0].dtype == np.float32
    # it is the mean: equal to the row-normalised product up to float32 rounding, 0 without friends
    np.testing.assert_allclose(got[0], model.net.peer_weights @ pop.x[:, :4], rtol=0, atol=2e-6)
    lonely = np.diff(peers.indptr) == 0
    assert lonely.any() and not got[0][lonely].any()
    assert np.array_equal(got[1], ref[1])
    assert all(np.array_equal(a, b) for a, b in zip(got[2], ref[2], strict=True))
    assert all(g.size for g in ref[2])  # youths at every stage were compared
    assert sum(g.size for g in ref[2]) < pop.n  # and the young and the exited left out


@pytest.mark.parametrize("measures", [False, True])
def test_entry_hazard_equals_numpy(monkeypatch, measures):
    """Hazard of norm-breaking from the compiled passes (around numpy's exp) against the numpy
    code, with and without the measures' protection boosts and multipliers."""
    model = UmeaModel.from_scenario("scenarios/uvts_2024_2026.yaml", seed=8, years=1) \
        if measures else UmeaModel(seed=8, years=1)
    for _ in range(20):
        model.step()
    inv, st = model.involvement, model.stage
    i0 = np.flatnonzero((st == 0) & (model.pop.age >= 10))
    ex, ages = inv.exposure(model), model.age_terms()
    got = inv.entry_rate(model, i0, ex, ages)
    monkeypatch.setattr(kernels, "_jit", None)
    ref = inv.entry_rate(model, i0, ex, ages)
    assert ref.dtype == np.float32 and np.array_equal(got, ref.astype(np.float64))
    assert ref.std() > 0
    if measures:
        assert (model.entry_mult[i0] != 1).any() and (model.protection_dev[i0] != 0).any()


@pytest.mark.parametrize("seed", [1, 2])
def test_peer_ties_kernel_equals_numpy(monkeypatch, seed):
    """The friendship network formed in one compiled pass equals the numpy one: same ties, same
    canonical CSR arrays and types (risks scrambled so that homophily decides among candidates)."""
    from sim.networks import build_peers
    from sim.population import build_population

    pop = build_population(seed)
    risk = np.random.default_rng(seed).random(pop.n).astype(np.float32)
    got = build_peers(pop, risk, seed, year=seed + 2)
    monkeypatch.setattr(kernels, "_jit", None)
    ref = build_peers(pop, risk, seed, year=seed + 2)
    for k in ("indptr", "indices", "data"):
        a, b = getattr(got, k), getattr(ref, k)
        assert a.dtype == b.dtype and np.array_equal(a, b), k
    assert got.has_canonical_format and ref.nnz > 5 * pop.n


def test_stable_order_is_numpys_stable_argsort(monkeypatch):
    """The counting sort of group keys gives numpy's stable order, negative keys and wide
    ranges (numpy's sort) included."""
    rng = np.random.default_rng(4)
    keys = [rng.integers(-64, 3000, 20_000), rng.integers(0, 21, 5000).astype(np.int16),
            rng.integers(0, 10**9, 1000), np.array([5], np.int64)]
    for key in keys:
        got = kernels.stable_order(key)
        assert got.dtype == np.int64 and np.array_equal(got, np.argsort(key, kind="stable"))
    monkeypatch.setattr(kernels, "_jit", None)
    assert np.array_equal(kernels.stable_order(keys[0]), np.argsort(keys[0], kind="stable"))


def test_siblings_kernel_equals_numpy(monkeypatch):
    """The sibling matrix from the compiled pass has scipy's arrays, index order included."""
    from sim.networks import build_siblings

    household = np.random.default_rng(3).integers(0, 4000, 9000).astype(np.int32)
    got = build_siblings(household)
    monkeypatch.setattr(kernels, "_jit", None)
    ref = build_siblings(household)
    for k in ("indptr", "indices", "data"):
        a, b = getattr(got, k), getattr(ref, k)
        assert a.dtype == b.dtype and np.array_equal(a, b), k
    assert ref.nnz > 9000


# ---- social services, recording and the criminal network (issue 11) ----------------------------
@pytest.fixture(scope="module")
def weeks_in():
    """A model 30 weeks in (reports, open cases, network records with open demand)."""
    model = UmeaModel(seed=4, years=1)
    for _ in range(30):
        model.step()
    return model


def test_keys_and_uniform_rows_equal_numpy(monkeypatch):
    """Entity keys of one id array and scalars (negative ids too) and rows of keyed uniforms."""
    from sim import rng as r

    ids = np.r_[np.random.default_rng(5).integers(-2**40, 2**62, 300), -1, 0]
    keys_in = np.random.default_rng(6).integers(0, 2**63, 200, dtype=np.uint64) * np.uint64(2)
    cases = [lambda: r.entity_keys(7, 101, ids, 52), lambda: r.entity_keys(7, 2, 3, ids, -4, 9),
             lambda: r.entity_keys(1, 5, ids[:0], 3), lambda: r.entity_keys(2, 6, 3, np.int64(4)),
             lambda: r.keyed_uniforms(keys_in, range(3)), lambda: r.keyed_uniforms(keys_in, (-1, -2)),
             lambda: r.keyed_uniform(keys_in, np.int64(1_000_003))]
    compiled = [f() for f in cases]
    monkeypatch.setattr(kernels, "_jit", None)
    for f, got in zip(cases, compiled, strict=True):
        ref = f()
        assert got.dtype == ref.dtype and got.shape == ref.shape and np.array_equal(got, ref)


def test_report_kernels_equal_numpy(monkeypatch, weeks_in):
    """Report hazards, weekly probabilities and the reported youths' draws, with measures'
    channel and report multipliers in force."""
    model, social = weeks_in, weeks_in.social
    rng = np.random.default_rng(7)
    monkeypatch.setattr(model, "detect_mult", np.array([1.3, 0.8, 1.1, 1.0]))
    monkeypatch.setattr(model, "report_mult_active", True)
    monkeypatch.setattr(model, "report_mult", (1 + rng.random(model.pop.n)).astype(np.float32))
    u = rng.random(model.pop.n, dtype=np.float32)

    def outputs():
        social._base_rates(model, social._shares(model))
        social._share = social._shares(model)
        p = social._rates_of(model, None)
        some = social._rates_of(model, rng_idx)
        hit = np.flatnonzero(u < p)
        draws = social._draw(model, hit, u_which[:hit.size])
        return (social._fam, social._beh, social._child, social._fam_total, social._beh_total,
                p, some, hit, *draws)

    rng_idx = rng.integers(0, model.pop.n, 500)
    u_which = rng.random(model.pop.n)
    got = outputs()
    monkeypatch.setattr(kernels, "_jit", None)
    ref = outputs()
    assert ref[7].size > 100 and ref[9].any() and not ref[9].all()
    for a, b in zip(got, ref, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def test_report_booking_equals_numpy(monkeypatch, weeks_in):
    """The week's reports in the youths' history, the flows and the groups by age band and sex."""
    from sim.processes.recording import BAND_OF_COHORT

    model, social = weeks_in, weeks_in.social
    rng = np.random.default_rng(8)
    hit = np.sort(rng.choice(model.pop.n, 400, replace=False))
    k = rng.integers(0, 8, hit.size)
    child = model.pop.age[hit] < 18
    arrays = (social.last_report, social.last_any, social.report_year, social.reports,
              model.flows, model.recorder.group_flows)
    saved = [a.copy() for a in arrays]
    social.report_year[hit[::3]] = model.week // 52  # some were reported this year already
    start = [a.copy() for a in arrays]
    for record in (True, False):
        for a, s in zip(arrays, start, strict=True):
            a[...] = s
        assert kernels.book_reports(hit, k, child, model.week, model.week // 52, social, record,
                                    model, (np.arange(13, 17), 17, 18), BAND_OF_COHORT, 2)
        got = [a.copy() for a in arrays]
        for a, s in zip(arrays, start, strict=True):
            a[...] = s
        monkeypatch.setattr(model.events, "log_coded", lambda *args: None)
        social._book_reports(model, hit, k, child, hit[child], model.week // 52, record)
        monkeypatch.undo()
        for a, b in zip(got, arrays, strict=True):
            assert np.array_equal(a, b)
    for a, s in zip(arrays, saved, strict=True):
        a[...] = s


def test_recording_and_network_kernels_equal_numpy(monkeypatch, weeks_in):
    """The recording's counts and network series, and the network's open slots and weekly
    turnover, on records in every status and tier."""
    from copy import deepcopy

    from sim.recruitment import INCARCERATED

    model, rec = weeks_in, weeks_in.recorder
    net = model.network
    jail = np.flatnonzero(net.active)[::4]
    saved_status, saved_release = net.status.copy(), net.release.copy()
    net.status[jail] = INCARCERATED
    net.release[jail] = np.linspace(-0.01, 0.05, jail.size, dtype=np.float32)
    saved_known, saved_member = model.social.known.copy(), model.member_id.copy()
    model.social.known[::7] = True
    model.member_id[np.flatnonzero(model.stage == 2)[:6]] = -1  # peripheral, no record yet

    def outputs():
        model.recording.step(model)
        t = model.week
        cn = model.criminal_network
        half = deepcopy(net)
        half_demand = model.demand_mult
        model.demand_mult = 0.6
        scaled = cn.open_slots(model)
        model.demand_mult = half_demand
        half.turnover(model.week, {**model.p, "incapacitation_rate": 5.0}, 1.0)
        return (rec.stage_counts[t], rec.known[t], rec.groups[t], rec.network[t], rec.risk_mean[t],
                rec.children[t], cn.open_slots(model), scaled, half.status, half.release,
                half.age)

    monkeypatch.setattr(model, "week", 32)  # a monthly week
    got = [a.copy() for a in outputs()]
    monkeypatch.setattr(kernels, "_jit", None)
    ref = outputs()
    net.status[:], net.release[:] = saved_status, saved_release
    model.social.known[:], model.member_id[:] = saved_known, saved_member
    assert ref[6].sum() > 0 and (ref[8] != net.status).any()
    for a, b in zip(got, ref, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)


@pytest.mark.parametrize("n_districts", [9, 64, 80])
def test_target_group_kernel_equals_numpy_for_every_combination_of_criteria(n_districts):
    """`kernels.eligible` (ages, district and stage tables as bit masks, schools' table, risk
    threshold, exclusions and requirements) against the numpy masks, for every combination of
    criteria, ages on the bounds, youths without a school and tables of more than 64
    districts."""
    if kernels.ENGINE != "numba":
        pytest.skip("no Numba here")
    rng = np.random.default_rng(n_districts)
    n = 5_003
    age = rng.choice(np.arange(3, 21, 0.25, dtype=np.float32), n)
    district = rng.integers(0, n_districts, n)
    school = rng.integers(-1, 40, n)
    stage = rng.integers(0, 5, n).astype(np.int8)
    risk = rng.random(n).astype(np.float32)
    excl, req = rng.random(n) < 0.3, rng.random(n) < 0.7
    dist_ok, school_ok, stage_ok = (rng.random(n_districts) < 0.5, rng.random(40) < 0.5,
                                    np.array([True, False, True, True, False]))
    lo, hi, thr = 10.0, 17.0, 0.4
    for flags in range(64):
        use = [bool(flags >> k & 1) for k in range(6)]
        got = kernels.eligible(age, lo, hi, district, dist_ok if use[0] else None, school,
                               school_ok if use[1] else None, stage, stage_ok if use[2] else None,
                               risk if use[3] else None, thr, excl if use[4] else None,
                               req if use[5] else None)
        ref = (age >= np.float32(lo)) & (age < np.float32(hi))
        if use[0]:
            ref &= dist_ok[district]
        if use[1]:
            ref &= (school >= 0) & school_ok[np.maximum(school, 0)]
        if use[2]:
            ref &= stage_ok[stage]
        if use[3]:
            ref &= risk >= np.float32(thr)
        if use[4]:
            ref &= ~excl
        if use[5]:
            ref &= req
        assert got.dtype == bool and np.array_equal(got, ref), use
        assert 0 < ref.sum() < n


def test_measure_kernels_equal_numpy(monkeypatch):
    """Target groups, household spread and the strongest current effect over all programmes: the
    compiled passes give the numpy results exactly, half a year into the plan."""
    from sim.interventions.measures import F32

    model = UmeaModel.from_scenario("scenarios/uvts_2024_2026.yaml", seed=4, years=1)
    for _ in range(30):
        model.step()
    ms = model.measures
    rng = np.random.default_rng(4)
    slots = np.sort(rng.choice(model.pop.n, 300, replace=False))
    dose = rng.random(300).astype(F32)
    enrolled = [(m, m.enrolled(model, model.week)) for m in (*ms.programmes, *ms.compulsory)]
    assert sum(idx.size for _, idx in enrolled) > 0

    def results():
        masks = [m.eligible(model) for m in ms.measures]
        pools = [m._eligible_compiled(model, m.offered, model.known)
                 for m in ms.programmes]
        spread = [m.spread(model, slots, dose) for m in ms.measures if m.household]
        ms._spread_cache = {}
        targeted = ms._targeted_arrays(model, enrolled)
        return masks, pools, spread, targeted

    compiled = results()
    monkeypatch.setattr(kernels, "_jit", None)
    reference = results()
    masks, pools, spread, targeted = compiled
    assert any(m.any() for m in masks) and spread
    for a, b in zip(masks, reference[0], strict=True):
        assert np.array_equal(a, b)
    assert all(p is None for p in reference[1])  # without the kernels: numpy's eligible
    for a, m in zip(pools, ms.programmes, strict=True):
        assert a is not None and np.array_equal(a, m.eligible(model) & ~m.offered & model.known)
    for (s1, d1), (s2, d2) in zip(spread, reference[2], strict=True):
        assert s1.size > slots.size and np.array_equal(s1, s2) and np.array_equal(d1, d2)
    for a, b in zip(targeted, reference[3], strict=True):
        if isinstance(a, tuple):
            assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
        else:
            assert (a is None and b is None) or np.array_equal(a, b)


def test_escalation_candidates_equal_numpy(monkeypatch):
    """The compulsory path's candidates from the compiled passes equal numpy's, for the plan's
    rule and for rules by stage only, by declined help only and by mean risk."""
    model = UmeaModel.from_scenario("scenarios/uvts_2024_2026.yaml", seed=5, years=2)
    for _ in range(40):
        model.step()
    comp = model.measures.compulsory[0]
    rng = np.random.default_rng(5)
    model.known[rng.random(model.pop.n) < 0.3] = True  # more known youths: more candidates
    declined = rng.random(model.pop.n) < 0.3
    rules = [comp.esc, *(comp.esc.model_copy(update=u) for u in (
        {"stage_any": None}, {"stage_any": 1, "stage_declined": None},
        {"stage_any": None, "stage_declined": None, "risk_declined": 0.45},
        {"stage_declined": 1, "risk_declined": 0.5}))]

    def cands():
        out = []
        for esc in rules:
            monkeypatch.setattr(comp, "esc", esc)
            out.append(comp.candidates(model, declined))
        return out

    compiled = cands()
    monkeypatch.setattr(kernels, "_jit", None)
    reference = cands()
    assert all(c.size > 0 for c in reference) and len({c.size for c in reference}) > 2
    for a, b in zip(compiled, reference, strict=True):
        assert np.array_equal(a, b)


def test_lasting_doses_in_one_pass_equal_each_measures_update(monkeypatch):
    """The developmental measures' doses decayed and summed in one pass (InterventionSet's
    stacked rows, kernels.dev_sums) equal each measure's own `update_dev` and the numpy sums
    measure by measure, bit for bit, a year and a half into the plan."""
    from sim.interventions.measures import F32, Universal

    model = UmeaModel.from_scenario("scenarios/uvts_2024_2026.yaml", seed=6, years=2)
    for _ in range(78):
        model.step()
    ms = model.measures
    assert len(ms.developmental) > 5 and all(m.dev.base is ms._devs for m in ms.developmental)
    rng = np.random.default_rng(6)
    ms._devs[:] = np.where(rng.random(ms._devs.shape) < 0.3, rng.random(ms._devs.shape), 0)
    start = ms._devs.copy()
    week = model.week + 8  # two intake rounds later: the doses decay by eight weeks

    def state():
        return (ms._devs.copy(), model.mu_dev.copy(), model.protection_dev.copy(),
                model.mu_dev_active, None if ms._dev_mult is None else ms._dev_mult.copy())

    ms._dev_week = model.week
    ms._update_dev(model, week)
    compiled = state()
    ms._devs[:] = start
    ms._dev_week = model.week
    monkeypatch.setattr(kernels, "_jit", None)
    ms._update_dev(model, week)
    reference = state()
    # each measure's own update (decay, then the enrolled's dose) gives the same doses
    enrolled = {id(m): (s, d) for m, s, d in ms._enrolled}
    for m, row in zip(ms.developmental, start, strict=True):
        dev = row.copy()
        dev *= F32(m.decay ** 8)
        if id(m) in enrolled:
            s, d = enrolled[id(m)]
            dev[s] = np.maximum(dev[s], d)
        if not isinstance(m, Universal) or not m.active(week):
            assert np.array_equal(dev, m.dev)
    assert compiled[3] and compiled[4] is not None and np.abs(compiled[1]).max() > 0
    for a, b in zip(compiled, reference, strict=True):
        assert np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b


@pytest.mark.parametrize("scenario", [None, "scenarios/uvts_2024_2026.yaml"])
def test_transition_kernel_gives_numpys_outcomes(monkeypatch, scenario):
    """Who enters, desists, is recruited, promoted or leaves, and the candidates' contacts: the
    three compiled passes give the numpy code's outcomes exactly, half a year into a run, for
    the week's uniforms and for uniforms that put many youths near their probabilities."""
    model = UmeaModel(seed=6, years=1, scenario=scenario)
    for _ in range(26):
        model.step()
    inv = model.involvement
    ex = inv.exposure(model)
    rng = np.random.default_rng(6)
    # the usual draw, then uniforms squeezed below 0.02 so that every kind of outcome happens
    draws = [rng.random(model.pop.n, dtype=np.float32),
             (rng.random(model.pop.n, dtype=np.float32) * np.float32(0.02))]
    for u in draws:
        got, got_contacts = inv.outcomes(model, u, ex)
        with monkeypatch.context() as mp:
            mp.setattr(kernels, "_jit", None)
            ref, ref_contacts = inv.outcomes(model, u, ex)
        assert len(got) == len(ref) == 6
        for a, b in zip(got, ref, strict=True):
            assert np.array_equal(a, b)
        assert np.array_equal(got_contacts, ref_contacts)
    assert all(g.size > 0 for g in got)  # every outcome was exercised by the second draw


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lowest_k_is_the_first_k_by_key_then_position(monkeypatch, dtype):
    """The heap selection of a programme's first offers equals numpy's full sort by (key,
    position), ties at the cut included (keys drawn from few values)."""
    rng = np.random.default_rng(5)
    for size, k in ((20_000, 40), (5000, 1), (3000, 300), (1000, 999), (10, 10)):
        for key in (rng.random(size).astype(dtype), -rng.integers(0, 50, size).astype(dtype)):
            want = np.lexsort((np.arange(size), key))[:k]
            got = kernels.lowest_k(key, k)
            assert got.dtype == np.int64 and np.array_equal(got, want), (size, k)
    monkeypatch.setattr(kernels, "_jit", None)
    assert np.array_equal(kernels.lowest_k(key, 3), np.lexsort((np.arange(key.size), key))[:3])


def test_age_terms_kernel_equals_numpy(monkeypatch):
    """The hazards' age profiles, the late-teen ramp and the peer pull: the compiled passes give
    numpy's float32 values exactly, for a city's ages and for the edges (10, 17, 20, 21)."""
    model = UmeaModel(seed=8, years=1)
    model.step()
    model.pop.age[:6] = np.array([10.0, np.nextafter(np.float32(10), np.float32(0)), 17.0, 20.0,
                                  21.0, 25.0], np.float32)
    model.week = 0  # a week on which the terms are recomputed
    got = dict(model.age_terms())
    with monkeypatch.context() as mp:
        mp.setattr(kernels, "_jit", None)
        ref = model.age_terms()
    assert sorted(got) == sorted(ref)
    for k in ref:
        assert got[k].dtype == ref[k].dtype and np.array_equal(got[k], ref[k]), k
    assert got["entry"][1] == 0 < got["entry"][0]  # zero below 10
    assert got["ramp"][2] == 1 and got["ramp"][3] == 2 and got["pull"][4] == 0
    assert (got["pull"] > 0).mean() > 0.5


def test_flow_counts_by_district_equal_numpys_bincount():
    """`kernels.count_flow` adds the youths to one flow's column at their districts: the same
    counts as numpy's bincount, repeated youths counted each time, other columns untouched."""
    if kernels.ENGINE != "numba":
        pytest.skip("no Numba here")
    rng = np.random.default_rng(3)
    district = rng.integers(0, 11, 2_000)
    flows = rng.integers(0, 5, (11, 7)).astype(np.int32)
    ref = flows.copy()
    idx = rng.integers(0, 2_000, 600)  # with repeats
    assert kernels.count_flow(flows, 3, district, idx)
    ref[:, 3] += np.bincount(district[idx], minlength=11).astype(np.int32)
    assert np.array_equal(flows, ref) and ref[:, 3].sum() > 600


@pytest.mark.parametrize("with_reports", [False, True])
def test_targeted_effects_applied_in_one_pass_equal_numpys_indexed_updates(with_reports):
    """`kernels.apply_targeted` changes the week's protection boost and hazard and report
    multipliers of the enrolled exactly as the indexed numpy updates do, and nobody else's."""
    if kernels.ENGINE != "numba":
        pytest.skip("no Numba here")
    rng = np.random.default_rng(8)
    n, f = 3_000, np.float32
    slots = np.sort(rng.choice(n, 700, replace=False))
    best = (rng.random((700, 10), dtype=f) - f(0.7))
    mult = tuple(np.exp(best[:, 7 + j]) for j in range(3))
    rep = (f(1) + rng.random(700, dtype=f)) if with_reports else None
    arrays = [rng.random(n, dtype=f) for _ in range(5)]
    ref = [a.copy() for a in arrays]
    assert kernels.apply_targeted(slots, best, 6, mult, rep, *arrays)
    ref[0][slots] -= best[:, 6]
    for j in range(3):
        ref[1 + j][slots] *= mult[j]
    if rep is not None:
        ref[4][slots] *= rep
    for a, b in zip(arrays, ref, strict=True):
        assert np.array_equal(a, b)


def test_the_kernels_week_is_the_models():
    """The kernels keep their own copies of a week in years (sim.recruitment imports them)."""
    from sim.recruitment import WEEK

    assert kernels._WEEK64 == WEEK and kernels._WEEK32 == np.float32(WEEK)

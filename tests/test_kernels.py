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
    for name in ("stage_counts", "flows", "risk_mean", "known"):
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


# ---- risk and involvement kernels (issue 11) -------------------------------------------------
def test_peer_mean_rows_and_stages_equal_numpy(monkeypatch):
    """The friends' mean (CSR product without scipy), row gathering and the youths at risk of
    each transition, against numpy on a model's own networks and states."""
    model = UmeaModel(seed=6, years=1)
    for _ in range(12):
        model.step()
    pop, w = model.pop, model.net.peer_weights
    idx = np.flatnonzero(pop.age >= 10)
    got = (kernels.peer_mean(w, pop.x), kernels.take_rows(pop.x, idx),
           kernels.stage_groups(model.stage, pop.age, 10))
    monkeypatch.setattr(kernels, "_jit", None)
    ref = (w @ pop.x[:, :4], pop.x[idx], kernels.stage_groups(model.stage, pop.age, 10))
    assert np.array_equal(got[0], ref[0]) and got[0].dtype == np.float32
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


def test_buffered_uniforms_are_the_streams_numbers():
    """Streams.uniforms reuses one buffer per stream and gives the numbers of a fresh draw."""
    from sim.rng import Streams

    a, b = Streams(5), Streams(5)
    first = a.uniforms("risk", (100, 6)).copy()
    again = a.uniforms("risk", (100, 6))
    assert np.array_equal(first, b["risk"].random((100, 6), dtype=np.float32))
    assert np.array_equal(again, b["risk"].random((100, 6), dtype=np.float32))
    assert again is a.uniforms("risk", (100, 6)) and not np.array_equal(first, again)
    assert a.uniforms("risk", 7).shape == (7,)


@pytest.mark.parametrize("seed", [1, 2])
def test_peer_ties_kernel_equals_numpy(monkeypatch, seed):
    """The friendship network formed in one compiled pass equals the numpy one: same ties, same
    canonical CSR arrays and types (risks scrambled so that homophily decides among candidates)."""
    from sim.networks import build_peers
    from sim.population import build_population
    from sim.rng import make_stream

    pop = build_population(seed)
    risk = np.random.default_rng(seed).random(pop.n).astype(np.float32)
    got = build_peers(pop, risk, make_stream(seed, "network"))
    monkeypatch.setattr(kernels, "_jit", None)
    ref = build_peers(pop, risk, make_stream(seed, "network"))
    for k in ("indptr", "indices", "data"):
        a, b = getattr(got, k), getattr(ref, k)
        assert a.dtype == b.dtype and np.array_equal(a, b), k
    assert got.has_canonical_format and ref.nnz > 5 * pop.n


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

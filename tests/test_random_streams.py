"""The counter-based weekly streams (sim.rng.week_key, sim.kernels.sequence_uniforms and the risk
update that makes its own noise): the same numbers compiled and in numpy, any number without
the others, uniform and independent, and risk dynamics with the distribution they had when the
noise came from numpy's PCG64 streams."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import sim.kernels as kernels
from sim.kernels import (
    risk_week,
    risk_week_keyed,
    risk_week_keyed_numpy,
    sequence_uniforms,
    sequence_uniforms_at,
    sequence_uniforms_at_numpy,
    sequence_uniforms_numpy,
)
from sim.rng import Streams, make_stream, week_key

numba_only = pytest.mark.skipif(kernels.ENGINE != "numba", reason="Numba kernels not in use")


def test_any_number_of_a_week_stream_is_made_without_the_others():
    """Numbers at positions equal those of the full draw (odd and even sizes, repeats, ends),
    compiled and numpy alike; a week's stream depends on the seed, the name and the week."""
    rs = np.random.default_rng(0)
    for trial in range(50):
        key = week_key(trial, "transition", int(rs.integers(-5, 600)))
        size = int(rs.integers(1, 300))
        full = sequence_uniforms_numpy(key, size)
        assert full.dtype == np.float32 and full.shape == (size,)
        assert np.array_equal(sequence_uniforms(key, size), full)
        pos = np.concatenate([rs.integers(0, size, 7), [0, size - 1, 0]])
        assert np.array_equal(sequence_uniforms_at(key, pos), full[pos])
        assert np.array_equal(sequence_uniforms_at_numpy(key, pos), full[pos])
    # prefixes agree: the first numbers do not depend on how many are drawn
    key = week_key(1, "risk", 3)
    assert np.array_equal(sequence_uniforms(key, 11), sequence_uniforms(key, 1000)[:11])
    keys = {week_key(s, n, w) for s in (1, 2) for n in ("risk", "shock") for w in (0, 1, 52)}
    assert len(keys) == 12


def test_streams_week_uniforms_reuse_a_buffer():
    s = Streams(4)
    a = s.week_uniforms("reports", 7, 1001).copy()
    b = s.week_uniforms("reports", 8, 1001)
    assert b is s.week_uniforms("reports", 8, 1001) and not np.array_equal(a, b)
    assert np.array_equal(a, sequence_uniforms_numpy(week_key(4, "reports", 7), 1001))


@numba_only
@pytest.mark.parametrize("dev", [False, True])
def test_keyed_risk_kernel_equals_numpy(dev):
    """The fused update (noise and crises made inside the loop) equals numpy's update fed with
    the same numbers, bit for bit, with and without lasting developmental shifts."""
    rng = np.random.default_rng(3)
    n, f = 4001, np.float32
    x = rng.random((n, 6), dtype=f)
    x[:50], x[50:100] = 0.0, 1.0
    mu = rng.random((n, 6), dtype=f)
    mu_dev = (rng.random((n, 6), dtype=f) - f(0.5)) if dev else None
    pm, pull = rng.random((n, 4), dtype=f), rng.random(n, dtype=f) * f(0.1)
    a, b = x.copy(), x.copy()
    args = (0.04, 0.03, week_key(5, "risk", 9), week_key(5, "shock", 9), 0.05, 0.15)
    risk_week_keyed(a, mu, mu_dev, pm, pull, *args)
    risk_week_keyed_numpy(b, mu, mu_dev, pm, pull, *args)
    assert np.array_equal(a, b) and not np.array_equal(a, x)
    # and numpy's update with the documented numbers: slot i's six factors take numbers
    # 6i..6i+5 of the risk stream, its crisis number 2i of the shock stream
    c = x.copy()
    u = sequence_uniforms_numpy(args[2], 6 * n).reshape(n, 6)
    shock_u = sequence_uniforms_numpy(args[3], 2 * n)[0::2]
    risk_week(c, mu, mu_dev, pm, pull, 0.04, 0.03, u, shock_u, np.float64(0.05), 0.15)
    assert np.array_equal(a, c)
    # working memory kept between weeks (dirty from the last one) and baselines in another
    # memory layout give the same numbers
    scratch = np.full(6 * n + 7, np.nan, f)
    d = x.copy()
    risk_week_keyed(d, np.asfortranarray(mu), mu_dev, pm, pull, *args, scratch=scratch)
    assert np.array_equal(a, d) and not np.isnan(scratch[:6 * n]).any()
    risk_week_keyed(d, mu, mu_dev, pm, pull, *args, scratch=scratch)
    risk_week_keyed_numpy(b, mu, mu_dev, pm, pull, *args)
    assert np.array_equal(b, d)


def test_week_streams_are_uniform_and_independent():
    """Uniform on [0, 1) (Kolmogorov-Smirnov), no correlation between neighbouring numbers,
    between a youth's numbers in consecutive weeks, or between two streams of one week
    (|r| < 4.5 standard errors; about 1e-5 false alarms a check)."""
    n = 200_000
    se = 1.0 / np.sqrt(n)
    for seed in (1, 2):
        u = sequence_uniforms(week_key(seed, "risk", 10), n).astype(np.float64)
        assert 0.0 <= u.min() and u.max() < 1.0
        assert stats.kstest(u, "uniform").pvalue > 1e-4
        assert abs(u.mean() - 0.5) < 4.5 * np.sqrt(1 / 12) * se
        for lag in (1, 2, 6):
            assert abs(np.corrcoef(u[:-lag], u[lag:])[0, 1]) < 4.5 * se, lag
        nxt = sequence_uniforms(week_key(seed, "risk", 11), n).astype(np.float64)
        other = sequence_uniforms(week_key(seed, "shock", 10), n).astype(np.float64)
        assert abs(np.corrcoef(u, nxt)[0, 1]) < 4.5 * se
        assert abs(np.corrcoef(u, other)[0, 1]) < 4.5 * se
        assert np.unique(u).size > 0.98 * n  # 2^24 levels


def _risk_year(keyed: bool, seed: int, sigma_mult: float = 1.0, weeks: int = 52):
    """A year of the weekly risk update on a fixed synthetic city (drift, peers, noise, crises),
    with noise from numpy's PCG64 streams (as before issue 11's counter-based draws) or from the
    counter-based streams. Returns per-factor means and sds at the end and the crises."""
    rng = np.random.default_rng(2024)  # the city: the same in every run
    n, f = 6000, np.float32
    mu = np.clip(rng.beta(2, 6, (n, 6)), 0, 1).astype(f)
    x0 = np.clip(mu + rng.normal(0, 0.05, (n, 6)), 0, 1).astype(f)
    friends = rng.integers(0, n, (n, 5))
    pull = (rng.random(n) * 0.1).astype(f)
    kappa, sigma, shock_p, shock_size = 0.05, 0.03 * sigma_mult, 0.002, 0.15
    x = x0.copy()
    risk_s, shock_s = make_stream(seed, "risk"), make_stream(seed, "shock")
    crises = 0
    for w in range(weeks):
        pm = x[friends, :4].mean(axis=1).astype(f)
        before = x[:, 5].copy()
        if keyed:
            risk_week_keyed(x, mu, None, pm, pull, kappa, sigma, week_key(seed, "risk", w),
                            week_key(seed, "shock", w), shock_p, shock_size)
        else:
            u = risk_s.random((n, 6), dtype=np.float32)
            su = shock_s.random(n, dtype=f)
            risk_week(x, mu, None, pm, pull, kappa, sigma, u, su, np.float64(shock_p),
                      shock_size)
        crises += int((x[:, 5] - before > 0.1).sum())
    return np.concatenate([x.mean(axis=0), x.std(axis=0), [crises]])


def _differ(a: np.ndarray, b: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    """Which statistics differ by Welch's t-test, Bonferroni-corrected over the statistics."""
    p = stats.ttest_ind(a, b, equal_var=False).pvalue
    return p < alpha / a.shape[1]


def test_counter_based_noise_has_the_distribution_of_the_numpy_streams():
    """Statistical equivalence over seeds: 10 runs of a year with each kind of noise give the
    same means and spreads of the six factors and the same number of family crises; the same
    comparison does flag noise with a 30 % larger sd (so it can fail)."""
    seeds = range(1, 11)
    old = np.array([_risk_year(False, s) for s in seeds])
    new = np.array([_risk_year(True, s) for s in seeds])
    assert not _differ(old, new).any(), (old.mean(0), new.mean(0))
    louder = np.array([_risk_year(True, s, sigma_mult=1.3) for s in seeds])
    flagged = _differ(old, louder)
    assert flagged[6:12].sum() >= 5  # the sds of the factors

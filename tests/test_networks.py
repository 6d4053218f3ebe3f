"""Network statistics: degree, homophily and reciprocity of the peer layer; siblings."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from sim.networks import build_networks
from sim.population import build_population


@pytest.fixture(scope="module", params=(1, 2))
def built(request):
    pop = build_population(request.param)
    risk = pop.x.mean(axis=1)
    net = build_networks(pop, risk, request.param)
    return pop, risk, net


def test_mean_out_degree_4_to_8(built):
    pop, _, net = built
    teens = pop.cohort >= 10
    out = np.diff(net.peers.indptr)[teens]
    assert 4.0 <= out.mean() <= 8.0
    assert out.max() <= 20


def test_reciprocity_0_3_to_0_45(built):
    _, _, net = built
    r = nx.reciprocity(net.to_networkx("peers"))
    assert 0.30 <= r <= 0.45


def test_homophily_on_school_district_and_age(built):
    pop, _, net = built
    g = net.to_networkx("peers")
    nx.set_node_attributes(g, dict(enumerate(pop.district.tolist())), "district")
    assert nx.attribute_assortativity_coefficient(g, "district") > 0.5
    i, j = net.peers.nonzero()
    assert (pop.school[i] == pop.school[j]).mean() > 0.6
    assert np.abs(pop.cohort[i] - pop.cohort[j]).mean() < 0.6


def test_homophily_on_risk(built):
    """Friends are closer in risk than random pairs from the same school and cohort."""
    pop, risk, net = built
    i, j = net.peers.nonzero()
    tie_gap = np.abs(risk[i] - risk[j]).mean()
    rng = np.random.default_rng(0)
    key = pop.school[j].astype(np.int64) * 64 + pop.cohort[j]
    a = np.lexsort((rng.random(j.size), key))  # ties by group, random order within
    b = np.lexsort((rng.random(j.size), key))  # another random order within each group
    shuffled = np.empty_like(j)
    shuffled[a] = j[b]  # each tie gets a random partner from its friend's school and cohort
    random_gap = np.abs(risk[i] - risk[shuffled]).mean()
    assert tie_gap < 0.85 * random_gap


def test_siblings_are_household_members(built):
    pop, _, net = built
    i, j = net.siblings.nonzero()
    assert (pop.household[i] == pop.household[j]).all()
    assert (i != j).all()
    assert (net.siblings != net.siblings.T).nnz == 0


@pytest.mark.parametrize("lam", [3.0, 5.5])
def test_out_degrees_are_a_clipped_poisson_count(lam):
    """The inverse CDF that turns a youth's uniform into its number of nominations gives a
    Poisson(lam) count clipped to 1..MAX_OUT_DEGREE: on an even grid of uniforms each degree
    takes its probability's share to within the grid's step."""
    from scipy.stats import poisson

    from sim.networks import MAX_OUT_DEGREE, degree_cdf

    cdf = degree_cdf(lam)
    np.testing.assert_allclose(cdf, poisson.cdf(np.arange(1, MAX_OUT_DEGREE), lam), rtol=1e-12)
    u = (np.arange(200_000) + 0.5) / 200_000
    deg = 1 + np.searchsorted(cdf, u, side="right")
    want = np.r_[poisson.cdf(1, lam), poisson.pmf(np.arange(2, MAX_OUT_DEGREE), lam),
                 poisson.sf(MAX_OUT_DEGREE - 1, lam)]
    got = np.bincount(deg, minlength=MAX_OUT_DEGREE + 1)[1:] / u.size
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_network_of_a_year_is_its_own_draw(built):
    """Same seed and year: the same network; another year or seed: another network of the
    same size, sharing few ties (classes and schools keep some)."""
    pop, risk, _ = built
    base = build_networks(pop, risk, 7, year=3).peers
    assert (build_networks(pop, risk, 7, year=3).peers != base).nnz == 0
    for other in (build_networks(pop, risk, 7, year=4).peers, build_networks(pop, risk, 8, 3).peers):
        assert base.multiply(other).nnz < 0.5 * base.nnz
        assert abs(other.nnz - base.nnz) < 0.03 * base.nnz

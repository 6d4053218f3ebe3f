"""Network statistics: degree, homophily and reciprocity of the peer layer; siblings."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from sim.networks import build_networks
from sim.population import build_population
from sim.rng import make_stream


@pytest.fixture(scope="module", params=(1, 2))
def built(request):
    pop = build_population(request.param)
    risk = pop.x.mean(axis=1)
    net = build_networks(pop, risk, make_stream(request.param, "network"))
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

"""Family, school and peer networks, and the criminal layer's links to youths.

Networks are drawn with vectorised numpy from the population and stored as scipy.sparse
matrices for the weekly step; `to_networkx` gives the networkx graph of any layer for analysis.

Peers (directed friendship nominations): each youth nominates 1-10 friends (mean ≈ 5.5; preschool
children ≈ 3). A nomination goes to a classmate, a schoolmate of the same age, a youth of about the
same age in the same district, or one elsewhere in the city; among three such candidates the one
closest in risk is preferred (homophily on risk). A share of nominations is returned
(reciprocity). Peers are redrawn at every school-year start, when classes change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import networkx as nx
import numpy as np
import scipy.sparse as sp

from sim import kernels
from sim.population import Population
from sim.rng import week_key

# Tie types and their probabilities (assumption; most adolescent friends are schoolmates,
# Add Health design, priors C). Youths without a school use the district instead.
TIE_TYPES = ("class", "school", "district", "city")
TIE_PROBS = np.array([0.45, 0.25, 0.20, 0.10])
MEAN_OUT_DEGREE = 5.5          # priors C: 4-6 (Add Health), 7.3-8.6 in school networks
PRESCHOOL_OUT_DEGREE = 3.0     # assumption
MAX_OUT_DEGREE = 10            # Add Health: at most 5 + 5 nominations
RECIPROCATE = 0.2             # share of nominations returned on top of chance reciprocity
RISK_HOMOPHILY = 0.15          # random jitter against risk distance (smaller = stronger)
CANDIDATES = 3


@dataclass
class Networks:
    """The run-time network layers as sparse matrices over youth slots."""

    peers: sp.csr_array        # A[i, j] = 1 if i names j as a friend
    siblings: sp.csr_array     # symmetric, 1 between youths of one household

    @cached_property
    def peer_weights(self) -> sp.csr_array:
        """Row-normalised peers (float32): the share-of-friends operator. Made when first asked
        for (the engine uses `peers` and its row pointers; the numpy reference paths and
        analyses use this), not at every yearly rebuild."""
        return row_normalise(self.peers)

    def to_networkx(self, layer: str = "peers") -> nx.Graph:
        """The layer as a networkx graph (directed for peers, undirected for siblings)."""
        mat = {"peers": self.peers, "siblings": self.siblings}[layer]
        create = nx.DiGraph if layer == "peers" else nx.Graph
        return nx.from_scipy_sparse_array(mat, create_using=create)


def _groups(key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Members sorted by group key (stably: slot order within a group, the same with or without
    the kernels and in every numpy version), the keys, and each key's start and size."""
    order = kernels.stable_order(key)
    sk = key[order]
    start = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
    counts = np.diff(np.r_[start, sk.size])
    return order, sk[start], start, counts


def degree_cdf(lam: float) -> np.ndarray:
    """P(X <= k) for k = 1..MAX_OUT_DEGREE - 1 of a Poisson(lam) count: a uniform u gives the
    out-degree 1 + #{k: u >= P(X <= k)}, i.e. the count clipped to 1..MAX_OUT_DEGREE."""
    k = np.arange(MAX_OUT_DEGREE)
    pmf = np.exp(-lam + k * np.log(lam) - np.array([math.lgamma(i + 1) for i in k]))
    return np.cumsum(pmf)[1:]


def network_keys(seed: int, year: int) -> tuple[int, int]:
    """The counter-based streams of the friendship network drawn in `year` of a run with `seed`:
    one number per youth (out-degrees), nine per nomination (the rest)."""
    return week_key(seed, "network:degree", year), week_key(seed, "network:ties", year)
def _locate(groups: tuple[np.ndarray, ...], want: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each wanted group key among the groups, and whether it exists."""
    keys = groups[1]
    pos = np.clip(np.searchsorted(keys, want), 0, keys.size - 1)
    return pos, keys[pos] == want


def _pick(groups: tuple[np.ndarray, ...], pos: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A random member of the group at `pos` for each tie."""
    order, _, start, counts = groups
    return order[start[pos] + (u.astype(np.float64) * counts[pos]).astype(np.int64)]


def build_peers(pop: Population, risk: np.ndarray, seed: int, year: int = 0) -> sp.csr_array:
    """Draw the directed friendship network (see module docstring) of `year` of a run with `seed`.

    All random numbers are counter-based uniforms (`network_keys`), in a fixed order and amount:
    out-degrees (inverse Poisson CDF), then per nomination its tie type, age shift, three
    candidates' picks and jitter, and reciprocation. The ties are formed from them by the
    compiled kernel or, without Numba, by `_peer_ties_numpy` (the reference): the same network
    either way."""
    n = pop.n
    deg_key, tie_key = network_keys(seed, year)
    u_deg = kernels.sequence_uniforms(deg_key, n)
    preschool = pop.cohort <= 5
    deg = np.empty(n, np.int64)
    for mask, lam in ((preschool, PRESCHOOL_OUT_DEGREE), (~preschool, MEAN_OUT_DEGREE)):
        deg[mask] = 1 + np.searchsorted(degree_cdf(lam), u_deg[mask].astype(np.float64),
                                        side="right")
    m = int(deg.sum())
    v = kernels.sequence_uniforms(tie_key, 9 * m)
    cum = np.cumsum(TIE_PROBS / TIE_PROBS.sum())[:-1].astype(np.float32)
    tie_u = v[:m]
    shift = ((v[m:2 * m] >= np.float32(1 / 3)).astype(np.int64)
             + (v[m:2 * m] >= np.float32(2 / 3)) - 1)
    u = v[2 * m:5 * m].reshape(CANDIDATES, m)  # float32: picks computed in float64
    jitter = v[5 * m:8 * m].reshape(CANDIDATES, m)
    back_u = v[8 * m:]
    coh = pop.cohort.astype(np.int64)
    # group keys of the members for each tie type: class, school and cohort, district and
    # cohort, and the city-wide cohort (the fallback)
    groups = [_groups(k) for k in (pop.klass.astype(np.int64), pop.school * 64 + coh,
                                   pop.district.astype(np.int64) * 64 + coh, coh)]
    r = risk.astype(np.float32)
    csr = kernels.peer_ties(deg, tie_u, cum, shift, u, jitter, back_u, RECIPROCATE,
                            RISK_HOMOPHILY, pop.klass, pop.school, pop.district, coh, r, groups)
    if csr is not None:
        return sp.csr_array((np.ones(csr[1].size, np.float32), csr[1], csr[0]), shape=(n, n))
    return _peer_ties_numpy(pop, deg, tie_u, cum, shift, u, jitter, back_u, coh, r, groups)


def _peer_ties_numpy(pop: Population, deg: np.ndarray, tie_u: np.ndarray, cum: np.ndarray,
                     shift: np.ndarray, u: np.ndarray, jitter: np.ndarray, back_u: np.ndarray,
                     coh: np.ndarray, r: np.ndarray, groups: list[tuple[np.ndarray, ...]]
                     ) -> sp.csr_array:
    """The friendship matrix from build_peers' draws, with numpy (the kernels' reference): each
    youth's `deg` nominations get a tie type, three candidates are picked from the tie type's
    group (the city cohort when the youth has none), the one closest in risk after jitter is
    named, a share of the nominations is returned; no self-ties, no duplicates."""
    n = pop.n
    src = np.repeat(np.arange(n), deg)
    m = src.size
    ttype = (tie_u[:, None] > cum).sum(axis=1)
    no_school = pop.school[src] < 0
    ttype[no_school & (ttype < 2)] = 2
    shift = np.where(ttype >= 2, shift, 0)
    want_coh = np.clip(coh[src] + shift, 3, 20)
    wanted = {
        0: pop.klass[src].astype(np.int64),
        1: pop.school[src].astype(np.int64) * 64 + coh[src],
        2: pop.district[src].astype(np.int64) * 64 + want_coh,
    }
    city = groups[3]
    cand = np.empty((CANDIDATES, m), np.int64)
    fallback = np.ones(m, bool)
    for t in (0, 1, 2):
        sel = np.flatnonzero(ttype == t)
        pos, found = _locate(groups[t], wanted[t][sel])
        sel, pos = sel[found], pos[found]
        fallback[sel] = False
        for c in range(CANDIDATES):
            cand[c, sel] = _pick(groups[t], pos, u[c, sel])
    rest = np.flatnonzero(fallback)
    pos, found = _locate(city, want_coh[rest])
    for c in range(CANDIDATES):
        cand[c, rest] = np.where(found, _pick(city, pos, u[c, rest]), src[rest])
    score = jitter * np.float32(RISK_HOMOPHILY) - np.abs(r[cand] - r[src])
    dst = cand[np.argmax(score, axis=0), np.arange(m)]
    back = back_u < np.float64(RECIPROCATE)  # in float64, as the kernel compares
    rows = np.r_[src, dst[back]]
    cols = np.r_[dst, src[back]]
    keep = rows != cols
    a = sp.csr_array((np.ones(keep.sum(), np.float32), (rows[keep], cols[keep])), shape=(n, n))
    a.sum_duplicates()
    a.data[:] = 1.0
    return a


def row_normalise(a: sp.csr_array) -> sp.csr_array:
    """Each row divided by its sum (rows of zeros stay zero), float32."""
    deg = np.diff(a.indptr).astype(np.float32)
    inv = np.divide(1.0, deg, out=np.zeros_like(deg), where=deg > 0)
    w = a.astype(np.float32, copy=True)
    w.data *= np.repeat(inv, np.diff(a.indptr))
    return w


def build_siblings(household: np.ndarray) -> sp.csr_array:
    """Youths sharing a household, without self-ties (in one compiled pass when the kernels
    are in use: the same arrays as the sparse product below)."""
    n = household.size
    csr = kernels.siblings(household)
    if csr is not None:
        return sp.csr_array((np.ones(csr[1].size, np.float32), csr[1], csr[0]), shape=(n, n))
    h = sp.csr_array((np.ones(n, np.float32), (np.arange(n), household)),
                     shape=(n, int(household.max()) + 1))
    s = (h @ h.T).tocsr()
    s.setdiag(0)
    s.eliminate_zeros()
    return s


def build_networks(pop: Population, risk: np.ndarray, seed: int, year: int = 0) -> Networks:
    """All youth layers for the current population, in `year` of a run with `seed`."""
    peers = build_peers(pop, risk, seed, year)
    return Networks(peers=peers,
                    siblings=build_siblings(pop.household))

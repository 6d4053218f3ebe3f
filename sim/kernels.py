"""Compiled kernels for the hottest loops of the weekly step, with numpy fallbacks.

Each kernel fuses what the numpy engine does in several passes over the population (and several
temporary arrays) into one pass, compiled by Numba (`cache=True`: compiled once per machine and
stored beside this file or in NUMBA_CACHE_DIR, so sweep and calibration workers load it instead of
recompiling). The kernels do the same float32 operations in the same order as the numpy code, and
they never draw random numbers (the uniforms come from the model's named numpy streams), so the
two implementations give **the same results bit for bit** (tests/test_kernels.py runs whole
models both ways and compares every recorded table). Random draws, exponentials and BLAS products
stay in numpy: their last bits differ between implementations.

`UVTS_KERNELS=numpy` in the environment selects the numpy fallbacks (for checking and for machines
without Numba); `ENGINE` says which is in use and is written into run manifests.
"""

from __future__ import annotations

import math
import os

import numpy as np

from sim.risk import FACTORS, PEER_FACTORS, SHOCK_COLS, SQRT12, apply_shocks, update_risk

F32 = np.float32
_WEEK64 = np.float64(1.0 / 52.0)  # recruitment.WEEK (which imports this module)
_WEEK32 = F32(1.0 / 52.0)  # recruitment.WEEK as numpy rounds it next to float32 arrays


# ---- numpy implementations (the reference) ----------------------------------------------------
def risk_week_numpy(x: np.ndarray, mu: np.ndarray, mu_dev: np.ndarray | None,
                    peer_mean: np.ndarray, pull: np.ndarray, kappa: float, sigma: float,
                    u: np.ndarray, shock_u: np.ndarray, shock_p: float, shock_size: float) -> None:
    """One week of the risk factors in place: drift to the baselines `mu` (+ `mu_dev`, clipped
    to [0, 1]), peer pull on the first four factors, uniform noise of sd `sigma` from `u`
    (overwritten), clip to [0, 1]; then family crises (`shock_u < shock_p`) raise the two
    factors `SHOCK_COLS` by `shock_size` (capped at 1)."""
    if mu_dev is not None:
        mu = np.clip(mu + mu_dev, 0.0, 1.0)
    update_risk(x, mu, peer_mean, pull, kappa, sigma, u)
    apply_shocks(x, shock_u < shock_p, shock_size)


def in_neighbour_counts_numpy(indptr: np.ndarray, indices: np.ndarray, sources: np.ndarray,
                              n: int) -> np.ndarray:
    """For each of n youths, how many of `sources` point to it (rows of a CSR matrix: the
    transposed friendship matrix gives 'how many of my friends are sources')."""
    if sources.size == 0:
        return np.zeros(n, np.float32)
    starts, ends = indptr[sources], indptr[sources + 1]
    lens = ends - starts
    first = np.concatenate(([0], np.cumsum(lens)[:-1]))
    pos = np.repeat(starts - first, lens) + np.arange(lens.sum())
    return np.bincount(indices[pos], minlength=n).astype(np.float32)


# ---- Numba implementations --------------------------------------------------------------------
def _numba_jit():
    """Numba's `njit` with on-disk caching, or None when Numba is absent or switched off."""
    if os.environ.get("UVTS_KERNELS", "").strip().lower() == "numpy":
        return None
    try:
        import numba
    except ImportError:  # Numba is a core dependency; this keeps a broken install usable
        return None
    return numba.njit(cache=True, nogil=True, error_model="numpy")


_jit = _numba_jit()
ENGINE = "numpy" if _jit is None else "numba"
_HALF, _ZERO, _ONE = np.float32(0.5), np.float32(0.0), np.float32(1.0)
_MHALF, _F3, _F4, _F17, _F21 = (np.float32(v) for v in (-0.5, 3.0, 4.0, 17.0, 21.0))
N_FACTORS = len(FACTORS)  # a compile-time constant in the kernels: the loops over factors unroll


def _risk_week_loop(x, mu, mu_dev, use_dev, peer_mean, pull, kappa, scale, u, shock_u, shock_p,
                    shock_size, c0, c1):
    n = x.shape[0]
    for i in range(n):
        pl = pull[i]
        for j in range(N_FACTORS):
            xi = x[i, j]
            m = mu[i, j]
            if use_dev:
                m = min(max(m + mu_dev[i, j], _ZERO), _ONE)
            v = xi + (m - xi) * kappa
            v = v + (u[i, j] - _HALF) * scale
            if j < PEER_FACTORS:
                v = v + (peer_mean[i, j] - xi) * pl
            x[i, j] = min(max(v, _ZERO), _ONE)
        if shock_u[i] < shock_p:
            x[i, c0] = min(x[i, c0] + shock_size, _ONE)
            x[i, c1] = min(x[i, c1] + shock_size, _ONE)


def _in_counts_loop(indptr, indices, sources, n):
    out = np.zeros(n, np.float32)
    for s in sources:
        for e in range(indptr[s], indptr[s + 1]):
            out[indices[e]] += _ONE
    return out


def _exposure_loop(stage, member_id, status, jailed, peer_ptr, peer_idx, sib_ptr, sib_idx,
                   school, out_deg, lo, hi, periph, member, full, inv_prev, net_prev, inv_cnt,
                   net_cnt, sib_inv_cnt, sib_net_cnt, per_school, share, friends2, sib_inv, sib2,
                   school2):
    """Bring the exposure arrays up to date: one pass over the youths finds who joined or left
    the involved (stages lo..hi) and the criminal network (peripheral, or members not in
    prison) since the last call, and only their ties are counted again; `full` starts from
    nothing (new networks or population). Counts are integers, so the arrays are those of a
    count from scratch (the float32 numbers of Involvement.exposure's numpy code)."""
    n = stage.size
    if full:
        inv_prev[:] = False
        net_prev[:] = False
        inv_cnt[:] = 0
        net_cnt[:] = 0
        sib_inv_cnt[:] = 0
        sib_net_cnt[:] = 0
        per_school[:] = 0
        share[:] = _ZERO
        friends2[:] = _ZERO
        sib_inv[:] = False
        sib2[:] = False
    net_changed = full
    for i in range(n):
        s = stage[i]
        inv = s >= lo and s <= hi
        net = s == periph or s == member
        if s == member and member_id[i] >= 0 and status[member_id[i]] == jailed:
            net = False
        if inv != inv_prev[i]:
            d = 1 if inv else -1
            inv_prev[i] = inv
            for e in range(peer_ptr[i], peer_ptr[i + 1]):
                j = peer_idx[e]
                inv_cnt[j] += d
                share[j] = np.float32(inv_cnt[j]) / max(out_deg[j], _ONE)
            for e in range(sib_ptr[i], sib_ptr[i + 1]):
                j = sib_idx[e]
                sib_inv_cnt[j] += d
                sib_inv[j] = sib_inv_cnt[j] > 0
        if net != net_prev[i]:
            d = 1 if net else -1
            net_prev[i] = net
            net_changed = True
            for e in range(peer_ptr[i], peer_ptr[i + 1]):
                j = peer_idx[e]
                net_cnt[j] += d
                friends2[j] = np.float32(net_cnt[j])
            for e in range(sib_ptr[i], sib_ptr[i + 1]):
                j = sib_idx[e]
                sib_net_cnt[j] += d
                sib2[j] = sib_net_cnt[j] > 0
            if school[i] >= 0:
                per_school[school[i]] += d
    if net_changed:
        for i in range(n):
            if school[i] >= 0:
                school2[i] = max(np.float32(per_school[school[i]]) - friends2[i], _ZERO)
            else:
                school2[i] = _ZERO


class ExposureState:
    """The exposure arrays of one model between weeks, and what they were counted on."""

    def __init__(self, n: int, n_schools: int):
        self.token: tuple = ()
        self.n_schools = n_schools
        self.inv_prev, self.net_prev = np.zeros(n, np.bool_), np.zeros(n, np.bool_)
        self.counts = [np.zeros(n, np.int32) for _ in range(4)]
        self.per_school = np.zeros(max(n_schools, 1), np.int32)
        self.out = {"share": np.zeros(n, np.float32), "friends2": np.zeros(n, np.float32),
                    "sib_inv": np.zeros(n, np.bool_), "sib2": np.zeros(n, np.bool_),
                    "school2": np.zeros(n, np.float32)}


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S11, _S27, _S30, _S31 = np.uint64(11), np.uint64(27), np.uint64(30), np.uint64(31)
_TWO53 = 1.0 / 9007199254740992.0


def _mix(z):
    z = z + _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def _splitmix_loop(x):
    out = np.empty(x.size, np.uint64)
    for i in range(x.size):
        out[i] = _mix(x[i])
    return out


def _keyed_uniform_loop(keys, cmix):
    out = np.empty(keys.size, np.float64)
    for i in range(keys.size):
        out[i] = np.float64(_mix(keys[i] ^ cmix) >> _S11) * _TWO53
    return out


def _peer_mean_loop(indptr, indices, x):
    n = indptr.size - 1
    # the four columns first, in rows of 16 bytes: the friends' rows are read in random order,
    # and a 24-byte row of x often spans two cache lines (a quarter less time in all)
    x4 = np.empty((x.shape[0], 4), np.float32)
    for i in range(x.shape[0]):
        x4[i, 0], x4[i, 1], x4[i, 2], x4[i, 3] = x[i, 0], x[i, 1], x[i, 2], x[i, 3]
    out = np.empty((n, 4), np.float32)
    for i in range(n):
        a0, a1, a2, a3 = _ZERO, _ZERO, _ZERO, _ZERO
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            a0 += x4[j, 0]
            a1 += x4[j, 1]
            a2 += x4[j, 2]
            a3 += x4[j, 3]
        d = np.float32(indptr[i + 1] - indptr[i])
        if d > _ZERO:
            out[i, 0], out[i, 1], out[i, 2], out[i, 3] = a0 / d, a1 / d, a2 / d, a3 / d
        else:
            out[i, 0], out[i, 1], out[i, 2], out[i, 3] = _ZERO, _ZERO, _ZERO, _ZERO
    return out


# ---- involvement hazards (issue 11) ------------------------------------------------------------
def _take_rows_loop(x, idx):
    out = np.empty((idx.size, x.shape[1]), x.dtype)
    k = x.shape[1]
    for r in range(idx.size):
        i = idx[r]
        for c in range(k):
            out[r, c] = x[i, c]
    return out


def _stage_groups_loop(stage, age, min_age):
    counts = np.zeros(4, np.int64)
    n = stage.size
    for i in range(n):
        s = stage[i]
        if s == 0:
            if age[i] >= min_age:
                counts[0] += 1
        elif s <= 3:
            counts[s] += 1
    i0 = np.empty(counts[0], np.int64)
    i1 = np.empty(counts[1], np.int64)
    i2 = np.empty(counts[2], np.int64)
    i3 = np.empty(counts[3], np.int64)
    k0 = k1 = k2 = k3 = 0
    for i in range(n):
        s = stage[i]
        if s == 0:
            if age[i] >= min_age:
                i0[k0] = i
                k0 += 1
        elif s == 1:
            i1[k1] = i
            k1 += 1
        elif s == 2:
            i2[k2] = i
            k2 += 1
        elif s == 3:
            i3[k3] = i
            k3 += 1
    return i0, i1, i2, i3


def _entry_terms_loop(z, xs, idx, prot, boost, dev, use_prot, share, sib_inv, vis, district,
                      theta, g_peer, g_sib, g_place_half):
    for r in range(idx.size):
        i = idx[r]
        pr = prot[i]
        if use_prot:
            pr = min(max(pr + boost[i] + dev[i], _ZERO), _ONE)
        v = z[r] - theta * pr
        v = v + g_peer * share[i]
        v = v + g_sib * (_ONE if sib_inv[i] else _ZERO)
        v = v + g_place_half * (xs[r, 2] + xs[r, 3]) * vis[district[i]]
        z[r] = v


def _entry_total_loop(z, idx, age_entry, base, mult, use_mult):
    out = np.empty(idx.size, np.float64)
    for r in range(idx.size):
        i = idx[r]
        v = z[r] * (base * age_entry[i])
        if use_mult:
            v = v * mult[i]
        out[r] = v
    return out


def _keyed_uniforms_loop(keys, cmixes):
    out = np.empty((cmixes.size, keys.size), np.float64)
    for j in range(cmixes.size):
        for i in range(keys.size):
            out[j, i] = np.float64(_mix(keys[i] ^ cmixes[j]) >> _S11) * _TWO53
    return out


def _entity_keys_loop(prefix, ids, tail):
    out = np.empty(ids.size, np.uint64)
    for i in range(ids.size):
        k = _mix(prefix ^ _mix(np.uint64(ids[i])))
        for t in tail:
            k = _mix(k ^ t)
        out[i] = k
    return out


if _jit is not None:
    _risk_week_loop = _jit(_risk_week_loop)
    _in_counts_loop = _jit(_in_counts_loop)
    _exposure_loop = _jit(_exposure_loop)
    _mix = _jit(_mix)
    _splitmix_loop = _jit(_splitmix_loop)
    _keyed_uniform_loop = _jit(_keyed_uniform_loop)
    _take_rows_loop = _jit(_take_rows_loop)
    _stage_groups_loop = _jit(_stage_groups_loop)
    _peer_mean_loop = _jit(_peer_mean_loop)
    _entry_terms_loop = _jit(_entry_terms_loop)
    _entry_total_loop = _jit(_entry_total_loop)
    _entity_keys_loop = _jit(_entity_keys_loop)
    _keyed_uniforms_loop = _jit(_keyed_uniforms_loop)


def loaded() -> list[str]:
    """Names of the compiled kernels this process has loaded or compiled so far."""
    return sorted(name for name, f in globals().items()
                  if name.endswith("_loop") and getattr(f, "signatures", None))


# ---- the engine's entry points ----------------------------------------------------------------
def risk_week(x: np.ndarray, mu: np.ndarray, mu_dev: np.ndarray | None, peer_mean: np.ndarray,
              pull: np.ndarray, kappa: float, sigma: float, u: np.ndarray, shock_u: np.ndarray,
              shock_p: float, shock_size: float) -> None:
    """One week of the risk factors (see `risk_week_numpy`), compiled when Numba is present."""
    if _jit is None:
        risk_week_numpy(x, mu, mu_dev, peer_mean, pull, kappa, sigma, u, shock_u, shock_p,
                        shock_size)
        return
    use_dev = mu_dev is not None
    _risk_week_loop(x, mu, mu_dev if use_dev else mu, use_dev, peer_mean, pull,
                    np.float32(kappa), np.float32(sigma) * SQRT12, u, shock_u,
                    np.float64(shock_p), np.float32(shock_size), SHOCK_COLS[0], SHOCK_COLS[1])


def peer_mean(peers, x: np.ndarray) -> np.ndarray:
    """The friends' mean of the peer-shaped factors: for each youth the sum of its friends' rows
    `x[j, :PEER_FACTORS]` divided by their number (0 for a youth without friends), from the 0/1
    float32 friendship matrix `peers` (CSR). The kernel adds each row's terms in stored order in
    float32, as scipy's CSR product does, then divides, so both give the same numbers bit for bit;
    it reads no weights (a third of the memory traffic of `peer_weights @ x`) and makes no copy
    of the strided columns."""
    if _jit is None or PEER_FACTORS != 4 or peers.dtype != np.float32:
        return peer_mean_numpy(peers, x)
    return _peer_mean_loop(peers.indptr, peers.indices, x)


def peer_mean_numpy(peers, x: np.ndarray) -> np.ndarray:
    """numpy/scipy version of `peer_mean` (the reference)."""
    s = (peers @ x[:, :PEER_FACTORS]).astype(np.float32, copy=False)
    deg = np.diff(peers.indptr).astype(np.float32)[:, None]
    return np.divide(s, deg, out=np.zeros_like(s), where=deg > 0)


def in_neighbour_counts(at, sources: np.ndarray, n: int) -> np.ndarray:
    """For each youth, how many of `sources` it is tied to, via the transposed matrix `at`."""
    if _jit is None or sources.size == 0:
        return in_neighbour_counts_numpy(at.indptr, at.indices, sources, n)
    return _in_counts_loop(at.indptr, at.indices, sources.astype(np.int64, copy=False), n)


def splitmix64(x: np.ndarray) -> np.ndarray | None:
    """The splitmix64 finaliser of a uint64 array (same shape), or None without the kernels
    (sim.rng then uses its numpy version). Integer arithmetic: identical in both."""
    if _jit is None or x.ndim == 0:
        return None
    return _splitmix_loop(x.ravel()).reshape(x.shape)


def keyed_uniform(keys: np.ndarray, cmix: np.uint64) -> np.ndarray | None:
    """Uniforms in [0, 1) from 1-D uint64 keys mixed with `cmix` (see sim.rng.keyed_uniform), or
    None without the kernels."""
    if _jit is None or keys.ndim != 1:
        return None
    return _keyed_uniform_loop(keys, cmix)


def keyed_uniforms(keys: np.ndarray, cmixes: np.ndarray) -> np.ndarray | None:
    """Uniforms of 1-D keys for several mixed counters, one row each (see
    sim.rng.keyed_uniforms), or None without the kernels."""
    if _jit is None or keys.ndim != 1:
        return None
    return _keyed_uniforms_loop(keys, cmixes)


def entity_keys(prefix: np.uint64, ids: np.ndarray, tail: np.ndarray) -> np.ndarray | None:
    """Keys of entities `ids` (1-D int64) after the mixed key `prefix`, each then mixed with the
    mixed scalar parts `tail` in turn (see sim.rng.entity_keys), or None without the kernels."""
    if _jit is None:
        return None
    return _entity_keys_loop(prefix, ids, tail)


def exposure(stage, member_id, status, jailed, peers_t, siblings, school, n_schools, out_deg,
             lo, hi, periph, member, state: ExposureState | None = None
             ) -> tuple[dict[str, np.ndarray], ExposureState] | None:
    """Exposure to involved friends, siblings and schoolmates (see Involvement.exposure for the
    numpy version and the meaning), or None without the kernels. Kept up to date in `state`
    from the week before: only youths who joined or left the involved or the network are
    counted again; a new state is made (and returned) when there is none or when the
    networks, schools or population are other objects than last time. The arrays returned
    belong to the state and change with the next call."""
    if _jit is None:
        return None
    token = (peers_t, siblings, school, out_deg)  # compared by identity: rebuilt yearly
    full = state is None or len(state.token) != 4 or any(
        a is not b for a, b in zip(state.token, token, strict=True))
    if full and (state is None or state.inv_prev.size != stage.size
                 or state.n_schools != n_schools):
        state = ExposureState(stage.size, n_schools)
    state.token = token
    o = state.out
    _exposure_loop(stage, member_id, status, jailed, peers_t.indptr, peers_t.indices,
                   siblings.indptr, siblings.indices, school, out_deg, lo, hi, periph, member,
                   full, state.inv_prev, state.net_prev, *state.counts, state.per_school,
                   o["share"], o["friends2"], o["sib_inv"], o["sib2"], o["school2"])
    return o, state


def take_rows(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """`x[idx]` for a 2-D array and integer rows (a compiled copy is several times faster than
    numpy's fancy indexing for the six-column risk matrix)."""
    if _jit is None:
        return x[idx]
    return _take_rows_loop(x, idx)


def entry_hazard(z: np.ndarray, xs: np.ndarray, idx: np.ndarray, prot: np.ndarray,
                 boost: np.ndarray, dev: np.ndarray, use_prot: bool, share: np.ndarray,
                 sib_inv: np.ndarray, vis: np.ndarray, district: np.ndarray,
                 coef: dict[str, float], age_entry: np.ndarray, mult: np.ndarray,
                 use_mult: bool) -> np.ndarray | None:
    """Yearly hazard of norm-breaking as float64 (see Involvement.entry_rate, whose numpy code is
    the reference) from `z = xs @ betas` (overwritten), or None without the kernels. The
    exponential stays numpy's; the terms around it are added in the numpy code's order."""
    if _jit is None:
        return None
    f = np.float32
    _entry_terms_loop(z, xs, idx, prot, boost, dev, use_prot, share, sib_inv,
                      vis.astype(f), district, f(coef["theta_protection"]),
                      f(coef["gamma_peer"]), f(coef["gamma_sibling"]),
                      f(coef["gamma_place"]) * f(0.5))
    np.exp(z, out=z)
    return _entry_total_loop(z, idx, age_entry, f(coef["entry_base_rate"]), mult, use_mult)


def stage_groups(stage: np.ndarray, age: np.ndarray, min_age: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The youths at risk of each transition, in slot order: stage 0 aged `min_age` or more,
    then stages 1, 2 and 3 (one pass instead of four comparisons and four `flatnonzero`)."""
    if _jit is None:
        return (np.flatnonzero((stage == 0) & (age >= min_age)), np.flatnonzero(stage == 1),
                np.flatnonzero(stage == 2), np.flatnonzero(stage == 3))
    return _stage_groups_loop(stage, age, np.float32(min_age))


# ---- network building (issue 11) ----------------------------------------------------------------
def _group_tables(gkeys, gptr):
    """Dense look-up tables from group key to group index (-1: no such group) for each of the
    groupings whose sorted keys are gkeys[gptr[t]:gptr[t + 1]]: their offsets in the table,
    smallest and largest keys."""
    n_sets = gptr.size - 1
    base = np.zeros(n_sets + 1, np.int64)
    kmin = np.zeros(n_sets, np.int64)
    kmax = np.full(n_sets, -1, np.int64)
    for t in range(n_sets):
        if gptr[t + 1] > gptr[t]:
            kmin[t], kmax[t] = gkeys[gptr[t]], gkeys[gptr[t + 1] - 1]
        base[t + 1] = base[t] + kmax[t] - kmin[t] + 1
    table = np.full(base[n_sets], -1, np.int64)
    for t in range(n_sets):
        for g in range(gptr[t], gptr[t + 1]):
            table[base[t] + gkeys[g] - kmin[t]] = g
    return table, base, kmin, kmax


def _peer_ties_loop(deg, tie_u, cum, shift, u, jitter, back_u, recip, homophily, klass, school,
                    district, coh, r, order, gkeys, gstart, gcount, gptr):
    """Each tie's type, wanted group, three candidates and the one named (the first highest
    score, as numpy's argmax gives it for scores without NaN: risks are in [0, 1]), then the
    canonical CSR; the same integer and float32 operations as sim.networks._peer_ties_numpy."""
    n, m, n_cand = deg.size, tie_u.size, u.shape[0]
    table, base, kmin, kmax = _group_tables(gkeys, gptr)
    src = np.empty(m, np.int64)
    dst = np.empty(m, np.int64)
    e = 0
    for i in range(n):
        for _ in range(deg[i]):
            src[e] = i
            e += 1
    for e in range(m):
        s = src[e]
        t = 0
        for k in range(cum.size):
            if tie_u[e] > cum[k]:
                t += 1
        if school[s] < 0 and t < 2:
            t = 2
        want_coh = coh[s] + shift[e] if t >= 2 else coh[s]
        want_coh = min(max(want_coh, 3), 20)
        g, pos = -1, -1
        if t < 3:
            if t == 0:
                want = np.int64(klass[s])
            elif t == 1:
                want = np.int64(school[s]) * 64 + coh[s]
            else:
                want = np.int64(district[s]) * 64 + want_coh
            if want >= kmin[t] and want <= kmax[t]:
                pos = table[base[t] + want - kmin[t]]
                if pos >= 0:
                    g = t
        if g < 0 and want_coh >= kmin[3] and want_coh <= kmax[3]:
            pos = table[base[3] + want_coh - kmin[3]]
            if pos >= 0:
                g = 3
        best, best_score = s, _ZERO
        for c in range(n_cand):
            cand = s if g < 0 else order[g, gstart[pos] + np.int64(np.float64(u[c, e]) * gcount[pos])]
            score = jitter[c, e] * homophily - abs(r[cand] - r[s])
            if c == 0 or score > best_score:
                best, best_score = cand, score
        dst[e] = best
    # canonical CSR of the ties and the returned nominations (rows sorted, no repeats) by two
    # counting sorts: the entries by column, then, taking the columns in order, by row
    by_col = np.zeros(n + 1, np.int64)
    for e in range(m):
        if src[e] != dst[e]:
            by_col[dst[e] + 1] += 1
            if back_u[e] < recip:
                by_col[src[e] + 1] += 1
    by_col = np.cumsum(by_col)
    by_row = np.zeros(n + 1, np.int64)
    rows = np.empty(by_col[n], np.int64)
    put = by_col[:-1].copy()
    for e in range(m):
        if src[e] != dst[e]:
            rows[put[dst[e]]] = src[e]
            put[dst[e]] += 1
            by_row[src[e] + 1] += 1
            if back_u[e] < recip:
                rows[put[src[e]]] = dst[e]
                put[src[e]] += 1
                by_row[dst[e] + 1] += 1
    by_row = np.cumsum(by_row)
    cols = np.empty(by_row[n], np.int64)
    put = by_row[:-1].copy()
    for c in range(n):
        for j in range(by_col[c], by_col[c + 1]):
            cols[put[rows[j]]] = c
            put[rows[j]] += 1
    indptr = np.zeros(n + 1, np.int64)
    k = 0
    for i in range(n):
        for j in range(by_row[i], by_row[i + 1]):
            if j == by_row[i] or cols[j] != cols[j - 1]:
                cols[k] = cols[j]
                k += 1
        indptr[i + 1] = k
    return indptr, cols[:k].copy()


def _counting_order_loop(key, kmin, kmax):
    """Stable counting sort: slots in order of key, slot order within a key."""
    start = np.zeros(kmax - kmin + 2, np.int64)
    for i in range(key.size):
        start[key[i] - kmin + 1] += 1
    for k in range(1, start.size):
        start[k] += start[k - 1]
    order = np.empty(key.size, np.int64)
    for i in range(key.size):
        b = key[i] - kmin
        order[start[b]] = i
        start[b] += 1
    return order


def _siblings_loop(household, n_households):
    """Housemates per youth: households' members in slot order (a counting sort), each row
    their slots in descending order without the youth itself."""
    n = household.size
    start = np.zeros(n_households + 1, np.int64)
    for i in range(n):
        start[household[i] + 1] += 1
    start = np.cumsum(start)
    members = np.empty(n, np.int64)
    put = start[:-1].copy()
    for i in range(n):
        members[put[household[i]]] = i
        put[household[i]] += 1
    indptr = np.zeros(n + 1, np.int64)
    for i in range(n):
        h = household[i]
        indptr[i + 1] = indptr[i] + start[h + 1] - start[h] - 1
    indices = np.empty(indptr[n], np.int64)
    for i in range(n):
        h, k = household[i], indptr[i]
        for j in range(start[h + 1] - 1, start[h] - 1, -1):
            if members[j] != i:
                indices[k] = members[j]
                k += 1
    return indptr, indices


if _jit is not None:
    _group_tables = _jit(_group_tables)
    _peer_ties_loop = _jit(_peer_ties_loop)
    _siblings_loop = _jit(_siblings_loop)
    _counting_order_loop = _jit(_counting_order_loop)


def stable_order(key: np.ndarray) -> np.ndarray:
    """`np.argsort(key, kind="stable")` (int64) for an integer key: a counting sort when the
    keys span at most four times as many values as there are slots (group keys of classes,
    schools, districts and cohorts), numpy's sort otherwise or without the kernels."""
    key = np.asarray(key)
    if _jit is None or key.size == 0 or key.dtype.kind not in "iu":
        return np.argsort(key, kind="stable")
    k = key.astype(np.int64, copy=False)
    kmin, kmax = int(k.min()), int(k.max())
    if kmax - kmin > 4 * k.size:
        return np.argsort(key, kind="stable")
    return _counting_order_loop(k, np.int64(kmin), np.int64(kmax))


def peer_ties(deg, tie_u, cum, shift, u, jitter, back_u, recip, homophily, klass, school,
              district, coh, r, groups) -> tuple[np.ndarray, np.ndarray] | None:
    """The friendship matrix's (indptr, indices) in canonical CSR form (int64, as scipy builds
    it), formed from build_peers' draws in one pass over the ties, or None without the kernels
    (see sim.networks._peer_ties_numpy for the numpy version and the meaning). `groups` are the
    four (order, keys, start, counts) member groupings of sim.networks._groups: class, school and
    cohort, district and cohort, city cohort."""
    if _jit is None:
        return None
    i64 = np.int64
    order = np.stack([g[0] for g in groups]).astype(i64, copy=False)
    gptr = np.r_[0, np.cumsum([g[1].size for g in groups])].astype(i64)
    gkeys, gstart, gcount = (np.concatenate([g[j] for g in groups]).astype(i64, copy=False)
                             for j in (1, 2, 3))
    return _peer_ties_loop(deg.astype(i64, copy=False), tie_u, cum, shift.astype(i64, copy=False),
                           u, jitter, back_u, np.float64(recip), np.float32(homophily), klass,
                           school, district, coh, r, order, gkeys, gstart, gcount, gptr)


def siblings(household: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The sibling matrix's (indptr, indices) (int64) from the household of each youth, in the
    order scipy's product in sim.networks.build_siblings leaves them (each row's housemates in
    descending slot order, the youth itself left out), or None without the kernels."""
    if _jit is None:
        return None
    return _siblings_loop(household, int(household.max()) + 1)


# ---- social services, recording and the criminal network (issue 11) ----------------------------
# One pass over all youths where the numpy code makes several (gathers, masks, temporaries). The
# float32 arithmetic is that of the numpy code, operation by operation (numpy multiplies a float32
# array by a Python float in float32, by a numpy float64 scalar in float64; sums of eight hazards
# are pairwise, as numpy's); exp, expm1, log1p and rounding stay in numpy. Counter-based uniforms
# (integer hashes of a key and a counter, sim.rng) are computed inside, as `keyed_uniform` above.
# Counts are integers, the same in any order. Each entry point returns None (False) without Numba
# and the process then runs its numpy code (the reference).
def _report_exponents_loop(x, slope, vf, mh, ev, sf):
    n = x.shape[0]
    need = np.empty(n, np.float32)
    school = np.empty(n, np.float32)
    for i in range(n):
        v = F32(0.6) * x[i, vf] + F32(0.25) * x[i, mh]
        need[i] = slope * (v + F32(0.15) * x[i, ev])
        school[i] = F32(2.0) * x[i, sf]
    return need, school


def _report_bases_loop(exp_need, exp_school, age, rate_fam, rate_beh, child_age, beh_age,
                       share_fam, share_child, share_adult):
    n = age.size
    fam = np.empty(n, np.float32)
    beh = np.empty(n, np.float32)
    child = np.empty(n, np.bool_)
    fam_total = np.empty(n, np.float32)
    beh_total = np.empty(n, np.float32)
    for i in range(n):
        c = age[i] < child_age
        child[i] = c
        fam[i] = rate_fam * exp_need[i] * (_ONE if c else _ZERO)
        beh[i] = rate_beh * exp_school[i] * (_ONE if age[i] >= beh_age else _ZERO)
        fam_total[i] = F32(np.float64(fam[i]) * share_fam)
        beh_total[i] = F32(np.float64(beh[i]) * (share_child if c else share_adult))
    return fam, beh, child, fam_total, beh_total


def _report_totals_loop(fam, beh, child, share_fam, share_child, share_adult):
    n = fam.size
    fam_total = np.empty(n, np.float32)
    beh_total = np.empty(n, np.float32)
    for i in range(n):
        fam_total[i] = F32(np.float64(fam[i]) * share_fam)
        beh_total[i] = F32(np.float64(beh[i]) * (share_child if child[i] else share_adult))
    return fam_total, beh_total


def _report_rates_loop(idx, beh_total, fam_total, stage_mult, stage, last_any, recent_after,
                       repeat_mult, mult, use_mult, week, every):
    size = beh_total.size if every else idx.size
    out = np.empty(size, np.float32)
    for j in range(size):
        i = j if every else idx[j]
        r = beh_total[i] * stage_mult[stage[i]]
        r = r + fam_total[i]
        if last_any[i] > recent_after:
            r = r * repeat_mult
        if use_mult:
            r = r * mult[i]
        if week > _ZERO:  # the weekly hazard (weekly_prob32 makes the probability)
            r = r * week
        out[j] = r
    return out


def _recording_loop(district, stage, known, n_districts, monthly, cohort, band_of_cohort, boy,
                    age, n_bands, x):
    stage_counts = np.zeros(n_districts * 5, np.int64)
    known_counts = np.zeros(n_districts, np.int64)
    for i in range(stage.size):
        d = district[i]
        stage_counts[d * 5 + stage[i]] += 1
        if known[i]:
            known_counts[d] += 1
    # monthly: four interleaved copies of each histogram, added up at the end (consecutive youths
    # mostly fall in the same few bins; with one copy each increment waits for the last)
    lanes = 4
    m = 1 if monthly else 0
    groups = np.zeros((lanes, m * n_bands * 2 * 5), np.int64)
    teen = np.zeros((lanes, m * 10), np.int64)
    children = np.zeros((lanes, m * n_districts), np.int64)
    # monthly: the risk factors summed by district in slot order (`district_matrix @ x`'s order)
    sums = np.zeros((m * n_districts, x.shape[1]), np.float32)
    if monthly:
        for i in range(stage.size):
            d = district[i]
            for c in range(x.shape[1]):
                sums[d, c] += x[i, c]
        for i in range(stage.size):
            lane = i & 3
            s = stage[i]
            groups[lane, (band_of_cohort[cohort[i]] * 2 + boy[i]) * 5 + s] += 1
            a = age[i]
            teen[lane, (5 if a >= 13 and a < 20 else 0) + s] += 1
            children[lane, district[i]] += a < 18
    return (stage_counts, known_counts, groups.sum(axis=0), teen.sum(axis=0),
            children.sum(axis=0), sums)


def _network_counts_loop(status, tier, youth, boy, outside, active, jailed, periph):
    members = youth_members = incarcerated = men = recruiters = outside_total = 0
    for r in range(status.size):
        if status[r] == jailed:
            incarcerated += 1
        if status[r] != active:
            continue
        outside_total += outside[r]
        if tier[r] == periph:
            recruiters += 1
            continue
        members += 1
        if youth[r] >= 0:
            youth_members += 1
        if boy[r]:
            men += 1
    return members, youth_members, incarcerated, men, recruiters, outside_total


def _open_slots_loop(stage, recruiter, peripheral, status, age, max_age, wanted, outside,
                     demand_mult, active):
    youngers = np.zeros(status.size, np.int64)
    for i in range(stage.size):
        if stage[i] == peripheral and recruiter[i] >= 0:
            youngers[recruiter[i]] += 1
    out = np.zeros(status.size, np.int64)
    for r in range(status.size):
        if status[r] == active and age[r] <= max_age:
            if demand_mult == 1.0:
                v = np.int64(wanted[r]) - youngers[r] - np.int64(outside[r])
                out[r] = max(v, 0)
            else:
                w = np.floor(np.float64(wanted[r]) * demand_mult + 0.5)
                out[r] = np.int64(max(w - np.float64(youngers[r]) - np.float64(outside[r]), 0.0))
    return out


def _report_draws_loop(hit, fam, beh, stage_mult, stage, age, child_age, share, adult_channels,
                       u_which, x, vf, mh, ev, norm, periph, exited, logit0, centre):
    m = hit.size
    which = np.empty(m, np.int64)
    child = np.empty(m, np.bool_)
    neg_logit = np.empty(m, np.float64)
    r = np.empty(8, np.float64)
    for j in range(m):
        i = hit[j]
        c = age[i] < child_age
        child[j] = c
        f = np.float64(fam[i])
        b = np.float64(beh[i] * stage_mult[stage[i]])
        for ch in range(4):
            r[ch] = f * share[0, ch] * (1.0 if c else 0.0)
            r[4 + ch] = b * share[1, ch]
            if not c:
                r[4 + ch] *= adult_channels[ch]
        total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))  # numpy's
        total = max(total, 1e-30)                                  # pairwise sum of 8
        cum = 0.0
        k = 0
        for ch in range(8):
            cum = cum + r[ch] if ch else r[0]
            if u_which[j] > cum / total:
                k += 1
        which[j] = min(k, 7)
        s = stage[i]
        need = F32(0.6) * x[i, vf] + F32(0.25) * x[i, mh]
        need = need + F32(0.15) * x[i, ev]
        sev = np.float64(need) + (0.3 if s >= norm else 0.0)
        sev = sev + (0.3 if s >= periph else 0.0) * (1.0 if s < exited else 0.0)
        neg_logit[j] = -(logit0 + 3.0 * (sev - centre))
    return which, child, neg_logit


def _turnover_loop(age, status, release, tier, youth, key, week_f32, active, jailed, periph,
                   cmix, p_inc, p_exit, inactive):
    for r in range(status.size):
        age[r] += week_f32
        if status[r] == jailed:
            release[r] -= week_f32
            if release[r] <= 0:
                status[r] = active
    n_inc = 0
    inc = np.empty(status.size, np.int64)
    for r in range(status.size):
        if status[r] != active or tier[r] == periph:
            continue
        u = np.float64(_mix(key[r] ^ cmix) >> _S11) * _TWO53
        if u < p_inc:
            status[r] = jailed
            inc[n_inc] = r
            n_inc += 1
        elif youth[r] < 0 and u < p_inc + p_exit:
            status[r] = inactive
    return inc[:n_inc].copy()


def _book_reports_loop(hit, which, child, week, year, last_report, last_any, report_year, reports,
                       record, district, flows, report_cols, behaviour_col, first_col, cohort,
                       band_of_cohort, boy, group_flows, group_flow):
    for j in range(hit.size):
        i = hit[j]
        reason = which[j] // 4
        channel = which[j] % 4
        last_report[i, channel] = week
        last_any[i] = week
        if not child[j]:
            continue
        if record:
            d = district[i]
            flows[d, report_cols[channel]] += 1
            if reason == 1:
                flows[d, behaviour_col] += 1
            if report_year[i] != year:
                flows[d, first_col] += 1
            reports[i] += 1
            if week >= 0:
                group_flows[week, band_of_cohort[cohort[i]], 1 if boy[i] else 0, group_flow] += 1
        report_year[i] = year


if _jit is not None:
    _report_exponents_loop = _jit(_report_exponents_loop)
    _report_bases_loop = _jit(_report_bases_loop)
    _report_rates_loop = _jit(_report_rates_loop)
    _report_totals_loop = _jit(_report_totals_loop)
    _report_draws_loop = _jit(_report_draws_loop)
    _book_reports_loop = _jit(_book_reports_loop)
    _recording_loop = _jit(_recording_loop)
    _network_counts_loop = _jit(_network_counts_loop)
    _open_slots_loop = _jit(_open_slots_loop)
    _turnover_loop = _jit(_turnover_loop)


def report_exponents(x: np.ndarray, slope: float, vf: int, mh: int, ev: int, sf: int
                     ) -> tuple[np.ndarray, np.ndarray] | None:
    """The arguments of the two exponentials of the report hazards (sim.processes.
    social_services._base_rates): slope·family need and 2·school failure, float32."""
    if _jit is None:
        return None
    return _report_exponents_loop(x, F32(slope), vf, mh, ev, sf)


def report_bases(exp_need: np.ndarray, exp_school: np.ndarray, age: np.ndarray, rate_fam: float,
                 rate_beh: float, child_age: float, beh_age: float, share_fam: np.float64,
                 share_child: np.float64, share_adult: np.float64) -> tuple | None:
    """The family and behaviour hazards from their exponentials, the child mask and both hazards
    times their channel shares (fam, beh, child, fam_total, beh_total), or None."""
    if _jit is None:
        return None
    return _report_bases_loop(exp_need, exp_school, age, F32(rate_fam), F32(rate_beh),
                              F32(child_age), F32(beh_age), np.float64(share_fam),
                              np.float64(share_child), np.float64(share_adult))


def report_rates(idx: np.ndarray | None, beh_total: np.ndarray, fam_total: np.ndarray,
                 stage_mult: np.ndarray, stage: np.ndarray, last_any: np.ndarray,
                 recent_after: int, repeat_mult: float, mult: np.ndarray | None,
                 weekly: bool = False) -> np.ndarray | None:
    """Yearly report hazards (float32) of youths `idx` (all if None; SocialServices._rates_of),
    or with `weekly` their weekly hazards (times `recruitment.WEEK` in float32: `weekly_prob32`
    makes the week's probabilities, `sequence_below_weekly` the week's reports), or None."""
    if _jit is None:
        return None
    use_mult = mult is not None
    every = idx is None
    return _report_rates_loop(stage if every else idx, beh_total, fam_total, stage_mult, stage,
                              last_any, recent_after, F32(repeat_mult),
                              mult if use_mult else fam_total, use_mult,
                              _WEEK32 if weekly else F32(0), every)


def report_totals(fam: np.ndarray, beh: np.ndarray, child: np.ndarray, share_fam: np.float64,
                  share_child: np.float64, share_adult: np.float64) -> tuple | None:
    """Both report hazards times their channel shares (fam_total, beh_total: the float64
    products rounded to float32, as `report_bases` makes them), or None."""
    if _jit is None:
        return None
    return _report_totals_loop(fam, beh, child, np.float64(share_fam), np.float64(share_child),
                               np.float64(share_adult))


def report_draws(hit: np.ndarray, fam: np.ndarray, beh: np.ndarray, stage_mult: np.ndarray,
                 stage: np.ndarray, age: np.ndarray, child_age: float, share: np.ndarray,
                 adult_channels: np.ndarray, u_which: np.ndarray, x: np.ndarray,
                 factors: tuple[int, int, int], stages: tuple[int, int, int], logit0: float,
                 centre: float) -> tuple | None:
    """For the reported youths `hit`: the report's reason and channel (k = 4·reason + channel,
    drawn with `u_which` over the eight hazards), whether the youth is a child, and minus the
    logit of an investigation (its probability is 1/(1 + exp(that))), as
    SocialServices.step computes them with numpy; or None."""
    if _jit is None:
        return None
    return _report_draws_loop(hit, fam, beh, stage_mult, stage, age, F32(child_age), share,
                              adult_channels, u_which, x, *factors, *stages,
                              np.float64(logit0), np.float64(centre))


def book_reports(hit: np.ndarray, which: np.ndarray, child: np.ndarray, week: int, year: int,
                 social, record: bool, model, flow_cols: tuple, band_of_cohort: np.ndarray,
                 group_flow: int) -> bool:
    """Book this week's reports (k = `which`) in place: the youths' last report by channel and
    any, their report year and count, and when `record` the week's flows by channel, about
    behaviour and of children first reported this year, by district, and the reports by age band
    and sex (SocialServices.step; `flow_cols` = the four channels' columns, behaviour, first).
    False without the kernels (nothing done)."""
    if _jit is None:
        return False
    pop = model.pop
    report_cols, behaviour_col, first_col = flow_cols
    _book_reports_loop(hit, which, child, week, year, social.last_report, social.last_any,
                       social.report_year, social.reports, record, pop.district, model.flows,
                       report_cols, behaviour_col, first_col, pop.cohort, band_of_cohort,
                       pop.boy, model.recorder.group_flows, group_flow)
    return True


def recording_counts(district: np.ndarray, stage: np.ndarray, known: np.ndarray, n_districts: int,
                     monthly: bool, cohort: np.ndarray, band_of_cohort: np.ndarray,
                     boy: np.ndarray, age: np.ndarray, n_bands: int, x: np.ndarray
                     ) -> tuple | None:
    """One pass over the youths for Recording.step: counts by district and stage (flat) and of
    known youths by district; when `monthly` also by age band, sex and stage (flat), by
    (13-19, stage), of children by district, and the risk factors `x` (float32) summed by
    district in slot order, as `district_matrix @ x` sums them (empty otherwise). None without
    the kernels."""
    if _jit is None or x.dtype != np.float32:
        return None
    return _recording_loop(district, stage, known, n_districts, monthly, cohort, band_of_cohort,
                           boy, age, n_bands, x)


def network_counts(status: np.ndarray, tier: np.ndarray, youth: np.ndarray, boy: np.ndarray,
                   outside: np.ndarray, active: int, jailed: int, periph: int) -> tuple | None:
    """Active members, of whom youths and men, incarcerated records, active peripheral
    recruiters and outside youngers of active records, in one pass; or None."""
    if _jit is None:
        return None
    return _network_counts_loop(status, tier, youth, boy, outside, active, jailed, periph)


def open_slots(stage: np.ndarray, recruiter: np.ndarray, peripheral: int, status: np.ndarray,
               age: np.ndarray, max_age: float, wanted: np.ndarray, outside: np.ndarray,
               demand_mult: float, active: int) -> np.ndarray | None:
    """Open demand of each network record: the youngers it holds among the model's youths
    (peripheral youths by recruiter) and its open slots (see CriminalNetwork.open_slots) in one
    call, or None."""
    if _jit is None:
        return None
    return _open_slots_loop(stage, recruiter, peripheral, status, age, F32(max_age), wanted,
                            outside, np.float64(demand_mult), active)


def turnover(age: np.ndarray, status: np.ndarray, release: np.ndarray, tier: np.ndarray,
             youth: np.ndarray, key: np.ndarray, week_f32: np.float32,
             codes: tuple[int, int, int, int], cmix: np.uint64, p_inc: float, p_exit: float
             ) -> np.ndarray | None:
    """A week of the network records' ageing, releases, incarcerations and adult exits in place
    (CriminalNetwork.turnover; `codes` = active, incarcerated, inactive status and the
    peripheral recruiters' tier; uniforms of counter mix `cmix`); returns the records
    incarcerated now (their sentences are drawn in numpy), or None without the kernels."""
    if _jit is None:
        return None
    active, jailed, inactive, periph = codes
    return _turnover_loop(age, status, release, tier, youth, key, week_f32, active, jailed,
                          periph, cmix, np.float64(p_inc), np.float64(p_exit), inactive)


# ---- measures: target groups, household spread, the strongest current effect ------------------
def _table_bits(ok):
    """A boolean table of at most 64 entries as the bits of one integer."""
    bits = np.uint64(0)
    for k in range(ok.size):
        if ok[k]:
            bits |= np.uint64(1) << np.uint64(k)
    return bits


def _eligible_loop(age, lo, hi, district, dist_ok, use_d, school, school_ok, use_s, stage,
                   stage_ok, use_st, risk, thr, use_r, excl, use_x, req, use_q):
    # one branch-free pass over the contiguous arrays, small tables as bit masks (it
    # vectorises), then the schools' table for the youths still in
    n = age.size
    one = np.uint64(1)
    st_bits = _table_bits(stage_ok) if use_st else ~np.uint64(0)
    d_bits = _table_bits(dist_ok) if use_d and dist_ok.size <= 64 else ~np.uint64(0)
    big_d = use_d and dist_ok.size > 64
    out = np.empty(n, np.bool_)
    for i in range(n):
        a = age[i]
        ok = (a >= lo) & (a < hi) & (not (use_x and excl[i])) & (req[i] or not use_q)
        ok = ok & (((st_bits >> np.uint64(stage[i] & 63)) & one) != 0)
        ok = ok & (((d_bits >> np.uint64(district[i] & 63)) & one) != 0)
        out[i] = ok & ((risk[i] >= thr) or not use_r)
    if use_s or big_d:
        for i in range(n):
            if out[i]:
                ok = True
                if big_d:
                    ok = ok & dist_ok[district[i]]
                if use_s:
                    sc = school[i]
                    ok = ok & (sc >= 0) & school_ok[max(sc, 0)]  # slot -1: no school
                out[i] = ok
    return out


def _spread_loop(slots, dose, sib_ptr, sib_idx, dilution):
    m = slots.size
    total = m
    for j in range(m):
        total += sib_ptr[slots[j] + 1] - sib_ptr[slots[j]]
    all_s = np.empty(total, np.int64)
    all_d = np.empty(total, np.float32)
    k = 0
    for j in range(m):
        all_s[k] = slots[j]
        all_d[k] = dose[j]
        k += 1
    for j in range(m):
        s = slots[j]
        d = dose[j] * dilution
        for e in range(sib_ptr[s], sib_ptr[s + 1]):
            all_s[k] = sib_idx[e]
            all_d[k] = d
            k += 1
    order = np.argsort(all_s)
    uniq = np.empty(total, np.int64)
    best = np.zeros(total, np.float32)
    g = -1
    last = -1
    for j in range(total):
        e = order[j]
        if all_s[e] != last:
            g += 1
            last = all_s[e]
            uniq[g] = last
        if all_d[e] > best[g]:
            best[g] = all_d[e]
    return uniq[:g + 1].copy(), best[:g + 1].copy()


def _strongest_loop(slots, dose, part, eff, reports, any_rep, n):
    total = slots.size
    n_ch = eff.shape[1]
    # the sorted unique slots and each participation's row among them, by marking the slots
    # in a table of all n youths and reading it in order (no sort of the participations)
    row_of = np.zeros(n, np.int32)
    for e in range(total):
        row_of[slots[e]] = 1
    uniq = np.empty(total, np.int64)
    m = 0
    for i in range(n):
        if row_of[i]:
            row_of[i] = m
            uniq[m] = i
            m += 1
    pos = np.empty(total, np.int64)
    for e in range(total):
        pos[e] = row_of[slots[e]]
    best = np.zeros((m, n_ch), np.float32)
    rep = np.ones(m, np.float32)
    for e in range(total):  # in the order of the parts, as numpy's ufunc.at
        p = part[e]
        r = pos[e]
        d = dose[e]
        for c in range(n_ch):
            v = eff[p, c]
            if v != 0:
                w = d * v
                if w < best[r, c]:
                    best[r, c] = w
        if any_rep and reports[p] != 0:
            w = _ONE + d * reports[p]
            if w > rep[r]:
                rep[r] = w
    return uniq[:m].copy(), best, rep


def _targeted_baselines_loop(buf, mu_univ, restore, use_restore, mu, shift, use_shift, best,
                             slots):
    nk = mu.shape[1]
    if use_restore:
        for r in range(restore.size):
            i = restore[r]
            for k in range(nk):
                buf[i, k] = mu_univ[i, k]
    for r in range(slots.size):
        i = slots[r]
        for k in range(nk):
            if use_shift:
                v = mu[i, k] + (shift[i, k] + best[r, k])
            else:
                v = mu[i, k] + best[r, k]
            buf[i, k] = min(max(v, _ZERO), _ONE)


def targeted_baselines(buf: np.ndarray, mu_univ: np.ndarray, restore: np.ndarray | None,
                       mu: np.ndarray, shift: np.ndarray | None, best: np.ndarray,
                       slots: np.ndarray) -> bool:
    """The enrolled's effective baselines in `buf` in one pass (InterventionSet._targeted_arrays):
    rows `restore` put back to the universal baselines `mu_univ`, then rows `slots` set to the
    living baselines `mu` + (the universal shift + `best`'s first columns), clipped to [0, 1];
    the same float32 sums as numpy's. False (nothing done) without the kernels."""
    if _jit is None:
        return False
    _targeted_baselines_loop(buf, mu_univ, slots if restore is None else restore,
                             restore is not None, mu, mu if shift is None else shift,
                             shift is not None, best, slots)
    return True


def _apply_targeted_loop(slots, best, col, m_entry, m_recruit, m_desist, rep, use_rep, prot,
                         entry, recruit, desist, report):
    for r in range(slots.size):
        i = slots[r]
        prot[i] = prot[i] - best[r, col]
        entry[i] = entry[i] * m_entry[r]
        recruit[i] = recruit[i] * m_recruit[r]
        desist[i] = desist[i] * m_desist[r]
        if use_rep:
            report[i] = report[i] * rep[r]


def apply_targeted(slots: np.ndarray, best: np.ndarray, col: int, mult: tuple,
                   rep: np.ndarray | None, prot: np.ndarray, entry: np.ndarray,
                   recruit: np.ndarray, desist: np.ndarray, report: np.ndarray) -> bool:
    """The enrolled's current effects on the week's arrays in one pass (unique `slots`): minus
    `best[:, col]` on the protection boost, the three hazard multipliers `mult` and the report
    multipliers `rep` (if any), as InterventionSet._apply_targeted's indexed updates do; False
    without the kernels."""
    if _jit is None:
        return False
    _apply_targeted_loop(slots, best, col, mult[0], mult[1], mult[2],
                         mult[0] if rep is None else rep, rep is not None, prot, entry, recruit,
                         desist, report)
    return True


def _dev_sums_loop(devs, eff, mu, prot, logs):
    n_dev, n = devs.shape
    nk = mu.shape[1]
    cols = np.zeros((nk, n), np.float32)  # the factor shifts factor by factor (contiguous rows)
    for i in range(n):
        prot[i] = _ZERO
    for d in range(n_dev):  # measure by measure and channel by channel, as numpy adds them
        row = devs[d]
        for c in range(eff.shape[1]):
            e = eff[d, c]
            if e == _ZERO:
                continue
            if c < nk:
                out = cols[c]
                for i in range(n):
                    out[i] += row[i] * e
            elif c == nk:
                for i in range(n):
                    prot[i] -= row[i] * e
            else:
                out = logs[c - nk - 1]
                for i in range(n):
                    out[i] += row[i] * e
    for i in range(n):
        for k in range(nk):
            mu[i, k] = cols[k, i]


def _escalation_need_loop(stage, known, placed, declined, stage_any, stage_declined, risk,
                          risk_declined, use_risk):
    n = stage.size
    out = np.zeros(n, np.bool_)
    for i in range(n):
        if not known[i] or placed[i]:
            continue
        s = stage[i]
        inv = s >= 1 and s <= 3
        if inv and s >= stage_any:
            out[i] = True
        elif declined[i] and ((inv and s >= stage_declined) or (use_risk and risk[i] >= risk_declined)):
            out[i] = True
    return out


if _jit is not None:
    _escalation_need_loop = _jit(_escalation_need_loop)
    _dev_sums_loop = _jit(_dev_sums_loop)
    _table_bits = _jit(_table_bits)
    _eligible_loop = _jit(_eligible_loop)
    _spread_loop = _jit(_spread_loop)
    _strongest_loop = _jit(_strongest_loop)
    _targeted_baselines_loop = _jit(_targeted_baselines_loop)
    _apply_targeted_loop = _jit(_apply_targeted_loop)


def _lowest_k_loop(key, k):
    """Positions of the k smallest keys by (key, position): a max-heap of the best k so far
    (keys without NaN), then its entries in order."""
    hk = np.empty(k, key.dtype)
    hp = np.empty(k, np.int64)
    for i in range(k):  # the first k, then heapified
        hk[i], hp[i] = key[i], i
    for start in range(k // 2 - 1, -1, -1):
        _sift_down(hk, hp, start, k)
    for i in range(k, key.size):
        v = key[i]
        if v < hk[0]:  # (v, i) beats the worst kept (hk[0], hp[0] < i) only if v is smaller
            hk[0], hp[0] = v, i
            _sift_down(hk, hp, 0, k)
    for end in range(k - 1, 0, -1):  # heap sort: the worst to the back
        hk[0], hk[end] = hk[end], hk[0]
        hp[0], hp[end] = hp[end], hp[0]
        _sift_down(hk, hp, 0, end)
    return hp


def _sift_down(hk, hp, i, size):
    while True:
        big, a, b = i, 2 * i + 1, 2 * i + 2
        if a < size and (hk[a] > hk[big] or (hk[a] == hk[big] and hp[a] > hp[big])):
            big = a
        if b < size and (hk[b] > hk[big] or (hk[b] == hk[big] and hp[b] > hp[big])):
            big = b
        if big == i:
            return
        hk[i], hk[big] = hk[big], hk[i]
        hp[i], hp[big] = hp[big], hp[i]
        i = big


if _jit is not None:
    _sift_down = _jit(_sift_down)
    _lowest_k_loop = _jit(_lowest_k_loop)


def lowest_k(key: np.ndarray, k: int) -> np.ndarray:
    """Positions (int64) of the `k` smallest of `key` ordered by key, ties by position:
    `np.lexsort((np.arange(key.size), key))[:k]`, which is numpy's version (used without the
    kernels), in one pass with a heap of k. Which of several equal keys make the cut is thereby
    defined, as np.argpartition does not define it."""
    k = max(0, min(int(k), key.size))
    if _jit is None or k == 0 or key.dtype.kind != "f" or k * 8 > key.size:
        return np.lexsort((np.arange(key.size), key))[:k].astype(np.int64, copy=False)
    return _lowest_k_loop(key, k)


def eligible(age: np.ndarray, lo: float, hi: float, district: np.ndarray,
             dist_ok: np.ndarray | None, school: np.ndarray, school_ok: np.ndarray | None,
             stage: np.ndarray, stage_ok: np.ndarray | None, risk: np.ndarray | None,
             thr: float, exclude: np.ndarray | None = None, require: np.ndarray | None = None
             ) -> np.ndarray | None:
    """Mask of a measure's target group in one pass: lo ≤ age < hi (compared in float32, as
    numpy compares a float32 array with a Python number), and the tables of allowed districts,
    schools (by school slot; -1 = no school) and stages, and risk ≥ thr, and not `exclude` and
    `require` (boolean masks); a table or mask given as None (or risk None) is not checked. None
    without the kernels (Measure.eligible has the numpy)."""
    if _jit is None:
        return None
    empty = np.zeros(1, np.bool_)
    return _eligible_loop(age, F32(lo), F32(hi), district,
                          empty if dist_ok is None else dist_ok, dist_ok is not None,
                          school, empty if school_ok is None else school_ok, school_ok is not None,
                          stage, empty if stage_ok is None else stage_ok, stage_ok is not None,
                          age if risk is None else risk, F32(thr), risk is not None,
                          empty if exclude is None else exclude, exclude is not None,
                          empty if require is None else require, require is not None)


def escalation_need(stage: np.ndarray, known: np.ndarray, placed: np.ndarray,
                    declined: np.ndarray, stage_any: int | None, stage_declined: int | None,
                    risk: np.ndarray | None, risk_declined: float | None) -> np.ndarray | None:
    """Mask of the youths the compulsory path considers (see Compulsory.candidates, without its
    target group): known, not placed, and involved (stage 1-3) at `stage_any` or more, or having
    declined voluntary help and involved at `stage_declined` or more or with mean risk at
    `risk_declined` or more (compared in float32, as numpy compares a float32 array with a
    Python number); a threshold of None never holds. None without the kernels."""
    if _jit is None:
        return None
    never = np.int64(99)
    use_risk = risk_declined is not None
    return _escalation_need_loop(stage, known, placed, declined,
                                 never if stage_any is None else np.int64(stage_any),
                                 never if stage_declined is None else np.int64(stage_declined),
                                 risk if use_risk else np.zeros(1, np.float32),
                                 F32(risk_declined if use_risk else 0.0), use_risk)


def dev_sums(devs: np.ndarray, eff: np.ndarray, mu: np.ndarray, prot: np.ndarray,
             logs: np.ndarray) -> tuple[bool, bool] | None:
    """The lasting shifts of the developmental measures' doses (see
    InterventionSet._update_dev) in one pass: `devs` (measures × youths) times each measure's
    effect row `eff`, added measure by measure in float32 into `mu` (youths × factors, set),
    `prot` (set, minus the protection effect) and `logs` (3 × youths, added to); returns whether
    any factor or protection shift and any log hazard is non-zero, or None without the kernels."""
    if _jit is None:
        return None
    _dev_sums_loop(devs, eff, mu, prot, logs)
    return bool(mu.any() or prot.any()), bool(logs.any())


def spread(slots: np.ndarray, dose: np.ndarray, siblings, dilution: float
           ) -> tuple[np.ndarray, np.ndarray] | None:
    """A household entry's reach (see Measure.spread): the participants and their siblings,
    sorted and unique, each with its strongest dose (siblings' × `dilution`, in float32), or
    None without the kernels."""
    if _jit is None:
        return None
    return _spread_loop(slots.astype(np.int64, copy=False), dose.astype(F32, copy=False),
                        siblings.indptr, siblings.indices, F32(dilution))


def strongest(slots: np.ndarray, dose: np.ndarray, part: np.ndarray, eff: np.ndarray,
              reports: np.ndarray, any_rep: bool
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The strongest current-state effect per youth and channel over all measures a youth takes
    part in (see InterventionSet._targeted_arrays): `slots`, `dose` and `part` (the row of `eff`,
    one per measure) list every participation; returns the sorted unique slots, the minimum of
    dose × effect per channel (0 when none is negative) and the largest report multiplier
    1 + dose × reports; or None without the kernels."""
    if _jit is None:
        return None
    n = int(slots.max()) + 1 if slots.size else 0
    return _strongest_loop(slots, dose, part, eff, reports, any_rep, n)



def _count_flow_loop(flows, col, district, idx):
    for k in range(idx.size):
        flows[district[idx[k]], col] += 1


def count_flow(flows: np.ndarray, col: int, district: np.ndarray, idx: np.ndarray) -> bool:
    """Add the youths `idx` to column `col` of the week's `flows` (districts × flows) at their
    districts (Model.count_flow: the same integer counts as a bincount); False without the
    kernels."""
    if _jit is None:
        return False
    _count_flow_loop(flows, col, district, idx)
    return True


def _row_mean_loop(x):
    n, k = x.shape
    out = np.empty(n, np.float32)
    div = np.float32(k)
    for i in range(n):
        s = x[i, 0]
        for j in range(1, k):
            s += x[i, j]
        out[i] = s / div
    return out


if _jit is not None:
    _row_mean_loop = _jit(_row_mean_loop)
    _count_flow_loop = _jit(_count_flow_loop)


def row_mean(x: np.ndarray) -> np.ndarray:
    """`x.mean(axis=1)` of a C-contiguous float32 (n, k) array with k < 8: numpy adds such short
    rows one after the other in float32 and divides by k; the kernel does the same, in one pass
    (numpy's reduction over short rows costs about 25 ns a row)."""
    if _jit is None or x.dtype != np.float32 or x.ndim != 2 or x.shape[1] >= 8 \
            or not x.flags.c_contiguous:
        return x.mean(axis=1)
    return _row_mean_loop(x)


# ---- the week's stage transitions in one pass (issue 11) ---------------------------------------
_BOUND = 1.0 + 2.0 ** -30  # x(1 + 2^-30) bounds 1 - e^-x above, whatever expm1's last-bit error

def _age_args_loop(age, c, arg):
    for i in range(age.size):
        a = age[i]
        v = (a - c[0]) / c[1]
        arg[0, i] = _MHALF * (v * v)
        v = (a - c[2]) / c[3]
        arg[1, i] = _MHALF * (v * v)


def _age_terms_loop(age, prof, lo, sex_e, sex_r, has_friends, eta, entry, recruit, ramp, pull):
    for i in range(age.size):
        a = age[i]
        young = not a >= lo
        entry[i] = (_ZERO if young else prof[0, i]) * sex_e[i]
        recruit[i] = (_ZERO if young else prof[1, i]) * sex_r[i]
        ramp[i] = _ONE + min(max((a - _F17) / _F3, _ZERO), _ONE)
        w = min(max((_F21 - a) / _F4, _ZERO), _ONE)
        pull[i] = (eta * w) * (_ONE if has_friends[i] else _ZERO)


if _jit is not None:
    _age_args_loop = _jit(_age_args_loop)
    _age_terms_loop = _jit(_age_terms_loop)


def age_terms(age: np.ndarray, entry_peak: float, entry_sd: float, recruit_peak: float,
              recruit_sd: float, sex_entry: np.ndarray, sex_recruit: np.ndarray,
              has_friends: np.ndarray, eta: float) -> dict[str, np.ndarray] | None:
    """UmeaModel.age_terms' profiles in two compiled passes around numpy's float32 `exp` (the
    same values as `recruitment.age_profile`, `late_teen_ramp` and `risk.peer_pull`: the same
    float32 operations in the same order), or None without the kernels."""
    if _jit is None:
        return None
    f = np.float32
    n = age.size
    arg = np.empty((2, n), f)
    _age_args_loop(age, np.array([entry_peak, entry_sd, recruit_peak, recruit_sd], f), arg)
    np.exp(arg, out=arg)
    out = {k: np.empty(n, f) for k in ("entry", "recruit", "ramp", "pull")}
    _age_terms_loop(age, arg, f(10.0), sex_entry, sex_recruit, has_friends, f(eta), out["entry"],
                    out["recruit"], out["ramp"], out["pull"])
    return out


# Outcome codes of `transitions`, in the order Involvement.step applies them.
T_ENTRY, T_DESIST1, T_RECRUIT, T_PROMOTE, T_LEAVE2, T_LEAVE3 = 1, 2, 3, 4, 5, 6
N_OUTCOMES = 7


def _rate_args_loop(stage, age, min_age, x, betas, prot, boost, dev, use_prot, share, sib_inv,
                    vis32, district, c32, arg):
    """Pass 1: the exponents of the entry hazard (stage 0) and of recruitment susceptibility
    (stage 1), float32, in numpy's order; 0 for the others."""
    for i in range(stage.size):
        s = stage[i]
        if s > 1 or (s == 0 and age[i] < min_age):
            arg[i] = _ZERO
            continue
        z = x[i, 0] * betas[0]
        for k in range(1, N_FACTORS):
            z += x[i, k] * betas[k]
        pr = prot[i]
        if use_prot:
            pr = min(max(pr + boost[i] + dev[i], _ZERO), _ONE)
        if s == 0:
            v = z - c32[0] * pr
            v = v + c32[1] * share[i]
            v = v + c32[2] * (_ONE if sib_inv[i] else _ZERO)
            v = v + c32[3] * (x[i, 2] + x[i, 3]) * vis32[district[i]]
        else:
            v = c32[5] * z - c32[0] * pr
        arg[i] = v


def _contacts_of(i, x, friends2, sib2, school2, vis32, district, c32, c64):
    """Recruitment contact rates of youth i per layer (peer, sibling, school, place), float64,
    as Involvement.contacts makes them."""
    press = c64[1]
    k0 = np.float64(c32[6] * friends2[i]) * press
    k1 = (c64[0] * (1.0 if sib2[i] else 0.0)) * press
    k2 = np.float64(c32[7] * school2[i]) * press
    place = vis32[district[i]] * _HALF * (x[i, 2] + x[i, 3])
    k3 = np.float64(c32[8] * place) * press
    return k0, k1, k2, k3


def _rates_loop(stage, age, min_age, x, friends2, sib2, school2, vis32, district, c32, c64,
                ex32, age_entry, entry_mult, age_recruit, recruit_mult, ramp, desist_mult, yis,
                sex_prog, recruiter, status, active, use_mult, week_len, total, rate_a):
    """Pass 2: every youth's total hazard of leaving its stage (yearly, float64) and the hazard
    of the first way out (entry, recruitment, promotion), from pass 1's exponentials; `total`
    then holds -total·week (pass 3 takes its expm1 where needed)."""
    three = np.float32(3.0)
    for i in range(stage.size):
        s = stage[i]
        t = 0.0
        a = 0.0
        if s == 0:
            if age[i] >= min_age:
                r = ex32[i] * (c32[4] * age_entry[i])
                if use_mult:
                    r = r * entry_mult[i]
                t = np.float64(r)
                a = t
        elif s == 1:
            k0, k1, k2, k3 = _contacts_of(i, x, friends2, sib2, school2, vis32, district, c32,
                                          c64)
            sus = age_recruit[i] * ex32[i] * recruit_mult[i]
            a = np.float64(sus) * (((k0 + k1) + k2) + k3)
            des = c32[9] * ramp[i] * desist_mult[i]
            t = a + np.float64(des)
        elif s == 2:
            prog = c32[10] * min(_ONE + yis[i], three) * sex_prog[i]
            qm = np.float64(desist_mult[i])
            rc_ = recruiter[i]
            if rc_ >= 0 and status[rc_] != active:
                qm = qm * c64[2]
            a = np.float64(prog)
            t = a + np.float64(c32[11] * ramp[i]) * qm
        elif s == 3:
            t = np.float64(c32[12] * ramp[i] * desist_mult[i])
        total[i] = -t * week_len
        rate_a[i] = a / t if t > 0 else 0.0


def _decide_loop(stage, u, neg_total, rate_share, x, friends2, sib2, school2, vis32, district,
                 c32, c64, contacts):
    """Pass 3: each youth's outcome from its uniform (see Involvement.compete), grouped by
    outcome in slot order; the candidates' contacts go into `contacts`. `neg_total` holds
    -total·week; the week's probability -expm1(-total·week) is computed only for the youths
    whose uniform falls below total·week, which bounds it from above (1 - e^-y < y), with a
    margin far wider than expm1's rounding: the same decisions as computing it for everyone."""
    n = stage.size
    code = np.zeros(n, np.int8)
    counts = np.zeros(N_OUTCOMES, np.int64)
    for i in range(n):
        s = stage[i]
        y = -neg_total[i]
        if not u[i] < y * _BOUND:
            continue
        p_any = -math.expm1(neg_total[i])
        if not u[i] < p_any:
            continue
        first = u[i] < p_any * rate_share[i]
        if s == 0:
            c = T_ENTRY
        elif s == 1:
            if first:
                c = T_RECRUIT
                k0, k1, k2, k3 = _contacts_of(i, x, friends2, sib2, school2, vis32, district,
                                              c32, c64)
                contacts[0, i] = k0
                contacts[1, i] = k1
                contacts[2, i] = k2
                contacts[3, i] = k3
            else:
                c = T_DESIST1
        elif s == 2:
            c = T_PROMOTE if first else T_LEAVE2
        else:
            c = T_LEAVE3
        code[i] = c
        counts[c] += 1
    starts = np.zeros(N_OUTCOMES + 1, np.int64)
    for c in range(N_OUTCOMES):
        starts[c + 1] = starts[c] + counts[c]
    fill = starts[:N_OUTCOMES].copy()
    order = np.empty(n - counts[0], np.int64)
    for i in range(n):
        c = code[i]
        if c:
            order[fill[c] - counts[0]] = i
            fill[c] += 1
    return order, starts[1:] - counts[0]


if _jit is not None:
    _rate_args_loop = _jit(_rate_args_loop)
    _contacts_of = _jit(_contacts_of)
    _rates_loop = _jit(_rates_loop)
    _decide_loop = _jit(_decide_loop)


def transitions(stage, age, min_age, u, x, betas, prot, boost, dev, use_prot, ex, vis, district,
                coef, age_terms, entry_mult, recruit_mult, desist_mult, use_mult, yis, recruiter,
                status, active, pressure, contacts):
    """The week's stage transitions of every youth, or None without the kernels: three
    compiled passes over the population (the hazards' exponents; the hazards; the outcomes)
    around numpy's `exp` (pass 3 calls expm1 only where a uniform could fall below the
    week's probability), instead of some forty numpy calls over the stage groups.
    The hazards are Involvement.step's (its numpy code is the reference), in the same float
    types and order; the dot products x·β are added one after the other where numpy calls BLAS,
    whose last bit can differ, so a decision could change only where a uniform falls within
    that rounding of its probability (about one chance in 10^10 a decision). Returns the youths
    taking each outcome, grouped by outcome code (`T_*`) in slot order, as `(order, starts)`:
    outcome c ≥ 1 is `order[starts[c - 1]:starts[c]]`; the candidates' recruitment contacts per
    layer are written into columns of `contacts` (4, n)."""
    if _jit is None:
        return None
    f = np.float32
    c32 = np.array([coef["theta_protection"], coef["gamma_peer"], coef["gamma_sibling"],
                    f(coef["gamma_place"]) * f(0.5), coef["entry_base_rate"],
                    coef["recruit_susceptibility"], coef["recruit_rate_peer"],
                    coef["recruit_rate_school"], coef["recruit_rate_place"],
                    coef["desist_rate_stage1"], coef["progression_rate"],
                    coef["desist_rate_stage2"], coef["desist_rate_stage3"]], np.float32)
    c64 = np.array([coef["recruit_rate_sibling"], np.float64(f(pressure)),
                    coef["exit_multiplier_recruiter_gone"]], np.float64)
    n, vis32 = stage.size, vis.astype(f)
    arg = np.empty(n, np.float32)
    _rate_args_loop(stage, age, f(min_age), x, betas, prot, boost, dev, use_prot, ex["share"],
                    ex["sib_inv"], vis32, district, c32, arg)
    np.exp(arg, out=arg)
    total, share_a = np.empty(n, np.float64), np.empty(n, np.float64)
    _rates_loop(stage, age, f(min_age), x, ex["friends2"], ex["sib2"], ex["school2"], vis32,
                district, c32, c64, arg, age_terms["entry"], entry_mult, age_terms["recruit"],
                recruit_mult, age_terms["ramp"], desist_mult, yis, age_terms["sex_progress"],
                recruiter, status, np.int8(active), use_mult, _WEEK64, total, share_a)
    order, starts = _decide_loop(stage, u, total, share_a, x, ex["friends2"], ex["sib2"],
                                 ex["school2"], vis32, district, c32, c64, contacts)
    return order, starts


# ---- counter-based weekly draws (issue 11) -----------------------------------------------------
# A weekly stream is the SplitMix64 sequence (Steele, Lea & Flood 2014) started at a key of
# (seed, stream name, week) (`sim.rng.week_key`): its number k is the low (k even) or high (k odd)
# 32-bit half of output k // 2, as its top 24 bits times 2**-24 (as numpy makes float32
# uniforms). Any number can be made without the others, so a youth's numbers depend only on
# (seed, stream, week, slot). The risk update makes its noise inside the compiled loop: youth i's
# six factors take numbers 6i..6i+5 of the week's "risk" stream, its family-crisis draw number
# 2i of the "shock" stream; nothing is drawn into memory.
_F24 = np.float32(1.0 / 16777216.0)
_LOW32 = np.uint64(0xFFFFFFFF)
_S8, _S32, _S40 = np.uint64(8), np.uint64(32), np.uint64(40)
NOISE_PER_YOUTH = N_FACTORS // 2  # 64-bit outputs per youth and week
assert N_FACTORS % 2 == 0


def _halves_numpy(z: np.ndarray, out: np.ndarray) -> None:
    np.multiply(((z & _LOW32) >> _S8).astype(np.float32), _F24, out=out[0::2])
    np.multiply((z >> _S40).astype(np.float32), _F24, out=out[1::2])


def _outputs_numpy(key: int | np.uint64, counters: np.ndarray) -> np.ndarray:
    """Outputs `counters` (uint64) of the SplitMix64 sequence started at `key`."""
    with np.errstate(over="ignore"):
        z = counters * _GOLDEN + np.uint64(key) + _GOLDEN
        z = (z ^ (z >> _S30)) * _M1
        z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def sequence_uniforms_numpy(key: int | np.uint64, size: int) -> np.ndarray:
    """`size` float32 uniforms of the sequence started at `key`: number k is the low (k even) or
    high (k odd) 32-bit half of output k // 2, as its top 24 bits times 2**-24 (numpy)."""
    out = np.empty(size + size % 2, np.float32)
    _halves_numpy(_outputs_numpy(key, np.arange(out.size // 2, dtype=np.uint64)), out)
    return out[:size]


def sequence_uniforms_at_numpy(key: int | np.uint64, positions: np.ndarray) -> np.ndarray:
    """Numbers `positions` of `sequence_uniforms(key, ·)`, made without the others (numpy)."""
    pos = np.asarray(positions, np.int64)
    z = _outputs_numpy(key, (pos >> 1).astype(np.uint64))
    low = ((z & _LOW32) >> _S8).astype(np.float32)
    high = (z >> _S40).astype(np.float32)
    return np.where(pos % 2 == 0, low, high) * _F24


def _sequence_loop(key, out):
    for k in range(out.size // 2):
        z = _mix(key + np.uint64(k) * _GOLDEN)
        out[2 * k] = np.float32((z & _LOW32) >> _S8) * _F24
        out[2 * k + 1] = np.float32(z >> _S40) * _F24
    if out.size % 2:
        z = _mix(key + np.uint64(out.size // 2) * _GOLDEN)
        out[out.size - 1] = np.float32((z & _LOW32) >> _S8) * _F24


def _sequence_at_loop(key, pos, out):
    for r in range(pos.size):
        k = pos[r]
        z = _mix(key + np.uint64(k >> 1) * _GOLDEN)
        if k % 2 == 0:
            out[r] = np.float32((z & _LOW32) >> _S8) * _F24
        else:
            out[r] = np.float32(z >> _S40) * _F24


def _sequence_below_loop(key, p):
    n = p.size
    hit = np.empty(n, np.int64)
    m = 0
    for k in range((n + 1) // 2):
        z = _mix(key + np.uint64(k) * _GOLDEN)
        i = 2 * k
        if np.float32((z & _LOW32) >> _S8) * _F24 < p[i]:
            hit[m] = i
            m += 1
        if i + 1 < n and np.float32(z >> _S40) * _F24 < p[i + 1]:
            hit[m] = i + 1
            m += 1
    return hit[:m].copy()


# -expm1(-x) <= x for x >= 0, and float32's expm1 rounds to within an ulp of it: a uniform at or
# above x·(1 + 2^-20) is above the probability, which then need not be computed
_WEEKLY_BOUND = 1.0 + 2.0 ** -20


def _below_weekly(u, x):
    """Whether uniform `u` (float32) is below -expm1(-x) (float32), the probability of at least
    one event in a week at the weekly hazard `x` (float32), computed only when it could be."""
    if u >= np.float64(x) * _WEEKLY_BOUND:
        return False
    p = np.float32(-math.expm1(-x))
    return u < p


def _sequence_below_weekly_loop(key, x):
    n = x.size
    hit = np.empty(n, np.int64)
    m = 0
    for k in range((n + 1) // 2):
        z = _mix(key + np.uint64(k) * _GOLDEN)
        i = 2 * k
        if _below_weekly(np.float32((z & _LOW32) >> _S8) * _F24, x[i]):
            hit[m] = i
            m += 1
        if i + 1 < n and _below_weekly(np.float32(z >> _S40) * _F24, x[i + 1]):
            hit[m] = i + 1
            m += 1
    return hit[:m].copy()


def _below_weekly_loop(u, x):
    hit = np.empty(x.size, np.int64)
    m = 0
    for i in range(x.size):
        if _below_weekly(u[i], x[i]):
            hit[m] = i
            m += 1
    return hit[:m].copy()


def _weekly_prob_loop(x):
    out = np.empty(x.size, np.float32)
    for i in range(x.size):
        out[i] = -math.expm1(-x[i])
    return out


if _jit is not None:
    _weekly_prob_loop = _jit(_weekly_prob_loop)
    _sequence_loop = _jit(_sequence_loop)
    _sequence_at_loop = _jit(_sequence_at_loop)
    _sequence_below_loop = _jit(_sequence_below_loop)
    _below_weekly = _jit(_below_weekly)
    _sequence_below_weekly_loop = _jit(_sequence_below_weekly_loop)
    _below_weekly_loop = _jit(_below_weekly_loop)


def sequence_uniforms(key: int | np.uint64, size: int, out: np.ndarray | None = None
                      ) -> np.ndarray:
    """`sequence_uniforms_numpy(key, size)`, compiled when Numba is present (the same numbers:
    integer arithmetic and exact conversions), into `out` (float32, `size`) if given."""
    if _jit is None:
        u = sequence_uniforms_numpy(key, size)
        if out is None:
            return u
        out[:] = u
        return out
    if out is None:
        out = np.empty(size, np.float32)
    _sequence_loop(np.uint64(key), out)
    return out


def sequence_below(key: int | np.uint64, p: np.ndarray) -> np.ndarray:
    """`np.flatnonzero(sequence_uniforms(key, p.size) < p)` in one compiled pass, without
    the uniforms in memory (the same numbers, compared in the same float types)."""
    if _jit is None or p.dtype != np.float32:
        return np.flatnonzero(sequence_uniforms(key, p.size) < p)
    return _sequence_below_loop(np.uint64(key), p)


def weekly_prob32(x: np.ndarray) -> np.ndarray:
    """-expm1(-x) in float32: the weekly probabilities of the float32 weekly hazards `x`, as
    the compiled kernels compute them (numpy's float32 expm1 where Numba is absent)."""
    if _jit is None:
        return (-np.expm1(-x)).astype(np.float32, copy=False)
    return _weekly_prob_loop(x)


def below_weekly(u: np.ndarray, x: np.ndarray) -> np.ndarray:
    """`np.flatnonzero(u < weekly_prob32(x))` for float32 uniforms `u` and weekly hazards `x`,
    the probability computed only where the uniform falls below the hazard."""
    if _jit is None or x.dtype != np.float32 or u.dtype != np.float32:
        return np.flatnonzero(u < weekly_prob32(np.asarray(x, np.float32)))
    return _below_weekly_loop(u, x)


def sequence_below_weekly(key: int | np.uint64, x: np.ndarray) -> np.ndarray:
    """`np.flatnonzero(sequence_uniforms(key, x.size) < weekly_prob32(x))` in one compiled
    pass: the youths whose event of the week fires at weekly hazard `x` (float32), the
    probability computed only for the few whose uniform falls below the hazard."""
    if _jit is None or x.dtype != np.float32:
        return np.flatnonzero(sequence_uniforms(key, x.size)
                              < weekly_prob32(np.asarray(x, np.float32)))
    return _sequence_below_weekly_loop(np.uint64(key), x)


def sequence_uniforms_at(key: int | np.uint64, positions: np.ndarray) -> np.ndarray:
    """`sequence_uniforms_at_numpy`, compiled when Numba is present (the same numbers)."""
    if _jit is None:
        return sequence_uniforms_at_numpy(key, positions)
    out = np.empty(positions.size, np.float32)
    _sequence_at_loop(np.uint64(key), np.asarray(positions, np.int64), out)
    return out


def risk_week_keyed_numpy(x: np.ndarray, mu: np.ndarray, mu_dev: np.ndarray | None,
                          peer_mean: np.ndarray, pull: np.ndarray, kappa: float, sigma: float,
                          noise_key: int, shock_key: int, shock_p: float,
                          shock_size: float) -> None:
    """`risk_week_numpy` with its uniforms made from the counter-based keys (see above)."""
    n = x.shape[0]
    u = sequence_uniforms_numpy(noise_key, N_FACTORS * n).reshape(n, N_FACTORS)
    shock_u = sequence_uniforms_at_numpy(shock_key, 2 * np.arange(n))
    risk_week_numpy(x, mu, mu_dev, peer_mean, pull, kappa, sigma, u, shock_u, np.float64(shock_p),
                    shock_size)


def _risk_week_keyed_loop(x, mu, mu_dev, use_dev, peer_mean, pull, kappa, scale, noise_key,
                          shock_key, shock_p, shock_size, c0, c1, u):
    # Three passes over flat arrays, each simple enough to vectorise: the noise (youth i's
    # factor j is number N_FACTORS·i + j of the stream: its counters run on from youth to
    # youth), the drift and the noise (into the same buffer), then the friends' pull and the
    # clip; each factor's value takes the same float32 steps in the same order as in one pass
    n = x.shape[0]
    size = N_FACTORS * n
    for k in range(size // 2):
        z = _mix(noise_key + np.uint64(k) * _GOLDEN)
        u[2 * k] = np.float32((z & _LOW32) >> _S8) * _F24
        u[2 * k + 1] = np.float32(z >> _S40) * _F24
    xf, muf, devf = x.reshape(-1), mu.reshape(-1), mu_dev.reshape(-1)
    if use_dev:
        for e in range(size):
            xi = xf[e]
            m = min(max(muf[e] + devf[e], _ZERO), _ONE)
            v = xi + (m - xi) * kappa
            u[e] = v + (u[e] - _HALF) * scale
    else:
        for e in range(size):
            xi = xf[e]
            v = xi + (muf[e] - xi) * kappa
            u[e] = v + (u[e] - _HALF) * scale
    pf = peer_mean.reshape(-1)
    for i in range(n):
        pl = pull[i]
        for j in range(N_FACTORS):
            e = N_FACTORS * i + j
            if j < PEER_FACTORS:
                v = u[e] + (pf[PEER_FACTORS * i + j] - xf[e]) * pl
            else:
                v = u[e]
            xf[e] = min(max(v, _ZERO), _ONE)
    for i in range(n):
        zs = _mix(shock_key + np.uint64(i) * _GOLDEN)
        if np.float32((zs & _LOW32) >> _S8) * _F24 < shock_p:
            x[i, c0] = min(x[i, c0] + shock_size, _ONE)
            x[i, c1] = min(x[i, c1] + shock_size, _ONE)


if _jit is not None:
    _risk_week_keyed_loop = _jit(_risk_week_keyed_loop)


def risk_week_keyed(x: np.ndarray, mu: np.ndarray, mu_dev: np.ndarray | None,
                    peer_mean: np.ndarray, pull: np.ndarray, kappa: float, sigma: float,
                    noise_key: int, shock_key: int, shock_p: float, shock_size: float,
                    scratch: np.ndarray | None = None) -> None:
    """One week of the risk factors (`risk_week_numpy`) with counter-based noise and crises from
    the keys of the week: compiled when Numba is present (the same numbers). `scratch` (float32,
    at least x.size) is working memory a caller may keep from week to week."""
    if _jit is None:
        risk_week_keyed_numpy(x, mu, mu_dev, peer_mean, pull, kappa, sigma, noise_key, shock_key,
                              shock_p, shock_size)
        return
    if scratch is None or scratch.size < x.size:
        scratch = np.empty(x.size, np.float32)
    if not x.flags.c_contiguous:
        raise ValueError("risk_week_keyed updates x in place: x must be C-contiguous")
    use_dev = mu_dev is not None
    c = np.ascontiguousarray
    _risk_week_keyed_loop(x, c(mu), c(mu_dev) if use_dev else c(mu), use_dev, c(peer_mean),
                          pull, np.float32(kappa), np.float32(sigma) * SQRT12,
                          np.uint64(noise_key), np.uint64(shock_key), np.float64(shock_p),
                          np.float32(shock_size), SHOCK_COLS[0], SHOCK_COLS[1], scratch)

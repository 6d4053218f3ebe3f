"""Risk-factor dynamics: drift to baseline, peer influence, noise and shocks (pure functions).

Six individual/household factors live on youths as scores in [0, 1]; the seventh,
`visible_criminals_public_space`, lives on places (districts). Weekly update, for factor k:

    x ← clip(x + κ (μ − x) + η w(age) (peer_mean − x) + σ ε, 0, 1)

with peer influence only on the four youth-level factors (the first four columns) and
w(age) fading from 1 at 17 to 0 at 21 (Monahan et al. 2009).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

FACTORS: tuple[str, ...] = (
    "school_failure",
    "mental_ill_health",
    "exclusion",
    "lack_of_positive_context",
    "economic_vulnerability",
    "vulnerable_family",
)
PEER_FACTORS = 4  # the first four columns are shaped by peers
PLACE_FACTOR = "visible_criminals_public_space"
ALL_FACTORS: tuple[str, ...] = (*FACTORS, PLACE_FACTOR)
FACTOR_INDEX = {name: k for k, name in enumerate(FACTORS)}
# the factors a family crisis raises
SHOCK_COLS = (FACTOR_INDEX["vulnerable_family"], FACTOR_INDEX["mental_ill_health"])
SQRT12 = np.float32(np.sqrt(12.0))


def peer_weight(age: np.ndarray) -> np.ndarray:
    """Strength of peer influence by age: 1 up to 17, falling linearly to 0 at 21."""
    return np.clip((21.0 - age) / 4.0, 0.0, 1.0).astype(np.float32)


def risk_index(x: np.ndarray, betas: np.ndarray) -> np.ndarray:
    """Σ_k β_k x_k for every youth (log hazard ratio against a youth with no risk)."""
    return x @ betas


def update_risk(x: np.ndarray, mu: np.ndarray, peer_mean: np.ndarray, pull: np.ndarray,
                kappa: float, sigma: float, u: np.ndarray) -> None:
    """One weekly step of the risk factors, in place (float32 throughout).

    `peer_mean` is the friends' mean of the four peer-shaped factors (N, 4); `pull` is η·w(age)
    per youth (0 for youths without friends); `u` holds uniforms in [0, 1) of x's shape and is
    overwritten: noise is (u − ½)·√12·σ, mean 0 and sd σ, a fifth of the cost of normal draws.
    """
    peer = peer_mean - x[:, :PEER_FACTORS]
    peer *= pull[:, None]
    u -= np.float32(0.5)
    u *= np.float32(sigma) * SQRT12
    mu_gap = mu - x
    mu_gap *= np.float32(kappa)
    x += mu_gap
    x += u
    x[:, :PEER_FACTORS] += peer
    np.clip(x, 0.0, 1.0, out=x)


def peer_pull(w_peer: sp.csr_array, age: np.ndarray, eta: float) -> np.ndarray:
    """η·w(age) for youths with friends, 0 for the others (float32). `w_peer`: the friendship
    matrix or its row-normalised weights (only which rows have entries counts)."""
    has_friends = np.diff(w_peer.indptr) > 0
    return (np.float32(eta) * peer_weight(age) * has_friends).astype(np.float32)


def apply_shocks(x: np.ndarray, hit: np.ndarray, size: float) -> None:
    """Family crises: raise vulnerable_family and mental_ill_health of the youths hit."""
    if hit.any():
        cols = list(SHOCK_COLS)
        x[np.ix_(hit, cols)] = np.minimum(x[np.ix_(hit, cols)] + np.float32(size), 1.0)

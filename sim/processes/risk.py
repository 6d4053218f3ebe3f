"""Risk factors: each week every youth's six factors drift towards its baselines, are pulled
towards its friends' mean, fluctuate, and family crises strike (rules in `sim.risk`).

The target of the drift is the youth's *living* baseline (`model.pop.mu`, recomputed each school
year from age, sex, household, school and district by `sim.population.living_baselines`), shifted
by the measures in force (`model.mu_eff`) and by lasting developmental effects (`model.mu_dev`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.kernels import peer_mean, risk_week_keyed
from sim.recruitment import weekly_prob
from sim.rng import week_key

F32 = np.float32
PEER_EVERY = 2  # weeks between recomputations of the friends' mean risk (a sparse product)


class RiskDynamics:
    """Owns the cache of the friends' mean risk.

    Noise and family crises are counter-based: youth i's numbers in week w are a hash of
    (seed, stream, w, i) made inside the compiled update (`sim.kernels.risk_week_keyed`, into
    working memory kept from week to week), and two scenarios share every youth's noise (common
    random numbers) as before."""

    def __init__(self, model: Any):
        self.peer_mean: np.ndarray | None = None
        self._scratch: np.ndarray | None = None  # the compiled update's working memory

    def reset(self) -> None:
        """Friends changed (new school year): recompute the friends' mean next week."""
        self.peer_mean = None

    def step(self, model: Any) -> None:
        p, pop = model.p, model.pop
        pull = model.age_terms()["pull"]
        if model.week % PEER_EVERY == 0 or self.peer_mean is None:
            self.peer_mean = peer_mean(model.net.peers, pop.x)
        seed = model.streams.seed
        if self._scratch is None or self._scratch.size != pop.x.size:
            self._scratch = np.empty(pop.x.size, F32)
        risk_week_keyed(pop.x, model.mu_eff, model.mu_dev if model.mu_dev_active else None,
                        self.peer_mean, pull, p["risk_relaxation_rate"], p["risk_noise_sd"],
                        week_key(seed, "risk", model.week), week_key(seed, "shock", model.week),
                        weekly_prob(p["shock_rate"]), p["shock_size"], self._scratch)

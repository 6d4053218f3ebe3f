"""A cheap stand-in simulator for the calibration tests (importable by worker processes).

Three parameters map linearly onto three outputs plus noise, so the posterior is known to
concentrate around the parameters that generated the targets."""

from __future__ import annotations

import numpy as np

TRUE = {"entry_base_rate": 0.03, "recruit_rate_peer": 0.4, "progression_rate": 0.05}
NOISE = {"active_members_mean": 3.0, "close_share_13_19": 0.002, "new_members_u18_per_year": 0.4}


def standin(params: dict, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    e, r, p = params["entry_base_rate"], params["recruit_rate_peer"], params["progression_rate"]
    mean = {"active_members_mean": 2000.0 * e,
            "close_share_13_19": 0.04 * r,
            "new_members_u18_per_year": 100.0 * p + 20.0 * e,
            "norm_breaking_share_13_19": 1.5 * e + 0.02}
    return {k: v + NOISE.get(k, 0.0) * float(rng.standard_normal()) for k, v in mean.items()}


def standin_outputs(params: dict, seeds: list[int]) -> dict:
    runs = [standin(params, s) for s in seeds]
    return {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}


INTERRUPT_AFTER: list[int | None] = [None]  # raise KeyboardInterrupt after this many runs
_CALLS = [0]


def interruptible(params: dict, seed: int) -> dict:
    """`standin`, but raises KeyboardInterrupt (as Ctrl-C would) after INTERRUPT_AFTER runs."""
    _CALLS[0] += 1
    if INTERRUPT_AFTER[0] is not None and _CALLS[0] > INTERRUPT_AFTER[0]:
        _CALLS[0] = 0
        INTERRUPT_AFTER[0] = None
        raise KeyboardInterrupt
    return standin(params, seed)

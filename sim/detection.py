"""Detection and referral: which involved youths the institutions come to know.

Each week a youth at stage ≥1 who is not yet known is detected with probability
1 − exp(−Σ_c rate_c·share_c / 52) over the channels school (only what is shared with social
services counts: secrecy), social services, police (three times as likely at stage ≥2) and
leisure/field work. Detected youths can be offered indicated programmes; guardians accept
voluntary offers with the uptake probability.
"""

from __future__ import annotations

import numpy as np

from sim.recruitment import EXITED, NORM_BREAKING, PERIPHERAL, weekly_prob

CHANNELS = ("school", "social", "police", "leisure")


def detection_rates(stage: np.ndarray, in_school: np.ndarray, p: dict[str, float],
                    mult: np.ndarray, info_share: float) -> np.ndarray:
    """Yearly detection rate per youth (0 for youths at stage 0 or exited)."""
    involved = (stage >= NORM_BREAKING) & (stage < EXITED)
    police = p["detect_rate_police"] * np.where(stage >= PERIPHERAL, 3.0, 1.0)
    rate = (p["detect_rate_school"] * mult[0] * min(info_share, 1.0) * in_school
            + p["detect_rate_social"] * mult[1] + police * mult[2]
            + p["detect_rate_leisure"] * mult[3])
    return np.where(involved, rate, 0.0)


def detect(stage: np.ndarray, in_school: np.ndarray, detected: np.ndarray, u: np.ndarray,
           p: dict[str, float], mult: np.ndarray, info_share: float) -> np.ndarray:
    """Mark newly detected youths in `detected`; return their indices.

    `u` holds one uniform per youth (drawn for all, so that scenarios share their draws)."""
    idx = np.flatnonzero((stage >= NORM_BREAKING) & (stage < EXITED) & ~detected)
    rate = detection_rates(stage[idx], in_school[idx], p, mult, info_share)
    new = idx[u[idx] < weekly_prob(rate)]
    detected[new] = True
    return new

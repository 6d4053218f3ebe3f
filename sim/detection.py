"""How the city sees its children: reports of concern by channel, and social services' assessment
(pure rules; the weekly process is `sim.processes.social_services`).

Any child, involved or not, can be the subject of a report of concern ("orosanmälan") from one of
four channels — school, social services' own contacts, police, healthcare and others — for one of
two reasons:

- *family situation*: hazard `report_rate_family · exp(report_need_slope · need)` with
  need = 0.6·vulnerable_family + 0.25·mental_ill_health + 0.15·economic_vulnerability;
- *the child's own behaviour*: hazard `report_rate_behaviour · exp(2·school_failure) · s(stage)`
  with s = 1, 10, 30, 30 at stages 0-3 (norm-breaking is what gets reported), from age 7.

Socialstyrelsen (priors A6): about one child in ten aged 0-17 is reported a year (8.3 % in 2018, 10 %
in 2021), ≈1.8-1.9 reports per reported child, a third about the child's own behaviour, 38 % of
reports lead to an investigation. The channel shares are an assumption (no Swedish breakdown in the
reference notes): family reasons 25 % school, 15 % social services, 25 % police, 35 % healthcare and
others; own behaviour 30 % school (× the share of what school sees that reaches social services,
relative to its default: secrecy), 10 % social services, 45 % police, 15 % healthcare and others.

A report is investigated with probability sigmoid(logit(`investigation_share`) + 3·(severity − 0.05)),
severity = need + 0.3·[stage ≥ 1] + 0.3·[stage ≥ 2]; an investigated child is *known to social
services* (an open case) for an exponential time with mean `case_duration_years`. Indicated
measures draw on known youths. From 18 only own-behaviour contacts continue (police, social
services); they are not counted as reports of concern about children.
"""

from __future__ import annotations

import numpy as np

from sim.recruitment import EXITED, NORM_BREAKING, PERIPHERAL, weekly_prob
from sim.risk import FACTOR_INDEX

CHANNELS = ("school", "social", "police", "healthcare_other")
REASONS = ("family", "behaviour")
# channel shares per reason (assumption, see the module docstring); rows: reasons
CHANNEL_SHARE = np.array([[0.25, 0.15, 0.25, 0.35],
                          [0.30, 0.10, 0.45, 0.15]])
STAGE_BEHAVIOUR = np.array([1.0, 10.0, 30.0, 30.0, 1.0], np.float32)  # stages 0-3, exited
DEFAULT_INFO_SHARE = 0.35
CHILD_AGE = 18.0
SEVERITY_CENTRE = 0.05  # severity of a typical report (calibrated: 38 % investigated on average)
BEHAVIOUR_MIN_AGE = 7.0
VF, MH, EV, SF = (FACTOR_INDEX[k] for k in ("vulnerable_family", "mental_ill_health",
                                            "economic_vulnerability", "school_failure"))


def family_need(x: np.ndarray) -> np.ndarray:
    """Need arising from the family situation, in [0, 1]."""
    return 0.6 * x[:, VF] + 0.25 * x[:, MH] + 0.15 * x[:, EV]


def report_rates(x: np.ndarray, stage: np.ndarray, age: np.ndarray, p: dict[str, float],
                 mult: np.ndarray, info_share: float) -> np.ndarray:
    """Yearly report hazards (N, 2 reasons, 4 channels) for youths with risk factors `x`.

    `mult` multiplies the channels (early-detection measures); `info_share` scales what school
    sees of a child's own behaviour that reaches social services."""
    child = age < CHILD_AGE
    fam = p["report_rate_family"] * np.exp(p["report_need_slope"] * family_need(x)) * child
    beh = p["report_rate_behaviour"] * np.exp(2.0 * x[:, SF]) * STAGE_BEHAVIOUR[stage] \
        * (age >= BEHAVIOUR_MIN_AGE)
    share = CHANNEL_SHARE * np.asarray(mult, np.float64)[None, :]
    share_beh = share[1].copy()
    share_beh[0] *= min(info_share, 1.0) / DEFAULT_INFO_SHARE
    rates = np.empty((x.shape[0], 2, 4), np.float32)
    rates[:, 0, :] = fam[:, None] * share[0][None, :]
    rates[:, 1, :] = beh[:, None] * share_beh[None, :]
    rates[~child, :, :] *= np.array([0.0, 1.0, 1.0, 0.0], np.float32)  # adults: police, social
    return rates


def severity(x: np.ndarray, stage: np.ndarray) -> np.ndarray:
    """How serious a report looks to the social worker who assesses it."""
    return family_need(x) + 0.3 * (stage >= NORM_BREAKING) + 0.3 * (stage >= PERIPHERAL) * \
        (stage < EXITED)


def share_logit(share: float) -> np.float64:
    """The logit of the investigation share (kept off 0 and 1): that of a typical report."""
    share = min(max(share, 1e-6), 1 - 1e-6)
    return np.log(share / (1 - share))


def investigation_prob(sev: np.ndarray, share: float) -> np.ndarray:
    """Chance that a report leads to an investigation."""
    logit = share_logit(share) + 3.0 * (sev - SEVERITY_CENTRE)
    return 1.0 / (1.0 + np.exp(-logit))


def draw_reports(rates: np.ndarray, u_any: np.ndarray, u_which: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which youths get a report this week, and its reason and channel (one uniform each)."""
    flat = rates.reshape(rates.shape[0], -1)
    total = flat.sum(axis=1)
    hit = np.flatnonzero(u_any < weekly_prob(total))
    if hit.size == 0:
        return hit, hit, hit
    cum = np.cumsum(flat[hit], axis=1) / total[hit, None]
    k = (u_which[hit, None] > cum).sum(axis=1).clip(0, flat.shape[1] - 1)
    return hit, k // 4, k % 4

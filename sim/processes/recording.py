"""Recording: one row of every per-week table (preallocated arrays in `sim.results.Recorder`).

Per week and district: youths by stage, the week's flows (entries, recruitment by layer and sex,
new members, exits, reports of concern by channel, children reported for the first time in the
year, investigations, programme starts, placements), mean risk factors (every 4 weeks), youths known
to social services and children under 18; city-wide: network size and demand, 13-19-year-olds by
stage, cost; by age band and sex: youths by stage. At the end of each school year: year-9 pupils
not eligible for upper secondary (school failure above 0.5). Run totals: ages of those drawn into the
periphery and of their recruiters.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim import kernels
from sim import recruitment as rc
from sim.population import YEAR9_COHORT
from sim.results import AGE_BANDS, MAX_AGE_HIST, NETWORK_SERIES, Recorder
from sim.risk import FACTOR_INDEX

RISK_EVERY = 4  # weeks between records of mean risk factors
# age band of each school-year cohort (0-20)
BAND_OF_COHORT = np.searchsorted(np.array([lo for lo, _ in AGE_BANDS[1:]]), np.arange(21),
                                 side="right").astype(np.int64)


class Recording:
    """Owns the recorder."""

    def __init__(self, model: Any):
        self.recorder = Recorder.allocate(model.years * 52, model.city.n_districts)
        self._week = -1

    def _refresh(self, model: Any) -> None:
        """Keys that change only with the school year, and age masks refreshed every 4 weeks."""
        pop = model.pop
        if self._week < 0 or model.week % 52 == 0:
            self._dkey = pop.district.astype(np.int64) * 5
            self._gkey = (BAND_OF_COHORT[pop.cohort] * 2 + pop.boy) * 5
        if self._week < 0 or model.week % RISK_EVERY == 0:
            self._child = pop.age < 18
            self._teen = (pop.age >= 13) & (pop.age < 20)
            self._teen_key = self._teen.astype(np.int64) * 5
            self._children = np.bincount(pop.district[self._child], minlength=model.city.n_districts)
        self._week = model.week

    def _counts(self, model: Any, monthly: bool) -> None:
        """This week's stocks: youths by district and stage, known youths by district, and
        monthly by age band, sex and stage, of 13-19-year-olds by stage and children by district
        (one compiled pass; district, cohort and sex change only with the school year, so the
        kernel reads them where the numpy code keeps keys made then)."""
        pop, st, rec, t = model.pop, model.stage, self.recorder, model.week
        d = model.city.n_districts
        counts = kernels.recording_counts(pop.district, st, model.social.known, d, monthly,
                                          pop.cohort, BAND_OF_COHORT, pop.boy, pop.age,
                                          len(AGE_BANDS), pop.x)
        self._sums = None
        if counts is None:
            self._refresh(model)
            rec.stage_counts[t] = np.bincount(self._dkey + st, minlength=d * 5).reshape(d, 5)
            rec.known[t] = np.bincount(pop.district[model.social.known], minlength=d)
            if monthly:
                self._groups = np.bincount(self._gkey + st, minlength=rec.groups[t].size
                                           ).reshape(rec.groups[t].shape)
                self._tk = np.bincount(self._teen_key + st, minlength=10)  # (teen, stage)
            return
        rec.stage_counts[t] = counts[0].reshape(d, 5)
        rec.known[t] = counts[1]
        if monthly:
            self._groups = counts[2].reshape(rec.groups[t].shape)
            self._tk, self._children, self._sums = counts[3], counts[4], counts[5]

    def step(self, model: Any) -> None:
        rec, t, pop = self.recorder, model.week, model.pop
        d = model.city.n_districts
        monthly = t % RISK_EVERY == 0  # risk factors and stocks by age band and sex: monthly
        self._counts(model, monthly)
        rec.flows[t] = model.flows
        if monthly:
            counts = np.maximum(np.bincount(pop.district, minlength=d), 1)[:, None]
            sums = self._sums  # from the counting pass (kernels), else scipy's product
            if sums is None:
                sums = model.district_matrix @ pop.x
            rec.risk_mean[t, :, :-1] = sums / counts
            rec.risk_mean[t, :, -1] = model.visibility
        rec.children[t] = self._children
        rec.groups[t] = self._groups
        tk = self._tk
        net = model.network
        found = kernels.network_counts(net.status, net.tier, net.youth, net.boy, net.outside,
                                       rc.ACTIVE, rc.INCARCERATED, rc.PERIPHERAL_RECRUITER)
        if found is None:
            active = net.active & net.members
            found = (active.sum(), (active & (net.youth >= 0)).sum(),
                     (net.status == rc.INCARCERATED).sum(), (active & net.boy).sum(),
                     (net.active & (net.tier == rc.PERIPHERAL_RECRUITER)).sum(),
                     net.outside[net.active].sum())
        members, youth_members, jailed, men, recruiters, outside = found
        rec.network[t] = (
            members, youth_members, jailed, model.involvement.open_total,
            tk[5 + rc.PERIPHERAL] + tk[5 + rc.MEMBER], tk[5:].sum(),
            model.cost_this_step, men, recruiters, outside, model.criminal_network.expired,
            tk[5 + rc.NORM_BREAKING], rec.known[t].sum(), self._children.sum(),
        )
        if t % 52 == 51:  # end of the school year: year-9 pupils' eligibility
            y9 = np.flatnonzero(pop.cohort == YEAR9_COHORT)
            failing = pop.x[y9, FACTOR_INDEX["school_failure"]] > 0.5
            rec.year9[t // 52, :, 0] = np.bincount(pop.district[y9[failing]], minlength=d)
            rec.year9[t // 52, :, 1] = np.bincount(pop.district[y9], minlength=d)
        assert len(rec.network[t]) == len(NETWORK_SERIES)

    def recruitment(self, ages: np.ndarray, recruiter_ages: np.ndarray) -> None:
        """Add this week's recruitments to the age histograms."""
        rec = self.recorder
        a = np.clip(ages.astype(int), 0, MAX_AGE_HIST - 1)
        rec.recruit_age += np.bincount(a, minlength=MAX_AGE_HIST)
        r = recruiter_ages[recruiter_ages >= 0].astype(int)
        rec.recruiter_age += np.bincount(np.clip(r, 0, MAX_AGE_HIST - 1), minlength=MAX_AGE_HIST)

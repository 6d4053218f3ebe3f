"""Cohorts: the school-year transition every 52 weeks.

Cohorts age a year; 21-year-olds leave the model (members among them go on as adult members;
peripheral recruiters' records end); newcomers (a new cohort of 3-year-olds, half of them younger
siblings; students at 19-20; families moving in) fill their slots as new persons; school
transitions at 6, 16 and 19; every youth's living baselines are recomputed from its age, sex,
household, the school it attends now and its district; the peer network is redrawn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.population import assign_schools, living_baselines, replace_leavers
from sim.recruitment import NONE


class Cohorts:
    """The yearly transition (no state of its own)."""

    def __init__(self, model: Any):
        pass

    def step(self, model: Any) -> None:
        if model.week == 0 or model.week % 52:
            return
        pop, year = model.pop, model.week // 52
        rng = model.streams.fresh("cohort", year)
        pop.cohort += 1
        leavers = np.flatnonzero(pop.cohort > 20)
        model.criminal_network.age_out(model, leavers)
        model.events.log("left_model", leavers, model.stage[leavers].astype(str))
        model.events.leave(leavers)
        ages = self.newcomer_ages(model, leavers.size)
        model.remove_youths(leavers.tolist())
        replace_leavers(pop, leavers, ages, model.city, rng, week=model.week)
        model.stage[leavers] = NONE
        model.years_in_stage[leavers] = 0
        model.recruiter[leavers] = -1
        model.member_id[leavers] = -1
        model.mu_dev[leavers] = 0
        model.protection_dev[leavers] = 0
        model.social.forget(leavers)
        model.events.log("entered_model", leavers)
        moving = (pop.cohort == 6) | (pop.cohort == 16) | (pop.cohort == 19)
        moving[leavers] = False  # newcomers got their schools in replace_leavers
        moving = np.flatnonzero(moving)
        assign_schools(pop, moving, model.city, rng)
        living_baselines(pop, np.arange(pop.n), model.city)
        model.add_youths(leavers.tolist())
        model.build_networks(year)
        model.measures.new_year(model, leavers)

    @staticmethod
    def newcomer_ages(model: Any, n_slots: int) -> np.ndarray:
        """Ages for newcomers: fill each cohort's shortfall against its documented size."""
        pop, city = model.pop, model.city
        current = np.bincount(pop.cohort[pop.cohort <= 20], minlength=21)
        target = np.array([city.cohort_size.get(a, 0) for a in range(21)])
        deficit = np.maximum(target - current, 0)
        deficit = np.floor(deficit * n_slots / max(deficit.sum(), 1)).astype(int)
        deficit[3] += n_slots - deficit.sum()
        return np.repeat(np.arange(21), deficit).astype(np.int16)

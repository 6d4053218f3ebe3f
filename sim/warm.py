"""Imported by the workers' server (see sim.workers) before any worker is forked from it: runs a
tiny model for a few weeks, so that the engine's compiled kernels are loaded from Numba's
on-disk cache (or compiled, on a fresh install) once, in the server, and every worker starts
with them ready instead of loading them itself at its first run (about 0.7 s a worker)."""

from __future__ import annotations

import dataclasses


def _effect(on: str, value: float) -> dict:
    return {"acts_on": on, "value": value, "range": [0.0, value], "source": "warm-up"}


def _measures() -> list:
    """One measure of each kind the plan's kernels serve (target groups, household spread,
    strongest effects, lasting doses, the compulsory path, report multipliers)."""
    from sim.interventions import InterventionSpec

    return [
        InterventionSpec(id="warm_universal", type="universal", target={"ages": [3, 9]},
                         persistence="developmental", decay_half_life_weeks=520, unit="household",
                         effects=[_effect("entry_hazard", 0.5), _effect("protection", 0.5)]),
        InterventionSpec(id="warm_outreach", type="programme", capacity_per_year=200, uptake=0.8,
                         target={"ages": [10, 17]}, duration_weeks=8, unit="household",
                         effects=[_effect("school_failure", 0.5), _effect("reports", 0.5),
                                  _effect("recruitment_hazard", 0.5)]),
        InterventionSpec(id="warm_referral", type="programme", capacity_per_year=50, uptake=0.8,
                         requires_detection=True, persistence="developmental",
                         target={"ages": [10, 17], "stages": [1, 2]}, duration_weeks=8,
                         effects=[_effect("desistance", 0.5)]),
        InterventionSpec(id="warm_compulsory", type="compulsory", target={"ages": [12, 20]},
                         duration_weeks=8, escalation={"stage_any": 1, "stage_declined": 1,
                                                       "risk_declined": 0.3},
                         effects=[_effect("recruitment_hazard", 0.5)]),
    ]


def warm_kernels(weeks: int = 9) -> None:
    """A model of a twentieth of the city with a few measures for `weeks` weeks (about 0.3 s
    with Numba's cache)."""
    from sim.model import UmeaModel
    from sim.population import load_city

    city = load_city()
    small = dataclasses.replace(city, cohort_size={k: max(v // 20, 30)
                                                   for k, v in city.cohort_size.items()})
    model = UmeaModel(seed=0, years=1, city=small, initial_active_members=5,
                      interventions=_measures())
    for _ in range(weeks):
        model.step()


try:
    warm_kernels()
except Exception:  # noqa: BLE001 - a head start only: workers load what they need themselves
    pass

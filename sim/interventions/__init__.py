"""Interventions as data: a few types in code, configured entirely by YAML.

`spec`     the schema of an intervention file and the loader (`build_interventions`, `expand`);
`measures` the run-time types (universal, programme, place, system change, compulsory path);
`core`     `InterventionSet`, which acts on a model each week;
`ledger`   per-measure and per-level ledgers of a run or of many runs.
"""

from sim.interventions.core import InterventionSet
from sim.interventions.spec import (
    EFFECT_BOUNDS,
    EFFECT_KINDS,
    Effect,
    Escalation,
    InterventionSpec,
    Target,
    build_interventions,
    describe,
    expand,
)

__all__ = ["EFFECT_BOUNDS", "EFFECT_KINDS", "Effect", "Escalation", "InterventionSet",
           "InterventionSpec", "Target",
           "build_interventions", "describe", "expand"]

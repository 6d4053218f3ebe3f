"""Groups of measures whose effects a sweep scales together.

A group parameter multiplies, like `effect_scaling`, the behavioural effects (risk factors,
protection, entry/recruitment/desistance hazards, visible presence in public space) of the
measures in its group; it acts after `effect_scaling` (the two multiply). Effects on the system
(report channels, reports, information sharing, uptake, incapacitation, demand, reach) are not
scaled, as `effect_scaling` does not scale them either. Names:

    effect_scaling.level.<level>          universal | selective | indicated | not_targeted
    effect_scaling.department.<slug>      the department's name in lower case, every run of
                                          other characters replaced by `_`: "Support and Care"
                                          → support_and_care, "Support and Care (ordinary
                                          work)" → support_and_care_ordinary_work
    effect_scaling.measure.<id>           one measure

A measure in several swept groups (its level and its department) gets the product. A group
scaling of 1 leaves the measures untouched (the same objects), so a sweep with every group at 1
runs exactly what a sweep without groups runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from sim.interventions.spec import BEHAVIOURAL, InterventionSpec

PREFIX = "effect_scaling."
KINDS = ("level", "department", "measure")
DEFAULT_RANGE = (0.0, 1.5)  # plausible range of a group scaling unless the experiment gives one
BOUNDS = (0.0, 2.0)         # as effect_scaling's hard bounds


def slug(text: str) -> str:
    """'Support and Care (ordinary work)' -> 'support_and_care_ordinary_work'."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def is_group_name(name: str) -> bool:
    """True for names of the form effect_scaling.<kind>.<key> (and other effect_scaling.*)."""
    return name.startswith(PREFIX)


def key_of(spec: InterventionSpec, kind: str) -> str:
    """The key of `spec` in groups of `kind`."""
    if kind == "level":
        return spec.level
    if kind == "department":
        return slug(spec.department)
    return spec.id


def group_name(kind: str, key: str) -> str:
    return f"{PREFIX}{kind}.{key}"


def in_group(spec: InterventionSpec, name: str) -> bool:
    """Whether `spec` belongs to the group `name`."""
    kind, _, key = name[len(PREFIX):].partition(".")
    return kind in KINDS and key_of(spec, kind) == key


def scaled_by_effect_scaling(spec: InterventionSpec) -> bool:
    """Whether any effect of `spec` is one that effect_scaling (and a group scaling) acts on."""
    return any(e.acts_on in BEHAVIOURAL for e in spec.effects)


def available(specs: Iterable[InterventionSpec]) -> dict[str, list[str]]:
    """Every group name the measures define, with the ids of its members (in order)."""
    out: dict[str, list[str]] = {}
    for spec in specs:
        for kind in KINDS:
            out.setdefault(group_name(kind, key_of(spec, kind)), []).append(spec.id)
    return out


def problem(name: str, specs: Iterable[InterventionSpec]) -> str | None:
    """What is wrong with a group name for these measures (None: a usable group)."""
    specs = list(specs)
    kind, _, key = name[len(PREFIX):].partition(".")
    if kind not in KINDS or not key:
        return f"a group name effect_scaling.<{'|'.join(KINDS)}>.<key>"
    members = [s for s in specs if key_of(s, kind) == key]
    if not members:
        import difflib

        keys = sorted({key_of(s, kind) for s in specs})
        close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
        hint = f"did you mean '{group_name(kind, close[0])}'?" if close else \
            f"known {kind} keys: " + ", ".join(keys[:12]) + (", ..." if len(keys) > 12 else "")
        return f"a group of measures in the scenarios ({hint})"
    if not any(scaled_by_effect_scaling(s) for s in members):
        return (f"a group with effects that effect_scaling scales (the {len(members)} measures of "
                "this group act only on the system: detection, information sharing, uptake, ...)")
    return None


def scale(specs: Iterable[InterventionSpec], scalings: Mapping[str, float]
          ) -> list[InterventionSpec]:
    """The measures with the behavioural effects of each group multiplied by its scaling."""
    out = []
    for spec in specs:
        factor = 1.0
        for name, value in scalings.items():
            if in_group(spec, name):
                factor *= float(value)
        if factor == 1.0:
            out.append(spec)
            continue
        effects = [e.model_copy(update={"value": e.value * factor})
                   if e.acts_on in BEHAVIOURAL else e for e in spec.effects]
        out.append(spec.model_copy(update={"effects": effects}))
    return out

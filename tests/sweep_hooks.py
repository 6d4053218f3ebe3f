"""Model replacements for the sweep tests (module-level so that spawned workers can import them)."""

from __future__ import annotations

from pathlib import Path

from sim.sweep import ishigami_summary


def raising_ishigami(scenario: str | None, overrides: dict[str, float],
                     seed: int) -> dict[str, float]:
    """Ishigami, but raises for every point with x1 > 3 (the top grid level, π)."""
    if overrides["x1"] > 3.0:
        raise ValueError(f"hook refuses x1={overrides['x1']:.3f}")
    return ishigami_summary(scenario, overrides, seed)


def paired_model(scenario: str | None, overrides: dict[str, float],
                 seed: int) -> dict[str, float]:
    """Ishigami (with its seeded noise) plus x1 in the 'treated' scenario."""
    out = ishigami_summary(scenario, overrides, seed)
    if scenario is not None and Path(scenario).stem == "treated":
        out["y"] += overrides["x1"]
    return out


def echo_model(scenario: str | None, overrides: dict[str, float], seed: int,
               specs: list | None = None, years: int | None = None) -> dict[str, float]:
    """Echoes what a uvts sweep hands the model: the particle's entry_base_rate, the swept
    recruit_rate_peer, the drawn effect of measure `m1` on the entry hazard, and the seed."""
    effect = next((e.value for s in specs or [] if s.id == "m1" for e in s.effects
                   if e.acts_on == "entry_hazard"), float("nan"))
    return {"new_members_per_year": overrides["entry_base_rate"],
            "periphery_entries_per_year": overrides["recruit_rate_peer"],
            "youth_years_stage2plus": effect, "cost_sek": float(seed % 1000)}

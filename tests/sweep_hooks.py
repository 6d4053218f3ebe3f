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

"""Shared fixtures: small, fixed-seed models reused across tests to keep the suite fast."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.model import UmeaModel

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


@pytest.fixture(scope="session")
def baseline_run() -> UmeaModel:
    """The shipped baseline scenario (ordinary work in force), 10 years, default parameters."""
    from sim.runner import build_model
    from sim.scenario import load_scenario

    model = build_model(load_scenario(SCENARIOS / "baseline.yaml"), seed=11)
    model.run()
    return model


@pytest.fixture(scope="session")
def short_run() -> UmeaModel:
    """Two years at default parameters (seed 5), crossing one school-year boundary."""
    model = UmeaModel(seed=5, years=2)
    model.run()
    return model


def _baseline_summary(seed: int) -> tuple[dict, object, object]:
    from sim.results import summarise
    from sim.runner import build_model
    from sim.scenario import load_scenario

    model = build_model(load_scenario(SCENARIOS / "baseline.yaml"), seed=seed)
    model.run()
    rec = model.recorder
    return summarise(rec), rec.recruit_age.copy(), rec.recruiter_age.copy()


@pytest.fixture(scope="session")
def target_runs() -> list[tuple[dict, object, object]]:
    """The shipped 10-year baseline over 8 seeds (two worker processes): summaries and the age
    histograms of recruitment, for the documented targets."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2) as pool:
        return list(pool.map(_baseline_summary, range(100, 108)))

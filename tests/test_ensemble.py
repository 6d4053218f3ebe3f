"""Runs and comparisons over an ensemble: shared draws, zero effects, centred effects,
probability of benefit pair by pair, replicate warnings, bad ensemble files."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim import ensemble
from sim.cli import main
from sim.errors import InputError
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def write_ensemble(path: Path) -> Path:
    df = pd.DataFrame({"generation": 3, "particle": range(4),
                       "weight": [0.1, 0.2, 0.3, 0.4],
                       "entry_base_rate": [0.02, 0.03, 0.04, 0.05],
                       "recruit_rate_peer": [0.2, 0.3, 0.4, 0.5],
                       "sim.active_members_mean": [60.0, 70, 80, 90], "distance": 0.5})
    df.to_parquet(path, index=False)
    return path


def scenario(path: Path, **body) -> Path:
    base = {"extends": str(ROOT / "scenarios" / "baseline.yaml"), "years": 1}
    path.write_text(yaml.safe_dump(base | body, sort_keys=False), encoding="utf-8")
    return path


def measure(mid: str, lo: float, value: float, hi: float) -> dict:
    return {"id": mid, "type": "universal", "target": {"ages": [10, 17]},
            "effects": [{"acts_on": k, "value": value, "range": [lo, hi],
                         "source": "assumption: test"}
                        for k in ("entry_hazard", "recruitment_hazard")]}


def test_triangular_draws_match_the_distribution():
    u = (np.arange(20_000) + 0.5) / 20_000
    x = ensemble.triangular(-0.1, 0.2, 0.4, u)
    assert x.min() >= -0.1 and x.max() <= 0.4
    assert x.mean() == pytest.approx((-0.1 + 0.2 + 0.4) / 3, abs=1e-3)
    assert ensemble.triangular(0.0, 0.0, 0.0, 0.7) == 0.0
    assert np.median(ensemble.triangular(-1, 0, 1, u)) == pytest.approx(0.0, abs=1e-3)


def test_both_scenarios_of_a_pair_share_parameter_and_effect_draws(tmp_path):
    ens = ensemble.load_ensemble(write_ensemble(tmp_path / "e.parquet"))
    a = load_scenario(scenario(tmp_path / "a.yaml", name="a",
                               interventions=[measure("m1", -0.2, 0.1, 0.3)]))
    b = load_scenario(scenario(tmp_path / "b.yaml", name="b",
                               interventions=[measure("m0", 0, 0.1, 0.2),
                                              measure("m1", -0.2, 0.1, 0.3)],
                               parameters={"recruit_rate_peer": 0.25}))
    draws = ensemble.Draws(ens, "drawn")
    picked = set()
    for r in range(12):
        _, _, _, oa, sa = ensemble.draw_task((a, r, 7), draws)
        _, _, _, ob, sb = ensemble.draw_task((b, r, 7), draws)
        assert oa["entry_base_rate"] == ob["entry_base_rate"]
        assert "recruit_rate_peer" in oa and "recruit_rate_peer" not in ob  # b's own value wins
        ea = {(s.id, e.acts_on): e.value for s in sa for e in s.effects}
        eb = {(s.id, e.acts_on): e.value for s in sb for e in s.effects}
        common = [k for k in ea if k[0] == "m1"]
        assert all(ea[k] == eb[k] for k in common)  # same draw, whatever else is present
        assert all(-0.2 <= ea[k] <= 0.3 for k in common)
        picked.add(oa["entry_base_rate"])
        again = ensemble.draw_task((a, r, 7), draws)
        assert again[3] == oa and [s.effects for s in again[4]] == [s.effects for s in sa]
    assert len(picked) > 1  # replicates draw different parameter sets
    assert ensemble.draw_task((a, 0, 7), None) == (a, 0, 7)  # the fixed default is untouched
    # --effects drawn without an ensemble: effects vary, parameters stay the scenario's
    _, _, _, over, specs = ensemble.draw_task((a, 0, 7), ensemble.Draws(None, "drawn"))
    assert over == {} and specs[-1].effects[0].value != 0.1


def test_probability_of_benefit_is_computed_pair_by_pair():
    first = [10, 20, 30, 40]
    rep = pd.DataFrame({"scenario": ["A"] * 4 + ["B"] * 4 + ["C"] * 4,
                        "replicate": list(range(4)) * 3,
                        # B: the same values as A but each one higher in its own pair
                        # C: the same marginal distribution as B, paired the other way round
                        "periphery_entries_u18": first + [11, 21, 31, 41] + [41, 31, 21, 11]})
    p = ensemble.probability_of_benefit(rep, "A").set_index("scenario")
    assert p.loc["B", "p_first_fewer"] == 1.0
    assert p.loc["C", "p_first_fewer"] == 0.5  # 10<41, 20<31; 30>21, 40>11
    tie = pd.DataFrame({"scenario": ["A", "A", "B", "B"], "replicate": [0, 1, 0, 1],
                        "periphery_entries_u18": [5, 5, 5, 6]})
    assert ensemble.probability_of_benefit(tie, "A")["p_first_fewer"].iloc[0] == 0.75


def test_interval_warning_and_variance_shares():
    assert "at least 100" in ensemble.interval_warning(20)
    assert ensemble.interval_warning(100) is None
    s = ensemble.variance_shares(10.0, 4.0, 8.0, 3.0)  # parameters 6, effects 2, chance 3
    assert s["share_parameters"] == pytest.approx(6 / 11)
    assert s["share_effects"] == pytest.approx(2 / 11)
    assert s["share_chance"] == pytest.approx(3 / 11)


def compare(tmp_path, a: Path, b: Path, reps: int, *extra: str) -> pd.DataFrame:
    out = tmp_path / f"out_{a.stem}"
    assert main(["compare", str(a), str(b), "--replicates", str(reps), "--workers", "2",
                 "--no-departments", "--quiet", "--out", str(out), *extra]) == 0
    return out


def test_zero_effect_scenario_over_the_ensemble_differs_by_exactly_zero(tmp_path):
    ens = write_ensemble(tmp_path / "e.parquet")
    base = scenario(tmp_path / "base.yaml", name="base")
    zero = scenario(tmp_path / "zero.yaml", name="zero", interventions=[measure("z", 0, 0, 0)])
    out = compare(tmp_path, zero, base, 2, "--ensemble", str(ens))
    rep = pd.read_csv(out / "per_replicate.csv")
    a = rep[rep["scenario"] == "zero"].set_index("replicate")
    b = rep[rep["scenario"] == "base"].set_index("replicate")
    assert (a["periphery_entries_u18"] - b["periphery_entries_u18"]).abs().sum() == 0
    assert a["periphery_entries_u18"].nunique() > 1  # the replicates did differ from each other
    summary = pd.read_csv(out / "summary.csv").set_index("scenario")
    col = next(c for c in summary.columns
               if c.startswith("prevented_periphery_entries_u18") and c.endswith("_median"))
    assert summary.loc["zero", col] == 0  # the headline sits on the evaluated scenario's row
    assert summary.loc["zero", "p_tie"] == 1.0
    manifest = (out / "manifest.json").read_text()
    assert "parameters from" in manifest and "effects drawn" in manifest


def test_effects_centred_on_zero_give_an_interval_that_includes_zero(tmp_path):
    """A measure whose effects' ranges are centred on zero (triangular, mode 0): over the
    ensemble the 90% interval of recruits prevented includes zero (the library path of
    `uvts compare`, without its tables and figures)."""
    from sim import compare, runner

    ens = ensemble.load_ensemble(write_ensemble(tmp_path / "e.parquet"))
    base = load_scenario(scenario(tmp_path / "base.yaml", name="base"))
    centred = load_scenario(scenario(tmp_path / "centred.yaml", name="centred",
                                     interventions=[measure("c", -1.0, 0.0, 1.0)]))
    reps, draws = 6, ensemble.Draws(ens, "drawn")
    tasks = [ensemble.draw_task((s, r, 3), draws) for s in (centred, base) for r in range(reps)]
    rep = compare.per_replicate(runner.run_many(tasks, workers=2, progress=False))
    summary = ensemble.attach(compare.summary_table(rep, "centred"), rep, "centred", reps)
    row = summary.set_index("scenario").loc["centred"]  # the evaluated scenario's row
    assert row["prevented_periphery_entries_u18_p5"] < 0 < row["prevented_periphery_entries_u18_p95"]
    assert 0 < row["p_first_fewer"] < 1
    assert "unstable" in row["interval_warning"]


def test_bad_ensemble_files_and_options_give_named_errors(tmp_path):
    with pytest.raises(ensemble.EnsembleError, match="field '\\(file\\)'"):
        ensemble.load_ensemble(tmp_path / "none.parquet")
    pd.DataFrame({"entry_base_rate": [0.03]}).to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(ensemble.EnsembleError, match="field 'weight'"):
        ensemble.load_ensemble(tmp_path / "a.csv")
    pd.DataFrame({"weight": [1.0], "entry_rate": [0.03]}).to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(ensemble.EnsembleError, match="field 'entry_rate'"):
        ensemble.load_ensemble(tmp_path / "b.csv")
    pd.DataFrame({"weight": [-1.0], "entry_base_rate": [0.03]}).to_csv(tmp_path / "c.csv",
                                                                       index=False)
    with pytest.raises(ensemble.EnsembleError, match="field 'weight'"):
        ensemble.load_ensemble(tmp_path / "c.csv")
    both = argparse.Namespace(ensemble=str(tmp_path / "c.csv"), no_ensemble=True, effects=None)
    with pytest.raises(InputError, match="--ensemble"):
        ensemble.from_args(both)
    assert ensemble.from_args(argparse.Namespace(no_ensemble=True, ensemble=None)) is None
    # the default is the fixed parameters as long as no ensemble is shipped
    if not ensemble.DEFAULT_ENSEMBLE.is_file():
        assert ensemble.from_args(argparse.Namespace(ensemble=None, no_ensemble=False,
                                                     effects=None)) is None


def test_run_over_the_ensemble_and_a_bad_file_through_the_command(tmp_path, capsys):
    ens = write_ensemble(tmp_path / "e.parquet")
    base = scenario(tmp_path / "base.yaml", name="base")
    assert main(["run", str(base), "--replicates", "2", "--workers", "1", "--quiet",
                 "--ensemble", str(ens), "--out", str(tmp_path / "run")]) == 0
    assert "effects drawn" in (tmp_path / "run" / "manifest.json").read_text()
    assert main(["run", str(base), "--ensemble", str(tmp_path / "nope.csv"), "--quiet"]) == 2
    assert "nope.csv" in capsys.readouterr().err


def test_decomposition_holds_the_right_parts_fixed(tmp_path, monkeypatch):
    """`decompose` re-runs with parameters at the posterior median, effects at their point
    values, or both; a fake runner records the tasks and turns them into recruits as
    (parameter part) + (effect part) + (chance part), so the shares are known."""
    from sim import compare, runner

    ens = ensemble.load_ensemble(write_ensemble(tmp_path / "e.parquet"))
    base = load_scenario(scenario(tmp_path / "base.yaml", name="base"))
    other = load_scenario(scenario(tmp_path / "m.yaml", name="m",
                                   interventions=[measure("c", -1.0, 0.0, 1.0)]))
    seen: dict[str, list] = {}

    def fake_run_many(tasks, workers=1, desc="", progress=False):
        seen[desc] = tasks
        return tasks

    def fake_per_replicate(tasks):
        rows = []
        for scen, r, _seed, overrides, specs in tasks:
            eff = sum(e.value for s in specs for e in s.effects)
            chance = (r % 3) - 1.0
            rows.append({"scenario": scen.name, "replicate": r,
                         "periphery_entries_u18": 100 * overrides["entry_base_rate"] + 10 * eff + chance})
        return pd.DataFrame(rows)

    monkeypatch.setattr(runner, "run_many", fake_run_many)
    monkeypatch.setattr(compare, "per_replicate", fake_per_replicate)
    draws = ensemble.Draws(ens, "drawn")
    reps = 30
    full = fake_per_replicate([ensemble.draw_task((s, r, 5), draws) for s in (other, base)
                               for r in range(reps)])
    dec = ensemble.decompose([other, base], reps, 5, draws, 1, full).set_index("scenario")
    med = ens.median()["entry_base_rate"]
    assert {t[3]["entry_base_rate"] for t in seen["parameters_fixed"]} == {med}
    assert {e.value for t in seen["effects_fixed"] for s in t[4] if s.id == "c"
            for e in s.effects} == {0.0}
    assert len({e.value for t in seen["parameters_fixed"] for s in t[4] if s.id == "c"
                for e in s.effects}) > 1  # effects still drawn when parameters are fixed
    # paired difference base − m = −10·(drawn effect): only the effects vary it
    row = dec.loc["base"]
    assert row["share_effects"] == pytest.approx(1.0)
    assert row["share_parameters"] == pytest.approx(0.0) and row["share_chance"] == pytest.approx(0.0)

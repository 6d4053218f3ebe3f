"""Sweeps over a calibrated ensemble and group effect parameters (issue 9, item 5).

A hook (tests/sweep_hooks.echo_model) echoes what each point hands the model, so the draws are
checked without running it; the group scalings are checked with real one-year runs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sweep_hooks import echo_model

from sim.cli_sweep import main
from sim.errors import ExperimentError, InputError
from sim.experiment import load_experiment
from sim.interventions import groups
from sim.scenario import load_scenario
from sim.sweep import evaluate_point, make_job, run_sweep

ROOT = Path(__file__).resolve().parents[1]
ECHO = ["new_members_per_year", "periphery_entries_per_year", "youth_years_stage2plus",
        "cost_sek"]
PARTICLES = pd.DataFrame({"generation": 4, "particle": [0, 1, 2], "weight": [0.2, 0.3, 0.5],
                          "entry_base_rate": [0.021, 0.032, 0.043],
                          "recruit_rate_peer": [0.21, 0.32, 0.43], "distance": 0.1})


def write_ensemble(path: Path) -> Path:
    PARTICLES.to_parquet(path, index=False)
    return path


def measure(mid: str, value: float, lo: float, hi: float, **extra) -> dict:
    return {"id": mid, "type": "universal", "target": {"ages": [10, 17]},
            "effects": [{"acts_on": "entry_hazard", "value": value, "range": [lo, hi],
                         "source": "assumption: test"}]} | extra


def scenario(path: Path, **body) -> Path:
    base = {"extends": str(ROOT / "scenarios" / "baseline.yaml"), "years": 1}
    path.write_text(yaml.safe_dump(base | body, sort_keys=False), encoding="utf-8")
    return path


def pair(tmp_path: Path) -> list[str]:
    """'with' = baseline work + m1 (universal, Culture) + m2 (selective, Leisure);
    'without' = baseline work + m1."""
    m1 = measure("m1", 0.3, -0.1, 0.6, level="universal", department="Culture")
    m2 = measure("m2", 0.5, 0.0, 0.8, level="selective", department="Leisure")
    a = scenario(tmp_path / "with.yaml", name="with", interventions=[
        {"use": str(ROOT / "scenarios" / "baseline_work" / "*.yaml")}, m1, m2])
    b = scenario(tmp_path / "without.yaml", name="without", interventions=[
        {"use": str(ROOT / "scenarios" / "baseline_work" / "*.yaml")}, m1])
    return [str(a), str(b)]


def experiment(tmp_path: Path, name: str = "x.yaml", **fields) -> Path:
    spec = {"scenarios": pair(tmp_path), "difference": True,
            "parameters": {"recruit_rate_peer": None, "effect_scaling": None},
            "method": "lhs", "samples": 4, "replicates": 3, "outputs": ECHO, "seed": 11,
            "ensemble": "e.parquet"} | fields
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def sweep(path: Path, out: Path) -> pd.DataFrame:
    res = run_sweep(load_experiment(path), out, workers=0, progress=False, evaluate=echo_model)
    assert res.complete and res.n_failed == 0
    return res.results


def test_sweep_draws_a_particle_per_point_and_replicate_reproducibly(tmp_path):
    ens = write_ensemble(tmp_path / "e.parquet")
    res = sweep(experiment(tmp_path), tmp_path / "out")
    assert len(res) == 4 * 3 and res["particle"].isin([0, 1, 2]).all()
    assert res["particle"].nunique() > 1  # points and replicates draw different sets
    # the particle's value reaches the model, for both scenarios of the pair
    expected = PARTICLES["entry_base_rate"].to_numpy()[res["particle"].to_numpy()]
    for lab in ("with", "without"):
        assert np.array_equal(res[f"new_members_per_year.{lab}"].to_numpy(), expected)
    assert (res["new_members_per_year.difference"] == 0).all()
    # a swept parameter wins over the particle's value
    for lab in ("with", "without"):
        assert np.array_equal(res[f"periphery_entries_per_year.{lab}"], res["recruit_rate_peer"])
    assert not np.isin(res["recruit_rate_peer"], PARTICLES["recruit_rate_peer"]).any()
    # effects are drawn by default with an ensemble: the shared measure m1 gets one draw per
    # point and replicate, the same in both scenarios, inside its range
    eff = res["youth_years_stage2plus.with"]
    assert (res["youth_years_stage2plus.difference"] == 0).all()
    assert eff.between(-0.1, 0.6).all() and eff.nunique() == len(res)
    # the same seed draws the same particles and effects; the draws do not depend on the
    # design values (only on seed, point and replicate): another seed draws others
    again = sweep(experiment(tmp_path), tmp_path / "again")
    assert again["particle"].tolist() == res["particle"].tolist()
    assert again["youth_years_stage2plus.with"].tolist() == eff.tolist()
    other = sweep(experiment(tmp_path, "y.yaml", seed=12), tmp_path / "other")
    assert other["particle"].tolist() != res["particle"].tolist()
    # the manifest records the ensemble (path and sha256) and what it was drawn for
    man = json.loads((tmp_path / "out" / "manifest.json").read_text())
    rec = man["uncertainty"]["ensemble"]
    assert rec["sha256"] == hashlib.sha256(ens.read_bytes()).hexdigest()
    assert Path(rec["path"]) == ens.resolve() and rec["drawn_for"] == ["entry_base_rate"]
    assert man["inputs"]["ensemble_sha256"] == rec["sha256"]
    # a changed ensemble is a different sweep: the directory is not resumed with it
    PARTICLES.assign(weight=[0.5, 0.3, 0.2]).to_parquet(ens, index=False)
    with pytest.raises(InputError, match="ensemble file"):
        sweep(experiment(tmp_path), tmp_path / "out")


def test_point_effects_and_fixed_values_win_over_the_particle(tmp_path):
    write_ensemble(tmp_path / "e.parquet")
    path = experiment(tmp_path, effects="point", fixed={"entry_base_rate": 0.05})
    res = sweep(path, tmp_path / "out")
    assert (res["new_members_per_year.with"] == 0.05).all()
    assert (res["youth_years_stage2plus.with"] == 0.3).all()  # m1's point value
    # a scenario edited between two sweeps is read again (workers cache what they read)
    text = (tmp_path / "with.yaml").read_text().replace("value: 0.3", "value: 0.4")
    (tmp_path / "with.yaml").write_text(text)
    res = sweep(path, tmp_path / "edited")
    assert (res["youth_years_stage2plus.with"] == 0.4).all()


def run_pair(path: Path, params: dict[str, float]) -> dict[str, float]:
    """Both scenarios of the experiment at one point, seed 5, with the real model."""
    return evaluate_point(make_job(load_experiment(path)), params, seed=5)


def test_every_group_at_zero_is_bit_identical_to_effect_scaling_zero(tmp_path):
    specs = {s.id: s for p in pair(tmp_path) for s in load_scenario(p).specs()}.values()
    levels = [n for n in groups.available(specs)
              if n.startswith("effect_scaling.level.") and groups.problem(n, specs) is None]
    assert {"effect_scaling.level.universal", "effect_scaling.level.selective"} <= set(levels)
    outs = ["periphery_entries_per_year", "norm_breaking_share_13_19", "close_share_13_19",
            "new_members_per_year"]
    common = {"difference": True, "method": "lhs", "samples": 2, "outputs": outs}
    grouped = experiment(tmp_path, "g.yaml", parameters=levels, **common, ensemble=None)
    plain = experiment(tmp_path, "p.yaml", parameters=["effect_scaling", "recruit_rate_peer"],
                       **common, ensemble=None)
    zero_groups = run_pair(grouped, dict.fromkeys(levels, 0.0))
    zero_scaling = run_pair(plain, {"effect_scaling": 0.0, "recruit_rate_peer": 0.25})
    assert zero_groups == zero_scaling  # bit-identical, every output of both scenarios
    # and the measures do act: at full strength the pair differs
    full = run_pair(plain, {"effect_scaling": 1.0, "recruit_rate_peer": 0.25})
    assert full != zero_scaling
    # groups at 1 run exactly the unscaled measures
    ones = run_pair(grouped, dict.fromkeys(levels, 1.0))
    default = run_pair(plain, {"effect_scaling": 0.75, "recruit_rate_peer": 0.25})
    assert ones == default


def test_group_scaling_multiplies_behavioural_effects_only():
    from sim.interventions import InterventionSpec

    spec = InterventionSpec(id="m", type="detection", level="selective", department="Leisure",
                            effects=[{"acts_on": "entry_hazard", "value": 0.4,
                                      "range": [0.0, 0.5], "source": "s"},
                                     {"acts_on": "detection_school", "value": 0.3,
                                      "range": [0.0, 0.5], "source": "s"}])
    out = groups.scale([spec], {"effect_scaling.level.selective": 0.5,
                                "effect_scaling.department.leisure": 0.5,
                                "effect_scaling.level.universal": 0.0})[0]
    assert [e.value for e in out.effects] == [0.1, 0.3]  # 0.4 × 0.5 × 0.5; detection as it was
    assert groups.scale([spec], {"effect_scaling.level.universal": 0.0})[0] is spec
    assert groups.slug("Support and Care (ordinary work)") == "support_and_care_ordinary_work"


@pytest.mark.parametrize("name, phrase", [
    ("effect_scaling.level.universl", "did you mean 'effect_scaling.level.universal'"),
    ("effect_scaling.department.culure", "did you mean 'effect_scaling.department.culture'"),
    ("effect_scaling.department.preschool", "a group of measures in the scenarios"),
    ("effect_scaling.levels.universal", "effect_scaling.<level|department|measure>.<key>"),
])
def test_a_group_not_in_the_scenarios_is_refused_by_name(tmp_path, name, phrase):
    path = experiment(tmp_path, parameters=[name, "effect_scaling"], ensemble=None)
    with pytest.raises(ExperimentError, match="x.yaml: field 'parameters." + name.replace(
            ".", r"\.")) as err:
        load_experiment(path)
    assert phrase in str(err.value)


def test_a_group_without_behavioural_effects_is_refused(tmp_path):
    only_system = {"id": "s1", "type": "detection", "department": "Security",
                   "effects": [{"acts_on": "detection_school", "value": 0.2, "range": [0, 0.4],
                                "source": "s"}]}
    a = scenario(tmp_path / "a.yaml", name="a", interventions=[only_system])
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump({
        "scenario": str(a), "parameters": ["effect_scaling.department.security",
                                           "effect_scaling"],
        "method": "lhs", "samples": 2, "outputs": ["cost_sek"]}), encoding="utf-8")
    with pytest.raises(ExperimentError, match="act only on the system"):
        load_experiment(path)


def test_bad_ensemble_field_gives_exit_2_and_names_file_and_field(tmp_path, capsys):
    path = experiment(tmp_path, ensemble="missing/ensemble.parquet")
    assert main(["sweep", str(path), "--workers", "0", "--quiet",
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "x.yaml: field 'ensemble': expected an existing ensemble file" in err
    assert "missing/ensemble.parquet" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
    PARTICLES.drop(columns="weight").to_parquet(tmp_path / "e.parquet", index=False)
    assert main(["sweep", str(experiment(tmp_path)), "--workers", "0", "--quiet",
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "field 'ensemble'" in err and "column 'weight'" in err and "Traceback" not in err
    # a good one: the real model, one point, and the command says what each point draws
    write_ensemble(tmp_path / "e.parquet")
    assert main(["sweep", str(experiment(tmp_path, years=1)), "--workers", "0", "--limit",
                 "1", "--no-analyze", "--out", str(tmp_path / "ok")]) == 0
    err = capsys.readouterr().err
    assert "x: 24 runs (4 points x 3 replicates x 2 scenarios); at most 1 this time; per point " \
           "and replicate a parameter set of" in err and "(3 sets, by weight)" in err
    assert "effects drawn" in err and "1 year instead" in err
    res = pd.read_parquet(tmp_path / "ok" / "results.parquet")
    assert len(res) == 1 and res["particle"].iloc[0] in (0, 1, 2)
    assert np.isfinite(res.filter(like=".with").to_numpy(float)).all()


def test_shipped_posterior_experiment_is_valid():
    path = ROOT / "experiments" / "sobol_uvts_posterior.yaml"
    if not (ROOT / "calibration" / "umea" / "ensemble.parquet").is_file():
        with pytest.raises(ExperimentError, match="field 'ensemble'"):
            load_experiment(path)
        pytest.skip("the calibrated ensemble is not shipped yet")
    exp = load_experiment(path)
    assert exp.parameters["effect_scaling"][0] == 0.0
    assert {"effect_scaling.level.universal", "effect_scaling.level.selective",
            "effect_scaling.level.indicated"} <= set(exp.parameters)
    assert exp.analysis_columns[0] == "periphery_entries_u18_per_year.difference"
    assert exp.effects == "drawn" and exp.years == 5 and exp.n_runs == 288


def test_analysis_reports_how_often_the_difference_is_below_zero(tmp_path):
    from sim.sensitivity import analyze, distribution_table

    t = distribution_table(pd.DataFrame({"d": [-2.0, -1, 0, 1, 2, 3]}), ["d"]).iloc[0]
    assert (t["runs"], t["median"], t["mean"]) == (6, 0.5, 0.5)
    assert (t["share_below_zero"], t["share_zero"], t["share_above_zero"]) == (2 / 6, 1 / 6, 3 / 6)
    write_ensemble(tmp_path / "e.parquet")
    sweep(experiment(tmp_path), tmp_path / "out")
    dist = analyze(tmp_path / "out", plots=False)["distribution"].set_index("output")
    assert dist.loc["new_members_per_year.difference", "share_zero"] == 1.0  # shared particle
    assert (tmp_path / "out" / "analysis" / "distribution.csv").is_file()

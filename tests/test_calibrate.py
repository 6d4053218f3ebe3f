"""Calibration: simulation-based check, bad files, resume, determinism, report, real model.

The statistical checks use a cheap stand-in simulator (tests/calib_hooks.py) with known
parameters; one small calibration runs the real model end to end through `uvts calibrate`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from calib_hooks import NOISE, TRUE, interruptible, standin, standin_outputs

from sim.calibrate import (
    CalibrationError,
    load_calibration,
    pending_available,
    run_calibration,
    target_distance,
    weighted_quantiles,
)
from sim.calibration_report import write_report
from sim.cli import main

ROOT = Path(__file__).resolve().parents[1]
K = 2  # seeds per candidate in the stand-in checks


def standin_spec(tmp: Path, seed: int = 11, **method) -> Path:
    """A calibration of the stand-in: targets generated at TRUE with fixed seeds."""
    obs = standin_outputs(TRUE, [101, 102])
    targets = [{"name": o, "output": o, "value": obs[o], "tolerance": float(2 * NOISE[o] / np.sqrt(K)),
                "source": "generated at known parameter values"}
               for o in ("active_members_mean", "close_share_13_19", "new_members_u18_per_year")]
    spec = {"name": "standin", "seed": seed, "seeds_per_candidate": K,
            "parameters": list(TRUE), "targets": targets,
            "validation": [{"name": "nb", "output": "norm_breaking_share_13_19",
                            "range": [0.04, 0.09], "source": "test"}],
            "method": {"population_size": 60, "max_generations": 4} | method}
    path = tmp / "standin.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def stable(df: pd.DataFrame) -> pd.DataFrame:
    return df.reset_index(drop=True)


def test_simulation_based_check_recovers_known_parameters(tmp_path):
    spec = load_calibration(standin_spec(tmp_path))
    res = run_calibration(spec, tmp_path / "out", workers=0, progress=False, simulate=standin)
    assert res.complete and len(res.generations) == 4
    ens = res.ensemble
    assert ens["weight"].sum() == pytest.approx(1.0)
    priors = spec.priors()
    for name, truth in TRUE.items():
        lo, med, hi = weighted_quantiles(ens[name], ens["weight"])
        assert lo <= truth <= hi, (name, lo, truth, hi)
        width = priors[name]["high"] - priors[name]["low"]
        assert hi - lo < 0.6 * width, (name, "the posterior should be narrower than the prior")
    # epsilon falls generation by generation
    assert res.generations["epsilon"].is_monotonic_decreasing
    # the distance the ensemble records is the documented one
    row = ens.iloc[0]
    sims = {o: row[f"sim.{o}"] for o in spec.outputs}
    assert row["distance"] == pytest.approx(target_distance(spec, sims))


def test_same_result_after_an_interruption_and_with_two_workers(tmp_path):
    spec = load_calibration(standin_spec(tmp_path, population_size=20, max_generations=3))
    ref = run_calibration(spec, tmp_path / "ref", workers=0, progress=False, simulate=standin)
    # stopped between generations (as --max-minutes does) ...
    part = run_calibration(spec, tmp_path / "a", workers=0, progress=False, simulate=standin,
                           max_new_generations=1)
    assert not part.complete and len(part.generations) == 1
    # ... or by Ctrl-C in the middle of a generation
    import calib_hooks

    calib_hooks.INTERRUPT_AFTER[0] = 90
    cut = run_calibration(spec, tmp_path / "b", workers=0, progress=False, simulate=interruptible)
    assert cut.interrupted and not cut.complete
    for out in ("a", "b"):
        done = run_calibration(spec, tmp_path / out, workers=0, progress=False,
                               simulate=interruptible if out == "b" else standin)
        assert done.complete
        pd.testing.assert_frame_equal(stable(done.ensemble), stable(ref.ensemble))
    # a shorter calibration extended in its directory (the stopping rules are not hashed)
    short = spec.model_copy(update={"method": spec.method.model_copy(update={"max_generations": 2})})
    assert run_calibration(short, tmp_path / "c", workers=0, progress=False,
                           simulate=standin).complete
    longer = run_calibration(spec, tmp_path / "c", workers=0, progress=False, simulate=standin)
    pd.testing.assert_frame_equal(stable(longer.ensemble), stable(ref.ensemble))
    two = run_calibration(spec, tmp_path / "w2", workers=2, progress=False, simulate=standin)
    pd.testing.assert_frame_equal(stable(two.ensemble), stable(ref.ensemble))
    assert (tmp_path / "ref" / "ensemble.csv").is_file()
    # a changed calibration is refused on the same directory
    changed = spec.model_copy(update={"seed": 99})
    with pytest.raises(CalibrationError, match="changed: seed"):
        run_calibration(changed, tmp_path / "ref", workers=0, progress=False, simulate=standin)


def test_estimate_projects_the_budget(tmp_path):
    from sim.calibrate import estimate

    spec = load_calibration(standin_spec(tmp_path, max_simulations=500))
    e = estimate(spec, workers=2, simulate=standin)
    assert e["candidates"] == 500 and e["model_runs"] == 500 * K
    assert e["projected_minutes"] == pytest.approx(e["model_runs"] * e["seconds_per_run"] / 2 / 60)


def test_report_in_english_and_swedish(tmp_path):
    spec = load_calibration(standin_spec(tmp_path, population_size=20, max_generations=2))
    run_calibration(spec, tmp_path / "out", workers=0, progress=False, simulate=standin)
    paths = write_report(spec, tmp_path / "out")
    en, sv = paths["report_en"].read_text(), paths["report_sv"].read_text()
    assert "Validation (kept out of the calibration)" in en and "`norm_breaking_share_13_19`" in en
    assert "Validering (hölls utanför kalibreringen)" in sv
    assert paths["pairs"].stat().st_size > 0 and paths["fit"].stat().st_size > 0
    table = pd.read_csv(paths["fit_table"])
    assert set(table["kind"]) == {"target", "validation"}
    assert (table["pp_lo"] <= table["pp_median"]).all() and (table["pp_median"] <= table["pp_hi"]).all()


GOOD = {"name": "x", "parameters": ["entry_base_rate"],
        "targets": [{"name": "a", "output": "active_members_mean", "range": [45, 110],
                     "source": "s"}]}


@pytest.mark.parametrize("change, field", [
    ({"targets": [{"name": "a", "output": "active_member_mean", "range": [1, 2],
                   "source": "s"}]}, "targets[0].output"),
    ({"parameters": ["gama_peer"]}, "parameters.gama_peer"),
    ({"parameters": {"entry_base_rate": {"range": [-1, 0.5]}}}, "parameters.entry_base_rate.range"),
    ({"parameters": {"entry_base_rate": {"distribution": "normal", "mean": 0.03}}},
     "parameters.entry_base_rate"),
    ({"targets": [{"name": "a", "output": "active_members_mean", "source": "s"}]}, "targets.0"),
    ({"targets": [{"name": "a", "output": "active_members_mean", "value": 3, "source": "s"}]},
     "targets.0"),
    ({"targets": [{"name": "a", "output": "active_members_mean", "range": [9, 2],
                   "source": "s"}]}, "targets.0"),
    ({"method": {"popsize": 3}}, "method.popsize"),
    ({"method": {"population_size": 1}}, "method.population_size"),
    ({"simulation": {"scenario": "nowhere.yaml"}}, "simulation.scenario"),
    ({"validation": [{"name": "a", "output": "close_share_13_19", "range": [0, 1],
                      "source": "s"}]}, "validation[0].name"),
    ({"fixed": {"entry_base_rate": 0.02}}, "fixed.entry_base_rate"),
    ({"targets": []}, "targets"),
    ({"seeds": 3}, "seeds"),
])
def test_bad_calibration_files_give_named_errors(tmp_path, change, field):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(GOOD | change), encoding="utf-8")
    with pytest.raises(CalibrationError) as err:
        load_calibration(path)
    assert str(path) in str(err.value) and f"field '{field}'" in str(err.value)


def test_bad_files_through_the_command_exit_2_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nparameters: [entry_base_rate\n", encoding="utf-8")
    assert main(["calibrate", str(bad), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "(syntax)" in err and "Traceback" not in err
    assert main(["calibrate", str(tmp_path / "missing.yaml")]) == 2
    twice = tmp_path / "twice.yaml"
    twice.write_text("name: x\nparameters: [entry_base_rate]\nseed: 1\nseed: 2\n", encoding="utf-8")
    with pytest.raises(CalibrationError, match="twice.yaml:4.*'seed' appears twice"):
        load_calibration(twice)


def test_shipped_calibration_file_loads_and_lists_pending_outputs():
    spec = load_calibration(ROOT / "calibration" / "umea.yaml")
    assert len(spec.targets) >= 4 and spec.validation
    assert all(t.source for t in (*spec.targets, *spec.validation))
    assert {p.output for p in spec.pending}.isdisjoint(spec.outputs)
    # when an output appears, the loader reports the pending entry as ready to move
    assert pending_available(spec, ("minor_member_share",)) == ["minor_share_of_members"]


def test_small_real_model_calibration_through_the_command(tmp_path, capsys):
    spec = yaml.safe_load((ROOT / "calibration" / "umea.yaml").read_text(encoding="utf-8"))
    spec |= {"name": "tiny", "seeds_per_candidate": 1,
             "simulation": {"scenario": str(ROOT / "scenarios" / "baseline.yaml"),
                            "burn_in_years": 0, "years": 1},
             "parameters": {"entry_base_rate": None, "recruit_rate_peer": None},
             "method": {"population_size": 2, "max_generations": 1}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8")
    assert main(["calibrate", str(path), "--workers", "0", "--quiet",
                 "--out", str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    ens = pd.read_parquet(out / "ensemble.parquet")
    assert len(ens) == 2 and {"weight", "entry_base_rate", "recruit_rate_peer",
                              "sim.active_members_mean", "distance"} <= set(ens.columns)
    assert ens["entry_base_rate"].between(0.01, 0.06).all()
    assert (out / "report_en.md").is_file() and (out / "report_sv.md").is_file()
    manifest = yaml.safe_load((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["inputs"]["scenario_sha256"]
    assert "report:" in capsys.readouterr().out



def test_burn_in_is_cut_from_every_kind_of_record():
    """Per-step arrays lose the burn-in weeks, per-year arrays its years, run totals what they
    held at the end of the burn-in."""
    from sim.calibrate import _cut, _run_totals
    from sim.results import FLOW_INDEX, Recorder, summarise

    rec = Recorder.allocate(3 * 52, 2)
    rec.flows[:52, :, FLOW_INDEX["new_members_u18"]] = 5   # burn-in year
    rec.flows[52:, :, FLOW_INDEX["new_members_u18"]] = 1   # measured years
    rec.year9[0] = [[9, 10], [9, 10]]
    rec.year9[1:] = [[1, 10], [1, 10]]
    rec.recruit_age[13] = 7
    at_burn_in = {n: getattr(rec, n).copy() for n in _run_totals(rec)}
    assert set(at_burn_in) >= {"recruit_age", "recruiter_age"}
    rec.recruit_age[12] = 4  # after the burn-in
    out = summarise(_cut(rec, 52, at_burn_in))
    assert out["new_members_u18_per_year"] == pytest.approx(2 * 52)  # 1 a week in each district
    assert out["year9_not_eligible_share"] == pytest.approx(0.1)
    assert out["periphery_entry_age_median"] == 12


def test_truncated_weights_keep_one_particle_from_dominating():
    """Truncated importance sampling: weights capped at mean·√N, normalised, order kept; a
    dominated ensemble gains effective sample size, an even one is unchanged."""
    from sim.calibrate import effective_sample_size, truncated_weights

    w = np.r_[78.0, np.full(59, 22.0 / 59)]
    t = truncated_weights(w)
    assert t.sum() == pytest.approx(1.0) and (t > 0).all()
    assert t[0] < w[0] / w.sum() and np.argmax(t) == 0
    assert effective_sample_size(t) > 2 * effective_sample_size(w)
    even = np.full(60, 1 / 60)
    assert np.allclose(truncated_weights(even), even)
    assert effective_sample_size(even) == pytest.approx(60)

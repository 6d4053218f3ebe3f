"""Sweeps and sensitivity analysis, with the model replaced by the Ishigami function.

Ishigami (a=7, b=0.1, x ~ U[-π, π]^3) has known Sobol indices: S1 = (0.314, 0.442, 0.0),
ST = (0.558, 0.442, 0.244). Every test goes through `run_sweep` (the runner of `uvts sweep`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sweep_hooks import paired_model, raising_ishigami

from sim.cli_sweep import main
from sim.errors import InputError
from sim.experiment import load_experiment
from sim.rng import replicate_seed
from sim.sensitivity import analyze
from sim.sweep import build_design, run_sweep

S1_TRUE = {"x1": 0.314, "x2": 0.442, "x3": 0.0}
ST_TRUE = {"x1": 0.558, "x2": 0.442, "x3": 0.244}
TOL = 0.05  # N = 1024 Saltelli samples: over 20 seeds the worst error was 0.024
VOLATILE = ["wall_s", "worker"]  # columns that legitimately differ between runs


def write_spec(path: Path, **fields) -> Path:
    spec = {"model": "ishigami", "parameters": ["x1", "x2", "x3"], "outputs": ["y"],
            "seed": 7} | fields
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def stable(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=VOLATILE).sort_values("task_id").reset_index(drop=True)


def test_sobol_recovers_published_ishigami_indices(tmp_path):
    exp = load_experiment(write_spec(tmp_path / "sobol.yaml", method="sobol", samples=1024))
    res = run_sweep(exp, tmp_path / "out", workers=2, progress=False, chunk_rows=1024)
    assert res.complete and res.n_done == 1024 * 5 and res.n_failed == 0
    table = analyze(tmp_path / "out")["sobol"].set_index("parameter")
    for name in ("x1", "x2", "x3"):
        assert table.loc[name, "S1"] == pytest.approx(S1_TRUE[name], abs=TOL)
        assert table.loc[name, "ST"] == pytest.approx(ST_TRUE[name], abs=TOL)
        assert 0 < table.loc[name, "S1_conf"] < 0.2 and 0 < table.loc[name, "ST_conf"] < 0.2
    analysis = tmp_path / "out" / "analysis"
    assert (analysis / "sobol_y.png").stat().st_size > 0
    assert set(pd.read_csv(analysis / "sobol.csv")["parameter"]) == {"x1", "x2", "x3"}


def test_morris_ranks_x1_x2_above_x3(tmp_path):
    # With 4 levels the expected mu* are x1 ≈ 7.70, x2 = 7.875 exactly, x3 ≈ 6.25.
    exp = load_experiment(write_spec(tmp_path / "m.yaml", method="morris", samples=50, levels=4))
    run_sweep(exp, tmp_path / "out", workers=0, progress=False)
    m = analyze(tmp_path / "out", lang="sv")["morris"].set_index("parameter")
    assert m.loc["x2", "mu_star"] == pytest.approx(7.875, rel=1e-9)
    assert m.loc["x3", "mu_star"] < min(m.loc["x1", "mu_star"], m.loc["x2", "mu_star"])
    assert (tmp_path / "out" / "analysis" / "morris_y_sv.png").is_file()  # Swedish beside English
    assert not (tmp_path / "out" / "analysis" / "morris_y.png").exists()


@pytest.mark.parametrize("method, samples, rows", [
    ("morris", 5, 5 * 4), ("sobol", 16, 16 * 5), ("grid", 4, 4 ** 3), ("lhs", 10, 10)])
def test_design_sizes_and_ranges(tmp_path, method, samples, rows):
    spec = write_spec(tmp_path / "s.yaml", method=method, samples=samples,
                      parameters={"x1": None, "x2": {"range": [0, 1]}, "a": {"range": [5, 9]}})
    design = build_design(load_experiment(spec))
    assert design.shape == (rows, 3) and list(design.columns) == ["x1", "x2", "a"]
    assert design["x1"].between(-np.pi, np.pi).all() and design["x2"].between(0, 1).all()
    assert design["a"].between(5, 9).all() and design["a"].nunique() > 1
    if method == "lhs":  # one point in each of the 10 strata of every parameter
        assert sorted((design["x2"] * 10).astype(int)) == list(range(10))


def test_replicates_are_averaged_and_share_seeds(tmp_path):
    spec = write_spec(tmp_path / "noisy.yaml", method="lhs", samples=6, replicates=3,
                      fixed={"noise_sd": 1.0})
    res = run_sweep(load_experiment(spec), tmp_path / "out", workers=0, progress=False)
    table = res.results
    assert len(table) == 18 and list(table["replicate"].unique()) == [0, 1, 2]
    for r, group in table.groupby("replicate"):
        assert set(group["seed"]) == {replicate_seed(7, r)}
    assert table.groupby("point")["y"].std().gt(0.1).all()  # noise really differs by replicate


def test_interrupted_sweep_resumes_to_the_same_table(tmp_path):
    spec = write_spec(tmp_path / "r.yaml", method="sobol", samples=32, replicates=2,
                      fixed={"noise_sd": 0.5})
    exp = load_experiment(spec)
    n_tasks = 32 * 5 * 2
    straight = run_sweep(exp, tmp_path / "straight", workers=2, progress=False)

    seen = []

    def interrupt(rec: dict) -> None:
        seen.append(rec["task_id"])
        if len(seen) == 70:
            raise KeyboardInterrupt

    first = run_sweep(exp, tmp_path / "resumed", workers=2, progress=False, chunk_rows=16,
                      on_result=interrupt)
    assert first.interrupted and 70 <= first.n_done < n_tasks
    assert len(list((tmp_path / "resumed" / "runs").glob("part-*.parquet"))) >= 5
    second = run_sweep(exp, tmp_path / "resumed", workers=2, progress=False, recycle=50)
    assert not second.interrupted and second.complete
    assert second.n_run == n_tasks - first.n_done  # nothing finished was run again
    pd.testing.assert_frame_equal(stable(second.results), stable(straight.results))
    sessions = json.loads((tmp_path / "resumed" / "manifest.json").read_text())["sessions"]
    assert [s["interrupted"] for s in sessions] == [True, False]
    # recycle=50: the resumed session's runs were spread over more than 2 worker processes
    workers_second = second.results.set_index("task_id").drop(seen, errors="ignore")["worker"]
    assert workers_second.nunique() > 2


@pytest.mark.parametrize("cluster", ["threads", "local"])
def test_dask_local_cluster_matches_local_processes(tmp_path, cluster):
    distributed = pytest.importorskip("distributed")
    spec = write_spec(tmp_path / "d.yaml", method="morris", samples=6, replicates=2,
                      fixed={"noise_sd": 0.3})
    exp = load_experiment(spec)
    local = run_sweep(exp, tmp_path / "local", workers=2, progress=False)
    if cluster == "local":  # what `--dask local` does: a LocalCluster of 2 worker processes
        on_dask = run_sweep(exp, tmp_path / "dask", dask="local", workers=2, progress=False)
    else:
        with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                      dashboard_address=None) as lc, distributed.Client(lc) as c:
            on_dask = run_sweep(exp, tmp_path / "dask", dask=c, progress=False)
    assert on_dask.complete and len(on_dask.results) == 6 * 4 * 2
    in_this_process = on_dask.results["worker"].str.endswith(f":{os.getpid()}")
    assert in_this_process.all() if cluster == "threads" else not in_this_process.any()
    pd.testing.assert_frame_equal(stable(on_dask.results), stable(local.results))


def test_failing_runs_are_recorded_and_retried(tmp_path):
    exp = load_experiment(write_spec(tmp_path / "g.yaml", parameters=["x1", "x2"],
                                     method="grid", samples=3, replicates=2))
    res = run_sweep(exp, tmp_path / "out", workers=2, progress=False,
                    evaluate=raising_ishigami)
    # x1 = π at 3 of the 9 grid points, 2 replicates each
    assert (res.n_tasks, res.n_done, res.n_failed) == (18, 12, 6)
    fails = pd.read_csv(tmp_path / "out" / "failures.csv")
    assert set(fails["error_type"]) == {"ValueError"}
    assert fails["message"].str.startswith("hook refuses x1=3.142").all()
    assert fails["traceback"].str.contains("raising_ishigami").all()
    assert set(fails["point"]) == set(build_design(exp).query("x1 > 3").index)
    assert (res.results["x1"] < 3).all()
    with pytest.raises(InputError, match="point"):  # the analysis needs every point
        analyze(tmp_path / "out")

    retry = run_sweep(exp, tmp_path / "out", workers=0, progress=False)
    assert retry.n_run == 6 and retry.complete and retry.n_failed == 0
    assert not (tmp_path / "out" / "failures.csv").exists()
    assert len(analyze(tmp_path / "out")["spearman"]) == 2


def test_paired_difference_uses_common_random_numbers(tmp_path):
    for name in ("treated", "control"):
        (tmp_path / f"{name}.yaml").write_text("name: dummy\n")
    spec = write_spec(tmp_path / "p.yaml", scenarios=["treated.yaml", "control.yaml"],
                      difference=True, outputs=["y", "noise"], method="sobol", samples=8,
                      replicates=2, fixed={"noise_sd": 1.0})
    exp = load_experiment(spec)
    assert exp.analysis_columns == ["y.difference", "noise.difference"]
    t = run_sweep(exp, tmp_path / "out", workers=0, progress=False, evaluate=paired_model).results
    assert (t["noise.treated"] == t["noise.control"]).all() and t["noise.treated"].std() > 0.1
    # every point of a replicate drew the same noise
    assert (t.groupby("replicate")["noise.treated"].nunique() == 1).all()
    assert np.allclose(t["y.difference"], t["y.treated"] - t["y.control"])
    assert np.allclose(t["y.difference"], t["x1"])  # the noise cancels exactly


def test_changed_experiment_is_refused_in_same_out_dir(tmp_path):
    spec = write_spec(tmp_path / "c.yaml", method="lhs", samples=4)
    run_sweep(load_experiment(spec), tmp_path / "out", workers=0, progress=False)
    spec = write_spec(tmp_path / "c.yaml", method="lhs", samples=5)
    with pytest.raises(InputError, match=r"manifest\.json.*'experiment'.*changed: samples"):
        run_sweep(load_experiment(spec), tmp_path / "out", workers=0, progress=False)


@pytest.mark.parametrize("fields, field, expected", [
    ({"parameters": ["x1", "noise_s"]}, "parameters", "did you mean 'noise_sd'"),
    ({"method": "fast"}, "method", "'morris', 'sobol', 'grid' or 'lhs'"),
    ({"samples": 100}, "samples", "power of two"),
    ({"parameters": {"x1": {"range": [2, 1]}, "x2": None}}, "parameters.x1.range", "lo < hi"),
    ({"outputs": ["z"]}, "outputs", "known output names"),
    ({"fixed": {"noise_sd": -1}}, "fixed.noise_sd", "finite number"),
    ({"replicates": 0}, "replicates", "greater than 0"),
    ({"samplez": 4}, "samplez", "no such field"),
    ({"scenario": "nowhere.yaml"}, "scenario", "existing scenario file"),
    ({"difference": True}, "difference", "two scenarios"),
])
def test_bad_experiment_names_file_and_field(tmp_path, fields, field, expected):
    path = write_spec(tmp_path / "bad.yaml", **({"method": "sobol", "samples": 8} | fields))
    with pytest.raises(InputError) as info:
        load_experiment(path)
    msg = str(info.value)
    assert msg.startswith(str(path)) and f"field '{field}'" in msg and expected in msg


def test_bad_uvts_range_and_yaml(tmp_path):
    (tmp_path / "s.yaml").write_text("name: s\n")
    path = tmp_path / "u.yaml"
    path.write_text(yaml.safe_dump({"scenario": "s.yaml", "method": "morris", "samples": 4,
                                    "outputs": ["new_members_u18_per_year"],
                                    "parameters": {"entry_base_rate": {"range": [-0.1, 0.02]}}}))
    with pytest.raises(InputError, match=r"u\.yaml: field 'parameters\.entry_base_rate\.range'"):
        load_experiment(path)
    path.write_text("method: [unclosed\n")
    with pytest.raises(InputError, match=r"u\.yaml:\d+: field '\(syntax\)': expected valid YAML"):
        load_experiment(path)


def test_cli_sweep_then_analyze(tmp_path, capsys):
    spec = write_spec(tmp_path / "cli.yaml", method="morris", samples=4)
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--workers", "0", "--out", str(out), "--quiet",
                 "--limit", "7"]) == 0
    assert len(pd.read_parquet(out / "results.parquet")) == 7
    assert not (out / "analysis").exists()  # incomplete: no analysis yet
    assert main(["sweep", str(spec), "--workers", "0", "--out", str(out), "--quiet"]) == 0
    assert (out / "analysis" / "morris.csv").is_file()
    assert main(["analyze", str(out), "--lang", "sv"]) == 0
    assert main(["sweep", str(tmp_path / "missing.yaml"), "--quiet"]) == 2
    assert "missing.yaml" in capsys.readouterr().err

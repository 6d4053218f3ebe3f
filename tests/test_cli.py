"""`uvts run` end to end: tables, manifest and figure; a failing run keeps earlier results."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


@pytest.fixture(scope="module")
def one_year(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scen")
    scen = tmp / "short.yaml"
    scen.write_text(f"extends: {SCENARIOS / 'baseline.yaml'}\nname: short\nyears: 1\n")
    out = tmp / "out"
    assert main(["run", str(scen), "--replicates", "2", "--seed", "9", "--out", str(out),
                 "--workers", "1", "--quiet"]) == 0
    return scen, out


def test_run_writes_tidy_tables(one_year):
    _, out = one_year
    stages = pd.read_parquet(out / "stages.parquet")
    assert list(stages.columns[:4]) == ["scenario", "replicate", "seed", "step"]
    assert set(stages["stage"]) == {"none", "norm_breaking", "peripheral", "member", "exited"}
    assert stages["district"].nunique() == 10 and stages["replicate"].nunique() == 2
    per_step = stages.groupby(["replicate", "step"])["count"].sum()
    assert per_step.nunique() == 1  # every youth is in exactly one stage and district
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 2 and "periphery_entries_per_year" in summary
    assert (out / "stages.png").stat().st_size > 10_000


def test_manifest_traces_the_result(one_year):
    _, out = one_year
    man = json.loads((out / "manifest.json").read_text())
    assert man["seed"] == 9 and len(man["replicate_seeds"]) == 2
    assert len(man["scenarios"][0]["sha256"]) == 64
    assert man["package_version"] and "entry_base_rate" in man["parameters"]
    assert "git_commit" in man


def test_same_inputs_same_tables(one_year, tmp_path):
    scen, out = one_year
    main(["run", str(scen), "--replicates", "2", "--seed", "9", "--out", str(tmp_path),
          "--workers", "2", "--quiet"])
    a = pd.read_parquet(out / "flows.parquet")
    b = pd.read_parquet(tmp_path / "flows.parquet")
    pd.testing.assert_frame_equal(a, b)


def test_failed_run_keeps_earlier_results(one_year, tmp_path, capsys):
    _, out = one_year
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nparameters: {entry_base_rate: -3}\n")
    assert main(["run", str(bad), "--out", str(out), "--quiet"]) == 2
    assert "bad.yaml" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_uvts_sweep_and_analyze_commands(tmp_path):
    """`uvts sweep` and `uvts analyze` are wired into the console command."""
    exp = tmp_path / "ish.yaml"
    exp.write_text("model: ishigami\nparameters: [x1, x2, x3]\nmethod: sobol\nsamples: 64\n"
                   "outputs: [y]\nseed: 3\n")
    out = tmp_path / "sweep"
    assert main(["sweep", str(exp), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    assert main(["analyze", str(out)]) == 0
    sobol = pd.read_csv(out / "analysis" / "sobol.csv")
    assert set(sobol["parameter"]) == {"x1", "x2", "x3"}


def test_workers_fork_from_a_preloaded_server(monkeypatch):
    """Workers are forked from one server that imported the engine (not spawned to import it
    each), and `run`/`compare` start that server before they import the engine themselves."""
    import multiprocessing

    from sim import cli, workers

    if "forkserver" not in multiprocessing.get_all_start_methods():
        pytest.skip("no forkserver on this platform")
    ctx = workers.pool_context()
    assert ctx.get_start_method() == "forkserver"
    started: list[int] = []
    monkeypatch.setattr(workers, "start_workers_early", started.append)
    cli._start_workers_early(["compare", "a.yaml", "b.yaml", "--workers", "3"])
    cli._start_workers_early(["run", "a.yaml", "--workers=1"])
    cli._start_workers_early(["run", "a.yaml", "--workers", "x"])
    cli._start_workers_early(["sweep", "e.yaml"])
    cli._start_workers_early(["compare", "--help"])
    assert started == [3, 1, 1]


def test_workers_start_with_the_kernels_loaded():
    """The workers' server ran a tiny model before forking them: a worker has the engine's and
    the measures' compiled kernels before its first run."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from sim import kernels, workers

    if "forkserver" not in multiprocessing.get_all_start_methods() or kernels.ENGINE != "numba":
        pytest.skip("no forkserver or no Numba here")
    with ProcessPoolExecutor(1, mp_context=workers.pool_context()) as pool:
        loaded = pool.submit(kernels.loaded).result()
    for name in ("_risk_week_keyed_loop", "_sequence_loop", "_peer_mean_loop", "_rates_loop",
                 "_peer_ties_loop",
                 "_report_rates_loop", "_eligible_loop", "_strongest_loop", "_dev_sums_loop",
                 "_escalation_need_loop"):
        assert name in loaded, name

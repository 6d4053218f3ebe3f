"""Issue 12: every case the issue names gives a clear named error; the command line never shows a
traceback (unless --debug), refuses runaway work, ends Ctrl-C with one line and status 130; output
folders are owned by one command at a time and never mix runs; `uvts check` validates files."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.check import CALIBRATION_SCHEMAS, check_file, register_calibration
from sim.cli import main
from sim.errors import (
    CalibrationError,
    ExperimentError,
    InputError,
    OutputError,
    ParameterError,
    ScenarioError,
)
from sim.experiment import load_experiment
from sim.inputs import allowing_outside_range, safe_name
from sim.outputs import FILES, LOCK, OutputFolder, check_sweep_out
from sim.params import load_parameters
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
IV = """  - id: prog
    type: programme
    capacity_per_year: {capacity}
    scale: {scale}
    start: {start}
    end: {end}
    uptake: {uptake}
    cost_sek_per_year: {cost}
    target: {{ages: {ages}, stages: {stages}}}
    effects:
      - {{acts_on: desistance, value: {value}, range: [0, 2], source: "assumption: x"}}
"""
GOOD = dict(capacity=10, scale=1, start=2024, end=2026, uptake=0.5, cost=1000, ages="[12, 16]",
            stages="[1, 2]", value=0.2)


def _write(folder: Path, name: str, text: str | bytes) -> Path:
    p = folder / name
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def _scenario(tmp_path: Path, **iv) -> Path:
    fields = {**GOOD, **iv}
    text = "name: s\nyears: 1\ninterventions:\n" + IV.format(**fields)
    return _write(tmp_path, "s.yaml", text.replace("range: [0, 2]", "range: [0, 0.5]"))


def _refused(path: Path, error: type[InputError], field: str, phrase: str,
             loader=load_scenario) -> InputError:
    with pytest.raises(error) as info:
        loader(path)
    msg = str(info.value)
    assert f"field '{field}'" in msg and phrase in msg, msg
    assert len(msg) < 400 and "\n" not in msg, msg
    return info.value


# ---------------------------------------------------------------------------- files: tracebacks

@pytest.mark.parametrize("data, phrase", [
    (b"name: s\ntitle: caf\xe9\n", "not UTF-8"),                      # invalid UTF-8 in a value
    (b"name: s\nti\xfftle: x\n", "not UTF-8"),                         # ... in a key
    (b"name: s\n# comment \xc3\x28\nyears: 2\n", "not UTF-8"),          # ... in a comment
    ("name: s\nyears: 2\n".encode("utf-16"), "UTF-16"),
    ("name: s\nyears: 2\n".encode("utf-16-le"), "UTF-16"),
    (bytes(range(256)) * 4, "binary data"),
])
def test_encoding_errors_are_named(tmp_path, data, phrase):
    p = _write(tmp_path, "s.yaml", data)
    err = _refused(p, ScenarioError, "(encoding)", phrase)
    assert err.where.startswith(str(p))


def test_utf8_bom_is_accepted(tmp_path):
    p = _write(tmp_path, "s.yaml", b"\xef\xbb\xbfname: s\nyears: 2\n")
    assert load_scenario(p).years == 2


@pytest.mark.parametrize("text, field, phrase", [
    ("name: s\nparameters: " + "[" * 5000 + "]" * 5000 + "\n", "(nesting)", "levels"),
    ("name: s\nparameters:\n\tgamma_peer: 1\n", "(syntax)", "'\\t'"),
    ("name: s\nyears: 2\nyears: 3\n", "years", "each key once"),
    ("name: s\nparameters: {gamma_peer: 0.9, gamma_peer: 1.0}\n", "gamma_peer", "each key once"),
    ("name: !!python/object/apply:os.system ['echo x']\n", "(tag)", "without tags"),
    ("name: &a s\ntitle: *a\n", "(alias)", "without aliases"),
])
def test_yaml_problems_are_named(tmp_path, text, field, phrase):
    _refused(_write(tmp_path, "s.yaml", text), ScenarioError, field, phrase)


@pytest.mark.parametrize("field", ["name", "parameters", "interventions", "years", "title"])
def test_alias_bombs_are_refused_at_once(tmp_path, field):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    p = _write(tmp_path, "s.yaml", bomb + f"{field}: *i\n")
    t0 = time.perf_counter()
    _refused(p, ScenarioError, "(alias)", "without aliases")
    e = _write(tmp_path, "e.yaml", bomb + "model: ishigami\nmethod: sobol\nparameters: *i\n")
    _refused(e, ExperimentError, "(alias)", "without aliases", load_experiment)
    assert time.perf_counter() - t0 < 2


@pytest.mark.parametrize("key", ["capacity", "scale", "start", "end", "cost"])
@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan"])
def test_inf_and_nan_refused_in_interventions(tmp_path, key, value):
    name = {"capacity": "capacity_per_year", "cost": "cost_sek_per_year"}.get(key, key)
    _refused(_scenario(tmp_path, **{key: value}), ScenarioError, f"prog.{name}", "finite number")


@pytest.mark.parametrize("interventions, field, phrase", [
    ("  - {id: [a, b], type: universal}\n", "interventions[0].id", "an id (text)"),
    ("  - {use: 5}\n", "interventions[0].use", "a path or pattern"),
    ("  - {use: [a.yaml, b.yaml]}\n", "interventions[0].use", "a path or pattern"),
    ("  - 7\n", "interventions[0]", "an intervention"),
])
def test_wrong_shapes_in_interventions_are_named(tmp_path, interventions, field, phrase):
    p = _write(tmp_path, "s.yaml", "name: s\ninterventions:\n" + interventions)
    _refused(p, ScenarioError, field, phrase)


@pytest.mark.parametrize("remove", ["5", "[{id: talk}]", "[[talk]]", "talk"])
def test_remove_shapes_are_named(tmp_path, remove):
    _write(tmp_path, "parent.yaml", "name: parent\n")
    p = _write(tmp_path, "s.yaml", f"extends: parent.yaml\nname: s\nremove: {remove}\n")
    _refused(p, ScenarioError, "remove", "a list of intervention ids")


def test_a_bad_file_named_by_extends_or_use_is_named(tmp_path):
    bad = _write(tmp_path, "bad.yaml", b"name: p\ntitle: \xff\n")
    p = _write(tmp_path, "s.yaml", "extends: bad.yaml\nname: s\n")
    err = _refused(p, ScenarioError, "(encoding)", "UTF-8")
    assert err.where.startswith(str(bad))
    p.write_text("name: s\ninterventions:\n  - use: bad.yaml\n", encoding="utf-8")
    assert _refused(p, ScenarioError, "(encoding)", "UTF-8").where.startswith(str(bad))


def test_override_typo_in_use_is_blamed_on_the_users_file(tmp_path):
    """Not on the catalogue file, and without printing the whole entry."""
    p = _write(tmp_path, "s.yaml", "name: s\ninterventions:\n"
               f"  - use: {ROOT / 'scenarios/catalogue/social_reinforce_core_mission.yaml'}\n"
               "    scal: 2\n")
    err = _refused(p, ScenarioError, "interventions[0].scal", "no such field")
    assert err.where == str(p.resolve())
    p.write_text(p.read_text().replace("scal: 2", "scale: .inf"), encoding="utf-8")
    err = _refused(p, ScenarioError, "interventions[0].scale", "finite")
    assert err.where == str(p.resolve()) and len(str(err)) < 250


# ---------------------------------------------------------------------------- silent nonsense

@pytest.mark.parametrize("field", ["years", "replicates", "seed", "start_year"])
def test_true_is_not_a_number(tmp_path, field):
    _refused(_write(tmp_path, "s.yaml", f"name: s\n{field}: true\n"), ScenarioError, field,
             "not true/false")


def test_true_is_not_a_parameter_value(tmp_path):
    p = _write(tmp_path, "s.yaml", "name: s\nparameters: {gamma_peer: true}\n")
    _refused(p, ParameterError, "gamma_peer", "a number")


@pytest.mark.parametrize("iv, field, phrase", [
    ({"value": 1.7}, "prog.effects.0.range", "within [-1.0, 1.0]"),
    ({"uptake": 1.7}, "prog.uptake", "less than or equal to 1"),
    ({"scale": 1e9}, "prog.scale", "less than or equal to 100"),
    ({"start": 3000, "end": 3001}, "prog", "start and end years within"),
    ({"ages": "[20, 3]"}, "prog.target", "youngest <= oldest"),
    ({"stages": "[]"}, "prog.target.stages", "at least 1 item"),
])
def test_nonsense_values_are_refused(tmp_path, iv, field, phrase):
    p = _scenario(tmp_path, **iv)
    if "value" in iv:
        p.write_text(p.read_text().replace("range: [0, 0.5]", "range: [0, 2]"), encoding="utf-8")
    _refused(p, ScenarioError, field, phrase)


def test_start_year_3000_and_age_order(tmp_path):
    _refused(_write(tmp_path, "s.yaml", "name: s\nstart_year: 3000\n"), ScenarioError,
             "start_year", "less than or equal to 2100")


def test_parameter_outside_its_plausible_range_needs_explicit_permission(tmp_path):
    p = _write(tmp_path, "s.yaml", "name: s\nyears: 1\nparameters: {recruit_rate_peer: 50}\n")
    _refused(p, ParameterError, "recruit_rate_peer", "--allow-outside-range")
    with allowing_outside_range():
        scen = load_scenario(p)
    assert scen.outside_range == {"recruit_rate_peer": {"value": 50.0, "range": [0.05, 0.8]}}
    p.write_text("name: s\nparameters: {recruit_rate_peer: 60}\n", encoding="utf-8")
    with allowing_outside_range():  # hard bounds [0, 52] always hold
        _refused(p, ParameterError, "recruit_rate_peer", "finite number in [0.0, 52.0]")


def test_parameter_file_goes_through_the_boundary(tmp_path):
    text = (ROOT / "sim/data/parameters.yaml").read_text(encoding="utf-8")
    p = _write(tmp_path, "parameters.yaml", text + "parameters: {}\n")
    with pytest.raises(ParameterError, match="each key once"):
        load_parameters(p)


# ---------------------------------------------------------------------------- paths and names

@pytest.mark.parametrize("text, field", [
    ("extends: /etc/passwd\nname: s\n", "extends"),
    ("extends: ../../../../../../../../etc/passwd\nname: s\n", "extends"),
    ("name: s\ninterventions:\n  - use: /etc/passwd\n", "interventions[0].use"),
    ("name: s\ninterventions:\n  - use: ../../../../../../../../etc/*\n", "interventions[0].use"),
])
def test_files_outside_the_project_are_not_read(tmp_path, text, field):
    _refused(_write(tmp_path, "s.yaml", text), ScenarioError, field, "files elsewhere are not read")


def test_search_path_allows_a_folder_explicitly(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    _write(shared, "parent.yaml", "name: parent\nyears: 3\n")
    p = _write(tmp_path / "mine", "s.yaml", f"extends: {shared / 'parent.yaml'}\nname: s\n")
    _refused(p, ScenarioError, "extends", "--search-path")
    monkeypatch.setenv("UVTS_SEARCH_PATH", str(shared))
    assert load_scenario(p).years == 3


@pytest.mark.parametrize("text, field", [
    ("model: ishigami\nparameters: [x1, x2]\nmethod: sobol\nsamples: 8\noutputs: [y]\n"
     "name: ../../escape\n", "name"),
    ("scenario: /etc/passwd\nparameters: [gamma_peer]\nmethod: lhs\nsamples: 8\n"
     "outputs: [new_members_u18_per_year]\n", "scenario"),
    ("scenario: ../../../../../../../etc/passwd\nparameters: [gamma_peer]\nmethod: lhs\n"
     "samples: 8\noutputs: [new_members_u18_per_year]\n", "scenario"),
])
def test_experiment_paths_and_names(tmp_path, text, field):
    _refused(_write(tmp_path, "e.yaml", text), ExperimentError, field, "", load_experiment)


def test_names_in_output_paths_are_sanitised():
    assert safe_name("../../escape") == "_.._escape"
    assert "/" not in safe_name("a/b\\c") and not safe_name(".hidden").startswith(".")


# ---------------------------------------------------------------------------- runaway work

@pytest.mark.parametrize("field, value, phrase", [
    ("levels", 1_000_000_000, "less than or equal to 100"),
    ("replicates", 1_000_000_000, "less than or equal to 10000"),
    ("samples", "1.0e+12", "less than or equal to 2000000"),
    ("samples", "1e12", "YAML reads 1e12 as text"),
    ("replicates", 0, "greater than 0"),
])
def test_runaway_experiments_are_refused(tmp_path, field, value, phrase):
    base = {"model": "ishigami", "parameters": "[x1, x2]", "method": "morris", "samples": 4,
            "outputs": "[y]"}
    text = "".join(f"{k}: {v}\n" for k, v in {**base, field: value}.items())
    _refused(_write(tmp_path, "e.yaml", text), ExperimentError, field, phrase, load_experiment)


def test_sweep_shows_the_run_count_and_needs_yes_above_the_ceiling(tmp_path, capsys):
    exp = _write(tmp_path, "big.yaml", "model: ishigami\nparameters: [x1, x2, x3]\n"
                 "method: sobol\nsamples: 4096\noutputs: [y]\n")
    out = tmp_path / "out"
    assert main(["sweep", str(exp), "--out", str(out), "--workers", "0", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "20,480 runs" in err and "--yes" in err and not out.exists()
    small = _write(tmp_path, "small.yaml", "model: ishigami\nparameters: [x1, x2]\n"
                   "method: morris\nsamples: 4\noutputs: [y]\n")
    assert main(["sweep", str(small), "--out", str(out), "--workers", "0", "--no-analyze"]) == 0
    assert "12 runs (12 points x 1 replicate x 1 scenario)" in capsys.readouterr().err
    assert json.loads((out / FILES).read_text())["command"] == "sweep"


@pytest.mark.parametrize("argv", [
    ["run", str(BASELINE), "--replicates", "0"],
    ["compare", str(BASELINE), str(BASELINE), "--replicates", "0"],
    ["run", str(BASELINE), "--replicates", "true"],
    ["run", str(BASELINE), "--seed", "-1"],
    ["run", str(BASELINE), "--workers", "-2"],
])
def test_bad_command_line_values_are_named(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "expected" in err and "Traceback" not in err and argv[-2] in err


def test_analyze_on_a_folder_that_is_not_a_sweep(tmp_path, capsys):
    (tmp_path / "manifest.json").write_text(json.dumps({"command": "uvts compare"}))
    assert main(["analyze", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "output folder of `uvts sweep`" in err and "Traceback" not in err
    assert main(["analyze", str(tmp_path / "nowhere")]) == 2


def test_debug_shows_the_traceback(tmp_path, capsys):
    bad = _write(tmp_path, "bad.yaml", "name: s\nyears: true\n")
    assert main(["run", str(bad)]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert main(["run", str(bad), "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "field 'years'" in err


def test_unexpected_errors_are_one_line_without_debug(monkeypatch, capsys):
    import sim.check

    def boom(*_a, **_k):
        raise RuntimeError("x" * 1000)

    monkeypatch.setattr(sim.check, "check_paths", boom)
    assert main(["check", "x.yaml"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("uvts: internal error: RuntimeError") and "\n" not in err
    with pytest.raises(RuntimeError):
        main(["check", "x.yaml", "--debug"])


# ---------------------------------------------------------------------------- uvts check

def test_check_validates_every_shipped_file(capsys):
    assert main(["check", str(ROOT / "scenarios"), str(ROOT / "experiments"),
                 str(ROOT / "calibration"), str(ROOT / "sim/data/parameters.yaml")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"calibration/targets\.yaml \(calibration: \d+ targets\)", out)
    assert re.search(r"experiments/morris_recruitment\.yaml \(experiment: morris, [\d,]+ runs",
                     out)
    assert "scenarios/baseline.yaml (scenario:" in out


def test_check_exit_status_and_calibration_errors(tmp_path, capsys):
    cal = _write(tmp_path / "calibration", "targets.yaml",
                 "targets:\n  - {output: active_members_mean, range: [110, 45], unit: p, "
                 "source: s}\n")
    good = _write(tmp_path, "s.yaml", "name: s\n")
    assert main(["check", str(good)]) == 0
    assert main(["check", str(good), str(cal)]) == 2
    err = capsys.readouterr().err
    assert "targets[0]" in err and "low <= high" in err
    with pytest.raises(CalibrationError, match="a calibration section"):
        check_file(_write(tmp_path / "calibration", "priors.yaml", "priors: {a: 1}\n"))


def test_a_calibration_schema_added_later_plugs_in(tmp_path):
    def priors(value, where):
        if not isinstance(value, dict):
            raise CalibrationError(where, "priors", "a mapping", value)
        return f"{len(value)} priors"

    p = _write(tmp_path / "calibration", "priors.yaml", "priors: {a: 1, b: 2}\n")
    register_calibration("priors", priors)
    try:
        assert check_file(p) == ("calibration", "2 priors")
    finally:
        CALIBRATION_SCHEMAS.pop("priors")


# ---------------------------------------------------------------------------- output folders

def test_output_folder_replaces_only_its_own_files(tmp_path):
    out = tmp_path / "out"
    with OutputFolder(out, "run"):
        (out / "a.csv").write_text("first")
        (out / "old_only.csv").write_text("first")
    assert json.loads((out / FILES).read_text())["files"] == ["a.csv", "old_only.csv"]
    with OutputFolder(out, "compare"):
        assert not (out / "a.csv").exists()  # moved aside while the command runs
        (out / "a.csv").write_text("second")
    assert sorted(p.name for p in out.iterdir()) == [FILES, "a.csv"]  # runs never mix
    assert (out / "a.csv").read_text() == "second"


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_failed_or_interrupted_command_restores_earlier_results(tmp_path, exc):
    out = tmp_path / "out"
    with OutputFolder(out, "run"):
        (out / "a.csv").write_text("first")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(exc), OutputFolder(out, "run"):
        (out / "a.csv").write_text("half")
        (out / ".b.csv.tmp").write_text("half")
        (out / "new.png").write_text("half")
        raise exc()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    fresh = tmp_path / "fresh"
    with pytest.raises(exc), OutputFolder(fresh, "run"):
        (fresh / "a.csv").write_text("half")
        raise exc()
    assert not fresh.exists()  # nothing half-written left behind


def test_folder_with_foreign_files_or_a_sweep_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="notes.txt"), OutputFolder(out, "run"):
        pass
    assert (out / "notes.txt").read_text() == "mine" and not (out / LOCK).exists()
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "manifest.json").write_text(json.dumps({"spec_hash": "x"}))
    with pytest.raises(OutputError, match="holds a sweep"), OutputFolder(sweep, "run"):
        pass
    run = tmp_path / "run"
    with OutputFolder(run, "run"):
        (run / "a.csv").write_text("1")
    with pytest.raises(OutputError, match="uvts run"):
        check_sweep_out(run)


def test_concurrent_writer_is_refused_and_a_stale_lock_taken_over(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (out / LOCK).write_text(str(other.pid))
        with pytest.raises(OutputError, match=f"process {other.pid}"), OutputFolder(out, "run"):
            pass
    finally:
        other.kill()
        other.wait()
    with OutputFolder(out, "run"):  # its writer is gone
        (out / "a.csv").write_text("1")
    assert not (out / LOCK).exists()


def test_a_killed_command_is_recovered_on_the_next_one(tmp_path):
    out = tmp_path / "out"
    with OutputFolder(out, "run"):
        (out / "a.csv").write_text("first")
    (out / ".uvts-previous").mkdir()  # as if killed mid-run: old files aside, a partial new one
    os.replace(out / "a.csv", out / ".uvts-previous" / "a.csv")
    (out / "partial.csv").write_text("half")
    folder = OutputFolder(out, "run")
    folder.__enter__()
    folder.__exit__(RuntimeError, RuntimeError(), None)
    assert sorted(p.name for p in out.iterdir()) == [FILES, "a.csv"]
    assert (out / "a.csv").read_text() == "first"


def test_run_into_a_folder_with_foreign_files_fails_before_running(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    scen = _write(tmp_path, "s.yaml", f"extends: {BASELINE}\nname: s\nyears: 1\n")
    t0 = time.perf_counter()
    assert main(["run", str(scen), "--out", str(out), "--replicates", "1", "--quiet"]) == 2
    assert time.perf_counter() - t0 < 10 and "notes.txt" in capsys.readouterr().err


def test_allowed_outside_range_is_recorded_in_the_run_manifest(tmp_path):
    scen = _write(tmp_path, "s.yaml", f"extends: {BASELINE}\nname: s\nyears: 1\n"
                  "parameters: {recruit_rate_peer: 1.2}\n")
    out = tmp_path / "out"
    assert main(["run", str(scen), "--out", str(out), "--replicates", "1", "--quiet",
                 "--workers", "1"]) == 2
    assert not out.exists()
    assert main(["run", str(scen), "--out", str(out), "--replicates", "1", "--quiet",
                 "--workers", "1", "--allow-outside-range"]) == 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["outside_plausible_range"] == {
        "s": {"recruit_rate_peer": {"value": 1.2, "range": [0.05, 0.8]}}}
    assert "UVTS_ALLOW_OUTSIDE_RANGE" not in os.environ  # only for that command


# ---------------------------------------------------------------------------- Ctrl-C

def _interrupt(argv: list[str], cwd: Path, after: float) -> subprocess.CompletedProcess:
    """Start `uvts ARGV` in its own process group and press Ctrl-C (SIGINT to the group)."""
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli", *argv], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    time.sleep(after)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_ctrl_c_ends_with_one_line_and_status_130(tmp_path, command):
    # enough work (16 ten-year runs, about 10 s on 2 cores) that Ctrl-C at 5 s lands mid-run; with
    # 8 two-year runs the engine finished first and the signal came as the interpreter exited
    scen = _write(tmp_path, "s.yaml", f"extends: {BASELINE}\nname: s\nyears: 10\n")
    if command == "run":
        argv = ["run", str(scen), "--replicates", "16", "--workers", "2", "--out", "out"]
    else:
        exp = _write(tmp_path, "e.yaml", f"scenario: {scen}\nparameters: [gamma_peer]\n"
                     "method: lhs\nsamples: 40\noutputs: [new_members_u18_per_year]\n")
        argv = ["sweep", str(exp), "--workers", "2", "--out", "out", "--no-analyze"]
    done = _interrupt(argv, tmp_path, after=5.0)
    assert done.returncode == 130, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip() and "it/s" not in line
             and "run/s" not in line and "%|" not in line]
    assert len(lines) <= 2 and "Traceback" not in done.stderr, done.stderr  # sweep: count line
    assert "interrupted" in lines[-1]
    out = tmp_path / "out"
    if command == "run":
        assert not out.exists()  # nothing half-written
    else:
        assert not list(out.rglob("*.tmp")) and not (out / LOCK).exists()


def test_a_file_edited_between_two_loads_is_read_anew(tmp_path):
    p = _write(tmp_path, "s.yaml", "name: s\nyears: 2\n")
    assert load_scenario(p).years == 2
    p.write_text("name: s\nyears: 3\n", encoding="utf-8")  # same size, same time stamp tick
    assert load_scenario(p).years == 3


def test_sub_folders_a_command_writes_are_owned_too(tmp_path):
    out = tmp_path / "out"
    with OutputFolder(out, "run"):  # `uvts run --events` writes micro/
        (out / "micro").mkdir()
        (out / "micro" / "events_r0.parquet").write_text("first")
    with pytest.raises(RuntimeError), OutputFolder(out, "run"):
        (out / "micro").mkdir()
        raise RuntimeError()
    assert (out / "micro" / "events_r0.parquet").read_text() == "first"
    with OutputFolder(out, "run"):
        (out / "a.csv").write_text("second")
    assert sorted(p.name for p in out.iterdir()) == [FILES, "a.csv"]

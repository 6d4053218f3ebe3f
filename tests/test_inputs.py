"""Bad parameter and scenario files give clear errors naming the file, the field and what was
expected; YAML is loaded safely; every parameter is documented."""

from __future__ import annotations

import pytest

from sim.errors import ParameterError, ScenarioError
from sim.params import load_parameters, resolve
from sim.scenario import load_scenario


def test_every_parameter_has_value_range_unit_source():
    specs = load_parameters()
    assert len(specs) >= 40
    for name, s in specs.items():
        assert s.unit and s.source and s.description, name
        lo, hi = s.range
        assert lo <= s.value <= hi, name


def test_unknown_parameter_named_with_suggestion():
    with pytest.raises(ParameterError, match=r"'gamma_peers'.*did you mean 'gamma_peer'"):
        resolve({"gamma_peers": 1.0}, where="my.yaml")


@pytest.mark.parametrize("value", ["high", float("nan"), -0.5, True])
def test_bad_parameter_value_named(value):
    with pytest.raises(ParameterError) as exc:
        resolve({"desist_rate_stage1": value}, where="my.yaml")
    msg = str(exc.value)
    assert "my.yaml" in msg and "desist_rate_stage1" in msg and "expected" in msg


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_scenario_bad_field_type(tmp_path):
    p = _write(tmp_path, "s.yaml", "name: s\nyears: ten\n")
    with pytest.raises(ScenarioError, match=r"s\.yaml: field 'years': expected"):
        load_scenario(p)


def test_scenario_unknown_field(tmp_path):
    p = _write(tmp_path, "s.yaml", "name: s\nhorizon: 10\n")
    with pytest.raises(ScenarioError, match=r"field 'horizon'"):
        load_scenario(p)


def test_scenario_bad_parameter(tmp_path):
    p = _write(tmp_path, "s.yaml", "name: s\nparameters:\n  shock_rate: -1\n")
    with pytest.raises(ParameterError, match=r"s\.yaml: parameters: field 'shock_rate'"):
        load_scenario(p)


def test_scenario_yaml_syntax_error_names_line(tmp_path):
    p = _write(tmp_path, "s.yaml", "name: s\nparameters: {shock_rate: 1\n")
    with pytest.raises(ScenarioError, match=r"s\.yaml:\d+: field '\(syntax\)'"):
        load_scenario(p)


def test_yaml_is_loaded_safely(tmp_path):
    p = _write(tmp_path, "s.yaml", "name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ScenarioError, match="valid YAML"):
        load_scenario(p)


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match="an existing scenario file"):
        load_scenario(tmp_path / "nope.yaml")


def test_extends_merges_and_detects_cycles(tmp_path):
    _write(tmp_path, "a.yaml", "name: a\nyears: 3\nparameters: {shock_rate: 0.1}\n")
    b = _write(tmp_path, "b.yaml", "extends: a.yaml\nname: b\nparameters: {shock_size: 0.2}\n")
    s = load_scenario(b)
    assert s.years == 3 and s.parameters == {"shock_rate": 0.1, "shock_size": 0.2}
    _write(tmp_path, "c.yaml", "extends: d.yaml\n")
    d = _write(tmp_path, "d.yaml", "extends: c.yaml\n")
    with pytest.raises(ScenarioError, match="no cycle"):
        load_scenario(d)


def test_bad_intervention_named(tmp_path):
    p = _write(tmp_path, "s.yaml", """
name: s
interventions:
  - id: talk
    type: universal
    effects:
      - {acts_on: school_failure, value: 0.2, range: [0.1, 0.3], source: "assumption: none"}
""")
    with pytest.raises(ScenarioError, match=r"s\.yaml: field 'talk\.effects\.0': .*includes zero"):
        load_scenario(p)


def test_unknown_district_named(tmp_path):
    p = _write(tmp_path, "s.yaml", """
name: s
interventions:
  - id: patrol
    type: place
    target: {districts: [Gotham]}
    effects:
      - {acts_on: visible_criminals_public_space, value: 0.1, range: [0, 0.2], source: x}
""")
    with pytest.raises(ScenarioError, match=r"patrol\.target.*Gotham"):
        load_scenario(p)

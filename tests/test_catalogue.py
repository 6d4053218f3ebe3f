"""The UVTS catalogue as data and the shipped scenarios: every file validates, the catalogue matches
the activity plan entry for entry, department costs add up to the department budgets, every shipped
scenario loads and runs, and bad intervention files give messages naming the file and the field."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from sim.errors import ScenarioError
from sim.interventions import InterventionSpec, build_interventions
from sim.runner import build_model
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
CATALOGUE = SCENARIOS / "catalogue"
BASELINE_WORK = SCENARIOS / "baseline_work"
BUDGETS = SCENARIOS / "department_budgets.yaml"
REFERENCE = Path(__file__).parents[2] / "shared/reference/uvts_interventions.yaml"

CATALOGUE_FILES = sorted(CATALOGUE.glob("*.yaml"))
SCENARIO_FILES = sorted(SCENARIOS.glob("*.yaml"))
SCENARIO_FILES = [p for p in SCENARIO_FILES if p != BUDGETS]
N_ENTRIES = 46  # numbered interventions of the activity plan 2024-2026


def _read(path: Path) -> dict:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _spec(path: Path) -> InterventionSpec:
    specs = build_interventions([{"use": str(path)}], where=str(path), base_dir=path.parent)
    assert len(specs) == 1, f"{path.name}: one intervention per file"
    return specs[0]


@pytest.fixture(scope="module")
def catalogue() -> dict[str, InterventionSpec]:
    return {p.stem: _spec(p) for p in CATALOGUE_FILES}


@pytest.fixture(scope="module")
def reference() -> dict:
    if not REFERENCE.is_file():
        pytest.skip(f"reference file {REFERENCE} not available")
    return _read(REFERENCE)


@pytest.fixture(scope="module")
def budgets() -> dict[str, float]:
    return {d["name"]: float(d["extra_budget_sek"]) for d in _read(BUDGETS)["departments"]}


# ---- the catalogue ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", CATALOGUE_FILES, ids=[p.stem for p in CATALOGUE_FILES])
def test_catalogue_file_validates_and_is_documented(path: Path) -> None:
    spec = _spec(path)
    assert spec.id == path.stem, "the file is named after its id"
    assert spec.catalogue_number is not None and spec.name_en and spec.name_sv
    assert spec.start >= 2024.0 and (spec.end is None or spec.end <= 2027.0)
    assert spec.term, "every entry says its term (plan period, until further notice, fixed)"
    if spec.end is None:
        assert "until further notice" in spec.term
    assert spec.cost_source, "every cost says where it comes from"
    if spec.cost_sek_per_year == 0:
        assert "0" in spec.cost_source[:3] or "ordinary" in spec.cost_source, spec.id
    if spec.type in ("universal", "programme"):
        assert spec.persistence_source, "lasting or current, with its source"
    assert spec.fidelity_range is not None and spec.fidelity_range[0] <= 0.6, "poor delivery"
    if spec.type == "programme":
        assert spec.capacity_source
        assert spec.capacity_range is not None or spec.cost_per_place_sek is not None
    if spec.uptake is not None and spec.uptake < 1.0:
        assert spec.uptake_range is not None and spec.uptake_source
    assert path.read_text(encoding="utf-8").startswith("# "), "header comment first"
    for e in spec.effects:
        assert e.source, f"{spec.id}: effect on {e.acts_on} without a source"


def test_catalogue_has_one_file_per_entry(catalogue: dict[str, InterventionSpec]) -> None:
    assert len(catalogue) == N_ENTRIES
    assert len({s.id for s in catalogue.values()}) == N_ENTRIES


def test_catalogue_matches_the_activity_plan(catalogue: dict[str, InterventionSpec],
                                             reference: dict) -> None:
    plan = {e["id"]: e for e in reference["interventions"]}
    assert set(catalogue) == set(plan)
    short = {d["source_name"]: d["name"] for d in _read(BUDGETS)["departments"]}
    for key, spec in catalogue.items():
        entry = plan[key]
        assert spec.catalogue_number == entry["number"], key
        assert spec.name_sv == entry["name_sv"] and spec.name_en == entry["name_en"], key
        assert spec.department == short[entry["department"]], key
        assert spec.level in entry["level"], f"{key}: level {spec.level} not among {entry['level']}"


def test_department_costs_add_up_to_the_budgets(catalogue: dict[str, InterventionSpec],
                                                budgets: dict[str, float]) -> None:
    spent: dict[str, float] = defaultdict(float)
    for spec in catalogue.values():
        spent[spec.department] += spec.cost_sek_per_year * spec.scale
    assert set(spent) == set(budgets)
    for dept, amount in budgets.items():
        assert spent[dept] == pytest.approx(amount, abs=1.0), dept
    total = _read(BUDGETS)["sum_of_department_supplements_sek"]
    assert sum(spent.values()) == pytest.approx(total, abs=1.0) == 56_700_000


def test_budget_file_agrees_with_the_reference(reference: dict) -> None:
    ref = reference["department_budgets"]
    ours = _read(BUDGETS)
    assert ours["sum_of_department_supplements_sek"] == ref["sum_of_department_supplements_sek"]
    theirs = {d["department"]: d["extra_budget_sek"] for d in ref["departments"]}
    assert {d["source_name"]: d["extra_budget_sek"] for d in ours["departments"]} == theirs


def test_ordinary_work_costs_nothing() -> None:
    for path in sorted(BASELINE_WORK.glob("*.yaml")):
        spec = _spec(path)
        assert spec.cost_sek_per_year == 0.0, path.name
        assert "ordinary work" in spec.department, path.name


# ---- shipped scenarios -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def loaded() -> dict:
    return {p.stem: load_scenario(p) for p in SCENARIO_FILES}


def test_required_scenarios_are_shipped(loaded: dict) -> None:
    need = {"baseline", "without_uvts", "uvts_2024_2026", "uvts_continued", "uvts_2018_2022",
            "info_sharing", "info_sharing_more_places", "mellantvang", "est_weekly",
            "est_monthly", "budget_shift"}
    assert need <= set(loaded)
    for name, scen in loaded.items():
        assert scen.title and scen.title_sv, f"{name}: title and title_sv"
        text = (SCENARIOS / f"{name}.yaml").read_text(encoding="utf-8")
        assert text.startswith("# "), f"{name}: comments at the top"


def test_activity_plan_scenario_holds_ordinary_work_and_every_entry(loaded: dict) -> None:
    ids = {s.id for s in loaded["uvts_2024_2026"].specs()}
    ordinary = {_spec(p).id for p in BASELINE_WORK.glob("*.yaml")}
    assert ordinary <= ids, "the plan comes on top of ordinary work"
    assert {p.stem for p in CATALOGUE_FILES} <= ids
    assert {s.id for s in loaded["without_uvts"].specs()} == ordinary


def test_continued_plan_runs_every_plan_period_entry_to_the_horizon(loaded: dict) -> None:
    plan = {s.id: s for s in loaded["uvts_2024_2026"].specs()}
    cont = {s.id: s for s in loaded["uvts_continued"].specs()}
    assert set(plan) == set(cont)
    for key, spec in plan.items():
        if spec.end == 2027.0:
            assert cont[key].end is None, key
        else:
            assert cont[key].end == spec.end, key


def test_variants_change_what_they_say(loaded: dict) -> None:
    def by_id(name: str) -> dict[str, InterventionSpec]:
        return {s.id: s for s in loaded[name].specs()}

    assert by_id("est_monthly")["est"].interval_weeks == 4
    weekly = by_id("est_weekly")
    assert weekly["est"].interval_weeks == 1 and len(weekly) == len(by_id("est_monthly"))
    assert by_id("info_sharing")["secrecy_relaxed_school_social"].effect("info_sharing") == 0.4
    mv = by_id("mellantvang")["compulsory_care"].escalation
    assert mv.mandated_contact and not by_id("uvts_2024_2026")["compulsory_care"].escalation.mandated_contact
    assert weekly["est"].top_k == 3 and weekly["est"].reselect_weeks == 13
    assert set(by_id("est_monthly")["est"].target.districts) == {"Ålidhem", "Mariehem", "Ersboda"}
    more = by_id("info_sharing_more_places")
    assert more["social_structured_family_treatment"].places_per_year() == pytest.approx(
        1.5 * by_id("info_sharing")["social_structured_family_treatment"].places_per_year())
    plan, shift = by_id("uvts_2024_2026"), by_id("budget_shift")
    cost = {k: {i: s.cost_sek_per_year * s.scale for i, s in d.items()}
            for k, d in (("plan", plan), ("shift", shift))}
    assert sum(cost["shift"].values()) == pytest.approx(sum(cost["plan"].values()), abs=5.0)
    assert cost["shift"]["property_school_restaurants_attendance"] == pytest.approx(5e6)
    assert cost["shift"]["social_reinforce_core_mission"] == pytest.approx(
        cost["plan"]["social_reinforce_core_mission"] + 5e6, abs=5.0)
    area = by_id("uvts_2018_2022")
    assert loaded["uvts_2018_2022"].start_year == 2018 and "est" not in area
    assert set(area["uvts2018_est"].target.districts) == {"Ålidhem", "Mariehem", "Ersboda"}


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
def test_every_scenario_runs_one_year(path: Path) -> None:
    scen = load_scenario(path).model_copy(update={"years": 1})
    model = build_model(scen, seed=1)
    model.run()
    ledger = {row["id"]: row for row in model.measures.ledger()}
    specs = {s.id: s for s in scen.specs()}
    for key, row in ledger.items():
        spec = specs[key]
        if spec.type == "programme":  # capacities bind (at most one place carried over)
            assert row["started"] <= spec.places_per_year() + 1, key
        assert row["started"] <= row["offered"] or spec.type == "universal", key


# ---- bad files ---------------------------------------------------------------------------------

GOOD = """\
id: bad_example
type: programme
capacity_per_year: 10
target:
  ages: [10, 15]
  districts: [{district}]
effects:
  - acts_on: entry_hazard
    value: 0.1
    range: {range}
    source: "{source}"
"""


def _write(tmp_path: Path, **kw: str) -> Path:
    fill = {"district": "Ersboda", "range": "[0.0, 0.2]", "source": "assumption: test", **kw}
    path = tmp_path / "bad_example.yaml"
    path.write_text(GOOD.format(**fill), encoding="utf-8")
    return path


def test_the_good_example_validates(tmp_path: Path) -> None:
    assert _spec(_write(tmp_path)).id == "bad_example"


def test_assumed_effect_excluding_zero_names_file_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, range="[0.05, 0.2]")
    with pytest.raises(ScenarioError) as err:
        build_interventions([{"use": path.name}], where="scenario.yaml", base_dir=tmp_path)
    msg = str(err.value)
    assert str(path) in msg and "effects.0" in msg and "includes zero" in msg


def test_bad_district_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, district="Umedalen")
    with pytest.raises(ScenarioError) as err:
        build_interventions([{"use": path.name}], where="scenario.yaml", base_dir=tmp_path)
    msg = str(err.value)
    assert str(path) in msg and "target" in msg and "Umedalen" in msg


def test_bad_catalogue_override_in_a_scenario_names_the_scenario(tmp_path: Path) -> None:
    scen = tmp_path / "s.yaml"
    scen.write_text(f"extends: {SCENARIOS / 'uvts_2024_2026.yaml'}\nname: s\nremove: [no_such_id]\n",
                    encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"s\.yaml: field 'remove'"):
        load_scenario(scen)

"""What a planner reads: the summary's rows, units and horizon; translated figures written
beside the English ones; typed Parquet with units; plan period and department names."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from sim import compare as cmp
from sim.labels import LABELS, NBSP, department, has_swedish, label, number
from sim.scenario import load_scenario
from sim.schema import COLUMNS, column_docs

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


def test_headline_is_on_the_evaluated_row_with_units_and_horizon(compared):
    out, _ = compared
    s = pd.read_csv(out / "summary.csv")
    assert list(s["scenario"]) == ["plan", "none"]
    assert list(s["role"]) == ["evaluated", "counterfactual"]
    head, other = s.iloc[0], s.iloc[1]
    assert head["compared_with"] == "none"
    assert not pd.isna(head["prevented_periphery_entries_u18_2024_median"])
    assert not pd.isna(head["prevented_new_members_2024_median"])  # the second outcome beside it
    assert pd.isna(other["prevented_periphery_entries_u18_2024_median"])  # not on the other row
    assert "cost_msek_2024_median" in s and "periphery_entries_u18_2024_p5" in s  # unit, horizon
    assert head["cost_msek_2024_median"] > 10 and other["cost_msek_2024_median"] < head[
        "cost_msek_2024_median"]
    shares = ("replacement_share", "p_first_fewer", "p_tie")
    for col in s.select_dtypes("number"):  # rounded: one decimal (shares and probabilities two)
        vals = s[col].dropna().to_numpy()
        assert np.allclose(vals, np.round(vals, 2 if col in shares else 1)), col


def test_sek_per_prevented_only_where_recruits_were_prevented():
    rep = pd.DataFrame({"scenario": ["a"] * 3 + ["b"] * 3 + ["c"] * 3, "replicate": [0, 1, 2] * 3,
                        "periphery_entries_u18": [10, 12, 11, 14, 15, 13, 9, 10, 9],
                        "new_members": 2, "cost_sek": [5e6] * 3 + [1e6] * 3 + [0.0] * 3})
    comp = cmp.comparisons_table(rep, "a", "2024_2026")
    b, c = comp.iloc[0], comp.iloc[1]
    assert b["prevented_periphery_entries_u18_2024_2026_median"] == 3.0
    assert b["sek_per_child_kept_out"] == pytest.approx(4e6 / 3, rel=1e-3)
    assert c["prevented_periphery_entries_u18_2024_2026_median"] == -2.0  # a does worse than c
    assert pd.isna(c["sek_per_child_kept_out"]) and "not defined" in c["note"]
    full = rep.assign(periphery_entries=rep["periphery_entries_u18"], new_members_u18=1,
                      youth_years_stage2plus=1.0, active_members_mean=1.0, reports_of_concern=1)
    summary = cmp.summary_table(full, "a", "2024_2026")
    assert summary.loc[0, "compared_with"] == "b" and pd.isna(summary.loc[1, "compared_with"])


def test_swedish_run_writes_beside_and_leaves_english_files_intact(compared):
    out, english = compared
    assert "counterfactual.png" in english
    assert (out / "counterfactual_sv.png").is_file()
    for name, blob in english.items():  # still there, byte for byte
        assert (out / name).read_bytes() == blob, name


def test_parquet_is_typed_and_documented(compared):
    out, _ = compared
    stages = pd.read_parquet(out / "stages.parquet")
    assert stages["stage"].cat.ordered and list(stages["stage"].cat.categories) == [
        "none", "norm_breaking", "peripheral", "member", "exited"]
    assert stages["district"].cat.ordered and stages["district"].cat.categories[0] == "Centrum"
    assert stages["count"].dtype.kind == "i"
    net = pd.read_parquet(out / "network.parquet")
    assert net["active_members"].dtype.kind == "i" and net["cost_sek"].dtype.kind == "f"
    docs = column_docs(out / "network.parquet")
    assert docs["cost_sek"]["unit"] == "SEK" and "cost" in docs["cost_sek"]["description"]
    assert b"table" in pq.read_schema(out / "flows.parquet").metadata


def test_typed_categories_follow_first_appearance_and_documented_orders():
    from sim.schema import typed

    df = pd.DataFrame({"scenario": ["b", "a", "b", None], "flow": ["x", "x", "y", "x"],
                       "stage": ["member", "none", "unknown", "none"],
                       "district": ["Zz", "Centrum", "Centrum", "Zz"], "count": [1.0, 2, 3, 4]})
    t = typed(df)
    assert list(t["scenario"].cat.categories) == ["b", "a"] and pd.isna(t["scenario"][3])
    assert list(t["flow"].cat.categories) == ["x", "y"]
    assert list(t["flow"].astype(str)) == ["x", "x", "y", "x"]
    assert t["stage"].cat.ordered and pd.isna(t["stage"][2])  # not a stage: missing
    assert list(t["stage"].cat.codes) == [3, 0, -1, 0]
    assert t["district"].cat.categories[0] == "Centrum" and t["district"].cat.categories[-1] == "Zz"
    assert list(t["district"].astype(str)) == ["Zz", "Centrum", "Centrum", "Zz"]
    assert t["count"].dtype == np.int32


def test_long_tables_label_columns_are_the_row_by_row_strings():
    """The label columns of the long tables (taken from the few labels) are the frames pandas
    makes from one string per row: values, order and dtype."""
    from sim.model import UmeaModel
    from sim.results import ALL_FACTORS, FLOWS, STAGES, flow_table, risk_table, stage_table

    model = UmeaModel(seed=3, years=1)
    for _ in range(9):
        model.step()
    rec, d = model.recorder, model.city.districts
    for table, labels, name in ((stage_table, STAGES, "stage"), (flow_table, FLOWS, "flow"),
                                (risk_table, ALL_FACTORS, "factor")):
        df = table(rec, d, 2024)
        n_rows, k = len(df), len(labels)
        want = pd.DataFrame({
            "district": np.tile(np.repeat(np.array(d, object), k), n_rows // (len(d) * k)),
            name: np.tile(np.array(labels, object), n_rows // k)})
        pd.testing.assert_frame_equal(df[["district", name]], want)


def test_data_dictionary_lists_every_column(compared):
    out, _ = compared
    text = (ROOT / "docs" / "data_dictionary.md").read_text(encoding="utf-8")
    cols = set(COLUMNS)
    for f in ("summary.csv", "comparisons.csv", "summary_by_district.csv", "per_replicate.csv"):
        cols |= {re.sub(r"_\d{4}(_\d{4})?_", "_<horizon>_", c) for c in pd.read_csv(out / f).columns}
    missing = [c for c in cols if f"`{c}`" not in text]
    assert not missing, missing


def test_every_department_is_translated():
    depts = set()
    for path in SCENARIOS.glob("*.yaml"):
        if path.name == "department_budgets.yaml":
            continue
        depts |= {iv.get("department", "ordinary work")
                  for iv in load_scenario(path).interventions}
    untranslated = [d for d in depts if not has_swedish(d)]
    assert not untranslated, untranslated
    assert department("Support and Care (ordinary work)", "sv") == "Stöd och omsorg (ordinarie arbete)"


def test_swedish_labels_complete_and_percent_never_splits():
    assert set(LABELS["en"]) == set(LABELS["sv"])
    text = label("counterfactual_title", "sv", a="A", b="B", n=5)
    assert f"90{NBSP}%" in text and "90 %" not in text and "90%" not in text
    assert "bootstrap" in label("ci", "sv", level=95) and f"95{NBSP}%" in label("ci", "sv", level=95)
    assert number(1234567.5, "sv", 1) == f"1{NBSP}234{NBSP}567,5"


def test_plan_period_of_the_activity_plan():
    plan = load_scenario(SCENARIOS / "uvts_2024_2026.yaml")
    without = load_scenario(SCENARIOS / "without_uvts.yaml")
    lo, hi = cmp.plan_period(plan, without)
    # the plan starts in 2024; several measures run "until further notice", i.e. to the horizon
    assert lo == 2024.0 and hi == plan.start_year + plan.years
    assert cmp.plan_period(without, without) is None


def test_department_contributions_on_request(tmp_path, capsys):
    """Contributions cost a run per department and level and replicate, so they come only with
    --departments: one row per department and per level of the evaluated plan."""
    from sim.cli import main
    from sim.scenario import load_scenario

    a, b = tmp_path / "plan.yaml", tmp_path / "none.yaml"
    cat = SCENARIOS / "catalogue"
    a.write_text(f"extends: {SCENARIOS / 'without_uvts.yaml'}\nname: plan\nyears: 1\n"
                 "interventions:\n"
                 + "".join(f"  - use: {cat / f}\n" for f in (
                     "compulsory_operative_team.yaml", "leisure_pa_ungas_hemmaplan.yaml",
                     "lmi_framtidsverkstan.yaml")))
    b.write_text(f"extends: {SCENARIOS / 'without_uvts.yaml'}\nname: none\nyears: 1\n")
    out = tmp_path / "out"
    assert main(["compare", str(a), str(b), "--replicates", "1", "--out", str(out), "--workers",
                 "2", "--departments", "--no-ensemble"]) == 0
    other = {s.id for s in load_scenario(b).specs()}
    plan = [s for s in load_scenario(a).specs() if s.id not in other]
    deps, levels = pd.read_csv(out / "departments.csv"), pd.read_csv(out / "levels.csv")
    assert set(deps["department"]) == {s.department for s in plan} and len(deps) == 3
    assert len(levels) == len({s.level for s in plan}) >= 2
    assert (out / "departments.png").is_file()
    err = capsys.readouterr().err
    n = 2 + len(deps) + len(levels)
    assert f"compare: {n} runs" in err

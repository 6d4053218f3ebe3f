"""Mesa's own tools on the unchanged model: `mesa.batch_run` over two parameters, and SolaraViz
(rendered headless, its Step button pressed)."""

from __future__ import annotations

import time

import mesa
import pandas as pd
import pytest

from sim.model import UmeaModel


def test_batch_run_over_two_parameters():
    rows = mesa.batch_run(UmeaModel, parameters={"years": 1, "entry_base_rate": [0.01, 0.06],
                                                 "uptake_voluntary": [0.3, 0.9]},
                          iterations=2, max_steps=3, number_processes=1,
                          data_collection_period=-1, display_progress=False)
    df = pd.DataFrame(rows)
    assert len(df) == 2 * 2 * 2
    assert set(df["entry_base_rate"]) == {0.01, 0.06} and set(df["uptake_voluntary"]) == {0.3, 0.9}
    assert {"stage_peripheral", "periphery_entries", "reports_of_concern", "cost_sek"} <= set(df)
    assert (df["Step"] == 3).all()  # stopped by max_steps (1-based steps in Mesa 3)
    # seed=None: each iteration is a different city, not an identical copy
    per_iter = df.groupby("iteration")["stage_norm_breaking"].apply(tuple)
    assert per_iter.iloc[0] != per_iter.iloc[1]


def test_batch_run_stops_at_the_horizon():
    rows = mesa.batch_run(UmeaModel, parameters={"years": 1, "seed": 3}, iterations=1,
                          max_steps=200, number_processes=1, data_collection_period=1,
                          display_progress=False)
    df = pd.DataFrame(rows)
    # one row per collected week: 52, not 200; running turned False at the horizon
    assert len(df) == 52 and list(df["Step"]) == list(range(52))


def test_the_models_collector_records_what_mesas_collector_records():
    """WeeklyCollector reads the model's reporters in one go: the same table, week by week, as
    Mesa's DataCollector calling each reporter (a plan with measures: costs, cases, members)."""
    from sim.model import _reporters
    from sim.scenario import load_scenario

    model = UmeaModel(seed=4, years=1,
                      interventions=load_scenario("scenarios/uvts_2024_2026.yaml").specs())
    plain, ours_collect = mesa.DataCollector(model_reporters=_reporters()), model.datacollector.collect

    def both(m):  # the step collects before the week advances: both collectors at that moment
        ours_collect(m)
        plain.collect(m)

    model.datacollector.collect = both
    model.run()
    ours, theirs = model.datacollector.get_model_vars_dataframe(), plain.get_model_vars_dataframe()
    assert type(model.datacollector).__name__ == "WeeklyCollector" and len(ours) == 52
    pd.testing.assert_frame_equal(ours, theirs)
    assert ours["cost_sek"].sum() > 0 and ours["known_to_social_services"].min() > 0
    assert ours["periphery_entries"].sum() > 0 and ours["active_members"].min() > 0


def test_a_collector_with_other_reporters_is_mesas_own():
    model = UmeaModel(seed=4, years=1)
    model.datacollector = type(model.datacollector)(
        model_reporters={"mean_age": lambda m: float(m.pop.age.mean()), "week": "week"})
    for _ in range(3):
        model.step()
    df = model.datacollector.get_model_vars_dataframe()
    assert list(df.columns) == ["mean_age", "week"] and list(df["week"]) == [0, 1, 2]
    assert df["mean_age"].is_monotonic_increasing


solara = pytest.importorskip("solara")
pytest.importorskip("altair")  # Mesa's visualisation imports it


def test_solara_viz_steps_and_resets_the_model():
    import ipyvuetify as v

    from sim.dashboard.mesa_viz import make_page

    model = UmeaModel(seed=3, years=1)
    _, rc = solara.render(solara.AppLayout(children=[make_page(model)]), handle_error=False)
    rc.find(v.Btn, children=["Step"]).widget.click()
    for _ in range(100):
        if model.steps:
            break
        time.sleep(0.05)
    assert model.steps == 1 and len(model.datacollector.get_model_vars_dataframe()) == 1
    rc.find(v.Btn, children=["Reset"]).widget.click()  # builds a new UmeaModel from its params
    rc.close()

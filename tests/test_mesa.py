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

"""Mesa's own SolaraViz on the unchanged model: `solara run sim/dashboard/mesa_viz.py`.

For researchers who want Mesa's standard controls (step, play, reset, model parameters) and
plots of the DataCollector's model reporters; the workshop dashboard is `uvts dashboard`.
"""

from __future__ import annotations

import solara
from mesa.visualization import SolaraViz, make_plot_component

from sim import plots
from sim.model import UmeaModel

MODEL_PARAMS = {
    "seed": {"type": "InputText", "value": 1, "label": "Seed"},
    "years": {"type": "SliderInt", "value": 2, "label": "Years", "min": 1, "max": 10, "step": 1},
    "entry_base_rate": {"type": "SliderFloat", "value": 0.03, "label": "entry_base_rate",
                        "min": 0.01, "max": 0.06, "step": 0.005},
    "uptake_voluntary": {"type": "SliderFloat", "value": 0.45, "label": "uptake_voluntary",
                         "min": 0.2, "max": 0.95, "step": 0.05},
}


@solara.component
def NetworkView(model: UmeaModel):  # noqa: N802 - a Solara component
    """The involved youths and their recruiters on the schematic map (updates each step)."""
    from mesa.visualization.utils import update_counter

    update_counter.get()  # re-render after every step
    fig = plots.network_figure(model, "en")
    solara.FigureMatplotlib(fig, format="png", dpi=80)


def make_page(model: UmeaModel | None = None):
    """A SolaraViz page for `model` (default: two years, seed 1)."""
    model = model if model is not None else UmeaModel(seed=1, years=2)
    return SolaraViz(
        model,
        components=[make_plot_component(["stage_norm_breaking", "stage_peripheral",
                                         "stage_member"]),
                    make_plot_component(["periphery_entries", "new_members"]),
                    NetworkView],
        model_params=MODEL_PARAMS, name="UVTS-sim (Mesa SolaraViz)")


page = make_page()

"""The workshop dashboard (Solara): pick a scenario and its counterfactual, move the levers, press
Run and watch paired runs arrive; see the counterfactual figure, the districts on a schematic map
of Umeå, and one run week by week with its network of involved youths and recruiters.

Started by `uvts dashboard` (sim.dashboard.serve), which sets UVTS_LANG (sv by default).
"""

from __future__ import annotations

import html
import os
import threading

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import solara  # noqa: E402
import solara.lab  # noqa: E402

from sim import levers as lv  # noqa: E402
from sim import plots  # noqa: E402
from sim.dashboard.engine import (
    QUICK_REPLICATES,
    QUICK_YEARS,
    Engine,
    Result,
    scenarios,
    with_levers,  # noqa: E402
)
from sim.labels import department, label, number  # noqa: E402
from sim.params import load_parameters  # noqa: E402

LANG = os.environ.get("UVTS_LANG", "sv")
SEED = int(os.environ.get("UVTS_SEED", "2024"))
DEFAULT_A, DEFAULT_B = "uvts_2024_2026", "without_uvts"
ENGINE = Engine()


def _prepare() -> None:
    """Start the workers and run the default question's first look into the cache, so the first
    visitor sees a result at once."""
    ENGINE.warm()
    sc = scenarios()
    if DEFAULT_A in sc and DEFAULT_B in sc:
        y = min(QUICK_YEARS, int(os.environ.get("UVTS_DASHBOARD_YEARS", "10")))
        ENGINE.run(sc[DEFAULT_A], sc[DEFAULT_B], y, QUICK_REPLICATES, SEED)


threading.Thread(target=_prepare, daemon=True).start()

PARAMS = load_parameters()
EST_CHOICES = [1, 2, 4, 8]


def L(key: str, **fmt: object) -> str:  # noqa: N802 - short for label() in this language
    return label(key, LANG, **fmt)


def _title(name: str) -> str:
    return scenarios()[name].label(LANG)


def _default(name: str) -> str:
    sc = scenarios()
    return name if name in sc else next(iter(sc))


# ---- per-session state ---------------------------------------------------------------------
evaluated = solara.reactive(_default(DEFAULT_A))
counterfactual = solara.reactive(_default(DEFAULT_B))
years = solara.reactive(int(os.environ.get("UVTS_DASHBOARD_YEARS", "10")))
replicates = solara.reactive(int(os.environ.get("UVTS_DASHBOARD_REPLICATES", "6")))
info_sharing = solara.reactive(float(PARAMS["info_sharing_school_social"].value))
uptake = solara.reactive(float(PARAMS["uptake_voluntary"].value))
est_weeks = solara.reactive(4)
move_from = solara.reactive("")
move_to = solara.reactive("")
move_msek = solara.reactive(0.0)
off_departments = solara.reactive(frozenset())
off_measures = solara.reactive([])
result = solara.reactive(None)
progress = solara.reactive(0.0)
status = solara.reactive("")
step_model = solara.reactive(None)
step_week = solara.reactive(0)


def current_levers() -> lv.Levers:
    """The levers as set, recording only what differs from the scenario."""
    scen = scenarios()[evaluated.value]
    eff_info = scen.parameters.get("info_sharing_school_social",
                                   PARAMS["info_sharing_school_social"].value)
    eff_uptake = scen.parameters.get("uptake_voluntary", PARAMS["uptake_voluntary"].value)
    est = [iv for iv in scen.interventions if iv["id"] == "est"]
    est_now = est[0].get("interval_weeks", 1) if est else None
    moving = move_msek.value > 0 and move_from.value and move_to.value and \
        move_from.value != move_to.value
    return lv.Levers(
        off_departments=frozenset(off_departments.value),
        off_measures=frozenset(off_measures.value),
        info_sharing=None if abs(info_sharing.value - eff_info) < 1e-9 else info_sharing.value,
        uptake=None if abs(uptake.value - eff_uptake) < 1e-9 else uptake.value,
        est_interval_weeks=None if est_now is None or est_weeks.value == est_now
        else est_weeks.value,
        move_msek=float(move_msek.value) if moving else 0.0,
        move_from=move_from.value if moving else None,
        move_to=move_to.value if moving else None)


def reset_levers(name: str) -> None:
    scen = scenarios()[name]
    info_sharing.set(float(scen.parameters.get("info_sharing_school_social",
                                               PARAMS["info_sharing_school_social"].value)))
    uptake.set(float(scen.parameters.get("uptake_voluntary", PARAMS["uptake_voluntary"].value)))
    est = [iv for iv in scen.interventions if iv["id"] == "est"]
    est_weeks.set(int(est[0].get("interval_weeks", 1)) if est else 4)
    off_departments.set(frozenset())
    off_measures.set([])
    move_from.set("")
    move_to.set("")
    move_msek.set(0.0)


@solara.lab.task
def run_task() -> None:
    """Quick first look (short horizon, few pairs), then the full horizon pair by pair."""
    a = with_levers(scenarios()[evaluated.value], current_levers())
    b = scenarios()[counterfactual.value]
    n, horizon = int(replicates.value), int(years.value)
    stages = []
    if horizon > QUICK_YEARS or n > QUICK_REPLICATES:
        stages.append((min(QUICK_YEARS, horizon), min(QUICK_REPLICATES, n), True))
    stages.append((horizon, n, False))
    progress.set(0.0)
    for y, k, quick in stages:
        status.set(L("ui_quick", years=y, n=k) if quick else L("ui_full", done=0, n=k, years=y))

        def arrived(res: Result, y: int = y, k: int = k, quick: bool = quick) -> None:
            result.set(Result(res.evaluated, res.counterfactual, res.years, list(res.pairs)))
            if not quick:
                progress.set(100.0 * res.n / k)
                status.set(L("ui_full", done=res.n, n=k, years=y))

        ENGINE.run(a, b, y, k, SEED, on_pair=arrived,
                   cancelled=lambda: not run_task.is_current())
        if not run_task.is_current():
            return
    progress.set(100.0)
    status.set(L("ui_done", n=n, years=horizon))


# ---- components ----------------------------------------------------------------------------
@solara.component
def Controls():
    sc = scenarios()
    names = list(sc)
    a = sc[evaluated.value]
    same_start = [n for n in names if sc[n].start_year == a.start_year and n != evaluated.value]
    titles = {_title(n): n for n in names}
    solara.Select(L("ui_scenario"), values=[_title(n) for n in names], value=_title(evaluated.value),
                  on_value=lambda t: (evaluated.set(titles[t]), reset_levers(titles[t])))
    cf_titles = [_title(n) for n in same_start]
    if counterfactual.value not in same_start and same_start:
        counterfactual.set(DEFAULT_B if DEFAULT_B in same_start else same_start[0])
    solara.Select(L("ui_counterfactual"), values=cf_titles,
                  value=_title(counterfactual.value) if counterfactual.value in same_start else None,
                  on_value=lambda t: counterfactual.set(titles[t]))
    solara.SliderInt(L("ui_horizon"), value=years, min=1, max=max(a.years, 2), thumb_label="always")
    solara.SliderInt(L("ui_replicates"), value=replicates, min=2, max=20, thumb_label="always")
    solara.Button(L("ui_run"), on_click=run_task, color="primary", block=True,
                  disabled=run_task.pending, classes=["uvts-run"])
    solara.ProgressLinear(progress.value if run_task.pending or progress.value else False)
    solara.Text(status.value, classes=["uvts-status"])
    solara.HTML(tag="h3", unsafe_innerHTML=L("ui_levers"), style={"margin": "12px 0 4px 0"})
    with solara.Div(classes=["uvts-info-sharing"]):
        solara.SliderFloat(L("ui_info_sharing"), value=info_sharing, min=0.1, max=0.95, step=0.05,
                           thumb_label="always")
    with solara.Div(classes=["uvts-uptake"]):
        solara.SliderFloat(L("ui_uptake"), value=uptake, min=0.2, max=0.95, step=0.05,
                           thumb_label="always")
    if any(iv["id"] == "est" for iv in a.interventions):
        solara.Text(L("ui_est"))
        solara.ToggleButtonsSingle(value=est_weeks.value, values=EST_CHOICES,
                                   on_value=est_weeks.set, classes=["uvts-est"])
    depts = lv.departments(a)
    costed = [d for d in depts if lv.budget(a, d) > 0]
    with solara.Details(L("ui_money")):
        shown = {department(d, LANG): d for d in costed}
        solara.Select(L("ui_move_from"), values=[L("ui_none"), *shown],
                      value=department(move_from.value, LANG) if move_from.value else L("ui_none"),
                      on_value=lambda t: move_from.set(shown.get(t, "")))
        solara.Select(L("ui_move_to"), values=[L("ui_none"), *shown],
                      value=department(move_to.value, LANG) if move_to.value else L("ui_none"),
                      on_value=lambda t: move_to.set(shown.get(t, "")))
        top = lv.budget(a, move_from.value) / 1e6 if move_from.value else 0.0
        solara.SliderFloat(L("ui_move_msek"), value=move_msek, min=0.0,
                           max=max(round(top, 1), 0.5), step=0.5)
    with solara.Details(L("ui_departments"), expand=False):
        for d in depts:
            solara.Checkbox(label=department(d, LANG), value=d not in off_departments.value,
                            on_value=lambda on, d=d: off_departments.set(
                                off_departments.value - {d} if on else off_departments.value | {d}))
    with solara.Details(L("ui_measures"), expand=False):
        ms = lv.measures(a)
        key = "name_sv" if LANG == "sv" else "name_en"
        by_name = {m[key]: m["id"] for m in ms}
        ids_to_name = {v: k for k, v in by_name.items()}
        solara.SelectMultiple(L("ui_measures"), all_values=list(by_name),
                              values=[ids_to_name[i] for i in off_measures.value if i in ids_to_name],
                              on_value=lambda vals: off_measures.set([by_name[v] for v in vals]))


def _headline(res: Result) -> str:
    h = res.headline()
    start = res.evaluated.start_year
    period = f"{start}–{start + res.years - 1}" if res.years > 1 else f"{start}"
    text = L("ui_headline", period=period, med=number(h["median"], LANG, 1),
             lo=number(h["lo"], LANG, 1), hi=number(h["hi"], LANG, 1), n=h["n"],
             cost=number(h["extra_cost_msek"], LANG, 1))
    per = h["sek_per_prevented"]
    tail = L("ui_no_per_recruit") if per != per else L("ui_per_recruit",
                                                          sek=number(per / 1e6, LANG, 1))
    return f"{text}; {tail}."


@solara.component
def CounterfactualView():
    res = result.value
    if res is None or not res.pairs:
        solara.Info(L("ui_press_run"))
    else:
        CounterfactualFigure(res)


@solara.component
def CounterfactualFigure(res: Result):
    fig = solara.use_memo(lambda: plots.counterfactual_figure(
        *res.weekly(), res.evaluated.label(LANG), res.counterfactual.label(LANG), LANG, res.plan()),
        dependencies=[id(res), res.n])
    solara.HTML(tag="div", unsafe_innerHTML=html.escape(_headline(res)), classes=["uvts-headline"],
                style={"font-size": "1.1em", "font-weight": "bold", "margin": "8px 0"})
    with solara.Div(classes=["uvts-figure", "uvts-counterfactual"]):
        solara.FigureMatplotlib(fig, format="png", dpi=90)
    plt.close(fig)


@solara.component
def MapView():
    res = result.value
    if res is None or not res.pairs:
        solara.Info(L("ui_press_run"))
    else:
        MapFigure(res)


@solara.component
def MapFigure(res: Result):
    fig = solara.use_memo(lambda: plots.district_map(res.district_prevented(), LANG,
                                                     title=L("map_title"), fmt="{:.1f}"),
                          dependencies=[id(res), res.n])
    with solara.Div(classes=["uvts-figure", "uvts-map"]):
        solara.FigureMatplotlib(fig, format="png", dpi=90)
    plt.close(fig)
    solara.Text(L("map_caption"))


@solara.component
def StepView():
    model = step_model.value

    def new_run():
        from sim import runner

        scen = with_levers(scenarios()[evaluated.value], current_levers())
        scen = scen.model_copy(update={"years": int(years.value)})
        step_model.set(runner.build_model(scen, SEED))
        step_week.set(0)

    def advance(k: int):
        m = step_model.value
        if m is None:
            return
        for _ in range(k):
            m.step()
        step_week.set(int(m.week))

    with solara.Row():
        solara.Button(L("ui_step_new"), on_click=new_run, classes=["uvts-step-new"])
        for k, key in ((1, "ui_step_1"), (4, "ui_step_4"), (52, "ui_step_52")):
            solara.Button(L(key), on_click=lambda k=k: advance(k), disabled=model is None,
                          classes=[f"uvts-step-{k}"])
    if model is not None:
        NetworkFigure(model, step_week.value)


@solara.component
def NetworkFigure(model, week: int):
    fig = solara.use_memo(lambda: plots.network_figure(model, LANG), dependencies=[id(model), week])
    year = model.start_year + model.week // 52
    done = not getattr(model, "running", True) or model.week >= model.years * 52
    solara.Text(f"{L('week')} {model.week} ({year})" + (f" — {L('ui_step_end')}" if done else ""),
                classes=["uvts-week"])
    with solara.Div(classes=["uvts-figure", "uvts-network"]):
        solara.FigureMatplotlib(fig, format="png", dpi=90)
    plt.close(fig)


@solara.component
def Page():
    solara.Title(L("ui_title"))
    # the first look starts as the page opens: on screen within seconds, then refined
    solara.use_effect(lambda: run_task() if result.value is None else None, [])
    solara.Style(".uvts-figure img { max-width: 100%; }")
    with solara.AppBar():
        solara.AppBarTitle(L("ui_title"))
    with solara.Sidebar():
        Controls()
    with solara.lab.Tabs():
        with solara.lab.Tab(L("ui_tab_cf")):
            CounterfactualView()
        with solara.lab.Tab(L("ui_tab_map")):
            MapView()
        with solara.lab.Tab(L("ui_tab_step")):
            StepView()

"""Figures a planner can paste into a report and a facilitator can show: trajectories with 90 %
bands, counterfactuals, department contributions, a schematic map of Umeå's districts and the
network of involved youths and their recruiters.

Every figure is drawn in one language (`lang`), with the bands explained in a caption, "recruits"
defined and, where a plan period is given, the plan period shaded. Figures use colour *and*
line style or hatching, so they stay readable printed in black and white.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from sim.labels import department, label  # noqa: E402
from sim.recruitment import ACTIVE  # noqa: E402

BAND = (0.05, 0.95)
COLOURS = ("#1b6ca8", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d96a3")
STYLES = ("-", "--", ":", "-.")
HATCHES = ("", "//", "..", "xx")


def lang_path(path: Path | str, lang: str) -> Path:
    """`counterfactual.png` in English, `counterfactual_sv.png` in Swedish: a Swedish figure is
    written beside the English one, never over it."""
    path = Path(path)
    if lang == "en" or path.stem.endswith(f"_{lang}"):
        return path
    return path.with_name(f"{path.stem}_{lang}{path.suffix}")


def _style(ax: plt.Axes) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", alpha=0.3)


def _caption(fig: plt.Figure, text: str, width: int = 150) -> None:
    wrapped = textwrap.fill(text, width)
    lines = wrapped.count("\n") + 1
    fig.text(0.01, 0.01, wrapped, fontsize=8, va="bottom", ha="left", color="#333333")
    fig.subplots_adjust(bottom=0.1 + 0.035 * lines)


def _save(fig: plt.Figure, path: Path | str, dpi: int = 150) -> Path:
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def band(series: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Median and 90% band of y over replicates, per x."""
    g = series.groupby(x)[y]
    return pd.DataFrame({"median": g.median(), "lo": g.quantile(BAND[0]), "hi": g.quantile(BAND[1])})


def _fill(ax: plt.Axes, b: pd.DataFrame, colour: str, name: str, k: int = 0) -> None:
    ax.fill_between(b.index, b["lo"], b["hi"], color=colour, alpha=0.2, linewidth=0,
                    hatch=HATCHES[k % len(HATCHES)], edgecolor=colour)
    ax.plot(b.index, b["lo"], color=colour, linewidth=0.6, linestyle=STYLES[k % len(STYLES)])
    ax.plot(b.index, b["hi"], color=colour, linewidth=0.6, linestyle=STYLES[k % len(STYLES)])
    ax.plot(b.index, b["median"], color=colour, label=name, linewidth=2,
            linestyle=STYLES[k % len(STYLES)])


def _plan(ax: plt.Axes, plan: tuple[float, float] | None, lang: str, text: bool = True) -> None:
    if plan is None:
        return
    lo, hi = plan
    ax.axvspan(lo, hi, color="#000000", alpha=0.07, linewidth=0, zorder=0)
    if text:
        ax.text(lo + 0.05, 1.0, label("plan_period", lang, plan=plan_text(plan)),
                transform=ax.get_xaxis_transform(), fontsize=8, va="top", color="#333333")


def plan_text(plan: tuple[float, float]) -> str:
    """2024.0-2027.0 → "2024–2026" (the years the measures are in force)."""
    lo, hi = plan
    last = int(np.ceil(hi) - 1) if float(hi).is_integer() else int(hi)
    return f"{int(lo)}–{last}" if last > int(lo) else f"{int(lo)}"


def stage_trajectories(stages: pd.DataFrame, network: pd.DataFrame, path: Path | str,
                       title: str, lang: str = "en") -> Path:
    """City-wide counts at stages 1-3 and active members over time, with bands over replicates."""
    per = stages.groupby(["replicate", "step", "stage"], as_index=False, observed=True)["count"].sum()
    per["stage"] = per["stage"].astype(str)
    per["time"] = network["year"].min() + per["step"] / 52.0
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharex=True)
    for ax, stage, colour in zip(axes.flat[:3], ("norm_breaking", "peripheral", "member"),
                                 COLOURS[:3], strict=True):
        _fill(ax, band(per[per["stage"] == stage], "time", "count"), colour, label(stage, lang))
        ax.set_title(label(stage, lang))
        ax.set_ylabel(label("youths", lang))
        _style(ax)
    net = network.assign(time=network["year"].min() + network["step"] / 52.0)
    ax = axes.flat[3]
    _fill(ax, band(net, "time", "active_members"), COLOURS[3], label("active_members", lang))
    ax.set_title(label("active_members", lang))
    ax.set_ylabel(label("persons", lang))
    _style(ax)
    for ax in axes[1]:
        ax.set_xlabel(label("year", lang))
    n = stages["replicate"].nunique()
    fig.suptitle(f"{title}\n{label('stages_title', lang, n=n)}", fontsize=12)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    _caption(fig, label("stages_caption", lang, n=n))
    return _save(fig, lang_path(path, lang))


def counterfactual(first: pd.DataFrame, other: pd.DataFrame, name_first: str, name_other: str,
                   path: Path | str, lang: str = "en",
                   plan: tuple[float, float] | None = None, dpi: int = 150) -> Path:
    """Both scenarios' cumulative recruits with 90% bands, and the paired difference
    (recruits prevented by the first scenario) with its band.

    `first` and `other` hold columns replicate, time (decimal year) and recruits (per week);
    `plan` (start, end) shades the plan period."""
    fig = counterfactual_figure(first, other, name_first, name_other, lang, plan)
    return _save(fig, lang_path(path, lang), dpi)


def counterfactual_figure(first: pd.DataFrame, other: pd.DataFrame, name_first: str,
                          name_other: str, lang: str = "en",
                          plan: tuple[float, float] | None = None) -> plt.Figure:
    """The counterfactual figure as a matplotlib Figure (the dashboard shows it directly)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5.6))
    cum = []
    for k, (df, name, colour) in enumerate(((other, name_other, COLOURS[1]),
                                            (first, name_first, COLOURS[0]))):
        c = df.sort_values(["replicate", "time"])
        c = c.assign(cum=c.groupby("replicate")["recruits"].cumsum())
        cum.append(c)
        _fill(ax1, band(c, "time", "cum"), colour, textwrap.fill(name, 45), k=1 - k)
    _plan(ax1, plan, lang)
    ax1.set_title(label("cumulative_recruits", lang))
    ax1.set_xlabel(label("year", lang))
    ax1.set_ylabel(label("new_recruits", lang))
    ax1.legend(frameon=False, loc="lower right", fontsize=9)
    _style(ax1)
    diff = cum[0].merge(cum[1], on=["replicate", "time"], suffixes=("_other", "_first"))
    diff["d"] = diff["cum_other"] - diff["cum_first"]
    _fill(ax2, band(diff, "time", "d"), COLOURS[2], "", k=0)
    _plan(ax2, plan, lang, text=False)
    ax2.axhline(0, color="black", linewidth=0.8)
    ax2.set_title(textwrap.fill(label("prevented_by", lang, a=name_first, b=name_other), 60),
                  fontsize=10)
    ax2.set_xlabel(label("year", lang))
    ax2.set_ylabel(label("prevented", lang))
    _style(ax2)
    n = diff["replicate"].nunique()
    title = label("counterfactual_title", lang, a=name_first, b=name_other, n=n)
    fig.suptitle(textwrap.fill(title, 110), fontsize=12)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    _caption(fig, label("counterfactual_caption", lang, n=n, a=name_first,
                        plan=plan_text(plan) if plan else "–"), width=170)
    return fig


def contributions(table: pd.DataFrame, path: Path | str, lang: str = "en", title: str = "") -> Path:
    """Horizontal bars: recruits prevented per department (median and 90% interval)."""
    t = table.sort_values("prevented_median")
    fig, ax = plt.subplots(figsize=(9.5, 0.5 * len(t) + 2.2))
    y = np.arange(len(t))
    err = np.vstack([t["prevented_median"] - t["prevented_lo"], t["prevented_hi"] - t["prevented_median"]])
    ax.barh(y, t["prevented_median"], xerr=np.clip(err, 0, None), color=COLOURS[0], alpha=0.8,
            capsize=3, edgecolor="black", linewidth=0.5)
    ax.set_yticks(y, [department(d, lang) for d in t["department"]])
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(label("contribution", lang))
    if title:
        ax.set_title(textwrap.fill(title, 80), fontsize=11)
    _style(ax)
    ax.xaxis.set_major_locator(MaxNLocator())
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    _caption(fig, label("contributions_caption", lang), width=120)
    return _save(fig, lang_path(path, lang))


# ---- a schematic map of Umeå's districts ------------------------------------------------------
# Tiles (column, row), row 0 at the top; Umeälven runs between rows 1 and 2. Not to scale: a
# sketch of where the districts lie relative to each other (Landsbygd surrounds the town).
TILES = {
    "Haga": (1, 0), "Ersboda": (2, 0), "Mariehem": (3, 0),
    "Väst": (0, 1), "Centrum": (1, 1), "Ålidhem": (2, 1), "Tomtebo": (3, 1),
    "Teg": (1, 2.3), "Holmsund-Obbola": (3, 3.3),
}
LANDSBYGD = "Landsbygd"


def _tile_centre(name: str) -> tuple[float, float]:
    if name == LANDSBYGD:
        return (0.55, -4.35)
    c, r = TILES[name]
    return (c + 0.5, -(r + 0.5))


def district_map(values: dict[str, float] | None, lang: str = "en", title: str = "",
                 ax: plt.Axes | None = None, fmt: str = "{:.0f}", cmap: str = "Blues"
                 ) -> plt.Figure:
    """Umeå's ten districts as schematic tiles, coloured by `values` (e.g. recruits prevented)
    and labelled with the value. With `values` None, the plain map."""
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6.4, 6.0))
    else:
        fig = ax.figure
    vals = values or {}
    finite = [v for v in vals.values() if v is not None and np.isfinite(v)]
    vmax = max((abs(v) for v in finite), default=1.0) or 1.0
    cm = plt.get_cmap(cmap)

    def colour(name: str) -> tuple:
        v = vals.get(name)
        if v is None or not np.isfinite(v):
            return (0.95, 0.95, 0.95, 1.0)
        return cm(0.1 + 0.75 * max(v, 0) / vmax)

    ax.add_patch(Rectangle((-0.6, -4.8), 5.2, 5.4, facecolor=colour(LANDSBYGD), edgecolor="black",
                           linewidth=1.0, zorder=0))
    xs = np.linspace(-0.6, 4.6, 60)
    ax.plot(xs, -2.9 - 0.12 * np.sin(xs * 2.2) - 0.25 * xs / 4.6, color="#5b8fb9", linewidth=3,
            zorder=1)
    ax.text(-0.5, -2.78, "Umeälven", fontsize=7, color="#3b6f99", style="italic", zorder=1)
    for name, (c, r) in TILES.items():
        ax.add_patch(Rectangle((c + 0.04, -(r + 1) + 0.04), 0.92, 0.92, facecolor=colour(name),
                               edgecolor="black", linewidth=1.0, zorder=2))
    for name in (*TILES, LANDSBYGD):
        x, y = _tile_centre(name)
        v = vals.get(name)
        dark = v is not None and np.isfinite(v) and max(v, 0) / vmax > 0.55
        shown = name.replace("-", "-\n") if name == "Holmsund-Obbola" else name
        txt = shown if v is None else f"{shown}\n{fmt.format(v)}"
        ax.text(x, y, txt, ha="center", va="center", fontsize=8, zorder=3,
                color="white" if dark else "black", fontweight="bold" if v is not None else None)
    ax.set_xlim(-0.7, 4.7)
    ax.set_ylim(-4.9, 0.7)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(textwrap.fill(title, 60), fontsize=11)
    if own:
        _caption(fig, label("map_caption", lang), width=95)
    return fig


def network_figure(model, lang: str = "en", ax: plt.Axes | None = None) -> plt.Figure:
    """The involved youths (stages 1-3) of a running model and the network members who recruited
    them, placed in their districts on the schematic map; lines join a youngster to its
    recruiter. Reads the model arrays `stage`, `recruiter`, `network` and `pop.district`."""
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6.4, 6.4))
    else:
        fig = ax.figure
    district_map(None, lang, ax=ax)
    for t in ax.texts:
        t.set_alpha(0.35)
    names = model.city.districts
    centres = np.array([_tile_centre(n) for n in names])
    st = np.asarray(model.stage)
    involved = np.flatnonzero((st >= 1) & (st <= 3))

    def place(district: np.ndarray, key: np.ndarray) -> np.ndarray:
        ang = (key * 2.399963) % (2 * np.pi)  # golden-angle spiral: deterministic, no overlap
        rad = 0.42 * np.sqrt((key * 0.618034) % 1.0)
        return centres[district] + np.c_[np.cos(ang) * rad, np.sin(ang) * rad]

    pos_y = place(np.asarray(model.pop.district)[involved], involved.astype(float))
    net = model.network
    active = np.flatnonzero(np.asarray(net.status) == ACTIVE)
    pos_m = place(np.asarray(net.district)[active].astype(int), active.astype(float) + 0.5)
    rec = np.asarray(model.recruiter)[involved]
    linked = rec >= 0
    where = {m: k for k, m in enumerate(active.tolist())}
    segs = [(pos_y[i], pos_m[where[r]]) for i, r in zip(np.flatnonzero(linked), rec[linked],
                                                        strict=True) if r in where]
    if segs:
        ax.add_collection(LineCollection(segs, colors="#555555", linewidths=0.5, alpha=0.6,
                                         zorder=4))
    markers = {1: ("o", COLOURS[2], 10), 2: ("s", COLOURS[1], 14), 3: ("D", "#7a1020", 16)}
    for s, (mk, col, size) in markers.items():
        sel = st[involved] == s
        ax.scatter(pos_y[sel, 0], pos_y[sel, 1], s=size, marker=mk, color=col,
                   edgecolor="black", linewidth=0.3, zorder=5,
                   label=f"{label(('none', 'norm_breaking', 'peripheral', 'member')[s], lang)}"
                         f" ({int(sel.sum())})")
    ax.scatter(pos_m[:, 0], pos_m[:, 1], s=28, marker="^", color="black", zorder=6,
               label=f"{label('network_legend_recruiter', lang)} ({active.size})")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=7, frameon=False)
    ax.set_title(label("network_title", lang, week=int(model.week)), fontsize=11)
    return fig

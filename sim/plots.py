"""Figures a planner can paste into a report: trajectories with 90% bands, counterfactuals."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from sim.labels import label  # noqa: E402

BAND = (0.05, 0.95)
COLOURS = ("#1b6ca8", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d96a3")


def _style(ax: plt.Axes) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", alpha=0.3)


def band(series: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Median and 90% band of y over replicates, per x."""
    g = series.groupby(x)[y]
    return pd.DataFrame({"median": g.median(), "lo": g.quantile(BAND[0]), "hi": g.quantile(BAND[1])})


def _fill(ax: plt.Axes, b: pd.DataFrame, colour: str, name: str) -> None:
    ax.fill_between(b.index, b["lo"], b["hi"], color=colour, alpha=0.2, linewidth=0)
    ax.plot(b.index, b["median"], color=colour, label=name, linewidth=2)


def stage_trajectories(stages: pd.DataFrame, network: pd.DataFrame, path: Path | str,
                       title: str, lang: str = "en") -> Path:
    """City-wide counts at stages 1-3 and active members over time, with bands over replicates."""
    per = stages.groupby(["replicate", "step", "stage"], as_index=False)["count"].sum()
    per["time"] = network["year"].min() + per["step"] / 52.0
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
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
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def counterfactual(first: pd.DataFrame, other: pd.DataFrame, name_first: str, name_other: str,
                   path: Path | str, lang: str = "en") -> Path:
    """Both scenarios' cumulative recruits with 90% bands, and the paired difference
    (recruits prevented by the first scenario) with its band.

    `first` and `other` hold columns replicate, time (decimal year) and recruits (per week)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5))
    cum = []
    for df, name, colour in ((other, name_other, COLOURS[1]), (first, name_first, COLOURS[0])):
        c = df.sort_values(["replicate", "time"])
        c = c.assign(cum=c.groupby("replicate")["recruits"].cumsum())
        cum.append(c)
        _fill(ax1, band(c, "time", "cum"), colour, name)
    ax1.set_title(label("cumulative_recruits", lang))
    ax1.set_xlabel(label("year", lang))
    ax1.legend(frameon=False, loc="upper left")
    _style(ax1)
    diff = cum[0].merge(cum[1], on=["replicate", "time"], suffixes=("_other", "_first"))
    diff["d"] = diff["cum_other"] - diff["cum_first"]
    _fill(ax2, band(diff, "time", "d"), COLOURS[2], "")
    ax2.axhline(0, color="black", linewidth=0.8)
    ax2.set_title(textwrap.fill(label("prevented_by", lang, a=name_first, b=name_other), 60))
    ax2.set_xlabel(label("year", lang))
    _style(ax2)
    n = diff["replicate"].nunique()
    title = label("counterfactual_title", lang, a=name_first, b=name_other, n=n)
    fig.suptitle(textwrap.fill(title, 110), fontsize=12)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def contributions(table: pd.DataFrame, path: Path | str, lang: str = "en", title: str = "") -> Path:
    """Horizontal bars: recruits prevented per department (median and 90% interval)."""
    t = table.sort_values("prevented_median")
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(t) + 1.5))
    y = np.arange(len(t))
    err = np.vstack([t["prevented_median"] - t["prevented_lo"], t["prevented_hi"] - t["prevented_median"]])
    ax.barh(y, t["prevented_median"], xerr=np.clip(err, 0, None), color=COLOURS[0], alpha=0.8,
            capsize=3)
    ax.set_yticks(y, t["department"])
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(label("contribution", lang))
    if title:
        ax.set_title(textwrap.fill(title, 80), fontsize=11)
    _style(ax)
    ax.xaxis.set_major_locator(MaxNLocator())
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path

"""Sensitivity analysis of a finished sweep: Morris (μ*, σ) and Sobol (S1, ST, S2) via SALib.

Replicates are averaged per parameter point before analysis, so the indices describe the
parameters' effect on the *expected* output; the remaining Monte Carlo noise of the mean of R
replicates still adds to the variance (it lowers S1 and raises ST and σ) — use enough
replicates for noisy outputs. Grid and Latin-hypercube sweeps get Spearman rank correlations.

Writes OUT/analysis/{morris,sobol,sobol_s2,spearman}.{csv,parquet} and one plot per output,
and distribution.{csv,parquet}: each analysed output's spread over all runs (for a paired
difference, how often it is below or above zero).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import InputError
from sim.labels import LABELS, label
from sim.plots import lang_path
from sim.sweep import _atomic_parquet, _atomic_text, collect, read_manifest


def point_means(results: pd.DataFrame, n_points: int, columns: list[str],
                where: str) -> pd.DataFrame:
    """Mean of each output column over the replicates of every point (index 0..n_points-1)."""
    means = results.groupby("point")[columns].mean().reindex(range(n_points))
    missing = means.index[means.isna().all(axis=1)]
    if len(missing):
        raise InputError(where, "results", f"a successful run for every one of the {n_points} "
                         f"points ({len(missing)} have none, e.g. point {int(missing[0])}); "
                         "re-run the sweep to retry failed tasks")
    return means


def morris_table(problem: dict, design: pd.DataFrame, means: pd.DataFrame, levels: int,
                 seed: int, conf_level: float = 0.95) -> pd.DataFrame:
    """Tidy Morris table: output, parameter, mu, mu_star, mu_star_conf, sigma."""
    from SALib.analyze import morris

    x = design[problem["names"]].to_numpy()
    rows = []
    for out in means.columns:
        y = means[out].to_numpy()
        si = morris.analyze(problem, x, y, num_levels=levels, conf_level=conf_level, seed=seed)
        rows.append(pd.DataFrame({"output": out, "parameter": problem["names"],
                                  "mu": si["mu"], "mu_star": si["mu_star"],
                                  "mu_star_conf": si["mu_star_conf"], "sigma": si["sigma"]}))
    return pd.concat(rows, ignore_index=True)


def sobol_tables(problem: dict, means: pd.DataFrame, second_order: bool, seed: int,
                 conf_level: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tidy Sobol tables: (output, parameter, S1, S1_conf, ST, ST_conf) and the S2 pairs."""
    from SALib.analyze import sobol

    names, first, second = problem["names"], [], []
    for out in means.columns:
        y = means[out].to_numpy()
        if not np.all(np.isfinite(y)) or np.ptp(y) == 0:
            note = "output constant or not finite"
            first.append(pd.DataFrame({"output": out, "parameter": names, "note": note}))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            si = sobol.analyze(problem, y, calc_second_order=second_order,
                               conf_level=conf_level, seed=seed)
        first.append(pd.DataFrame({"output": out, "parameter": names, "S1": si["S1"],
                                   "S1_conf": si["S1_conf"], "ST": si["ST"],
                                   "ST_conf": si["ST_conf"], "note": ""}))
        if second_order:
            i, j = np.triu_indices(len(names), 1)
            second.append(pd.DataFrame({
                "output": out, "parameter_1": np.array(names)[i], "parameter_2": np.array(names)[j],
                "S2": si["S2"][i, j], "S2_conf": si["S2_conf"][i, j]}))
    s2 = pd.concat(second, ignore_index=True) if second else pd.DataFrame()
    return pd.concat(first, ignore_index=True), s2


def spearman_table(design: pd.DataFrame, means: pd.DataFrame) -> pd.DataFrame:
    """Tidy Spearman rank correlations between each parameter and each output."""
    from scipy.stats import spearmanr

    rows = []
    for out in means.columns:
        for name in design.columns:
            with warnings.catch_warnings():  # a constant output: rho is NaN, said in the table
                warnings.simplefilter("ignore")
                res = spearmanr(design[name], means[out], nan_policy="omit")
            rows.append({"output": out, "parameter": name, "rho": float(res.statistic),
                         "p_value": float(res.pvalue)})
    return pd.DataFrame(rows)


def distribution_table(results: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Per output column, its distribution over every run of the sweep (all points and
    replicates, i.e. over the swept ranges and whatever each run draws): mean, sd, 5/50/95 %
    quantiles and the shares of runs below, at and above zero (for a paired difference: how
    often the first scenario has less of the output than the second)."""
    rows = []
    for col in columns:
        y = pd.to_numeric(results[col], errors="coerce").dropna().to_numpy(float)
        if y.size == 0:
            continue
        q05, q50, q95 = np.quantile(y, [0.05, 0.5, 0.95])
        rows.append({"output": col, "runs": int(y.size), "mean": float(y.mean()),
                     "sd": float(y.std(ddof=1)) if y.size > 1 else float("nan"),
                     "q05": float(q05), "median": float(q50), "q95": float(q95),
                     "share_below_zero": float(np.mean(y < 0)),
                     "share_zero": float(np.mean(y == 0)),
                     "share_above_zero": float(np.mean(y > 0))})
    return pd.DataFrame(rows)


def _wrap(title: str, width: int = 60) -> str:
    """A long plot title on several lines (a title wider than the figure is cut off)."""
    import textwrap

    return "\n".join(textwrap.wrap(title, width)) or title


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def plot_morris(table: pd.DataFrame, out: str, path: Path, lang: str = "en",
                conf_level: float = 0.95, name: str | None = None) -> None:
    """μ*–σ scatter for one output, points labelled with parameter names."""
    import matplotlib.pyplot as plt

    d = table[table["output"] == out]
    level = round(conf_level * 100)
    fig, ax = plt.subplots(figsize=(7, 5.5))
    ax.errorbar(d["mu_star"], d["sigma"], xerr=d["mu_star_conf"], fmt="o", capsize=3,
                label=label("ci_mu", lang, level=level))
    for _, r in d.iterrows():
        ax.annotate(r["parameter"], (r["mu_star"], r["sigma"]), fontsize=8,
                    xytext=(4, 3), textcoords="offset points")
    top = max(float(d["mu_star"].max()), float(d["sigma"].max()), 0.0) * 1.05 or 1.0
    ax.plot([0, top], [0, top], ls=":", color="grey", lw=0.8)
    ax.set(xlabel=label("mu_star", lang), ylabel=label("sigma", lang),
           title=_wrap(label("morris_title", lang, out=name or label(out, lang))))
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="upper left")
    _save(fig, path)


def plot_bars(table: pd.DataFrame, out: str, path: Path, keys: list[str], lang: str = "en",
              conf_level: float = 0.95, title: str = "sobol_title", ylabel: str = "index",
              name: str | None = None) -> None:
    """Grouped bars (one group per parameter) with confidence-interval error bars."""
    import matplotlib.pyplot as plt

    d = table[table["output"] == out]
    level = round(conf_level * 100)
    x, width = np.arange(len(d)), 0.8 / len(keys)
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(d) + 2), 4.5))
    for k, key in enumerate(keys):
        err = d[f"{key}_conf"] if f"{key}_conf" in d else None
        ax.bar(x + (k - (len(keys) - 1) / 2) * width, d[key], width, yerr=err, capsize=3,
               label=label(key, lang))
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(x, d["parameter"], rotation=40, ha="right", fontsize=8)
    ax.set(ylabel=label(ylabel, lang),
           title=_wrap(label(title, lang, out=name or label(out, lang))))
    ax.legend(title=label("ci", lang, level=level) if len(keys) > 1 else None, fontsize=8)
    _save(fig, path)


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _write(df: pd.DataFrame, folder: Path, name: str) -> list[Path]:
    _atomic_parquet(df, folder / f"{name}.parquet")
    _atomic_text(df.to_csv(index=False), folder / f"{name}.csv")
    return [folder / f"{name}.csv", folder / f"{name}.parquet"]


def analyze(out_dir: str | Path, lang: str = "en", conf_level: float = 0.95,
            plots: bool = True) -> dict[str, pd.DataFrame]:
    """Analyse a sweep directory; write tables and plots to OUT/analysis; return the tables."""
    import matplotlib

    matplotlib.use("Agg")
    if lang not in LABELS:
        raise InputError("--lang", "lang", f"one of {sorted(LABELS)}", lang)
    out = Path(out_dir)
    man = read_manifest(out)
    results, _ = collect(out)
    design = pd.read_parquet(out / "design.parquet").set_index("point")
    exp, problem = man["experiment"], man["problem"]
    columns = man["columns"]["analysis"]
    if results.empty:
        raise InputError(str(out), "results", "at least one finished run; run the sweep first")
    means = point_means(results, man["n_points"], columns, str(out / "results.parquet"))
    folder = out / "analysis"
    folder.mkdir(exist_ok=True)
    tables: dict[str, pd.DataFrame] = {}
    if exp["method"] == "morris":
        tables["morris"] = morris_table(problem, design, means, exp["levels"], exp["seed"],
                                        conf_level)
    elif exp["method"] == "sobol":
        tables["sobol"], s2 = sobol_tables(problem, means, exp["second_order"], exp["seed"],
                                           conf_level)
        if not s2.empty:
            tables["sobol_s2"] = s2
    else:
        tables["spearman"] = spearman_table(design, means)
    tables["distribution"] = distribution_table(results, columns)
    for name, df in tables.items():
        _write(df, folder, name)
    if plots:
        _plot_all(tables, columns, folder, lang, conf_level, _stems(exp))
    return tables


def _stems(exp: dict) -> tuple[str, ...]:
    """The scenario labels of the output columns (file stems, as in the results)."""
    from sim.experiment import scenario_labels

    return scenario_labels(tuple(Path(p) for p in exp.get("scenarios", [])))


def output_label(col: str, lang: str, stems: tuple[str, ...] = ()) -> str:
    """A plot's name for an output column: `x.difference` -> 'X: first − second'."""
    base, _, part = col.rpartition(".")
    if part == "difference" and len(stems) == 2:
        return label("sweep_difference", lang, out=label(base, lang), a=stems[0], b=stems[1])
    return label(col, lang)


def _plot_all(tables: dict[str, pd.DataFrame], columns: list[str], folder: Path, lang: str,
              conf_level: float, stems: tuple[str, ...] = ()) -> None:
    for col in columns:
        name = output_label(col, lang, stems)
        if "morris" in tables:
            plot_morris(tables["morris"], col, lang_path(folder / f"morris_{_slug(col)}.png", lang), lang,
                        conf_level, name=name)
        if "sobol" in tables and "S1" in tables["sobol"]:
            d = tables["sobol"].dropna(subset=["S1"])
            if (d["output"] == col).any():
                plot_bars(d, col, lang_path(folder / f"sobol_{_slug(col)}.png", lang), ["S1", "ST"], lang,
                          conf_level, name=name)
        if "spearman" in tables:
            plot_bars(tables["spearman"], col,
                      lang_path(folder / f"spearman_{_slug(col)}.png", lang), ["rho"],
                      lang, conf_level, title="spearman_title", ylabel="rho", name=name)

"""The fit report of a calibration, in English and Swedish.

For every target and validation observation: the observed value or range and tolerance, the
posterior predictive (weighted 5/50/95% quantiles of the last generation's simulated outputs,
each the mean over the candidate's seeds) and whether the median lies within tolerance; the
same at the posterior median of the parameters when that check was run; the posterior of each
parameter against its prior; the generations (epsilon, candidates, acceptance); pair plots.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibrate import CalibrationSpec, read_manifest, weighted_quantiles

TEXT = {
    "en": {
        "title": "Calibration report: {name}",
        "method": "Method",
        "method_text": ("ABC-SMC (pyabc {pyabc}), weighted {p}-norm of (simulated − observed) / "
                        "tolerance over the targets, epsilon = {q:.0%} quantile of the previous "
                        "generation's distances, {k} seeds per candidate (their mean is the "
                        "candidate's summary), population {n}. Each run: {burn} burn-in year(s) "
                        "discarded, then {years} measured year(s) of `{scenario}`."),
        "status": "Status",
        "complete": "complete ({reason})",
        "incomplete": "NOT complete: run the same command again to continue",
        "budget": "{c} candidates = {r} model runs in {g} generations; wall time {w:.0f} s "
                  "over {s} session(s).",
        "ess": "Effective sample size of the {n} particles: {raw:.1f} with the raw importance "
               "weights, {tr:.1f} after truncation (Ionides 2008; each weight capped at "
               "mean × √N), which `weight` holds and comparisons use. Below about 20 the "
               "posterior is resolved only roughly: its intervals, and the parameters' share of "
               "a comparison's interval, are then likely too narrow; a larger population "
               "(`method.population_size`) is the remedy.",
        "generations": "Generations",
        "cols_gen": ["t", "epsilon", "candidates", "acceptance rate"],
        "targets": "Targets (used for calibration)",
        "validation": "Validation (kept out of the calibration)",
        "none": "none",
        "cols_obs": ["name", "output", "observed", "tolerance", "years", "ages",
                     "posterior predictive 5%", "median", "95%", "median within tolerance",
                     "at posterior median", "within", "source"],
        "posterior": "Posterior of the parameters",
        "cols_par": ["parameter", "prior", "posterior 5%", "median", "95%"],
        "pending": "Pending observations (no model output yet)",
        "pairs": "Pair plot of the posterior",
        "fit": "Targets and validation against the posterior predictive",
        "yes": "yes", "no": "NO", "na": "–",
        "fit_axis": "(simulated − observed) / tolerance; grey: within tolerance",
        "kind_target": "target", "kind_validation": "validation",
        "honesty": ("Validation observations are reported whether they fit or not. The posterior "
                    "predictive is that of the mean over {k} seeds; single runs vary more."),
    },
    "sv": {
        "title": "Kalibreringsrapport: {name}",
        "method": "Metod",
        "method_text": ("ABC-SMC (pyabc {pyabc}), viktad {p}-norm av (simulerat − observerat) / "
                        "tolerans över målen, epsilon = {q:.0%}-kvantilen av föregående "
                        "generations avstånd, {k} frön per kandidat (medelvärdet är kandidatens "
                        "sammanfattning), population {n}. Varje körning: {burn} inkörningsår "
                        "kastas, sedan {years} mätår av `{scenario}`."),
        "status": "Status",
        "complete": "klar ({reason})",
        "incomplete": "INTE klar: kör samma kommando igen för att fortsätta",
        "budget": "{c} kandidater = {r} modellkörningar i {g} generationer; väggtid {w:.0f} s "
                  "under {s} körning(ar).",
        "ess": "Effektiv urvalsstorlek för de {n} partiklarna: {raw:.1f} med de råa "
               "viktningarna, {tr:.1f} efter trunkering (Ionides 2008; varje vikt begränsad "
               "till medelvärdet × √N), vilket kolumnen `weight` innehåller och jämförelserna "
               "använder. Under ungefär 20 är posteriorn bara grovt bestämd: dess intervall, och "
               "parametrarnas andel av en jämförelses intervall, är då troligen för smala; en "
               "större population (`method.population_size`) är botemedlet.",
        "generations": "Generationer",
        "cols_gen": ["t", "epsilon", "kandidater", "andel accepterade"],
        "targets": "Kalibreringsmål",
        "validation": "Validering (hölls utanför kalibreringen)",
        "none": "inga",
        "cols_obs": ["namn", "utfall", "observerat", "tolerans", "år", "åldrar",
                     "posterior prediktiv 5%", "median", "95%", "median inom tolerans",
                     "vid posteriormedian", "inom", "källa"],
        "posterior": "Parametrarnas posteriorfördelning",
        "cols_par": ["parameter", "prior", "posterior 5%", "median", "95%"],
        "pending": "Väntande observationer (modellen saknar ännu utfallet)",
        "pairs": "Parvisa diagram av posteriorn",
        "fit": "Mål och validering mot den posteriora prediktiva fördelningen",
        "yes": "ja", "no": "NEJ", "na": "–",
        "fit_axis": "(simulerat − observerat) / tolerans; grått: inom tolerans",
        "kind_target": "mål", "kind_validation": "validering",
        "honesty": ("Valideringsobservationerna redovisas oavsett om de passar. Den prediktiva "
                    "fördelningen gäller medelvärdet över {k} frön; enskilda körningar varierar "
                    "mer."),
    },
}


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–" if x is None or np.isnan(x) else ("∞" if x > 0 else "−∞")
    ax = abs(x)
    return f"{x:.3g}" if ax < 1000 else f"{x:,.0f}"


def _md_table(cols: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(c).replace("|", "/") for c in r) + " |" for r in rows]
    return "\n".join(lines)


def observation_table(spec: CalibrationSpec, ens: pd.DataFrame,
                      median_check: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per target and validation observation with the posterior predictive."""
    rows = []
    w = ens["weight"].to_numpy()
    for kind, obs in (("target", spec.targets), ("validation", spec.validation)):
        for o in obs:
            lo, med, hi = weighted_quantiles(ens[f"sim.{o.output}"].to_numpy(), w)
            at_med = np.nan
            if median_check is not None and len(median_check):
                hit = median_check[(median_check["name"] == o.name)]
                if len(hit):
                    at_med = float(hit["simulated_at_median"].iloc[0])
            rows.append({"kind": kind, "name": o.name, "output": o.output,
                         "observed": o.observed, "range_lo": o.range[0] if o.range else np.nan,
                         "range_hi": o.range[1] if o.range else np.nan, "tolerance": o.scale,
                         "years": o.years, "ages": o.ages, "pp_lo": lo, "pp_median": med,
                         "pp_hi": hi, "median_inside": o.inside(med),
                         "at_posterior_median": at_med,
                         "at_median_inside": (o.inside(at_med) if not np.isnan(at_med)
                                              else None), "source": o.source})
    return pd.DataFrame(rows)


def parameter_table(spec: CalibrationSpec, ens: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for name, d in spec.priors().items():
        lo, med, hi = weighted_quantiles(ens[name].to_numpy(), ens["weight"].to_numpy())
        prior = f"{d['distribution']} [{_fmt(d['low'])}, {_fmt(d['high'])}]"
        if d["distribution"] == "normal":
            prior += f" mean {_fmt(d['mean'])} sd {_fmt(d['sd'])}"
        if d["distribution"] == "triangular":
            prior += f" mode {_fmt(d['mode'])}"
        rows.append({"parameter": name, "prior": prior, "lo": lo, "median": med, "hi": hi,
                     "prior_low": d["low"], "prior_high": d["high"]})
    return pd.DataFrame(rows)


def pair_plot(spec: CalibrationSpec, ens: pd.DataFrame, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(spec.parameters)
    k = len(names)
    priors = spec.priors()
    fig, axes = plt.subplots(k, k, figsize=(2.2 * k + 1, 2.2 * k + 1), squeeze=False)
    w = ens["weight"].to_numpy()
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            ax = axes[i, j]
            if i == j:
                ax.hist(ens[a], bins=20, weights=w, color="#4477aa",
                        range=(priors[a]["low"], priors[a]["high"]))
                ax.set_xlim(priors[a]["low"], priors[a]["high"])
            elif i > j:
                ax.scatter(ens[b], ens[a], s=6 + 300 * w, alpha=0.5, color="#4477aa")
                ax.set_xlim(priors[b]["low"], priors[b]["high"])
                ax.set_ylim(priors[a]["low"], priors[a]["high"])
            else:
                ax.axis("off")
            if i == k - 1:
                ax.set_xlabel(b, fontsize=7)
            if j == 0 and i != j:
                ax.set_ylabel(a, fontsize=7)
            ax.tick_params(labelsize=6)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fit_plot(obs: pd.DataFrame, path: Path, title: str, lang: str = "en") -> None:
    """Each observation scaled to its tolerance: observed ± tolerance vs the predictive."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.5 * len(obs) + 1.5))
    for y, (_, r) in enumerate(obs.iterrows()):
        z = lambda v, r=r: (v - r["observed"]) / r["tolerance"]  # noqa: E731
        colour = "#4477aa" if r["kind"] == "target" else "#ee6677"
        ax.plot([z(r["pp_lo"]), z(r["pp_hi"])], [y, y], color=colour, lw=3)
        ax.plot([z(r["pp_median"])], [y], "o", color="black")
    ax.axvspan(-1, 1, color="0.9")
    kinds = {"target": TEXT[lang]["kind_target"], "validation": TEXT[lang]["kind_validation"]}
    ax.set_yticks(range(len(obs)), [f"{r['name']} ({kinds[r['kind']]})"
                                    for _, r in obs.iterrows()], fontsize=7)
    ax.set_xlabel(TEXT[lang]["fit_axis"])
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(spec: CalibrationSpec, out: str | Path,
                 median_check: pd.DataFrame | None = None) -> dict[str, Path]:
    """Write report_en.md, report_sv.md, fit_table.csv, posterior_table.csv, pairs.png and
    fit_en.png, fit_sv.png into `out` (a calibration directory); return the paths."""
    from sim.results import write_table

    out = Path(out)
    man = read_manifest(out)
    ens = pd.read_parquet(out / "ensemble.parquet")
    obs = observation_table(spec, ens, median_check)
    par = parameter_table(spec, ens)
    write_table(obs, out / "fit_table.csv")
    write_table(par, out / "posterior_table.csv")
    paths = {"fit_table": out / "fit_table.csv", "posterior_table": out / "posterior_table.csv"}
    pair_plot(spec, ens, out / "pairs.png", f"{spec.name}: posterior")
    for lang in TEXT:
        fit_plot(obs, out / f"fit_{lang}.png", spec.name, lang)
    paths |= {"pairs": out / "pairs.png", "fit": out / "fit_en.png", "fit_sv": out / "fit_sv.png"}
    gens = pd.DataFrame(man.get("generations", []))
    for lang, tx in TEXT.items():
        lines = [f"# {tx['title'].format(name=spec.name)}", ""]
        if spec.description:
            lines += [spec.description.strip(), ""]
        m = spec.method
        lines += [f"## {tx['method']}", "", tx["method_text"].format(
            pyabc=man.get("versions", {}).get("pyabc", "?"), p=f"{m.distance_p:g}",
            q=m.epsilon_quantile, k=spec.seeds_per_candidate, n=m.population_size,
            burn=spec.simulation.burn_in_years, years=spec.simulation.years,
            scenario=spec.simulation.scenario), ""]
        status = tx["complete"].format(reason=man.get("stop_reason")) if man.get("complete") \
            else tx["incomplete"]
        wall = sum(s.get("wall_s", 0) for s in man.get("sessions", []))
        lines += [f"## {tx['status']}", "", status, "", tx["budget"].format(
            c=man.get("total_candidates", 0), r=man.get("total_model_runs", 0),
            g=int((gens["t"] >= 0).sum()) if len(gens) else 0,
            w=wall, s=len(man.get("sessions", []))), ""]
        ess = man.get("effective_sample_size")
        if ess:
            lines += [tx["ess"].format(n=ess["particles"], raw=ess["raw_weights"],
                                       tr=ess["truncated_weights"]), ""]
        if len(gens):
            lines += [f"### {tx['generations']}", "", _md_table(
                tx["cols_gen"],
                [[int(r["t"]), _fmt(r["epsilon"]), int(r["simulations"]),
                  _fmt(r["acceptance_rate"])] for _, r in gens.iterrows()]), ""]
        for kind, head in (("target", tx["targets"]), ("validation", tx["validation"])):
            sub = obs[obs["kind"] == kind]
            lines += [f"## {head}", ""]
            if sub.empty:
                lines += [tx["none"], ""]
                continue
            rows = []
            for _, r in sub.iterrows():
                obs_txt = (f"{_fmt(r['observed'])} [{_fmt(r['range_lo'])}, {_fmt(r['range_hi'])}]"
                           if not np.isnan(r["range_lo"]) else _fmt(r["observed"]))
                at = r["at_median_inside"]
                rows.append([r["name"], f"`{r['output']}`", obs_txt, _fmt(r["tolerance"]),
                             "–" if r["years"] is None else f"{r['years'][0]}–{r['years'][1]}",
                             "–" if r["ages"] is None else f"{_fmt(r['ages'][0])}–"
                             f"{_fmt(r['ages'][1])}",
                             _fmt(r["pp_lo"]), _fmt(r["pp_median"]), _fmt(r["pp_hi"]),
                             tx["yes"] if r["median_inside"] else tx["no"],
                             _fmt(r["at_posterior_median"]),
                             tx["na"] if at is None else (tx["yes"] if at else tx["no"]),
                             r["source"]])
            lines += [_md_table(tx["cols_obs"], rows), ""]
        lines += [tx["honesty"].format(k=spec.seeds_per_candidate), "",
                  f"![{tx['fit']}](fit_{lang}.png)", "", f"## {tx['posterior']}", "",
                  _md_table(tx["cols_par"], [[f"`{r['parameter']}`", r["prior"], _fmt(r["lo"]),
                                              _fmt(r["median"]), _fmt(r["hi"])]
                                             for _, r in par.iterrows()]), "",
                  f"![{tx['pairs']}](pairs.png)", ""]
        if spec.pending:
            lines += [f"## {tx['pending']}", ""]
            lines += [f"- {p.name} (`{p.output}`, {p.use}): {p.source}" for p in spec.pending]
            lines += [""]
        path = out / f"report_{lang}.md"
        path.write_text("\n".join(lines), encoding="utf-8")
        paths[f"report_{lang}"] = path
    return paths

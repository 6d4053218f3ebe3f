"""A planner's report from a comparison's results: one self-contained HTML file and a PDF.

`uvts report RESULTS_DIR [--lang sv|en]` reads what `uvts compare` wrote (summary.csv,
comparisons.csv, summary_by_district.csv, departments.csv, flows.parquet, manifest.json), draws
the figures in the language asked for and writes RESULTS_DIR/report.html and report.pdf
(report_sv.html and report_sv.pdf in Swedish, beside the English ones). The HTML embeds its
figures and styles, so it can be mailed on its own; the PDF is the same document, paginated,
readable printed in black and white (figures use line styles and hatching, not colour alone).

Contents: the question, the scenarios, the headline with its interval and what the interval
covers, the figures, per-district and per-department tables, costs, the assumptions with their
sources, the caveats, and the manifest.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path

import pandas as pd

from sim import plots
from sim.errors import InputError
from sim.labels import PCT, RECRUIT_DEFINITION, department, label, number
from sim.params import load_parameters

T = {
    "en": {
        "title": "Recruitment of youths into criminal networks in Umeå: {a} compared with {b}",
        "subtitle": "uvts-sim report, {date}",
        "question_h": "The question",
        "question": "How many children in Umeå are drawn into the periphery of criminal networks "
                    "from {start} to {end} with <b>{a}</b>, compared with <b>{b}</b>, and what "
                    "does the difference cost?",
        "recruit_def": "In this report, {rec}.",
        "scenarios_h": "The scenarios",
        "sc_role": "Role", "sc_name": "Scenario", "sc_desc": "What it contains",
        "sc_measures": "Measures", "sc_cost": "Cost, MSEK a year (mean)",
        "evaluated": "evaluated", "counterfactual": "counterfactual",
        "headline_h": "The headline",
        "headline": "Over {start}–{end}, <b>{a}</b> keeps <b>{med}</b> children out of criminal "
                    "networks' periphery compared with <b>{b}</b> (90{pct} interval {lo} to "
                    "{hi}) and prevents {members} new network members, at an extra cost of "
                    "{cost} MSEK.",
        "per_recruit": "That is about <b>{sek} SEK per child kept out</b>.",
        "per_recruit_none": "No children were kept out (the median of the paired differences is "
                            "{med}), so a cost per child kept out is not defined.",
        "per_recruit_zero": "The 90{pct} interval includes zero: the runs cannot tell the effect "
                            "from chance.",
        "interval_covers": "What the interval covers: the 5th to 95th percentile of the "
                           "differences between {n} pairs of runs that share their random draws "
                           "(same seeds). It shows how much chance alone moves the result with "
                           "the parameters as set; it does <i>not</i> cover uncertainty in the "
                           "parameters or effect sizes (a sensitivity analysis does that).",
        "interval_covers_drawn": "What the interval covers: the 5th to 95th percentile of the "
                                 "differences between {n} pairs of runs. Each pair draws a "
                                 "parameter set from the calibrated posterior and every "
                                 "measure's effect from its documented range, and both runs of "
                                 "a pair share those draws and their seed: the interval covers "
                                 "chance, what the calibration leaves open about the "
                                 "parameters, and the uncertainty in the effect sizes.",
        "figures_h": "Figures",
        "fig_cf": "Figure 1. Cumulative recruits in both scenarios and the paired difference.",
        "fig_map": "Figure 2. Children kept out of the periphery per district.",
        "fig_dep": "Figure 3. Each department's contribution (leave one department out).",
        "districts_h": "Per district", "departments_h": "Per department",
        "no_departments": "The comparison was run without department contributions "
                          "(add --departments to uvts compare for them).",
        "costs_h": "Outcomes and costs per scenario",
        "assumptions_h": "Assumptions and their sources",
        "assumptions_intro": "Model parameters as used (value, plausible range, unit, source). "
                             "Those marked <i>assumption</i> have no direct evidence; the "
                             "sensitivity analyses sweep them over their ranges.",
        "p_name": "Parameter", "p_value": "Value", "p_range": "Range", "p_unit": "Unit",
        "p_source": "Source",
        "caveats_h": "Caveats",
        "caveats": [
            "The city is synthetic: its youths, households, schools and networks are drawn to "
            "match known margins of Umeå (age cohorts, district shares, economic vulnerability, "
            "school eligibility), not real persons.",
            "Many effect sizes are assumptions with ranges that include zero; a result that "
            "depends on them is only as strong as they are.",
            "{interval_caveat}",
            "The model is a tool to reason about mechanisms and orders of magnitude, not a "
            "forecast of how many youths will be recruited.",
        ],
        "caveat_fixed": "The interval covers chance between runs, not uncertainty in the "
                        "parameters; see the sensitivity analyses for that.",
        "caveat_drawn": "The interval covers chance, the calibrated parameters and the effect "
                        "sizes, but only as well as the calibration resolves the posterior (see "
                        "calibration/README.md) and only with enough pairs for its ends.",
        "manifest_h": "Manifest: how to reproduce this",
        "m_command": "Command", "m_seed": "Base seed", "m_reps": "Paired replicates",
        "m_commit": "Code version (git commit)", "m_version": "Package version",
        "m_created": "Results created (UTC)", "m_sha": "Scenario file and SHA-256",
        "m_versions": "Library versions",
        "col_scenario": "Scenario", "col_district": "District",
        "col_recruits": "Children recruited (median)",
        "col_prevented": "Children kept out (median)", "col_new_members": "New network members",
        "col_reports": "Reports of concern",
        "col_interval": "90{pct} interval", "col_department": "Department",
        "col_cost_year": "Cost, MSEK a year", "col_youth_years": "Youth-years at stage 2-3",
        "col_members": "Active network members (mean)",
        "col_cost": "Cost, MSEK",
    },
    "sv": {
        "title": "Rekrytering av unga till kriminella nätverk i Umeå: {a} jämfört med {b}",
        "subtitle": "Rapport från uvts-sim, {date}",
        "question_h": "Frågan",
        "question": "Hur många barn i Umeå dras in i periferin av kriminella nätverk från {start} "
                    "till {end} med <b>{a}</b> jämfört med <b>{b}</b>, och vad kostar "
                    "skillnaden?",
        "recruit_def": "I den här rapporten avses med {rec}.",
        "scenarios_h": "Scenarierna",
        "sc_role": "Roll", "sc_name": "Scenario", "sc_desc": "Innehåll",
        "sc_measures": "Insatser", "sc_cost": "Kostnad, mnkr per år (medel)",
        "evaluated": "utvärderas", "counterfactual": "jämförelse",
        "headline_h": "Huvudresultat",
        "headline": "Under {start}–{end} håller <b>{a}</b> <b>{med}</b> barn utanför kriminella "
                    "nätverks periferi jämfört med <b>{b}</b> (90{pct}-intervall {lo} till "
                    "{hi}) och förhindrar {members} nya nätverksmedlemmar, till en merkostnad "
                    "av {cost} mnkr.",
        "per_recruit": "Det är omkring <b>{sek} kronor per barn som hålls utanför</b>.",
        "per_recruit_none": "Inga barn hölls utanför (medianen av de parade skillnaderna är "
                            "{med}), så en kostnad per barn som hålls utanför är inte definierad.",
        "per_recruit_zero": "90{pct}-intervallet omfattar noll: körningarna kan inte skilja "
                            "effekten från slumpen.",
        "interval_covers": "Vad intervallet täcker: 5:e till 95:e percentilen av skillnaderna "
                           "mellan {n} par av körningar som delar sina slumptal (samma frön). "
                           "Det visar hur mycket slumpen ensam flyttar resultatet med "
                           "parametrarna som de är satta; det täcker <i>inte</i> osäkerheten i "
                           "parametrar eller effektstorlekar (det gör en känslighetsanalys).",
        "figures_h": "Figurer",
        "fig_cf": "Figur 1. Ackumulerat antal rekryterade i båda scenarierna och den parade "
                  "skillnaden.",
        "fig_map": "Figur 2. Barn som hålls utanför periferin, per stadsdel.",
        "fig_dep": "Figur 3. Varje förvaltnings bidrag (en förvaltning i taget utelämnad).",
        "districts_h": "Per stadsdel", "departments_h": "Per förvaltning",
        "no_departments": "Jämförelsen kördes utan förvaltningarnas bidrag (lägg till --departments i uvts "
                          "compare för dem).",
        "costs_h": "Utfall och kostnader per scenario",
        "assumptions_h": "Antaganden och deras källor",
        "assumptions_intro": "Modellparametrar som de använts (värde, rimligt intervall, enhet, "
                             "källa). De som är märkta <i>assumption</i> (antagande) saknar "
                             "direkt evidens; känslighetsanalyserna varierar dem över sina "
                             "intervall.",
        "p_name": "Parameter", "p_value": "Värde", "p_range": "Intervall", "p_unit": "Enhet",
        "p_source": "Källa",
        "caveats_h": "Förbehåll",
        "caveats": [
            "Staden är syntetisk: dess unga, hushåll, skolor och nätverk dras så att de "
            "stämmer med kända fördelningar för Umeå (årskullar, stadsdelarnas andelar, "
            "ekonomisk utsatthet, gymnasiebehörighet), inte verkliga personer.",
            "Många effektstorlekar är antaganden med intervall som omfattar noll; ett resultat "
            "som beror på dem är inte starkare än de.",
            "{interval_caveat}",
            "Modellen är ett verktyg för att resonera om mekanismer och storleksordningar, inte "
            "en prognos över hur många unga som kommer att rekryteras.",
        ],
        "caveat_fixed": "Intervallet täcker slumpen mellan körningar, inte osäkerheten i "
                        "parametrarna; se känslighetsanalyserna för den.",
        "caveat_drawn": "Intervallet täcker slumpen, de kalibrerade parametrarna och "
                        "effektstorlekarna, men bara så väl som kalibreringen bestämmer "
                        "posteriorn (se calibration/README.md) och bara med tillräckligt många "
                        "par för dess ändar.",
        "interval_covers_drawn": "Vad intervallet täcker: 5:e till 95:e percentilen av "
                                 "skillnaderna mellan {n} par av körningar. Varje par drar en "
                                 "parameteruppsättning ur den kalibrerade posteriorn och varje "
                                 "insats effekt ur dess dokumenterade intervall, och båda "
                                 "körningarna i ett par delar dragningarna och fröet: intervallet "
                                 "täcker slumpen, det kalibreringen lämnar öppet om parametrarna "
                                 "och osäkerheten i effektstorlekarna.",
        "manifest_h": "Manifest: så återskapas resultatet",
        "m_command": "Kommando", "m_seed": "Basfrö", "m_reps": "Parade körningar",
        "m_commit": "Kodversion (git-commit)", "m_version": "Paketversion",
        "m_created": "Resultaten skapade (UTC)", "m_sha": "Scenariofil och SHA-256",
        "m_versions": "Biblioteksversioner",
        "col_scenario": "Scenario", "col_district": "Stadsdel",
        "col_recruits": "Rekryterade barn (median)",
        "col_prevented": "Barn som hålls utanför (median)",
        "col_new_members": "Nya nätverksmedlemmar", "col_reports": "Orosanmälningar",
        "col_interval": "90{pct}-intervall", "col_department": "Förvaltning",
        "col_cost_year": "Kostnad, mnkr per år", "col_youth_years": "Ungdomsår i steg 2–3",
        "col_members": "Aktiva nätverksmedlemmar (medel)",
        "col_cost": "Kostnad, mnkr",
    },
}

CSS = """
@page { size: A4; margin: 18mm 16mm 18mm 16mm;
        @bottom-right { content: counter(page) " / " counter(pages); font-size: 8pt; } }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10pt; color: #000;
       max-width: 190mm; margin: 0 auto; line-height: 1.35; }
h1 { font-size: 16pt; margin: 0 0 2mm 0; } h2 { font-size: 12.5pt; margin: 6mm 0 2mm 0;
       border-bottom: 1px solid #000; page-break-after: avoid; }
.sub { color: #333; margin-bottom: 4mm; }
.headline { border: 2px solid #000; padding: 3mm 4mm; margin: 3mm 0; font-size: 11pt; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0 4mm 0; font-size: 8.5pt;
        page-break-inside: auto; }
th, td { border: 1px solid #555; padding: 1mm 1.5mm; text-align: left; vertical-align: top; }
th { background: #e6e6e6; } td.n { text-align: right; white-space: nowrap; }
tr { page-break-inside: avoid; }
figure { margin: 3mm 0; page-break-inside: avoid; } figure img { width: 100%; }
figure.map img { width: 70%; } figcaption { font-size: 8.5pt; color: #222; }
.small { font-size: 8pt; } code { font-size: 8pt; } code.long { word-break: break-all; }
section.page { page-break-before: always; }
"""


def _img(fig_or_path) -> str:
    """A data URI for a matplotlib figure or a PNG file."""
    if isinstance(fig_or_path, (str, Path)):
        data = Path(fig_or_path).read_bytes()
    else:
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        fig_or_path.savefig(buf, format="png", dpi=150)
        plt.close(fig_or_path)
        data = buf.getvalue()
    return "data:image/png;base64," + base64.b64encode(data).decode()


def _table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    th = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td class='n'>{c}</td>" if k in numeric else f"<td>{c}</td>"
                                    for k, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _read(results_dir: Path) -> dict:
    need = ("manifest.json", "summary.csv", "comparisons.csv", "summary_by_district.csv",
            "flows.parquet")
    for name in need:
        if not (results_dir / name).is_file():
            raise InputError(str(results_dir), name, "the output of `uvts compare` (missing "
                             f"{name})")
    man = json.loads((results_dir / "manifest.json").read_text(encoding="utf-8"))
    if "comparison" not in man:
        raise InputError(str(results_dir / "manifest.json"), "comparison",
                         "a manifest written by `uvts compare`")
    deps = results_dir / "departments.csv"
    return {
        "manifest": man,
        "summary": pd.read_csv(results_dir / "summary.csv"),
        "comparisons": pd.read_csv(results_dir / "comparisons.csv"),
        "districts": pd.read_csv(results_dir / "summary_by_district.csv"),
        "departments": pd.read_csv(deps) if deps.is_file() else pd.DataFrame(),
        "flows": pd.read_parquet(results_dir / "flows.parquet"),
    }


def _col(df: pd.DataFrame, prefix: str, suffix: str) -> str:
    return next(c for c in df.columns if c.startswith(prefix) and c.endswith(suffix))


def build_html(results_dir: str | Path, lang: str = "en") -> str:
    """The report as one self-contained HTML string."""
    from sim.compare import weekly_recruits

    d = _read(Path(results_dir))
    t = T[lang]
    man, comp = d["manifest"], d["manifest"]["comparison"]
    names = comp["labels"][lang]
    ev, cf = comp["evaluated"], comp["counterfactuals"][0]
    a, b = names.get(ev, ev), names.get(cf, cf)
    start, years = comp["start_year"], comp["years"]
    end = start + years - 1
    plan = tuple(comp["plan_period"]) if comp.get("plan_period") else None
    pct = PCT[lang]
    n = comp["replicates"]
    e = html.escape

    def num(v, digits=0):
        return number(float(v), lang, digits)

    head = d["comparisons"].iloc[0]
    med = head[_col(d["comparisons"], "prevented_periphery_entries_u18", "_median")]
    lo = head[_col(d["comparisons"], "prevented_periphery_entries_u18", "_p5")]
    hi = head[_col(d["comparisons"], "prevented_periphery_entries_u18", "_p95")]
    cost = head[_col(d["comparisons"], "extra_cost_msek", "_median")]
    members = head[_col(d["comparisons"], "prevented_new_members", "_median")]
    parts = [t["headline"].format(start=start, end=end, a=e(a), b=e(b), med=num(med, 1),
                                  lo=num(lo, 1), hi=num(hi, 1), cost=num(cost, 1), pct=pct,
                                  members=num(members, 1))]
    if pd.isna(head["sek_per_child_kept_out"]):
        parts.append(t["per_recruit_none"].format(med=num(med, 1)))
    else:
        parts.append(t["per_recruit"].format(sek=num(head["sek_per_child_kept_out"])))
        if lo <= 0:
            parts.append(t["per_recruit_zero"].format(pct=pct))
    headline = " ".join(parts)

    # figures, drawn in the report's language from the tables
    weekly = weekly_recruits(d["flows"], start)
    fig_cf = plots.counterfactual_figure(weekly[weekly["scenario"] == ev],
                                         weekly[weekly["scenario"] == cf], a, b, lang, plan)
    dist = d["districts"]
    pcol = _col(dist, "prevented_periphery_entries_u18", "_median")
    rows_cf = dist[dist["scenario"] == cf]
    fig_map = plots.district_map(dict(zip(rows_cf["district"], rows_cf[pcol], strict=True)), lang,
                                 title=label("map_title", lang))
    figures = [f"<figure><img alt='{e(t['fig_cf'])}' src='{_img(fig_cf)}'>"
               f"<figcaption>{t['fig_cf']}</figcaption></figure>",
               f"<figure class='map'><img alt='{e(t['fig_map'])}' src='{_img(fig_map)}'>"
               f"<figcaption>{t['fig_map']}</figcaption></figure>"]
    deps = d["departments"]
    if not deps.empty:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            p = plots.contributions(deps, Path(tmp) / "departments.png", lang,
                                    title=label("contributions_title", lang, a=a, n=n))
            figures.append(f"<figure><img alt='{e(t['fig_dep'])}' src='{_img(p)}'>"
                           f"<figcaption>{t['fig_dep']}</figcaption></figure>")

    # scenarios
    summ = d["summary"]
    ccol = _col(summ, "cost_msek", "_median")
    sc_rows = []
    for s in man["scenarios"]:
        row = summ[summ["scenario"] == s["name"]]
        role = t["evaluated"] if s["name"] == ev else t["counterfactual"]
        per_year = float(row[ccol].iloc[0]) / years if len(row) else float("nan")
        desc = s["resolved"].get("description") or ""
        sc_rows.append([role, e(names.get(s["name"], s["name"])), e(desc),
                        str(len(s["interventions"])), num(per_year, 1)])
    scen_table = _table([t["sc_role"], t["sc_name"], t["sc_desc"], t["sc_measures"],
                         t["sc_cost"]], sc_rows, {3, 4})

    # outcomes and costs
    out_rows = []
    for _, r in summ.iterrows():
        out_rows.append([e(names.get(r["scenario"], r["scenario"])),
                         num(r[_col(summ, "periphery_entries_u18", "_median")], 1),
                         f"{num(r[_col(summ, 'periphery_entries_u18', '_p5')], 1)} – "
                         f"{num(r[_col(summ, 'periphery_entries_u18', '_p95')], 1)}",
                         num(r[_col(summ, "new_members", "_median")], 1),
                         num(r[_col(summ, "youth_years_stage2plus", "_median")]),
                         num(r[_col(summ, "active_members_mean", "_median")]),
                         num(r[_col(summ, "reports_of_concern", "_median")]),
                         num(r[ccol], 1)])
    cost_table = _table([t["col_scenario"], t["col_recruits"], t["col_interval"].format(pct=pct),
                         t["col_new_members"], t["col_youth_years"], t["col_members"],
                         t["col_reports"], t["col_cost"]], out_rows, {1, 2, 3, 4, 5, 6, 7})

    # per district
    rcol = _col(dist, "periphery_entries_u18", "_median")
    dev = dist[dist["scenario"] == ev].set_index("district")
    d_rows = []
    for _, r in rows_cf.iterrows():
        d_rows.append([e(r["district"]), num(dev.loc[r["district"], rcol], 1), num(r[rcol], 1),
                       num(r[pcol], 1),
                       f"{num(r[_col(dist, 'prevented_periphery_entries_u18', '_p5')], 1)} – "
                       f"{num(r[_col(dist, 'prevented_periphery_entries_u18', '_p95')], 1)}"])
    dist_table = _table([t["col_district"], f"{t['col_recruits']}: {e(a)}",
                         f"{t['col_recruits']}: {e(b)}", t["col_prevented"],
                         t["col_interval"].format(pct=pct)], d_rows, {1, 2, 3, 4})

    # per department
    if deps.empty:
        dep_html = f"<p>{t['no_departments']}</p>"
    else:
        dep_rows = [[e(department(r["department"], lang)), num(r["prevented_median"], 1),
                     f"{num(r['prevented_lo'], 1)} – {num(r['prevented_hi'], 1)}",
                     num(r["cost_sek_per_year"] / 1e6, 1)]
                    for _, r in deps.sort_values("prevented_median", ascending=False).iterrows()]
        dep_html = _table([t["col_department"], t["col_prevented"],
                           t["col_interval"].format(pct=pct), t["col_cost_year"]], dep_rows,
                          {1, 2, 3})

    # assumptions
    specs = load_parameters()
    p_rows = []
    for name, value in man["parameters"].items():
        s = specs.get(name)
        if s is None:
            continue
        rng = f"{num(s.range[0], 3)} – {num(s.range[1], 3)}" if s.range else ""
        p_rows.append([f"<code>{e(name)}</code>", num(value, 3), rng, e(s.unit), e(s.source)])
    params_table = _table([t["p_name"], t["p_value"], t["p_range"], t["p_unit"], t["p_source"]],
                          p_rows, {1, 2})

    # manifest
    m_rows = [[t["m_command"], f"<code class='long'>{e(man.get('command', ''))}</code>"],
              [t["m_seed"], str(man.get("seed"))], [t["m_reps"], str(n)],
              [t["m_commit"], f"<code>{e(str(man.get('git_commit')))}</code>"],
              [t["m_version"], e(str(man.get("package_version")))],
              [t["m_created"], e(str(man.get("created_utc")))],
              [t["m_versions"], e(", ".join(f"{k} {v}" for k, v in man.get("versions", {}).items()))]]
    m_rows += [[t["m_sha"], f"<code class='long'>{e(str(s['file']))}</code><br>"
                f"<code class='long'>{e(s['sha256'])}</code>"]
               for s in man["scenarios"]]
    man_table = _table(["", ""], m_rows)

    date = str(man.get("created_utc", ""))[:10]
    drawn = d["manifest"].get("uncertainty", "fixed") != "fixed"
    interval_caveat = t["caveat_drawn" if drawn else "caveat_fixed"]
    caveats = "".join(f"<li>{e(c.replace('{interval_caveat}', interval_caveat))}</li>"
                      for c in t["caveats"])
    rec = RECRUIT_DEFINITION[lang]
    title = t["title"].format(a=e(a), b=e(b))
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<style>{CSS}</style></head><body>
<h1>{title}</h1><div class="sub">{t['subtitle'].format(date=date)}</div>
<h2>{t['question_h']}</h2><p>{t['question'].format(start=start, end=end, a=e(a), b=e(b))}</p>
<p class="small">{t['recruit_def'].format(rec=e(rec))}</p>
<h2>{t['headline_h']}</h2><div class="headline" id="headline">{headline}</div>
<p class="small">{t['interval_covers_drawn' if drawn else 'interval_covers'].format(n=n)}</p>
<h2>{t['scenarios_h']}</h2>{scen_table}
<section class="page"><h2>{t['figures_h']}</h2>{''.join(figures)}</section>
<section class="page"><h2>{t['costs_h']}</h2>{cost_table}
<h2>{t['districts_h']}</h2>{dist_table}
<h2>{t['departments_h']}</h2>{dep_html}</section>
<section class="page"><h2>{t['assumptions_h']}</h2><p>{t['assumptions_intro']}</p>{params_table}
<h2>{t['caveats_h']}</h2><ul>{caveats}</ul>
<h2>{t['manifest_h']}</h2>{man_table}</section>
</body></html>
"""


def write_report(results_dir: str | Path, lang: str = "en", pdf: bool = True
                 ) -> dict[str, Path]:
    """Write report[_sv].html and report[_sv].pdf into `results_dir`; return their paths."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise InputError(str(results_dir), "(folder)", "a results folder written by `uvts compare`")
    text = build_html(results_dir, lang)
    suffix = "" if lang == "en" else f"_{lang}"
    out = {"html": results_dir / f"report{suffix}.html"}
    _atomic_write(out["html"], text.encode("utf-8"))
    if pdf:
        out["pdf"] = results_dir / f"report{suffix}.pdf"
        _atomic_write(out["pdf"], html_to_pdf(text, results_dir))
    return out


def html_to_pdf(text: str, base: Path) -> bytes:
    """Render the HTML to PDF with WeasyPrint (needs the Pango library of the system)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: Pango missing
        raise InputError("uvts report", "PDF", "WeasyPrint with the Pango library installed "
                         "(Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0); the HTML "
                         "report was written", str(exc).splitlines()[0]) from None
    return HTML(string=text, base_url=str(base)).write_pdf()


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)

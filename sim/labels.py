"""Display labels in English and Swedish for figures, tables, the report and the dashboard.

Swedish follows Swedish typography: a space before the per cent sign, joined to the number by a
no-break space (``90 %`` never splits over two lines), and a decimal comma in numbers shown to
people (see `number`). Department names and output names are translated too; anything missing
from the Swedish table falls back to English, and `tests/test_labels.py` checks that nothing a
figure shows does.
"""

from __future__ import annotations

import math

NBSP = "\u00a0"
PCT = {"en": "%", "sv": NBSP + "%"}

#: "Recruits", as every figure and table means it.
RECRUIT_DEFINITION = {
    "en": "recruited: children (under 18) drawn into the periphery of a criminal network (stage "
          "1 → 2: errands, storing or selling drugs for a network member); new network members "
          "(stage 2 → 3) are counted apart",
    "sv": "rekryterade: barn (under 18 år) som dras in i periferin av ett kriminellt nätverk "
          "(steg 1 → 2: springuppdrag, förvaring eller försäljning av narkotika åt en "
          "nätverksmedlem); nya nätverksmedlemmar (steg 2 → 3) räknas för sig",
}

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "none": "None", "norm_breaking": "Norm-breaking", "peripheral": "Peripheral (errands)",
        "member": "Network member", "exited": "Exited", "active_members": "Active network members",
        "year": "Year", "youths": "Youths", "persons": "Persons", "week": "Week",
        "stages_title": "Involvement over time: median and 90{pct} band over {n} replicates",
        "stages_caption": "Lines: median over {n} replicates; shaded bands: the middle 90{pct} of "
                          "replicates (5th to 95th percentile): the spread due to chance and, "
                          "over a calibrated ensemble, to the parameters drawn.",
        "difference": "Difference ({b} − {a})",
        "recruits": "Children drawn into a network's periphery (stage 1→2, under 18) per year",
        "cumulative_recruits": "Children drawn into the periphery, cumulative",
        "prevented": "Children kept out of the periphery",
        "close": "Youths 13-19 close to the criminal environment",
        "counterfactual_title": "{a} compared with {b}: median and 90{pct} band over {n} "
                                "paired runs",
        "prevented_by": "Children kept out of the periphery by {a} compared with {b} (paired "
                        "difference)",
        "counterfactual_caption": "Lines: median; shaded bands: the middle 90{pct} of {n} paired "
                                  "runs (5th to 95th percentile): what chance moves and, over a "
                                  "calibrated ensemble, the parameters and effect sizes drawn. "
                                  "Right: the difference pair by pair; above zero means fewer "
                                  "recruits with {a}. Grey: plan period {plan}. {recruits}.",
        "plan_period": "Plan period {plan}",
        "department": "Department", "contribution": "Children kept out of the periphery by the department",
        "contributions_title": "Each department's contribution to {a}: children kept out of the "
                               "periphery, measured by leaving its measures out (median and "
                               "90{pct} interval, {n} paired runs)",
        "contributions_caption": "Bars: median; whiskers: the middle 90{pct} of paired runs. "
                                 "{recruits}.",
        "district": "District", "map_title": "Children kept out of the periphery, per district",
        "map_caption": "Schematic map of Umeå's districts (not to scale); colour: children kept "
                       "out of the periphery (median of paired runs), darker = more.",
        "network_title": "Involved youths and their recruiters, week {week}",
        "network_legend_recruiter": "Network member (recruiter)",
        # outputs
        "periphery_entries_u18": "Children drawn into the periphery",
        "periphery_entries": "Youths drawn into the periphery (all ages)",
        "new_members": "New network members", "new_members_u18": "New network members under 18",
        "reports_of_concern": "Reports of concern",
        "new_recruits": "Recruits", "youth_years_stage2plus": "Youth-years at stage 2 or 3",
        "active_members_mean": "Active network members (mean)", "detections": "Detections",
        "cost_sek": "Cost", "prevented_by_first": "Recruits prevented",
        "sek_per_prevented": "SEK per prevented recruit",
        "new_recruits_per_year": "Recruits per year",
        "new_recruits_u18_per_year": "Recruits under 18 per year",
        "new_members_per_year": "New network members per year",
        "new_members_u18_per_year": "New network members under 18 per year",
        "periphery_entries_u18_per_year": "Children drawn into the periphery per year",
        "periphery_entries_per_year": "Youths drawn into the periphery per year (all ages)",
        "sweep_difference": "{out}: {a} − {b}",
        "recruits_total": "Recruits in total",
        "active_members_end": "Active network members at the end",
        "close_share_13_19": "Share of 13-19-year-olds at stage 2 or 3",
        "norm_breaking_share_13_19": "Share of 13-19-year-olds norm-breaking",
        "detections_per_year": "Detections per year",
        # sensitivity (sim.sensitivity)
        "morris_title": "Morris screening: {out}", "mu_star": "μ* (mean |elementary effect|)",
        "sigma": "σ (sd of elementary effects)", "sobol_title": "Sobol indices: {out}",
        "S1": "first order S1", "ST": "total ST", "index": "sensitivity index",
        "ci": "error bars: {level}{pct} bootstrap confidence interval",
        "spearman_title": "Rank correlation: {out}", "rho": "Spearman ρ",
        "ci_mu": "μ* with {level}{pct} bootstrap confidence interval",
        "rho_caption": "Spearman rank correlation; no interval",
        # dashboard
        "ui_title": "UVTS-sim workshop: what difference does it make?",
        "ui_scenario": "Scenario to evaluate", "ui_counterfactual": "Compared with",
        "ui_horizon": "Years to simulate", "ui_replicates": "Paired runs",
        "ui_levers": "Levers", "ui_info_sharing": "Information sharing school → social services (share)",
        "ui_uptake": "Mellantvång: guardians accepting voluntary help (probability)",
        "ui_est": "EST meets every … weeks", "ui_money": "Move money between departments",
        "ui_move_from": "From department", "ui_move_to": "To department",
        "ui_move_msek": "MSEK a year", "ui_departments": "Departments (untick to switch off)",
        "ui_measures": "Switch off single measures", "ui_run": "Run",
        "ui_quick": "First look: {years} years, {n} paired runs …",
        "ui_full": "Refining: {done} of {n} paired runs over {years} years",
        "ui_done": "{n} paired runs over {years} years",
        "ui_headline": "Children kept out of the periphery {period}: {med} (90{pct} interval {lo} "
                       "to {hi}), "
                       "{n} paired runs. Extra cost {cost} MSEK",
        "ui_per_recruit": "{sek} MSEK per child kept out",
        "ui_no_per_recruit": "no children kept out: no cost per child kept out",
        "ui_tab_cf": "Counterfactual", "ui_tab_map": "Districts", "ui_tab_step": "Week by week",
        "ui_step_new": "New run", "ui_step_1": "+1 week", "ui_step_4": "+4 weeks",
        "ui_step_52": "+1 year", "ui_step_end": "the horizon is reached",
        "ui_press_run": "Press Run to see the paired runs arrive.",
        "ui_same_start": "Only scenarios that start in the same year can be compared",
        "ui_none": "(none)",
    },
    "sv": {
        "none": "Ingen", "norm_breaking": "Normbrytande", "peripheral": "Perifer (springpojke)",
        "member": "Nätverksmedlem", "exited": "Lämnat", "active_members": "Aktiva nätverksmedlemmar",
        "year": "År", "youths": "Unga", "persons": "Personer", "week": "Vecka",
        "stages_title": "Involvering över tid: median och 90{pct}-band över {n} körningar",
        "stages_caption": "Linjer: median över {n} körningar; skuggade band: de mittersta 90{pct} "
                          "av körningarna (5:e till 95:e percentilen): spridningen av slumpen "
                          "och, över en kalibrerad ensemble, av de dragna parametrarna.",
        "difference": "Skillnad ({b} − {a})",
        "recruits": "Barn rekryterade till kriminella nätverks periferi (steg 1→2, under 18 år) "
                    "per år",
        "cumulative_recruits": "Barn rekryterade till nätverkens periferi, ackumulerat",
        "prevented": "Förhindrade rekryteringar till periferin",
        "close": "Unga 13–19 år nära den kriminella miljön",
        "counterfactual_title": "{a} jämfört med {b}: median och 90{pct}-band över {n} parade "
                                "körningar",
        "prevented_by": "Rekryteringar till periferin som {a} förhindrar jämfört med {b} (parad "
                        "skillnad)",
        "counterfactual_caption": "Linjer: median; skuggade band: de mittersta 90{pct} av {n} "
                                  "parade körningar (5:e till 95:e percentilen): vad slumpen "
                                  "flyttar och, över en kalibrerad ensemble, de dragna parametrarna "
                                  "och effektstorlekarna. Höger: skillnaden par för par; över noll betyder "
                                  "färre rekryterade med {a}. Grått: planperioden {plan}. "
                                  "{recruits}.",
        "plan_period": "Planperiod {plan}",
        "department": "Förvaltning", "contribution": "Barn som förvaltningen håller utanför periferin",
        "contributions_title": "Varje förvaltnings bidrag till {a}: barn som hålls utanför "
                               "periferin tack vare dess insatser (median och 90{pct}-intervall, "
                               "{n} parade körningar)",
        "contributions_caption": "Staplar: median; strecken: de mittersta 90{pct} av de parade "
                                 "körningarna. {recruits}.",
        "district": "Stadsdel", "map_title": "Barn som hålls utanför periferin, per stadsdel",
        "map_caption": "Schematisk karta över Umeås stadsdelar (inte skalenlig); färg: barn "
                       "som hålls utanför periferin (median av parade körningar), mörkare = fler.",
        "network_title": "Involverade unga och deras rekryterare, vecka {week}",
        "network_legend_recruiter": "Nätverksmedlem (rekryterare)",
        "periphery_entries_u18": "Barn rekryterade till periferin",
        "periphery_entries": "Unga rekryterade till periferin (alla åldrar)",
        "new_members": "Nya nätverksmedlemmar", "new_members_u18": "Nya nätverksmedlemmar under 18 år",
        "reports_of_concern": "Orosanmälningar",
        "new_recruits": "Rekryterade", "youth_years_stage2plus": "Ungdomsår i steg 2 eller 3",
        "active_members_mean": "Aktiva nätverksmedlemmar (medel)", "detections": "Upptäckter",
        "cost_sek": "Kostnad", "prevented_by_first": "Förhindrade rekryteringar",
        "sek_per_prevented": "Kronor per förhindrad rekrytering",
        "new_recruits_per_year": "Rekryterade per år",
        "new_recruits_u18_per_year": "Rekryterade under 18 år per år",
        "new_members_per_year": "Nya nätverksmedlemmar per år",
        "new_members_u18_per_year": "Nya nätverksmedlemmar under 18 år per år",
        "periphery_entries_u18_per_year": "Barn rekryterade till periferin per år",
        "periphery_entries_per_year": "Unga rekryterade till periferin per år (alla åldrar)",
        "sweep_difference": "{out}: {a} − {b}",
        "recruits_total": "Rekryterade totalt",
        "active_members_end": "Aktiva nätverksmedlemmar vid slutet",
        "close_share_13_19": "Andel 13–19-åringar i steg 2 eller 3",
        "norm_breaking_share_13_19": "Andel 13–19-åringar som är normbrytande",
        "detections_per_year": "Upptäckter per år",
        "morris_title": "Morris-screening: {out}",
        "mu_star": "μ* (medelvärde av |elementäreffekt|)",
        "sigma": "σ (standardavvikelse för elementäreffekter)",
        "sobol_title": "Sobolindex: {out}", "S1": "första ordningen S1", "ST": "totalindex ST",
        "index": "känslighetsindex",
        "ci": "felstaplar: {level}{pct} bootstrap-konfidensintervall",
        "spearman_title": "Rangkorrelation: {out}", "rho": "Spearmans ρ",
        "ci_mu": "μ* med {level}{pct} bootstrap-konfidensintervall",
        "rho_caption": "Spearmans rangkorrelation; inget intervall",
        "ui_title": "UVTS-sim verkstad: vilken skillnad gör det?",
        "ui_scenario": "Scenario att utvärdera", "ui_counterfactual": "Jämfört med",
        "ui_horizon": "År att simulera", "ui_replicates": "Parade körningar",
        "ui_levers": "Reglage", "ui_info_sharing": "Informationsdelning skola → socialtjänst (andel)",
        "ui_uptake": "Mellantvång: vårdnadshavare som tackar ja till frivilligt stöd (sannolikhet)",
        "ui_est": "EST träffas var … vecka", "ui_money": "Flytta pengar mellan förvaltningar",
        "ui_move_from": "Från förvaltning", "ui_move_to": "Till förvaltning",
        "ui_move_msek": "Mnkr per år", "ui_departments": "Förvaltningar (kryssa ur för att stänga av)",
        "ui_measures": "Stäng av enskilda insatser", "ui_run": "Kör",
        "ui_quick": "Första bild: {years} år, {n} parade körningar …",
        "ui_full": "Förfinar: {done} av {n} parade körningar över {years} år",
        "ui_done": "{n} parade körningar över {years} år",
        "ui_headline": "Barn som hålls utanför periferin {period}: {med} (90{pct}-intervall {lo} "
                       "till {hi}), {n} parade körningar. Merkostnad {cost} mnkr",
        "ui_per_recruit": "{sek} mnkr per barn som hålls utanför",
        "ui_no_per_recruit": "inga barn hölls utanför: ingen kostnad per barn som hålls utanför",
        "ui_tab_cf": "Kontrafaktiskt", "ui_tab_map": "Stadsdelar", "ui_tab_step": "Vecka för vecka",
        "ui_step_new": "Ny körning", "ui_step_1": "+1 vecka", "ui_step_4": "+4 veckor",
        "ui_step_52": "+1 år", "ui_step_end": "slutet av perioden är nått",
        "ui_press_run": "Tryck på Kör för att se de parade körningarna komma in.",
        "ui_same_start": "Bara scenarier som börjar samma år kan jämföras",
        "ui_none": "(ingen)",
    },
}

#: Department names in the catalogue (English, as in the scenario files) → Swedish, as the
#: activity plan names them (scenarios/department_budgets.yaml, `source_name`).
DEPARTMENTS_SV = {
    "Labour Market and Integration": "Arbetsmarknad och integration",
    "Leisure": "Fritid",
    "Preschool": "Förskolan",
    "Compulsory school": "Grundskolan",
    "Upper-secondary school": "Gymnasiet",
    "Culture": "Kultur",
    "Strategic Development": "Strategisk utveckling",
    "Support and Care": "Stöd och omsorg",
    "Security": "Säkerhet",
    "Technical and Property Services": "Teknik och fastighet",
    "Compulsory and upper-secondary school": "Grund- och gymnasieskolan",
    "Police and municipality": "Polis och kommun",
    "Policy change": "Regeländring",
    "ordinary work": "ordinarie arbete",
    "Dashboard lever": "Reglage i översikten",
    # UVTS 2018-2022 (area focus)
    "UVTS 2018-2022": "UVTS 2018–2022",
    "Trygga Ålidhems Centrum": "Trygga Ålidhems Centrum",  # a Swedish name already
    "Outdoor-environment group, East Ersboda": "Utemiljögruppen, östra Ersboda",
}
_QUALIFIERS_SV = {"ordinary work": "ordinarie arbete", "scenario": "scenario", "Umebrå": "Umebrå",
                  "field group": "fältgruppen",
                  "TÅC": "TÅC"}


def has_swedish(name: str) -> bool:
    """Whether `department(name, "sv")` has a Swedish name for every part of `name`."""
    base, _, rest = name.partition(" (")
    qual = rest.rstrip(")")
    return base in DEPARTMENTS_SV and (not qual or qual in _QUALIFIERS_SV or qual in DEPARTMENTS_SV)


def label(key: str, lang: str = "en", **fmt: object) -> str:
    """The label for `key` in `lang` ('en' or 'sv'), formatted with `fmt` ({pct} is filled in)."""
    table = LABELS.get(lang, LABELS["en"])
    text = table.get(key, LABELS["en"].get(key, key))
    fmt.setdefault("pct", PCT.get(lang, "%"))
    fmt.setdefault("recruits", RECRUIT_DEFINITION.get(lang, RECRUIT_DEFINITION["en"]).capitalize())
    try:
        return text.format(**fmt)
    except (KeyError, IndexError):
        return text


def department(name: str, lang: str = "en") -> str:
    """A department's display name: "Support and Care (ordinary work)" → "Stöd och omsorg
    (ordinarie arbete)" in Swedish."""
    if lang != "sv":
        return name
    base, _, rest = name.partition(" (")
    qual = rest.rstrip(")") if rest else ""
    out = DEPARTMENTS_SV.get(base, base)
    if qual:
        out += f" ({_QUALIFIERS_SV.get(qual, DEPARTMENTS_SV.get(qual, qual))})"
    return out


def percent(level: float, lang: str = "en") -> str:
    """90 % (Swedish, no-break space) or 90% (English) for a share such as 0.9."""
    return f"{level * 100:.0f}{PCT.get(lang, '%')}"


def number(value: float, lang: str = "en", digits: int = 0) -> str:
    """A number for people: thousands grouped, `digits` decimals; Swedish uses a no-break space
    between thousands and a decimal comma. NaN is shown as a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value:,.{digits}f}"
    if lang == "sv":
        text = text.replace(",", NBSP).replace(".", ",").replace("-", "−")
    return text

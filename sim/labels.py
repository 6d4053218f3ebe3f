"""Display labels in English and Swedish for figures and tables."""

from __future__ import annotations

LABELS = {
    "en": {
        "none": "None", "norm_breaking": "Norm-breaking", "peripheral": "Peripheral (errands)",
        "member": "Network member", "exited": "Exited", "active_members": "Active network members",
        "year": "Year", "youths": "Youths", "persons": "Persons",
        "stages_title": "Involvement over time: median and 90% band over {n} replicates",
        "difference": "Difference ({b} − {a})",
        "recruits": "Children drawn into a network's periphery (stage 1→2, under 18) per year",
        "cumulative_recruits": "Children drawn into the periphery, cumulative",
        "prevented": "Children kept out of the periphery",
        "close": "Youths 13-19 close to the criminal environment",
        "counterfactual_title": "{a} compared with {b}: median and 90% band over {n} paired runs",
        "prevented_by": "Children kept out of the periphery by {a} compared with {b} (paired difference)",
        "department": "Department", "contribution": "Recruits prevented by the department",
        "contributions_title": "Each department's contribution to {a}: recruits prevented when its "
                               "measures are left out (median and 90% interval, {n} paired runs)",
    },
    "sv": {
        "none": "Ingen", "norm_breaking": "Normbrytande", "peripheral": "Perifer (springpojke)",
        "member": "Nätverksmedlem", "exited": "Lämnat", "active_members": "Aktiva nätverksmedlemmar",
        "year": "År", "youths": "Unga", "persons": "Personer",
        "stages_title": "Involvering över tid: median och 90 %-band över {n} körningar",
        "difference": "Skillnad ({b} − {a})",
        "recruits": "Barn rekryterade till kriminella nätverks periferi (steg 1→2, under 18) per år",
        "cumulative_recruits": "Barn rekryterade till nätverkens periferi, ackumulerat",
        "prevented": "Förhindrade rekryteringar till periferin",
        "close": "Unga 13-19 år nära den kriminella miljön",
        "counterfactual_title": "{a} jämfört med {b}: median och 90 %-band över {n} parade körningar",
        "prevented_by": "Rekryteringar till periferin som {a} förhindrar jämfört med {b} (parad skillnad)",
        "department": "Förvaltning", "contribution": "Förhindrade rekryteringar per förvaltning",
        "contributions_title": "Varje förvaltnings bidrag till {a}: rekryteringar som förhindras av "
                               "dess insatser (median och 90 %-intervall, {n} parade körningar)",
    },
}


def label(key: str, lang: str = "en", **fmt: object) -> str:
    """The label for `key` in `lang` ('en' or 'sv'), formatted with `fmt`."""
    text = LABELS.get(lang, LABELS["en"]).get(key, key)
    return text.format(**fmt) if fmt else text

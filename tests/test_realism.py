"""The model's people and outputs against the evidence (issue 7): targets over seeds, sex, age of
recruitment, demand and replacement, reports of concern by channel, living baselines, event log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import ks_2samp

from sim.detection import CHANNELS
from sim.interventions import InterventionSpec
from sim.model import UmeaModel
from sim.population import build_population, living_baselines, load_city
from sim.recruitment import NONE
from sim.results import FLOW_INDEX, NETWORK_SERIES, REPORT_CHANNELS
from sim.risk import FACTOR_INDEX

ROOT = Path(__file__).resolve().parents[1]
TARGETS = yaml.safe_load((ROOT / "calibration" / "targets.yaml").read_text(encoding="utf-8"))["targets"]


@pytest.mark.parametrize("target", TARGETS, ids=[t["output"] for t in TARGETS])
def test_default_baseline_meets_every_target(target_runs, target):
    """The mean over 8 seeds of the whole 10-year run lies in the documented range."""
    values = np.array([s[target["output"]] for s, _, _ in target_runs], float)
    lo, hi = target["range"]
    assert lo <= values.mean() <= hi, (target["output"], values.round(4))


def test_men_among_members_and_new_members_in_every_seed(target_runs):
    """Sex shares are emergent from sex-specific hazards: within range seed by seed (≥ 4 seeds)."""
    for s, _, _ in target_runs[:4]:
        assert 0.90 <= s["men_share_active_members"] <= 0.99
        assert 0.85 <= s["men_share_new_members"] <= 1.0
        assert 0.65 <= s["men_share_periphery_entries"] <= 0.92


def test_age_of_entry_into_the_periphery_and_of_recruiters(target_runs):
    ages = sum(a for _, a, _ in target_runs)
    recruiters = sum(r for _, _, r in target_runs)
    assert 12 <= int(np.argmax(ages)) <= 14                 # mode 12-14 (Brå 2023:13)
    assert ages[12:16].sum() / ages.sum() > 0.6             # most entries within 12-15
    assert ages[:10].sum() == 0                             # nobody drawn in before 10
    assert recruiters[15:21].sum() / recruiters.sum() > 0.5  # recruiters mostly 15-20


# A city where recruitment runs only through recruiters' search in public space (no friends,
# siblings or schoolmates in the network as contacts, no recruiting peripherals): recruitment is
# driven by the members' open demand alone, so keeping youths out cannot work through contagion.
SCARCE = {"recruit_rate_peer": 0.0, "recruit_rate_sibling": 0.0, "recruit_rate_school": 0.0,
          "youngers_per_peripheral": 0.0, "recruit_rate_place": 1.0, "effect_scaling": 1.0}


def _immunise_half(seed: int, years: int = 4, **params) -> tuple[UmeaModel, UmeaModel, np.ndarray]:
    """Paired runs: without and with a measure that makes a random half of 10-17-year-olds all
    but immune to recruitment (recruitment hazard × 0.004)."""
    half = InterventionSpec(
        id="immunise", type="universal", uptake=0.5, start=2024.0, target={"ages": [10, 17]},
        effects=[{"acts_on": "recruitment_hazard", "value": 3.0, "range": [0, 3],
                  "source": "assumption: test"}])
    params = {**SCARCE, **params}
    a = UmeaModel(seed=seed, years=years, params=params)
    b = UmeaModel(seed=seed, years=years, params=params, interventions=[half])
    treated = np.zeros(b.pop.n, bool)
    treated[b.measures._members[0]] = True
    ids = b.pop.person_id[treated & (b.pop.age >= 10)]
    a.run()
    b.run()
    return a, b, ids


def _entries(m: UmeaModel, ids: np.ndarray, inside: bool) -> int:
    ev = m.events.table()
    e = ev[(ev["kind"] == "stage_change") & (ev["detail"] == "1>2")]
    return int(np.isin(e["person_id"], ids).sum() if inside else (~np.isin(e["person_id"], ids)).sum())


def _replacement(seeds=(1, 2), **params) -> tuple[float, float, float]:
    """Mean rise in entries among the untreated, mean fall among the treated, mean rise in
    open demand, over paired seeds."""
    rise, fall, gap = [], [], []
    k = NETWORK_SERIES.index("open_demand")
    for seed in seeds:
        a, b, ids = _immunise_half(seed, **params)
        rise.append(_entries(b, ids, False) - _entries(a, ids, False))
        fall.append(_entries(a, ids, True) - _entries(b, ids, True))
        gap.append(b.recorder.network[:, k].mean() - a.recorder.network[:, k].mean())
    return float(np.mean(rise)), float(np.mean(fall)), float(np.mean(gap))


def test_demand_binds_when_youths_are_scarce_and_replacement_appears():
    """Keeping half of the candidates out leaves recruiters' demand open. Two mechanisms then
    pull the untreated half's entries in opposite directions: fewer new members make criminals
    less visible in public space (fewer contacts: fewer entries), while recruiters search harder
    for their open demand (more contacts: replacement). Without a search response (ε = 0) the
    first wins; the search response draws others in, more the steeper it is; with fast expiry
    recruiters' demand does not pile up and the untreated are hardly affected. (The net sign at
    the default ε is not fixed by the design: over 24 seeds it was negative, about -6 to -14
    entries in four years, so it is not asserted.)"""
    rise_none, _, _ = _replacement(demand_expiry_rate=0.0, search_elasticity=0.0)
    rise0, fall0, gap0 = _replacement(demand_expiry_rate=0.0)
    rise_steep, fall_steep, _ = _replacement(demand_expiry_rate=0.0, search_elasticity=3.0)
    rise_fast, fall_fast, _ = _replacement(demand_expiry_rate=20.0)
    assert gap0 > 5                      # scarce youths: open demand piles up (demand binds)
    assert fall0 > 50                    # the protected half is drawn in less
    assert rise_none < -10               # no search response: less visibility, fewer entries
    assert rise0 - rise_none > 15        # the search response draws others in ...
    assert rise_steep - rise0 > 15       # ... the more, the steeper it is
    assert rise_steep / fall_steep > 0.15
    assert abs(rise_fast) < 0.25 * fall_fast + 5


def test_reports_of_concern_reach_uninvolved_children_on_every_channel(short_run):
    m = short_run
    never = (m.stage == NONE) & (m.pop.age < 18)
    ev = m.events.table()
    involved_ids = set(ev.loc[ev["kind"].isin(["stage_change", "stage_at_start"]), "person_id"])
    never &= ~np.isin(m.pop.person_id, list(involved_ids))
    for c, name in enumerate(CHANNELS):
        assert (m.social.last_report[never, c] >= 0).sum() > 50, name
    fl = m.recorder.flows.sum(axis=(0, 1))
    child_years = m.recorder.children.sum() / 52.0
    assert 0.07 <= fl[FLOW_INDEX["children_reported"]] / child_years <= 0.13
    reports = sum(fl[FLOW_INDEX[c]] for c in REPORT_CHANNELS)
    assert all(fl[FLOW_INDEX[c]] > 0.05 * reports for c in REPORT_CHANNELS)


def test_no_burst_of_reports_in_the_first_year(short_run):
    """Youths are already known to social services at the start (burn-in), so the first year does
    not differ from the second."""
    rec = short_run.recorder
    known = rec.known.sum(axis=1)
    assert known[0] > 0.8 * known[52:].mean()
    inv = rec.flows[:, :, FLOW_INDEX["investigations"]].sum(axis=1)
    assert inv[:52].sum() < 1.25 * inv[52:104].sum()


def test_event_log_ids_are_stable_and_reproduce_the_tables(short_run):
    m = short_run
    ev, persons = m.events.table(), m.events.person_table()
    assert persons["person_id"].is_unique
    left = ev[ev["kind"] == "left_model"]
    # a slot reused by a newcomer gets a new person: leavers never reappear in the model
    assert not np.isin(left["person_id"], m.pop.person_id).any()
    assert len(left) == persons["exit_week"].notna().sum()
    # stage counts at the end from the log: the last stage of every person still in the model
    st = ev[ev["kind"].isin(["stage_at_start", "stage_change"])].copy()
    st["stage"] = np.where(st["kind"] == "stage_change", st["detail"].str[-1], st["detail"]).astype(int)
    last = st.groupby("person_id")["stage"].last()
    last = last[last.index.isin(m.pop.person_id)]
    counts = np.bincount(last.to_numpy(), minlength=5)
    counts[0] = m.pop.n - counts[1:].sum()
    assert np.array_equal(counts, m.recorder.stage_counts[-1].sum(axis=0))
    fl = m.recorder.flows.sum(axis=(0, 1))
    assert ((ev["kind"] == "stage_change") & (ev["detail"] == "1>2")).sum() == sum(
        fl[FLOW_INDEX[f"recruited_{k}"]] for k in ("peer", "sibling", "school", "place"))
    assert ((ev["kind"] == "stage_change") & (ev["detail"] == "2>3")).sum() == fl[FLOW_INDEX["new_members"]]
    children = ev[(ev["kind"] == "report_of_concern") & (ev["age"] < 18)]
    assert len(children) == sum(fl[FLOW_INDEX[c]] for c in REPORT_CHANNELS)
    # per district too
    by_d = children.groupby("district").size()
    per_d = m.recorder.flows[:, :, [FLOW_INDEX[c] for c in REPORT_CHANNELS]].sum(axis=(0, 2))
    assert np.array_equal(by_d.reindex(m.city.districts, fill_value=0).to_numpy(), per_d)


def test_person_ids_of_events_are_the_tables_selection(short_run):
    """`EventLog.person_ids` (what paired comparisons use) selects exactly what the table does,
    in the same order: entries into the periphery before 18 (age as the table shows it) and the
    starters of measures."""
    plan = UmeaModel.from_scenario("scenarios/uvts_2024_2026.yaml", seed=11, years=1)
    plan.run()
    for m in (short_run, plan):
        ev, log = m.events.table(), m.events
        entered = ev.loc[(ev["kind"] == "stage_change") & (ev["detail"] == "1>2")
                         & (ev["age"] < 18), "person_id"].to_numpy()
        assert np.array_equal(log.person_ids("stage_change", "1>2", age_below=18), entered)
        starts = ev.loc[ev["kind"] == "intervention_start", "person_id"].to_numpy()
        assert np.array_equal(log.person_ids("intervention_start"), starts)
        changes = ev.loc[ev["kind"] == "stage_change", "person_id"].to_numpy()
        assert np.array_equal(log.person_ids("stage_change"), changes)
    assert entered.size > 0 and starts.size > 100  # the plan's run had both
    assert log.person_ids("no_such_kind").size == 0
    assert log.person_ids("stage_change", "no such detail").size == 0


def test_living_baselines_follow_age_not_the_age_at_entry():
    """A girl who was 5 and one who was 14 have the same mental ill-health baseline distribution
    once both are 15 (baselines are recomputed from current age, sex, household, school, district)."""
    city = load_city()
    pop = build_population(7, city)
    mh = FACTOR_INDEX["mental_ill_health"]
    girls = ~pop.boy
    young = np.flatnonzero(girls & (pop.cohort == 5))
    older = np.flatnonzero(girls & (pop.cohort == 14))
    pop.age[young] += 10.0
    pop.age[older] += 1.0
    living_baselines(pop, np.r_[young, older], city)
    # two samples of ≈700 girls each from one distribution: a two-sample KS test does not reject
    assert ks_2samp(pop.mu[young, mh], pop.mu[older, mh]).pvalue > 0.01
    assert abs(np.median(pop.mu[young, mh]) - np.median(pop.mu[older, mh])) < 0.04
    # and both at the documented prevalence for 15-year-old girls (62%, Folkhälsomyndigheten)
    assert 0.55 <= (pop.mu[young, mh] > 0.5).mean() <= 0.69


def test_mental_ill_health_by_age_and_sex_in_a_running_model(short_run):
    """Baselines at the documented prevalences; girls' ill-health rises through the teens."""
    m = short_run
    mh = FACTOR_INDEX["mental_ill_health"]
    above = m.pop.mu[:, mh] > 0.5
    boys = m.pop.boy & (m.pop.cohort >= 11) & (m.pop.cohort <= 15)
    g11 = ~m.pop.boy & (m.pop.cohort == 11)
    g15 = ~m.pop.boy & (m.pop.cohort == 15)
    assert above[boys].mean() == pytest.approx(0.30, abs=0.06)
    assert above[g11].mean() == pytest.approx(0.42, abs=0.07)
    assert above[g15].mean() == pytest.approx(0.62, abs=0.07)


def test_mesa_conventions():
    """Keyword parameters, running turns False at the horizon, stepping past it is harmless."""
    m = UmeaModel(seed=2, years=1, gamma_peer=1.1, params={"shock_rate": 0.1})
    assert m.p["gamma_peer"] == 1.1 and m.p["shock_rate"] == 0.1
    while m.running:
        m.step()
    assert m.week == 52
    m.step()
    assert m.week == 52 and not m.running
    df = m.datacollector.get_model_vars_dataframe()
    assert len(df) == 52 and {"periphery_entries", "reports_of_concern"} <= set(df.columns)
    layers = [FLOW_INDEX[f"recruited_{k}"] for k in ("peer", "sibling", "school", "place")]
    assert df["periphery_entries"].sum() == m.recorder.flows[:, :, layers].sum()
    m2 = UmeaModel.from_scenario(ROOT / "scenarios" / "baseline.yaml", seed=2, years=1)
    assert m2.years == 1 and len(m2.measures.measures) > 0

"""Reports of concern by channel, social services' assessment, investigations and open cases.

Rules and sources in `sim.detection`. Each week: open cases that have run their time close; every
youth may be reported (one uniform per youth from the stream "reports", so scenarios share their
draws); a report's reason and channel, whether it is investigated and how long the case stays open
come from counter-based draws keyed by the person and the week (the same in every scenario). The
hazards are recomputed every `RATE_EVERY` weeks (risk factors move slowly); the stage part weekly.

A concern reported once is likely to be reported again in the following half year (by the same
or another actor): the hazard is `report_repeat_mult` times higher for 26 weeks after a report
(assumption, calibrated to ≈1.8-1.9 reports per reported child).

Before the first week the process runs for three years on the initial state ("burn-in", its own
stream), so the model starts with youths already known to social services and a report history,
not with an empty register and a burst of first reports.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim import detection as dt
from sim import kernels
from sim.processes.recording import BAND_OF_COHORT
from sim.recruitment import EXITED, NORM_BREAKING, PERIPHERAL, WEEK
from sim.results import FLOW_INDEX
from sim.rng import entity_keys, keyed_uniforms

RATE_EVERY = 4
KEY_REPORT = 101
REPEAT_WEEKS = 26  # a concern stays "recent" for half a year after a report
NO_CASE = np.iinfo(np.int32).max  # case end week of a youth without an open case
ADULT_CHANNELS = np.array([0.0, 1.0, 1.0, 0.0])  # from 18 only police and social services
REPORT_LABELS = tuple(f"{c}:{r}" for r in dt.REASONS for c in dt.CHANNELS)  # event details, k=0-7
REPORT_FLOWS = np.array([FLOW_INDEX[f"reports_{c}"] for c in dt.CHANNELS])


class SocialServices:
    """Owns `known` (an open case), the case end weeks and each youth's report history."""

    def __init__(self, model: Any):
        n = model.pop.n
        self.known = np.zeros(n, bool)
        self.case_end = np.full(n, NO_CASE, np.int32)
        self.last_report = np.full((n, len(dt.CHANNELS)), -10_000, np.int32)  # week per channel
        self.reports = np.zeros(n, np.int32)   # reports in the run (children)
        self.report_year = np.full(n, -10_000, np.int32)
        self.last_any = np.full(n, -10_000, np.int32)
        self._fam = self._beh = None
        self._rate_week: int | None = None  # None: recompute the hazards at the next week
        self._key: tuple = ()
        self._mult_seen: np.ndarray | None = None  # the report multipliers of the last rates
        self._pending = np.zeros(0, np.int64)
        self._recent = [np.zeros(0, np.int64)] * REPEAT_WEEKS  # who was reported, by week mod 26

    def forget(self, slots: np.ndarray) -> None:
        """Newcomers in reused slots start with no history."""
        self.known[slots] = False
        self.case_end[slots] = NO_CASE
        self.last_report[slots] = -10_000
        self.reports[slots] = 0
        self.report_year[slots] = -10_000
        self.last_any[slots] = -10_000
        self._rate_week = None
        self._pending = np.zeros(0, np.int64)
        gone = np.zeros(self.known.size, bool)  # a mask: np.isin per week cost 4 ms a year
        gone[slots] = True
        self._recent = [r[~gone[r]] for r in self._recent]

    # ---- hazards ------------------------------------------------------------------------------
    def _base_rates(self, model: Any, share: np.ndarray) -> None:
        """The family and behaviour hazards, and both times their channel shares (`_fam_total`,
        `_beh_total`; from 18 only police and social services hear of behaviour)."""
        p, pop = model.p, model.pop
        adult_share = share[1, 1] + share[1, 2]
        args = kernels.report_exponents(pop.x, p["report_need_slope"], dt.VF, dt.MH, dt.EV, dt.SF)
        if args is not None:
            self._fam, self._beh, self._child, self._fam_total, self._beh_total = \
                kernels.report_bases(np.exp(args[0]), np.exp(args[1]), pop.age,
                                     p["report_rate_family"], p["report_rate_behaviour"],
                                     dt.CHILD_AGE, dt.BEHAVIOUR_MIN_AGE, share[0].sum(),
                                     share[1].sum(), adult_share)
        else:
            child = pop.age < dt.CHILD_AGE
            self._fam = (p["report_rate_family"] * np.exp(p["report_need_slope"]
                                                          * dt.family_need(pop.x)) * child)
            self._beh = (p["report_rate_behaviour"] * np.exp(2.0 * pop.x[:, dt.SF])
                         * (pop.age >= dt.BEHAVIOUR_MIN_AGE))
            self._child = child
            self._fam_total = (self._fam * share[0].sum()).astype(np.float32)
            self._beh_total = (self._beh * np.where(child, share[1].sum(), adult_share)
                               ).astype(np.float32)
        self._rate_week = model.week

    def _totals(self, share: np.ndarray) -> None:
        """Both hazards times new channel shares, from the hazards of the last `_base_rates`
        (the same float64 products, rounded to float32, as there)."""
        adult_share = share[1, 1] + share[1, 2]
        totals = kernels.report_totals(self._fam, self._beh, self._child, share[0].sum(),
                                       share[1].sum(), adult_share)
        if totals is not None:
            self._fam_total, self._beh_total = totals
            return
        self._fam_total = (self._fam * share[0].sum()).astype(np.float32)
        self._beh_total = (self._beh * np.where(self._child, share[1].sum(), adult_share)
                           ).astype(np.float32)

    def _shares(self, model: Any) -> np.ndarray:
        share = dt.CHANNEL_SHARE * np.asarray(model.detect_mult, np.float64)[None, :]
        share[1, 0] *= min(model.info_share, 1.0) / dt.DEFAULT_INFO_SHARE
        return share

    def _rates_of(self, model: Any, idx: np.ndarray | None) -> np.ndarray:
        """Weekly report hazards (float32) of youths `idx` (all if None) from the cached parts:
        the yearly hazard times a week; the week's probability is -expm1 of minus it
        (`kernels.weekly_prob32`), made only for the youths who could be reported."""
        mult = model.report_mult if model.report_mult_active else None
        rate = kernels.report_rates(idx,
                                    self._beh_total, self._fam_total, dt.STAGE_BEHAVIOUR,
                                    model.stage, self.last_any, model.week - REPEAT_WEEKS,
                                    model.p["report_repeat_mult"], mult, weekly=True)
        if rate is not None:
            return rate  # the kernel made the weekly hazards
        sel = slice(None) if idx is None else idx
        rate = self._beh_total[sel] * dt.STAGE_BEHAVIOUR[model.stage[sel]]
        rate += self._fam_total[sel]
        recent = self.last_any[sel] > model.week - REPEAT_WEEKS
        rate[recent] *= np.float32(model.p["report_repeat_mult"])
        if mult is not None:
            rate *= mult[sel]
        return (rate * WEEK).astype(np.float32, copy=False)

    def weekly_hazards(self, model: Any) -> np.ndarray:
        """Weekly hazard of any report (or, from 18, any contact) per youth this week (float32;
        the probability is `kernels.weekly_prob32` of it).

        The risk-factor part (`_base_rates`) is recomputed every RATE_EVERY weeks, on the same
        schedule in every scenario: a plan whose measures change the channels' shares (from
        week to week as they phase in) or set per-youth report multipliers sees the risk
        factors as often as one without; only its channel totals (`_totals`) follow the
        channels every week. (Before, such plans recomputed the risk-factor part every week, a
        difference from their counterfactual that no measure caused.) Between those
        refreshes the weekly probabilities are recomputed only for youths whose stage changed,
        who were reported last week (a concern becomes recent), whose report stopped being
        recent or whose per-youth report multiplier moved (measures set them anew every week,
        mostly to the same values): the same values as a full recomputation, at a fraction of
        the cost."""
        share = self._share = self._shares(model)
        key = tuple(share.ravel())
        mult = model.report_mult if model.report_mult_active else None
        full = True
        if self._rate_week is None or model.week - self._rate_week >= RATE_EVERY:
            self._base_rates(model, share)
        elif key != self._key:  # only the channels moved: the same hazards, new shares
            self._totals(share)
        elif (mult is None) != (self._mult_seen is None) or \
                (mult is not None and mult.shape != self._mult_seen.shape):
            pass  # the multipliers came into or went out of force
        else:
            full = False
        if full:
            self._key = key
            self._p = self._rates_of(model, None)
            self._mult_seen = None if mult is None else mult.copy()
        else:
            # youths whose stage changed since (the involvement process lists them), whose concern
            # became recent last week, whose report of 26 weeks ago stops being recent now and
            # whose report multiplier moved (a youth listed twice gets the same value twice: no
            # need to sort out duplicates)
            old = self._recent[model.week % REPEAT_WEEKS]
            ended = old[self.last_any[old] == model.week - REPEAT_WEEKS]
            parts = [*model.stage_changes, ended, self._pending]
            if mult is not None:
                moved = np.flatnonzero(mult != self._mult_seen)
                self._mult_seen[moved] = mult[moved]
                parts.append(moved)
            idx = np.concatenate(parts)
            if idx.size:
                self._p[idx] = self._rates_of(model, idx)
        model.stage_changes.clear()
        return self._p

    # ---- the weekly process -------------------------------------------------------------------
    def step(self, model: Any, u: np.ndarray | None = None, record: bool = True) -> None:
        week, pop = model.week, model.pop
        closing = np.flatnonzero(self.case_end <= week)  # only open cases have an end week
        if closing.size:
            self.known[closing] = False
            self.case_end[closing] = NO_CASE
            if record:
                model.events.log("case_closed", closing)
        hazard = self.weekly_hazards(model)
        # the youths whose uniform of the week's "reports" stream falls below their probability
        hit = (model.streams.week_below_weekly("reports", week, hazard) if u is None
               else kernels.below_weekly(u, hazard))
        self._pending = hit
        self._recent[week % REPEAT_WEEKS] = hit
        if hit.size == 0:
            return
        key = entity_keys(model.seed_value, KEY_REPORT, pop.person_id[hit], week)
        u_which, u_inv, u_case = keyed_uniforms(key, range(3))
        k, child, p_inv = self._draw(model, hit, u_which)
        year = week // 52 if week >= 0 else -1
        kids = hit[child]
        if kernels.book_reports(hit, k, child, week, year, self, record, model,
                                (REPORT_FLOWS, FLOW_INDEX["reports_behaviour"],
                                 FLOW_INDEX["children_reported"]), BAND_OF_COHORT, 2):
            if record and kids.size:
                model.events.log_coded("report_of_concern", kids, REPORT_LABELS, k[child])
        else:
            self._book_reports(model, hit, k, child, kids, year, record)
        # assessment: a report about a child without an open case may open an investigation
        new = ~self.known[hit]
        opened = new & (u_inv < p_inv)
        opened_slots = hit[opened]
        if opened_slots.size:
            self.known[opened_slots] = True
            dur = -np.log1p(-u_case[opened]) * model.p["case_duration_years"] * 52.0
            self.case_end[opened_slots] = week + np.maximum(np.round(dur), 1).astype(np.int32)
            if record:
                model.count_flow("investigations", opened_slots[pop.age[opened_slots] < dt.CHILD_AGE])
                model.events.log("investigation", opened_slots)
        # a new report about a child with an open case keeps the case open at least as long again
        ongoing = hit[~new]
        if ongoing.size:
            extra = (-np.log1p(-u_case[~new]) * model.p["case_duration_years"] * 52.0).astype(np.int32)
            self.case_end[ongoing] = np.maximum(self.case_end[ongoing], week + extra)

    def _book_reports(self, model: Any, hit: np.ndarray, k: np.ndarray, child: np.ndarray,
                      kids: np.ndarray, year: int, record: bool) -> None:
        """This week's reports in the youths' history and, when `record`, in the week's flows
        and the event log (numpy; kernels.book_reports does the same but the log)."""
        week, pop = model.week, model.pop
        reason, channel = k // 4, k % 4
        self.last_report[hit, channel] = week
        self.last_any[hit] = week
        if record and kids.size:
            d = model.city.n_districts  # reports by channel and district in one count
            by_channel = np.bincount(channel[child] * d + pop.district[kids], minlength=4 * d)
            model.flows[:, REPORT_FLOWS] += by_channel.reshape(4, d).T
            model.count_flow("reports_behaviour", kids[reason[child] == 1])
            first = kids[self.report_year[kids] != year]
            model.count_flow("children_reported", first)
            self.reports[kids] += 1
            model.count_group(2, kids)
            model.events.log_coded("report_of_concern", kids, REPORT_LABELS, k[child])
        self.report_year[kids] = year

    def _draw(self, model: Any, hit: np.ndarray, u_which: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For the reported youths `hit`: k = 4·reason + channel of the report (drawn with
        `u_which` in proportion to the eight hazards), whether each is a child, and the chance
        that the report is investigated."""
        pop, share = model.pop, self._share
        logit0 = dt.share_logit(model.p["investigation_share"])
        draws = kernels.report_draws(hit, self._fam, self._beh, dt.STAGE_BEHAVIOUR, model.stage,
                                     pop.age, dt.CHILD_AGE, share, ADULT_CHANNELS, u_which,
                                     pop.x, (dt.VF, dt.MH, dt.EV),
                                     (NORM_BREAKING, PERIPHERAL, EXITED), logit0,
                                     dt.SEVERITY_CENTRE)
        if draws is not None:
            k, child, neg_logit = draws
            return k, child, 1.0 / (1.0 + np.exp(neg_logit))
        child = pop.age[hit] < dt.CHILD_AGE
        fam = self._fam[hit, None] * share[0][None, :] * child[:, None]
        beh = (self._beh[hit] * dt.STAGE_BEHAVIOUR[model.stage[hit]])[:, None] * share[1][None, :]
        beh[~child] *= ADULT_CHANNELS
        rates = np.concatenate([fam, beh], axis=1)
        cum = np.cumsum(rates, axis=1) / np.maximum(rates.sum(axis=1, keepdims=True), 1e-30)
        k = (u_which[:, None] > cum).sum(axis=1).clip(0, 7)
        sev = dt.severity(pop.x[hit], model.stage[hit])
        return k, child, dt.investigation_prob(sev, model.p["investigation_share"])

    def burn_in(self, model: Any, weeks: int = 156) -> None:
        """Run the process for `weeks` before the start on the initial state (own stream). The
        hazards' risk-factor part is refreshed on the usual schedule: the burn-in's state does
        not change, so the values are those of a refresh every week (which the negative weeks
        used to trigger, a third of a model's set-up)."""
        rng = model.streams.fresh("reports_burn_in")
        start = model.week
        for w in range(-weeks, 0):
            model.week = w
            self.step(model, u=rng.random(model.pop.n, dtype=np.float32), record=False)
        model.week = start
        self._rate_week = None

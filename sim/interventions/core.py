"""All measures of a scenario acting on a model, once a week.

Order within `step` (after the engine's reports of concern and social services):
1. system effects of every measure in force (report channels, information sharing, uptake,
   incapacitation, members' demand for youngers, recruiters' reach, places);
2. universal measures: current-state effects on their members; lasting doses;
3. programmes: intake (offers, consent, waiting list, places), current-state effects on the
   enrolled (and, for household entries, their siblings); lasting doses;
4. the compulsory path (placements), with its own current-state effects;
5. place actions (hot spots, displacement);
6. lasting (developmental) shifts `mu_dev`, `protection_dev` from every measure's doses,
   refreshed every INTAKE_EVERY weeks;
7. costs: budgets while in force, placements per youth-week.

Concurrent current-state effects on one youth do not multiply: on each channel the strongest
applies (Swedish evidence puts casework measures at d ≤ 0.2, priors B). Lasting shifts from
different measures add up (they come from different times of life), clipped by the engine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim import kernels
from sim.interventions.measures import (
    F32,
    INTAKE_EVERY,
    Compulsory,
    Consent,
    Measure,
    PlaceAction,
    Programme,
    SystemChange,
    Universal,
)
from sim.interventions.spec import InterventionSpec
from sim.risk import FACTORS

KINDS = {"universal": Universal, "programme": Programme, "place": PlaceAction,
         "detection": SystemChange, "network": SystemChange, "compulsory": Compulsory}
NK = len(FACTORS)


class InterventionSet:
    """All measures of a scenario acting on a model weekly."""

    def __init__(self, specs: list[InterventionSpec], model: Any):
        self.measures: list[Measure] = [KINDS[s.type](s, model) for s in specs]
        self.universal = [m for m in self.measures if isinstance(m, Universal)]
        self.programmes = [m for m in self.measures if isinstance(m, Programme)]
        self.places = [m for m in self.measures if isinstance(m, PlaceAction)]
        self.compulsory = [m for m in self.measures if isinstance(m, Compulsory)]
        self.consent = Consent(model)
        for m in self.compulsory:
            if m.esc.mandated_contact:
                self.consent.mandate = m.esc
        self.developmental = [m for m in self.measures if m.dev is not None]
        # the lasting doses of all developmental measures as the rows of one array (each
        # measure's `dev` is a view of its row): decayed in one operation, summed in one pass
        self._devs = np.zeros((len(self.developmental), model.pop.n), F32)
        for row, m in zip(self._devs, self.developmental, strict=True):
            row[:] = m.dev
            m.dev = row
        self._dev_eff: np.ndarray | None = None  # their effect rows, stacked at the first use
        self.reports = any(m.reports for m in self.measures)
        self._system = [m for m in self.measures if m._has_system]  # the others do nothing there
        # budgets: what each measure pays a week while in force (as Measure.cost computes it)
        self._budget = [m.spec.cost_sek_per_year * m.spec.scale / 52.0 for m in self.measures]
        self._starts = np.array([m.start_week for m in self.measures], np.int64)
        self._ends = np.array([(1 << 62) if m.end_week is None else m.end_week
                               for m in self.measures], np.int64)
        self._own_cost = np.array([isinstance(m, Compulsory) for m in self.measures], bool)
        self._members = [m.members(model) for m in self.universal]
        self._cache_key: tuple | None = None
        self._on_week = -1
        self._on: tuple = ()
        self._hazards: tuple | None = None  # entry, recruitment, desistance multipliers
        self._dev_week = -1
        self._dev_mult = None
        self._targeted_key: tuple | None = None
        self._prog_enrolled: tuple | None = None  # the programmes' enrolled, and their key
        self._spread_cache: dict[int, tuple] = {}
        self._mu_univ = model.pop.mu
        self._mu_token = 0  # counts the (re)assignments of _mu_univ (its rows may change then)
        self._shift = None

    # ---- cohorts -------------------------------------------------------------------------
    def new_year(self, model: Any, newcomers: np.ndarray) -> None:
        """Cohorts moved: recompute universal target groups; newcomers start afresh."""
        for m in self.measures:
            m.forget(model, newcomers)
        self.consent.forget(model, newcomers)
        self._members = [m.members(model) for m in self.universal]
        self._cache_key = None
        self._hazards = None
        self._targeted_key = None
        self._prog_enrolled = None
        self._spread_cache = {}

    # ---- the weekly step -------------------------------------------------------------------
    def step(self, model: Any) -> None:
        week = model.week
        if self.reports:  # per-youth report multipliers are set anew every week
            model.report_mult[:] = 1.0
            model.report_mult_active = True
        for m in self._system:
            m.apply_system(model, m.level(week) * m.spec.scale)
        self._apply_universal(model, week)
        for m in self.programmes:
            m.intake(model, week, self.consent)
        for m in self.compulsory:
            m.step(model, week, self.consent.declined)
        self._apply_targeted(model, week)
        for m in self.places:
            m.act(model, week)
            m.apply(model)
        if week % INTAKE_EVERY == 0 or self._dev_week < 0:
            self._update_dev(model, week)
        model.cost_this_step += self._week_cost(week)

    def _week_cost(self, week: int) -> float:
        """This week's budgets of the measures in force, added to their ledgers (Measure.cost
        for each, with the same sums: a measure not in force adds 0.0, which changes nothing)."""
        total = 0
        on = (week >= self._starts) & (week < self._ends)
        for k in np.flatnonzero(on | self._own_cost).tolist():
            m = self.measures[k]
            if self._own_cost[k]:  # placements paid per youth-week, to its ledger only
                total += m.cost(week)
            elif on[k]:
                c = self._budget[k]
                m.ledger["cost_sek"] += c
                total += c
        return total

    # ---- universal measures ----------------------------------------------------------------
    def _apply_universal(self, model: Any, week: int) -> None:
        # refreshed every INTAKE_EVERY weeks (a measure starts or stops on a monthly boundary)
        w = week - week % INTAKE_EVERY
        if w != self._on_week:  # who is in force changes only on these boundaries
            self._on_week = w
            self._on = tuple(m.active(w) for m in self.universal)
        on = self._on
        if on != self._cache_key:
            self._cache_key = on
            self._cache = self._universal_arrays(model, on)
            self._mu_univ = self._baseline(model, self._cache[0])
            self._mu_token += 1
            self._hazards = None
            for m, a, idx in zip(self.universal, on, self._members, strict=True):
                if a:
                    m.mark_reached(model, m.spread(model, idx, np.ones(idx.size, F32))[0])
        shift, prot, mult_e, mult_r, rep = self._cache
        if self._hazards is None:
            # the week's starting multipliers, kept until the universal arrays or the lasting
            # effects change: the same float32 products and quotient as applying them weekly
            desist = np.ones(model.pop.n, F32)
            if self._dev_mult is not None:  # lasting hazard effects of developmental measures
                mult_e = mult_e * self._dev_mult[0]
                mult_r = mult_r * self._dev_mult[1]
                desist /= self._dev_mult[2]
            self._hazards = (mult_e, mult_r, desist)
        model.mu_eff = self._mu_univ
        model.protection_boost[:] = prot
        model.entry_mult[:] = self._hazards[0]
        model.recruit_mult[:] = self._hazards[1]
        model.desist_mult[:] = self._hazards[2]
        if rep is not None:
            model.report_mult *= rep

    @staticmethod
    def _baseline(model: Any, shift: np.ndarray | None) -> np.ndarray:
        """Effective baselines: the living baselines and the current-state shift, clipped to
        [0, 1] (the engine adds the lasting shifts `mu_dev` itself)."""
        if shift is None:
            return model.pop.mu
        return np.clip(model.pop.mu + shift, 0.0, 1.0)

    def _universal_arrays(self, model: Any, on: tuple[bool, ...]) -> tuple:
        n = model.pop.n
        mu = np.zeros((n, NK), F32)
        prot, log_e, log_r = (np.zeros(n, F32) for _ in range(3))
        rep = None
        for m, a, idx in zip(self.universal, on, self._members, strict=True):
            if not a or idx.size == 0:
                continue
            slots, dose = m.spread(model, idx, np.ones(idx.size, F32))
            eff = m.current()
            for k in np.flatnonzero(eff[:NK]):
                mu[slots, k] += dose * eff[k]
            for arr, v in ((prot, -eff[NK]), (log_e, eff[NK + 1]), (log_r, eff[NK + 2])):
                if v:
                    arr[slots] += dose * v
            if m.reports:
                rep = np.ones(n, F32) if rep is None else rep
                rep[slots] *= 1.0 + dose * m.reports
        self._shift = mu if mu.any() else None
        return self._shift, prot, np.exp(log_e), np.exp(log_r), rep

    # ---- programmes and the compulsory path -----------------------------------------------
    def _apply_targeted(self, model: Any, week: int) -> None:
        """Current-state effects of the enrolled (strongest per channel), reports, reach.

        Recomputed only when someone starts or finishes (or the universal baselines move)."""
        if week % INTAKE_EVERY and self._prog_enrolled is not None and all(
                m._enrolled_until is not None and week < m._enrolled_until[0]
                for m in self.programmes):
            progs, prog_key = self._prog_enrolled  # nobody starts or ends in any programme
        else:
            progs = [(m, m.enrolled(model, week)) for m in self.programmes]
            prog_key = tuple(idx.tobytes() for _, idx in progs)
            self._prog_enrolled = progs, prog_key
        comp = [(m, m.enrolled(model, week)) for m in self.compulsory]
        enrolled = progs + comp
        key = (id(self._mu_univ), prog_key, *(idx.tobytes() for _, idx in comp))
        if key != self._targeted_key:
            self._targeted_key = key
            self._targeted = self._targeted_arrays(model, enrolled)
        slots, best, rep, mu_eff, mult = self._targeted
        if slots is None:
            return
        if mu_eff is not None:
            model.mu_eff = mu_eff
        if kernels.apply_targeted(slots, best, NK, mult, rep, model.protection_boost,
                                  model.entry_mult, model.recruit_mult, model.desist_mult,
                                  model.report_mult):
            return
        model.protection_boost[slots] -= best[:, NK]
        model.entry_mult[slots] *= mult[0]
        model.recruit_mult[slots] *= mult[1]
        model.desist_mult[slots] *= mult[2]
        if rep is not None:
            model.report_mult[slots] *= rep

    def _targeted_arrays(self, model: Any, enrolled: list) -> tuple:
        parts = []
        for m, idx in enrolled:
            if idx.size == 0:
                continue
            key = idx.tobytes()
            cached = self._spread_cache.get(id(m))
            if cached is None or cached[0] != key:
                slots, dose = m.spread(model, idx, np.ones(idx.size, F32))
                m.mark_reached(model, slots)
                self._spread_cache[id(m)] = cached = (key, slots, dose)
            parts.append((m, cached[1], cached[2]))
        self._enrolled = parts
        if not parts:
            return None, None, None, None, None
        fast = self._strongest_compiled(parts)
        if fast is not None:
            slots, best, rep = fast
        else:
            slots, inv = np.unique(np.concatenate([s for _, s, _ in parts]), return_inverse=True)
            pos = np.split(inv, np.cumsum([s.size for _, s, _ in parts])[:-1])
            best = np.zeros((slots.size, NK + 4), F32)
            rep = None
            for (m, _, dose), at in zip(parts, pos, strict=True):
                eff = m.current()
                for c in np.flatnonzero(eff):
                    np.minimum.at(best[:, c], at, dose * eff[c])
                if m.reports:
                    rep = np.ones(slots.size, F32) if rep is None else rep
                    np.maximum.at(rep, at, 1.0 + dose * m.reports)
        mu_eff = None
        if best[:, :NK].any():
            # one buffer kept for the enrolled's baselines (a fresh copy every week would page
            # in 0.6 MB of new memory); only the latest targeted arrays refer to it. It differs
            # from the universal baselines only in the rows written last time: while those stay
            # the same array, only these rows are put back (0.1 ms a rebuild less than a copy)
            buf = getattr(self, "_mu_buf", None)
            if buf is None or buf.shape != self._mu_univ.shape:
                buf = self._mu_buf = np.empty_like(self._mu_univ)
                self._mu_buf_token = -1
            restore = None
            if self._mu_buf_token == self._mu_token:
                restore = self._mu_buf_slots
            else:
                np.copyto(buf, self._mu_univ)
                self._mu_buf_token = self._mu_token
            mu_eff = buf
            if not kernels.targeted_baselines(buf, self._mu_univ, restore, model.pop.mu,
                                              self._shift, best, slots):
                if restore is not None:
                    buf[restore] = self._mu_univ[restore]
                base = model.pop.mu[slots]
                shift = best[:, :NK] if self._shift is None else \
                    self._shift[slots] + best[:, :NK]
                mu_eff[slots] = np.clip(base + shift, 0.0, 1.0)
            self._mu_buf_slots = slots
        # the hazard multipliers, computed once per change of who takes part (not every week)
        mult = (np.exp(best[:, NK + 1]), np.exp(best[:, NK + 2]), np.exp(-best[:, NK + 3]))
        return slots, best, rep, mu_eff, mult

    def _strongest_compiled(self, parts: list) -> tuple | None:
        """The compiled version of the strongest-effect pass of `_targeted_arrays`, or None."""
        if kernels.ENGINE != "numba":
            return None
        which = tuple(id(m) for m, _, _ in parts)
        tables = getattr(self, "_effect_tables", {})
        if which not in tables:  # the effect vectors of this set of measures (fixed in a run)
            tables[which] = (np.stack([m.current() for m, _, _ in parts]).astype(F32, copy=False),
                             np.array([m.reports for m, _, _ in parts], F32))
            self._effect_tables = tables
        eff, reports = tables[which]
        slots = np.concatenate([np.asarray(s, np.int64) for _, s, _ in parts])
        dose = np.concatenate([d for _, _, d in parts]).astype(F32, copy=False)
        part = np.repeat(np.arange(len(parts)), [s.size for _, s, _ in parts])
        any_rep = bool(reports.any())
        out = kernels.strongest(slots, dose, part, eff, reports, any_rep)
        if out is None:
            return None
        uniq, best, rep = out
        return uniq, best, rep if any_rep else None

    # ---- lasting effects ---------------------------------------------------------------------
    def _update_dev(self, model: Any, week: int) -> None:
        """Lasting doses (1 while taking part, halving every half-life after) → mu_dev."""
        if not self.developmental:
            return
        weeks = 0 if self._dev_week < 0 else week - self._dev_week
        self._dev_week = week
        enrolled = {id(m): (s, d) for m, s, d in getattr(self, "_enrolled", [])}
        # decay, as each measure's `update_dev` would (float32 factor, float32 product)
        self._devs *= np.array([F32(m.decay ** weeks) for m in self.developmental], F32)[:, None]
        for m in self.developmental:
            if isinstance(m, Universal):
                k = self.universal.index(m)
                if not m.active(week):
                    continue
                slots, dose = m.spread(model, self._members[k],
                                       np.ones(self._members[k].size, F32))
            elif id(m) in enrolled:
                slots, dose = enrolled[id(m)]
            else:
                continue
            if slots.size:
                m.dev[slots] = np.maximum(m.dev[slots], dose)
        if self._dev_eff is None:
            self._dev_eff = np.stack([m.behavioural() for m in self.developmental])
        logs = np.zeros((3, model.pop.n), F32)  # lasting log hazards: entry, recruitment, −desist.
        flags = kernels.dev_sums(self._devs, self._dev_eff, model.mu_dev, model.protection_dev,
                                 logs)
        if flags is None:
            flags = self._dev_sums_numpy(model, logs)
        model.mu_dev_active = flags[0]
        self._dev_mult = np.exp(logs) if flags[1] else None
        self._hazards = None
        # The effective baselines need no rebuild here: the engine adds `mu_dev` itself, and the
        # living baselines and target groups move only with the cohorts (`new_year`).

    def _dev_sums_numpy(self, model: Any, logs: np.ndarray) -> tuple[bool, bool]:
        """The lasting shifts of all measures' doses, measure by measure (kernels.dev_sums does
        the same in one pass): whether any factor or protection shift, any log hazard."""
        n = model.pop.n
        mu = np.zeros((n, NK), F32)
        prot = np.zeros(n, F32)
        for m, eff in zip(self.developmental, self._dev_eff, strict=True):
            for k in np.flatnonzero(eff[:NK]):
                mu[:, k] += m.dev * eff[k]
            if eff[NK]:
                prot -= m.dev * eff[NK]
            for j in range(3):
                if eff[NK + 1 + j]:
                    logs[j] += m.dev * eff[NK + 1 + j]
        model.mu_dev[:] = mu
        model.protection_dev[:] = prot
        return bool(mu.any() or prot.any()), bool(logs.any())

    # ---- results ---------------------------------------------------------------------------
    def ledger(self) -> list[dict[str, Any]]:
        """Per measure: id, department, level, type and its counts and cost (see ledger.py)."""
        rows = []
        for m in self.measures:
            row = {"id": m.spec.id, "department": m.spec.department, "level": m.spec.level,
                   "type": m.spec.type, **m.ledger}
            part = row["started"] if m.spec.type in ("programme", "compulsory") else row["reached"]
            if m.spec.type == "universal":
                row["offered"] = row["started"] = row["reached"]
            row["sek_per_participant"] = row["cost_sek"] / part if part else float("nan")
            rows.append(row)
        return rows

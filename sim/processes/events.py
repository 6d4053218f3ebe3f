"""Person-level micro-data: the person table and the event log of one run.

Every person ever in the model has a stable person id (not the reusable array slot). Events are
appended as whole arrays (one call per kind per week, no loop over youths): week, person id,
household, sex, age, district, kind and detail (e.g. "1>2" for a stage change, "police:behaviour" for
a report of concern, a measure id for an intervention start).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

KINDS = ("stage_change", "stage_at_start", "report_of_concern", "investigation", "case_closed",
         "recruited_by", "left_model", "intervention_start", "intervention_end", "offer_declined",
         "placement", "entered_model")


class EventLog:
    """Append-only log of events as chunks of arrays."""

    def __init__(self, model: Any):
        self.model = model
        self._chunks: list[tuple] = []
        self._details: dict[str, int] = {"": 0}
        self._kinds: dict[str, int] = {k: i for i, k in enumerate(KINDS)}
        self.persons: list[pd.DataFrame] = []  # persons who have left the model

    def _code(self, table: dict[str, int], value: str) -> int:
        code = table.get(value)
        if code is None:
            code = table[value] = len(table)
        return code

    def log(self, kind: str, slots: np.ndarray, detail: str | np.ndarray = "") -> None:
        """One row per youth in `slots`; `detail` is one string or one per youth."""
        slots = np.asarray(slots, np.int64)
        if slots.size == 0:
            return
        pop, week = self.model.pop, self.model.week
        k = self._code(self._kinds, kind)
        if isinstance(detail, str):
            det = np.full(slots.size, self._code(self._details, detail), np.int32)
        else:
            det = np.array([self._code(self._details, str(d)) for d in np.unique(detail)], np.int32)
            det = det[np.unique(detail, return_inverse=True)[1]]
        self._chunks.append((np.full(slots.size, week, np.int32), pop.person_id[slots].copy(),
                             pop.household[slots].copy(), pop.boy[slots].copy(),
                             pop.age[slots].copy(), pop.district[slots].copy(),
                             np.full(slots.size, k, np.int16), det))

    def __len__(self) -> int:
        return sum(c[0].size for c in self._chunks)

    def leave(self, slots: np.ndarray) -> None:
        """Youths in `slots` leave the model this week: keep their person rows."""
        self.persons.append(self._person_rows(slots, exit_week=self.model.week))

    def _person_rows(self, slots: np.ndarray, exit_week: int | None) -> pd.DataFrame:
        m, pop = self.model, self.model.pop
        t = m.start_year + m.week / 52.0
        return pd.DataFrame({
            "person_id": pop.person_id[slots], "household": pop.household[slots],
            "sex": np.where(pop.boy[slots], "male", "female"),
            "birth_year": np.round(t - pop.age[slots].astype(np.float64), 3),
            "district": np.asarray(m.city.districts, object)[pop.district[slots]],
            "entry_week": pop.entry_week[slots],
            "exit_week": pd.array([exit_week] * len(slots), dtype="Int32"),
        })

    def person_table(self) -> pd.DataFrame:
        """One row per person ever in the model (those still in it have no exit week)."""
        now = self._person_rows(np.arange(self.model.pop.n), exit_week=None)
        return pd.concat([*self.persons, now], ignore_index=True).sort_values(
            "person_id", ignore_index=True)

    def table(self) -> pd.DataFrame:
        """The event log as a tidy table."""
        cols = ("week", "person_id", "household", "male", "age", "district", "kind", "detail")
        if not self._chunks:
            return pd.DataFrame({c: [] for c in cols})
        arrs = [np.concatenate(parts) for parts in zip(*self._chunks, strict=True)]
        kinds = np.array(list(self._kinds), object)
        details = np.array(list(self._details), object)
        m = self.model
        return pd.DataFrame({
            "week": arrs[0], "year": m.start_year + arrs[0] // 52, "person_id": arrs[1],
            "household": arrs[2], "sex": np.where(arrs[3], "male", "female"),
            "age": np.round(arrs[4].astype(np.float64), 3),
            "district": np.asarray(m.city.districts, object)[arrs[5]],
            "kind": kinds[arrs[6]], "detail": details[arrs[7]],
        })

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


def table_age(age: np.ndarray) -> np.ndarray:
    """Ages as the event table shows them: in years, truncated (not rounded) to three decimals,
    so that a youth counted as a child by the engine (age < 18) is under 18 in the table too;
    rounding showed 17.9996 as 18.0."""
    return np.floor(age.astype(np.float64) * 1000.0) / 1000.0


class EventLog:
    """Append-only log of events as chunks of arrays."""

    def __init__(self, model: Any):
        self.model = model
        self._chunks: list[tuple] = []
        self._details: dict[str, int] = {"": 0}
        self._kinds: dict[str, int] = {k: i for i, k in enumerate(KINDS)}
        self._tables: dict[tuple[str, ...], np.ndarray] = {}  # detail codes of log_coded's labels
        self.persons: list[dict[str, Any]] = []  # persons who have left the model

    def _code(self, table: dict[str, int], value: str) -> int:
        code = table.get(value)
        if code is None:
            code = table[value] = len(table)
        return code

    def log(self, kind: str, slots: np.ndarray, detail: str | np.ndarray = "") -> None:
        """One row per youth in `slots`; `detail` is one string or one per youth.

        Only what changes is captured now (the week, person ids and ages); a person's household,
        sex and district never change and are joined from the person rows when the table is made.
        """
        if len(slots) == 0:
            return
        pop = self.model.pop
        k = self._kinds.get(kind)
        if k is None:
            k = self._code(self._kinds, kind)
        if isinstance(detail, str):
            det: int | np.ndarray = self._code(self._details, detail)
        else:
            values, inverse = np.unique(np.asarray(detail, str), return_inverse=True)
            det = np.array([self._code(self._details, v) for v in values.tolist()],
                           np.int32)[inverse]
        self._chunks.append((self.model.week, k, det, pop.person_id[slots], pop.age[slots]))

    def log_coded(self, kind: str, slots: np.ndarray, labels: tuple[str, ...],
                  which: np.ndarray) -> None:
        """As `log` with detail `labels[which]` (a fixed tuple of labels and an index per youth),
        without making and sorting an array of strings: for a process that logs every week. The
        codes are those `log` would give (new labels coded in sorted order)."""
        if len(slots) == 0:
            return
        table = self._tables.get(labels)
        if table is None or (table[which] < 0).any():  # labels not seen before: code them
            present = np.zeros(len(labels), bool)
            present[which] = True
            for j in sorted(np.flatnonzero(present).tolist(), key=labels.__getitem__):
                self._code(self._details, labels[j])
            table = self._tables[labels] = np.array(
                [self._details.get(label, -1) for label in labels], np.int32)
        pop = self.model.pop
        self._chunks.append((self.model.week, self._code(self._kinds, kind), table[which],
                             pop.person_id[slots], pop.age[slots]))

    def __len__(self) -> int:
        return sum(c[3].size for c in self._chunks)

    def leave(self, slots: np.ndarray) -> None:
        """Youths in `slots` leave the model this week: keep their person rows (as arrays; the
        table is made when asked for)."""
        self.persons.append(self._person_arrays(slots, exit_week=self.model.week))

    def _person_arrays(self, slots: np.ndarray, exit_week: int | None) -> dict[str, Any]:
        m, pop = self.model, self.model.pop
        return {"person_id": pop.person_id[slots], "household": pop.household[slots],
                "boy": pop.boy[slots], "age": pop.age[slots], "district": pop.district[slots],
                "entry_week": pop.entry_week[slots], "week": m.week, "exit_week": exit_week}

    def _person_rows(self, rows: dict[str, Any]) -> pd.DataFrame:
        m = self.model
        t = m.start_year + rows["week"] / 52.0
        return pd.DataFrame({
            "person_id": rows["person_id"], "household": rows["household"],
            "sex": np.where(rows["boy"], "male", "female"),
            "birth_year": np.round(t - rows["age"].astype(np.float64), 3),
            "district": np.asarray(m.city.districts, object)[rows["district"]],
            "entry_week": rows["entry_week"],
            "exit_week": pd.array([rows["exit_week"]] * len(rows["person_id"]), dtype="Int32"),
        })

    def person_table(self) -> pd.DataFrame:
        """One row per person ever in the model (those still in it have no exit week)."""
        now = self._person_arrays(np.arange(self.model.pop.n), exit_week=None)
        return pd.concat([self._person_rows(r) for r in (*self.persons, now)],
                         ignore_index=True).sort_values("person_id", ignore_index=True)

    def person_ids(self, kind: str, detail: str | None = None,
                   age_below: float | None = None) -> np.ndarray:
        """Person ids of the events of `kind` (with `detail`, at an age below `age_below` as the
        table shows it), in the order logged: the same as selecting them from `table()`,
        without making the table (its person join and string columns cost a quarter of a
        second for ten years of the plan)."""
        k = self._kinds.get(kind)
        d = None if detail is None else self._details.get(detail)
        if k is None or (detail is not None and d is None):
            return np.zeros(0, np.int64)
        out = []
        for _week, kc, det, pid, age in self._chunks:
            if kc != k:
                continue
            keep = np.ones(pid.size, bool)
            if d is not None:
                keep &= np.asarray(det) == d
            if age_below is not None:
                keep &= table_age(age) < age_below
            out.append(pid[keep])
        return np.concatenate(out).astype(np.int64, copy=False) if out else np.zeros(0, np.int64)

    def table(self) -> pd.DataFrame:
        """The event log as a tidy table (one row per event, in the order logged)."""
        cols = ("week", "year", "person_id", "household", "sex", "age", "district", "kind",
                "detail")
        if not self._chunks:
            return pd.DataFrame({c: [] for c in cols})
        sizes = np.array([c[3].size for c in self._chunks])
        week = np.repeat(np.array([c[0] for c in self._chunks], np.int32), sizes)
        kind = np.repeat(np.array([c[1] for c in self._chunks], np.int16), sizes)
        det = np.concatenate([np.broadcast_to(np.asarray(c[2], np.int32), (c[3].size,))
                              for c in self._chunks])
        pid = np.concatenate([c[3] for c in self._chunks])
        age = np.concatenate([c[4] for c in self._chunks])
        persons = self.person_table().set_index("person_id")
        who = persons.loc[pid]
        m = self.model
        return pd.DataFrame({
            "week": week, "year": m.start_year + week // 52, "person_id": pid,
            "household": who["household"].to_numpy(), "sex": who["sex"].to_numpy(),
            "age": table_age(age), "district": who["district"].to_numpy(),
            "kind": np.array(list(self._kinds), object)[kind],
            "detail": np.array(list(self._details), object)[det],
        })

"""Typed tables: the types, units and descriptions of every column the package writes.

`typed(df, table)` gives a table its types (ordered categoricals for stage and district, plain
categoricals for scenario, flow and factor, integers for counts); `write_parquet` writes it with
each column's unit and description in the Parquet schema metadata (field metadata keys `unit`
and `description`, and the table's description under `table`). docs/data_dictionary.md is the
same information for people (tests check that it lists every column).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

STAGE_ORDER = ("none", "norm_breaking", "peripheral", "member", "exited")

#: column → (unit, description); shared by all tables
COLUMNS: dict[str, tuple[str, str]] = {
    "scenario": ("", "scenario name (the `name` field of the scenario file)"),
    "replicate": ("", "replicate number r; replicate r of every scenario uses the same seed"),
    "seed": ("", "the seed of this replicate (derived from the base seed and r)"),
    "step": ("week", "weeks since the start of the run (0 = first week)"),
    "year": ("calendar year", "calendar year of the step"),
    "week": ("week of year", "week within the year, 0-51"),
    "district": ("", "one of Umeå's ten districts, in the order of sim/data/umea.yaml"),
    "stage": ("", "involvement stage: none < norm_breaking < peripheral < member < exited"),
    "count": ("youths", "number of youths (stages) or events in the week (flows)"),
    "flow": ("", "kind of event: entry (0→1), recruited_<layer> (1→2 through peer, sibling, "
                 "school or place), recruited_u18, recruited_male, new_members (2→3), "
                 "new_members_u18, new_members_male, exits, turned_away, reports_<channel>, "
                 "reports_behaviour, children_reported, investigations, reached, placements"),
    "factor": ("", "risk factor key (DESIGN §2), or visible_criminals_public_space"),
    "mean": ("score 0-1", "mean of the risk factor over the district's youths"),
    "active_members": ("persons", "active criminal-network members (youths and adults)"),
    "youth_members": ("persons", "active members who are youths of the model (aged ≤ 20)"),
    "incarcerated": ("persons", "members in prison"),
    "open_demand": ("youngers", "places for new youngers that recruiters still want"),
    "close_13_19": ("youths", "13-19-year-olds at stage 2 or 3"),
    "pop_13_19": ("youths", "13-19-year-olds in the model"),
    "cost_sek": ("SEK", "cost of the measures in force in the week"),
    "active_men": ("persons", "active network members who are men"),
    "peripheral_recruiters": ("persons", "peripheral youths aged 15+ who recruit youngers"),
    "outside_youngers": ("youths", "youngers recruited from outside the modelled youths"),
    "expired_slots": ("places", "open places for youngers that expired into outside youngers"),
    "norm_13_19": ("youths", "13-19-year-olds at stage 1 (norm-breaking)"),
    "known": ("youths", "youths known to social services (an open case)"),
    "children": ("youths", "youths under 18 in the model"),
    # micro-data (uvts run --events)
    "person_id": ("", "stable id of a person over the run"),
    "household": ("", "household id"),
    "sex": ("", "female or male"),
    "age": ("years", "age at the event"),
    "age_band": ("years", "age band: 3-5 < 6-12 < 13-17 < 18-20"),
    "kind": ("", "kind of event (stage_change, report, intervention_start, …)"),
    "detail": ("", "detail of the event, e.g. '1>2' for a stage change"),
    "birth_year": ("decimal year", "year of birth"),
    "entry_week": ("week", "step at which the person entered the model"),
    "exit_week": ("week", "step at which the person left the model (empty if still in it)"),
}

TABLES = {
    "stages": "youths per week, district and stage, per scenario and replicate",
    "flows": "events per week, district and kind (entries, recruitments by layer, new members, "
             "exits, detections)",
    "risk": "mean risk factors per district, every fourth week",
    "network": "the criminal network and cost per week",
}

INTEGER = {"replicate", "step", "year", "week", "count", "active_members", "youth_members",
           "incarcerated", "open_demand", "close_13_19", "pop_13_19", "active_men",
           "peripheral_recruiters", "outside_youngers", "expired_slots", "norm_13_19", "known",
           "children"}


def _districts() -> tuple[str, ...]:
    from sim.population import load_city

    return tuple(load_city().districts)


def _as_categorical(s: pd.Series, categories: list[str] | None = None,
                    ordered: bool = False) -> pd.Categorical:
    """`pd.Categorical(s.astype(str), categories, ordered)`, with `categories` defaulting to the
    values in order of first appearance, computed on the distinct values only: a table of a
    million rows has a few dozen (element-wise work on pandas' Arrow strings cost seconds)."""
    codes, uniques = pd.factorize(s.astype(str))  # missing values: code -1
    uniques = [str(u) for u in uniques]
    cats = uniques if categories is None else list(categories)
    where = {c: k for k, c in enumerate(cats)}
    remap = np.array([where.get(u, -1) for u in uniques] + [-1], np.int64)  # [-1]: missing
    return pd.Categorical.from_codes(remap[codes], categories=cats, ordered=ordered)


def typed(df: pd.DataFrame, table: str = "") -> pd.DataFrame:
    """A copy of `df` with the documented types: stage and district ordered categoricals,
    scenario/flow/factor categoricals, integer counts (float counts are checked to be whole)."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if col == "stage":
            out[col] = _as_categorical(s, STAGE_ORDER, ordered=True)
        elif col == "district":
            cats = list(_districts())
            extra = sorted(set(pd.unique(s.astype(str))) - set(cats))
            out[col] = _as_categorical(s, cats + extra, ordered=True)
        elif col == "age_band":
            from sim.results import AGE_BAND_LABELS

            out[col] = _as_categorical(s, list(AGE_BAND_LABELS), ordered=True)
        elif col in ("scenario", "flow", "factor", "sex", "kind"):
            out[col] = _as_categorical(s)
        elif col == "seed":
            out[col] = s.astype(np.int64)
        elif col in INTEGER and not isinstance(s.dtype, pd.CategoricalDtype):
            v = s.to_numpy()
            if v.dtype.kind == "f":
                if not np.all(np.isfinite(v)) or np.any(v != np.round(v)):
                    continue  # not whole numbers: keep as they are rather than lose information
            out[col] = v.astype(np.int64 if col in ("step", "year", "seed") else np.int32)
    return out


def arrow_table(df: pd.DataFrame, table: str = "") -> pa.Table:
    """`typed(df)` as an Arrow table with units and descriptions in the schema metadata."""
    at = pa.Table.from_pandas(typed(df, table), preserve_index=False)
    fields = []
    for f in at.schema:
        unit, desc = COLUMNS.get(f.name, ("", ""))
        meta = {b"unit": unit.encode(), b"description": desc.encode()}
        fields.append(f.with_metadata(meta))
    meta = dict(at.schema.metadata or {})
    meta[b"table"] = TABLES.get(table, table).encode()
    meta[b"uvts_columns"] = json.dumps({f.name: COLUMNS.get(f.name, ("", ""))
                                        for f in at.schema}, ensure_ascii=False).encode()
    return at.cast(pa.schema(fields, metadata=meta))


def write_parquet(df: pd.DataFrame, path: str | Path, table: str | None = None) -> Path:
    """Write `df` typed and documented, atomically (temporary file, then rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(arrow_table(df, table or path.stem), tmp)
    os.replace(tmp, path)
    return path


def column_docs(path: str | Path) -> dict[str, dict[str, str]]:
    """The unit and description of every column of a Parquet file written here."""
    schema = pq.read_schema(path)
    return {f.name: {k.decode(): v.decode() for k, v in (f.metadata or {}).items()}
            for f in schema}

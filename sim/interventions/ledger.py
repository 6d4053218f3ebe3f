"""Per-measure and per-level ledgers: what each measure did and cost.

Columns per measure (one row per run and measure, `InterventionSet.ledger`):
- `offered`   offers made (programmes: each youth at most once; universal: youths in the group
              who took part; the compulsory path: placements decided);
- `declined`  offers the guardians declined;
- `mandated`  declines turned into participation by mellantvång;
- `waiting_end`, `waiting_mean`, `waiting_peak`  the waiting list (referral programmes) at the
              end, on average over intake rounds, at its longest;
- `started`   youths who started (universal: = reached);
- `completed` youths who finished their course or stay (programmes, placements; universal
              measures have no course to finish: 0);
- `reached`   distinct youths the measure acted on, siblings of household entries included;
- `placements` the compulsory path's placements;
- `cost_sek`  what was paid (budgets while in force; placements per youth-week);
- `sek_per_participant`  cost per started youth (universal: per reached youth).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COUNTS = ("offered", "declined", "mandated", "started", "completed", "reached", "placements",
          "waiting_end", "cost_sek")
KEYS = ("scenario", "replicate")


def by_group(ledger: pd.DataFrame, group: str) -> pd.DataFrame:
    """Sums per scenario, replicate and `group` (`level` or `department`), with SEK per
    participant (cost over started youths, universal measures counted by youths reached)."""
    df = ledger.copy()
    df["participants"] = np.where(df["type"] == "universal", df["reached"], df["started"])
    keys = [k for k in KEYS if k in df.columns] + [group]
    cols = [c for c in (*COUNTS, "participants") if c in df.columns]
    out = df.groupby(keys, sort=False)[cols].sum().reset_index()
    out["sek_per_participant"] = out["cost_sek"] / out["participants"].where(
        out["participants"] > 0)
    return out


def mean_over_replicates(ledger: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean of every numeric column over replicates, per scenario and `keys`."""
    num = [c for c in ledger.columns if c not in (*KEYS, *keys, "department", "level", "type",
                                                  "id")]
    return ledger.groupby(["scenario", *keys], sort=False)[num].mean().reset_index()


def ledger_tables(ledger: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The per-measure ledger (mean over replicates) and per-level and per-department sums."""
    if ledger.empty:
        return {}
    per = ledger.groupby(["scenario", "id", "department", "level", "type"], sort=False)[
        [c for c in ledger.columns if c not in (*KEYS, "id", "department", "level", "type")]
    ].mean().reset_index()
    return {
        "ledger": per,
        "ledger_by_level": mean_over_replicates(by_group(ledger, "level"), ["level"]),
        "ledger_by_department": mean_over_replicates(by_group(ledger, "department"),
                                                     ["department"]),
    }

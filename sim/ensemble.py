"""Runs and comparisons over a calibrated ensemble, with each measure's effect drawn from its
documented range: uncertainty in parameters, effects and chance.

Replicate r of a run with base seed s draws, from named streams of (s, r) only:
- a parameter set: particle i of the ensemble with probability weight_i
  (`make_stream(s, "ensemble.parameters", r)`);
- every effect of every measure: triangular on its documented `range` with the mode at its
  `value` (a point value at an end of the range gives a one-sided triangle; a range of zero
  width gives the value), by inversion of one uniform from
  `make_stream(s, "ensemble.effects", r, crc32(measure id), crc32(acts_on), k)`;
- and the model seed `replicate_seed(s, r)` as before.
So the two scenarios of a pair share the parameter set, the seed and the draw of every measure
they have in common, and a measure's draw does not depend on which other measures are present.
A scenario's own `parameters:` win over the ensemble's values (they are the scenario's lever).
Sweeps (sim.sweep, `ensemble:` in an experiment) draw the same way with the key (point, r)
instead of (r,) and the experiment's seed; there the swept and fixed values win too.

Where the width of an interval comes from: `decompose` re-runs the comparison with parts held
fixed (parameters at the posterior's marginal medians, effects at their point values) and
compares variances of the paired difference:
    parameters ≈ Var(all vary) − Var(parameters fixed),
    effects    ≈ Var(all vary) − Var(effects fixed),
    chance     ≈ Var(both fixed: only the seed varies),
each clipped at zero and shown as a share of their sum (interactions are not separated).
"""

from __future__ import annotations

import argparse
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import InputError
from sim.rng import make_stream

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ENSEMBLE = REPO_ROOT / "calibration" / "umea" / "ensemble.parquet"
NOT_PARAMETERS = {"generation", "particle", "weight", "weight_raw", "distance"}
MIN_BEYOND = 5  # replicates wanted beyond each end of an interval for its ends to be stable


class EnsembleError(InputError):
    """An ensemble file is missing or invalid."""


@dataclass(frozen=True)
class Ensemble:
    """Parameter sets with weights (a calibrated posterior)."""

    path: str
    params: pd.DataFrame
    weights: np.ndarray

    def __len__(self) -> int:
        return len(self.params)

    def draw(self, seed: int, *key: int) -> tuple[int, dict[str, float]]:
        """The particle of replicate r (`key` = (r,); in a sweep (point, r)), drawn by weight
        from its own stream."""
        u = make_stream(seed, "ensemble.parameters", *key).random()
        i = int(np.searchsorted(np.cumsum(self.weights), u * self.weights.sum(), side="right"))
        i = min(i, len(self.weights) - 1)
        return i, {k: float(v) for k, v in self.params.iloc[i].items()}

    def median(self) -> dict[str, float]:
        """Weighted marginal medians."""
        from sim.calibrate import weighted_quantiles

        return {c: weighted_quantiles(self.params[c].to_numpy(), self.weights, (0.5,))[0]
                for c in self.params.columns}


def load_ensemble(path: str | Path) -> Ensemble:
    """Read an ensemble table (Parquet or CSV): a `weight` column and one column per model
    parameter (other columns: generation, particle, distance, sim.* are ignored)."""
    from sim.params import load_parameters

    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise EnsembleError(where, "(file)", "an existing ensemble file (uvts calibrate writes "
                            "calibration/<name>/ensemble.parquet)")
    try:
        df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - any reader error is a bad file
        raise EnsembleError(where, "(file)", f"a Parquet or CSV table ({exc})") from None
    if "weight" not in df.columns:
        raise EnsembleError(where, "weight", "a column of particle weights")
    w = pd.to_numeric(df["weight"], errors="coerce").to_numpy(float)
    if len(w) == 0 or not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise EnsembleError(where, "weight", "finite weights ≥ 0 with a positive sum")
    specs = load_parameters()
    cols = [c for c in df.columns if c not in NOT_PARAMETERS and not c.startswith("sim.")]
    if not cols:
        raise EnsembleError(where, "(columns)", "at least one parameter column")
    for c in cols:
        if c not in specs:
            raise EnsembleError(where, c, "a parameter of sim/data/parameters.yaml")
        for v in df[c]:
            specs[c].check(v, where)
    return Ensemble(str(path), df[cols].astype(float).reset_index(drop=True), w / w.sum())


def triangular(lo: float, mode: float, hi: float, u: float | np.ndarray) -> float | np.ndarray:
    """Inverse CDF of the triangular distribution on [lo, hi] with its mode."""
    if hi <= lo:
        return np.full_like(np.asarray(u, float), mode) if np.ndim(u) else float(mode)
    c = (mode - lo) / (hi - lo)
    u = np.asarray(u, float)
    out = np.where(u < c, lo + np.sqrt(u * (hi - lo) * (mode - lo)),
                   hi - np.sqrt((1 - u) * (hi - lo) * (hi - mode)))
    return float(out) if out.ndim == 0 else out


def draw_effects(specs: Sequence, seed: int, *key: int) -> list:
    """The measures with every effect value drawn for replicate r (`key` = (r,); in a sweep
    (point, r)); see the module docstring."""
    out = []
    for spec in specs:
        effects, seen = [], {}
        for e in spec.effects:
            k = seen[e.acts_on] = seen.get(e.acts_on, -1) + 1
            u = make_stream(seed, "ensemble.effects", *key, zlib.crc32(spec.id.encode()),
                            zlib.crc32(e.acts_on.encode()), k).random()
            lo, hi = e.range
            effects.append(e.model_copy(update={"value": triangular(lo, e.value, hi, u)}))
        out.append(spec.model_copy(update={"effects": effects}))
    return out


@dataclass(frozen=True)
class Draws:
    """What varies between replicates: `ensemble` (None: fixed parameters), `effects`
    ('drawn' or 'point'), and for decompositions, parameters held at the posterior median."""

    ensemble: Ensemble | None = None
    effects: str = "point"
    params_at_median: bool = False

    @property
    def active(self) -> bool:
        return self.ensemble is not None or self.effects == "drawn"

    def describe(self) -> str:
        p = "fixed parameters" if self.ensemble is None else (
            f"parameters from {self.ensemble.path} ({len(self.ensemble)} sets, by weight)"
            if not self.params_at_median else "parameters at the posterior median")
        e = ("effects drawn per replicate, triangular on each documented range with the mode at "
             "the value" if self.effects == "drawn" else "effects at their point values")
        return f"{p}; {e}; paired seeds"


def draw_inputs(draws: Draws, scen, seed: int, key: tuple[int, ...],
                overrides: dict | None, specs: list) -> tuple[int | None, dict, list]:
    """The drawn inputs of one evaluation keyed by `key` ((r,) in runs and comparisons,
    (point, r) in sweeps): the particle (None when not drawn), the parameter overrides with the
    particle's values for every parameter that neither the scenario nor `overrides` sets, and
    the measures with their effects drawn (with `effects: drawn`)."""
    particle = None
    overrides = dict(overrides or {})
    if draws.ensemble is not None:
        if draws.params_at_median:
            params = draws.ensemble.median()
        else:
            particle, params = draws.ensemble.draw(seed, *key)
        own = set(scen.parameters) | set(overrides)
        overrides |= {k: v for k, v in params.items() if k not in own}
    if draws.effects == "drawn":
        specs = draw_effects(specs, seed, *key)
    return particle, overrides, specs


def draw_task(task: tuple, draws: Draws | None) -> tuple:
    """A `run_replicate` argument tuple (scenario, replicate, seed[, overrides[, specs, ...]])
    with the replicate's parameter set and effects drawn in (further arguments are kept);
    unchanged when nothing is drawn."""
    if draws is None or not draws.active:
        return task
    scen, r, seed = task[:3]
    overrides = task[3] if len(task) > 3 else None
    specs = task[4] if len(task) > 4 and task[4] is not None else scen.specs()
    _, overrides, specs = draw_inputs(draws, scen, seed, (r,), overrides, specs)
    return (scen, r, seed, overrides, specs, *task[5:])


def draw_table(scens: Sequence, reps: int, seed: int, draws: Draws) -> pd.DataFrame:
    """Per replicate: the particle drawn and its parameters (for the record)."""
    rows = []
    for r in range(reps):
        row: dict = {"replicate": r}
        if draws.ensemble is not None and not draws.params_at_median:
            i, p = draws.ensemble.draw(seed, r)
            row |= {"particle": i, **p}
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- options


def add_arguments(parser: argparse.ArgumentParser, compare: bool = False) -> None:
    """--ensemble FILE, --no-ensemble, --effects; for compare also --decompose."""
    parser.add_argument("--ensemble", metavar="FILE", default=None,
                        help="calibrated ensemble (Parquet/CSV with weight and parameter "
                             f"columns); default: {DEFAULT_ENSEMBLE.relative_to(REPO_ROOT)} if "
                             "it exists, otherwise fixed parameters")
    parser.add_argument("--no-ensemble", action="store_true",
                        help="fixed default parameters and point effects")
    parser.add_argument("--effects", choices=("drawn", "point"), default=None,
                        help="draw each measure's effect from its range per replicate (default "
                             "with an ensemble) or use the point values (default without)")
    if compare:
        parser.add_argument("--decompose", action="store_true",
                            help="also split the variance of the difference into parameters, "
                                 "effects and chance (runs every pair 3 more times)")


def from_args(args: argparse.Namespace) -> Draws | None:
    """The draws asked for on the command line (None: the fixed defaults)."""
    if getattr(args, "no_ensemble", False):
        if getattr(args, "ensemble", None):
            raise InputError("command line", "--ensemble", "either --ensemble or --no-ensemble")
        return None
    path = getattr(args, "ensemble", None)
    ens = load_ensemble(path) if path else (
        load_ensemble(DEFAULT_ENSEMBLE) if DEFAULT_ENSEMBLE.is_file() else None)
    effects = getattr(args, "effects", None) or ("drawn" if ens is not None else "point")
    d = Draws(ens, effects)
    return d if d.active else None


# ---------------------------------------------------------------------------- summaries


def _headline() -> str:
    from sim.compare import HEADLINE

    return HEADLINE


def probability_of_benefit(rep: pd.DataFrame, first: str, value: str | None = None
                           ) -> pd.DataFrame:
    """Per other scenario: the share of paired replicates in which `first` has fewer
    `value` (default: compare's headline, children drawn into the periphery) than it (ties
    count half), computed pair by pair."""
    value = value or _headline()
    ref = rep[rep["scenario"] == first].set_index("replicate")[value]
    rows = []
    for name, g in rep[rep["scenario"] != first].groupby("scenario", sort=False):
        other = g.set_index("replicate")[value]
        a, b = ref.reindex(other.index).to_numpy(float), other.to_numpy(float)
        fewer, ties = float(np.mean(a < b)), float(np.mean(a == b))
        rows.append({"scenario": name, "p_first_fewer": fewer + 0.5 * ties,
                     "p_first_fewer_strict": fewer, "p_tie": ties, "pairs": len(b)})
    return pd.DataFrame(rows)


def interval_warning(n: int, level: float = 0.90) -> str | None:
    """A warning when too few replicates lie beyond each end of a `level` interval."""
    tail = (1 - level) / 2
    need = int(np.ceil(MIN_BEYOND / tail - 1e-9))
    if n * tail < MIN_BEYOND - 1e-9:
        return (f"only {n} paired replicates: about {n * tail:.1f} lie beyond each end of the "
                f"{level:.0%} interval, so its ends are unstable; use at least {need} "
                f"(--replicates {need})")
    return None


def variance_shares(var_all: float, var_no_params: float, var_no_effects: float,
                    var_chance: float) -> dict[str, float]:
    """Shares of the paired difference's variance from parameters, effects and chance."""
    parts = {"parameters": max(var_all - var_no_params, 0.0),
             "effects": max(var_all - var_no_effects, 0.0), "chance": max(var_chance, 0.0)}
    total = sum(parts.values())
    shares = {k: (v / total if total > 0 else float("nan")) for k, v in parts.items()}
    return {**{f"share_{k}": v for k, v in shares.items()}, "var_all": var_all,
            "var_parameters_fixed": var_no_params, "var_effects_fixed": var_no_effects,
            "var_chance_only": var_chance}


def decompose(scens: Sequence, reps: int, seed: int, draws: Draws, workers: int,
              rep_all: pd.DataFrame, value: str | None = None,
              progress: bool = False) -> pd.DataFrame:
    """Re-run the comparison with parameters and/or effects held fixed (3 more runs of every
    pair); one row per other scenario with the variance shares of the paired difference
    `value`(other) − `value`(first) (see the module docstring)."""
    from sim import runner
    from sim.compare import paired, per_replicate

    first = scens[0].name
    value = value or _headline()

    def variances(rep: pd.DataFrame) -> pd.Series:
        return paired(rep, first, [], value).groupby("scenario", sort=False)["diff"].var(ddof=1)

    variants = {"parameters_fixed": Draws(draws.ensemble, draws.effects, True),
                "effects_fixed": Draws(draws.ensemble, "point", False),
                "chance_only": Draws(draws.ensemble, "point", True)}
    var = {"all": variances(rep_all)}
    for key, d in variants.items():
        tasks = [draw_task((s, r, seed), d) for s in scens for r in range(reps)]
        var[key] = variances(per_replicate(runner.run_many(tasks, workers, desc=key,
                                                           progress=progress)))
    rows = []
    for name in var["all"].index:
        rows.append({"scenario": name, **variance_shares(
            float(var["all"][name]), float(var["parameters_fixed"][name]),
            float(var["effects_fixed"][name]), float(var["chance_only"][name]))})
    return pd.DataFrame(rows)


def report(summary: pd.DataFrame, decomposition: pd.DataFrame | None, draws: Draws | None,
           reps: int, labels: dict[str, str]) -> None:
    """Print the probability of benefit, the variance shares and the replicate warning."""
    print("uncertainty: " + (draws.describe() if draws else
                             "fixed parameters; effects at their point values; paired seeds"))
    first = summary["scenario"].iloc[0]
    for _, row in summary.iloc[1:].iterrows():
        print(f"P({labels.get(first, first)} has fewer children drawn in ({_headline()}) than "
              f"{labels.get(row['scenario'], row['scenario'])}) = {row['p_first_fewer']:.2f} "
              f"(pair by pair over {reps} replicates; ties count half)")
    if decomposition is not None:
        for _, row in decomposition.iterrows():
            print(f"variance of the difference vs {labels.get(row['scenario'], row['scenario'])}"
                  f": parameters {row['share_parameters']:.0%}, effects "
                  f"{row['share_effects']:.0%}, chance {row['share_chance']:.0%}")
    warn = interval_warning(reps)
    if warn:
        print(f"warning: {warn}")


def attach(summary: pd.DataFrame, rep: pd.DataFrame, first: str, reps: int) -> pd.DataFrame:
    """The summary table with the probability of benefit (and a warning column)."""
    pb = probability_of_benefit(rep, first)
    out = summary.merge(pb[["scenario", "p_first_fewer", "p_tie"]], on="scenario", how="left")
    if not pb.empty:  # the headline sits on the evaluated scenario's row: against the counterfactual
        first_row = out["scenario"] == first
        out.loc[first_row, "p_first_fewer"] = pb["p_first_fewer"].iloc[0]
        out.loc[first_row, "p_tie"] = pb["p_tie"].iloc[0]
    out["interval_warning"] = interval_warning(reps) or ""
    return out

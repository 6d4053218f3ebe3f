"""Parameter sweeps: design, tasks, parallel execution, results streamed to disk, resume.

A sweep turns an `Experiment` into a design (one row per parameter point; SALib's Morris and
Saltelli/Sobol samplers, a full grid, or scipy's Latin hypercube) and into tasks, one per
(point, replicate). Replicate r of every point runs with the same seed `replicate_seed(seed, r)`,
and both scenarios of a pair run with that seed too: common random numbers throughout.

Tasks run on a local process pool (workers reused, BLAS pinned to one thread) or on a Dask
cluster. Results are appended to `OUT/runs/part-NNNNNN.parquet` as they arrive (every
`chunk_rows` runs or `flush_seconds`, each file written to a temp name and renamed), failures to
`OUT/failures/`. Running the same experiment on the same directory again skips finished tasks
and retries failed ones; a different experiment is refused.

Layout of OUT: manifest.json, design.parquet, runs/, failures/, results.parquet|csv (one row
per point and replicate: parameters then outputs), failures.parquet|csv (tasks still failing).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import json
import math
import multiprocessing
import os
import platform
import signal
import socket
import subprocess
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.ensemble import draw_inputs
from sim.errors import InputError
from sim.experiment import REPO_ROOT, Experiment, model_parameters
from sim.interventions import groups as measure_groups
from sim.interventions.groups import is_group_name
from sim.rng import replicate_seed

Evaluate = Callable[[str | None, dict[str, float], int], Mapping[str, float]]
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
              "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
MANIFEST = "manifest.json"
FORMAT_VERSION = 1


# ---------------------------------------------------------------------------- models

def ishigami_summary(scenario: str | None, overrides: Mapping[str, float],
                     seed: int) -> dict[str, float]:
    """Ishigami test function y = sin x1 + a sin² x2 + b x3⁴ sin x1 + noise.

    `noise` = noise_sd · N(0, 1) drawn from `seed` (0 by default); also returned as an output.
    """
    p = {n: s.value for n, s in model_parameters("ishigami").items()} | dict(overrides)
    noise = p["noise_sd"] * float(np.random.default_rng(seed).standard_normal())
    s1 = math.sin(p["x1"])
    y = s1 + p["a"] * math.sin(p["x2"]) ** 2 + p["b"] * p["x3"] ** 4 * s1 + noise
    return {"y": y, "noise": noise}


def _model_function(model: str) -> Evaluate:
    if model == "ishigami":
        return ishigami_summary
    return importlib.import_module("sim.runner").run_summary


# ---------------------------------------------------------------------------- design

def salib_problem(exp: Experiment) -> dict[str, Any]:
    """The SALib problem dict of an experiment."""
    names = list(exp.parameters)
    return {"num_vars": len(names), "names": names,
            "bounds": [list(exp.parameters[n]) for n in names]}


def build_design(exp: Experiment) -> pd.DataFrame:
    """One row per parameter point (index `point`), one column per varied parameter."""
    problem = salib_problem(exp)
    if exp.method == "morris":
        from SALib.sample import morris

        x = morris.sample(problem, exp.samples, num_levels=exp.levels, seed=exp.seed)
    elif exp.method == "sobol":
        from SALib.sample import sobol

        x = sobol.sample(problem, exp.samples, calc_second_order=exp.second_order,
                         scramble=True, seed=exp.seed)
    elif exp.method == "grid":
        axes = [np.linspace(lo, hi, exp.samples) for lo, hi in problem["bounds"]]
        x = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(axes))
    else:
        from scipy.stats import qmc

        lo, hi = np.array(problem["bounds"]).T
        x = qmc.scale(qmc.LatinHypercube(d=len(lo), rng=exp.seed).random(exp.samples), lo, hi)
    design = pd.DataFrame(np.asarray(x, dtype=float), columns=problem["names"])
    design.index.name = "point"
    return design


@dataclass(frozen=True)
class Task:
    """One run: a parameter point and a replicate, with its seed."""

    task_id: int
    point: int
    replicate: int
    seed: int


def make_tasks(n_points: int, replicates: int, seed: int) -> list[Task]:
    """Tasks in (point, replicate) order; replicate r has the same seed at every point."""
    seeds = [replicate_seed(seed, r) for r in range(replicates)]
    return [Task(p * replicates + r, p, r, seeds[r])
            for p in range(n_points) for r in range(replicates)]


# ---------------------------------------------------------------------------- one task

@dataclass(frozen=True)
class Job:
    """What every task of a sweep needs besides its own point (small and picklable)."""

    model: str
    scenarios: tuple[str, ...]
    labels: tuple[str, ...]
    difference: bool
    outputs: tuple[str, ...]
    fixed: dict[str, float]
    evaluate: Evaluate | None = None
    draws: Any = None           # sim.ensemble.Draws, or None: fixed parameters, point effects
    seed: int = 0               # the experiment's seed (keys the draws with point, replicate)
    years: int | None = None    # horizon replacing the scenarios' own
    # digests of the scenarios as the submitting process read them: workers (also long-lived
    # Dask workers) re-read a scenario whose files changed since they last read it
    scenario_digests: tuple[str, ...] = ()


def make_job(exp: Experiment, evaluate: Evaluate | None = None) -> Job:
    """The Job of an experiment; `evaluate` replaces the model (tests, custom hooks)."""
    draws = None
    if exp.model == "uvts" and (exp.ensemble is not None or exp.effects == "drawn"):
        from sim.ensemble import Draws, load_ensemble

        ens = load_ensemble(exp.ensemble) if exp.ensemble is not None else None
        draws = Draws(ens, exp.effects)
    digests = tuple(_scenario_digest(exp.model, p) for p in exp.scenarios) \
        if exp.model == "uvts" and (draws is not None or exp.groups) else ()
    return Job(exp.model, tuple(str(p) for p in exp.scenarios), exp.labels, exp.difference,
               exp.outputs, dict(exp.fixed), evaluate, draws, exp.seed, exp.years, digests)


def _pick(summary: Mapping[str, float], outputs: Iterable[str]) -> dict[str, float]:
    missing = [o for o in outputs if o not in summary]
    if missing:
        raise KeyError(f"outputs {missing} not in the model's summary; it has {sorted(summary)}")
    return {o: float(summary[o]) for o in outputs}


@functools.lru_cache(maxsize=8)
def _scenario(path: str, digest: str = "") -> tuple[Any, tuple]:
    """A scenario and its measures, read once per worker process (per digest: read again
    when the submitting process saw other contents)."""
    scen = importlib.import_module("sim.scenario").load_scenario(path)
    return scen, tuple(scen.specs())


def _inputs(job: Job, path: str, overrides: dict[str, float], seed: int, point: int,
            replicate: int) -> tuple[Any, dict[str, float], dict[str, Any], int | None]:
    """What the model of one scenario gets at one point: (the scenario: its path for a hook,
    the scenario object for the model), the parameter overrides, further keyword arguments
    (`specs`, `years`) and the particle drawn (None without an ensemble).

    The draws are keyed by (experiment seed, point, replicate) only, so every scenario of a
    pair gets the same particle and the same draw of every measure they share; swept and fixed
    values win over the particle (sim.ensemble.draw_inputs), then group scalings multiply the
    measures' behavioural effects (sim.interventions.groups.scale)."""
    scalings = {k: v for k, v in overrides.items() if is_group_name(k)}
    plain = {k: v for k, v in overrides.items() if not is_group_name(k)}
    extra: dict[str, Any] = {}
    if job.years is not None:
        extra["years"] = job.years
    if job.model != "uvts" or (job.draws is None and not scalings):
        return path, plain, extra, None
    digest = dict(zip(job.scenarios, job.scenario_digests, strict=False)).get(path, "")
    scen, specs = _scenario(path, digest)
    particle = None
    specs = list(specs)
    if job.draws is not None:
        particle, plain, specs = draw_inputs(job.draws, scen, job.seed, (point, replicate),
                                             plain, specs)
    if scalings:
        specs = measure_groups.scale(specs, scalings)
    extra["specs"] = specs
    return (path if job.evaluate else scen), plain, extra, particle


def evaluate_point(job: Job, params: Mapping[str, float], seed: int, point: int = 0,
                   replicate: int = 0) -> dict[str, float]:
    """Run every scenario of the job at one point with one seed; return the output columns
    (and `particle`, the ensemble's parameter set used, when the job draws from one)."""
    fn = job.evaluate or _model_function(job.model)
    overrides = {**job.fixed, **{k: float(v) for k, v in params.items()}}
    scenarios = job.scenarios or (None,)
    values, particles = [], set()
    for s in scenarios:
        target, over, extra, particle = (s, dict(overrides), {}, None) if s is None else \
            _inputs(job, s, dict(overrides), seed, point, replicate)
        values.append(_pick(fn(target, over, seed, **extra), job.outputs))
        particles.add(particle)
    if len(particles) != 1:  # cannot happen: the draw depends on (seed, point, replicate) only
        raise RuntimeError(f"scenarios of point {point} drew different particles {particles}")
    drawn = {"particle": particles.pop()} if job.draws is not None and \
        job.draws.ensemble is not None else {}
    if len(scenarios) <= 1:
        return values[0] | drawn
    row = {f"{o}.{lab}": v[o] for o in job.outputs for lab, v in zip(job.labels, values,
                                                                      strict=True)}
    if job.difference:
        row |= {f"{o}.difference": values[0][o] - values[1][o] for o in job.outputs}
    return row | drawn


def run_task(job: Job, task: Task, params: Mapping[str, float]) -> dict[str, Any]:
    """Run one task; never raises an Exception: failures come back as a record."""
    t0 = time.perf_counter()
    base = {"task_id": task.task_id, "point": task.point, "replicate": task.replicate,
            "seed": task.seed, "worker": f"{socket.gethostname()}:{os.getpid()}"}
    try:
        outputs = evaluate_point(job, params, task.seed, task.point, task.replicate)
    except Exception as exc:  # every model error is recorded, not raised
        return base | {"ok": False, "error_type": type(exc).__name__, "message": str(exc),
                       "traceback": traceback.format_exc(), "wall_s": time.perf_counter() - t0}
    return base | {"ok": True, "outputs": outputs, "wall_s": time.perf_counter() - t0}


def _lost_task(task: Task, exc: BaseException) -> dict[str, Any]:
    """A record for a task whose worker died or whose result could not be fetched."""
    return {"task_id": task.task_id, "point": task.point, "replicate": task.replicate,
            "seed": task.seed, "worker": "?", "ok": False, "error_type": type(exc).__name__,
            "message": str(exc), "traceback": "".join(traceback.format_exception(exc)),
            "wall_s": float("nan")}


# ---------------------------------------------------------------------------- backends

Call = tuple[Task, dict[str, float]]


def _worker_init() -> None:
    """Workers ignore Ctrl-C: the main process stops the sweep and flushes its results."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def children_ignore_sigint() -> Iterator[None]:
    """Processes started inside the block ignore Ctrl-C from their first instruction (an ignored
    signal stays ignored across exec), so Ctrl-C while a worker starts prints no traceback."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


@contextlib.contextmanager
def pinned_threads() -> Iterator[None]:
    """Set BLAS/OpenMP thread counts to 1 for processes started inside the block."""
    old = {k: os.environ.get(k) for k in THREAD_ENV}
    os.environ.update(dict.fromkeys(THREAD_ENV, "1"))
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_serial(job: Job, calls: Iterable[Call]) -> Iterator[dict[str, Any]]:
    """Run tasks one after another in this process (`--workers 0`; debugging)."""
    for task, params in calls:
        yield run_task(job, task, params)


def run_local(job: Job, calls: Iterable[Call], workers: int,
              recycle: int | None = None) -> Iterator[dict[str, Any]]:
    """Run tasks on a pool of `workers` spawned processes, keeping 2 per worker in flight.

    Workers are reused; with `recycle`, each is replaced after that many runs (memory growth).
    """
    calls = iter(calls)
    ctx = multiprocessing.get_context("spawn")
    running: dict = {}
    with pinned_threads():  # workers are spawned lazily, so keep the pinning for the whole run
        pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init,
                                   max_tasks_per_child=recycle)
        try:
            while True:
                while len(running) < 2 * workers and (nxt := next(calls, None)) is not None:
                    with children_ignore_sigint():  # workers may be started here
                        running[pool.submit(run_task, job, *nxt)] = nxt[0]
                if not running:
                    return
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    task = running.pop(fut)
                    try:
                        rec = fut.result()
                    except Exception as exc:  # e.g. a worker process died
                        rec = _lost_task(task, exc)
                    yield rec
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def dask_client(address: Any, workers: int | None = None) -> Iterator[Any]:
    """A Dask client: `address` is a Client, 'local' (start a LocalCluster) or a scheduler URL."""
    from distributed import Client, LocalCluster

    if not isinstance(address, str):
        yield address
        return
    if address == "local":
        n = workers or os.cpu_count() or 1
        with pinned_threads(), LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                            dashboard_address=None) as cluster, \
                Client(cluster) as client:
            yield client
        return
    with Client(address) as client:
        yield client


def run_dask(job: Job, calls: Iterable[Call], client: Any) -> Iterator[dict[str, Any]]:
    """Run tasks on a Dask cluster, keeping 2 per worker thread in flight."""
    from distributed import as_completed

    calls = iter(calls)
    limit = max(4, 2 * sum(client.nthreads().values()))
    running: dict = {}  # future key -> (future, task)

    def submit() -> Any:
        nxt = next(calls, None)
        if nxt is None:
            return None
        fut = client.submit(run_task, job, *nxt, pure=False)
        running[fut.key] = (fut, nxt[0])
        return fut

    queue = as_completed([f for f in (submit() for _ in range(limit)) if f is not None])
    try:
        for fut in queue:
            _, task = running.pop(fut.key)
            try:
                rec = fut.result()
            except Exception as exc:  # e.g. KilledWorker
                rec = _lost_task(task, exc)
            fut.release()
            if (new := submit()) is not None:
                queue.add(new)
            yield rec
    finally:
        queue.clear()
        if running:
            client.cancel([f for f, _ in running.values()])


# ---------------------------------------------------------------------------- disk

def _atomic_parquet(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _atomic_text(text: str, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _next_seq(folder: Path) -> int:
    nums = [int(p.stem.split("-")[1]) for p in folder.glob("part-*.parquet")]
    return max(nums, default=-1) + 1


class ChunkWriter:
    """Buffers finished runs and writes them as Parquet chunks (atomic rename)."""

    def __init__(self, out: Path, design: pd.DataFrame, chunk_rows: int, flush_seconds: float):
        self.runs, self.fails = out / "runs", out / "failures"
        for d in (self.runs, self.fails):
            d.mkdir(parents=True, exist_ok=True)
            for stale in d.glob(".*.tmp"):
                stale.unlink()
        self.design, self.chunk_rows, self.flush_seconds = design, chunk_rows, flush_seconds
        self.ok: list[dict] = []
        self.bad: list[dict] = []
        self.last = time.monotonic()
        self.n_ok = self.n_bad = 0

    def add(self, rec: dict[str, Any]) -> None:
        if rec["ok"]:
            params = self.design.loc[rec["point"]].to_dict()
            self.ok.append({k: rec[k] for k in ("task_id", "point", "replicate", "seed")}
                           | params | rec["outputs"] | {"wall_s": rec["wall_s"],
                                                         "worker": rec["worker"]})
            self.n_ok += 1
        else:
            now = datetime.now(UTC).isoformat(timespec="seconds")
            self.bad.append({k: rec[k] for k in ("task_id", "point", "replicate", "seed",
                                                 "error_type", "message", "traceback",
                                                 "worker")} | {"time": now})
            self.n_bad += 1
        due = time.monotonic() - self.last >= self.flush_seconds
        if len(self.ok) + len(self.bad) >= self.chunk_rows or due:
            self.flush()

    def flush(self) -> None:
        for rows, folder in ((self.ok, self.runs), (self.bad, self.fails)):
            if rows:
                name = f"part-{_next_seq(folder):06d}.parquet"
                _atomic_parquet(pd.DataFrame(rows), folder / name)
                rows.clear()
        self.last = time.monotonic()


def _read_parts(folder: Path, columns: list[str] | None = None) -> pd.DataFrame:
    parts = sorted(folder.glob("part-*.parquet"))
    if not parts:
        return pd.DataFrame(columns=columns or ["task_id"])
    return pd.concat([pd.read_parquet(p, columns=columns) for p in parts], ignore_index=True)


def done_task_ids(out: Path) -> set[int]:
    """Task ids with a successful run on disk."""
    return set(_read_parts(out / "runs", ["task_id"])["task_id"].astype(int))


def collect(out: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Merge the chunks into results.parquet|csv and failures.parquet|csv; return both tables.

    Results: one row per (point, replicate), sorted. Failures: the latest error of every task
    that has not (yet) succeeded.
    """
    out = Path(out)
    runs = _read_parts(out / "runs")
    if len(runs):
        runs = runs.drop_duplicates("task_id").sort_values("task_id").reset_index(drop=True)
    fails = _read_parts(out / "failures")
    if len(fails):
        fails = fails.drop_duplicates("task_id", keep="last")
        fails = fails[~fails["task_id"].isin(runs["task_id"])].sort_values("task_id")
        fails = fails.reset_index(drop=True)
    for name, df in (("results", runs), ("failures", fails)):
        if len(df) or name == "results":
            _atomic_parquet(df, out / f"{name}.parquet")
            _atomic_text(df.to_csv(index=False), out / f"{name}.csv")
        else:
            for ext in ("parquet", "csv"):
                (out / f"{name}.{ext}").unlink(missing_ok=True)
    return runs, fails


# ---------------------------------------------------------------------------- manifest

def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _scenario_digest(model: str, path: Path) -> str:
    """Digest of a scenario: for uvts the resolved scenario (parents included) and the parameter
    file (`Scenario.digest`, which also validates it); otherwise the file's bytes."""
    if model == "uvts":
        try:
            load_scenario = importlib.import_module("sim.scenario").load_scenario
        except (ImportError, AttributeError):
            pass
        else:
            return load_scenario(path).digest()
    return _sha256_file(path)


def input_fingerprint(exp: Experiment) -> dict[str, Any]:
    """Hashes of what the runs depend on besides the experiment: scenarios and defaults."""
    params = {n: p.value for n, p in sorted(model_parameters(exp.model).items())}
    text = json.dumps(params, sort_keys=True)
    out = {"scenario_sha256": {str(lab): _scenario_digest(exp.model, p) for lab, p in
                               zip(exp.labels, exp.scenarios, strict=True)},
           "parameter_defaults_sha256": hashlib.sha256(text.encode()).hexdigest()}
    if exp.ensemble is not None:  # only then, so that older directories still resume
        out["ensemble_sha256"] = _sha256_file(exp.ensemble)
    return out


def _uncertainty(exp: Experiment) -> dict[str, Any]:
    """What each point draws besides the design: the ensemble (path, sha256, size), effects,
    and the horizon; and the group parameters' members."""
    out: dict[str, Any] = {"effects": exp.effects, "years": exp.years, "ensemble": None}
    if exp.ensemble is not None:
        from sim.ensemble import load_ensemble

        ens = load_ensemble(exp.ensemble)
        out["ensemble"] = {"path": str(exp.ensemble), "sha256": _sha256_file(exp.ensemble),
                           "particles": len(ens), "parameters": list(ens.params.columns),
                           "drawn_for": sorted(set(ens.params.columns) - set(exp.parameters)
                                               - set(exp.fixed)),
                           "stream": "ensemble.parameters keyed by (seed, point, replicate)"}
    if exp.effects == "drawn":
        out["effects_stream"] = ("ensemble.effects keyed by (seed, point, replicate, measure, "
                                 "acts_on, k): triangular on each documented range")
    if exp.groups:
        out["groups"] = {n: g.description for n, g in exp.groups.items()}
    return out


def git_commit() -> str | None:
    """HEAD of the repository (with '+dirty' for uncommitted changes), if available."""
    try:
        head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("SALib", "numpy", "scipy", "pandas", "pyarrow", "distributed"):
        with contextlib.suppress(PackageNotFoundError):
            out[pkg] = version(pkg)
    return out


def new_manifest(exp: Experiment, design: pd.DataFrame) -> dict[str, Any]:
    """The manifest of a fresh sweep directory."""
    import sim

    info = {n: exp.param_info(n) for n in exp.parameters}
    params = {n: {"range_used": list(r), "value": info[n].value, "range": list(info[n].range),
                  "bounds": list(info[n].bounds), "unit": info[n].unit,
                  "source": info[n].source, "description": info[n].description}
              for n, r in exp.parameters.items()}
    return {
        "format": FORMAT_VERSION, "experiment": exp.to_dict(),
        "experiment_file": str(exp.path) if exp.path else None, "spec_hash": exp.spec_hash(),
        "inputs": input_fingerprint(exp), "parameters": params,
        "outside_plausible_range": dict(exp.outside_range),
        "uncertainty": _uncertainty(exp),
        "problem": salib_problem(exp), "n_points": len(design),
        "n_tasks": len(design) * exp.replicates,
        "replicate_seeds": [replicate_seed(exp.seed, r) for r in range(exp.replicates)],
        "columns": {"parameters": list(exp.parameters), "outputs": exp.result_columns,
                    "analysis": exp.analysis_columns},
        "sim_version": sim.__version__, "git_commit": git_commit(), "versions": _versions(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"), "sessions": [],
    }


def read_manifest(out: str | Path) -> dict[str, Any]:
    """The manifest of a sweep directory (InputError if there is none)."""
    path = Path(out) / MANIFEST
    if not path.is_file():
        raise InputError(str(out), MANIFEST, "a sweep output directory containing manifest.json")
    return json.loads(path.read_text(encoding="utf-8"))


def _check_same(old: dict[str, Any], exp: Experiment, out: Path) -> None:
    where = str(out / MANIFEST)
    if old.get("spec_hash") != exp.spec_hash():
        new = exp.to_dict()
        changed = sorted(k for k in new.keys() | old["experiment"].keys()
                         if new.get(k) != old["experiment"].get(k))
        raise InputError(where, "experiment", "the experiment this directory was started with "
                         f"(changed: {', '.join(changed)}); use another --out directory or "
                         "delete this one")
    new_inputs, old_inputs = input_fingerprint(exp), old.get("inputs", {})
    if old_inputs != new_inputs:
        changed = [f"scenario '{k}'" for k, v in new_inputs["scenario_sha256"].items()
                   if old_inputs.get("scenario_sha256", {}).get(k) != v]
        if old_inputs.get("parameter_defaults_sha256") != new_inputs["parameter_defaults_sha256"]:
            changed.append("parameter defaults")
        if old_inputs.get("ensemble_sha256") != new_inputs.get("ensemble_sha256"):
            changed.append("ensemble file")
        raise InputError(where, "inputs", "the scenario files and parameter file this directory "
                         f"was started with (changed: {', '.join(changed) or 'format'}); use "
                         "another --out directory or delete it")


def prepare_out_dir(exp: Experiment, out: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """Create or validate the output directory; return its manifest and design."""
    out.mkdir(parents=True, exist_ok=True)
    if (out / MANIFEST).is_file():
        manifest = read_manifest(out)
        _check_same(manifest, exp, out)
        design = pd.read_parquet(out / "design.parquet").set_index("point")
        return manifest, design
    design = build_design(exp)
    _atomic_parquet(design.reset_index(), out / "design.parquet")
    manifest = new_manifest(exp, design)
    _atomic_text(json.dumps(manifest, indent=2), out / MANIFEST)
    return manifest, design


@contextlib.contextmanager
def _lock(out: Path) -> Iterator[None]:
    """Refuse two sweeps writing to one directory at once."""
    path = out / ".lock"
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        pid = int(path.read_text() or 0)
        if _alive(pid):
            raise InputError(str(out), ".lock", f"no other sweep running here (pid {pid} is)") \
                from None
        path.unlink()
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------------------- the sweep

@dataclass
class SweepResult:
    """What a call of `run_sweep` achieved."""

    out_dir: Path
    n_tasks: int
    n_done: int
    n_failed: int
    n_run: int
    interrupted: bool
    wall_s: float
    results: pd.DataFrame = field(repr=False)
    failures: pd.DataFrame = field(repr=False)

    @property
    def complete(self) -> bool:
        return self.n_done == self.n_tasks


def run_sweep(exp: Experiment, out_dir: str | Path, *, workers: int | None = None,
              dask: Any = None, progress: bool = True, limit: int | None = None,
              evaluate: Evaluate | None = None, chunk_rows: int = 64,
              flush_seconds: float = 20.0, on_result: Callable[[dict], None] | None = None,
              recycle: int | None = None) -> SweepResult:
    """Run (or resume) the sweep of `exp` into `out_dir`.

    workers: local processes (default: CPU count; 0 runs in this process). dask: a scheduler
    address, 'local' for a LocalCluster of `workers` processes, or a `distributed.Client`.
    limit: run at most this many of the pending tasks. evaluate: replaces the model, a
    picklable `f(scenario, overrides, seed) -> dict`. on_result: called in the main process
    after each finished task (after it is buffered). recycle: replace each local worker process
    after this many runs. Ctrl-C stops the sweep cleanly: finished runs are written and the same
    call resumes.
    """
    out = Path(out_dir)
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    with _lock(out):
        manifest, design = prepare_out_dir(exp, out)
        tasks = make_tasks(len(design), exp.replicates, exp.seed)
        done = done_task_ids(out)
        todo = [t for t in tasks if t.task_id not in done][:limit]
        writer = ChunkWriter(out, design, chunk_rows, flush_seconds)
        backend = "serial" if workers == 0 and dask is None else ("dask" if dask else "local")
        interrupted = _execute(exp, todo, design, writer, backend, workers, dask, evaluate,
                               progress, len(tasks), len(done), on_result, recycle)
        results, failures = collect(out)
        _record_session(out, manifest, backend, workers, writer, t0, interrupted)
    return SweepResult(out, len(tasks), len(results), len(failures), writer.n_ok + writer.n_bad,
                       interrupted, time.perf_counter() - t0, results, failures)


def _execute(exp: Experiment, todo: list[Task], design: pd.DataFrame, writer: ChunkWriter,
             backend: str, workers: int | None, dask: Any, evaluate: Evaluate | None,
             progress: bool, total: int, initial: int,
             on_result: Callable[[dict], None] | None, recycle: int | None = None) -> bool:
    """Run the pending tasks, writing results as they come; True if interrupted."""
    from tqdm import tqdm

    job = make_job(exp, evaluate)
    calls = ((t, design.loc[t.point].to_dict()) for t in todo)
    n_workers = workers or os.cpu_count() or 1
    bar = tqdm(total=total, initial=initial, disable=not progress, unit="run", desc=exp.name,
               dynamic_ncols=True)
    try:
        with contextlib.ExitStack() as stack:
            if backend == "dask":
                client = stack.enter_context(dask_client(dask, workers))
                results = run_dask(job, calls, client)
            elif backend == "serial":
                results = run_serial(job, calls)
            else:
                results = run_local(job, calls, min(n_workers, max(1, len(todo))), recycle)
            stack.callback(results.close)
            for rec in results:
                writer.add(rec)
                bar.update()
                if writer.n_bad:
                    bar.set_postfix(failed=writer.n_bad, refresh=False)
                if on_result is not None:
                    on_result(rec)
    except KeyboardInterrupt:
        return True
    finally:
        writer.flush()
        bar.close()
    return False


def _record_session(out: Path, manifest: dict[str, Any], backend: str, workers: int | None,
                    writer: ChunkWriter, t0: float, interrupted: bool) -> None:
    manifest.setdefault("sessions", []).append({
        "finished": datetime.now(UTC).isoformat(timespec="seconds"), "backend": backend,
        "workers": workers, "runs_ok": writer.n_ok, "runs_failed": writer.n_bad,
        "wall_s": round(time.perf_counter() - t0, 3), "interrupted": interrupted,
        "git_commit": git_commit(),
    })
    _atomic_text(json.dumps(manifest, indent=2), out / MANIFEST)

"""How worker processes start (kept free of heavy imports, so that the command line can start
them before it imports the engine itself)."""

from __future__ import annotations

import multiprocessing
from multiprocessing.context import BaseContext


def pool_context() -> BaseContext:
    """Worker processes are forked from a server process that imported the engine once
    ("forkserver", with `sim.runner` preloaded), so that each worker does not import numpy,
    pandas, Mesa and the engine again (about 2-3 s a worker under "spawn", which Mesa's batch
    runner makes the default), and that loaded the compiled kernels by running a tiny model
    (`sim.warm`; 0.5-0.7 s a worker otherwise, at its first run). Where there is no forkserver
    (Windows, macOS), spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["__main__", "sim.runner", "sim.model", "sim.warm"])
    return ctx


def start_workers_early(workers: int) -> None:
    """Start the workers' server now, so that its imports overlap the caller's own (reading
    scenarios, the ensemble, importing the engine); a no-op for one worker or without a
    forkserver. The workers themselves are forked from it when the pool needs them."""
    if workers > 1 and pool_context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()

"""Named random streams derived from (seed, stream name[, keys]).

Each process of the model draws from its own stream, always the same number of numbers per
step whatever the state. Two scenarios run with one seed therefore share every draw of the
processes they do not change (common random numbers), and a run is bit-identical for the same
seed and inputs.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream_key(name: str) -> int:
    """A stable 32-bit key for a stream name (crc32; Python's hash() is salted per process)."""
    return zlib.crc32(name.encode("utf-8"))


def make_stream(seed: int, name: str, *keys: int) -> np.random.Generator:
    """A generator seeded from (seed, name, *keys) alone."""
    entropy = [int(seed) & 0xFFFFFFFFFFFFFFFF, stream_key(name), *(int(k) for k in keys)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


class Streams:
    """The named streams of one run. `streams["entry"]` is created once and then reused."""

    def __init__(self, seed: int):
        self.seed = int(seed)
        self._cache: dict[str, np.random.Generator] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        gen = self._cache.get(name)
        if gen is None:
            gen = self._cache[name] = make_stream(self.seed, name)
        return gen

    def fresh(self, name: str, *keys: int) -> np.random.Generator:
        """A new generator for (name, *keys), e.g. one per simulated year."""
        return make_stream(self.seed, name, *keys)


def replicate_seed(seed: int, replicate: int) -> int:
    """The seed of replicate r of a run with base `seed`; shared by all scenarios (paired)."""
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, stream_key("replicate"), replicate])
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))

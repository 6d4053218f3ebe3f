"""Named random streams derived from (seed, stream name[, keys]).

Each process of the model draws from its own stream, always the same number of numbers per
step whatever the state. The weekly per-youth draws (risk noise, family crises, stage
transitions, recruitment, reports of concern) are counter-based: number k of stream (name, week)
is a hash of (seed, name, week, k) (`week_key`, `Streams.week_uniforms`), made without drawing
the others. Two scenarios run with one seed therefore share every draw of the
processes they do not change (common random numbers), and a run is bit-identical for the same
seed and inputs.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from sim import kernels


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
        self._buffers: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        gen = self._cache.get(name)
        if gen is None:
            gen = self._cache[name] = make_stream(self.seed, name)
        return gen

    def week_uniforms(self, name: str, week: int, size: int) -> np.ndarray:
        """`size` float32 uniforms of the counter-based stream (name, week): numbers 0..size-1
        of `sim.kernels.sequence_uniforms(week_key(seed, name, week), ·)`, into a buffer kept
        per name (overwritten by the next call for the same name: use it within the step)."""
        buf = self._buffers.get(name)
        if buf is None or buf.size != size:
            buf = self._buffers[name] = np.empty(size, np.float32)
        return kernels.sequence_uniforms(week_key(self.seed, name, week), size, buf)

    def week_below(self, name: str, week: int, p: np.ndarray) -> np.ndarray:
        """Positions i where number i of the stream (name, week) is below `p[i]` (float32): the
        youths whose event fires, as `np.flatnonzero(week_uniforms(...) < p)`."""
        return kernels.sequence_below(week_key(self.seed, name, week), p)

    def week_below_weekly(self, name: str, week: int, x: np.ndarray) -> np.ndarray:
        """`week_below(name, week, kernels.weekly_prob32(x))` for weekly hazards `x` (float32),
        the probabilities made only where a uniform falls below the hazard."""
        return kernels.sequence_below_weekly(week_key(self.seed, name, week), x)

    def week_uniforms_at(self, name: str, week: int, positions: np.ndarray) -> np.ndarray:
        """Numbers `positions` of the counter-based stream (name, week), without the others."""
        return kernels.sequence_uniforms_at(week_key(self.seed, name, week), positions)

    def fresh(self, name: str, *keys: int) -> np.random.Generator:
        """A new generator for (name, *keys), e.g. one per simulated year."""
        return make_stream(self.seed, name, *keys)


def replicate_seed(seed: int, replicate: int) -> int:
    """The seed of replicate r of a run with base `seed`; shared by all scenarios (paired)."""
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, stream_key("replicate"), replicate])
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MASK = (1 << 64) - 1


def _mix_int(x: int) -> int:
    """splitmix64 of one integer taken mod 2**64, in Python integers: the same bits as the array
    version, without numpy's cost per operation on scalars (keys of one stream or week)."""
    z = (x + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, vectorised: a well-mixed 64-bit hash of each element (compiled
    for arrays when sim.kernels has Numba; the same integers either way)."""
    x = np.asarray(x, np.uint64)
    if x.ndim == 0:
        return np.uint64(_mix_int(int(x)))
    out = kernels.splitmix64(x)
    if out is not None:
        return out
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _scalar(value: np.ndarray | int) -> bool:
    """Whether an id or counter is one number (Python and numpy integers checked first: cheap)."""
    return isinstance(value, (int, np.integer)) or np.ndim(value) == 0


def _u64(value: np.ndarray | int) -> int:
    """A scalar id or counter as numpy takes it (int64, wrapped to uint64), as a Python integer."""
    return (value if type(value) is int else int(np.asarray(value, np.int64))) & _MASK


def entity_keys(seed: int, kind: int, *ids: np.ndarray | int) -> np.ndarray:
    """Stable 64-bit keys for entities identified by (seed, kind, ids...), e.g. a network member
    who joined in week w as the k-th newcomer. The same entity gets the same key in every
    scenario, whatever else differs. Leading scalar parts are mixed in Python integers, and one
    array of ids followed by scalars (a person and the week) in one compiled call."""
    key = _mix_int((int(seed) & _MASK) ^ _mix_int(int(kind) & _MASK))
    rest = list(ids)
    while rest and _scalar(rest[0]):
        key = _mix_int(key ^ _mix_int(_u64(rest.pop(0))))
    if not rest:
        return np.array([key], np.uint64)
    first = np.asarray(rest[0], np.int64)
    if first.ndim == 1 and all(_scalar(part) for part in rest[1:]):
        tail = np.array([_mix_int(_u64(part)) for part in rest[1:]], np.uint64)
        out = kernels.entity_keys(np.uint64(key), first, tail)
        if out is not None:
            return out
    keys: np.ndarray = np.uint64(key)
    with np.errstate(over="ignore"):
        for part in rest:
            keys = splitmix64(keys ^ splitmix64(np.asarray(part, np.int64).astype(np.uint64)))
    return np.atleast_1d(keys)


def week_key(seed: int, name: str, week: int) -> int:
    """The 64-bit key of stream `name` in week `week` of a run with `seed`, as a Python integer:
    the start of that week's counter-based sequence (`sim.kernels.sequence_uniforms`)."""
    key = _mix_int((int(seed) & _MASK) ^ _mix_int(stream_key(name)))
    return _mix_int(key ^ _mix_int(int(week) & _MASK))


def counter_mix(counter: int) -> int:
    """The mixed value of a scalar counter (splitmix64 of counter · golden ratio)."""
    return _mix_int(_u64(counter) * int(_GOLDEN) & _MASK)


def keyed_uniform(keys: np.ndarray, counter: int) -> np.ndarray:
    """A uniform in [0, 1) per key for this counter value (counter-based, like Philox): the draw
    of an entity at a given time does not depend on how many other entities exist."""
    keys = np.asarray(keys, np.uint64)
    scalar = _scalar(counter)
    if scalar:
        cmix = np.uint64(counter_mix(counter))
        out = kernels.keyed_uniform(keys, cmix)
        if out is not None:
            return out
    with np.errstate(over="ignore"):
        if not scalar:
            cmix = splitmix64(np.asarray(counter, np.int64).astype(np.uint64) * _GOLDEN)
        z = splitmix64(keys ^ cmix)
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def keyed_uniforms(keys: np.ndarray, counters: Sequence[int]) -> np.ndarray:
    """`keyed_uniform(keys, c)` for each scalar counter c, one row each: (len(counters), keys),
    in one compiled call when there are kernels."""
    keys = np.asarray(keys, np.uint64)
    mixes = np.array([counter_mix(c) for c in counters], np.uint64)
    out = kernels.keyed_uniforms(keys, mixes)
    if out is not None:
        return out
    return np.stack([keyed_uniform(keys, c) for c in counters]).reshape(len(mixes), keys.size)

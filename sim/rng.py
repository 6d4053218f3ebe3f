"""Named random streams derived from (seed, stream name[, keys]).

Each process of the model draws from its own stream, always the same number of numbers per
step whatever the state. Two scenarios run with one seed therefore share every draw of the
processes they do not change (common random numbers), and a run is bit-identical for the same
seed and inputs.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from sim import kernels


def halves_to_uniforms(raw: np.ndarray, out: np.ndarray) -> None:
    """float32 uniforms from 64-bit outputs as numpy's `random(dtype=float32)` makes them: the
    low 32-bit half of each output, then the high half, each as its top 24 bits times 2**-24."""
    if kernels.halves_to_uniforms(raw, out):
        return
    scale = np.float32(1.0 / 16777216.0)
    np.multiply(((raw & np.uint64(0xFFFFFFFF)) >> np.uint64(8)).astype(np.float32), scale,
                out=out[0::2])
    np.multiply((raw >> np.uint64(40)).astype(np.float32), scale, out=out[1::2])


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

    def uniforms(self, name: str, shape: int | tuple[int, ...]) -> np.ndarray:
        """float32 uniforms in [0, 1) of `shape` from stream `name`: the same numbers as
        `self[name].random(shape, dtype=float32)`, written into a buffer kept per stream, so a
        weekly draw does not page in fresh memory. The array is overwritten by the next call for
        the same name: use it within the step."""
        buf = self._buffers.get(name)
        shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(k) for k in shape)
        if buf is None or buf.shape != shape:
            buf = self._buffers[name] = np.empty(shape, np.float32)
        gen = self[name]
        bg = gen.bit_generator
        if buf.size % 2 or not buf.size or not isinstance(bg, np.random.PCG64):
            return gen.random(shape, dtype=np.float32, out=buf)
        st = bg.state
        if st["has_uint32"]:  # a half left over from an odd draw before: numpy's own path
            return gen.random(shape, dtype=np.float32, out=buf)
        # numpy makes each float32 from one 32-bit half of a 64-bit output (low half, then the
        # high half it keeps for the next number): taking the outputs raw and splitting them is
        # the same numbers and half the calls; the state ends as numpy leaves it
        raw = bg.random_raw(buf.size // 2)
        halves_to_uniforms(raw, buf.reshape(-1))
        st = bg.state
        st["uinteger"] = int(raw[-1] >> np.uint64(32))
        bg.state = st
        return buf

    def uniforms_at(self, name: str, total: int, positions: np.ndarray) -> np.ndarray:
        """The float32 uniforms at `positions` (sorted or not, within [0, total)) of a draw of
        `total` from stream `name`, i.e. `self[name].random(total, dtype=float32)[positions]`,
        leaving the stream exactly as that draw would (the same state, the same numbers after).

        For a draw of which only a few numbers are used (the week's recruits among all youths),
        the generator jumps over the others (PCG64 `advance`, in O(log n)) instead of making them.
        numpy makes a float32 from the 32-bit halves of the 64-bit outputs, low half first, after
        any half left over from the previous draw: this reproduces that bookkeeping."""
        positions = np.asarray(positions, np.int64)
        bg = self[name].bit_generator
        if not isinstance(bg, np.random.PCG64) or total <= 0:
            return self[name].random(total, dtype=np.float32)[positions]
        st = bg.state
        carry = int(st["has_uint32"])  # a 32-bit half left over from the previous draw
        rest = total - carry  # halves taken from new 64-bit outputs
        n_out = (rest + 1) // 2 if rest > 0 else 0
        half = positions - carry  # index among the new halves (-1: the carried one)
        last = np.array([n_out - 1] if n_out else [], np.int64)  # its upper half is kept
        need = np.unique(np.concatenate((half[half >= 0] // 2, last)))
        raw: dict[int, int] = {}
        at = 0
        for k in need.tolist():
            if k > at:
                bg.advance(k - at)
            raw[k] = int(bg.random_raw())
            at = k + 1
        if n_out > at:
            bg.advance(n_out - at)
        elif n_out == 0 and carry:
            bg.state = st  # nothing new drawn: only the carried half is used
        words = np.array([int(st["uinteger"]) if h < 0 else
                          (raw[h // 2] >> (32 * (h % 2))) & 0xFFFFFFFF for h in half.tolist()],
                         np.uint64)
        new = bg.state  # numpy keeps the upper half of its last output, used or not
        new["has_uint32"] = int(rest > 0 and rest % 2 == 1)
        new["uinteger"] = raw[n_out - 1] >> 32 if n_out else int(st["uinteger"])
        bg.state = new
        return ((words >> np.uint64(8)).astype(np.float32) * np.float32(1.0 / 16777216.0))

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

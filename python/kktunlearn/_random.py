"""The counter-based normal generator of kktunlearn (implemented in C++: cpp/include/kktunlearn/random.hpp).

Philox4x32-10 (J. K. Salmon, M. A. Moraes, R. O. Dror, D. E. Shaw, "Parallel random numbers: as
easy as 1, 2, 3", SC'11) maps a 128-bit counter and a 64-bit key to 128 random bits. Entry (i, j)
of a generated matrix of `stream` under a 64-bit `seed` is

    key     = (seed mod 2^32, seed div 2^32)
    counter = (q mod 2^32, q div 2^32, i, stream),      q = j div 2
    (r0, r1, r2, r3) = Philox4x32-10(counter, key)
    u1 = ((r0 2^32 + r1) div 2^11 + 1) 2^-53  in (0, 1],   u2 = ((r2 2^32 + r3) div 2^11) 2^-53  in [0, 1)
    z(i, j) = sqrt(-2 ln u1) cos(2 pi u2)  (j even),   sqrt(-2 ln u1) sin(2 pi u2)  (j odd)

(Box-Muller on one counter's two 64-bit words.) ln, sin and cos are fixed polynomial formulas
(no libm), and the C++ file is built without FMA contraction, so z(i, j) has the same bits for
every block split, thread count, machine and CPU variant of the extension. A matrix entry of
dtype T is T(scale * z) (float64 product, one rounding). Only 0 <= i < 2^32 and j < 2^33 are
valid; the rows are never longer than that in practice.

Streams: 0 = W0 of a model, 1 = data rows, 2 = data directions (mu, c), 3 + k = the k-th test
sample of a data set, 15 = the fingerprint probe of a span model.
"""

from __future__ import annotations

import numbers
import secrets
from typing import Any, Optional

import numpy as np

from . import _core

GENERATOR = {"name": _core.rng_name, "version": int(_core.rng_version)}

STREAM_W0 = 0
STREAM_ROWS = 1
STREAM_DIRECTION = 2
STREAM_TEST = 3

_SEED_LIMIT = 1 << 64


def seed_from_random_state(random_state: Any) -> int:
    """The 64-bit seed of a `random_state`.

    - an int in [0, 2^64): that seed;
    - None: 64 fresh bits from the operating system (the run is not reproducible);
    - a numpy Generator / BitGenerator: one 64-bit integer drawn from it (so a shared Generator gives
      successive models different, reproducible seeds, and the caller's generator moves on by one draw);
    - a numpy SeedSequence or a sequence of ints: the first 64-bit word of its generated state.
    """
    if random_state is None:
        return secrets.randbits(64)
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        s = int(random_state)
        if not 0 <= s < _SEED_LIMIT:
            raise ValueError(f"random_state must be an integer in [0, 2**64), got {random_state!r}")
        return s
    if isinstance(random_state, np.random.BitGenerator):
        random_state = np.random.Generator(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, _SEED_LIMIT, dtype=np.uint64))
    if isinstance(random_state, np.random.SeedSequence):
        return int(random_state.generate_state(1, np.uint64)[0])
    if isinstance(random_state, (list, tuple, np.ndarray)):
        try:
            return int(np.random.SeedSequence(random_state).generate_state(1, np.uint64)[0])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"random_state {random_state!r} is not a valid seed: {exc}") from exc
    raise TypeError("random_state must be None, an int, a numpy Generator/BitGenerator/SeedSequence or a sequence "
                    f"of ints, got {type(random_state).__name__}")


def _dtype_name(dtype: Any) -> str:
    dt = np.dtype(dtype)
    if dt == np.float64:
        return "float64"
    if dt == np.float32:
        return "float32"
    raise ValueError(f"dtype must be float64 or float32, got {dt}")


def normal_block(seed: int, stream: int, row0: int, rows: int, col0: int, cols: int, scale: float = 1.0,
                 dtype: Any = np.float64, v: Optional[np.ndarray] = None, coef: Optional[np.ndarray] = None,
                 n_threads: int = 0) -> np.ndarray:
    """out[r, c] = dtype(scale * z(row0 + r, col0 + c) [+ coef[r] * v[c]]) (see the module docstring);
    generated in C++ in parallel, the GIL released; memory = the output."""
    return _core.normal_block(int(seed), int(stream), int(row0), int(rows), int(col0), int(cols), float(scale),
                              _dtype_name(dtype), v, coef, int(n_threads))

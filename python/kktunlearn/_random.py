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


class GeneratedRows:
    """A data matrix held as its generator, not its entries: made on demand, never stored.

    ``X[i, k] = dtype(scale * z(key, stream, row0 + i, k) [+ coef[i] * v[k]])``: exactly the entries
    of ``normal_block(key, stream, row0, rows, 0, cols, scale, dtype, v, coef)``, the matrix the data
    generators of :mod:`kktunlearn.datasets` return (they give one of these with ``lazy=True``).

    - ``np.asarray(X)`` materializes it (those bits; each call generates it again, ``rows x cols``
      memory). Slicing rows (``X[a:b]``, an int) generates those rows only.
    - A span-represented model predicts it without materializing it: its pre-activations
      ``X W0^T + (X X_train^T) A`` come from one C++ pass (``normal_preacts_generated``) that generates
      each 512-column sub-block of ``X`` beside ``W0``'s and multiplies both while they are in cache.
      The same bits as on the materialized array, for any thread count; memory ``O(rows x 512)`` per
      thread instead of ``rows x cols``. A primal model materializes it once per call.

    It is immutable (``v`` and ``coef`` are kept as read-only copies), so predictions of it are cached
    without the fingerprint pass an ndarray needs.

    Parameters
    ----------
    key : int
        The 64-bit key of the generator.
    stream : int
        The stream.
    rows, cols : int
        The shape.
    scale : float
        The factor of the normals.
    dtype : {np.float64, np.float32}
        The dtype of the entries.
    v : ndarray of shape (cols,), optional
        A direction added to every row with the row's ``coef`` (the Gaussian mixture's mean).
    coef : ndarray of shape (rows,), optional
        Its coefficients (the mixture's clean labels).
    row0 : int, default 0
        The generator row of the first row.
    """

    __slots__ = ("key", "stream", "row0", "shape", "scale", "dtype", "v", "coef", "_token", "__weakref__")
    _serial = 0
    ndim = 2

    def __init__(self, key: int, stream: int, rows: int, cols: int, scale: float, dtype: Any = np.float64,
                 v: Optional[np.ndarray] = None, coef: Optional[np.ndarray] = None, row0: int = 0):
        self.key = int(key)
        self.stream = int(stream)
        self.row0 = int(row0)
        rows, cols = int(rows), int(cols)
        if rows < 0 or cols < 0 or self.row0 < 0:
            raise ValueError(f"GeneratedRows: negative shape or row0 ({rows}, {cols}, row0={self.row0})")
        self.shape = (rows, cols)
        self.scale = float(scale)
        self.dtype = np.dtype(dtype)
        _dtype_name(self.dtype)
        if (v is None) != (coef is None):
            raise ValueError("GeneratedRows: give both v and coef, or neither")
        if v is not None:
            v = np.array(v, dtype=np.float64).reshape(-1)
            coef = np.array(coef, dtype=np.float64).reshape(-1)
            if v.shape[0] != cols or coef.shape[0] != rows:
                raise ValueError(f"GeneratedRows: v needs {cols} entries and coef {rows}, got {v.shape[0]} and "
                                 f"{coef.shape[0]}")
            if not (np.isfinite(v).all() and np.isfinite(coef).all()):
                raise ValueError("GeneratedRows: v and coef must be finite")
            v.flags.writeable = False
            coef.flags.writeable = False
        if not np.isfinite(self.scale):
            raise ValueError(f"GeneratedRows: scale must be finite, got {scale!r}")
        self.v = v
        self.coef = coef
        # a number never reused within the process: the key of this matrix's cached predictions
        GeneratedRows._serial += 1
        self._token = GeneratedRows._serial

    def __getstate__(self):
        return {k: getattr(self, k) for k in self.__slots__ if k not in ("_token", "__weakref__")}

    def __setstate__(self, st):
        for k, val in st.items():
            object.__setattr__(self, k, val)
        GeneratedRows._serial += 1
        self._token = GeneratedRows._serial

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def nbytes(self) -> int:
        """The bytes the materialized matrix would take."""
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return (f"GeneratedRows(shape={self.shape}, dtype={self.dtype}, stream={self.stream}, row0={self.row0}"
                f"{', with v' if self.v is not None else ''})")

    def rows_block(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` materialized (``0 <= start <= stop <= rows``)."""
        if not 0 <= start <= stop <= self.shape[0]:
            raise IndexError(f"rows {start}:{stop} outside 0:{self.shape[0]}")
        coef = None if self.coef is None else self.coef[start:stop]
        return normal_block(self.key, self.stream, self.row0 + start, stop - start, 0, self.shape[1],
                            scale=self.scale, dtype=self.dtype, v=self.v, coef=coef)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        X = self.rows_block(0, self.shape[0])
        return X if dtype is None or np.dtype(dtype) == X.dtype else X.astype(dtype)

    def __getitem__(self, item: Any) -> np.ndarray:
        n = self.shape[0]
        if isinstance(item, numbers.Integral) and not isinstance(item, bool):
            i = int(item) + (n if int(item) < 0 else 0)
            if not 0 <= i < n:
                raise IndexError(f"row {int(item)} out of range for {n} rows")
            return self.rows_block(i, i + 1)[0]
        if isinstance(item, slice) and item.step in (None, 1):
            a, b, _ = item.indices(n)
            return self.rows_block(a, max(a, b))
        return np.asarray(self)[item]

    def spec(self) -> Any:
        """The C++ description (``_core.RowGen``)."""
        return _core.RowGen(seed=self.key, stream=self.stream, row0=self.row0, rows=self.shape[0],
                            cols=self.shape[1], scale=self.scale, v=self.v, coef=self.coef)

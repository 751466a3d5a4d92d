"""The data-span representation of a fitted model (exact, not an approximation).

Every gradient step adds a combination of the training rows to W, so a model trained from W0 on
X (n x d) is, at every step,

    W = W0 + A^T X            A (n x m)
    Z = X W^T = Z0 + K A      K = X X^T (n x n),  Z0 = X W0^T (n x m)

A span-fitted model stores (SpanState):

    X       a reference to the training matrix (n x d, the model's dtype; no copy is made when
            the caller's array already has that dtype and is C-contiguous)
    K, Z0   n x n and n x m                                       (cached, computed once)
    A       n x m
    init    where W0 comes from: the seed of the counter-based generator (W0 is regenerated in
            blocks in C++, never stored at m x d), or an explicit array, or zero
    fp      a fingerprint of X (X r for a fixed random r, n numbers; r is d numbers) used to
            detect that the training matrix was modified in place after fit (error, never a
            silently different model)

Memory: n d (shared with the caller) + n^2 + 2 n m + d (+ n) numbers of the model's dtype; the
m x d matrix W is formed only when asked (`W_`, `params()`, `_W`), then cached (m d numbers).
For workload (e) (n = 100, d = 10^6, m = 100, float32): 400 MB for X (the caller's), 4 MB for r,
under 0.2 MB for the rest; W_ would add 400 MB.

Pickling: the state is pickled with X (a span model is self-contained after unpickling), without
the cached W (rebuilt on demand) and without the fingerprint (recomputed on load).
"""

from __future__ import annotations

from typing import Iterator, Optional, Tuple

import numpy as np

from . import _core, _random

# W0 is regenerated in row blocks of at most this many bytes when a caller asks for blocks.
_W0_BLOCK_BYTES = 32 << 20

# Counter-based streams (see kktunlearn/_random.py): 0 is W0 of a model, 15 the fingerprint probe.
_W0_STREAM = 0
_PROBE_STREAM = 15


def _block_rows(d: int, m: int) -> int:
    """Rows per W0 block: within the byte budget and at most half of W0 (so no m x d float64
    array is ever formed for m >= 2)."""
    return max(1, min(_W0_BLOCK_BYTES // (8 * max(d, 1)), m // 2))


class SeededInit:
    """W0[j, k] = dtype(scale * z(seed, stream 0, j, k)) with the counter-based standard normals z
    of kktunlearn._random (Philox4x32-10 + Box-Muller, generated in C++).

    Every entry is a pure function of (seed, j, k): W0 is generated in any blocks, in parallel,
    with bits independent of the thread count and of the block split, and never held at m x d
    unless asked (`init_full`). float32 models get float32 W0: the float64 product scale * z is
    rounded once to float32. The draw differs from kktunlearn 0.1.0 (numpy PCG64); models pickled
    by 0.1.0 keep their PCG64 init (`PCG64Init`).
    """

    kind = "seed"
    generator = _random.GENERATOR

    def __init__(self, seed: int, scale: float, m: int, d: int):
        self.seed = int(seed)
        self.scale = float(scale)
        self.m = int(m)
        self.d = int(d)

    @classmethod
    def from_random_state(cls, random_state, scale: float, m: int, d: int) -> "SeededInit":
        """The init of a model's `random_state` (see kktunlearn._random.seed_from_random_state)."""
        return cls(_random.seed_from_random_state(random_state), scale, m, d)

    def block(self, r0: int, r1: int, dtype, n_threads: int = 0) -> np.ndarray:
        """W0[r0:r1] as a new (r1 - r0) x d array of `dtype`."""
        return _random.normal_block(self.seed, _W0_STREAM, r0, r1 - r0, 0, self.d, scale=self.scale, dtype=dtype,
                                    n_threads=n_threads)

    def blocks(self, dtype, out: Optional[np.ndarray] = None) -> Iterator[Tuple[int, int, np.ndarray]]:
        """Yield (r0, r1, W0[r0:r1]) in `dtype`, in row blocks within _W0_BLOCK_BYTES. With `out`
        (m x d, dtype) the blocks are written into out[r0:r1] and those views are yielded."""
        rb = _block_rows(self.d, self.m)
        for r0 in range(0, self.m, rb):
            r1 = min(self.m, r0 + rb)
            blk = self.block(r0, r1, dtype)
            if out is not None:
                out[r0:r1] = blk
                blk = out[r0:r1]
            yield r0, r1, blk

    def full(self, dtype, n_threads: int = 0) -> np.ndarray:
        """W0 (m x d) in one parallel C++ fill."""
        return self.block(0, self.m, dtype, n_threads)

    def preacts(self, X: np.ndarray, n_threads: int) -> Tuple[np.ndarray, float]:
        """(X W0^T, sum of the dtype-rounded W0 entries squared in float64), in one fused C++ kernel
        that generates W0 tile by tile (memory O(n m), never m x d)."""
        return _core.normal_preacts(X, self.seed, _W0_STREAM, self.m, self.scale, n_threads)

    def __setstate__(self, st):
        if "state" in st:  # pickled by kktunlearn 0.1.0: a numpy PCG64 state
            self.__class__ = PCG64Init
        self.__dict__.update(st)


class PCG64Init:
    """kktunlearn 0.1.0's W0 (for models pickled by 0.1.0 only): scale * G.standard_normal((m, d))
    for the numpy Generator G at `state`, in row blocks (numpy fills C order from one stream)."""

    kind = "seed"
    generator = {"name": "numpy-pcg64-standard_normal", "version": 0}

    def __init__(self, state: dict, scale: float, m: int, d: int):
        self.state = state
        self.scale = float(scale)
        self.m = int(m)
        self.d = int(d)

    def _generator(self) -> np.random.Generator:
        bg = getattr(np.random, self.state["bit_generator"])()
        bg.state = self.state
        return np.random.Generator(bg)

    def blocks(self, dtype, out: Optional[np.ndarray] = None) -> Iterator[Tuple[int, int, np.ndarray]]:
        """Yield (r0, r1, W0[r0:r1]) in `dtype` (a reused buffer without `out`)."""
        g = self._generator()
        rb = _block_rows(self.d, self.m)
        f64 = np.dtype(dtype) == np.float64
        buf = None if (f64 and out is not None) else np.empty((rb, self.d))
        tmp = None if (f64 or out is not None) else np.empty((rb, self.d), dtype=dtype)
        for r0 in range(0, self.m, rb):
            r1 = min(self.m, r0 + rb)
            b = out[r0:r1] if buf is None else buf[: r1 - r0]
            g.standard_normal(out=b)
            if out is not None:
                o = out[r0:r1]
            else:
                o = b if f64 else tmp[: r1 - r0]
            # float64 product, then one rounding to dtype: equals (scale * G).astype(dtype)
            np.multiply(b, self.scale, out=o, casting="unsafe")
            yield r0, r1, o


class ArrayInit:
    """An explicit W0 (m x d)."""

    kind = "array"

    def __init__(self, W0: np.ndarray):
        self.W0 = W0
        self.m, self.d = W0.shape

    def blocks(self, dtype) -> Iterator[Tuple[int, int, np.ndarray]]:
        yield 0, self.m, np.ascontiguousarray(self.W0, dtype=dtype)


class ZeroInit:
    """W0 = 0."""

    kind = "zero"

    def __init__(self, m: int, d: int):
        self.m = int(m)
        self.d = int(d)

    def blocks(self, dtype) -> Iterator[Tuple[int, int, np.ndarray]]:
        return iter(())


def init_full(init, dtype) -> np.ndarray:
    """W0 as one m x d array (the primal representation needs it)."""
    if isinstance(init, SeededInit):
        return init.full(dtype)
    W0 = np.zeros((init.m, init.d), dtype=dtype)
    if isinstance(init, PCG64Init):
        for _ in init.blocks(dtype, out=W0):
            pass
    else:
        for r0, r1, blk in init.blocks(dtype):
            W0[r0:r1] = blk
    return W0


def init_preacts(init, X: np.ndarray, n_threads: int) -> Tuple[np.ndarray, float]:
    """(X W0^T (n x m), ||W0||_F^2 of the dtype-rounded W0 summed in float64), W0 block by block
    (for SeededInit in one fused C++ kernel)."""
    if isinstance(init, SeededInit):
        return init.preacts(X, n_threads)
    Z0 = np.zeros((X.shape[0], init.m), dtype=X.dtype)
    sq = 0.0
    for r0, r1, blk in init.blocks(X.dtype):
        Z0[:, r0:r1] = _core.preactivations(X, blk, n_threads)
        # (einsum, not BLAS: a threaded BLAS dot per row is slow on a busy machine)
        sq += float(np.einsum("ij,ij->", blk, blk, dtype=np.float64))
    return Z0, sq


def _probe(d: int, dtype) -> np.ndarray:
    return _random.normal_block(20240531, _PROBE_STREAM, 0, 1, 0, d, dtype=dtype)


class SpanState:
    """W = W0 + A^T X with cached K = X X^T and Z0 = X W0^T (see the module docstring)."""

    def __init__(self, X: np.ndarray, K: np.ndarray, Z0: np.ndarray, A: np.ndarray, init, w0_sqnorm: float,
                 n_threads: int = 0, fingerprint: Optional[np.ndarray] = None, probe: Optional[np.ndarray] = None):
        self.X = X
        self.K = K
        self.Z0 = Z0
        self.A = np.ascontiguousarray(A, dtype=X.dtype)
        self.init = init
        self.w0_sqnorm = float(w0_sqnorm)
        self._W = None
        self._probe = probe if probe is not None else _probe(X.shape[1], X.dtype)
        self._fp = fingerprint if fingerprint is not None else self._fingerprint(X, n_threads)

    # ---------------------------------------------------------------- identity of the training X
    def _fingerprint(self, X: np.ndarray, n_threads: int) -> np.ndarray:
        # Deterministic (fixed tiles, no BLAS threading) so that the same data gives the same bits.
        return _core.preactivations(X, self._probe, n_threads)

    def check_X(self, n_threads: int) -> None:
        """Raise if the referenced training matrix was modified in place since fit."""
        if not np.array_equal(self._fingerprint(self.X, n_threads), self._fp):
            raise RuntimeError(
                "the training matrix X of this span-represented model was modified in place after fit; the "
                "model is W = W0 + A^T X and depends on it. Refit, or pass a copy of X to fit().")

    def is_train(self, X: np.ndarray, n_threads: int) -> bool:
        """True when X holds exactly the training data (same buffer, or equal content)."""
        T = self.X
        if X.shape != T.shape or X.dtype != T.dtype:
            return False
        same_buffer = (X.__array_interface__["data"][0] == T.__array_interface__["data"][0]
                       and X.strides == T.strides)
        if same_buffer:
            self.check_X(n_threads)
            return True
        if not np.array_equal(self._fingerprint(X, n_threads), self._fp):
            return False
        if not np.array_equal(X, T):
            return False
        self.check_X(n_threads)
        return True

    # ---------------------------------------------------------------- derived quantities
    @property
    def shape(self) -> Tuple[int, int]:
        return (self.init.m, self.X.shape[1])

    def train_preacts(self) -> np.ndarray:
        """Z = Z0 + K A on the training rows (O(n^2 m), no d)."""
        return self.Z0 + self.K @ self.A

    def materialize(self, n_threads: int) -> np.ndarray:
        """W = W0 + A^T X (m x d), one pass over X; cached."""
        if self._W is None:
            self.check_X(n_threads)
            W = init_full(self.init, self.X.dtype)
            _core.add_gamma_t_x(self.A, self.X, W, n_threads)
            W.flags.writeable = False
            self._W = W
        return self._W

    def preacts(self, Xn: np.ndarray, n_threads: int) -> np.ndarray:
        """Z = Xn W^T: from the cached W if it was formed; else Z0 + K A for the training matrix,
        else Xn W0^T + (Xn X^T) A (W is never formed here)."""
        if self._W is not None:  # formed already: the same numbers as the primal model
            return _core.preactivations(Xn, self._W, n_threads)
        if self.is_train(Xn, n_threads):
            return self.train_preacts()
        self.check_X(n_threads)
        Z, _ = init_preacts(self.init, Xn, n_threads)
        Z += _core.preactivations(Xn, self.X, n_threads) @ self.A
        return Z

    def sqnorm_W(self) -> float:
        """||W||_F^2 = ||W0||^2 + 2 <A, Z0> + <A, K A> (float64, no d)."""
        A = self.A.astype(np.float64)
        return float(self.w0_sqnorm + 2.0 * np.einsum("ij,ij->", A, self.Z0, dtype=np.float64)
                     + np.einsum("ij,ij->", A, self.K.astype(np.float64) @ A))

    def with_A(self, A: np.ndarray) -> "SpanState":
        """Same X, K, Z0, W0; new A (shares the cached arrays, no copies)."""
        return SpanState(self.X, self.K, self.Z0, A, self.init, self.w0_sqnorm, fingerprint=self._fp,
                         probe=self._probe)

    def nbytes(self) -> int:
        """Bytes held by the model itself (the training X is the caller's and not counted)."""
        own = self.K.nbytes + self.Z0.nbytes + self.A.nbytes + self._probe.nbytes + self._fp.nbytes
        if isinstance(self.init, ArrayInit):
            own += self.init.W0.nbytes
        if self._W is not None:
            own += self._W.nbytes
        return int(own)

    # ---------------------------------------------------------------- pickling
    def __getstate__(self):
        st = self.__dict__.copy()
        st["_W"] = None
        st["_fp"] = None
        return st

    def __setstate__(self, st):
        self.__dict__.update(st)
        self._fp = self._fingerprint(self.X, 0)

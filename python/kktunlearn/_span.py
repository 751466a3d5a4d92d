"""The data-span representation of a fitted model (exact, not an approximation).

Every gradient step adds a combination of the training rows to ``W``, so a model trained from
``W0`` on ``X`` (``n x d``) is, at every step::

    W = W0 + A^T X            A (n x m)
    Z = X W^T = Z0 + K A      K = X X^T (n x n),  Z0 = X W0^T (n x m)

A span-fitted model stores (:class:`SpanState`):

``X``
    A reference to the training matrix (``n x d``, the model's dtype; no copy is made when the
    caller's array already has that dtype and is C-contiguous).
``K``, ``Z0``
    ``n x n`` and ``n x m`` (cached, computed once).
``A``
    ``n x m``.
``init``
    Where ``W0`` comes from: the seed of the counter-based generator (``W0`` is regenerated in
    blocks in C++, never stored at ``m x d``), or an explicit array, or zero.
``fp``
    A fingerprint of ``X`` (``X r`` for a fixed random ``r``, ``n`` numbers; ``r`` is ``d``
    numbers) used to detect that the training matrix was modified in place after fit (error, never
    a silently different model).

Memory: ``n d`` (shared with the caller) ``+ n^2 + 2 n m + d (+ n)`` numbers of the model's dtype;
the ``m x d`` matrix ``W`` is formed only when asked (``W_``, ``params()``, ``_W``), then cached
(``m d`` numbers). For ``n = 100``, ``d = 10^6``, ``m = 100``, float32: 400 MB for ``X`` (the
caller's), 4 MB for ``r``, under 0.2 MB for the rest; ``W_`` would add 400 MB.

Pickling: the state is pickled with ``X`` (a span model is self-contained after unpickling),
without the cached ``W`` (rebuilt on demand) and without the fingerprint (recomputed on load).

This module is internal (its names may change without notice); it is documented because every
number of the library is computed from these states.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional, Tuple

import numpy as np

from . import _core, _random

# Products of new data with (W0, X) are cached up to this size per array (see SpanState._new_data_products).
_NEW_DATA_CACHE_BYTES = 64 << 20

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
    """``W0[j, k] = dtype(scale * z(seed, stream 0, j, k))`` with counter-based standard normals ``z``.

    The generator is that of ``kktunlearn._random`` (Philox4x32-10 + Box-Muller, in C++). Every entry
    is a pure function of ``(seed, j, k)``: ``W0`` is generated in any blocks, in parallel, with bits
    independent of the thread count and of the block split, and never held at ``m x d`` unless asked
    (:func:`init_full`). float32 models get float32 ``W0``: the float64 product ``scale * z`` is
    rounded once to float32. The draw differs from kktunlearn 0.1.0 (numpy PCG64); models pickled by
    0.1.0 keep their PCG64 init (:class:`PCG64Init`).

    Parameters
    ----------
    seed : int
        The 64-bit key of the generator.
    scale : float
        The initialization scale.
    m, d : int
        The shape of ``W0``.
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
        """The init of a model's ``random_state`` (see ``kktunlearn._random.seed_from_random_state``).

        Parameters
        ----------
        random_state : int, numpy Generator or None
            The model's ``random_state``.
        scale : float
            The initialization scale.
        m, d : int
            The shape of ``W0``.

        Returns
        -------
        SeededInit
            The init.
        """
        return cls(_random.seed_from_random_state(random_state), scale, m, d)

    def block(self, r0: int, r1: int, dtype, n_threads: int = 0) -> np.ndarray:
        """``W0[r0:r1]`` as a new ``(r1 - r0) x d`` array.

        Parameters
        ----------
        r0, r1 : int
            The rows.
        dtype : dtype
            float64 or float32.
        n_threads : int, default 0
            Threads of the generator (0: the OpenMP default).

        Returns
        -------
        ndarray of shape (r1 - r0, d)
            The rows of ``W0``.
        """
        return _random.normal_block(self.seed, _W0_STREAM, r0, r1 - r0, 0, self.d, scale=self.scale, dtype=dtype,
                                    n_threads=n_threads)

    def blocks(self, dtype, out: Optional[np.ndarray] = None) -> Iterator[Tuple[int, int, np.ndarray]]:
        """Yield ``(r0, r1, W0[r0:r1])`` in row blocks of at most 32 MB.

        Parameters
        ----------
        dtype : dtype
            float64 or float32.
        out : ndarray of shape (m, d), optional
            Write the blocks into ``out[r0:r1]`` and yield those views.

        Yields
        ------
        tuple
            ``(r0, r1, block)``.
        """
        rb = _block_rows(self.d, self.m)
        for r0 in range(0, self.m, rb):
            r1 = min(self.m, r0 + rb)
            blk = self.block(r0, r1, dtype)
            if out is not None:
                out[r0:r1] = blk
                blk = out[r0:r1]
            yield r0, r1, blk

    def full(self, dtype, n_threads: int = 0) -> np.ndarray:
        """``W0`` (``m x d``) in one parallel C++ fill.

        Parameters
        ----------
        dtype : dtype
            float64 or float32.
        n_threads : int, default 0
            Threads of the generator.

        Returns
        -------
        ndarray of shape (m, d)
            ``W0``.
        """
        return self.block(0, self.m, dtype, n_threads)

    def preacts(self, X: np.ndarray, n_threads: int, extra: Optional[np.ndarray] = None) -> tuple:
        """``(X W0^T, ||w0_j||^2)`` in one fused C++ kernel that generates ``W0`` tile by tile (memory ``O(n m)``).

        Parameters
        ----------
        X : ndarray of shape (n, d)
            The data.
        n_threads : int
            Threads.
        extra : ndarray of shape (k, d), optional
            Rows ``E`` (X's dtype) whose product ``X E^T`` is computed in the same pass over ``X``.

        Returns
        -------
        Z0 : ndarray of shape (n, m)
            ``X W0^T``.
        rowsq : ndarray of shape (m,), float64
            ``||w0_j||^2`` of the dtype-rounded ``W0``.
        XE : ndarray of shape (n, k)
            ``X E^T``, only when `extra` is given.
        """
        if extra is None:
            return _core.normal_preacts(X, self.seed, _W0_STREAM, self.m, self.scale, n_threads)
        return _core.normal_preacts(X, self.seed, _W0_STREAM, self.m, self.scale, n_threads, extra)

    def __setstate__(self, st):
        if "state" in st:  # pickled by kktunlearn 0.1.0: a numpy PCG64 state
            self.__class__ = PCG64Init
        self.__dict__.update(st)


class PCG64Init:
    """kktunlearn 0.1.0's ``W0``, for models pickled by 0.1.0 only.

    ``W0 = scale * G.standard_normal((m, d))`` for the numpy Generator ``G`` at ``state``, in row
    blocks (numpy fills C order from one stream).

    Parameters
    ----------
    state : dict
        The numpy bit generator's state.
    scale : float
        The initialization scale.
    m, d : int
        The shape of ``W0``.
    """

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
        """Yield ``(r0, r1, W0[r0:r1])`` in ``dtype`` (a reused buffer without ``out``).

        Parameters
        ----------
        dtype : dtype
            float64 or float32.
        out : ndarray of shape (m, d), optional
            Write the blocks into ``out[r0:r1]`` and yield those views.

        Yields
        ------
        tuple
            ``(r0, r1, block)``.
        """
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
    """An explicit ``W0`` (``m x d``).

    Parameters
    ----------
    W0 : ndarray of shape (m, d)
        The initial weights.
    """

    kind = "array"

    def __init__(self, W0: np.ndarray):
        self.W0 = W0
        self.m, self.d = W0.shape

    def blocks(self, dtype) -> Iterator[Tuple[int, int, np.ndarray]]:
        """Yield the one block ``(0, m, W0)`` in ``dtype``.

        Parameters
        ----------
        dtype : dtype
            float64 or float32.

        Yields
        ------
        tuple
            ``(0, m, W0)``.
        """
        yield 0, self.m, np.ascontiguousarray(self.W0, dtype=dtype)


class ZeroInit:
    """``W0 = 0``.

    Parameters
    ----------
    m, d : int
        The shape of ``W0``.
    """

    kind = "zero"

    def __init__(self, m: int, d: int):
        self.m = int(m)
        self.d = int(d)

    def blocks(self, dtype) -> Iterator[Tuple[int, int, np.ndarray]]:
        """Yield no block (``W0 = 0`` contributes nothing).

        Parameters
        ----------
        dtype : dtype
            float64 or float32.

        Returns
        -------
        iterator
            An empty iterator.
        """
        return iter(())


def init_full(init, dtype) -> np.ndarray:
    """``W0`` as one ``m x d`` array (the primal representation needs it).

    Parameters
    ----------
    init : SeededInit, PCG64Init, ArrayInit or ZeroInit
        The init.
    dtype : dtype
        float64 or float32.

    Returns
    -------
    ndarray of shape (m, d)
        ``W0``.
    """
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


def init_preacts(init, X: np.ndarray, n_threads: int, per_row: bool = False):
    """``(X W0^T, ||W0||_F^2)``, ``W0`` block by block (for :class:`SeededInit` in one fused C++ kernel).

    Parameters
    ----------
    init : SeededInit, PCG64Init, ArrayInit or ZeroInit
        The init.
    X : ndarray of shape (n, d)
        The data.
    n_threads : int
        Threads.
    per_row : bool, default False
        Return the per-neuron squared norms ``||w0_j||^2`` (``m``, float64) instead of their sum (the
        KKT problem of a span model needs them; their sum in row order is the same float64 number).

    Returns
    -------
    Z0 : ndarray of shape (n, m)
        ``X W0^T``.
    sqnorm : float or ndarray of shape (m,)
        ``||W0||_F^2`` of the dtype-rounded ``W0`` summed in float64, or the per-row norms.
    """
    if isinstance(init, SeededInit):
        Z0, rowsq = init.preacts(X, n_threads)
        return (Z0, rowsq) if per_row else (Z0, float(rowsq.sum()))
    Z0 = np.zeros((X.shape[0], init.m), dtype=X.dtype)
    rowsq = np.zeros(init.m)
    for r0, r1, blk in init.blocks(X.dtype):
        Z0[:, r0:r1] = _core.preactivations(X, blk, n_threads)
        # (einsum, not BLAS: a threaded BLAS dot per row is slow on a busy machine)
        rowsq[r0:r1] = np.einsum("ij,ij->i", blk, blk, dtype=np.float64)
    if per_row:
        return Z0, rowsq
    return Z0, float(rowsq.sum())


def init_rowsq(init, dtype) -> np.ndarray:
    """``||w0_j||^2`` (``m``, float64) of the dtype-rounded ``W0``, block by block (one generation pass).

    Parameters
    ----------
    init : SeededInit, PCG64Init, ArrayInit or ZeroInit
        The init.
    dtype : dtype
        float64 or float32.

    Returns
    -------
    ndarray of shape (m,)
        The squared row norms.
    """
    if isinstance(init, SeededInit):
        return init.preacts(np.empty((0, init.d), dtype=dtype), 0)[1]
    rowsq = np.zeros(init.m)
    for r0, r1, blk in init.blocks(dtype):
        rowsq[r0:r1] = np.einsum("ij,ij->i", blk, blk, dtype=np.float64)
    return rowsq


def same_init(a, b) -> bool:
    """True when two init objects describe the same ``W0`` (same numbers, no generation).

    Parameters
    ----------
    a, b : SeededInit, PCG64Init, ArrayInit or ZeroInit
        The inits.

    Returns
    -------
    bool
        Whether they describe the same ``W0``.
    """
    if a is b:
        return True
    if type(a) is not type(b) or a.m != b.m or a.d != b.d:
        return False
    if isinstance(a, ZeroInit):
        return True
    if isinstance(a, SeededInit):
        return a.scale == b.scale and a.seed == b.seed
    if isinstance(a, PCG64Init):
        return a.scale == b.scale and _state_equal(a.state, b.state)
    if isinstance(a, ArrayInit):
        return a.W0 is b.W0 or np.array_equal(a.W0, b.W0)
    return False


def _state_equal(a, b) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_state_equal(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b))
    return a == b


class _Shared:
    """What the states over one (X, W0) share: the new-data products cache, and the check scope (inside
    one public call the in-place check of X runs once, not at every internal use)."""

    def __init__(self):
        self.new = {}
        self.scope = None


@contextlib.contextmanager
def one_check(*models):
    """Context manager: within it each span model's training ``X`` is checked for in-place modification at most once.

    The check reads all of ``X``; a public call that uses ``X`` several times pays for one pass.

    Parameters
    ----------
    *models
        Models (None and primal models are ignored).

    Yields
    ------
    None
        Inside the scope.
    """
    opened = []
    for mdl in models:
        sp = getattr(mdl, "__dict__", {}).get("_span") if mdl is not None else None
        if sp is not None and sp._shared.scope is None:
            sp._shared.scope = {"checked": False}
            opened.append(sp._shared)
    try:
        yield
    finally:
        for sh in opened:
            sh.scope = None


def scoped(*names: str):
    """Decorator: run the function inside :func:`one_check` for its model arguments ``names``.

    Parameters
    ----------
    *names : str
        The names of the decorated function's model arguments.

    Returns
    -------
    callable
        The decorator.
    """
    import functools
    import inspect

    def deco(fn):
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                bound = sig.bind_partial(*args, **kwargs).arguments
            except TypeError:
                return fn(*args, **kwargs)  # the call's own error
            with one_check(*(bound.get(n) for n in names)):
                return fn(*args, **kwargs)
        return wrapper
    return deco


_GENERATED_TILE_BYTES = 64 << 20  # generated rows: the n x 512 sub-block each thread generates


def _data_key(X: np.ndarray):
    return (X.__array_interface__["data"][0], X.shape, X.strides, X.dtype.str)


def _probe(d: int, dtype) -> np.ndarray:
    return _random.normal_block(20240531, _PROBE_STREAM, 0, 1, 0, d, dtype=dtype)


class SpanState:
    """``W = c W0 + A^T X`` with cached ``K = X X^T`` and ``Z0 = X W0^T`` (see the module documentation).

    ``c = w0_coef`` (1 for plain gradient descent; weight decay shrinks it). Everything the library
    computes from a span model is a function of ``(X, K, Z0, A, c, W0's seed, ||w0_j||^2)`` alone: the
    ``m x d`` matrix ``W`` is formed only by :meth:`materialize` (a user reading ``W_`` /
    ``params()``) and never read back by any computation, so reading it cannot change a later result.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        The training matrix (referenced, not copied).
    K : ndarray of shape (n, n)
        ``X X^T``.
    Z0 : ndarray of shape (n, m)
        ``X W0^T``.
    A : ndarray of shape (n, m)
        The span coefficients.
    init : SeededInit, PCG64Init, ArrayInit or ZeroInit
        Where ``W0`` comes from.
    w0_sqnorm : float
        ``||W0||_F^2``.
    n_threads : int, default 0
        Threads of the fingerprint.
    fingerprint, probe : ndarray, optional
        Reuse these (states derived from one another share them).
    w0_coef : float, default 1.0
        ``c``.
    w0_rowsq : ndarray of shape (m,), optional
        ``||w0_j||^2`` (computed on first need otherwise).
    shared : object, optional
        The new-data cache and check scope shared by the states over one ``(X, W0)``.
    """

    kind = "span"

    def __init__(self, X: np.ndarray, K: np.ndarray, Z0: np.ndarray, A: np.ndarray, init, w0_sqnorm: float,
                 n_threads: int = 0, fingerprint: Optional[np.ndarray] = None, probe: Optional[np.ndarray] = None,
                 w0_coef: float = 1.0, w0_rowsq: Optional[np.ndarray] = None, shared: Optional[_Shared] = None):
        self.X = X
        self.K = K
        self.Z0 = Z0
        self.A = np.ascontiguousarray(A, dtype=X.dtype)
        self.init = init
        self.w0_coef = float(w0_coef)
        if w0_rowsq is not None:
            self.w0_rowsq = np.ascontiguousarray(w0_rowsq, dtype=np.float64)
            self.w0_sqnorm = float(self.w0_rowsq.sum())
        else:
            self.w0_rowsq = None  # computed on first need (one W0 generation pass)
            self.w0_sqnorm = float(w0_sqnorm)
        self._W = None
        self._Z = None
        self._KA = None   # K A in float64 (float64 states: also the K A of Z), cached
        self._wsq = None  # the squared neuron norms, cached
        # products with new data that depend only on (X, W0), shared by every state derived from this one
        # (unlearned, retrained, ... models over the same X and W0): new-data key -> (fingerprint, Xn W0^T, Xn X^T)
        self._shared = shared if shared is not None else _Shared()
        self._basis = self._shared.new
        self._probe = probe if probe is not None else _probe(X.shape[1], X.dtype)
        self._fp = fingerprint if fingerprint is not None else self._fingerprint(X, n_threads)

    # ---------------------------------------------------------------- identity of the training X
    def _fingerprint(self, X: np.ndarray, n_threads: int) -> np.ndarray:
        # Deterministic (fixed tiles / einsum's fixed loop, no BLAS threading) so that the same buffer gives
        # the same bits. float32: einsum in float32 (the core's float32 products accumulate in double,
        # 10x slower for this memory-bound pass); it is only ever compared with itself on the same buffer.
        if X.dtype == np.float32:
            return np.einsum("ij,j->i", X, self._probe[0]).reshape(-1, 1)
        return _core.preactivations(X, self._probe, n_threads)

    def _row_keys(self, X: np.ndarray) -> np.ndarray:
        """Exact sampled entries of each row (16 fixed columns), as bytes keys for matching rows."""
        d = X.shape[1]
        cols = np.unique(np.linspace(0, d - 1, num=min(16, d)).astype(np.intp))
        S = np.ascontiguousarray(X[:, cols])
        return [S[i].tobytes() for i in range(S.shape[0])]

    def _key_table(self) -> dict:
        tab = getattr(self, "_keys", None)
        if tab is None:
            tab = {}
            for i, k in enumerate(self._row_keys(self.X)):
                tab.setdefault(k, []).append(i)
            self._keys = tab
        return tab

    def check_X(self, n_threads: int) -> None:
        """Raise if the referenced training matrix was modified in place since fit.

        One pass over ``X``; once per public call inside :func:`one_check`.

        Parameters
        ----------
        n_threads : int
            Threads.

        Raises
        ------
        RuntimeError
            If ``X`` no longer matches its fingerprint.
        """
        sc = self._shared.scope
        if sc is not None and sc["checked"]:
            return
        if sc is not None:
            sc["checked"] = True
        if not np.array_equal(self._fingerprint(self.X, n_threads), self._fp):
            raise RuntimeError(
                "the training matrix X of this span-represented model was modified in place after fit; the "
                "model is W = W0 + A^T X and depends on it. Refit, or pass a copy of X to fit().")

    def _same_buffer(self, X: np.ndarray) -> bool:
        T = self.X
        return (X.shape == T.shape and X.dtype == T.dtype and X.strides == T.strides
                and X.__array_interface__["data"][0] == T.__array_interface__["data"][0])

    def is_train(self, X: np.ndarray, n_threads: int) -> bool:
        """True when ``X`` holds exactly the training data (same buffer, or equal content).

        Parameters
        ----------
        X : ndarray
            The data.
        n_threads : int
            Threads.

        Returns
        -------
        bool
            Whether ``X`` is the training data, row for row.
        """
        r = self.rows_of(X, n_threads)
        return r is not None and r.size == self.X.shape[0] and bool(np.all(r == np.arange(r.size)))

    def known_new_data(self, X: np.ndarray, n_threads: int) -> bool:
        """True when ``X`` is a new-data array this state's family has predicted before and it is unchanged since.

        Same buffer and fingerprint: it was validated then, so it need not be again (its fingerprint is
        kept for the rest of the call).

        Parameters
        ----------
        X : ndarray
            The data.
        n_threads : int
            Threads.

        Returns
        -------
        bool
            Whether ``X`` is known and unchanged.
        """
        key = _data_key(X)
        hit = self._basis.get(key)
        if hit is None or hit[0] is None:
            return False
        fp = self._scope_fingerprint(X, key, n_threads)
        return bool(np.array_equal(hit[0], fp))

    def _scope_fingerprint(self, X: np.ndarray, key, n_threads: int) -> np.ndarray:
        """The fingerprint of new data ``X`` (buffer key ``key``), computed once per public call: inside a
        check scope (:func:`one_check`) it is kept for the rest of the call, where no user code runs that
        could modify ``X``; outside one it is computed afresh."""
        sc = self._shared.scope
        if sc is None:
            return self._fingerprint(X, n_threads)
        fps = sc.setdefault("new_fp", {})
        if key not in fps:
            fps[key] = self._fingerprint(X, n_threads)
        return fps[key]

    def rows_of(self, X: np.ndarray, n_threads: int) -> Optional[np.ndarray]:
        """Indices ``r`` with ``X[k] == X_train[r[k]]`` exactly for every row ``k``, or None (then ``X`` is new data).

        Rows of ``X`` equal to several training rows get distinct ones while copies last (so ``r`` has no
        repeats unless ``X`` holds a row more often than the training matrix does).

        Same buffer: ``O(1)`` (plus the in-place modification check). Otherwise the rows are matched by
        their fingerprints ``<x, probe>`` (``n`` numbers, one pass over ``X``) and confirmed by exact
        comparison (one more pass), so a row subset of the training matrix (``X[keep]``, a sequence's
        retained rows) is recognized and every consumer stays in the span on it.

        Parameters
        ----------
        X : ndarray
            The data.
        n_threads : int
            Threads.

        Returns
        -------
        ndarray of int or None
            The training rows of ``X``.
        """
        T = self.X
        if X.ndim != 2 or X.shape[1] != T.shape[1] or X.dtype != T.dtype or X.shape[0] == 0:
            return None
        generated = isinstance(X, _random.GeneratedRows)
        if not generated and self._same_buffer(X):
            self.check_X(n_threads)
            return np.arange(T.shape[0], dtype=np.intp)
        tab = self._key_table()
        # new data is told apart by its first row alone (O(d); generated rows generate only that row), before
        # looking at all of X
        first = X[:1]
        if not any(np.array_equal(first[0], T[c]) for c in tab.get(self._row_keys(first)[0], ())):
            return None
        if generated:
            X = np.asarray(X)  # its first row is a training row: matched row by row as an array
        rows = np.empty(X.shape[0], dtype=np.intp)
        taken = set()
        for k, key in enumerate(self._row_keys(X)):
            # equal training rows (duplicates) are handed out in turn, so that distinct rows of X get distinct
            # training rows where the training matrix has as many copies (consumers scatter into A's rows)
            first = -1
            for c in tab.get(key, ()):
                if np.array_equal(X[k], T[c]):
                    if first < 0:
                        first = c
                    if c not in taken:
                        first = c
                        break
            if first < 0:
                return None
            taken.add(first)
            rows[k] = first
        self.check_X(n_threads)
        return rows

    # ---------------------------------------------------------------- derived quantities
    @property
    def shape(self) -> Tuple[int, int]:
        """``(m, d)``, the shape of ``W``."""
        return (self.init.m, self.X.shape[1])

    @property
    def dtype(self):
        """The model's dtype (that of ``X``)."""
        return self.X.dtype

    def train_preacts(self) -> np.ndarray:
        """``Z = c Z0 + K A`` on the training rows (``O(n^2 m)``, no ``d``); cached, read-only.

        Returns
        -------
        ndarray of shape (n, m)
            The pre-activations.
        """
        if self._Z is None:
            Z = self._K_A().copy() if self.X.dtype == np.float64 else self.K @ self.A
            Z += self.Z0 if self.w0_coef == 1.0 else self.w0_coef * self.Z0
            Z.flags.writeable = False
            self._Z = Z
        return self._Z

    def materialize(self, n_threads: int) -> np.ndarray:
        """``W = c W0 + A^T X`` (``m x d``), one pass over ``X``; cached for the user who asked (``W_``, ``params()``).

        No computation of the library reads it.

        Parameters
        ----------
        n_threads : int
            Threads.

        Returns
        -------
        ndarray of shape (m, d)
            ``W``.
        """
        if self._W is None:
            self.check_X(n_threads)
            W = init_full(self.init, self.X.dtype)
            if self.w0_coef != 1.0:
                W *= self.X.dtype.type(self.w0_coef)
            _core.add_gamma_t_x(self.A, self.X, W, n_threads)
            W.flags.writeable = False
            self._W = W
        return self._W

    def preacts(self, Xn: np.ndarray, n_threads: int) -> np.ndarray:
        """``Z = Xn W^T`` without forming ``W``.

        ``(c Z0 + K A)[rows]`` when ``Xn``'s rows are training rows, else ``c Xn W0^T + (Xn X^T) A``
        (``W0`` regenerated block by block).

        Parameters
        ----------
        Xn : ndarray of shape (k, d)
            The data.
        n_threads : int
            Threads.

        Returns
        -------
        ndarray of shape (k, m)
            The pre-activations.
        """
        rows = self.rows_of(Xn, n_threads)
        if rows is not None:
            Z = self.train_preacts()
            return Z.copy() if rows.size == Z.shape[0] and np.all(rows == np.arange(rows.size)) else Z[rows]
        self.check_X(n_threads)
        Z0n, Kn = self._new_data_products(Xn, n_threads)
        Z = Kn @ self.A
        Z += Z0n if self.w0_coef == 1.0 else self.w0_coef * Z0n
        return Z

    def _new_data_products(self, Xn, n_threads: int) -> Tuple[np.ndarray, np.ndarray]:
        """(Xn W0^T, Xn X^T) for new data. Cached per array (its buffer, shape and fingerprint; a modified
        array is recomputed) and shared by the states over the same X and W0, so that a model, its
        unlearned versions and its retrained oracle predict a test set with one W0 pass between them.
        The cached products are the very numbers a fresh computation gives (deterministic kernels).

        ``Xn`` may be a `GeneratedRows`: immutable, so cached by its token (never reused in a process)
        without a fingerprint, and multiplied without being materialized (its sub-blocks generated beside
        W0's in one C++ pass, the bits of the materialized array)."""
        small = Xn.shape[0] * (self.init.m + self.X.shape[0]) * Xn.dtype.itemsize <= _NEW_DATA_CACHE_BYTES
        generated = isinstance(Xn, _random.GeneratedRows)
        if generated:
            key, fp = ("generated", Xn._token), None
            hit = self._basis.get(key)
            if hit is not None:
                return hit[1], hit[2]
        else:
            key = _data_key(Xn)
            fp = self._scope_fingerprint(Xn, key, n_threads) if small else None
            hit = self._basis.get(key)
            if hit is not None and np.array_equal(hit[0], fp):
                return hit[1], hit[2]
        seeded = isinstance(self.init, SeededInit)
        if generated and seeded and Xn.shape[0] * 512 * Xn.dtype.itemsize <= _GENERATED_TILE_BYTES:
            Z0n, _, Kn = _core.normal_preacts_generated(Xn.spec(), self.init.seed, _W0_STREAM, self.init.m,
                                                        self.init.scale, _random._dtype_name(Xn.dtype), n_threads,
                                                        self.X)
        else:
            # (generated rows with another initialization, or too many rows for one sub-block per thread:
            # as an array)
            Xa = np.asarray(Xn) if generated else Xn
            if seeded:
                # both products in one pass over Xn (W0 generated tile by tile, the training rows alongside)
                Z0n, _, Kn = self.init.preacts(Xa, n_threads, extra=self.X)
            else:
                Z0n, _ = init_preacts(self.init, Xa, n_threads)
                Kn = _core.preactivations(Xa, self.X, n_threads)
        if small:
            Z0n.flags.writeable = False
            Kn.flags.writeable = False
            while len(self._basis) >= 4:
                self._basis.pop(next(iter(self._basis)))
            self._basis[key] = (fp, Z0n, Kn)
        return Z0n, Kn

    def rowsq0(self) -> np.ndarray:
        """``||w0_j||^2`` (``m``, float64), computed once by regenerating ``W0`` when the state was built without it.

        Returns
        -------
        ndarray of shape (m,)
            The squared row norms of ``W0``.
        """
        if self.w0_rowsq is None:
            self.w0_rowsq = init_rowsq(self.init, self.X.dtype)
        return self.w0_rowsq

    def neuron_sqnorms(self) -> np.ndarray:
        """``||w_j||^2 = c^2 ||w0_j||^2 + 2 c <A_j, Z0_j> + A_j^T K A_j`` (``m``, float64), no ``d``.

        Returns
        -------
        ndarray of shape (m,)
            The squared neuron norms.
        """
        if self._wsq is None:
            A = self.A.astype(np.float64)
            c = self.w0_coef
            w = c * c * self.rowsq0() + 2.0 * c * np.einsum("ij,ij->j", A, self.Z0, dtype=np.float64) + \
                np.einsum("ij,ij->j", A, self._K_A())
            w.flags.writeable = False
            self._wsq = w
        return self._wsq

    def _K_A(self) -> np.ndarray:
        # K A in float64 (n x m, O(n^2 m)); computed once, shared by Z (float64 states) and the neuron norms
        if self._KA is None:
            KA = self.K @ self.A if self.X.dtype == np.float64 else \
                self.K.astype(np.float64) @ self.A.astype(np.float64)
            KA.flags.writeable = False
            self._KA = KA
        return self._KA

    def sqnorm_W(self) -> float:
        """``||W||_F^2 = c^2 ||W0||^2 + 2 c <A, Z0> + <A, K A>`` (float64, no ``d``).

        Returns
        -------
        float
            The squared Frobenius norm.
        """
        return self.inner(self)

    def inner(self, other: "SpanState", A_other: Optional[np.ndarray] = None) -> float:
        """``<W, W'>`` for a span state ``W'`` over the same ``X`` and ``W0``.

        ``c c' ||W0||^2 + c <A', Z0> + c' <A, Z0> + <A, K A'>`` (float64, no ``d``).

        Parameters
        ----------
        other : SpanState
            The other state.
        A_other : ndarray of shape (n, m), optional
            Its ``A`` lifted to this ``X``'s rows (:meth:`lift`).

        Returns
        -------
        float
            The Frobenius inner product.
        """
        Ab = (other.A if A_other is None else A_other).astype(np.float64)
        A = self.A.astype(np.float64)
        c, cb = self.w0_coef, other.w0_coef
        Z0 = self.Z0
        return float(c * cb * self.w0_sqnorm + c * np.einsum("ij,ij->", Ab, Z0, dtype=np.float64)
                     + cb * np.einsum("ij,ij->", A, Z0, dtype=np.float64)
                     + np.einsum("ij,ij->", A, self.K.astype(np.float64) @ Ab))

    def lift(self, other: "SpanState", n_threads: int) -> Optional[np.ndarray]:
        """``other``'s ``A`` expressed on this state's training rows (``n x m``).

        Defined when ``other``'s ``W0`` is this ``W0`` and its training rows are rows of this ``X`` (e.g.
        a model retrained on ``X[keep]``).

        Parameters
        ----------
        other : SpanState
            The other state.
        n_threads : int
            Threads.

        Returns
        -------
        ndarray of shape (n, m) or None
            The lifted coefficients, or None when the states do not nest.
        """
        if other is self or (other.X is self.X and same_init(self.init, other.init)):
            return other.A
        if not same_init(self.init, other.init):
            return None
        rows = self.rows_of(other.X, n_threads)
        if rows is None:
            return None
        A = np.zeros_like(self.A)
        np.add.at(A, rows, other.A)
        return A

    def with_A(self, A: np.ndarray, w0_coef: Optional[float] = None) -> "SpanState":
        """Same ``X``, ``K``, ``Z0``, ``W0``; new ``A`` (and ``c``); shares the cached arrays, no copies.

        Parameters
        ----------
        A : ndarray of shape (n, m)
            The new coefficients.
        w0_coef : float, optional
            The new ``c`` (default: this state's).

        Returns
        -------
        SpanState
            The new state.
        """
        return SpanState(self.X, self.K, self.Z0, A, self.init, self.w0_sqnorm, fingerprint=self._fp,
                         probe=self._probe, w0_coef=self.w0_coef if w0_coef is None else w0_coef,
                         w0_rowsq=self.w0_rowsq, shared=self._shared)

    def nbytes(self) -> int:
        """Bytes held by the model itself (the training ``X`` is the caller's and not counted).

        Returns
        -------
        int
            The byte count.
        """
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
        st["_Z"] = None
        st["_KA"] = None
        st.pop("_param_key", None)
        st["_wsq"] = None
        st["_basis"] = None
        st["_shared"] = None
        st["_fp"] = None
        st["_keys"] = None
        return st

    def __setstate__(self, st):
        st.setdefault("w0_coef", 1.0)
        st.setdefault("w0_rowsq", None)
        st.setdefault("_Z", None)
        st.setdefault("_KA", None)
        st.setdefault("_wsq", None)
        self.__dict__.update(st)
        self._shared = _Shared()
        self._basis = self._shared.new
        self._fp = self._fingerprint(self.X, 0)


class PrimalState:
    """``W`` held as an ``m x d`` array (the primal representation), with the same methods as :class:`SpanState`.

    Parameters
    ----------
    W : ndarray of shape (m, d)
        The weights.
    """

    kind = "primal"

    def __init__(self, W: np.ndarray):
        self.W = W

    @property
    def shape(self) -> Tuple[int, int]:
        """``(m, d)``, the shape of ``W``."""
        return self.W.shape

    @property
    def dtype(self):
        """The dtype of ``W``."""
        return self.W.dtype

    def rows_of(self, X: np.ndarray, n_threads: int) -> None:
        """Always None: a primal state keeps no training rows.

        Parameters
        ----------
        X : ndarray
            The data.
        n_threads : int
            Threads.

        Returns
        -------
        None
            No training rows.
        """
        return None

    def materialize(self, n_threads: int) -> np.ndarray:
        """``W`` itself.

        Parameters
        ----------
        n_threads : int
            Threads (unused).

        Returns
        -------
        ndarray of shape (m, d)
            ``W``.
        """
        return self.W

    def preacts(self, Xn: np.ndarray, n_threads: int) -> np.ndarray:
        """``Z = Xn W^T``.

        Parameters
        ----------
        Xn : ndarray of shape (k, d)
            The data.
        n_threads : int
            Threads.

        Returns
        -------
        ndarray of shape (k, m)
            The pre-activations.
        """
        return _core.preactivations(Xn, self.W, n_threads)

    def neuron_sqnorms(self) -> np.ndarray:
        """``||w_j||^2`` (``m``, float64).

        Returns
        -------
        ndarray of shape (m,)
            The squared neuron norms.
        """
        return np.einsum("ij,ij->i", self.W, self.W, dtype=np.float64)

    def sqnorm_W(self) -> float:
        """``||W||_F^2`` (float64).

        Returns
        -------
        float
            The squared Frobenius norm.
        """
        W = np.asarray(self.W, dtype=np.float64).ravel()
        return float(np.dot(W, W))

    def nbytes(self) -> int:
        """Bytes of ``W``.

        Returns
        -------
        int
            The byte count.
        """
        return int(self.W.nbytes)


def inner_W(a, b, n_threads: int) -> float:
    """``<W_a, W_b>`` (Frobenius, float64) of two states without forming an ``m x d`` span matrix.

    Span/span over the same ``W0`` and nested training rows: the ``d``-free formula of
    :meth:`SpanState.inner`; span/primal: ``c <W0, W'>`` (``W0`` block by block) ``+ <A, X W'^T>``;
    otherwise ``W0`` blocks of each span side.

    Parameters
    ----------
    a, b : SpanState or PrimalState
        The states.
    n_threads : int
        Threads.

    Returns
    -------
    float
        The inner product.
    """
    if isinstance(a, SpanState) and isinstance(b, SpanState):
        Ab = a.lift(b, n_threads)
        if Ab is not None:
            return a.inner(b, Ab)
        Aa = b.lift(a, n_threads)
        if Aa is not None:
            return b.inner(a, Aa)
    if isinstance(a, PrimalState) and isinstance(b, PrimalState):
        return float(np.dot(np.asarray(a.W, np.float64).ravel(), np.asarray(b.W, np.float64).ravel()))
    if isinstance(a, PrimalState):
        a, b = b, a
    if isinstance(b, PrimalState):
        return _span_dot_dense(a, np.asarray(b.W), n_threads)
    # two unrelated span states: <W_a, W_b> = c_a <W0_a, W_b> + <A_a, X_a W_b^T>, W_b row block by block
    Wb_blocks = _state_row_blocks(b, n_threads)
    tot = 0.0
    for r0, r1, blk in Wb_blocks:
        tot += _span_dot_dense(a, blk, n_threads, r0, r1)
    return tot


def _span_dot_dense(a: "SpanState", Wb: np.ndarray, n_threads: int, r0: int = 0, r1: Optional[int] = None) -> float:
    """<W_a[r0:r1], Wb> for a span state and dense rows Wb (r1 - r0 x d)."""
    r1 = a.init.m if r1 is None else r1
    Wb = np.ascontiguousarray(Wb, dtype=a.dtype)
    tot = 0.0
    for b0, b1, blk in a.init.blocks(a.dtype):
        lo, hi = max(b0, r0), min(b1, r1)
        if lo < hi:
            tot += a.w0_coef * float(np.einsum("ij,ij->", blk[lo - b0:hi - b0], Wb[lo - r0:hi - r0],
                                               dtype=np.float64))
    XW = _core.preactivations(a.X, Wb, n_threads)  # n x (r1 - r0)
    tot += float(np.einsum("ij,ij->", a.A[:, r0:r1].astype(np.float64), XW, dtype=np.float64))
    return tot


def _state_row_blocks(s: "SpanState", n_threads: int):
    """Row blocks of W = c W0 + A^T X (never all m x d at once)."""
    for r0, r1, blk in s.init.blocks(s.dtype):
        W = np.array(blk, dtype=s.dtype, copy=True)
        if s.w0_coef != 1.0:
            W *= s.dtype.type(s.w0_coef)
        _core.add_gamma_t_x(np.ascontiguousarray(s.A[:, r0:r1]), s.X, W, n_threads)
        yield r0, r1, W
    if isinstance(s.init, ZeroInit):
        rb = _block_rows(s.X.shape[1], s.init.m) if s.init.m > 1 else 1
        for r0 in range(0, s.init.m, rb):
            r1 = min(s.init.m, r0 + rb)
            W = np.zeros((r1 - r0, s.X.shape[1]), dtype=s.dtype)
            _core.add_gamma_t_x(np.ascontiguousarray(s.A[:, r0:r1]), s.X, W, n_threads)
            yield r0, r1, W


def sqdist_W(a, b, n_threads: int) -> float:
    """``||W_a - W_b||_F^2`` (float64).

    Span states over the same ``W0`` and nested training rows:
    ``(c_a - c_b)^2 ||W0||^2 + 2 (c_a - c_b) <dA, Z0> + <dA, K dA>``, ``dA = A_a - A_b`` (no ``d``,
    and no cancellation between the two norms); primal pairs: directly; otherwise from inner products.

    Parameters
    ----------
    a, b : SpanState or PrimalState
        The states.
    n_threads : int
        Threads.

    Returns
    -------
    float
        The squared distance.
    """
    if isinstance(a, PrimalState) and isinstance(b, PrimalState):
        D = np.asarray(a.W, np.float64) - np.asarray(b.W, np.float64)
        return float(np.einsum("ij,ij->", D, D))
    if isinstance(a, SpanState) and isinstance(b, SpanState):
        for s, t in ((a, b), (b, a)):
            At = s.lift(t, n_threads)
            if At is not None:
                dA = s.A.astype(np.float64) - At.astype(np.float64)
                dc = s.w0_coef - t.w0_coef
                v = (dc * dc * s.w0_sqnorm + 2.0 * dc * np.einsum("ij,ij->", dA, s.Z0, dtype=np.float64)
                     + np.einsum("ij,ij->", dA, s.K.astype(np.float64) @ dA))
                return float(max(v, 0.0))
    v = inner_W(a, a, n_threads) + inner_W(b, b, n_threads) - 2.0 * inner_W(a, b, n_threads)
    return float(max(v, 0.0))

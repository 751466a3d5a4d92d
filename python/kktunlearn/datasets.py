"""Data generators and data statistics.

* :func:`near_orthogonal`: rows ``x_i ~ N(0, I_d / d)``, so ``||x_i||^2 ~ 1`` and
  ``<x_i, x_j> = O(sqrt(log n / d))`` (the high-dimensional, near-orthogonal setting of [GA]_).
* :func:`stats`: ``psi = max_i |1 - ||x_i||^2|`` and ``phi = max_{i != j} |<x_i, x_j>|``, the two
  constants of the near-orthogonality assumption of [GA]_.
* :func:`gaussian_mixture`: ``y`` uniform in ``{-1, +1}``, ``x = y mu + xi``,
  ``xi ~ N(0, I_d / d)`` (the Gaussian-mixture setting of [GA]_'s generalization theorem), with a
  ``test`` sampler for fresh points of the same mixture (same ``mu``).
* :func:`correlated`: ``x_i = sqrt(rho) c + sqrt(1 - rho) g_i`` with one shared unit vector ``c``
  and ``g_i ~ N(0, I_d / d)``: ``E ||x_i||^2 = 1`` and ``E <x_i, x_j> = rho``, so ``rho`` dials the
  near-orthogonality assumption away.
* :func:`load_digits_binary`, :func:`load_breast_cancer`: scikit-learn's bundled sets (no network
  access), as two-class problems with labels in ``{-1, +1}`` and unit-norm rows.

The synthetic sets are generated in C++ by the counter-based generator of ``kktunlearn._random``
(Philox4x32-10 + Box-Muller): entry ``(i, k)`` of the noise is a function of ``(seed, i, k)``,
computed in parallel, bit-identical for any thread count; memory is the output only;
``dtype=np.float32`` gives float32 rows (each entry computed in float64 and rounded once). The
labels (``n`` numbers) come from a numpy Generator seeded with ``(seed, tag)``. The draws differ from
kktunlearn 0.1.0 (numpy PCG64).

* :class:`GeneratedRows`: ``near_orthogonal(..., lazy=True)``, ``GaussianMixture.test(..., lazy=True)`` and
  ``make_data``'s samplers with ``lazy=True`` (near_orthogonal, mixture, correlated) return the points as their
  generator instead of an array: the same entries, generated on demand. A
  span-represented model predicts them without ever holding them (``X W0^T`` and ``X X_train^T`` from
  sub-blocks generated in cache), so a held-out set of any size costs ``O(n_test m)`` memory.
"""

from __future__ import annotations

import math
from typing import Any, Iterator, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from . import _core, _random
from ._random import GeneratedRows
from ._validation import check_array, check_int, check_memory, check_n_threads


def _check_data_memory(n: int, d: int, copies: int, what: str) -> None:
    """Before drawing: `copies` float64-sized n x d arrays must fit in memory."""
    check_memory(float(copies) * n * d * 8, "d" if d >= n else "n", f"{what} (n={n}, d={d}: {copies} "
                 f"array(s) of {n} x {d})")


class DataStats(NamedTuple):
    """Near-orthogonality statistics of a data set (:func:`stats`).

    Attributes
    ----------
    psi : float
        ``max_i |1 - ||x_i||^2|`` (norm spread).
    phi : float
        ``max_{i != j} |<x_i, x_j>|`` (orthogonality).
    min_sqnorm, max_sqnorm : float
        ``min_i ||x_i||^2`` and ``max_i ||x_i||^2``.
    """

    psi: float
    phi: float
    min_sqnorm: float
    max_sqnorm: float


def stats(X: Any, n_threads: Optional[int] = None) -> DataStats:
    """Near-orthogonality statistics of the rows of ``X`` (one symmetric product ``K = X X^T``).

    ``psi = max_i |1 - K_ii|`` and ``phi = max_{i != j} |K_ij|``: the constants of the data assumption
    of [1]_ (``||x_i||^2`` in ``[1 - psi, 1 + psi]``, ``|<x_i, x_j>| <= phi``). For Gaussian rows
    ``N(0, I_d / d)`` both are ``O(sqrt(log n / d))``.

    Parameters
    ----------
    X : array-like of shape (n, d)
        The data.
    n_threads : int, optional
        Threads of the C++ kernel.

    Returns
    -------
    DataStats
        ``psi``, ``phi``, ``min_sqnorm``, ``max_sqnorm``.

    References
    ----------
    .. [1] Melamed, Yehudai & Vardi, arXiv:2510.14844, the near-orthogonality assumption on the data.
    """
    Xc = check_array(X, "X", dtype=np.float64)
    K = _core.kernel_matrix(Xc, check_n_threads(n_threads))
    sq = np.diag(K).copy()
    n = K.shape[0]
    if n > 1:
        off = np.abs(K - np.diag(sq))
        phi = float(off.max())
    else:
        phi = 0.0
    return DataStats(psi=float(np.max(np.abs(1.0 - sq))), phi=phi, min_sqnorm=float(sq.min()),
                     max_sqnorm=float(sq.max()))


def _data_seed(seed: Any) -> int:
    """The 64-bit key of a data set's `seed` (int, None = fresh entropy, or a numpy Generator)."""
    return _random.seed_from_random_state(seed)


def _label_rng(key: int, stream: int) -> np.random.Generator:
    """The numpy Generator of the n labels of (key, stream) (O(n) numbers; X comes from C++)."""
    return np.random.default_rng([key & 0xFFFFFFFF, key >> 32, stream, 0x6C61])


def _check_dtype(dtype: Any) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.float64, np.float32):
        raise ValueError(f"dtype must be float64 or float32, got {dt}")
    return dt


def _rows(key: int, stream: int, n: int, d: int, scale: float, dtype, v: Optional[np.ndarray] = None,
          coef: Optional[np.ndarray] = None, n_threads: Optional[int] = None, lazy: bool = False) -> Any:
    """X[i, k] = dtype(scale * z(key, stream, i, k) [+ coef[i] v[k]]), generated in C++ (lazy: a
    `GeneratedRows` of those entries, generated on demand)."""
    if lazy:
        return GeneratedRows(key, stream, n, d, scale, dtype, v=v, coef=coef)
    return _random.normal_block(key, stream, 0, n, 0, d, scale=scale, dtype=dtype, v=v, coef=coef,
                                n_threads=check_n_threads(n_threads))


def near_orthogonal(n: int, d: int, seed: Optional[int] = None, labels: str = "random", dtype: Any = np.float64,
                    n_threads: Optional[int] = None, lazy: bool = False) -> Tuple[Any, np.ndarray]:
    """Data with rows ``N(0, I_d / d)`` and labels ``y`` in ``{-1, +1}``: the setting of [1]_.

    ``X[i, k] = z(seed, stream 1, i, k) / sqrt(d)`` (the counter-based generator), generated in C++.

    Parameters
    ----------
    n : int
        The number of points, ``>= 1``.
    d : int
        The dimension, ``>= 1``.
    seed : int, optional
        Seed of everything random.
    labels : {"random", "balanced"}, default "random"
        ``"random"``: i.i.d. uniform signs (resampled until both classes occur when ``n >= 2``);
        ``"balanced"``: exactly ``floor(n/2)`` of each sign (+1 gets the extra one), shuffled.
    dtype : {np.float64, np.float32}, default np.float64
        The dtype of ``X``.
    n_threads : int, optional
        Threads of the generator (the result does not depend on it).
    lazy : bool, default False
        Return ``X`` as a :class:`GeneratedRows` (the same entries, generated on demand and never stored;
        a span-represented model predicts it without materializing it).

    Returns
    -------
    X : ndarray of shape (n, d), or GeneratedRows
        The points.
    y : ndarray of shape (n,), float64
        The labels.

    Raises
    ------
    ValueError
        On bad sizes, labels or dtype.
    InsufficientMemoryError
        If ``X`` would not fit in memory.

    References
    ----------
    .. [1] Melamed, Yehudai & Vardi, arXiv:2510.14844, high-dimensional near-orthogonal data.
    """
    n = check_int(n, "n", 1)
    d = check_int(d, "d", 1)
    if labels not in ("random", "balanced"):
        raise ValueError(f"labels must be 'random' or 'balanced', got {labels!r}")
    dt = _check_dtype(dtype)
    key = _data_seed(seed)
    if not lazy:
        _check_data_memory(n, d, 1, "near_orthogonal")
    X = _rows(key, _random.STREAM_ROWS, n, d, 1.0 / math.sqrt(d), dt, n_threads=n_threads, lazy=lazy)
    y = _random_signs(_label_rng(key, _random.STREAM_ROWS), n, labels)
    return X, y


def _random_signs(rng: np.random.Generator, n: int, labels: str) -> np.ndarray:
    """Labels in {-1, +1}: "random" i.i.d. uniform (both classes guaranteed for n >= 2) or "balanced"."""
    if labels == "balanced":
        y = np.where(np.arange(n) < (n + 1) // 2, 1.0, -1.0)
        rng.shuffle(y)
        return y
    y = rng.choice(np.array([-1.0, 1.0]), size=n)
    while n >= 2 and abs(y.sum()) == n:
        y = rng.choice(np.array([-1.0, 1.0]), size=n)
    return y


def _check_prob(value: Any, name: str, upper: float = 1.0, include_upper: bool = True) -> float:
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    ok = 0.0 <= v <= upper if include_upper else 0.0 <= v < upper
    if not ok or math.isnan(v):
        raise ValueError(f"{name} must be in [0, {upper}{']' if include_upper else ')'}, got {value!r}")
    return v


class GaussianMixture:
    """A sample of the two-component Gaussian mixture ``D_MG``, and its sampler.

    ``y ~ Uniform{-1, +1}``; ``x = y_clean mu + xi``, ``xi ~ N(0, I_d / d)``; the observed label ``y`` is
    ``y_clean`` flipped with probability ``label_noise``. Unpacks as
    ``X, y = gaussian_mixture(...)``. Made by :func:`gaussian_mixture`.

    Everything random is fixed by ``seed``: ``mu`` (stream 2), the training sample (stream 1), and the
    stream of test samples (the k-th call of ``test()`` without a seed draws stream ``4 + k``;
    ``test(seed=s)`` draws stream 3 under the key ``s``). The noise ``xi`` is generated in C++.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        The training points.
    y : ndarray of shape (n,)
        The observed labels.
    y_clean : ndarray of shape (n,)
        The noise-free labels.
    mu : ndarray of shape (d,)
        The mean.
    label_noise : float
        The label-flip probability.
    seed : int or None
        The seed given.
    key : int
        The 64-bit key of the generator derived from the seed.
    dtype : dtype, default np.float64
        The dtype of the points.

    Attributes
    ----------
    mu_norm : float
        ``||mu||``.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, y_clean: np.ndarray, mu: np.ndarray,
                 label_noise: float, seed: Optional[int], key: int, dtype: Any = np.float64):
        self.X = X
        self.y = y
        self.y_clean = y_clean
        self.mu = mu
        self.mu_norm = float(np.linalg.norm(mu))
        self.label_noise = label_noise
        self.seed = seed
        self.dtype = np.dtype(dtype)
        self._key = int(key)
        self._n_test_calls = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.X, self.y))

    def __len__(self) -> int:
        return 2

    def __repr__(self) -> str:
        n, d = self.X.shape
        return (f"GaussianMixture(n={n}, d={d}, mu_norm={self.mu_norm:.4g}, label_noise={self.label_noise}, "
                f"seed={self.seed})")

    def _draw(self, n: int, key: int, stream: int, label_noise: Optional[float] = None,
              n_threads: Optional[int] = None, lazy: bool = False):
        d = self.mu.shape[0]
        eta = self.label_noise if label_noise is None else _check_prob(label_noise, "label_noise", 0.5, False)
        rng = _label_rng(key, stream)
        y_clean = _random_signs(rng, n, "random") if n >= 2 else rng.choice(np.array([-1.0, 1.0]), size=n)
        X = _rows(key, stream, n, d, 1.0 / math.sqrt(d), self.dtype, v=self.mu, coef=y_clean, n_threads=n_threads,
                  lazy=lazy)
        flip = rng.random(n) < eta
        y = np.where(flip, -y_clean, y_clean)
        return X, y, y_clean

    def sample(self, n: int, rng: Any, label_noise: Optional[float] = None):
        """Fresh points ``(X, y, y_clean)`` of this mixture.

        Parameters
        ----------
        n : int
            The number of points.
        rng : numpy.random.Generator or int
            Gives the 64-bit key of the C++ generator (one draw from a Generator).
        label_noise : float, optional
            Override the mixture's label-flip probability.

        Returns
        -------
        tuple of ndarray
            ``(X, y, y_clean)``.
        """
        n = check_int(n, "n", 1)
        return self._draw(n, _data_seed(rng), _random.STREAM_TEST, label_noise)

    def test(self, n: int = 1000, seed: Optional[int] = None, clean: bool = False,
             n_threads: Optional[int] = None, lazy: bool = False) -> Tuple[Any, np.ndarray]:
        """``n`` fresh points ``(X, y)`` from the same mixture (same ``mu``, label noise and dtype).

        Parameters
        ----------
        n : int, default 1000
            The number of points.
        seed : int, optional
            Without a seed, successive calls give different (but seed-determined) samples.
        clean : bool, default False
            True returns the noise-free labels ``y_clean`` (the Bayes-optimal target
            ``sign(<mu, x>)`` direction); otherwise labels flipped with probability ``label_noise`` like the
            training set.
        n_threads : int, optional
            Threads of the generator.
        lazy : bool, default False
            Return ``X`` as a :class:`GeneratedRows` (the same entries, generated on demand).

        Returns
        -------
        X : ndarray of shape (n, d), or GeneratedRows
            The points.
        y : ndarray of shape (n,)
            Their labels.
        """
        n = check_int(n, "n", 1)
        if seed is None:
            key, stream = self._key, _random.STREAM_TEST + 1 + self._n_test_calls
            self._n_test_calls += 1
        else:
            key, stream = _data_seed(seed), _random.STREAM_TEST
        X, y, y_clean = self._draw(n, key, stream, n_threads=n_threads, lazy=lazy)
        return X, (y_clean if clean else y)


def _direction(key: int, d: int) -> np.ndarray:
    """A uniformly random unit vector of R^d (float64): stream 2 of the key, normalized."""
    v = _random.normal_block(key, _random.STREAM_DIRECTION, 0, 1, 0, d)[0]
    return v / np.linalg.norm(v)


def gaussian_mixture(n: int, d: int, mu_norm: Optional[float] = None, label_noise: float = 0.0,
                     seed: Optional[int] = None, dtype: Any = np.float64,
                     n_threads: Optional[int] = None) -> GaussianMixture:
    """``n`` points of the mixture ``x = y mu + N(0, I_d / d)``, ``y`` uniform in ``{-1, +1}``.

    The Gaussian-mixture setting of [1]_'s generalization theorem. ``mu`` is a uniformly random
    direction (fixed by ``seed``) of norm ``mu_norm``; the default ``mu_norm = d^(-1/4)`` gives
    ``||mu||^2 = 1/sqrt(d)``, the scale at which the signal ``n ||mu||^2`` beats the noise
    ``sqrt(n/d)`` of the inner products while ``<x_i, x_j> = +-||mu||^2 + O(sqrt(log n / d))`` stays
    small (near-orthogonality). Labels are resampled until both classes occur (``n >= 2``).
    ``X[i, k] = dtype(y_i mu_k + z(seed, 1, i, k) / sqrt(d))`` in float64, then rounded once; ``mu``
    is float64.

    Parameters
    ----------
    n : int
        The number of points.
    d : int
        The dimension.
    mu_norm : float, optional
        ``||mu|| >= 0`` (default ``d^(-1/4)``).
    label_noise : float, default 0.0
        In ``[0, 1/2)``: each observed label is flipped independently with this probability.
    seed : int, optional
        Seed of everything random.
    dtype : {np.float64, np.float32}, default np.float64
        The dtype of the points.
    n_threads : int, optional
        Threads of the generator.

    Returns
    -------
    GaussianMixture
        Unpacks as ``X, y``; ``.test(n)`` draws fresh points, ``.mu`` is the mean.

    Raises
    ------
    ValueError
        On bad sizes, ``mu_norm``, ``label_noise`` or dtype.

    References
    ----------
    .. [1] Melamed, Yehudai & Vardi, arXiv:2510.14844, the Gaussian-mixture generalization theorem.
    """
    n = check_int(n, "n", 1)
    d = check_int(d, "d", 1)
    _check_data_memory(n, d, 3, "gaussian_mixture")
    if mu_norm is None:
        mu_norm = d ** -0.25
    import numbers

    if isinstance(mu_norm, bool) or not isinstance(mu_norm, numbers.Real) or not math.isfinite(mu_norm) \
            or mu_norm < 0:
        raise ValueError(f"mu_norm must be a finite number >= 0, got {mu_norm!r}")
    eta = _check_prob(label_noise, "label_noise", 0.5, include_upper=False)
    dt = _check_dtype(dtype)
    key = _data_seed(seed)
    mu = float(mu_norm) * _direction(key, d)
    gm = GaussianMixture(np.empty((0, d), dtype=dt), np.empty(0), np.empty(0), mu, eta, seed, key, dt)
    X, y, y_clean = gm._draw(n, key, _random.STREAM_ROWS, n_threads=n_threads)
    gm.X, gm.y, gm.y_clean = X, y, y_clean
    return gm


def _shared_direction(d: int, seed: Optional[int]) -> np.ndarray:
    """The shared unit vector c of `correlated` (a function of the seed only; float64)."""
    return _direction(_data_seed(seed), d)


def _correlated_rows(key: int, stream: int, n: int, d: int, r: float, c: np.ndarray, dtype,
                     n_threads: Optional[int] = None, lazy: bool = False) -> Any:
    return _rows(key, stream, n, d, math.sqrt(1.0 - r) / math.sqrt(d), dtype, v=c,
                 coef=np.full(n, math.sqrt(r)), n_threads=n_threads, lazy=lazy)


def correlated(n: int, d: int, rho: float, seed: Optional[int] = None,
               labels: str = "random", dtype: Any = np.float64,
               n_threads: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Near-orthogonal data with a dial: ``x_i = sqrt(rho) c + sqrt(1 - rho) g_i``.

    ``c`` is one random unit vector shared by all rows and ``g_i ~ N(0, I_d / d)``, so
    ``E ||x_i||^2 = 1`` and ``E <x_i, x_j> = rho`` (``i != j``), with fluctuations
    ``O(sqrt(log n / d))``: ``rho = 0`` is :func:`near_orthogonal`, ``rho -> 1`` makes all points
    nearly parallel. Used to stress the near-orthogonality assumption (``phi`` small) of [1]_. ``c``:
    stream 2 of the seed; ``g``: stream 1 (C++).

    Parameters
    ----------
    n : int
        The number of points.
    d : int
        The dimension.
    rho : float
        The correlation, in ``[0, 1)``.
    seed : int, optional
        Seed of everything random.
    labels : {"random", "balanced"}, default "random"
        As in :func:`near_orthogonal` (independent of ``X``).
    dtype : {np.float64, np.float32}, default np.float64
        The dtype of ``X`` (each entry computed in float64, rounded once).
    n_threads : int, optional
        Threads of the generator.

    Returns
    -------
    X : ndarray of shape (n, d)
        The points.
    y : ndarray of shape (n,)
        The labels.

    Raises
    ------
    ValueError
        On bad sizes, ``rho``, labels or dtype.

    References
    ----------
    .. [1] Melamed, Yehudai & Vardi, arXiv:2510.14844, the near-orthogonality assumption on the data.
    """
    n = check_int(n, "n", 1)
    d = check_int(d, "d", 1)
    r = _check_prob(rho, "rho", 1.0, include_upper=False)
    if seed is not None:
        seed = check_int(seed, "seed", 0)
    if labels not in ("random", "balanced"):
        raise ValueError(f"labels must be 'random' or 'balanced', got {labels!r}")
    _check_data_memory(n, d, 1, "correlated")
    dt = _check_dtype(dtype)
    key = _data_seed(seed)
    c = _direction(key, d)
    X = _correlated_rows(key, _random.STREAM_ROWS, n, d, r, c, dt, n_threads)
    y = _random_signs(_label_rng(key, _random.STREAM_ROWS), n, labels)
    return X, y


def _finish_real(X: np.ndarray, y: np.ndarray, n: Optional[int], seed: Optional[int]):
    """Optional stratification-free subsample of n rows, then rows scaled to unit norm."""
    if n is not None:
        n = check_int(n, "n", 2)
        if n > X.shape[0]:
            raise ValueError(f"n = {n} is larger than the data set ({X.shape[0]} points)")
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(X.shape[0], size=n, replace=False))
        X, y = X[idx], y[idx]
    norms = np.linalg.norm(X, axis=1)
    norms[norms == 0] = 1.0
    X = np.ascontiguousarray(X / norms[:, None])
    return X, np.ascontiguousarray(y, dtype=np.float64)


def _sklearn_datasets():
    try:
        from sklearn import datasets as skd
    except ImportError as exc:
        raise ImportError("the real data sets are the ones bundled with scikit-learn; install it with "
                          "pip install 'kktunlearn[experiments]' (or pip install scikit-learn)") from exc
    return skd


def load_digits_binary(positive: Optional[Sequence[int]] = None, negative: Optional[Sequence[int]] = None,
                       n: Optional[int] = None, seed: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits (1797 images, 64 pixels) as a two-class problem.

    Features: pixels centered by their mean over the kept images, then each row scaled to unit norm
    (``||x_i|| = 1``, the bias-free models' natural scale). Loaded from the files shipped inside
    scikit-learn: no network access.

    Parameters
    ----------
    positive : sequence of int, optional
        Digits labelled +1 (default: the even digits 0, 2, 4, 6, 8).
    negative : sequence of int, optional
        Digits labelled -1 (default: every digit not in ``positive``); other digits are dropped.
    n : int, optional
        A random subsample of ``n`` rows (before scaling).
    seed : int, optional
        Seed of the subsample.

    Returns
    -------
    X : ndarray of shape (n, 64)
        Unit-norm rows.
    y : ndarray of shape (n,)
        Labels in ``{-1, +1}``.

    Raises
    ------
    ValueError
        If the digit sets overlap, are empty or name digits outside 0-9, or ``n`` is too large.
    ImportError
        If scikit-learn is not installed.
    """
    skd = _sklearn_datasets()
    data = skd.load_digits()
    X = np.asarray(data.data, dtype=np.float64)
    t = np.asarray(data.target)
    pos = (0, 2, 4, 6, 8) if positive is None else tuple(int(v) for v in positive)
    neg = tuple(v for v in range(10) if v not in pos) if negative is None else tuple(int(v) for v in negative)
    if not pos or not neg or set(pos) & set(neg) or not set(pos) | set(neg) <= set(range(10)):
        raise ValueError(f"positive {pos} and negative {neg} must be disjoint, non-empty sets of digits 0-9")
    keep = np.isin(t, pos + neg)
    X, t = X[keep], t[keep]
    y = np.where(np.isin(t, pos), 1.0, -1.0)
    X = X - X.mean(axis=0, keepdims=True)
    return _finish_real(X, y, n, seed)


def load_breast_cancer(n: Optional[int] = None, seed: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled Wisconsin breast-cancer set (569 points, 30 features), two classes.

    Labels: +1 benign (sklearn target 1), -1 malignant. Features standardized (z-scores over the whole
    set), then each row scaled to unit norm. No network access.

    Parameters
    ----------
    n : int, optional
        A random subsample of ``n`` rows (the standardization uses all 569 points).
    seed : int, optional
        Seed of the subsample.

    Returns
    -------
    X : ndarray of shape (n, 30)
        Unit-norm rows.
    y : ndarray of shape (n,)
        Labels in ``{-1, +1}``.

    Raises
    ------
    ValueError
        If ``n`` is too large.
    ImportError
        If scikit-learn is not installed.
    """
    skd = _sklearn_datasets()
    data = skd.load_breast_cancer()
    X = np.asarray(data.data, dtype=np.float64)
    y = np.where(np.asarray(data.target) == 1, 1.0, -1.0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return _finish_real(X, y, n, seed)


def make_data(name: str, n: int = 20, d: int = 1000, seed: Optional[int] = None, dtype: Any = np.float64,
              **kwargs: Any):
    """One entry point by name, used by the sweep.

    Parameters
    ----------
    name : {"near_orthogonal", "mixture", "correlated", "digits", "breast_cancer"}
        The data set.
    n : int, default 20
        The number of training points.
    d : int, default 1000
        The dimension (ignored by the real sets: 64 and 30 features).
    seed : int, optional
        Seed of the data (and of the real sets' train / held-out split).
    dtype : {np.float64, np.float32}, default np.float64
        Of the synthetic sets' rows, training and fresh points alike (the real sets are float64).
    **kwargs
        ``mu_norm``, ``label_noise`` (mixture), ``rho`` (correlated), ``labels`` (near_orthogonal).

    Returns
    -------
    X : ndarray of shape (n, d)
        The training points.
    y : ndarray of shape (n,)
        Their labels.
    sampler : callable
        ``sampler(n_test, seed)`` gives fresh ``(X, y)`` points of the same distribution; for the real
        sets, the held-out rows not drawn into the training sample. ``sampler(n_test, seed, lazy=True)``
        gives ``X`` as a :class:`GeneratedRows` (same entries, generated on demand) for near_orthogonal,
        mixture and correlated, and an ndarray for the real sets.

    Raises
    ------
    ValueError
        On an unknown name, or ``n`` too large for a real set.
    """
    if name == "near_orthogonal":
        X, y = near_orthogonal(n, d, seed=seed, labels=kwargs.get("labels", "random"), dtype=dtype)

        def sampler(k: int, s: Optional[int], lazy: bool = False):
            return near_orthogonal(k, d, seed=s, dtype=dtype, lazy=lazy)
        return X, y, sampler
    if name == "mixture":
        gm = gaussian_mixture(n, d, mu_norm=kwargs.get("mu_norm"), label_noise=kwargs.get("label_noise", 0.0),
                              seed=seed, dtype=dtype)
        return gm.X, gm.y, (lambda k, s, lazy=False: gm.test(k, seed=s, lazy=lazy))
    if name == "correlated":
        rho = kwargs.get("rho", 0.0)
        X, y = correlated(n, d, rho, seed=seed, dtype=dtype)
        c = _shared_direction(d, seed)

        def sampler_c(k: int, s: Optional[int], lazy: bool = False):
            key = _data_seed(s)
            Xt = _correlated_rows(key, _random.STREAM_TEST, k, d, float(rho), c, _check_dtype(dtype), lazy=lazy)
            return Xt, _random_signs(_label_rng(key, _random.STREAM_TEST), k, "random")
        return X, y, sampler_c
    if name in ("digits", "breast_cancer"):
        Xall, yall = load_digits_binary() if name == "digits" else load_breast_cancer()
        check_int(n, "n", 2)
        if n >= Xall.shape[0]:
            raise ValueError(f"n = {n} must be below the size of {name} ({Xall.shape[0]}) to leave held-out points")
        perm = np.random.default_rng(seed).permutation(Xall.shape[0])
        tr, te = perm[:n], perm[n:]

        def sampler_r(k: int, s: Optional[int], lazy: bool = False):
            idx = te[: min(k, te.size)]
            return Xall[idx], yall[idx]
        return Xall[tr], yall[tr], sampler_r
    raise ValueError(f"unknown data set {name!r}; choose one of near_orthogonal, mixture, correlated, digits, "
                     "breast_cancer")

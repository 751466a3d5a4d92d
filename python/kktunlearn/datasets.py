"""Data generators and data statistics.

near_orthogonal: rows x_i ~ N(0, I_d / d), so ||x_i||^2 ~ 1 and <x_i, x_j> = O(sqrt(log n / d))
(spec 5.1). stats(X): psi = max_i |1 - ||x_i||^2|, phi = max_{i != j} |<x_i, x_j>| (spec 4.5).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional, Tuple

import numpy as np

from . import _core
from ._validation import check_array, check_int, check_n_threads


class DataStats(NamedTuple):
    """psi = max_i |1 - ||x_i||^2| (norm spread), phi = max_{i != j} |<x_i, x_j>| (orthogonality)."""

    psi: float
    phi: float
    min_sqnorm: float
    max_sqnorm: float


def stats(X: Any, n_threads: Optional[int] = None) -> DataStats:
    """Near-orthogonality statistics of the rows of X (one symmetric product K = X X^T)."""
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


def near_orthogonal(n: int, d: int, seed: Optional[int] = None, labels: str = "random") -> Tuple[np.ndarray, np.ndarray]:
    """X (n x d) with rows N(0, I_d / d) and labels y in {-1, +1}.

    labels="random": i.i.d. uniform signs (resampled until both classes occur when n >= 2);
    labels="balanced": exactly floor(n/2) of each sign (+1 gets the extra one), shuffled.
    """
    n = check_int(n, "n", 1)
    d = check_int(d, "d", 1)
    if labels not in ("random", "balanced"):
        raise ValueError(f"labels must be 'random' or 'balanced', got {labels!r}")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    if labels == "balanced":
        y = np.where(np.arange(n) < (n + 1) // 2, 1.0, -1.0)
        rng.shuffle(y)
    else:
        y = rng.choice(np.array([-1.0, 1.0]), size=n)
        while n >= 2 and abs(y.sum()) == n:
            y = rng.choice(np.array([-1.0, 1.0]), size=n)
    return X, y

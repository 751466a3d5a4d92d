"""The training engine of the estimators: full-batch gradient descent in the C++ core.

One of the three layers of an estimator (with :mod:`kktunlearn._estimator`, the scikit-learn
parameter protocol, and :mod:`kktunlearn._span`, the representation): it chooses the
representation, checks memory, builds the span state's cached products (K = X X^T, Z0 = X W0^T)
and runs the C++ loop (``_core.train_primal`` / ``_core.train_span``), with a progress bar.

The loop minimizes the (optionally sample-weighted) mean loss

    L(theta) = sum_i w_i l(y_i N(x_i; theta)) / sum_i w_i + (weight_decay / 2) ||theta||^2,

passed to the core as omega_i = n w_i / sum_k w_k (mean 1), which multiplies each example's loss and
loss derivative (w_i = 1 for every i without sample weights, the plain mean).
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple, Optional, Tuple

import numpy as np

from . import _core, _span
from ._validation import _check_alloc, check_memory


class Run(NamedTuple):
    """One run of the core's GD loop: the trained state and the core's `TrainResult` (n_iter, status,
    loss, log_loss, min_margin, n_misfit, history). Primal runs fill W; span runs fill A and w0_coef
    (W = w0_coef W0 + A^T X)."""

    u: np.ndarray
    result: Any  # _core.TrainResult
    W: Optional[np.ndarray] = None
    A: Optional[np.ndarray] = None
    w0_coef: float = 1.0

# the span representation holds K = X X^T (n x n); above this size "auto" stays primal
_SPAN_MAX_GRAM_BYTES = 2 << 30


def choose_representation(n: int, d: int, m: int, max_iter: int, itemsize: int = 8) -> str:
    """The ``representation="auto"`` cost model (flop counts of one fit, plus a memory guard).

    primal: every step computes Z = X W^T and W += Gamma^T X, 4 n m d flops per step.
    span: once K = X X^T (n^2 d, symmetric) and Z0 = X W0^T (2 n m d), then per step
    Z = Z0 + K A (2 n^2 m); W = W0 + A^T X (2 n m d) is formed only if asked for.

    Parameters
    ----------
    n, d, m : int
        Training points, features and width (1 for the linear model).
    max_iter : int
        Gradient steps T.
    itemsize : int, default=8
        Bytes per number of the model's dtype.

    Returns
    -------
    str
        ``"span"`` when its total (n^2 d + 2 n m d + 2 n^2 m T) is below the primal total (4 n m d T),
        roughly when n < 2 d, and its n x n Gram matrix takes at most 2 GiB; otherwise ``"primal"``.
    """
    T = max(int(max_iter), 1)
    primal = 4.0 * n * m * d * T
    span = n * n * d + 2.0 * n * m * d + 2.0 * n * n * m * T
    if float(n) * n * itemsize > _SPAN_MAX_GRAM_BYTES:
        return "primal"
    return "span" if span < primal else "primal"


class Progress:
    """Optional tqdm bar fed by the C++ loop's callback (about 5 updates per second)."""

    def __init__(self, enabled: bool, total: int, desc: str):
        self.bar = None
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:  # pragma: no cover - tqdm is in the test extra
                warnings.warn("progress=True needs tqdm (pip install tqdm); continuing without a bar",
                              UserWarning, stacklevel=3)
            else:
                self.bar = tqdm(total=total, desc=desc, leave=False)

    def __call__(self, it: int, loss: float) -> bool:
        if self.bar is not None:
            self.bar.update(it - self.bar.n)
            self.bar.set_postfix(loss=f"{loss:.3e}", refresh=False)
        return True

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def check_fit_memory(model: Any, n: int, d: int, m: int, itemsize: int) -> None:
    """Estimate what fit allocates (before allocating any of it) and refuse what cannot fit in memory:
    u (m, float64 and the model's dtype), the pre-activations and their gradients (3 x n x m), and either
    the primal W(0), W and its gradient (3 x m x d) or the span state (the n x n Gram matrix, Z(0), A)."""
    rep = model.representation
    if rep == "auto":
        rep = choose_representation(n, d, m, int(model.max_iter), itemsize)
    est = m * (8 + itemsize) + 3 * n * m * itemsize
    est += 3 * m * d * itemsize if rep == "primal" else (n * n + 2 * n * m) * itemsize
    name = "X" if model._linear or (rep != "primal" and n * n > 3 * n * m) else "width"
    check_memory(est, name, f"fitting {type(model).__name__} (n={n}, d={d}, width={m}, {rep} representation)")


def options(model: Any, lr_scale: float = 1.0, omega: Optional[np.ndarray] = None) -> Any:
    """The core's `TrainOptions` from a model's hyper-parameters (the step lr / lr_scale; see the
    models' fit for the input-scale rule); omega: per-sample weights of mean 1, or None."""
    lr = float(model.lr) if lr_scale == 1.0 else float(model.lr) / float(lr_scale)
    o = _core.TrainOptions()
    o.loss = str(model.loss)
    o.lr = lr
    o.normalized = bool(model.normalized_gd)
    o.lr_max = float(model.lr_max)
    o.max_iter = int(model.max_iter)
    o.tol = float(model.tol)
    o.margin_tol = float(model.margin_tol)
    o.history_every = int(model.history_every)
    o.weight_decay = float(getattr(model, "weight_decay", 0.0))
    o.n_threads = int(model._n_threads())
    o.sample_weight = omega
    return o


def run_primal(model: Any, X: np.ndarray, y_enc: np.ndarray, W0: np.ndarray, u0: np.ndarray,
               omega: Optional[np.ndarray] = None, lr_scale: float = 1.0) -> Run:
    """GD with W stored (m x d) from (W0, u0); omega: per-sample weights of mean 1, or None."""
    bar = Progress(bool(getattr(model, "progress", False)), int(model.max_iter), type(model).__name__)
    try:
        W, u, res = _core.train_primal(X, y_enc, np.ascontiguousarray(W0), np.ascontiguousarray(u0),
                                       model.slope_, model.train_outer_, options(model, lr_scale, omega), bar)
    finally:
        bar.close()
    return Run(u=u, result=res, W=W)


def run_span(model: Any, K: np.ndarray, Z0: np.ndarray, w0sq: float, y_enc: np.ndarray, u0: np.ndarray,
             omega: Optional[np.ndarray] = None, lr_scale: float = 1.0) -> Run:
    """GD in the span (W = beta W0 + A^T X, Z = beta Z0 + K A) from A = 0; omega as in run_primal."""
    bar = Progress(bool(getattr(model, "progress", False)), int(model.max_iter), type(model).__name__)
    A0 = np.zeros(Z0.shape, dtype=Z0.dtype)
    try:
        A, beta, u, res = _core.train_span(K, Z0, float(w0sq), y_enc, A0, np.ascontiguousarray(u0), model.slope_,
                                           model.train_outer_, options(model, lr_scale, omega), bar)
    finally:
        bar.close()
    return Run(u=u, result=res, A=A, w0_coef=float(beta))


def fit(model: Any, X: np.ndarray, y_enc: np.ndarray, init: Any, u0: np.ndarray,
        omega: Optional[np.ndarray] = None, lr_scale: float = 1.0) -> Tuple[str, Any, Run]:
    """Train `model` (hyper-parameters only are read) on validated (X, y_enc) from (init, u0).

    Returns (representation, state, run): state is a _span.SpanState or a _span.PrimalState, run the
    `Run` (u and the core's TrainResult). Raises _core.NumericalError when the
    initial loss is not finite."""
    n, d = X.shape
    dt = model.dtype_
    m = init.m
    size_name = "width" if not model._linear else "X"
    rep = model.representation
    if rep == "auto":
        rep = choose_representation(n, d, m, int(model.max_iter), np.dtype(dt).itemsize)
    nt = model._n_threads()
    if rep == "primal":
        _check_alloc((m, d), np.dtype(dt).itemsize, f"{size_name} (weight matrix of {m} x {d})")
        res = run_primal(model, X, y_enc, _span.init_full(init, dt), u0, omega, lr_scale)
        return rep, _span.PrimalState(np.ascontiguousarray(res.W, dtype=dt)), res
    _check_alloc((n, n), np.dtype(dt).itemsize, f"X (Gram matrix of {n} x {n})")
    K = _core.kernel_matrix(X, nt)
    Z0, w0rowsq = _span.init_preacts(init, X, nt, per_row=True)
    w0sq = float(w0rowsq.sum())
    res = run_span(model, K, Z0, w0sq, y_enc, u0, omega, lr_scale)
    assert res.A is not None  # a span run fills A
    state = _span.SpanState(X, K, Z0, res.A, init, w0sq, nt, w0_coef=res.w0_coef, w0_rowsq=w0rowsq)
    return rep, state, res

"""Estimators: the linear predictor and the two-layer (leaky) ReLU network.

Both are homogeneous, bias-free models trained by full-batch gradient descent on the mean
exponential or logistic loss (the C++ core runs the whole loop):

    N(x) = <w, x>                                  LinearModel            (degree L = 1)
    N(x) = sum_j u_j sigma(<w_j, x>)               TwoLayerReLU           (L = 1 fixed u, 2 trained u)
    sigma(z) = max(z, a z), a = leaky_slope (0 = ReLU), sigma'(0) := a

    L(theta) = (1/n) sum_i l(y_i N(x_i)) + (weight_decay/2) ||theta||^2,   l(q) = exp(-q)  or  log(1 + exp(-q))
    theta_{t+1} = theta_t - lr_t grad L(theta_t) = (1 - lr_t weight_decay) theta_t - lr_t grad(mean loss),
        lr_t = lr                                  (normalized_gd=False)
        lr_t = min(lr / (L(theta_t) rho_t^(2-2/L)), lr_max)   (normalized_gd=True; Lyu & Li 2020)
        rho_t = max(1, log(1 / L(theta_t))): for L = 1 (linear, fixed u) simply lr / L(theta_t); for the
        2-homogeneous trained-u network the extra 1/log(1/L) (Lyu & Li 2020) keeps the step from growing
        with ||theta||.

Internally every model is a network: the linear model is m = 1, u = (1), sigma = identity, so
one set of kernels serves both.
"""

from __future__ import annotations

import inspect
import math
import time
import warnings
from typing import Any, Dict, Optional

import numpy as np

from . import _core, _span
from ._validation import (_check_alloc, check_array, check_bool, check_choice, check_dtype, check_features,
                          check_fitted_params, check_int, check_is_fitted, check_memory, check_n_threads,
                          check_positive, check_random_state, encode_labels)
from .exceptions import ConvergenceWarning, TrainingDivergedError

_LOSSES = ("exponential", "logistic")
_REPRESENTATIONS = ("auto", "primal", "span")


# the span representation holds K = X X^T (n x n); above this size "auto" stays primal
_SPAN_MAX_GRAM_BYTES = 2 << 30


def choose_representation(n: int, d: int, m: int, max_iter: int, itemsize: int = 8) -> str:
    """The `representation="auto"` cost model (flop counts of one fit, plus a memory guard).

    primal: every step computes Z = X W^T and W += Gamma^T X:      4 n m d flops per step.
    span:   once K = X X^T (n^2 d, symmetric) and Z0 = X W0^T (2 n m d), then per step
            Z = Z0 + K A (2 n^2 m); W = W0 + A^T X (2 n m d) is formed only if asked for.
    `span` is chosen when its total is below the primal total (roughly when n < 2 d) and its
    n x n Gram matrix takes at most 2 GiB (n^2 * itemsize bytes); otherwise `primal`.
    """
    T = max(int(max_iter), 1)
    primal = 4.0 * n * m * d * T
    span = n * n * d + 2.0 * n * m * d + 2.0 * n * n * m * T
    if float(n) * n * itemsize > _SPAN_MAX_GRAM_BYTES:
        return "primal"
    return "span" if span < primal else "primal"


class _Progress:
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


class _HomogeneousModel:
    """Shared machinery of the estimators (scikit-learn conventions, no scikit-learn dependency)."""

    _linear = False

    # ------------------------------------------------------------------ parameters
    @classmethod
    def _get_param_names(cls):
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> Dict[str, Any]:
        """Constructor parameters as a dict (scikit-learn convention)."""
        return {k: getattr(self, k) for k in self._get_param_names()}

    def set_params(self, **params: Any) -> "_HomogeneousModel":
        """Set constructor parameters; unknown names raise ValueError."""
        valid = set(self._get_param_names())
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"invalid parameter {k!r} for {type(self).__name__}; valid: {sorted(valid)}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        cls = type(self)
        defaults = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items() if k != "self"}
        parts = []
        for k, v in self.get_params().items():
            dv = defaults.get(k, inspect._empty)
            try:
                same = dv is not inspect._empty and (v is dv or bool(v == dv))
            except Exception:
                same = False
            if not same:
                parts.append(f"{k}={v!r}")
        return f"{cls.__name__}({', '.join(parts)})"

    # ------------------------------------------------------------------ structure
    @property
    def slope_(self) -> float:
        return 1.0 if self._linear else float(self.leaky_slope)

    @property
    def train_outer_(self) -> bool:
        return False if self._linear else bool(self.train_outer)

    @property
    def degree_(self) -> int:
        """Homogeneity degree L: N(x; s theta) = s^L N(x; theta)."""
        return 2 if self.train_outer_ else 1

    @property
    def dtype_(self) -> type:
        return check_dtype(self.dtype)

    # ------------------------------------------------------------------ fitted state
    @property
    def W_(self) -> np.ndarray:
        """First-layer weights (m x d); for the linear model the 1 x d row w.

        For a span-represented model this forms W = W0 + A^T X (one pass over X) on first access
        and caches it (read-only array)."""
        check_is_fitted(self)
        return self._W

    @property
    def u_(self) -> np.ndarray:
        """Output weights (m,) (fixed or trained); (1,) = [1] for the linear model."""
        check_is_fitted(self)
        return self._u

    # The fitted W lives either in "_W_dense" (primal) or in "_span" (a _span.SpanState:
    # W = W0 + A^T X). `_W` reads W in either case (materializing it for span models) and
    # assigning to `_W` switches the model to the primal representation.
    @property
    def _W(self) -> np.ndarray:
        sp = self.__dict__.get("_span")
        if sp is not None:
            return sp.materialize(self._n_threads())
        try:
            return self.__dict__["_W_dense"]
        except KeyError:
            raise AttributeError("_W") from None

    @_W.setter
    def _W(self, W: np.ndarray) -> None:
        self.__dict__["_W_dense"] = W
        self.__dict__["_span"] = None

    @property
    def _state(self):
        """The fitted first layer as a state object: _span.SpanState (W = c W0 + A^T X) or
        _span.PrimalState (W as an array). Both have the same methods; every consumer goes through them."""
        sp = self.__dict__.get("_span")
        if sp is not None:
            return sp
        W = self.__dict__.get("_W_dense")
        if W is None:
            raise AttributeError("_state")
        return _span.PrimalState(W)

    @property
    def _is_span(self) -> bool:
        """True when the fitted W is held as W0 + A^T X (see kktunlearn._span)."""
        return self.__dict__.get("_span") is not None

    def _W_shape(self):
        sp = self.__dict__.get("_span")
        return sp.shape if sp is not None else self.__dict__["_W_dense"].shape

    def params(self) -> np.ndarray:
        """Flattened parameter vector theta (float64): W row-major, then u if it is trained."""
        check_is_fitted(self)
        parts = [np.asarray(self._W, dtype=np.float64).ravel()]
        if self.train_outer_:
            parts.append(np.asarray(self._u, dtype=np.float64))
        return np.concatenate(parts)

    def n_params(self) -> int:
        check_is_fitted(self)
        m, d = self._W_shape()
        return int(m * d + (m if self.train_outer_ else 0))

    def _set_state(self, W: np.ndarray, u: np.ndarray) -> None:
        dt = self.dtype_
        self._W = np.ascontiguousarray(W, dtype=dt)
        self._u = np.ascontiguousarray(u, dtype=dt)
        self.n_features_in_ = int(self._W.shape[1])
        self.is_fitted_ = True

    def _set_span_state(self, state: "_span.SpanState", u: np.ndarray) -> None:
        self.__dict__["_W_dense"] = None
        self.__dict__["_span"] = state
        self._u = np.ascontiguousarray(u, dtype=self.dtype_)
        self.n_features_in_ = int(state.X.shape[1])
        self.is_fitted_ = True

    def _derived(self) -> "_HomogeneousModel":
        new = type(self)(**self.get_params())
        new.classes_ = self.classes_
        new.n_iter_ = 0
        new.history_ = {}
        new.fit_status_ = "derived"
        return new

    def _with_params(self, W: np.ndarray, u: np.ndarray) -> "_HomogeneousModel":
        """A new fitted model with the same hyper-parameters and label mapping, parameters (W, u)."""
        new = self._derived()
        new._set_state(W, u)
        new.representation_ = "primal"
        return new

    # ------------------------------------------------------------------ span-aware helpers
    # For the verification and unlearning code: these work on either representation and stay in
    # the span (cost independent of d) when the model is span-represented and X is its training
    # matrix. X arguments must already be validated (self._check_X).
    def _preactivations(self, X: np.ndarray) -> np.ndarray:
        """Z = X W^T (n x m, model dtype). Span model: Z0 + K A when X is the training matrix (same
        buffer, or equal content; O(n d) check), else X W0^T + (X X_train^T) A (W not formed)."""
        return self._state.preacts(X, self._n_threads())

    def _is_training_X(self, X: np.ndarray) -> bool:
        """True when the model is span-represented and X holds its training matrix."""
        sp = self.__dict__.get("_span")
        return sp is not None and sp.is_train(X, self._n_threads())

    def _train_rows_of(self, X: np.ndarray) -> Optional[np.ndarray]:
        """Span model: the training-row indices of X's rows (X a row subset of the training matrix, in
        any order), else None (primal model, or new data)."""
        sp = self.__dict__.get("_span")
        return None if sp is None else sp.rows_of(X, self._n_threads())

    def _kernel(self, X: np.ndarray) -> np.ndarray:
        """K = X X^T (n x n, model dtype); from the cached one when X's rows are a span model's training rows."""
        sp = self.__dict__.get("_span")
        if sp is not None:
            rows = sp.rows_of(X, self._n_threads())
            if rows is not None:
                if rows.size == sp.K.shape[0] and np.all(rows == np.arange(rows.size)):
                    return sp.K
                return np.ascontiguousarray(sp.K[np.ix_(rows, rows)])
        return _core.kernel_matrix(X, self._n_threads())

    def _sqnorm_W(self) -> float:
        """||W||_F^2 in float64 (span: c^2 ||W0||^2 + 2c <A, Z0> + <A, K A>, no d)."""
        return self._state.sqnorm_W()

    def _sqnorm_theta(self) -> float:
        """||theta||^2 = ||W||_F^2 (+ ||u||^2 when u is trained), float64, no d for span models."""
        v = self._sqnorm_W()
        if self.train_outer_:
            v += float(np.dot(np.asarray(self._u, np.float64), np.asarray(self._u, np.float64)))
        return v

    def _inner_theta(self, other: "_HomogeneousModel") -> float:
        """<theta, theta'> (float64) without forming a span model's W (d-free for two span models over the
        same W0 and nested training rows, e.g. a model and its retrained or unlearned versions)."""
        v = _span.inner_W(self._state, other._state, self._n_threads())
        if self.train_outer_:
            v += float(np.dot(np.asarray(self._u, np.float64), np.asarray(other._u, np.float64)))
        return v

    def _sqdist_theta(self, other: "_HomogeneousModel") -> float:
        """||theta - theta'||^2 (float64), d-free for related span models (see _span.sqdist_W)."""
        v = _span.sqdist_W(self._state, other._state, self._n_threads())
        if self.train_outer_:
            du = np.asarray(self._u, np.float64) - np.asarray(other._u, np.float64)
            v += float(np.dot(du, du))
        return v

    def _outputs_from_preacts(self, Z: np.ndarray) -> np.ndarray:
        """N_i = sum_j u_j sigma(Z_ij) (float64)."""
        Zd = np.asarray(Z, dtype=np.float64)
        a = self.slope_
        return np.where(Zd > 0, Zd, a * Zd) @ np.asarray(self._u, dtype=np.float64)

    def _with_span(self, A: np.ndarray, u: np.ndarray, w0_coef: Optional[float] = None) -> "_HomogeneousModel":
        """New span model W' = W0 + A'^T X_train sharing this model's X, K, Z0 and W0."""
        sp = self.__dict__.get("_span")
        if sp is None:
            raise ValueError("_with_span needs a span-represented model")
        A = np.ascontiguousarray(A, dtype=self.dtype_)
        if A.shape != sp.A.shape:
            raise ValueError(f"A must have shape {sp.A.shape}, got {A.shape}")
        new = self._derived()
        new._set_span_state(sp.with_A(A, w0_coef), u)
        new.representation_ = "span"
        return new

    def _apply_gamma(self, Gamma: np.ndarray, X: np.ndarray, rows: Any = None, u: Any = None) -> "_HomogeneousModel":
        """New model with W' = W + Gamma^T X[rows] (Gamma: len(rows) x m; rows=None: all of X) and
        u' = u (or the given u). Stays in the span (A[rows] += Gamma, O(n m)) when this model is
        span-represented and X is its training matrix; otherwise W' is formed explicitly."""
        dt = self.dtype_
        Gamma = np.ascontiguousarray(Gamma, dtype=dt)
        u_new = self._u if u is None else np.ascontiguousarray(u, dtype=dt)
        idx = np.arange(X.shape[0]) if rows is None else np.asarray(rows, dtype=np.intp).ravel()
        m = self._W_shape()[0]
        if Gamma.shape != (idx.size, m):
            raise ValueError(f"Gamma must have shape {(idx.size, m)}, got {Gamma.shape}")
        trows = self._train_rows_of(X)
        if trows is not None:
            A = self.__dict__["_span"].A.copy()
            np.add.at(A, trows[idx], Gamma)
            return self._with_span(A, u_new)
        Xr = X if rows is None else np.ascontiguousarray(X[idx])
        W = np.array(self._W, dtype=dt, copy=True, order="C")
        _core.add_gamma_t_x(Gamma, Xr, W, self._n_threads())
        return self._with_params(W, u_new)

    def _train_rows(self, X: np.ndarray, y: Any, rows: Any = None, start: str = "current",
                    **overrides: Any) -> "_HomogeneousModel":
        """Gradient descent on the rows `rows` of (X, y) (all if None), as a new model.

        start="current": continue from this model's (W, u) (fine-tuning on retained data);
        start="init":    from this model's initialization (W0, u0): retraining from scratch.
        overrides: training hyper-parameters for this run (max_iter, lr, tol, ...).
        Stays in the span (K restricted to the rows, no d per step) when this model is
        span-represented and X is its training matrix; otherwise runs the primal loop."""
        check_choice(start, "start", ("current", "init"))
        dt = self.dtype_
        n = X.shape[0]
        idx = np.arange(n) if rows is None else np.asarray(rows, dtype=np.intp).ravel()
        y_enc = self._encode_y(y, n)
        yr = np.ascontiguousarray(y_enc[idx])
        hyper = self.get_params()
        bad = set(overrides) - set(hyper)
        if bad:
            raise ValueError(f"unknown training options {sorted(bad)}")
        hyper.update(overrides)
        runner = type(self)(**hyper)
        runner._check_hyper()
        sp = self.__dict__.get("_span")
        trows = self._train_rows_of(X)
        if trows is not None:
            tidx = trows[idx]
            Kr = np.ascontiguousarray(sp.K[np.ix_(tidx, tidx)])
            if start == "current":
                Z0r = np.ascontiguousarray(sp.train_preacts()[tidx])
                w0sq = sp.sqnorm_W()
                u0 = self._u
                base = sp.A
                coef = sp.w0_coef
            else:
                Z0r = np.ascontiguousarray(sp.Z0[tidx])
                w0sq = sp.w0_sqnorm
                u0 = np.ascontiguousarray(self._init_source(X.shape[1])[1], dtype=dt)
                base = np.zeros_like(sp.A)
                coef = 1.0
            res = runner._run_span(Kr, Z0r, w0sq, yr, u0)
            # the run's W = beta W_start + dA^T X_r, W_start = coef W0 + base^T X (weight decay: beta < 1)
            beta = float(res["w0_coef"])
            A = base * np.asarray(beta, dtype=base.dtype) if beta != 1.0 else base.copy()
            np.add.at(A, tidx, res["A"])
            new = self._with_span(A, res["u"], w0_coef=coef * beta)
        else:
            Xr = np.ascontiguousarray(X[idx])
            if start == "current":
                W_start, u0 = np.ascontiguousarray(self._W, dtype=dt), self._u
            else:
                init, u0 = self._init_source(X.shape[1])
                W_start = _span.init_full(sp.init if sp is not None else init, dt)
                u0 = np.ascontiguousarray(u0, dtype=dt)
            res = runner._run_primal(Xr, yr, W_start, u0)
            new = self._with_params(res["W"], res["u"])
        new.n_iter_ = int(res["n_iter"])
        new.fit_status_ = res["status"]
        new.history_ = {k: np.asarray(v) for k, v in res["history"].items()}
        return new

    def set_parameters(self, W: Any, u: Any = None) -> "_HomogeneousModel":
        """Set the fitted parameters directly (for a model trained elsewhere). Labels are {-1, +1}."""
        dt = self.dtype_
        W = check_array(np.atleast_2d(W), "W", dtype=dt)
        if self._linear and W.shape[0] != 1:
            raise ValueError(f"a linear model has one weight row, got W of shape {W.shape}")
        if u is None:
            u = np.ones(1) if self._linear else self._default_u(W.shape[0])
        u = check_array(u, "u", dtype=dt, ndim=1)
        if u.shape[0] != W.shape[0]:
            raise ValueError(f"u has {u.shape[0]} entries but W has {W.shape[0]} rows")
        if self._linear and W.shape[0] != 1:
            raise ValueError(f"a linear model has one weight row, got W of shape {W.shape}")
        if not hasattr(self, "classes_"):
            self.classes_ = np.array([-1, 1])
        self._set_state(W, u)
        self.n_iter_ = 0
        self.history_ = {}
        self.fit_status_ = "set"
        return self

    # ------------------------------------------------------------------ validation helpers
    def _check_X(self, X: Any, name: str = "X") -> np.ndarray:
        check_is_fitted(self)
        check_fitted_params(self)
        sp = self.__dict__.get("_span")
        if sp is not None and isinstance(X, np.ndarray) and sp._same_buffer(X):
            # the span model's own training matrix: validated at fit, and the in-place check (which a NaN
            # or inf written into it would fail) replaces a second finiteness pass
            sp.check_X(self._n_threads())
            return X
        if (sp is not None and isinstance(X, np.ndarray) and X.dtype == self.dtype_ and X.ndim == 2
                and X.flags.c_contiguous and X.shape[1] == sp.X.shape[1] and sp.known_new_data(X, self._n_threads())):
            return X  # predicted before, unchanged since (fingerprint): validated then
        Xc = check_array(X, name, dtype=self.dtype_)
        check_features(self, Xc, name)
        return Xc

    def _encode_y(self, y: Any, n: int, name: str = "y") -> np.ndarray:
        check_is_fitted(self)
        enc, _ = encode_labels(y, n, classes=self.classes_, dtype=self.dtype_, name=name)
        return enc

    def _n_threads(self) -> int:
        return check_n_threads(self.n_threads)

    def _check_hyper(self) -> None:
        check_choice(self.loss, "loss", _LOSSES)
        check_positive(self.lr, "lr")
        check_int(self.max_iter, "max_iter", 0)
        check_positive(self.tol, "tol", allow_zero=True)
        check_positive(self.lr_max, "lr_max", allow_inf=True)
        check_positive(self.margin_tol, "margin_tol", allow_zero=True)
        check_int(self.history_every, "history_every", 1)
        check_positive(self.init_scale, "init_scale", allow_zero=True)
        check_choice(self.representation, "representation", _REPRESENTATIONS)
        wd = check_positive(getattr(self, "weight_decay", 0.0), "weight_decay", allow_zero=True)
        if wd > 0 and self.normalized_gd:
            raise ValueError("weight_decay > 0 needs normalized_gd=False: the normalized step lr / L(theta) "
                             "multiplies the decay factor (1 - lr_t weight_decay), which turns negative once "
                             "lr_t > 1 / weight_decay; use a constant lr")
        if wd > 0 and float(self.lr) * wd >= 1:
            raise ValueError(f"lr * weight_decay = {float(self.lr) * wd:.3g} >= 1: the decay factor "
                             "(1 - lr weight_decay) would flip the sign of theta; lower lr or weight_decay")
        check_n_threads(self.n_threads)
        check_dtype(self.dtype)
        check_bool(self.normalized_gd, "normalized_gd")
        check_bool(getattr(self, "progress", False), "progress")
        check_random_state(self.random_state)

    # ------------------------------------------------------------------ training
    def _default_u(self, m: int) -> np.ndarray:
        raise NotImplementedError

    def _init_source(self, d: int):
        """(W0 source, u0): W0 as a _span.SeededInit / ZeroInit (regenerable, never stored m x d)."""
        raise NotImplementedError

    def _init_params(self, d: int):
        """(W0, u0) as arrays (float64): W0 = init_scale * z, z the counter-based standard normals of
        the seed of random_state (kktunlearn._random)."""
        init, u0 = self._init_source(d)
        return _span.init_full(init, np.float64), u0

    def _train_common(self) -> Dict[str, Any]:
        return dict(slope=self.slope_, train_outer=self.train_outer_, loss=self.loss, lr=float(self.lr),
                    normalized=bool(self.normalized_gd), lr_max=float(self.lr_max), max_iter=int(self.max_iter),
                    tol=float(self.tol), margin_tol=float(self.margin_tol), history_every=int(self.history_every),
                    weight_decay=float(getattr(self, "weight_decay", 0.0)), n_threads=self._n_threads())

    def _run_primal(self, X, y_enc, W0, u0) -> Dict[str, Any]:
        bar = _Progress(bool(getattr(self, "progress", False)), int(self.max_iter), type(self).__name__)
        try:
            return _core.train_primal(X, y_enc, np.ascontiguousarray(W0), np.ascontiguousarray(u0), progress=bar,
                                      **self._train_common())
        finally:
            bar.close()

    def _run_span(self, K, Z0, w0sq, y_enc, u0) -> Dict[str, Any]:
        bar = _Progress(bool(getattr(self, "progress", False)), int(self.max_iter), type(self).__name__)
        A0 = np.zeros(Z0.shape, dtype=Z0.dtype)
        try:
            return _core.train_span(K, Z0, float(w0sq), y_enc, A0, np.ascontiguousarray(u0), progress=bar,
                                    **self._train_common())
        finally:
            bar.close()

    def fit(self, X: Any, y: Any) -> "_HomogeneousModel":
        """Train by full-batch gradient descent from a seeded initialization; returns self.

        Stops after `max_iter` steps, when the mean loss reaches `tol` (if > 0), or when the
        normalized margin min_i q_i / ||theta||^L improves by less than `margin_tol` (relative)
        between two history records (if > 0). Warns (ConvergenceWarning) when the model does not
        fit the data at the end; raises TrainingDivergedError if the loss becomes NaN/inf (the
        model keeps the last finite state) and KeyboardInterrupt on Ctrl-C (same).
        """
        self._check_hyper()
        dt = self.dtype_
        X = check_array(X, "X", dtype=dt)
        n, d = X.shape
        y_enc, classes = encode_labels(y, n, dtype=dt)
        m = 1 if self._linear else int(self.width)
        size_name = "width" if not self._linear else "X"
        _check_alloc((n, m), np.dtype(dt).itemsize, f"{size_name} (pre-activations of {n} x {m})")
        _check_fit_memory(self, n, d, m, np.dtype(dt).itemsize)
        init, u0 = self._init_source(d)
        u0 = np.ascontiguousarray(u0, dtype=dt)
        m = init.m
        rep = self.representation
        if rep == "auto":
            rep = choose_representation(n, d, m, int(self.max_iter), np.dtype(dt).itemsize)
        nt = self._n_threads()
        t0 = time.perf_counter()
        try:
            if rep == "primal":
                _check_alloc((m, d), np.dtype(dt).itemsize, f"{size_name} (weight matrix of {m} x {d})")
                res = self._run_primal(X, y_enc, _span.init_full(init, dt), u0)
            else:
                _check_alloc((n, n), np.dtype(dt).itemsize, f"X (Gram matrix of {n} x {n})")
                K = _core.kernel_matrix(X, nt)
                Z0, w0rowsq = _span.init_preacts(init, X, nt, per_row=True)
                w0sq = float(w0rowsq.sum())
                res = self._run_span(K, Z0, w0sq, y_enc, u0)
        except _core.NumericalError as exc:
            raise TrainingDivergedError(
                f"training cannot start: {exc}. The largest |X| entry is {float(np.abs(X).max()):.3g}; rescale X "
                f"(e.g. rows of unit norm) or lower init_scale (now {self.init_scale}).") from exc
        self.classes_ = classes
        if rep == "primal":
            self._set_state(res["W"], res["u"])
        else:
            self._set_span_state(_span.SpanState(X, K, Z0, res["A"], init, w0sq, nt, w0_coef=float(res["w0_coef"]),
                                                 w0_rowsq=w0rowsq), res["u"])
        self.representation_ = rep
        self.n_iter_ = int(res["n_iter"])
        self.fit_status_ = res["status"]
        self.loss_ = float(res["loss"])
        self.log_loss_ = float(res["log_loss"])
        self.min_margin_ = float(res["min_margin"])
        self.fit_time_ = time.perf_counter() - t0
        self.history_ = {k: np.asarray(v) for k, v in res["history"].items()}
        if res["interrupted"]:
            raise KeyboardInterrupt(
                f"training interrupted after {self.n_iter_} iterations; the model holds that last consistent state")
        if res["status"] == "diverged":
            raise TrainingDivergedError(
                f"training diverged at iteration {self.n_iter_}: the loss became NaN or inf. The model keeps the "
                f"last finite state; lower lr (now {self.lr}) or use normalized_gd=True with a smaller lr.")
        loss_hist = self.history_.get("loss")
        if (res["n_misfit"] > 0 and self.max_iter > 0 and loss_hist is not None and len(loss_hist) > 1
                and np.isfinite(loss_hist[-1]) and loss_hist[-1] > loss_hist[0]):
            warnings.warn(
                f"{type(self).__name__} does not fit the training data after {self.n_iter_} iterations and the loss "
                f"rose from {loss_hist[0]:.3g} to {loss_hist[-1]:.3g}: the step size is too large. Lower lr (now "
                f"{self.lr}){' or use normalized_gd=True' if not self.normalized_gd else ''}.",
                ConvergenceWarning, stacklevel=2)
        elif res["n_misfit"] > 0 and self.max_iter > 0:
            warnings.warn(
                f"{type(self).__name__} does not fit the training data after {self.n_iter_} iterations: "
                f"{res['n_misfit']} of {n} points have margin y_i N(x_i) <= 0 (min margin {self.min_margin_:.3g}). "
                "The data may not be separable by this model; try more iterations (max_iter), a larger lr, "
                "normalized_gd=True, or a wider network. KKT certificates need a model that fits the data.",
                ConvergenceWarning, stacklevel=2)
        return self

    # ------------------------------------------------------------------ prediction
    def _outputs(self, Xc: np.ndarray) -> np.ndarray:
        # A span model computes from its state alone (Z = c Z0 + K A on training rows, else
        # c X W0^T + (X X_train^T) A), whether or not a user has formed W: reading W_ changes nothing.
        if self._is_span:
            return self._outputs_from_preacts(self._preactivations(Xc))
        return _core.outputs(Xc, self.__dict__["_W_dense"], self._u, self.slope_, self._n_threads())

    def decision_function(self, X: Any) -> np.ndarray:
        """N(x_i) = sum_j u_j sigma(<w_j, x_i>) for each row of X (float64).

        Span model: from Z = X W0^T + (X X_train^T) A, without forming W (or Z0 + K A on the
        training matrix itself)."""
        with _span.one_check(self):
            Xc = self._check_X(X)
            return self._outputs(Xc)

    def predict(self, X: Any) -> np.ndarray:
        """Class labels: classes_[1] where N(x) > 0, else classes_[0] ({-1, +1} by default)."""
        N = self.decision_function(X)
        return np.where(N > 0, self.classes_[1], self.classes_[0])

    def score(self, X: Any, y: Any) -> float:
        """Accuracy of predict(X) against y."""
        with _span.one_check(self):
            Xc = self._check_X(X)
            y_enc = self._encode_y(y, Xc.shape[0])
            N = self._outputs(Xc)
        return float(np.mean(np.where(N > 0, 1.0, -1.0) == y_enc))

    def margins(self, X: Any, y: Any) -> np.ndarray:
        """q_i = y_i N(x_i) with y mapped to {-1, +1} (float64)."""
        with _span.one_check(self):
            Xc = self._check_X(X)
            y_enc = self._encode_y(y, Xc.shape[0])
            return y_enc.astype(np.float64) * self._outputs(Xc)

    def loss_value(self, X: Any, y: Any) -> float:
        """Mean training loss (1/n) sum_i l(q_i)."""
        q = self.margins(X, y)
        st = _core.margin_stats(q, self.loss)
        if not np.isfinite(st["loss"]) and np.isfinite(q).all() and self.loss == "exponential":
            qm = float(q.min())
            log_loss = -qm + float(np.log(np.mean(np.exp(qm - q))))  # log((1/n) sum_i exp(-q_i)), no overflow
            raise _core.NumericalError(
                f"the mean {self.loss} loss is exp({log_loss:.6g}) (log domain), beyond the largest double "
                f"(1.8e308): the minimum margin is {float(q.min()):.6g} (exp(-q) overflows below q = -709.78). "
                "Rescale the weights or X, or use loss='logistic'.")
        return float(st["loss"])

    def loss_gradient(self, X: Any, y: Any) -> np.ndarray:
        """Gradient of the mean loss as a flat vector aligned with params():
        dL/dW = Gamma^T X with Gamma_ij = (1/n) l'(q_i) y_i u_j sigma'(Z_ij); dL/du_j = (1/n) sum_i
        l'(q_i) y_i sigma(Z_ij)."""
        Xc = self._check_X(X)
        y_enc = self._encode_y(y, Xc.shape[0])
        if not self._is_span:
            _, gW, gu = _core.loss_and_grad(Xc, y_enc, self._W, self._u, self.slope_, self.train_outer_,
                                            self.loss, self._n_threads())
        else:
            Z = self._preactivations(Xc)
            yd = y_enc.astype(np.float64)
            q = yd * self._outputs_from_preacts(Z)
            c = _core.losses(q, self.loss)[1] * yd / Xc.shape[0]
            Zd = Z.astype(np.float64)
            a = self.slope_
            Gamma = np.ascontiguousarray(
                c[:, None] * np.asarray(self._u, dtype=np.float64)[None, :] * np.where(Zd > 0, 1.0, a),
                dtype=self.dtype_)
            gW = np.zeros(self._W_shape(), dtype=self.dtype_)
            _core.add_gamma_t_x(Gamma, Xc, gW, self._n_threads())
            gu = np.where(Zd > 0, Zd, a * Zd).T @ c if self.train_outer_ else None
        parts = [np.asarray(gW, dtype=np.float64).ravel()]
        if self.train_outer_:
            parts.append(np.asarray(gu, dtype=np.float64))
        g = np.concatenate(parts)
        if not np.isfinite(g).all():
            raise _core.NumericalError(
                "loss_gradient: the gradient overflows the largest representable number (the loss derivative "
                "at the smallest margins times the data exceeds 1.8e308, or 3.4e38 in float32); rescale the "
                "weights or X, or use loss='logistic'")
        return g

    def activation_pattern(self, X: Any) -> np.ndarray:
        """sigma'(<w_j, x_i>) (n x m), with sigma'(0) = leaky_slope."""
        Xc = self._check_X(X)
        if self._is_span:
            Z = self._preactivations(Xc)
            return np.where(Z > 0, 1.0, self.slope_).astype(self.dtype_)
        return _core.activation_pattern(Xc, self._W, self.slope_, self._n_threads())

    # ------------------------------------------------------------------ model files
    def save(self, path: Any) -> None:
        """Write the model to `path` (kktunlearn.load reads it back; format in kktunlearn.io)."""
        from .io import save

        save(self, path)

    # ------------------------------------------------------------------ unlearning
    def unlearn(self, X: Any, y: Any, forget: Any, method: str = "ga", **options: Any):
        """Same as kktunlearn.unlearn(self, X, y, forget, method, **options): a new model."""
        from .unlearning import unlearn

        return unlearn(self, X, y, forget, method=method, **options)


class LinearModel(_HomogeneousModel):
    """Linear predictor N(x) = <w, x> (no bias), trained by full-batch GD.

    On separable data GD on the exponential/logistic loss converges in direction to the
    hard-margin SVM without bias: argmin ||w||^2/2 s.t. y_i <w, x_i> >= 1.

    Parameters
    ----------
    loss : "exponential" or "logistic".
    lr : constant learning rate, or eta of normalized GD (lr_t = eta / L(w_t)).
    max_iter : number of GD steps (0 leaves w at its initialization).
    normalized_gd : use lr_t = min(lr / L(w_t), lr_max).
    tol : stop when the mean loss <= tol (0 disables).
    random_state : seed of the initialization (only used when init_scale > 0): an int in [0, 2^64), None
        (fresh OS entropy), or a numpy Generator (one 64-bit draw is taken from it). W(0) comes from the
        counter-based generator Philox4x32-10 + Box-Muller (kktunlearn._random), generated in C++: entry
        (j, k) is a function of (seed, j, k) only. The draw differs from kktunlearn 0.1.0 (numpy PCG64).
    n_threads : OpenMP threads per kernel call (None = the OpenMP default, which OMP_NUM_THREADS and
        threadpoolctl limit; at most max(256, 4 x CPUs) are used). Only the speed depends on it: every
        kernel splits its work into fixed-size blocks (row/column/tile blocks independent of the thread
        count) and reduces them in a fixed order, so for a given random_state and dtype, training,
        predictions, KKT multipliers and unlearning results are bit-identical for any n_threads
        (tests/test_threads.py checks 1, 2, 3 and 7 threads). What changes results: random_state, dtype,
        representation ("auto" picks primal or span from n, d, width and max_iter, and the two
        differ in the last bits), and the machine/compiler (SIMD width, FMA) — not n_threads.
    lr_max : cap of the normalized learning rate.
    margin_tol : stop when the normalized margin improves by less than this (relative) between
        two history records (0 disables).
    history_every : record (loss, min margin, normalized margin) every k steps.
    init_scale : w(0) ~ N(0, init_scale^2 I); default 0 (w(0) = 0).
    weight_decay : lambda >= 0 of the L2 term (lambda/2) ||theta||^2 added to the mean loss (the objective
        of the Newton paper, arXiv 2406.14507, and of Guo et al.'s certified removal); each step multiplies
        theta by (1 - lr lambda) before the gradient step. Needs normalized_gd=False. Unlearning methods
        that optimize an objective (finetune, neggrad_plus, the Newton family) use the model's
        weight_decay unless told otherwise. In the span representation W = beta W0 + A^T X, beta the
        product of the decay factors (the model's w0_coef).
    representation : "auto", "primal" or "span" (see choose_representation). Both give the same
        model (the same iterates up to rounding). "span" keeps W = W0 + A^T X implicitly: the model
        stores A (n x m), K = X X^T, Z0 = X W0^T, a reference to the training X and the seed W0 was
        drawn from (kktunlearn._span), and forms the m x d matrix W only when W_, params() or _W is
        read. The training X is pickled with a span model. Modifying X in place after fit is
        detected (RuntimeError), never silently used.
    dtype : np.float64 (default) or np.float32.
    progress : show a tqdm progress bar during fit.
    """

    _linear = True

    def __init__(self, loss: str = "exponential", lr: float = 0.5, max_iter: int = 2000,
                 normalized_gd: bool = True, tol: float = 0.0, random_state: Optional[int] = None,
                 n_threads: Optional[int] = None, lr_max: float = math.inf, margin_tol: float = 0.0,
                 history_every: int = 10, init_scale: float = 0.0, representation: str = "auto",
                 dtype: Any = np.float64, progress: bool = False, weight_decay: float = 0.0):
        self.loss = loss
        self.lr = lr
        self.max_iter = max_iter
        self.normalized_gd = normalized_gd
        self.tol = tol
        self.random_state = random_state
        self.n_threads = n_threads
        self.lr_max = lr_max
        self.margin_tol = margin_tol
        self.history_every = history_every
        self.init_scale = init_scale
        self.representation = representation
        self.dtype = dtype
        self.progress = progress
        self.weight_decay = weight_decay

    @property
    def coef_(self) -> np.ndarray:
        """The weight vector w (d,)."""
        check_is_fitted(self)
        return self._W[0]

    def _init_source(self, d: int):
        scale = float(self.init_scale)
        if scale > 0:
            init = _span.SeededInit.from_random_state(self.random_state, scale, 1, d)
        else:
            init = _span.ZeroInit(1, d)
        return init, np.ones(1)

    def _default_u(self, m: int) -> np.ndarray:
        return np.ones(m)


class TwoLayerReLU(_HomogeneousModel):
    """Two-layer bias-free network N(x) = sum_j u_j sigma(<w_j, x>), sigma = (leaky) ReLU.

    Parameters
    ----------
    width : number of hidden neurons m.
    train_outer : train u together with W (homogeneity degree 2) instead of keeping it fixed (1).
    leaky_slope : a in sigma(z) = max(z, a z); 0 is the ReLU. sigma'(0) := a.
    init_scale : W(0) ~ N(0, init_scale^2) entrywise, from `random_state`.
    outer_weights : u (m,); default +1/sqrt(m) for the first ceil(m/2) neurons, -1/sqrt(m) for the rest.
    loss, lr, max_iter, normalized_gd, tol, random_state, n_threads, lr_max, margin_tol,
    history_every, representation, dtype, progress, weight_decay : as in LinearModel.
    """

    def __init__(self, width: int = 100, train_outer: bool = False, leaky_slope: float = 0.0,
                 init_scale: float = 1e-3, loss: str = "exponential", lr: float = 0.5, max_iter: int = 2000,
                 normalized_gd: bool = True, tol: float = 0.0, random_state: Optional[int] = None,
                 n_threads: Optional[int] = None, outer_weights: Any = None, lr_max: float = math.inf,
                 margin_tol: float = 0.0, history_every: int = 10, representation: str = "auto",
                 dtype: Any = np.float64, progress: bool = False, weight_decay: float = 0.0):
        self.width = width
        self.train_outer = train_outer
        self.leaky_slope = leaky_slope
        self.init_scale = init_scale
        self.loss = loss
        self.lr = lr
        self.max_iter = max_iter
        self.normalized_gd = normalized_gd
        self.tol = tol
        self.random_state = random_state
        self.n_threads = n_threads
        self.outer_weights = outer_weights
        self.lr_max = lr_max
        self.margin_tol = margin_tol
        self.history_every = history_every
        self.representation = representation
        self.dtype = dtype
        self.progress = progress
        self.weight_decay = weight_decay

    def _check_hyper(self) -> None:
        super()._check_hyper()
        check_int(self.width, "width", 1)
        check_bool(self.train_outer, "train_outer")
        s = check_positive(self.leaky_slope, "leaky_slope", allow_zero=True)
        if s >= 1:
            raise ValueError(f"leaky_slope must be in [0, 1), got {self.leaky_slope!r}")

    def _default_u(self, m: int) -> np.ndarray:
        half = (m + 1) // 2
        u = np.full(m, -1.0 / math.sqrt(m))
        u[:half] = 1.0 / math.sqrt(m)
        return u

    def _init_source(self, d: int):
        m = int(self.width)
        scale = float(self.init_scale)
        if scale > 0:
            init = _span.SeededInit.from_random_state(self.random_state, scale, m, d)
        else:
            init = _span.ZeroInit(m, d)
        if self.outer_weights is None:
            u0 = self._default_u(m)
        else:
            u0 = check_array(self.outer_weights, "outer_weights", dtype=np.float64, ndim=1)
            if u0.shape[0] != m:
                raise ValueError(f"outer_weights has {u0.shape[0]} entries but width is {m}")
        return init, u0


def _check_fit_memory(model: "_HomogeneousModel", n: int, d: int, m: int, itemsize: int) -> None:
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


def clone(model: _HomogeneousModel) -> _HomogeneousModel:
    """An unfitted copy with the same constructor parameters (scikit-learn's clone)."""
    if not isinstance(model, _HomogeneousModel):
        raise TypeError(f"clone expects a kktunlearn model, got {type(model).__name__}")
    params = {k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v) for k, v in model.get_params().items()}
    return type(model)(**params)

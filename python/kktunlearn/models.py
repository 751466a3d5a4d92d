"""Estimators: the linear predictor and the two-layer (leaky) ReLU network.

Both are homogeneous, bias-free models trained by full-batch gradient descent on the mean
exponential or logistic loss (the C++ core runs the whole loop):

    N(x) = <w, x>                                  LinearModel            (degree L = 1)
    N(x) = sum_j u_j sigma(<w_j, x>)               TwoLayerReLU           (L = 1 fixed u, 2 trained u)
    sigma(z) = max(z, a z), a = leaky_slope (0 = ReLU), sigma'(0) := a

    L(theta) = (1/n) sum_i l(y_i N(x_i)) + (weight_decay/2) ||theta||^2,   l(q) = exp(-q)  or  log(1 + exp(-q))
        (with sample_weight in fit: sum_i w_i l(y_i N(x_i)) / sum_i w_i in place of the plain mean)
    theta_{t+1} = theta_t - lr_t grad L(theta_t) = (1 - lr_t weight_decay) theta_t - lr_t grad(mean loss),
        lr_t = lr / s_X                            (normalized_gd=False)
        lr_t = min(lr / (s_X L(theta_t) rho_t^(2-2/L)), lr_max)   (normalized_gd=True; Lyu & Li 2020)
        s_X = max(1, max_i ||x_i||^2 / 100) (lr_scaling="auto", the default; 1 for lr_scaling="none")
        rho_t = max(1, log(1 / L(theta_t))): for L = 1 (linear, fixed u) simply lr / L(theta_t); for the
        2-homogeneous trained-u network the extra 1/log(1/L) (Lyu & Li 2020) keeps the step from growing
        with ||theta||.

Internally every model is a network: the linear model is m = 1, u = (1), sigma = identity, so
one set of kernels serves both.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any, Optional

import numpy as np

from . import _core, _inputs, _random, _span, _training
from . import io as _io
from . import unlearning as _unlearning
from ._estimator import ParamsMixin, clone
from ._training import choose_representation
from ._validation import (_check_alloc, check_array, check_bool, check_choice, check_dtype, check_features,
                          check_fitted_params, check_int, check_is_fitted, check_n_threads, check_positive,
                          check_random_state, encode_labels)
from .exceptions import ConvergenceWarning, TrainingDivergedError

__all__ = ["LinearModel", "TwoLayerReLU", "choose_representation", "clone"]

_LOSSES = ("exponential", "logistic")
# lr_scaling="auto": the step is lr / max(1, max_i ||x_i||^2 / _LR_SCALE_SQNORM) (see fit)
_LR_SCALE_SQNORM = 100.0
_REPRESENTATIONS = ("auto", "primal", "span")


class _HomogeneousModel(ParamsMixin):
    """Shared machinery of the estimators.

    Three layers: the scikit-learn parameter protocol (kktunlearn._estimator.ParamsMixin), the fitted
    first layer as a representation object (kktunlearn._span.SpanState or PrimalState, the same
    methods), and the training engine (kktunlearn._training). This class holds the hyper-parameter
    checks, the fitted state and the public methods."""

    _linear = False

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
        """N_i = sum_j u_j sigma(Z_ij) (float64), by the core's kernel (the one the primal outputs use)."""
        return _core.outputs_from_preacts(np.ascontiguousarray(Z, dtype=self.dtype_), self._u, self.slope_)

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
            # s_X from the Gram diagonal ||x_i||^2 (no pass over X)
            res = _training.run_span(runner, Kr, Z0r, w0sq, yr, u0, lr_scale=runner._lr_scale_from(np.diag(Kr)))
            # the run's W = beta W_start + dA^T X_r, W_start = coef W0 + base^T X (weight decay: beta < 1)
            beta = res.w0_coef
            A = base * np.asarray(beta, dtype=base.dtype) if beta != 1.0 else base.copy()
            np.add.at(A, tidx, res.A)
            new = self._with_span(A, res.u, w0_coef=coef * beta)
        else:
            Xr = np.ascontiguousarray(X[idx])
            if start == "current":
                W_start, u0 = np.ascontiguousarray(self._W, dtype=dt), self._u
            else:
                init, u0 = self._init_source(X.shape[1])
                W_start = _span.init_full(sp.init if sp is not None else init, dt)
                u0 = np.ascontiguousarray(u0, dtype=dt)
            res = _training.run_primal(runner, Xr, yr, W_start, u0, lr_scale=runner._lr_scale(Xr))
            new = self._with_params(res.W, res.u)
        new.n_iter_ = int(res.result.n_iter)
        new.fit_status_ = res.result.status
        new.history_ = {k: np.asarray(v) for k, v in res.result.history.items()}
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
    def _check_X(self, X: Any, name: str = "X", lazy_ok: bool = False) -> Any:
        check_is_fitted(self)
        check_fitted_params(self)
        if isinstance(X, _random.GeneratedRows):
            # rows defined by the generator (finite by construction, immutable): a span model's predictions
            # (lazy_ok) take them as they are; everything else gets the materialized array
            _inputs.check_feature_names(self, X)  # (a model fitted on a DataFrame warns, as for an array)
            check_features(self, X, name)
            if X.shape[0] == 0:
                _inputs.check_X_shape(np.empty(X.shape, X.dtype), self, fitted=True)
            if lazy_ok and self.__dict__.get("_span") is not None and X.dtype == self.dtype_:
                return X
            X = np.asarray(X)
        X = _inputs.convert_object_X(X, name)
        if not isinstance(X, np.ndarray):
            # DataFrames: column names against feature_names_in_; lists etc.: scikit-learn's shape messages
            _inputs.check_feature_names(self, X)
            _inputs.check_X_shape(X, self, fitted=True)
        elif X.ndim != 2 or X.shape[0] == 0 or X.shape[1] != self.n_features_in_:
            _inputs.check_X_shape(X, self, fitted=True)
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
        check_choice(getattr(self, "lr_scaling", "auto"), "lr_scaling", ("auto", "none"))

    # ------------------------------------------------------------------ training
    def _default_u(self, m: int) -> np.ndarray:
        raise NotImplementedError

    def _init_source(self, d: int):
        """(W0 source, u0): W0 as a _span.SeededInit / ZeroInit (regenerable, never stored m x d)."""
        raise NotImplementedError

    def _lr_scale(self, X: np.ndarray) -> float:
        """s_X = max(1, max_i ||x_i||^2 / 100) over the rows of X: the learning rate of fit is lr / s_X (see fit)."""
        if getattr(self, "lr_scaling", "auto") == "none" or X.shape[0] == 0:
            return 1.0
        return self._lr_scale_from(np.einsum("ij,ij->i", X, X, dtype=np.float64))

    def _lr_scale_from(self, sqnorms: np.ndarray) -> float:
        if getattr(self, "lr_scaling", "auto") == "none" or sqnorms.size == 0:
            return 1.0
        r = float(np.max(np.asarray(sqnorms, dtype=np.float64))) / _LR_SCALE_SQNORM
        return max(1.0, r) if np.isfinite(r) else 1.0

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "_HomogeneousModel":
        """Train by full-batch gradient descent from a seeded initialization.

        Minimizes the mean loss (1/n) sum_i l(y_i N(x_i)), or with `sample_weight` the weighted mean
        sum_i w_i l(y_i N(x_i)) / sum_i w_i (plus (weight_decay/2) ||theta||^2), by the steps of the
        module docstring, on the gradient-descent scheme of Lyu & Li (2020) and of Melamed et al.
        (arXiv 2510.14844, Sec. 3) that drives the model to a KKT point of margin maximization.

        Input scale: with ``lr_scaling="auto"`` (default) the step uses lr / s_X in place of lr, where
        s_X = max(1, max_i ||x_i||^2 / 100). One step changes a margin q_j = y_j N(x_j) by at most
        about lr_t ||grad L|| ||x_j||, and for the exponential loss ||grad L|| <= L(theta) max_i ||x_i||
        (times ||u|| for the network), so the normalized step lr / (L(theta) s_X) moves every margin by
        at most about 100 lr per step, whatever the scale of X (the exponential overflows only below
        q = -709): unscaled real data (features in the thousands, max_i ||x_i||^2 ~ 1e7) trains with the
        defaults instead of diverging at the first step, and data whose rows have squared norm <= 100
        (unit-norm rows, the setting of the papers) trains exactly as without the rule (s_X = 1). On a
        linear model training on X with step lr / s_X follows the margins of training on X / sqrt(s_X)
        with step lr. The cap lr_max applies to the scaled step. ``lr_scaling="none"`` disables it.
        Features on very different scales still train slowly (gradient descent is not scale
        invariant per feature): standardize them (e.g. scikit-learn's StandardScaler).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Dense, finite training data (a DataFrame's string column names become
            ``feature_names_in_``).
        y : array-like of shape (n_samples,)
            Two classes (-1/+1 are kept; otherwise the smaller class is -1). A column vector warns
            (DataConversionWarning) and is ravelled.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights w_i of the weighted mean loss; integer weights are the same as
            repeating rows. KKT multipliers, certificates, verification and unlearning are defined for
            the unweighted mean loss and refuse a model fitted with unequal weights (ValueError).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            On bad input (1-D, empty, non-finite X; y None, continuous, multi-class or of one class;
            bad sample weights) or bad hyper-parameters.
        TypeError
            On sparse or non-numeric X.
        TrainingDivergedError
            When the loss becomes NaN/inf (the model keeps the last finite state).
        KeyboardInterrupt
            On Ctrl-C (the model keeps the last consistent state).

        Warns
        -----
        ConvergenceWarning
            When the model does not fit the training data at the end.

        Notes
        -----
        Stops after `max_iter` steps, when the mean loss reaches `tol` (if > 0), or when the
        normalized margin min_i q_i / ||theta||^L improves by less than `margin_tol` (relative)
        between two history records (if > 0).
        """
        self._check_hyper()
        dt = self.dtype_
        _inputs.check_X_shape(X, self, fitted=False)
        if y is None:
            _inputs.check_target(y, self)
        Xa = check_array(_inputs.convert_object_X(X), "X", dtype=dt)
        y = _inputs.check_target(y, self)
        n, d = Xa.shape
        y_enc, classes = encode_labels(y, n, dtype=dt)
        omega = _inputs.check_sample_weight(sample_weight, n)
        m = 1 if self._linear else int(self.width)
        size_name = "width" if not self._linear else "X"
        _check_alloc((n, m), np.dtype(dt).itemsize, f"{size_name} (pre-activations of {n} x {m})")
        _training.check_fit_memory(self, n, d, m, np.dtype(dt).itemsize)
        init, u0 = self._init_source(d)
        u0 = np.ascontiguousarray(u0, dtype=dt)
        # zero-weight rows do not enter the loss (nor the scale: fitting with them equals fitting without them)
        s_x = self._lr_scale(Xa) if omega is None else self._lr_scale_from(
            np.einsum("ij,ij->i", Xa, Xa, dtype=np.float64)[omega > 0])
        t0 = time.perf_counter()
        try:
            rep, state, res = _training.fit(self, Xa, y_enc, init, u0, omega, lr_scale=s_x)
        except _core.NumericalError as exc:
            raise TrainingDivergedError(
                f"training cannot start: {exc}. The largest |X| entry is {float(np.abs(Xa).max()):.3g}; rescale X "
                f"(e.g. StandardScaler, or rows of unit norm) or lower init_scale (now {self.init_scale}).") from exc
        self.classes_ = classes
        _inputs.set_feature_names(self, X)
        if rep == "primal":
            self._set_state(state.W, res.u)
        else:
            self._set_span_state(state, res.u)
        self.representation_ = rep
        self.weighted_fit_ = omega is not None
        self.lr_scale_ = s_x
        tr = res.result
        self.n_iter_ = int(tr.n_iter)
        self.fit_status_ = tr.status
        self.loss_ = float(tr.loss)
        self.log_loss_ = float(tr.log_loss)
        self.min_margin_ = float(tr.min_margin)
        self.fit_time_ = time.perf_counter() - t0
        self.history_ = {k: np.asarray(v) for k, v in tr.history.items()}
        if tr.interrupted:
            raise KeyboardInterrupt(
                f"training interrupted after {self.n_iter_} iterations; the model holds that last consistent state")
        if tr.status == "diverged":
            raise TrainingDivergedError(
                f"training diverged at iteration {self.n_iter_}: the loss became NaN or inf. The model keeps the "
                f"last finite state; lower lr (now {self.lr}; the step is lr / s_X with s_X = {s_x:.3g}"
                f"{', times 1 / L(theta) with normalized_gd=True' if self.normalized_gd else ''}), or rescale X "
                f"(e.g. StandardScaler, or rows of unit norm; max_i ||x_i||^2 = {s_x:.3g}).")
        loss_hist = self.history_.get("loss")
        if (tr.n_misfit > 0 and self.max_iter > 0 and loss_hist is not None and len(loss_hist) > 1
                and np.isfinite(loss_hist[-1]) and loss_hist[-1] > loss_hist[0]):
            warnings.warn(
                f"{type(self).__name__} does not fit the training data after {self.n_iter_} iterations and the loss "
                f"rose from {loss_hist[0]:.3g} to {loss_hist[-1]:.3g}: the step size is too large. Lower lr (now "
                f"{self.lr}){' or use normalized_gd=True' if not self.normalized_gd else ''}.",
                ConvergenceWarning, stacklevel=2)
        elif tr.n_misfit > 0 and self.max_iter > 0:
            warnings.warn(
                f"{type(self).__name__} does not fit the training data after {self.n_iter_} iterations: "
                f"{tr.n_misfit} of {n} points have margin y_i N(x_i) <= 0 (min margin {self.min_margin_:.3g}). "
                "The data may not be separable by this model; try more iterations (max_iter), a larger lr, "
                f"{'normalized_gd=True, ' if not self.normalized_gd else ''}a wider network, or scaled features "
                "(StandardScaler). KKT certificates need a model that fits the data.",
                ConvergenceWarning, stacklevel=2)
        return self

    def _require_unweighted(self, what: str) -> None:
        """ValueError when the model was fitted with unequal sample weights (`what` cannot use it)."""
        if getattr(self, "weighted_fit_", False):
            raise ValueError(
                f"{what} is defined for a model trained on the unweighted mean loss (1/n) sum_i l(q_i): the KKT "
                "conditions of margin maximization (Melamed et al., arXiv 2510.14844, Sec. 3) and the unlearning "
                "steps built on them have no sample weights. This model was fitted with sample_weight; refit "
                "without it (or with equal weights).")

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
            Xc = self._check_X(X, lazy_ok=True)
            return self._outputs(Xc)

    def predict(self, X: Any) -> np.ndarray:
        """Class labels: classes_[1] where N(x) > 0, else classes_[0] ({-1, +1} by default)."""
        N = self.decision_function(X)
        return np.where(N > 0, self.classes_[1], self.classes_[0])

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities from the model output f = N(x) through the link of the training loss.

        logistic loss: P(y = +1 | x) = 1 / (1 + exp(-f)), the link for which l(q) = log(1 + exp(-q)) is
        the negative log-likelihood.
        exponential loss: P(y = +1 | x) = 1 / (1 + exp(-2 f)). The population minimizer of
        E[exp(-y f(x))] is f*(x) = (1/2) log(p(x) / (1 - p(x))) with p(x) = P(y = +1 | x) (Friedman,
        Hastie & Tibshirani, "Additive logistic regression", Ann. Statist. 28 (2000), Lemma 1: the
        AdaBoost link), whose inverse is this sigmoid of 2 f.
        On separable data both grow with ||theta|| (gradient descent drives the margins to infinity,
        Melamed et al., arXiv 2510.14844, Sec. 3), so the probabilities of a long-trained model are
        near 0 or 1: they rank points like decision_function but are not calibrated.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, 2), float64
            Columns P(classes_[0] | x) and P(classes_[1] | x); rows sum to 1.
        """
        f = self.decision_function(X)
        z = 2.0 * f if self.loss == "exponential" else f
        e = np.exp(-np.abs(z))  # no overflow: sigmoid(z) = 1/(1+e) for z >= 0, e/(1+e) for z < 0
        p1 = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        p0 = np.where(z >= 0, e / (1.0 + e), 1.0 / (1.0 + e))
        return np.column_stack([p0, p1])

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """log of predict_proba, computed without underflow: log P(+1) = -log(1 + exp(-z)), z = f
        (logistic loss) or 2 f (exponential loss).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, 2), float64
        """
        f = self.decision_function(X)
        z = 2.0 * f if self.loss == "exponential" else f
        return np.column_stack([-np.logaddexp(0.0, z), -np.logaddexp(0.0, -z)])

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy of predict(X) against y (weighted by `sample_weight` if given).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels among ``classes_``.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights of the weighted accuracy sum_i w_i [pred_i = y_i] / sum_i w_i.

        Returns
        -------
        float
        """
        with _span.one_check(self):
            Xc = self._check_X(X, lazy_ok=True)
            y_enc = self._encode_y(y, Xc.shape[0])
            N = self._outputs(Xc)
        hit = np.where(N > 0, 1.0, -1.0) == y_enc
        if sample_weight is None:
            return float(np.mean(hit))
        w = _inputs.check_sample_weight(sample_weight, Xc.shape[0])
        return float(np.mean(hit)) if w is None else float(np.dot(w, hit) / w.sum())

    def margins(self, X: Any, y: Any) -> np.ndarray:
        """q_i = y_i N(x_i) with y mapped to {-1, +1} (float64)."""
        with _span.one_check(self):
            Xc = self._check_X(X, lazy_ok=True)
            y_enc = self._encode_y(y, Xc.shape[0])
            return y_enc.astype(np.float64) * self._outputs(Xc)

    def loss_value(self, X: Any, y: Any) -> float:
        """Mean training loss (1/n) sum_i l(q_i)."""
        q = self.margins(X, y)
        st = _core.margin_stats(q, self.loss)
        if not np.isfinite(st.loss) and np.isfinite(q).all() and self.loss == "exponential":
            qm = float(q.min())
            log_loss = -qm + float(np.log(np.mean(np.exp(qm - q))))  # log((1/n) sum_i exp(-q_i)), no overflow
            raise _core.NumericalError(
                f"the mean {self.loss} loss is exp({log_loss:.6g}) (log domain), beyond the largest double "
                f"(1.8e308): the minimum margin is {float(q.min()):.6g} (exp(-q) overflows below q = -709.78). "
                "Rescale the weights or X, or use loss='logistic'.")
        return float(st.loss)

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
            Z = np.ascontiguousarray(self._preactivations(Xc), dtype=self.dtype_)
            yd = y_enc.astype(np.float64)
            q = yd * self._outputs_from_preacts(Z)
            c = _core.losses(q, self.loss)[1] * yd / Xc.shape[0]
            # Gamma_ij = c_i u_j sigma'(Z_ij), g_u = sigma(Z)^T c: the core's kernel, then dL/dW = Gamma^T X
            Gamma, gu = _core.coefficient_matrix(Z, self._u, c, self.slope_, self.train_outer_)
            gW = np.zeros(self._W_shape(), dtype=self.dtype_)
            _core.add_gamma_t_x(Gamma, Xc, gW, self._n_threads())
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
            Z = np.ascontiguousarray(self._preactivations(Xc), dtype=self.dtype_)
            return _core.activation_pattern_from_preacts(Z, self.slope_)
        return _core.activation_pattern(Xc, self._W, self.slope_, self._n_threads())

    # ------------------------------------------------------------------ model files
    def save(self, path: Any) -> None:
        """Write the model to `path` (kktunlearn.load reads it back; format in kktunlearn.io)."""
        _io.save(self, path)

    # ------------------------------------------------------------------ unlearning
    def unlearn(self, X: Any, y: Any, forget: Any, method: str = "ga", **options: Any):
        """Same as kktunlearn.unlearn(self, X, y, forget, method, **options): a new model."""
        return _unlearning.unlearn(self, X, y, forget, method=method, **options)


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
        drawn from (kktunlearn._span), and forms the m x d matrix W only when ``W_``, ``params()`` or ``_W`` is
        read. The training X is pickled with a span model. Modifying X in place after fit is
        detected (RuntimeError), never silently used.
    dtype : np.float64 (default) or np.float32.
    progress : show a tqdm progress bar during fit.
    lr_scaling : "auto" (default) or "none". "auto": the step is lr / s_X with
        s_X = max(1, max_i ||x_i||^2 / 100), so that unscaled data trains with the defaults (see fit);
        "none": the step is lr.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        The weight vector w.
    classes_ : ndarray of shape (2,)
        The two labels; classes_[0] is encoded as -1, classes_[1] as +1.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features,), object
        Column names of a DataFrame X at fit (only when they are all strings).
    n_iter_ : int
        Gradient steps taken.
    loss_, log_loss_, min_margin_ : float
        Final (weighted) mean loss, its log, and min_i y_i N(x_i).
    lr_scale_ : float
        The input-scale factor s_X of the step (1 with lr_scaling="none").
    weighted_fit_ : bool
        True when fitted with unequal sample weights (certificates and unlearning then refuse the model).
    representation_ : str
        "primal" or "span".
    history_ : dict of ndarrays
        iter, loss, log_loss, min_margin, normalized_margin every history_every steps.
    """

    _linear = True

    def __init__(self, loss: str = "exponential", lr: float = 0.5, max_iter: int = 2000,
                 normalized_gd: bool = True, tol: float = 0.0, random_state: Optional[int] = None,
                 n_threads: Optional[int] = None, lr_max: float = math.inf, margin_tol: float = 0.0,
                 history_every: int = 10, init_scale: float = 0.0, representation: str = "auto",
                 dtype: Any = np.float64, progress: bool = False, weight_decay: float = 0.0,
                 lr_scaling: str = "auto"):
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
        self.lr_scaling = lr_scaling

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
    loss, lr, max_iter, normalized_gd, tol, random_state, n_threads, lr_max : as in LinearModel.
    margin_tol, history_every, representation, dtype, progress, weight_decay, lr_scaling : as in LinearModel.

    Attributes
    ----------
    W_ : ndarray of shape (width, n_features)
        First-layer weights (formed on first access for a span model).
    u_ : ndarray of shape (width,)
        Output weights.
    classes_, n_features_in_, feature_names_in_, n_iter_, loss_, log_loss_, min_margin_, lr_scale_, \
weighted_fit_, representation_, history_
        As in LinearModel.
    """

    def __init__(self, width: int = 100, train_outer: bool = False, leaky_slope: float = 0.0,
                 init_scale: float = 1e-3, loss: str = "exponential", lr: float = 0.5, max_iter: int = 2000,
                 normalized_gd: bool = True, tol: float = 0.0, random_state: Optional[int] = None,
                 n_threads: Optional[int] = None, outer_weights: Any = None, lr_max: float = math.inf,
                 margin_tol: float = 0.0, history_every: int = 10, representation: str = "auto",
                 dtype: Any = np.float64, progress: bool = False, weight_decay: float = 0.0,
                 lr_scaling: str = "auto"):
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
        self.lr_scaling = lr_scaling

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



"""Estimators: the linear predictor and the two-layer (leaky) ReLU network.

Both are homogeneous, bias-free models trained by full-batch gradient descent on the mean
exponential or logistic loss (the C++ core runs the whole loop):

    N(x) = <w, x>                                  LinearModel            (degree L = 1)
    N(x) = sum_j u_j sigma(<w_j, x>)               TwoLayerReLU           (L = 1 fixed u, 2 trained u)
    sigma(z) = max(z, a z), a = leaky_slope (0 = ReLU), sigma'(0) := a

    L(theta) = (1/n) sum_i l(y_i N(x_i)),   l(q) = exp(-q)  or  log(1 + exp(-q))
    theta_{t+1} = theta_t - lr_t grad L(theta_t),
        lr_t = lr                                  (normalized_gd=False)
        lr_t = min(lr / L(theta_t), lr_max)        (normalized_gd=True, spec 9.5)

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

from . import _core
from ._validation import (_check_alloc, check_array, check_choice, check_dtype, check_features, check_int,
                          check_is_fitted, check_n_threads, check_positive, encode_labels)
from .exceptions import ConvergenceWarning, TrainingDivergedError

_LOSSES = ("exponential", "logistic")
_REPRESENTATIONS = ("auto", "primal", "span")


def choose_representation(n: int, d: int, m: int, max_iter: int) -> str:
    """The `representation="auto"` cost model (flop counts of one fit).

    primal: every step computes Z = X W^T and W += Gamma^T X:      4 n m d flops per step.
    span:   once K = X X^T (n^2 d) and Z0 = X W0^T (2 n m d), then Z = Z0 + K A per step
            (2 n^2 m) and finally W = W0 + A^T X (2 n m d).
    `span` is chosen when its total is below the primal total, i.e. roughly when n < 2 d.
    """
    T = max(int(max_iter), 1)
    primal = 4.0 * n * m * d * T
    span = n * n * d + 4.0 * n * m * d + 2.0 * n * n * m * T
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
        """First-layer weights (m x d); for the linear model the 1 x d row w."""
        check_is_fitted(self)
        return self._W

    @property
    def u_(self) -> np.ndarray:
        """Output weights (m,) (fixed or trained); (1,) = [1] for the linear model."""
        check_is_fitted(self)
        return self._u

    def params(self) -> np.ndarray:
        """Flattened parameter vector theta (float64): W row-major, then u if it is trained."""
        check_is_fitted(self)
        parts = [np.asarray(self._W, dtype=np.float64).ravel()]
        if self.train_outer_:
            parts.append(np.asarray(self._u, dtype=np.float64))
        return np.concatenate(parts)

    def n_params(self) -> int:
        check_is_fitted(self)
        return int(self._W.size + (self._u.size if self.train_outer_ else 0))

    def _set_state(self, W: np.ndarray, u: np.ndarray) -> None:
        dt = self.dtype_
        self._W = np.ascontiguousarray(W, dtype=dt)
        self._u = np.ascontiguousarray(u, dtype=dt)
        self.n_features_in_ = int(self._W.shape[1])
        self.is_fitted_ = True

    def _with_params(self, W: np.ndarray, u: np.ndarray) -> "_HomogeneousModel":
        """A new fitted model with the same hyper-parameters and label mapping, parameters (W, u)."""
        new = type(self)(**self.get_params())
        new.classes_ = self.classes_
        new._set_state(W, u)
        new.n_iter_ = 0
        new.history_ = {}
        new.fit_status_ = "derived"
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
        check_n_threads(self.n_threads)
        check_dtype(self.dtype)

    # ------------------------------------------------------------------ training
    def _init_params(self, d: int):
        raise NotImplementedError

    def _default_u(self, m: int) -> np.ndarray:
        raise NotImplementedError

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
        _check_alloc((m, d), np.dtype(dt).itemsize, f"{size_name} (weight matrix of {m} x {d})")
        _check_alloc((n, m), np.dtype(dt).itemsize, f"{size_name} (pre-activations of {n} x {m})")
        W0, u0 = self._init_params(d)
        W0 = np.ascontiguousarray(W0, dtype=dt)
        u0 = np.ascontiguousarray(u0, dtype=dt)
        m = W0.shape[0]
        rep = self.representation
        if rep == "auto":
            rep = choose_representation(n, d, m, int(self.max_iter))
        nt = self._n_threads()
        common = dict(slope=self.slope_, train_outer=self.train_outer_, loss=self.loss, lr=float(self.lr),
                      normalized=bool(self.normalized_gd), lr_max=float(self.lr_max),
                      max_iter=int(self.max_iter), tol=float(self.tol), margin_tol=float(self.margin_tol),
                      history_every=int(self.history_every), n_threads=nt)
        bar = _Progress(bool(getattr(self, "progress", False)), int(self.max_iter), type(self).__name__)
        t0 = time.perf_counter()
        try:
            if rep == "primal":
                res = _core.train_primal(X, y_enc, W0, u0, progress=bar, **common)
                W = res["W"]
            else:
                K = _core.kernel_matrix(X, nt)
                Z0 = _core.preactivations(X, W0, nt)
                w0sq = float(np.dot(W0.ravel().astype(np.float64), W0.ravel().astype(np.float64)))
                A0 = np.zeros((n, m), dtype=dt)
                res = _core.train_span(K, Z0, w0sq, y_enc, A0, u0, progress=bar, **common)
                W = W0 + res["A"].T @ X
        except _core.NumericalError as exc:
            raise TrainingDivergedError(
                f"training cannot start: {exc}. The largest |X| entry is {float(np.abs(X).max()):.3g}; rescale X "
                f"(e.g. rows of unit norm) or lower init_scale (now {self.init_scale}).") from exc
        finally:
            bar.close()
        self.classes_ = classes
        self._set_state(W, res["u"])
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
        if res["n_misfit"] > 0 and self.max_iter > 0:
            warnings.warn(
                f"{type(self).__name__} does not fit the training data after {self.n_iter_} iterations: "
                f"{res['n_misfit']} of {n} points have margin y_i N(x_i) <= 0 (min margin {self.min_margin_:.3g}). "
                "The data may not be separable by this model; try more iterations (max_iter), a larger lr, "
                "normalized_gd=True, or a wider network. KKT certificates need a model that fits the data.",
                ConvergenceWarning, stacklevel=2)
        return self

    # ------------------------------------------------------------------ prediction
    def decision_function(self, X: Any) -> np.ndarray:
        """N(x_i) for each row of X (float64)."""
        Xc = self._check_X(X)
        return _core.outputs(Xc, self._W, self._u, self.slope_, self._n_threads())

    def predict(self, X: Any) -> np.ndarray:
        """Class labels: classes_[1] where N(x) > 0, else classes_[0] ({-1, +1} by default)."""
        N = self.decision_function(X)
        return np.where(N > 0, self.classes_[1], self.classes_[0])

    def score(self, X: Any, y: Any) -> float:
        """Accuracy of predict(X) against y."""
        Xc = self._check_X(X)
        y_enc = self._encode_y(y, Xc.shape[0])
        N = _core.outputs(Xc, self._W, self._u, self.slope_, self._n_threads())
        return float(np.mean(np.where(N > 0, 1.0, -1.0) == y_enc))

    def margins(self, X: Any, y: Any) -> np.ndarray:
        """q_i = y_i N(x_i) with y mapped to {-1, +1} (float64)."""
        Xc = self._check_X(X)
        y_enc = self._encode_y(y, Xc.shape[0])
        return y_enc.astype(np.float64) * _core.outputs(Xc, self._W, self._u, self.slope_, self._n_threads())

    def loss_value(self, X: Any, y: Any) -> float:
        """Mean training loss (1/n) sum_i l(q_i)."""
        q = self.margins(X, y)
        return float(_core.margin_stats(q, self.loss)["loss"])

    def loss_gradient(self, X: Any, y: Any) -> np.ndarray:
        """Gradient of the mean loss as a flat vector aligned with params()."""
        Xc = self._check_X(X)
        y_enc = self._encode_y(y, Xc.shape[0])
        _, gW, gu = _core.loss_and_grad(Xc, y_enc, self._W, self._u, self.slope_, self.train_outer_, self.loss,
                                        self._n_threads())
        parts = [np.asarray(gW, dtype=np.float64).ravel()]
        if self.train_outer_:
            parts.append(np.asarray(gu, dtype=np.float64))
        return np.concatenate(parts)

    def activation_pattern(self, X: Any) -> np.ndarray:
        """sigma'(<w_j, x_i>) (n x m), with sigma'(0) = leaky_slope."""
        Xc = self._check_X(X)
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
    random_state : seed of the initialization (only used when init_scale > 0).
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
    representation : "auto", "primal" or "span" (see choose_representation).
    dtype : np.float64 (default) or np.float32.
    progress : show a tqdm progress bar during fit.
    """

    _linear = True

    def __init__(self, loss: str = "exponential", lr: float = 0.5, max_iter: int = 2000,
                 normalized_gd: bool = True, tol: float = 0.0, random_state: Optional[int] = None,
                 n_threads: Optional[int] = None, lr_max: float = math.inf, margin_tol: float = 0.0,
                 history_every: int = 10, init_scale: float = 0.0, representation: str = "auto",
                 dtype: Any = np.float64, progress: bool = False):
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

    @property
    def coef_(self) -> np.ndarray:
        """The weight vector w (d,)."""
        check_is_fitted(self)
        return self._W[0]

    def _init_params(self, d: int):
        scale = float(self.init_scale)
        if scale > 0:
            rng = np.random.default_rng(self.random_state)
            W0 = scale * rng.standard_normal((1, d))
        else:
            W0 = np.zeros((1, d))
        return W0, np.ones(1)

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
    history_every, representation, dtype, progress : as in LinearModel.
    """

    def __init__(self, width: int = 100, train_outer: bool = False, leaky_slope: float = 0.0,
                 init_scale: float = 1e-3, loss: str = "exponential", lr: float = 0.5, max_iter: int = 2000,
                 normalized_gd: bool = True, tol: float = 0.0, random_state: Optional[int] = None,
                 n_threads: Optional[int] = None, outer_weights: Any = None, lr_max: float = math.inf,
                 margin_tol: float = 0.0, history_every: int = 10, representation: str = "auto",
                 dtype: Any = np.float64, progress: bool = False):
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

    def _check_hyper(self) -> None:
        super()._check_hyper()
        check_int(self.width, "width", 1)
        s = check_positive(self.leaky_slope, "leaky_slope", allow_zero=True)
        if s >= 1:
            raise ValueError(f"leaky_slope must be in [0, 1), got {self.leaky_slope!r}")

    def _default_u(self, m: int) -> np.ndarray:
        half = (m + 1) // 2
        u = np.full(m, -1.0 / math.sqrt(m))
        u[:half] = 1.0 / math.sqrt(m)
        return u

    def _init_params(self, d: int):
        m = int(self.width)
        rng = np.random.default_rng(self.random_state)
        W0 = float(self.init_scale) * rng.standard_normal((m, d))
        if self.outer_weights is None:
            u0 = self._default_u(m)
        else:
            u0 = check_array(self.outer_weights, "outer_weights", dtype=np.float64, ndim=1)
            if u0.shape[0] != m:
                raise ValueError(f"outer_weights has {u0.shape[0]} entries but width is {m}")
        return W0, u0


def clone(model: _HomogeneousModel) -> _HomogeneousModel:
    """An unfitted copy with the same constructor parameters (scikit-learn's clone)."""
    if not isinstance(model, _HomogeneousModel):
        raise TypeError(f"clone expects a kktunlearn model, got {type(model).__name__}")
    params = {k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v) for k, v in model.get_params().items()}
    return type(model)(**params)

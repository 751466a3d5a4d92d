"""KKT certificates of the margin-maximization problem and verification of unlearning.

For a homogeneous model N(x; theta) of degree L and a data set T = {(x_i, y_i)}, the margin problem is

    (P_T)   min_theta 1/2 ||theta||^2   s.t.   q_i = y_i N(x_i; theta) >= 1  for all i in T.

Every number below is computed on the *normalized* model theta / s, with s = q_min^(1/L) (min margin 1;
q_min = min_i q_i of the raw model) unless a reference scale is given. The C++ core never forms the
n x (m d) Jacobian: it works with K = X X^T, the pre-activations Z = X W^T and u.

* multipliers  lambda = argmin_{lambda >= 0} || theta - sum_i lambda_i y_i h_i ||,  h_i in d°N(x_i; theta)
  (plain: h_i = grad N(x_i) with sigma'(0) = leaky slope; Clarke-aware: for pinned pairs
  |<w_j, x_i>| <= subgradient_tol (normalized model) neuron j's derivative may be any value in
  [slope, 1], i.e. coefficient mu_ij in [slope lambda_i, lambda_i], solved exactly as a convex QP);
* epsilon      = that minimum (stationarity residual, K1), epsilon_rel = epsilon / ||theta||;
* delta        = max_i lambda_i (q_i - 1)_+   (complementary slackness, K3; 0 when all lambda_i (q_i - 1) <= 0),
  delta_sum    = sum_i lambda_i (q_i - 1)_+   (the summed variant);
* tau          = max(0, 1 - min_i q_i)        (how far the margin constraints are violated, U2);
* (epsilon, delta, tau)-successful unlearning (spec 3.3): the unlearned model, measured in the original
  model's normalization, is an (epsilon, delta)-approximate KKT point of the retained set whose margin
  constraints are relaxed by tau.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import numpy as np

from . import _core, _span
from ._validation import check_choice, check_forget, check_int, check_is_fitted, check_n_threads, check_positive
from .exceptions import ConvergenceWarning, NotSeparableError

__all__ = ["KKTMultipliers", "KKTReport", "UnlearningReport", "kkt_multipliers", "kkt_report",
           "verify_unlearning", "cosine_similarity", "CLARKE_BASE_TOL"]

#: Base tolerance (on the normalized model) of verify_unlearning's default pinned-pair rule (spec 7.4).
CLARKE_BASE_TOL = 1e-3
#: Unlearning methods whose default verification tolerance is widened by the step's displacement.
_GOLDSTEIN_METHODS = frozenset({"ga"})

_METHODS = ("nnls", "dynamics", "closed_form")


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


def _fmt(x: Any) -> str:
    if x is None:
        return "None"
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, numbers.Integral):
        return str(int(x))
    if isinstance(x, numbers.Real):
        return f"{float(x):.6g}"
    return repr(x)


def _array_summary(a: np.ndarray) -> str:
    a = np.asarray(a)
    if a.size == 0:
        return "array([], shape=%s)" % (a.shape,)
    if a.ndim == 1 and a.dtype.kind == "f":
        return f"array(n={a.size}, min={a.min():.4g}, mean={a.mean():.4g}, max={a.max():.4g})"
    return f"array(shape={a.shape})"


class _ReprMixin:
    _repr_fields: tuple = ()

    def __repr__(self) -> str:
        parts = []
        for name in self._repr_fields:
            v = getattr(self, name)
            parts.append(f"{name}={_array_summary(v) if isinstance(v, np.ndarray) else _fmt(v)}")
        return f"{type(self).__name__}(" + ", ".join(parts) + ")"


@dataclass(frozen=True, repr=False)
class KKTMultipliers(_ReprMixin):
    """Multipliers of the stationarity condition and the residual they leave.

    lambdas : (n,) lambda_i >= 0.
    epsilon : || theta/s - sum_i y_i sum_j c_ij u_j x_i e_j^T (- u-block terms) ||, with c_ij = lambda_i sigma'(z_ij)
        for unpinned pairs and c_ij = mu for pinned ones (the stationarity residual of the normalized model).
    epsilon_rel : epsilon / ||theta / s||.
    converged, n_iter : solver report (n_iter = outer NNLS iterations; clarke_iter for the Clarke QP).
    method : "nnls", "dynamics", "closed_form" or "given" (evaluated at the caller's multipliers).
    scale : s, theta_normalized = theta / s (s = q_min^(1/L) unless a scale was given).
    pinned : (P, 2) int64 (i, j) = (point, neuron) pairs with |<w_j, x_i>| <= subgradient_tol * s.
    mu : (P,) the fitted Clarke coefficient c_ij of each pinned pair, in [slope lambda_i, lambda_i].
    n_pinned : P.
    epsilon_plain : epsilon of the plain NNLS (sigma'(0) = slope, no pinned pairs); equals epsilon when P = 0;
        NaN for the methods "dynamics", "closed_form" and "given" (no NNLS is run).
    theta_norm : ||theta / s||.  margins : normalized margins q_i / s^L.
    kkt_violation : largest violation of the solver's optimality conditions (absolute).
    n_fallback : linear solves that needed the rank-revealing fallback.
    direct_residual : epsilon was recomputed directly (O(n m d)) because the Gram identity had cancelled.
    """

    lambdas: np.ndarray
    epsilon: float
    epsilon_rel: float
    converged: bool
    n_iter: int
    method: str
    scale: float
    pinned: np.ndarray
    mu: np.ndarray
    n_pinned: int
    subgradient_tol: float
    epsilon_plain: float
    theta_norm: float
    margins: np.ndarray
    kkt_violation: float = 0.0
    n_fallback: int = 0
    clarke_iter: int = 0
    direct_residual: bool = False

    _repr_fields = ("epsilon", "epsilon_rel", "epsilon_plain", "method", "converged", "n_iter", "scale",
                    "n_pinned", "subgradient_tol", "lambdas")


@dataclass(frozen=True, repr=False)
class KKTReport(_ReprMixin):
    """(epsilon, delta, tau) numbers of a model on a data set (all on the normalized model theta / s).

    epsilon, epsilon_rel : stationarity residual and epsilon / ||theta/s||.
    delta : max_i lambda_i (q_i - 1)_+ ;  delta_sum : sum_i lambda_i (q_i - 1)_+.
    tau : max(0, 1 - min_i q_i) (0 when s = q_min^(1/L), the model's own scale).
    min_margin : min_i q_i (normalized).  lambdas : the multipliers.
    n_pinned : number of pairs treated with the Clarke subdifferential.  scale : s.
    multipliers : the KKTMultipliers behind the numbers.
    """

    epsilon: float
    epsilon_rel: float
    delta: float
    delta_sum: float
    tau: float
    min_margin: float
    lambdas: np.ndarray
    n_pinned: int
    scale: float
    theta_norm: float
    subgradient_tol: float
    method: str
    converged: bool
    n_points: int
    margins: np.ndarray
    multipliers: KKTMultipliers = field(compare=False)

    _repr_fields = ("epsilon", "epsilon_rel", "delta", "delta_sum", "tau", "min_margin", "n_pinned", "scale",
                    "subgradient_tol", "method", "converged", "n_points", "lambdas")


@dataclass(frozen=True, repr=False)
class UnlearningReport(_ReprMixin):
    """Verification of an unlearned model on the retained set (spec 3.3).

    retained : KKTReport of the unlearned model on S \\ F, normalized by `scale`.
    epsilon, epsilon_rel, delta, delta_sum, tau, min_margin, n_pinned : copied from `retained`.
    scale, scale_source : the normalization s and where it came from ("reference_scale", "original",
        "unlearn_info", or "self" = the unlearned model's own retained min margin, which makes tau = 0).
    subgradient_tol, tol_rule : the pinned-pair tolerance used and how it was chosen.
    forget : indices of the forgotten points.  forget_margins : their margins y N(x) / s^L.
    cosine_to_retrained : cos(theta^-, theta_retrained) when `retrained` is given.
    cosine_original_to_retrained : cos(theta, theta_retrained) when `original` and `retrained` are given.
    thresholds : the (epsilon, delta, tau) thresholds given (None where not given).
    successful : every given threshold met (epsilon <= eps, delta <= delta, tau <= tau); None if none given.
    """

    retained: KKTReport
    epsilon: float
    epsilon_rel: float
    delta: float
    delta_sum: float
    tau: float
    min_margin: float
    n_pinned: int
    scale: float
    scale_source: str
    subgradient_tol: float
    tol_rule: str
    forget: np.ndarray
    forget_margins: np.ndarray
    cosine_to_retrained: Optional[float]
    cosine_original_to_retrained: Optional[float]
    thresholds: Dict[str, Optional[float]]
    successful: Optional[bool]

    _repr_fields = ("successful", "epsilon", "epsilon_rel", "delta", "delta_sum", "tau", "min_margin", "n_pinned",
                    "scale", "scale_source", "subgradient_tol", "cosine_to_retrained", "forget_margins")


# ---------------------------------------------------------------------------------------------- helpers
def _check_model(model: Any, name: str = "model") -> None:
    if not hasattr(model, "_check_X") or not hasattr(model, "degree_"):
        raise TypeError(f"{name} must be a kktunlearn model (LinearModel or TwoLayerReLU), got {type(model).__name__}")
    check_is_fitted(model)


def _threads(model: Any, n_threads: Any) -> int:
    return check_n_threads(n_threads) if n_threads is not None else model._n_threads()


def _check_scale(scale: Any, name: str = "scale") -> float:
    if scale is None:
        return 0.0
    return check_positive(scale, name)


def _solve(model: Any, Xc: np.ndarray, yc: np.ndarray, method: str, subgradient_tol: float, tol: float,
           max_iter: int, scale: float, n_threads: int, clarke: bool = True, lambdas: Optional[np.ndarray] = None,
           pairs: Optional[np.ndarray] = None, mu: Optional[np.ndarray] = None) -> Dict[str, Any]:
    rows = model._train_rows_of(Xc) if model._is_span else None
    if rows is not None:
        # span model on (a subset of) its training rows: the problem is built from K, Z = c Z0 + K A and the
        # per-neuron norms of the state (O(n^2 m), no d); the direct residual is computed in the span too
        sp = model._state
        full = rows.size == sp.K.shape[0] and bool(np.all(rows == np.arange(rows.size)))
        Z = sp.train_preacts()
        Zr = np.ascontiguousarray(Z if full else Z[rows])
        Kr = sp.K if full else np.ascontiguousarray(sp.K[np.ix_(rows, rows)])
        r = _core.kkt_solve_span(Zr, Kr, sp.neuron_sqnorms(), sp.K, sp.Z0, sp.A, rows.astype(np.int64).tolist(),
                                 sp.w0_coef, sp.w0_sqnorm, yc, model._u, model.slope_, model.train_outer_, method,
                                 subgradient_tol, tol, max_iter, scale, model.loss, clarke, lambdas, pairs, mu,
                                 n_threads)
    else:
        r = _core.kkt_solve(Xc, yc, model._state.materialize(n_threads), model._u, model.slope_, model.train_outer_,
                            method, subgradient_tol, tol, max_iter, scale, model.loss, clarke, lambdas, pairs, mu,
                            n_threads)
    if not r["separable"]:
        q = r["q_min_raw"]
        raise NotSeparableError(
            f"the model does not fit the data (min margin y_i N(x_i) = {q:.4g} <= 0), so it cannot be normalized to "
            "min margin 1 and the KKT conditions of the margin problem do not apply. Train longer, or pass a "
            "reference scale (scale=...) to measure an unnormalized model.")
    return r


def _to_multipliers(r: Dict[str, Any], method: str, subgradient_tol: float) -> KKTMultipliers:
    tn = float(r["theta_norm"])
    eps = float(r["epsilon"])
    pinned = np.asarray(r["pinned"], dtype=np.int64).reshape(-1, 2)
    return KKTMultipliers(
        lambdas=_frozen(r["lambdas"]), epsilon=eps, epsilon_rel=eps / tn if tn > 0 else math.inf,
        converged=bool(r["converged"]), n_iter=int(r["n_iter"]), method=method, scale=float(r["scale"]),
        pinned=_frozen(pinned), mu=_frozen(r["mu"]), n_pinned=int(pinned.shape[0]),
        subgradient_tol=float(subgradient_tol), epsilon_plain=float(r["epsilon_plain"]), theta_norm=tn,
        margins=_frozen(r["margins"]), kkt_violation=float(r["kkt_violation"]), n_fallback=int(r["n_fallback"]),
        clarke_iter=int(r["clarke_iter"]), direct_residual=bool(r["direct_residual"]))


def _margins(model: Any, Xc: np.ndarray, yc: np.ndarray, nt: int) -> np.ndarray:
    """y_i N(x_i) for validated arrays (yc already -1/+1)."""
    Xm = np.ascontiguousarray(Xc, dtype=model.dtype_)
    return yc.astype(np.float64) * model._outputs(Xm)


def _prepare(model: Any, X: Any, y: Any):
    _check_model(model)
    Xc = model._check_X(X)
    yc = model._encode_y(y, Xc.shape[0])
    return Xc, yc


# ---------------------------------------------------------------------------------------------- API
@_span.scoped('model')
def kkt_multipliers(model: Any, X: Any, y: Any, method: str = "nnls", subgradient_tol: float = 0.0,
                    n_threads: Optional[int] = None, tol: float = 1e-10, max_iter: Optional[int] = None,
                    scale: Optional[float] = None, clarke: bool = True) -> KKTMultipliers:
    """KKT multipliers of the margin problem on (X, y) for the normalized model theta / s.

    method="nnls" (default): lambda = argmin_{lambda >= 0} ||theta - sum_i lambda_i y_i grad N(x_i)||, by
        Lawson-Hanson on the Gram matrix G_ik = y_i y_k <grad N(x_i), grad N(x_k)> with
        b_i = y_i <grad N(x_i), theta> = L q_i (minimize 1/2 lambda^T G lambda - b^T lambda).
        With pinned pairs (|<w_j, x_i>| <= subgradient_tol on the normalized model; ReLU networks only) and
        clarke=True, the exact Clarke problem is solved: lambda_i >= 0 and mu_ij in [slope lambda_i, lambda_i]
        (a convex QP, primal active set started from the plain solution, so epsilon <= epsilon_plain).
        subgradient_tol=0 still pins pre-activations that are exactly 0.
    method="dynamics" (spec 9.2): lambda = c v, v_i = |l'(q_i^raw)| (the training loss), c = <theta, g>/||g||^2,
        g = sum_i v_i y_i grad N(x_i) (no optimization; pinned pairs keep mu = lambda_i sigma'(z_ij)).
    method="closed_form" (linear model only, spec 9.1): all points support vectors, lambda = G^{-1} 1
        (= y o (X X^T)^{-1} y); negative entries are clipped to 0 with a warning.

    tol : relative optimality tolerance of the solvers; max_iter : their iteration limit (None = automatic).
    scale : normalize by this s instead of q_min^(1/L) (for a model that need not fit the data, e.g. an
        unlearned model measured in the original model's scale).
    Raises NotFittedError, ValueError (dimension/label mismatch), NotSeparableError (q_min <= 0 without scale).
    """
    Xc, yc = _prepare(model, X, y)
    return _multipliers(model, Xc, yc, method, subgradient_tol, n_threads, tol, max_iter, scale, clarke)


def _multipliers(model: Any, Xc: np.ndarray, yc: np.ndarray, method: str, subgradient_tol: Any, n_threads: Any,
                 tol: Any, max_iter: Any, scale: Any, clarke: Any = True) -> KKTMultipliers:
    """kkt_multipliers on validated arrays (Xc in the model's dtype, yc encoded to -1/+1)."""
    check_choice(method, "method", _METHODS)
    st = check_positive(subgradient_tol, "subgradient_tol", allow_zero=True)
    tol = check_positive(tol, "tol")
    mi = 0 if max_iter is None else check_int(max_iter, "max_iter", 1)
    sc = _check_scale(scale)
    if method == "closed_form" and not getattr(model, "_linear", False):
        raise ValueError("method='closed_form' exists for LinearModel only; use method='nnls'")
    nt = _threads(model, n_threads)
    try:
        r = _solve(model, Xc, yc, method, st, tol, mi, sc, nt, clarke=bool(clarke))
    except _core.NumericalError as exc:
        if method == "closed_form":
            raise ValueError(f"closed-form multipliers are not applicable here: {exc}") from exc
        raise
    if r["n_clipped"] > 0:
        warnings.warn(
            f"closed_form: {r['n_clipped']} of {Xc.shape[0]} multipliers were negative (those points are not support "
            "vectors) and were set to 0; method='nnls' gives the exact multipliers", UserWarning, stacklevel=3)
    if method == "dynamics":
        lam = np.asarray(r["lambdas"])
        if lam.size and not (lam > 0).any():
            qmin = float(_margins(model, Xc, yc, nt).min())
            warnings.warn(
                f"kkt_multipliers(method='dynamics'): every multiplier is 0 (min raw margin {qmin:.4g}), so they "
                "carry no information: <theta, g> <= 0 for g = sum_i |l'(q_i)| y_i grad N(x_i) (the weights "
                "|l'(q_i)| are taken relative to the smallest margin, exp(q_min - q_i), so they do not underflow; "
                "a point whose margin exceeds q_min by more than ~745 gets 0, which is exact in double precision). "
                "Use method='nnls'.", UserWarning, stacklevel=3)
    if not r["converged"]:
        warnings.warn(f"kkt_multipliers: the solver stopped before meeting tol={tol} (violation "
                      f"{r['kkt_violation']:.3g}); raise max_iter", ConvergenceWarning, stacklevel=3)
    return _to_multipliers(r, method, st)


@_span.scoped('model')
def kkt_report(model: Any, X: Any, y: Any, multipliers: Optional[KKTMultipliers] = None,
               subgradient_tol: float = 0.0, *, scale: Optional[float] = None, method: str = "nnls",
               n_threads: Optional[int] = None, tol: float = 1e-10, max_iter: Optional[int] = None) -> KKTReport:
    """(epsilon, delta, tau) report of `model` on (X, y), normalized by s = q_min^(1/L) (or `scale`).

    delta = max_i lambda_i (q_i - 1)_+, delta_sum = sum_i lambda_i (q_i - 1)_+, tau = max(0, 1 - min_i q_i),
    q_i the normalized margins. Without `multipliers` they are computed by kkt_multipliers(method=...).
    With `multipliers` (e.g. the original model's, spec 7.1 "fixed-lambda" variant), this model's residual is
    evaluated at those lambda_i (and at their mu for the pinned pairs they list; other pinned pairs of this
    call use c_ij = lambda_i sigma'(z_ij)); they must have one entry per row of X.
    """
    Xc, yc = _prepare(model, X, y)
    return _report(model, Xc, yc, multipliers, subgradient_tol, scale, method, n_threads, tol, max_iter)


def _report(model: Any, Xc: np.ndarray, yc: np.ndarray, multipliers: Optional[KKTMultipliers], subgradient_tol: Any,
            scale: Any, method: str, n_threads: Any, tol: Any, max_iter: Any) -> KKTReport:
    st = check_positive(subgradient_tol, "subgradient_tol", allow_zero=True)
    sc = _check_scale(scale)
    nt = _threads(model, n_threads)
    if multipliers is None:
        mult = _multipliers(model, Xc, yc, method, st, n_threads, tol, max_iter, scale)
    else:
        if not isinstance(multipliers, KKTMultipliers):
            raise TypeError(f"multipliers must be a KKTMultipliers (from kkt_multipliers), got "
                            f"{type(multipliers).__name__}")
        lam = np.ascontiguousarray(multipliers.lambdas, dtype=np.float64)
        if lam.shape != (Xc.shape[0],):
            raise ValueError(f"multipliers has {lam.shape[0]} lambdas but X has {Xc.shape[0]} rows")
        if (lam < 0).any() or not np.isfinite(lam).all():
            raise ValueError("multipliers.lambdas must be finite and >= 0")
        pairs = np.ascontiguousarray(multipliers.pinned, dtype=np.int64).reshape(-1, 2)
        mu = np.ascontiguousarray(multipliers.mu, dtype=np.float64)
        m = model._W_shape()[0]
        if pairs.size and (pairs[:, 1] >= m).any():
            raise ValueError("multipliers.pinned refers to neurons this model does not have")
        r = _solve(model, Xc, yc, "given", st, 1e-10, 0, sc, nt, lambdas=lam, pairs=pairs, mu=mu)
        mult = _to_multipliers(r, "given", st)
    q = np.asarray(mult.margins)
    lam = np.asarray(mult.lambdas)
    slack = lam * np.maximum(q - 1.0, 0.0)
    return KKTReport(
        epsilon=mult.epsilon, epsilon_rel=mult.epsilon_rel, delta=float(slack.max()), delta_sum=float(slack.sum()),
        tau=float(max(0.0, 1.0 - q.min())), min_margin=float(q.min()), lambdas=mult.lambdas, n_pinned=mult.n_pinned,
        scale=mult.scale, theta_norm=mult.theta_norm, subgradient_tol=st, method=mult.method,
        converged=mult.converged, n_points=int(q.size), margins=mult.margins, multipliers=mult)


def cosine_similarity(model_a: Any, model_b: Any) -> float:
    """cos(theta_a, theta_b) = <theta_a, theta_b> / (||theta_a|| ||theta_b||) of the flat parameter vectors
    (params(): W row-major, then u if trained). The models must have the same architecture."""
    _check_model(model_a, "model_a")
    _check_model(model_b, "model_b")
    sa, sb = model_a._W_shape(), model_b._W_shape()
    if type(model_a) is not type(model_b) or sa != sb or model_a.train_outer_ != model_b.train_outer_:
        raise ValueError(f"models have different architectures: {type(model_a).__name__} W{sa} vs "
                         f"{type(model_b).__name__} W{sb}")
    return _cosine(model_a, model_b)


def _cosine(model_a: Any, model_b: Any) -> float:
    """cos from the models' states: for two span models over the same W0 and nested training rows,
    <theta_a, theta_b> = c_a c_b ||W0||^2 + c_a <A_b, Z0> + c_b <A_a, Z0> + <A_a, K A_b> (+ <u_a, u_b>), no d;
    otherwise W0 is regenerated block by block (an m x d matrix is never formed for a span model)."""
    na2, nb2 = model_a._sqnorm_theta(), model_b._sqnorm_theta()
    if not (na2 > 0 and nb2 > 0):
        raise ValueError("cosine similarity is undefined for a zero parameter vector")
    c = model_a._inner_theta(model_b) / math.sqrt(na2 * nb2)
    return float(min(1.0, max(-1.0, c)))


def _info_scale(info: Dict[str, Any]) -> Optional[float]:
    """The original model's normalization scale recorded by the unlearning code: "reference_scale", or
    "scale" of method "ga" (the s of the multipliers the step was built from)."""
    v = info.get("reference_scale")
    if v is None and info.get("method") == "ga":
        v = info.get("scale")
    return None if v is None else float(v)


@_span.scoped('unlearned', 'retrained', 'original')
def verify_unlearning(unlearned: Any, X: Any, y: Any, forget: Any, retrained: Any = None,
                      epsilon: Optional[float] = None, delta: Optional[float] = None, tau: Optional[float] = None,
                      subgradient_tol: Optional[float] = None, *, original: Any = None,
                      reference_scale: Optional[float] = None, method: str = "nnls",
                      n_threads: Optional[int] = None, tol: float = 1e-10,
                      max_iter: Optional[int] = None) -> UnlearningReport:
    """Is `unlearned` an (epsilon, delta)-approximate KKT point of the retained set S \\ F with margin
    constraints relaxed by tau (spec 3.3)?  X, y: the full training set S; forget: indices of F.

    Normalization scale s (the unlearned model is measured in the original model's frame, so that tau
    reflects the margins the step lost):
      reference_scale if given; else original's s = (min_{i in S} q_i(original))^(1/L) if `original` is given;
      else unlearned.unlearn_info_["reference_scale"], or unlearn_info_["scale"] of method "ga" (the
      original model's s recorded by the GA step); else the unlearned model's own
      (min_{i in S \\ F} q_i)^(1/L) (then tau = 0 by construction).
    Pinned-pair tolerance (Goldstein-type, spec 7.4/9.4), unless subgradient_tol is given:
      tol = CLARKE_BASE_TOL (1e-3) + preact_shift / s,
    where preact_shift = unlearned.unlearn_info_["preact_shift"] (max over retained i and neurons j of
    |<w_j^- - w_j, x_i>| in the unlearned model's raw scale; 0 when absent). A pre-activation within the
    step's displacement of the kink may take any Clarke derivative. This widening is applied by default
    only to the single KKT-scaled gradient-ascent step (method "ga", for which spec 9.4 derives it); for
    other methods (large Newton steps, many-step methods, retraining) a displacement-sized tolerance
    would declare nearly every pair pinned and report epsilon ~ 0, so their default is
    CLARKE_BASE_TOL alone. Pass subgradient_tol=... to choose any tolerance (0.0: the plain Clarke
    measure at theta^- itself).
    successful = (epsilon_ <= epsilon) and (delta_ <= delta) and (tau_ <= tau) over the thresholds given
    (None when none is given).
    """
    _check_model(unlearned, "unlearned")
    Xc = unlearned._check_X(X)
    n = Xc.shape[0]
    yc = unlearned._encode_y(y, n)
    f = check_forget(forget, n)
    keep = np.ones(n, dtype=bool)
    keep[f] = False
    thr = {}
    for name, v in (("epsilon", epsilon), ("delta", delta), ("tau", tau)):
        thr[name] = None if v is None else check_positive(v, name, allow_zero=True, allow_inf=True)
    nt = _threads(unlearned, n_threads)
    info = getattr(unlearned, "unlearn_info_", None) or {}
    L = unlearned.degree_

    # normalization scale
    if reference_scale is not None:
        s, src = check_positive(reference_scale, "reference_scale"), "reference_scale"
    elif original is not None:
        _check_model(original, "original")
        q0 = _margins(original, Xc, yc, nt)
        if not q0.min() > 0:
            raise NotSeparableError(f"the original model does not fit X (min margin {q0.min():.4g} <= 0); "
                                    "it cannot give the reference scale")
        s, src = float(q0.min()) ** (1.0 / original.degree_), "original"
    elif _info_scale(info) is not None:
        s, src = check_positive(_info_scale(info), "unlearn_info_ reference scale"), "unlearn_info"
    else:
        q_self = _margins(unlearned, Xc[keep], yc[keep], nt)
        if not q_self.min() > 0:
            raise NotSeparableError(
                f"the unlearned model does not fit the retained set (min margin {q_self.min():.4g} <= 0) and no "
                "reference scale was given; pass original=... or reference_scale=... to measure it in the "
                "original model's normalization")
        s, src = float(q_self.min()) ** (1.0 / L), "self"

    if subgradient_tol is None and info.get("method") not in _GOLDSTEIN_METHODS:
        st = CLARKE_BASE_TOL
        rule = f"clarke: {CLARKE_BASE_TOL:g} (Goldstein widening only for {sorted(_GOLDSTEIN_METHODS)})"
    elif subgradient_tol is None:
        shift = float(info.get("preact_shift", 0.0) or 0.0)
        if not (math.isfinite(shift) and shift >= 0):
            raise ValueError(f"unlearn_info_['preact_shift'] must be finite and >= 0, got {shift!r}")
        st = CLARKE_BASE_TOL + shift / s
        rule = f"goldstein: {CLARKE_BASE_TOL:g} + preact_shift ({shift:.4g}) / scale ({s:.4g})"
    else:
        st = check_positive(subgradient_tol, "subgradient_tol", allow_zero=True)
        rule = "given"

    rep = _report(unlearned, Xc[keep], yc[keep], None, st, s, method, n_threads, tol, max_iter)
    qf = _margins(unlearned, Xc[f], yc[f], nt) / (s ** L)
    cos_r = cos_o = None
    if retrained is not None:
        cos_r = cosine_similarity(unlearned, retrained)
        if original is not None:
            cos_o = cosine_similarity(original, retrained)
    if all(v is None for v in thr.values()):
        ok = None
    else:
        ok = bool((thr["epsilon"] is None or rep.epsilon <= thr["epsilon"]) and
                  (thr["delta"] is None or rep.delta <= thr["delta"]) and
                  (thr["tau"] is None or rep.tau <= thr["tau"]))
    return UnlearningReport(
        retained=rep, epsilon=rep.epsilon, epsilon_rel=rep.epsilon_rel, delta=rep.delta, delta_sum=rep.delta_sum,
        tau=rep.tau, min_margin=rep.min_margin, n_pinned=rep.n_pinned, scale=s, scale_source=src,
        subgradient_tol=st, tol_rule=rule, forget=_frozen(f), forget_margins=_frozen(qf),
        cosine_to_retrained=cos_r, cosine_original_to_retrained=cos_o, thresholds=thr, successful=ok)

"""KKT certificates of the margin-maximization problem and verification of unlearning.

For a homogeneous model ``N(x; theta)`` of degree ``L`` and a data set ``T = {(x_i, y_i)}``, the
margin problem ([GA]_, after [LyuLi]_) is::

    (P_T)   min_theta 1/2 ||theta||^2   s.t.   q_i = y_i N(x_i; theta) >= 1  for all i in T.

Every number below is computed on the *normalized* model ``theta / s``, with ``s = q_min^(1/L)``
(minimum margin 1; ``q_min = min_i q_i`` of the raw model) unless a reference scale is given. The C++
core never forms the ``n x (m d)`` Jacobian: it works with ``K = X X^T``, the pre-activations
``Z = X W^T`` and the output weights ``u``.

* multipliers: ``lambda = argmin_{lambda >= 0} || theta - sum_i lambda_i y_i h_i ||`` with
  ``h_i`` in the Clarke subdifferential of ``N(x_i; .)`` at ``theta`` (plain: ``h_i = grad N(x_i)``
  with ``sigma'(0)`` = the leaky slope; Clarke-aware: for pinned pairs
  ``|<w_j, x_i>| <= subgradient_tol`` (normalized model) neuron ``j``'s derivative may be any value
  in ``[slope, 1]``, i.e. a coefficient ``mu_ij`` in ``[slope lambda_i, lambda_i]``, solved exactly
  as a convex QP);
* ``epsilon`` = that minimum (the stationarity residual, condition (K1) of an (epsilon,
  delta)-approximate KKT point [LyuLi]_), ``epsilon_rel = epsilon / ||theta||``;
* ``delta = max_i lambda_i (q_i - 1)_+`` (complementary slackness, (K3); 0 when every
  ``lambda_i (q_i - 1) <= 0``), ``delta_sum = sum_i lambda_i (q_i - 1)_+`` (the summed variant);
* ``tau = max(0, 1 - min_i q_i)`` (how far the margin constraints are violated);
* (epsilon, delta, tau)-successful unlearning ([GA]_, its success criterion): the unlearned model,
  measured in the original model's normalization, is an (epsilon, delta)-approximate KKT point of
  the retained set whose margin constraints are relaxed by tau.

Two readings of "h_i in the Clarke subdifferential" (every unlearning report gives both):

literal
    The Clarke subdifferential of ``N(x_i; .)`` at ``theta^-`` itself ([Clarke]_, Definition
    2.1.1). A ReLU pair (point ``i``, neuron ``j``) is at the kink, and may take any derivative in
    ``[slope, 1]``, only when ``|<w_j, x_i>| / s <= LITERAL_TOL`` (``1e-3`` on the normalized model;
    floating-point training never reaches exact zeros, gradient descent leaves such pairs
    oscillating within about ``1e-3`` of 0).
relaxed
    A Goldstein-type enlargement [Goldstein]_: the convex hull of the gradients within a radius
    ``r`` of ``theta^-`` in pre-activation space, i.e. every pair with
    ``|<w_j, x_i>| / s <= LITERAL_TOL + r`` is free. ``r`` is stated, fixed once per experiment and
    applied to every method and every step size alike (default ``RELAXED_RADIUS``;
    :func:`ga_radius` gives the displacement of the KKT-scaled GA step at ``alpha = 1``).

The headline numbers (``epsilon``, ``epsilon_rel``, ``delta``, ``n_pinned``) are the literal
reading: it is the definition as written and needs no radius, so no method can look better through
the choice of ``r``. The relaxed reading is the one under which one exact gradient-ascent step
preserves stationarity for ReLU networks (a step moves pre-activations that sat at the kink off it;
the V of [GA]_ Figure 1 appears under it).
"""

from __future__ import annotations

import functools
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
           "verify_unlearning", "cosine_similarity", "ga_radius", "CLARKE_BASE_TOL", "LITERAL_TOL",
           "RELAXED_RADIUS"]

#: Kink tolerance of the literal reading: on the normalized model a pair with ``|<w_j, x_i>| / s <= LITERAL_TOL``
#: is at the ReLU kink (any derivative in ``[slope, 1]``). The same value for every method.
LITERAL_TOL = 1e-3
#: Backward-compatible name of ``LITERAL_TOL``.
CLARKE_BASE_TOL = LITERAL_TOL
#: Default Goldstein radius ``r`` of the relaxed reading (normalized pre-activation units) when the caller
#: gives none; experiments state their own ``r`` (e.g. ``ga_radius()``, the ``alpha = 1`` GA step's displacement).
RELAXED_RADIUS = 1e-2

_METHODS = ("nnls", "dynamics", "closed_form")
_SOLVERS = ("auto", "active_set")


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

    Returned by :func:`kkt_multipliers`; every number is of the normalized model ``theta / s``.

    Attributes
    ----------
    lambdas : ndarray of shape (n,)
        ``lambda_i >= 0``.
    epsilon : float
        The stationarity residual of the normalized model,
        ``|| theta/s - sum_i y_i sum_j c_ij u_j x_i e_j^T ||`` (minus the output-layer terms when
        ``u`` is trained), with ``c_ij = lambda_i sigma'(z_ij)`` for unpinned pairs and ``c_ij = mu``
        for pinned ones.
    epsilon_rel : float
        ``epsilon / ||theta / s||``.
    converged : bool
        Whether the solver met its optimality test.
    n_iter : int
        Outer NNLS iterations.
    method : str
        ``"nnls"``, ``"dynamics"``, ``"closed_form"`` or ``"given"`` (evaluated at the caller's
        multipliers).
    scale : float
        ``s``; the normalized model is ``theta / s`` (``s = q_min^(1/L)`` unless a scale was given).
    pinned : ndarray of shape (P, 2), int64
        The ``(i, j) = (point, neuron)`` pairs with ``|<w_j, x_i>| <= subgradient_tol * s``.
    mu : ndarray of shape (P,)
        The fitted Clarke coefficient ``c_ij`` of each pinned pair, in ``[slope lambda_i, lambda_i]``.
    n_pinned : int
        ``P``.
    subgradient_tol : float
        The kink tolerance used (normalized pre-activation units).
    epsilon_plain : float
        ``epsilon`` of the plain NNLS (``sigma'(0) = slope``, no pinned pairs); equals ``epsilon`` when
        ``P = 0``; NaN for the methods ``"dynamics"``, ``"closed_form"`` and ``"given"`` (no NNLS is
        run).
    theta_norm : float
        ``||theta / s||``.
    margins : ndarray of shape (n,)
        The normalized margins ``q_i / s^L``.
    kkt_violation : float
        The largest violation of the solver's optimality conditions (absolute).
    n_fallback : int
        Linear solves that needed the rank-revealing fallback.
    clarke_iter : int
        Iterations of the Clarke QP.
    direct_residual : bool
        ``epsilon`` was recomputed directly (``O(n m d)``) because the Gram identity had cancelled.
    n_dropped : int
        Points whose gradient is linearly dependent on the others' (the Gram matrix is singular, e.g.
        ``n > m d`` or duplicated points); their ``lambda_i`` is set to 0. ``lambda`` is then one of many
        minimizers (the one supported on the greedy independent subset in index order); ``epsilon`` is
        unique.

    See Also
    --------
    kkt_multipliers, kkt_report
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
    n_dropped: int = 0
    # fingerprint of (model state, X, y, scale, subgradient_tol, lambdas, mu) this result was computed
    # for: kkt_report(model, X, y, multipliers=...) on the same state reuses it instead of recomputing
    _state_key: Any = field(default=None, compare=False, repr=False)

    _repr_fields = ("epsilon", "epsilon_rel", "epsilon_plain", "method", "converged", "n_iter", "scale",
                    "n_pinned", "subgradient_tol", "lambdas")


@dataclass(frozen=True, repr=False)
class KKTReport(_ReprMixin):
    """(epsilon, delta, tau) numbers of a model on a data set, all on the normalized model ``theta / s``.

    Returned by :func:`kkt_report`. With ``q_i`` the normalized margins, the numbers are the three
    conditions of an (epsilon, delta)-approximate KKT point [LyuLi]_ plus the margin slack tau of
    [GA]_'s success criterion.

    Attributes
    ----------
    epsilon : float
        The stationarity residual ``min || theta/s - sum_i lambda_i y_i h_i ||``.
    epsilon_rel : float
        ``epsilon / ||theta/s||``.
    delta : float
        ``max_i lambda_i (q_i - 1)_+``.
    delta_sum : float
        ``sum_i lambda_i (q_i - 1)_+``.
    tau : float
        ``max(0, 1 - min_i q_i)`` (0 when ``s = q_min^(1/L)``, the model's own scale).
    min_margin : float
        ``min_i q_i`` (normalized).
    lambdas : ndarray of shape (n,)
        The multipliers.
    n_pinned : int
        The number of pairs treated with the Clarke subdifferential.
    scale : float
        ``s``.
    theta_norm : float
        ``||theta / s||``.
    subgradient_tol : float
        The kink tolerance used.
    method : str
        The multiplier method.
    converged : bool
        Whether the multiplier solve converged.
    n_points : int
        The number of points of the data set.
    margins : ndarray of shape (n,)
        The normalized margins ``q_i``.
    multipliers : KKTMultipliers
        The multipliers behind the numbers.
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
    r"""Verification of an unlearned model on the retained set ``S \ F``.

    Returned by :func:`verify_unlearning`: the (epsilon, delta, tau)-successful unlearning criterion of
    [GA]_, in both readings of the Clarke subdifferential (see the module documentation for why the
    literal reading is the headline).

    Attributes
    ----------
    retained : KKTReport
        The literal report on the retained set.
    epsilon, epsilon_rel, delta, delta_sum, n_pinned : float or int
        The headline numbers: those of ``retained``.
    tau : float
        ``max(0, 1 - min_{i in S \ F} q_i / s^L)`` (the same in both readings).
    min_margin : float
        ``min_{i in S \ F} q_i / s^L``.
    epsilon_literal, epsilon_rel_literal, delta_literal, n_pinned_literal : float or int
        The literal reading: the Clarke subdifferential at ``theta^-`` itself, kink tolerance
        ``literal_tol`` (= ``subgradient_tol``).
    epsilon_relaxed, epsilon_rel_relaxed, delta_relaxed, n_free_relaxed : float or int
        The relaxed reading: a Goldstein-type enlargement, pairs with
        ``|<w_j, x_i>| / s <= literal_tol + relaxed_radius`` free.
    n_pairs : int
        ``|S \ F| m`` for a network, 0 for the linear model (which has no kinks).
    free_fraction_relaxed : float
        ``n_free_relaxed / n_pairs``.
    relaxed : KKTReport
        The report of the relaxed reading.
    scale : float
        The normalization ``s``.
    scale_source : str
        Where ``s`` came from: ``"reference_scale"``, ``"original"``, ``"unlearn_info"`` (the original
        model's ``s`` recorded by :func:`kktunlearn.unlearn <kktunlearn.unlearning.unlearn>`) or ``"self"`` (the unlearned model's own
        retained minimum margin, which makes ``tau = 0``; warned about).
    subgradient_tol, tol_rule : float, str
        The literal reading's kink tolerance and how it was chosen.
    literal_tol : float
        The same tolerance.
    relaxed_radius, radius_rule : float, str
        ``r`` and how it was chosen.
    reading : str
        The headline reading (``"literal"``).
    measure : dict
        Every parameter of the measure (headline reading, tolerances, ``r``, scale, multiplier method,
        delta and tau formulas).
    measure_id : str
        The same in one line, for tables.
    forget : ndarray of int
        The indices of the forgotten points.
    forget_margins : ndarray
        Their margins ``y N(x) / s^L``.
    cosine_to_retrained : float or None
        ``cos(theta^-, theta_retrained)`` when ``retrained`` was given.
    cosine_original_to_retrained : float or None
        ``cos(theta, theta_retrained)`` when ``original`` and ``retrained`` were given.
    thresholds : dict
        The (epsilon, delta, tau) thresholds given (None where not given).
    successful : bool or None
        Every given threshold met by the headline numbers (``epsilon <= eps``, ``delta <= delta``,
        ``tau <= tau``); None if none was given.
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
    reading: str = "literal"
    literal_tol: float = LITERAL_TOL
    relaxed_radius: float = 0.0
    radius_rule: str = ""
    epsilon_literal: float = math.nan
    epsilon_rel_literal: float = math.nan
    delta_literal: float = math.nan
    n_pinned_literal: int = 0
    epsilon_relaxed: float = math.nan
    epsilon_rel_relaxed: float = math.nan
    delta_relaxed: float = math.nan
    n_free_relaxed: int = 0
    n_pairs: int = 0
    free_fraction_relaxed: float = math.nan
    relaxed: Optional[KKTReport] = field(default=None, compare=False)
    measure: Dict[str, Any] = field(default_factory=dict, compare=False)
    measure_id: str = ""

    def columns(self, prefix: str = "") -> Dict[str, Any]:
        """The certificate as flat table columns (sweep rows, ``unlearn_sequence`` records, bench tables).

        Parameters
        ----------
        prefix : str, default ""
            Prepended to every column name.

        Returns
        -------
        dict
            ``epsilon`` / ``epsilon_rel`` / ``delta`` (headline = literal), ``literal_*`` and ``relaxed_*``
            (both readings), ``tau``, ``kkt_min_margin`` (normalized), ``relaxed_free_pairs`` /
            ``relaxed_free_fraction`` (pairs free at ``r``), the measure parameters (``literal_tol``,
            ``relaxed_radius``, ``kkt_scale``, ``kkt_scale_source``, ``measure``), ``kkt_converged`` and,
            when thresholds were given, ``successful``.
        """
        c = {"epsilon": self.epsilon, "epsilon_rel": self.epsilon_rel, "delta": self.delta, "tau": self.tau,
             "kkt_min_margin": self.min_margin,
             "literal_epsilon": self.epsilon_literal, "literal_epsilon_rel": self.epsilon_rel_literal,
             "literal_delta": self.delta_literal, "literal_n_pinned": self.n_pinned_literal,
             "relaxed_epsilon": self.epsilon_relaxed, "relaxed_epsilon_rel": self.epsilon_rel_relaxed,
             "relaxed_delta": self.delta_relaxed, "relaxed_free_pairs": self.n_free_relaxed,
             "relaxed_free_fraction": self.free_fraction_relaxed, "n_pairs": self.n_pairs,
             "literal_tol": self.literal_tol, "relaxed_radius": self.relaxed_radius, "kkt_scale": self.scale,
             "kkt_scale_source": self.scale_source, "measure": self.measure_id,
             "kkt_converged": bool(self.retained.converged and (self.relaxed is None or self.relaxed.converged))}
        if self.successful is not None:
            c["successful"] = self.successful
        return {prefix + k: v for k, v in c.items()}

    _repr_fields = ("successful", "epsilon", "epsilon_rel", "epsilon_relaxed", "epsilon_rel_relaxed", "delta",
                    "tau", "min_margin", "n_pinned", "free_fraction_relaxed", "scale", "scale_source",
                    "literal_tol", "relaxed_radius", "cosine_to_retrained", "forget_margins")


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
           pairs: Optional[np.ndarray] = None, mu: Optional[np.ndarray] = None, solver: str = "auto",
           subset: Optional[np.ndarray] = None) -> Any:
    """One multiplier solve in the core; returns its KKTResult (raises NotSeparableError without a scale
    when the model does not fit the data)."""
    # subset: the problem is on the rows Xc[subset] (yc is already subset); a span model whose training matrix
    # holds those rows takes them by index, so the n_r x d copy X[subset] is never made
    opt = _core.KKTOptions()
    opt.method, opt.subgradient_tol, opt.tol, opt.max_iter, opt.scale = method, subgradient_tol, tol, max_iter, scale
    opt.loss, opt.clarke, opt.solver = model.loss, bool(clarke), solver
    if method == "given":
        opt.lambdas, opt.pairs, opt.mu = lambdas, pairs, mu
    rows = model._train_rows_of(Xc) if model._is_span else None
    if subset is not None:
        if rows is not None:
            rows = rows[subset]
        else:
            Xc = np.ascontiguousarray(Xc[subset])
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
                                 sp.w0_coef, sp.w0_sqnorm, yc, model._u, model.slope_, model.train_outer_, opt,
                                 n_threads)
    else:
        r = _core.kkt_solve(Xc, yc, model._state.materialize(n_threads), model._u, model.slope_, model.train_outer_,
                            opt, n_threads)
    if not r.separable:
        q = r.q_min_raw
        raise NotSeparableError(
            f"the model does not fit the data (min margin y_i N(x_i) = {q:.4g} <= 0), so it cannot be normalized to "
            "min margin 1 and the KKT conditions of the margin problem do not apply. Train longer, or pass a "
            "reference scale (scale=...) to measure an unnormalized model.")
    return r


@functools.lru_cache(maxsize=16)
def _probe(k: int, salt: int) -> np.ndarray:
    v = np.random.default_rng(0x6b6b74 + salt).standard_normal(k)
    v.setflags(write=False)
    return v


def _checksum(a: np.ndarray, salt: int) -> float:
    """s^T A r for fixed pseudo-random probes r, s (O(size) with one matrix-vector product): changes
    under any edit, permutation or rescaling of A except ones orthogonal to the rank-one s r^T."""
    a = np.asarray(a)
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    if a.ndim == 1:
        return float(np.dot(a.astype(np.float64), _probe(a.shape[0], salt)))
    v = a @ _probe(a.shape[1], salt).astype(a.dtype)
    return float(np.dot(v.astype(np.float64), _probe(a.shape[0], salt + 1)))


def _state_key(model: Any, Xc: np.ndarray, yc: np.ndarray, scale: float, st: float,
               subset: Optional[np.ndarray] = None) -> tuple:
    """What a multipliers result depends on: the model's parameters, the data, the normalization and the
    pinned-pair tolerance (cheap fingerprint: O(m d + n d), against O(n^2 d) for recomputing)."""
    u = np.asarray(model._u)
    data = None
    if getattr(model, "_is_span", False):
        sp = model._state    # W = c W0 + A^T X_train: (c, ||W0||, Z0 = X_train W0^T, A, K) determine it on the span
        params = sp.__dict__.get("_param_key")
        if params is None:
            # the state's arrays are never modified in place after construction (a new model gets a new
            # state), so their fingerprint is computed once per state
            params = ("span", float(sp.w0_coef), float(sp.w0_sqnorm), _checksum(sp.Z0, 11), _checksum(sp.A, 13),
                      _checksum(sp.K, 17))
            sp._param_key = params
        if sp._same_buffer(Xc):
            # the model's own training matrix, checked against its fit-time fingerprint X r (n entries) in this
            # call (model._check_X): that fingerprint identifies the content, so X is not read again
            data = ("train", sp._fp.tobytes())
    else:
        W = np.asarray(model._W)
        params = (W.shape, _checksum(W, 1))
    if data is None:
        data = _checksum(Xc, 5)
    shape = Xc.shape if subset is None else (int(subset.size), Xc.shape[1])
    sub = None if subset is None else np.asarray(subset, dtype=np.int64).tobytes()
    return (type(model).__name__, params, shape, Xc.dtype.str, float(model.slope_), bool(model.train_outer_),
            _checksum(u, 3), data, sub, _checksum(yc, 7), float(scale), float(st))


def _result_key(lam: np.ndarray, mu: np.ndarray) -> tuple:
    return (np.asarray(lam).tobytes(), np.asarray(mu).tobytes())


def _to_multipliers(r: Any, method: str, subgradient_tol: float) -> KKTMultipliers:
    """The public KKTMultipliers from the core's KKTResult."""
    tn = float(r.theta_norm)
    eps = float(r.epsilon)
    pinned = np.asarray(r.pinned, dtype=np.int64).reshape(-1, 2)
    return KKTMultipliers(
        lambdas=_frozen(r.lambdas), epsilon=eps, epsilon_rel=eps / tn if tn > 0 else math.inf,
        converged=bool(r.converged), n_iter=int(r.n_iter), method=method, scale=float(r.scale),
        pinned=_frozen(pinned), mu=_frozen(r.mu), n_pinned=int(pinned.shape[0]),
        subgradient_tol=float(subgradient_tol), epsilon_plain=float(r.epsilon_plain), theta_norm=tn,
        margins=_frozen(r.margins), kkt_violation=float(r.kkt_violation), n_fallback=int(r.n_fallback),
        clarke_iter=int(r.clarke_iter), direct_residual=bool(r.direct_residual),
        n_dropped=int(r.n_dropped))


def _margins(model: Any, Xc: np.ndarray, yc: np.ndarray, nt: int) -> np.ndarray:
    """y_i N(x_i) for validated arrays (yc already -1/+1)."""
    Xm = np.ascontiguousarray(Xc, dtype=model.dtype_)
    return yc.astype(np.float64) * model._outputs(Xm)


def _prepare(model: Any, X: Any, y: Any):
    _check_model(model)
    model._require_unweighted("The KKT certificate")
    Xc = model._check_X(X)
    yc = model._encode_y(y, Xc.shape[0])
    return Xc, yc


# ---------------------------------------------------------------------------------------------- API
@_span.scoped('model')
def kkt_multipliers(model: Any, X: Any, y: Any, method: str = "nnls", subgradient_tol: float = 0.0,
                    n_threads: Optional[int] = None, tol: float = 1e-10, max_iter: Optional[int] = None,
                    scale: Optional[float] = None, clarke: bool = True, solver: str = "auto") -> KKTMultipliers:
    """KKT multipliers of the margin problem on ``(X, y)`` for the normalized model ``theta / s``.

    Solves the stationarity condition (K1) of an (epsilon, delta)-approximate KKT point [1]_ of the
    margin problem of [2]_ for the multipliers that leave the smallest residual::

        lambda = argmin_{lambda >= 0} || theta - sum_i lambda_i y_i h_i ||,   h_i in d°N(x_i; theta).

    Parameters
    ----------
    model : LinearModel or TwoLayerReLU
        A fitted model.
    X : array-like of shape (n, d)
        The data set (usually the training set).
    y : array-like of shape (n,)
        Its labels (the model's two classes).
    method : {"nnls", "dynamics", "closed_form"}, default "nnls"
        ``"nnls"``: Lawson-Hanson [3]_ on the Gram matrix ``G_ik = y_i y_k <grad N(x_i), grad N(x_k)>``
        with ``b_i = y_i <grad N(x_i), theta> = L q_i`` (minimize ``1/2 lambda^T G lambda - b^T
        lambda``). With pinned pairs (``|<w_j, x_i>| <= subgradient_tol`` on the normalized model; ReLU
        networks only) and ``clarke=True``, the exact Clarke problem is solved: ``lambda_i >= 0`` and
        ``mu_ij`` in ``[slope lambda_i, lambda_i]`` (a convex QP, primal active set started from the
        plain solution, so ``epsilon <= epsilon_plain``). ``subgradient_tol=0`` still pins
        pre-activations that are exactly 0.
        ``"dynamics"``: the parameters align with ``-grad L`` in the limit [4]_, so
        ``lambda = c v`` with ``v_i = |l'(q_i^raw)|`` (the training loss), ``c = <theta, g> / ||g||^2``,
        ``g = sum_i v_i y_i grad N(x_i)`` (no optimization; pinned pairs keep
        ``mu = lambda_i sigma'(z_ij)``).
        ``"closed_form"`` (linear model only): the hard-margin SVM dual with every point a support
        vector, ``lambda = G^{-1} 1 = y o (X X^T)^{-1} y``; negative entries are clipped to 0 with a
        warning.
    subgradient_tol : float, default 0.0
        Kink tolerance of the Clarke-aware solve (normalized pre-activation units); use
        ``kktunlearn.kkt.LITERAL_TOL`` (``1e-3``) for a trained ReLU network.
    n_threads : int, optional
        Threads of the C++ kernels (None: the model's ``n_threads``).
    tol : float, default 1e-10
        Relative optimality tolerance of the solvers: they stop when
        ``max(max_{lambda_i = 0} w_i, max_{lambda_i > 0} |w_i|) <= tol * max|b|``, ``w = b - G lambda``.
    max_iter : int, optional
        Iteration limit (None: 50 active-set iterations for ``"auto"``, then Lawson-Hanson with
        ``3 n + 30``; a solve that stops early warns with :class:`~kktunlearn.exceptions.ConvergenceWarning`).
    scale : float, optional
        Normalize by this ``s`` instead of ``q_min^(1/L)`` (for a model that need not fit the data, e.g.
        an unlearned model measured in the original model's scale).
    clarke : bool, default True
        Solve the Clarke problem for the pinned pairs (False: the plain NNLS only).
    solver : {"auto", "active_set"}, default "auto"
        The plain NNLS solver. ``"auto"``: one blocked Cholesky factorization of the Gram matrix on the
        candidate support (points whose gradient depends linearly on earlier points' are dropped:
        ``lambda_i = 0``), then primal-dual active-set iterations (Hintermueller, Ito & Kunisch 2003)
        that reuse the factor through an ``r x r`` Schur complement, and Lawson-Hanson to finish if
        they do not settle; ``"active_set"``: Lawson-Hanson alone.

    Returns
    -------
    KKTMultipliers
        ``lambdas``, ``epsilon`` (the minimum above), ``epsilon_rel = epsilon / ||theta/s||``, the
        pinned pairs and their coefficients, and the solver's report.

    Raises
    ------
    NotFittedError
        If the model is not fitted.
    ValueError
        On a dimension or label mismatch, or an unknown method or solver.
    NotSeparableError
        If ``q_min <= 0`` and no ``scale`` is given (the model cannot be normalized to margin 1).

    See Also
    --------
    kkt_report : the (epsilon, delta, tau) numbers from these multipliers.

    References
    ----------
    .. [1] Lyu & Li, "Gradient Descent Maximizes the Margin of Homogeneous Neural Networks", ICLR 2020,
       definition of an (epsilon, delta)-approximate KKT point.
    .. [2] Melamed, Yehudai & Vardi, arXiv:2510.14844, the margin-maximization problem and its KKT
       conditions.
    .. [3] Lawson & Hanson, "Solving Least Squares Problems", 1974, chapter 23.
    .. [4] Ji & Telgarsky, "Directional convergence and alignment in deep learning", NeurIPS 2020.
    """
    Xc, yc = _prepare(model, X, y)
    return _multipliers(model, Xc, yc, method, subgradient_tol, n_threads, tol, max_iter, scale, clarke, solver)


def _multipliers(model: Any, Xc: np.ndarray, yc: np.ndarray, method: str, subgradient_tol: Any, n_threads: Any,
                 tol: Any, max_iter: Any, scale: Any, clarke: Any = True, solver: str = "auto",
                 subset: Optional[np.ndarray] = None) -> KKTMultipliers:
    """kkt_multipliers on validated arrays (Xc in the model's dtype, yc encoded to -1/+1); with ``subset``,
    on the rows ``Xc[subset]`` (yc already subset), taken by index where the model's span state allows."""
    check_choice(method, "method", _METHODS)
    check_choice(solver, "solver", _SOLVERS)
    st = check_positive(subgradient_tol, "subgradient_tol", allow_zero=True)
    tol = check_positive(tol, "tol")
    mi = 0 if max_iter is None else check_int(max_iter, "max_iter", 1)
    sc = _check_scale(scale)
    if method == "closed_form" and not getattr(model, "_linear", False):
        raise ValueError("method='closed_form' exists for LinearModel only; use method='nnls'")
    nt = _threads(model, n_threads)
    try:
        key = _state_key(model, Xc, yc, sc, st, subset)
        r = _solve(model, Xc, yc, method, st, tol, mi, sc, nt, clarke=bool(clarke), solver=solver, subset=subset)
    except _core.NumericalError as exc:
        if method == "closed_form":
            raise ValueError(f"closed-form multipliers are not applicable here: {exc}") from exc
        raise
    if r.n_clipped > 0:
        warnings.warn(
            f"closed_form: {r.n_clipped} of {yc.shape[0]} multipliers were negative (those points are not support "
            "vectors) and were set to 0; method='nnls' gives the exact multipliers", UserWarning, stacklevel=3)
    if method == "dynamics":
        lam = np.asarray(r.lambdas)
        if lam.size and not (lam > 0).any():
            qmin = float(_margins(model, Xc if subset is None else Xc[subset], yc, nt).min())
            warnings.warn(
                f"kkt_multipliers(method='dynamics'): every multiplier is 0 (min raw margin {qmin:.4g}), so they "
                "carry no information: <theta, g> <= 0 for g = sum_i |l'(q_i)| y_i grad N(x_i) (the weights "
                "|l'(q_i)| are taken relative to the smallest margin, exp(q_min - q_i), so they do not underflow; "
                "a point whose margin exceeds q_min by more than ~745 gets 0, which is exact in double precision). "
                "Use method='nnls'.", UserWarning, stacklevel=3)
    if not r.converged:
        warnings.warn(f"kkt_multipliers: the solver stopped before meeting tol={tol} (violation "
                      f"{r.kkt_violation:.3g}); raise max_iter", ConvergenceWarning, stacklevel=3)
    mult = _to_multipliers(r, method, st)
    object.__setattr__(mult, "_state_key", (key, _result_key(mult.lambdas, mult.mu)))
    return mult


@_span.scoped('model')
def kkt_report(model: Any, X: Any, y: Any, multipliers: Optional[KKTMultipliers] = None,
               subgradient_tol: float = 0.0, *, scale: Optional[float] = None, method: str = "nnls",
               n_threads: Optional[int] = None, tol: float = 1e-10, max_iter: Optional[int] = None) -> KKTReport:
    """(epsilon, delta, tau) report of ``model`` on ``(X, y)``, normalized by ``s = q_min^(1/L)`` (or ``scale``).

    With ``q_i`` the normalized margins::

        epsilon   = min_{lambda >= 0} || theta/s - sum_i lambda_i y_i h_i ||     (stationarity, K1)
        delta     = max_i lambda_i (q_i - 1)_+                                  (complementary slackness, K3)
        delta_sum = sum_i lambda_i (q_i - 1)_+
        tau       = max(0, 1 - min_i q_i)                                        (margin slack)

    the conditions of an (epsilon, delta)-approximate KKT point [1]_ and the slack of the success
    criterion of [2]_.

    Parameters
    ----------
    model : LinearModel or TwoLayerReLU
        A fitted model.
    X : array-like of shape (n, d)
        The data set.
    y : array-like of shape (n,)
        Its labels.
    multipliers : KKTMultipliers, optional
        Without them, the multipliers are computed by :func:`kkt_multipliers` (``method=...``). With
        them (e.g. the original model's: the "fixed-lambda" variant), this model's residual is
        evaluated at those ``lambda_i`` (and at their ``mu`` for the pinned pairs they list; other
        pinned pairs of this call use ``c_ij = lambda_i sigma'(z_ij)``); they must have one entry per
        row of ``X``.
    subgradient_tol : float, default 0.0
        Kink tolerance of the Clarke subdifferential (normalized pre-activation units).
    scale : float, optional
        Normalize by this ``s`` instead of the model's own ``q_min^(1/L)``.
    method : {"nnls", "dynamics", "closed_form"}, default "nnls"
        The multiplier method (see :func:`kkt_multipliers`).
    n_threads : int, optional
        Threads of the C++ kernels (None: the model's).
    tol : float, default 1e-10
        Relative optimality tolerance of the multiplier solver.
    max_iter : int, optional
        Iteration limit of the multiplier solver.

    Returns
    -------
    KKTReport
        The numbers above, the margins and the multipliers behind them.

    Raises
    ------
    NotFittedError
        If the model is not fitted.
    ValueError
        On a dimension or label mismatch, or multipliers of the wrong length.
    NotSeparableError
        If ``q_min <= 0`` and no ``scale`` is given.

    References
    ----------
    .. [1] Lyu & Li, ICLR 2020, definition of an (epsilon, delta)-approximate KKT point.
    .. [2] Melamed, Yehudai & Vardi, arXiv:2510.14844, (epsilon, delta, tau)-successful unlearning.
    """
    Xc, yc = _prepare(model, X, y)
    return _report(model, Xc, yc, multipliers, subgradient_tol, scale, method, n_threads, tol, max_iter)


def _report(model: Any, Xc: np.ndarray, yc: np.ndarray, multipliers: Optional[KKTMultipliers], subgradient_tol: Any,
            scale: Any, method: str, n_threads: Any, tol: Any, max_iter: Any,
            subset: Optional[np.ndarray] = None) -> KKTReport:
    st = check_positive(subgradient_tol, "subgradient_tol", allow_zero=True)
    sc = _check_scale(scale)
    nt = _threads(model, n_threads)
    if multipliers is None:
        mult = _multipliers(model, Xc, yc, method, st, n_threads, tol, max_iter, scale, subset=subset)
    elif isinstance(multipliers, KKTMultipliers) and multipliers._state_key is not None and \
            multipliers._state_key[1] == _result_key(multipliers.lambdas, multipliers.mu) and \
            multipliers._state_key[0] == _state_key(model, Xc, yc, sc, st):
        # this model's own multipliers on this data, scale and tolerance: every number is already there
        mult = multipliers
    else:
        if subset is not None:
            Xc, subset = np.ascontiguousarray(Xc[subset]), None
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
    """Cosine similarity of two models' flat parameter vectors.

    ``cos(theta_a, theta_b) = <theta_a, theta_b> / (||theta_a|| ||theta_b||)`` over ``params()``
    (``W`` row-major, then ``u`` if trained); the cosine to the retrained model of [1]_.

    Parameters
    ----------
    model_a, model_b : LinearModel or TwoLayerReLU
        Two fitted models of the same architecture.

    Returns
    -------
    float
        The cosine, in ``[-1, 1]``.

    Raises
    ------
    ValueError
        If the architectures differ or a parameter vector is zero.
    NotFittedError
        If a model is not fitted.

    References
    ----------
    .. [1] Melamed, Yehudai & Vardi, arXiv:2510.14844, closeness of the unlearned model to the retrained
       one (cosine similarity).
    """
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
    """The original model's normalization scale recorded by the unlearning code: "reference_scale" (every
    method, kktunlearn.unlearn), or "scale" of method "ga" (the s of the multipliers the step was built
    from) for models made before reference_scale was recorded."""
    v = info.get("reference_scale")
    if v is None and info.get("method") == "ga":
        v = info.get("scale")
    return None if v is None else float(v)


def ga_radius(original: Any, X: Any, y: Any, forget: Any, multipliers: Optional[KKTMultipliers] = None,
              subgradient: str = "clarke") -> float:
    r"""The relaxed reading's radius ``r`` taken from the KKT-scaled GA step at ``alpha = 1``.

    ``r = max_{i in S \ F, j} |<w_j^- - w_j, x_i>| / s``: the largest pre-activation displacement that
    the gradient-ascent step with the step size of [1]_ Theorem 4.1 causes on a retained point, in the
    original model's normalization ``s``. Compute it once per experiment (one original model and forget
    set) and pass it as ``relaxed_radius`` to :func:`verify_unlearning` for every method and every step
    scale alike.

    Parameters
    ----------
    original : LinearModel or TwoLayerReLU
        The fitted original model.
    X : array-like of shape (n, d)
        Its training set ``S``.
    y : array-like of shape (n,)
        Its labels.
    forget : array-like of int
        Indices of the forget set ``F``.
    multipliers : KKTMultipliers, optional
        The original model's multipliers on ``(X, y)`` (computed with
        ``subgradient_tol = LITERAL_TOL`` when None).
    subgradient : {"clarke", "autograd"}, default "clarke"
        The GA step's treatment of the forgotten points' pinned pairs (see :func:`kktunlearn.unlearn <kktunlearn.unlearning.unlearn>`).

    Returns
    -------
    float
        ``r`` (normalized pre-activation units).

    References
    ----------
    .. [1] Melamed, Yehudai & Vardi, arXiv:2510.14844, Theorem 4.1.
    """
    from .unlearning import unlearn

    _check_model(original, "original")
    if multipliers is None:
        multipliers = kkt_multipliers(original, X, y, subgradient_tol=LITERAL_TOL)
    step = unlearn(original, X, y, forget, method="ga", multipliers=multipliers, subgradient=subgradient)
    info = step.unlearn_info_
    return float(info["preact_shift"]) / float(info["scale"])


@_span.scoped('unlearned', 'retrained', 'original')
def verify_unlearning(unlearned: Any, X: Any, y: Any, forget: Any, retrained: Any = None,
                      epsilon: Optional[float] = None, delta: Optional[float] = None, tau: Optional[float] = None,
                      subgradient_tol: Optional[float] = None, *, original: Any = None,
                      reference_scale: Optional[float] = None, relaxed_radius: Optional[float] = None,
                      method: str = "nnls", n_threads: Optional[int] = None, tol: float = 1e-10,
                      max_iter: Optional[int] = None) -> UnlearningReport:
    r"""Is ``unlearned`` an (epsilon, delta, tau)-successful unlearning of ``forget``?

    Tests whether ``unlearned`` is an (epsilon, delta)-approximate KKT point [2]_ of the retained set
    ``S \ F`` with margin constraints relaxed by tau (the success criterion of [1]_)::

        epsilon     = min_{lambda >= 0, h_i in the reading's subdifferential} || theta^-/s - sum_i lambda_i y_i h_i ||
        epsilon_rel = epsilon / ||theta^-/s||
        delta       = max_i lambda_i (q_i - 1)_+
        tau         = max(0, 1 - min_i q_i),      q_i = y_i N(x_i; theta^-) / s^L over the retained set.

    The measure is the same for every unlearning method (GA, NegGrad, fine-tuning, every Newton
    method, retraining); only the arguments below change it, and the report records it
    (``measure``, ``measure_id``).

    The scale ``s`` is always the *original* model's, so that tau shows the margin the unlearning lost:
    ``reference_scale`` if given; else the original's ``s = (min_{i in S} q_i(original))^(1/L)`` if
    ``original`` is given; else ``unlearned.unlearn_info_["reference_scale"]`` (recorded by
    :func:`kktunlearn.unlearn <kktunlearn.unlearning.unlearn>` for every method: the ``s`` of the model it started from); else, with a
    warning, the unlearned model's own ``(min_{i in S \ F} q_i)^(1/L)`` (then ``tau = 0`` by
    construction).

    Both readings of the Clarke subdifferential are computed (see the module documentation): literal,
    with kink tolerance ``subgradient_tol``, and relaxed, with tolerance ``subgradient_tol + r``. The
    headline ``epsilon`` / ``epsilon_rel`` / ``delta`` / ``n_pinned`` are the literal reading.

    Parameters
    ----------
    unlearned : LinearModel or TwoLayerReLU
        The model to verify.
    X : array-like of shape (n, d)
        The full training set ``S``.
    y : array-like of shape (n,)
        Its labels.
    forget : array-like of int
        Indices of the forget set ``F`` in ``X``.
    retrained : LinearModel or TwoLayerReLU, optional
        The model retrained on ``S \ F`` (same initialization); gives ``cosine_to_retrained``.
    epsilon, delta, tau : float, optional
        Thresholds; ``successful`` is ``(epsilon_ <= epsilon) and (delta_ <= delta) and
        (tau_ <= tau)`` over the thresholds given, on the headline numbers (None when none is given).
    subgradient_tol : float, optional
        The literal reading's kink tolerance (default ``LITERAL_TOL = 1e-3``).
    original : LinearModel or TwoLayerReLU, optional
        The model before unlearning: gives the scale and ``cosine_original_to_retrained``.
    reference_scale : float, optional
        The scale ``s`` to measure in (overrides ``original``).
    relaxed_radius : float, optional
        ``r`` of the relaxed reading (default ``RELAXED_RADIUS = 1e-2``; use :func:`ga_radius` for the
        GA step's displacement; 0 makes the relaxed reading equal to the literal one).
    method : {"nnls", "dynamics", "closed_form"}, default "nnls"
        The multiplier method.
    n_threads : int, optional
        Threads of the C++ kernels.
    tol : float, default 1e-10
        Relative optimality tolerance of the multiplier solver.
    max_iter : int, optional
        Iteration limit of the multiplier solver.

    Returns
    -------
    UnlearningReport
        Both readings, the scale and its source, the forgotten points' margins, the cosines and the
        verdict.

    Raises
    ------
    NotFittedError
        If a model is not fitted.
    ValueError
        On bad indices, shapes, labels or thresholds.
    NotSeparableError
        If the original model (or, without any scale, the unlearned model on the retained set) does not
        fit the data.

    Warns
    -----
    UserWarning
        When no scale is available and the unlearned model is measured in its own scale.

    References
    ----------
    .. [1] Melamed, Yehudai & Vardi, arXiv:2510.14844, (epsilon, delta, tau)-successful unlearning.
    .. [2] Lyu & Li, ICLR 2020, definition of an (epsilon, delta)-approximate KKT point.
    """
    _check_model(unlearned, "unlearned")
    unlearned._require_unweighted("verify_unlearning")
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
        warnings.warn("verify_unlearning: no original model, reference_scale or unlearn_info_ scale, so the "
                      "unlearned model is measured in its own scale and tau = 0 by construction; pass "
                      "original=... to compare methods in the original model's scale", UserWarning, stacklevel=2)

    if subgradient_tol is None:
        st, rule = LITERAL_TOL, f"literal: LITERAL_TOL = {LITERAL_TOL:g}"
    else:
        st, rule = check_positive(subgradient_tol, "subgradient_tol", allow_zero=True), "given"
    if relaxed_radius is None:
        r, rrule = RELAXED_RADIUS, f"default: RELAXED_RADIUS = {RELAXED_RADIUS:g}"
    else:
        r, rrule = check_positive(relaxed_radius, "relaxed_radius", allow_zero=True), "given"

    # the retained rows by index (a span model takes them from its state: no n_r x d copy of X)
    kidx, yr = np.flatnonzero(keep), yc[keep]
    rep = _report(unlearned, Xc, yr, None, st, s, method, n_threads, tol, max_iter, subset=kidx)
    linear = bool(getattr(unlearned, "_linear", False))
    if r == 0 or linear:  # no kinks (linear) or no enlargement: the relaxed reading is the literal one
        rel = rep
    else:
        rel = _report(unlearned, Xc, yr, None, st + r, s, method, n_threads, tol, max_iter, subset=kidx)
    n_pairs = 0 if linear else int(kidx.size * unlearned._W_shape()[0])
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
    measure = {"headline": "literal", "literal_tol": st, "tol_rule": rule, "relaxed_radius": r,
               "radius_rule": rrule, "relaxed_tol": st + r, "scale": s, "scale_source": src,
               "multiplier_method": method, "delta": "max_i lambda_i (q_i - 1)_+",
               "tau": "max(0, 1 - min_i q_i / s^L)", "retained_points": int(kidx.size)}
    mid = f"literal tol {st:g} | relaxed r {r:.4g} | scale {src}"
    return UnlearningReport(
        retained=rep, epsilon=rep.epsilon, epsilon_rel=rep.epsilon_rel, delta=rep.delta, delta_sum=rep.delta_sum,
        tau=rep.tau, min_margin=rep.min_margin, n_pinned=rep.n_pinned, scale=s, scale_source=src,
        subgradient_tol=st, tol_rule=rule, forget=_frozen(f), forget_margins=_frozen(qf),
        cosine_to_retrained=cos_r, cosine_original_to_retrained=cos_o, thresholds=thr, successful=ok,
        reading="literal", literal_tol=st, relaxed_radius=r, radius_rule=rrule,
        epsilon_literal=rep.epsilon, epsilon_rel_literal=rep.epsilon_rel, delta_literal=rep.delta,
        n_pinned_literal=rep.n_pinned, epsilon_relaxed=rel.epsilon, epsilon_rel_relaxed=rel.epsilon_rel,
        delta_relaxed=rel.delta, n_free_relaxed=rel.n_pinned, n_pairs=n_pairs,
        free_fraction_relaxed=(rel.n_pinned / n_pairs) if n_pairs else 0.0, relaxed=rel, measure=measure,
        measure_id=mid)

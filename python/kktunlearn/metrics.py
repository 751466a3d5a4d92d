r"""Metrics of an unlearning experiment.

The (epsilon, delta, tau) criterion of [GA]_ (its success criterion), the cosine to retraining,
accuracies, and the evaluation of [Newton]_ (accuracies, update norm, membership inference,
Tug-of-War, Jensen-Shannon divergence). Every number has its formula here; the sweep's rows use the
same names.

Accuracy and margins (``q_i = y_i N(x_i; theta)``)::

    accuracy(T) = (1/|T|) sum_{i in T} 1[q_i > 0]

Margins are reported on the ORIGINAL model's normalized scale, ``q_i / q_min(theta_orig, S)``, so
the original model has minimum margin 1 on the training set ``S`` and "margin of x_r 1.01 -> 0.30"
reads as in [GA]_'s Gaussian-mixture discussion.

KKT numbers (:func:`kktunlearn.kkt.verify_unlearning`, the same measure for every method), computed
on the retained set ``S_retain = S \ F`` for every model in the ORIGINAL model's frame ``theta /
s0``, ``s0 = q_min(theta_orig, S)^(1/L)``, so that tau shows the margin the unlearning lost and
models that no longer fit ``S_retain`` still get numbers::

    epsilon     = min_{lambda >= 0, h_i} || theta - sum_i lambda_i y_i h_i ||    (stationarity, Lyu & Li 2020)
    epsilon_rel = epsilon / ||theta||
    delta       = max_i lambda_i (q_i - 1)_+
    tau         = max(0, 1 - min_i q_i)

in two readings of ``h_i`` in the Clarke subdifferential (columns ``literal_*`` and ``relaxed_*``):
"literal" (pairs with ``|<w_j, x_i>| / s0 <= literal_tol = kktunlearn.kkt.LITERAL_TOL`` may take
any derivative in ``[0, 1]``; the headline ``epsilon`` / ``epsilon_rel`` / ``delta``) and "relaxed"
(Goldstein-type: pairs within ``literal_tol + r``, ``r = relaxed_radius`` stated per experiment;
``relaxed_free_fraction`` = share of (point, neuron) pairs free at ``r``).

Success verdict of a row (``successful``: literal reading; ``relaxed_successful``: relaxed
reading), against the original model's own numbers on ``S`` in the same reading
(``orig_literal_*``, ``orig_relaxed_*``)::

    epsilon_rel <= orig_epsilon_rel + 0.05,   delta <= orig_delta + 0.1,   tau <= 0.1   (SUCCESS_THRESHOLDS)

Gaps to the retrained model (retraining = the oracle; positive = the unlearned model is higher)::

    retained_acc_gap, test_acc_gap, forget_acc_gap = accuracy(unlearned) - accuracy(retrained)
    tow = tug_of_war_models(unlearned, retrained, [forget, retained, test])   (test left out without X_test)

Distances::

    cosine(a, b) = <theta_a, theta_b> / (||theta_a|| ||theta_b||)   on the flat parameter vectors
    step_norm    = || theta_unlearned - theta_original ||_2          (the model's own raw scale)

Membership inference (forget set ``F`` against held-out points ``H`` never seen in training):

* loss-threshold attack, "member if ``l(q) < t``". As ``l`` is decreasing this is "member if
  ``q > l^{-1}(t)``", so the attack's ROC is that of the score ``q``;
  ``AUC_threshold = P(q_F > q_H) + 1/2 P(q_F = q_H)``.
* logistic-regression attack: a logistic regression on the features ``(q, q^2)`` (standardized)
  fitted to tell retained points (members) from half of ``H``, then scored on ``F`` against the
  other half of ``H``.

``AUC = (rank-sum of the positives - n_pos (n_pos + 1) / 2) / (n_pos n_neg)`` (Mann-Whitney; ties
get average ranks). An AUC near 0.5 means the forget set looks like unseen data.

Agreement with the retrained model ([Newton]_, the evaluation metrics of its ICLR 2026 version; the
formula of ToW is that of Zhao et al.'s RUM code, ``surgical_plugins/analysis.py``)::

    tug_of_war    = prod_{S in {D_e, D_r, D_test}} (1 - |acc(theta_u; S) - acc(theta_r; S)|)
    js_divergence = (1/n) sum_i JS(Bern(p_i) || Bern(r_i)),  p_i = sigmoid(f_u(x_i)), r_i = sigmoid(f_r(x_i)),
                    JS(P || Q) = 1/2 KL(P || M) + 1/2 KL(Q || M),  M = (P + Q) / 2

ToW takes accuracies as fractions in ``[0, 1]``; 1 means the unlearned model's accuracies equal the
retrained model's on the forget, retained and test sets (larger is better). JS uses the natural log
by default (nats, in ``[0, ln 2]``; ``base=2`` gives bits, in ``[0, 1]``). It is the divergence,
not the Jensen-Shannon *distance* ``sqrt(JS)`` that ``scipy.spatial.distance.jensenshannon``
returns.
"""

from __future__ import annotations

import dataclasses
import numbers
import time
import warnings
from typing import Any, Dict, Optional, Sequence

import numpy as np

from . import _span

__all__ = ["auc", "accuracy", "cosine", "step_norm", "logistic_regression", "membership_inference",
           "margin_summary", "kkt_numbers", "evaluate_unlearning", "report_to_dict", "timed", "SUCCESS_THRESHOLDS",
           "success_verdict", "tug_of_war", "tug_of_war_models", "js_divergence"]

#: Allowances of the row-level success verdict, in the spirit of (epsilon, delta, tau)-successful unlearning
#: (arXiv:2510.14844, the success criterion; its theorems bound epsilon by ``epsilon_0`` and delta by
#: ``delta_0 + O(phi)``, where ``(epsilon_0, delta_0)`` are the ORIGINAL model's numbers on S): a row succeeds
#: in a reading when ``epsilon_rel <= epsilon_rel_0 + 0.05``, ``delta <= delta_0 + 0.1`` and ``tau <= 0.1``,
#: with ``epsilon_rel_0``, ``delta_0`` the original model's numbers on S in the same reading (``orig_*`` columns).
SUCCESS_THRESHOLDS: Dict[str, float] = {"epsilon_rel": 0.05, "delta": 0.1, "tau": 0.1}


def success_verdict(row: Dict[str, Any], thresholds: Optional[Dict[str, float]] = None,
                    reading: str = "literal") -> Optional[bool]:
    """Row-level success verdict in one reading of the Clarke subdifferential.

    A row succeeds when::

        <reading>_epsilon_rel <= orig_<reading>_epsilon_rel + t["epsilon_rel"]
        <reading>_delta       <= orig_<reading>_delta + t["delta"]
        tau                   <= t["tau"]

    in the spirit of (epsilon, delta, tau)-successful unlearning [1]_, whose theorems bound the
    unlearned epsilon by the original's ``epsilon_0`` and delta by ``delta_0 + O(phi)``. Without the
    ``orig_*`` numbers the allowances are absolute (``epsilon_0 = delta_0 = 0``).

    Parameters
    ----------
    row : dict
        A row of metric columns (:func:`evaluate_unlearning`).
    thresholds : dict, optional
        The allowances ``t`` (default :data:`SUCCESS_THRESHOLDS`).
    reading : {"literal", "relaxed"}, default "literal"
        Which reading's columns to judge.

    Returns
    -------
    bool or None
        The verdict; None when a number is missing or NaN.

    References
    ----------
    .. [1] Melamed, Yehudai & Vardi, arXiv:2510.14844, (epsilon, delta, tau)-successful unlearning.
    """
    t = SUCCESS_THRESHOLDS if thresholds is None else thresholds
    vals = [row.get(f"{reading}_epsilon_rel"), row.get(f"{reading}_delta"), row.get("tau")]
    e0 = row.get(f"orig_{reading}_epsilon_rel", 0.0)
    d0 = row.get(f"orig_{reading}_delta", 0.0)
    if any(v is None or not np.isfinite(v) for v in vals + [e0, d0]):
        return None
    return bool(vals[0] <= e0 + t["epsilon_rel"] and vals[1] <= d0 + t["delta"] and vals[2] <= t["tau"])


_ORIG_MEMO: Dict[Any, Dict[str, float]] = {}


def _original_readings(original: Any, X: np.ndarray, y: np.ndarray, tol: float, radius: float) -> Dict[str, float]:
    """The original model's (epsilon_rel, delta) on S in both readings (memoized per model and data)."""
    from .kkt import kkt_report

    sig = original._sqnorm_theta() if hasattr(original, "_sqnorm_theta") else float(np.sum(original.params() ** 2))
    key = (id(original), float(sig), hash(np.ascontiguousarray(X).tobytes()),
           hash(np.asarray(y).tobytes()), tol, radius)
    if key in _ORIG_MEMO:
        return _ORIG_MEMO[key]
    lit = kkt_report(original, X, y, subgradient_tol=tol)
    rel = lit if radius == 0 or getattr(original, "_linear", False) else \
        kkt_report(original, X, y, subgradient_tol=tol + radius)
    out = {"orig_literal_epsilon_rel": lit.epsilon_rel, "orig_literal_delta": lit.delta,
           "orig_relaxed_epsilon_rel": rel.epsilon_rel, "orig_relaxed_delta": rel.delta}
    if len(_ORIG_MEMO) >= 16:
        _ORIG_MEMO.pop(next(iter(_ORIG_MEMO)))
    _ORIG_MEMO[key] = out
    return out


# ---------------------------------------------------------------------------------------------- basics
def _ranks(a: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank."""
    order = np.argsort(a, kind="mergesort")
    s = a[order]
    ranks = np.empty(a.size, dtype=np.float64)
    # boundaries of runs of equal values
    starts = np.r_[0, np.flatnonzero(s[1:] != s[:-1]) + 1]
    ends = np.r_[starts[1:], s.size]
    avg = (starts + ends + 1) / 2.0  # mean of the 1-based ranks starts+1 .. ends
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def auc(scores_pos: Any, scores_neg: Any) -> float:
    """Area under the ROC curve of "positive if the score is high", from ranks (Mann-Whitney U).

    ::

        AUC = (sum of the ranks of the positives among all scores - P (P + 1) / 2) / (P N)
            = P(s_pos > s_neg) + 1/2 P(s_pos = s_neg)

    Ties get their average rank.

    Parameters
    ----------
    scores_pos : array-like
        The ``P`` scores of the positives.
    scores_neg : array-like
        The ``N`` scores of the negatives.

    Returns
    -------
    float
        The AUC, in ``[0, 1]``.

    Raises
    ------
    ValueError
        If a side is empty or a score is not finite.
    """
    p = np.asarray(scores_pos, dtype=np.float64).ravel()
    n = np.asarray(scores_neg, dtype=np.float64).ravel()
    if p.size == 0 or n.size == 0:
        raise ValueError(f"auc needs at least one positive and one negative score, got {p.size} and {n.size}")
    if not (np.isfinite(p).all() and np.isfinite(n).all()):
        raise ValueError("auc scores must be finite")
    r = _ranks(np.concatenate([p, n]))
    return float((r[: p.size].sum() - p.size * (p.size + 1) / 2.0) / (p.size * n.size))


def accuracy(model: Any, X: Any, y: Any) -> float:
    """Accuracy ``(1/n) sum_i 1[y_i N(x_i) > 0]``.

    Parameters
    ----------
    model : LinearModel or TwoLayerReLU
        A fitted model.
    X : array-like of shape (n, d)
        The points.
    y : array-like of shape (n,)
        Their labels.

    Returns
    -------
    float
        The fraction of points with a positive margin.
    """
    return float(np.mean(model.margins(X, y) > 0))


def _is_model(a: Any) -> bool:
    return hasattr(a, "_state") and hasattr(a, "_inner_theta")


def cosine(a: Any, b: Any) -> float:
    """Cosine ``<theta_a, theta_b> / (||theta_a|| ||theta_b||)`` of two fitted models (or two flat vectors).

    Two models are compared through their states: for span models over the same ``W0`` and nested
    training rows the inner product is
    ``c_a c_b ||W0||^2 + c_a <A_b, Z0> + c_b <A_a, Z0> + <A_a, K A_b>`` (no ``d``); ``W`` is never
    formed.

    Parameters
    ----------
    a, b : model or array-like
        Two fitted models of the same architecture, or two vectors of the same length.

    Returns
    -------
    float
        The cosine; NaN when a vector is zero.

    Raises
    ------
    ValueError
        If the parameter counts differ.
    """
    if _is_model(a) and _is_model(b):
        if a._W_shape() != b._W_shape() or a.train_outer_ != b.train_outer_:
            raise ValueError(f"the two models have different parameter counts ({a.n_params()} and {b.n_params()})")
        na2, nb2 = a._sqnorm_theta(), b._sqnorm_theta()
        if not (na2 > 0 and nb2 > 0):
            return float("nan")
        return float(min(1.0, max(-1.0, a._inner_theta(b) / np.sqrt(na2 * nb2))))
    va = np.asarray(a.params() if hasattr(a, "params") else a, dtype=np.float64).ravel()
    vb = np.asarray(b.params() if hasattr(b, "params") else b, dtype=np.float64).ravel()
    if va.shape != vb.shape:
        raise ValueError(f"the two models have different parameter counts ({va.size} and {vb.size})")
    na, nb = np.linalg.norm(va), np.linalg.norm(vb)
    if na == 0 or nb == 0:
        return float("nan")
    return float(np.dot(va, vb) / (na * nb))


def step_norm(original: Any, unlearned: Any) -> float:
    """Norm of the update ``|| theta_unlearned - theta_original ||_2`` on the raw parameters.

    Computed from the models' states (no ``d`` for span models); the update norm of [1]_.

    Parameters
    ----------
    original : LinearModel or TwoLayerReLU
        The model before unlearning.
    unlearned : LinearModel or TwoLayerReLU
        The model after unlearning.

    Returns
    -------
    float
        The Euclidean distance of the flat parameter vectors.

    References
    ----------
    .. [1] Bui et al., arXiv:2406.14507 (ICLR 2026 version), the update norm of the naive Newton fixes.
    """
    return float(np.sqrt(unlearned._sqdist_theta(original)))


def timed(fn, *args: Any, **kwargs: Any):
    """Call ``fn(*args, **kwargs)`` and time it (``time.perf_counter`` wall time).

    Parameters
    ----------
    fn : callable
        The function.
    *args, **kwargs
        Its arguments.

    Returns
    -------
    tuple
        ``(result, seconds)``.
    """
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def margin_summary(q: np.ndarray, prefix: str) -> Dict[str, float]:
    """Accuracy, minimum and mean of already scaled margins ``q``.

    Parameters
    ----------
    q : ndarray
        The margins.
    prefix : str
        Prefix of the keys.

    Returns
    -------
    dict
        ``<prefix>_acc = mean(q > 0)``, ``<prefix>_margin_min``, ``<prefix>_margin_mean`` (NaN for an
        empty ``q``).
    """
    if q.size == 0:
        return {f"{prefix}_acc": float("nan"), f"{prefix}_margin_min": float("nan"),
                f"{prefix}_margin_mean": float("nan")}
    return {f"{prefix}_acc": float(np.mean(q > 0)), f"{prefix}_margin_min": float(q.min()),
            f"{prefix}_margin_mean": float(q.mean())}


# ------------------------------------------------------------------------- agreement with retraining
def _as_accuracies(a: Any, name: str) -> np.ndarray:
    if isinstance(a, dict):
        a = list(a.values())
    v = np.asarray(a, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError(f"{name} is empty: tug_of_war needs one accuracy per data set")
    if not np.isfinite(v).all():
        raise ValueError(f"{name} has non-finite accuracies: {v.tolist()}")
    if (v < 0).any() or (v > 1).any():
        hint = " (they look like percentages: divide by 100)" if (v <= 100).all() else ""
        raise ValueError(f"{name} must be fractions in [0, 1], got {v.tolist()}{hint}")
    return v


def tug_of_war(acc_unlearned: Any, acc_retrained: Any) -> float:
    """Tug-of-War (ToW) of [1]_, with the formula of Zhao et al.'s RUM code.

    ::

        ToW = prod_{S in {D_e, D_r, D_test}} (1 - |acc(theta_u; S) - acc(theta_r; S)|)

    1 means the unlearned model matches the retrained one on every set; larger is better (the ICLR
    text's "smaller is better" is a typo).

    Parameters
    ----------
    acc_unlearned : sequence of float or dict
        The accuracies of the unlearned model on the data sets (the paper uses forget, retained, test),
        as fractions in ``[0, 1]`` (the paper writes percentages and divides by 100).
    acc_retrained : sequence of float or dict
        The retrained model's accuracies on the same sets in the same order (or a dict with the same
        keys).

    Returns
    -------
    float
        ToW, in ``[0, 1]``.

    Raises
    ------
    ValueError
        On empty, non-finite or out-of-range accuracies (percentages are detected and named), or a
        length or key mismatch.

    References
    ----------
    .. [1] Bui et al., arXiv:2406.14507, ICLR 2026 version, the evaluation metrics (Tug-of-War).
    """
    if isinstance(acc_unlearned, dict) and isinstance(acc_retrained, dict):
        if set(acc_unlearned) != set(acc_retrained):
            raise ValueError(f"tug_of_war: the two dicts name different data sets "
                             f"({sorted(acc_unlearned)} and {sorted(acc_retrained)})")
        acc_retrained = [acc_retrained[k] for k in acc_unlearned]
    u = _as_accuracies(acc_unlearned, "acc_unlearned")
    r = _as_accuracies(acc_retrained, "acc_retrained")
    if u.shape != r.shape:
        raise ValueError(f"tug_of_war needs as many accuracies of the unlearned model ({u.size}) as of the "
                         f"retrained model ({r.size})")
    return float(np.prod(1.0 - np.abs(u - r)))


def _n_rows(X: Any) -> int:
    """The number of rows of X without materializing it (an ndarray, a GeneratedRows, a list...)."""
    shape = getattr(X, "shape", None)
    return int(shape[0]) if shape is not None and len(shape) >= 1 else int(np.asarray(X).shape[0])


def tug_of_war_models(unlearned: Any, retrained: Any, datasets: Sequence[Any]) -> float:
    """:func:`tug_of_war` of two fitted models on a list of data sets.

    Parameters
    ----------
    unlearned, retrained : LinearModel or TwoLayerReLU
        The two fitted models.
    datasets : sequence of (X, y)
        ``[(X_forget, y_forget), (X_retain, y_retain), (X_test, y_test)]``; accuracy is
        ``mean(y_i f(x_i) > 0)``; a set with no points is skipped.

    Returns
    -------
    float
        ToW.
    """
    au, ar = [], []
    for X, y in datasets:
        if _n_rows(X) == 0:
            continue
        au.append(accuracy(unlearned, X, y))
        ar.append(accuracy(retrained, X, y))
    return tug_of_war(au, ar)


def _log_sigmoid(z: np.ndarray) -> np.ndarray:
    """log(1 / (1 + exp(-z))) = -log1p(exp(-z)), without overflow."""
    return -np.logaddexp(0.0, -z)


def js_divergence(a: Any, b: Any, X: Any = None, base: float = np.e) -> float:
    """Mean Jensen-Shannon divergence between the output distributions of two binary models.

    The "JS divergence between unlearned and retrained output distributions" of [1]_ (softmax outputs
    there, Bernoulli outputs here)::

        JS  = (1/n) sum_i [ 1/2 KL(P_i || M_i) + 1/2 KL(Q_i || M_i) ],   M_i = (P_i + Q_i) / 2,
        P_i = Bernoulli(sigmoid(f_a(x_i))),   Q_i = Bernoulli(sigmoid(f_b(x_i))),

    where ``sigmoid(f)`` is the probability of the positive class (``classes_[1]``). This is the
    divergence, not the distance ``sqrt(JS)``. Computed in log space (log-sigmoid, logaddexp), so
    outputs up to ``1e300`` in magnitude are exact.

    Parameters
    ----------
    a, b : model or array-like
        Two fitted models (with ``X``), or (``X=None``) two arrays of the outputs ``f(x_i)``.
    X : array-like of shape (n, d), optional
        The points.
    base : float, default e
        Base of the logarithm: natural (nats, ``0 <= JS <= ln 2 = 0.693``); 2 gives bits
        (``0 <= JS <= 1``).

    Returns
    -------
    float
        The mean divergence.

    Raises
    ------
    ValueError
        On outputs of different lengths, no points, NaN outputs or a bad base.

    References
    ----------
    .. [1] Bui et al., arXiv:2406.14507, ICLR 2026 version, the evaluation metrics.
    """
    if X is not None:
        fa = np.asarray(a.decision_function(X), dtype=np.float64).ravel()
        fb = np.asarray(b.decision_function(X), dtype=np.float64).ravel()
    else:
        fa = np.asarray(a, dtype=np.float64).ravel()
        fb = np.asarray(b, dtype=np.float64).ravel()
    if fa.shape != fb.shape:
        raise ValueError(f"js_divergence needs outputs of the same length, got {fa.size} and {fb.size}")
    if fa.size == 0:
        raise ValueError("js_divergence needs at least one point")
    if np.isnan(fa).any() or np.isnan(fb).any():
        raise ValueError("js_divergence: the model outputs contain NaN")
    if not (base > 0 and base != 1 and np.isfinite(base)):
        raise ValueError(f"js_divergence: base must be positive, finite and != 1, got {base}")
    with np.errstate(invalid="ignore"):
        # log-probabilities of the two outcomes under P and Q
        lp1, lp0 = _log_sigmoid(fa), _log_sigmoid(-fa)
        lq1, lq0 = _log_sigmoid(fb), _log_sigmoid(-fb)
        lm1 = np.logaddexp(lp1, lq1) - np.log(2.0)
        lm0 = np.logaddexp(lp0, lq0) - np.log(2.0)

        def kl(l1, l0, m1, m0):
            # sum_k p_k (log p_k - log m_k); a term with p_k = 0 is 0 (also when log p_k = -inf)
            t1 = np.where(np.isneginf(l1), 0.0, np.exp(l1) * (l1 - m1))
            t0 = np.where(np.isneginf(l0), 0.0, np.exp(l0) * (l0 - m0))
            return t1 + t0

        js = 0.5 * kl(lp1, lp0, lm1, lm0) + 0.5 * kl(lq1, lq0, lm1, lm0)
    js = np.clip(js, 0.0, np.log(2.0))  # rounding can leave -1e-17
    return float(np.mean(js) / np.log(base))


# ---------------------------------------------------------------------------------- membership inference
def logistic_regression(F: np.ndarray, t: np.ndarray, l2: float = 1e-3, max_iter: int = 100,
                        tol: float = 1e-10) -> np.ndarray:
    """Weights (intercept first) of an L2-regularized logistic regression fitted by Newton's method.

    Minimizes ``(1/n) sum_i log(1 + exp(-s_i z_i)) + (l2/2) ||w_{1:}||^2`` with ``z = [1, F] w`` and
    ``s_i = 2 t_i - 1`` (the membership-inference attack's classifier).

    Parameters
    ----------
    F : ndarray of shape (n, p)
        Features.
    t : ndarray of shape (n,)
        Targets in ``{0, 1}``.
    l2 : float, default 1e-3
        Ridge strength (the intercept is left free).
    max_iter : int, default 100
        Newton iterations.
    tol : float, default 1e-10
        Stop when ``||step|| <= tol (1 + ||w||)``.

    Returns
    -------
    ndarray of shape (p + 1,)
        The weights, intercept first.
    """
    F = np.asarray(F, dtype=np.float64)
    A = np.hstack([np.ones((F.shape[0], 1)), F])
    s = np.where(np.asarray(t) > 0.5, 1.0, -1.0)
    n, p = A.shape
    w = np.zeros(p)
    reg = np.full(p, l2)
    reg[0] = 1e-12  # leave the intercept (almost) free
    for _ in range(max_iter):
        z = s * (A @ w)
        sig = 0.5 * (1.0 - np.tanh(0.5 * z))      # 1 / (1 + exp(z)), stable
        g = -(A.T @ (s * sig)) / n + reg * w
        h = sig * (1.0 - sig)
        H = (A.T * h) @ A / n + np.diag(reg)
        step = np.linalg.solve(H, g)
        w -= step
        if np.linalg.norm(step) <= tol * (1.0 + np.linalg.norm(w)):
            break
    return w


def _attack_features(q: np.ndarray, center: float, scale: float) -> np.ndarray:
    z = (q - center) / scale
    return np.column_stack([z, z * z])


def membership_inference(model: Any, X_forget: Any, y_forget: Any, X_heldout: Any, y_heldout: Any,
                         X_retain: Any = None, y_retain: Any = None, seed: Optional[int] = 0) -> Dict[str, float]:
    """Membership-inference attacks on per-example losses: forget set (positives) against held-out points.

    Margins are divided by the model's own minimum margin on the retained (or forget) set, so the
    features are scale-free (see the module documentation for the formulas).

    Parameters
    ----------
    model : LinearModel or TwoLayerReLU
        The model attacked.
    X_forget, y_forget : array-like
        The forget set (members before unlearning).
    X_heldout, y_heldout : array-like
        Points never seen in training (at least 2).
    X_retain, y_retain : array-like, optional
        Retained points: enable the logistic-regression attack.
    seed : int, optional, default 0
        Seed of the random split of the held-out points.

    Returns
    -------
    dict
        ``mia_threshold_auc`` (score ``q``, the loss-threshold attack), ``mia_threshold_acc`` (the best
        balanced accuracy over all thresholds) and, with a retained set, ``mia_lr_auc``: a logistic
        regression on ``(q, q^2)`` trained on retained points (members) against a random half of the
        held-out points and evaluated on the forget set against the other half.

    Raises
    ------
    ValueError
        With fewer than 2 held-out points.
    """
    qf = model.margins(X_forget, y_forget)
    qh = model.margins(X_heldout, y_heldout)
    if qh.size < 2:
        raise ValueError("membership_inference needs at least 2 held-out points")
    out: Dict[str, float] = {}
    out["mia_threshold_auc"] = auc(qf, qh)
    # best balanced accuracy of "member if q > t"
    thr = np.unique(np.concatenate([qf, qh]))
    tpr = (qf[None, :] >= thr[:, None]).mean(axis=1)
    tnr = (qh[None, :] < thr[:, None]).mean(axis=1)
    out["mia_threshold_acc"] = float(np.max(0.5 * (tpr + tnr)))
    if X_retain is not None:
        qr = model.margins(X_retain, y_retain)
        rng = np.random.default_rng(seed)
        perm = rng.permutation(qh.size)
        h_fit, h_eval = perm[: qh.size // 2], perm[qh.size // 2:]
        train_q = np.concatenate([qr, qh[h_fit]])
        center = float(np.mean(train_q))
        scale = float(np.std(train_q)) or 1.0
        Ftr = _attack_features(train_q, center, scale)
        ttr = np.r_[np.ones(qr.size), np.zeros(h_fit.size)]
        w = logistic_regression(Ftr, ttr)
        score = lambda q: np.hstack([np.ones((q.size, 1)), _attack_features(q, center, scale)]) @ w  # noqa: E731
        out["mia_lr_auc"] = auc(score(qf), score(qh[h_eval]))
    return out


# ----------------------------------------------------------------------------------------------- KKT
def report_to_dict(report: Any, prefix: str = "") -> Dict[str, Any]:
    """Scalar fields (numbers, bools, short strings) of a dataclass report, with names prefixed.

    Parameters
    ----------
    report : dataclass, dict or object
        The report (None gives an empty dict).
    prefix : str, default ""
        Prepended to each name.

    Returns
    -------
    dict
        The scalar fields.
    """
    out: Dict[str, Any] = {}
    if report is None:
        return out
    if dataclasses.is_dataclass(report):
        items = [(f.name, getattr(report, f.name)) for f in dataclasses.fields(report)]
    elif isinstance(report, dict):
        items = list(report.items())
    else:
        items = [(k, v) for k, v in vars(report).items() if not k.startswith("_")]
    for k, v in items:
        if isinstance(v, (bool, np.bool_)):
            out[prefix + k] = bool(v)
        elif isinstance(v, (numbers.Integral, np.integer)):
            out[prefix + k] = int(v)
        elif isinstance(v, (numbers.Real, np.floating)):
            out[prefix + k] = float(v)
        elif isinstance(v, str) and len(v) < 80:
            out[prefix + k] = v
    return out


def kkt_numbers(model: Any, X: Any, y: Any, subgradient_tol: float = 0.0, prefix: str = "",
                multipliers: Any = None, scale: Optional[float] = None) -> Dict[str, Any]:
    """``epsilon``, ``epsilon_rel``, ``delta``, ``tau``, ``n_pinned``, ... of ``model`` on ``(X, y)``.

    The scalar numbers of :func:`kktunlearn.kkt.kkt_report` (formulas there) as a flat dict, for
    tables.

    Parameters
    ----------
    model : LinearModel or TwoLayerReLU
        A fitted model.
    X : array-like of shape (n, d)
        The data set.
    y : array-like of shape (n,)
        Its labels.
    subgradient_tol : float, default 0.0
        Kink tolerance of the Clarke subdifferential.
    prefix : str, default ""
        Prepended to each key.
    multipliers : KKTMultipliers, optional
        Evaluate at these multipliers (the "fixed-lambda" variant).
    scale : float, optional
        Normalize ``theta`` by this ``s`` (e.g. the original model's) instead of the model's own
        ``q_min^(1/L)``.

    Returns
    -------
    dict
        ``epsilon``, ``epsilon_rel``, ``delta``, ``delta_sum``, ``tau``, ``min_margin``, ``n_pinned``,
        ``scale``. A model that cannot be normalized (minimum margin ``<= 0`` and no scale) gets NaN
        numbers and the reason under ``<prefix>kkt_error``; solver warnings are recorded under
        ``<prefix>kkt_warning``.
    """
    from .kkt import kkt_report

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rep = kkt_report(model, X, y, multipliers=multipliers, subgradient_tol=subgradient_tol, scale=scale)
    except (ValueError, ArithmeticError) as exc:
        return {prefix + "epsilon": float("nan"), prefix + "epsilon_rel": float("nan"),
                prefix + "delta": float("nan"), prefix + "tau": float("nan"),
                prefix + "kkt_error": f"{type(exc).__name__}: {exc}"}
    d = report_to_dict(rep)
    keep = ("epsilon", "epsilon_rel", "delta", "delta_sum", "tau", "min_margin", "n_pinned", "scale")
    out = {prefix + k: d[k] for k in keep if k in d}
    if caught:
        out[prefix + "kkt_warning"] = "; ".join(str(w.message) for w in caught)
    return out


@_span.scoped("original", "unlearned", "retrained")
def evaluate_unlearning(original: Any, unlearned: Any, X: Any, y: Any, forget: Sequence[int],
                        retrained: Any = None, X_test: Any = None, y_test: Any = None,
                        kkt: bool = True, clarke_tol: Optional[float] = None, mia: bool = True,
                        seed: Optional[int] = 0, relaxed_radius: Optional[float] = None) -> Dict[str, Any]:
    """Every metric of one unlearning result, as a flat dict (one sweep row's metric columns).

    The formulas are in the module documentation. The KKT columns are
    :meth:`~kktunlearn.kkt.UnlearningReport.columns` of ``verify_unlearning(unlearned, ...,
    original=original, subgradient_tol=clarke_tol, relaxed_radius=relaxed_radius)``: the same measure
    whatever the method.

    Parameters
    ----------
    original : LinearModel or TwoLayerReLU
        The model trained on ``S = (X, y)``.
    unlearned : LinearModel or TwoLayerReLU
        The result of an unlearning method (or the retrained model itself).
    X : array-like of shape (n, d)
        The training set ``S``.
    y : array-like of shape (n,)
        Its labels.
    forget : sequence of int
        Indices of the forgotten points in ``S``.
    retrained : LinearModel or TwoLayerReLU, optional
        The model trained on ``S_retain`` from the same initialization (``cos_to_retrained``, the
        accuracy gaps, ``tow``).
    X_test, y_test : array-like, optional
        Fresh points (test accuracy, and the held-out side of the membership-inference attacks).
    kkt : bool, default True
        Compute the certificate columns and the success verdicts.
    clarke_tol : float, optional
        The literal kink tolerance (default ``LITERAL_TOL``).
    mia : bool, default True
        Run the membership-inference attacks (needs ``X_test``).
    seed : int, optional, default 0
        Seed of the attacks' split.
    relaxed_radius : float, optional
        ``r`` of the relaxed reading (default ``RELAXED_RADIUS``; pass one ``r`` for every row of an
        experiment).

    Returns
    -------
    dict
        The metric columns: margins and accuracies, ``tau``, ``step_norm``, ``theta_norm``, the
        retrained comparisons, the certificate (both readings), ``successful`` /
        ``relaxed_successful`` and the attack AUCs.

    Raises
    ------
    ValueError
        If the original model does not fit its training set.
    """
    Xa = np.asarray(X, dtype=np.float64)
    ya = np.asarray(y)
    n = Xa.shape[0]
    from ._validation import check_forget

    f = check_forget(forget, n)
    keep = np.ones(n, dtype=bool)
    keep[f] = False
    Xr, yr, Xf, yf = Xa[keep], ya[keep], Xa[f], ya[f]
    q_orig = original.margins(Xa, ya)
    qmin0 = float(q_orig.min())
    if not qmin0 > 0:
        raise ValueError(f"the original model does not fit its training set (min margin {qmin0:.3g}); "
                         "unlearning metrics are defined for models that fit the data")
    # margin reference: the original model's normalization (min margin 1 on S)
    q = unlearned.margins(Xa, ya) / qmin0
    row: Dict[str, Any] = {}
    row.update(margin_summary(q[keep], "retained"))
    row.update(margin_summary(q[f], "forget"))
    # tau on the original scale: how far below 1 the retained margins fall
    row["tau"] = max(0.0, 1.0 - row["retained_margin_min"]) if keep.any() else float("nan")
    info = getattr(unlearned, "unlearn_info_", None) or {}
    row["step_norm"] = step_norm(original, unlearned)
    for k in ("time", "n_iter"):
        if k in info and isinstance(info[k], (numbers.Real, np.floating, np.integer)):
            row["wall_time" if k == "time" else "unlearn_n_iter"] = float(info[k]) if k == "time" else int(info[k])
    row["theta_norm"] = float(np.sqrt(unlearned._sqnorm_theta()))
    if X_test is not None:
        row["test_acc"] = accuracy(unlearned, X_test, y_test)
    if retrained is not None:
        row["cos_to_retrained"] = cosine(unlearned, retrained)
        row["cos_original_to_retrained"] = cosine(original, retrained)
        row["param_dist_to_retrained"] = float(np.sqrt(unlearned._sqdist_theta(retrained)))
        qr = retrained.margins(Xa, ya)
        row["retained_acc_gap"] = row["retained_acc"] - float(np.mean(qr[keep] > 0))
        row["forget_acc_gap"] = row["forget_acc"] - float(np.mean(qr[f] > 0))
        if X_test is not None:
            row["test_acc_gap"] = row["test_acc"] - accuracy(retrained, X_test, y_test)
            row["test_agreement_with_retrained"] = float(np.mean(
                np.sign(unlearned.decision_function(X_test)) == np.sign(retrained.decision_function(X_test))))
        sets = [(Xf, yf), (Xr, yr)] + ([(X_test, y_test)] if X_test is not None else [])
        row["tow"] = tug_of_war_models(unlearned, retrained, sets)
    if kkt:
        from .kkt import verify_unlearning

        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                rep = verify_unlearning(unlearned, Xa, ya, f, retrained=retrained, original=original,
                                        subgradient_tol=clarke_tol, relaxed_radius=relaxed_radius)
        except (ValueError, ArithmeticError, RuntimeError) as exc:
            for k in ("epsilon", "epsilon_rel", "delta", "literal_epsilon", "literal_epsilon_rel", "literal_delta",
                      "relaxed_epsilon", "relaxed_epsilon_rel", "relaxed_delta", "relaxed_free_fraction"):
                row[k] = float("nan")
            row["kkt_error"] = f"{type(exc).__name__}: {exc}"
        else:
            if caught:
                row["kkt_warning"] = "; ".join(str(w.message) for w in caught)
            row.update(rep.columns())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                row.update(_original_readings(original, Xa, ya, rep.literal_tol, rep.relaxed_radius))
        row["successful"] = success_verdict(row)
        row["relaxed_successful"] = success_verdict(row, reading="relaxed")
        t = SUCCESS_THRESHOLDS
        row["success_thresholds"] = (f"epsilon_rel <= orig + {t['epsilon_rel']:g}, delta <= orig + {t['delta']:g}, "
                                     f"tau <= {t['tau']:g}")
    if mia and X_test is not None and _n_rows(X_test) >= 2:
        row.update(membership_inference(unlearned, Xf, yf, X_test, y_test, Xr, yr, seed=seed))
    return row

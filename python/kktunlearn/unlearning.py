r"""Unlearning methods: KKT-scaled gradient ascent, the NegGrad family, retraining, and the Newton
family with its cubic-regularized cure.

Every method returns a NEW fitted model (the original is untouched) carrying ``unlearn_info_``.

Notation: ``X, y`` are the full training set the model was fitted on, ``F`` the forget set,
``R = S \ F`` the retained set (``n_r = |R|``), ``q_i = y_i N(x_i; theta)``, ``l`` the model's
loss, ``L`` its homogeneity degree.

Methods of ``unlearn(model, X, y, forget, method=..., **options)``
------------------------------------------------------------------

``"ga"``
    ``A_GA`` of [GA]_: the gradient-ascent step with the step size of its Theorem 4.1. On the
    normalized model ``theta = theta_raw / s``, ``s = (min_i q_i)^{1/L}``, with KKT multipliers
    ``lambda`` of ``theta`` for ``S`` (:func:`kktunlearn.kkt.kkt_multipliers`)::

        theta^- = theta - step_scale * sum_{r in F} y_r h_r,
        h_r  = block j: c_rj u_j x_r   (+ output layer lambda_r sigma(<w_j, x_r>) when u is trained),
        c_rj = lambda_r sigma'(<w_j, x_r>)   for every pair (subgradient="autograd"),
        c_rj = mu_rj (the fitted Clarke coefficient) for the pinned pairs of x_r (subgradient="clarke").

    With ``step_scale = 1`` this removes exactly the forgotten points' terms of the KKT
    representation. Mapped back by homogeneity, ``theta_raw^- = s theta^-``, i.e. on the raw
    parameters::

        W^- = W - step_scale s^{2-L} sum_r y_r sum_j c_rj u_j x_r e_j^T,
        u^- = u - step_scale sum_r lambda_r y_r sigma(<w_j, x_r>)      (trained u only).

    The paper's step size ``beta = lambda_r / |l'(q_r)|`` is never formed (with the exponential loss
    it overflows). Options: ``step_scale`` (1.0), ``multipliers`` (a ``KKTMultipliers`` of this model
    on ``(X, y)``, reused across deletions; the Clarke step uses the pinned pairs recorded there, so
    multipliers computed with ``subgradient_tol = 0`` make both steps coincide),
    ``multiplier_method`` ("nnls"), ``subgradient`` ("clarke" or "autograd"), ``subgradient_tol``
    (``1e-3`` for networks, 0 for the linear model; the pinned-pair tolerance passed to
    ``kkt_multipliers`` when the multipliers are computed here).
``"neggrad"``
    ``n_steps`` gradient-ASCENT steps on the mean forget loss ``(1/k) sum_{r in F} l(q_r)``.
``"neggrad_plus"``
    ``n_steps`` steps on ``(1/n_r) sum_R l(q_i) - forget_weight (1/k) sum_F l(q_r)``.
``"finetune"``
    ``n_steps`` gradient-descent steps on the mean retained loss.

    Options of the three: ``n_steps`` (5, 5, 10), ``lr`` (the model's ``lr``), ``normalized``
    (True: ``lr_t = lr / Lbar`` with ``Lbar = sum_i w_i l(q_i)`` the weighted loss magnitude, the
    training schedule; False: ``lr_t = lr``; default True, and False when weight decay is on),
    ``lr_max``; finetune and neggrad_plus also ``weight_decay`` (below): the objective gains
    ``(lambda/2) ||theta||^2``, i.e. ``theta <- (1 - lr_t lambda) theta - lr_t grad``.
``"retrain"``
    A clone with the same hyper-parameters and ``random_state`` (the same initialization) fitted on
    ``R`` only: the oracle.

The Newton family ([Newton]_; Newton unlearning after [Guo20]_) works on::

    F(theta) = (1/n_r) sum_R l(q_i) + (lambda/2) ||theta||^2     (the model's own raw parameters),
    g = J^T c + lambda theta,   H = J^T D J (+ the trained-u cross block) + lambda I,

its gradient and Hessian. ``lambda`` is the option ``weight_decay`` (older name: ``l2``); by
default the model's own ``weight_decay``, i.e. the objective the model was trained on (Guo et al.'s
certified removal and the Newton paper's L2-regularized loss).

Low-rank path with weight decay (fixed ``u``): ``lambda theta`` is NOT in the span of the
per-example gradients ``J^T`` (rows of ``X_R``), so the solve space is ``S = span{J^T, theta}``,
``B = [J^T, theta]`` (``p x (n_r+1)``). ``S`` contains ``g`` and is ``H``-invariant
(``H theta = J^T D (J theta) + lambda theta``, ``J theta = N`` by homogeneity), and on its
orthogonal complement ``H = lambda I`` exactly. With the Gram
``C = B^T B = [[J J^T, N], [N^T, ||theta||^2]]`` and an orthonormal basis ``Q = B T``,
``T = V_+ Lambda_+^{-1/2}`` (``C = V Lambda V^T``), the step of every method is ``s = Q s_r`` with
``s_r`` the same method's step for ``H_r = T^T (P^T D P + lambda C) T`` and
``g_r = T^T (P^T c + lambda [N; ||theta||^2])``, ``P = J B = [J J^T, N]``: an
``(n_r+1) x (n_r+1)`` eigenproblem, exact (no truncation, no ``p x p`` matrix), equal to the dense
``p x p`` solve (``tests/test_weight_decay.py``). In coordinates the step is
``W <- (1 + a_theta) W + Gamma^T X_R``: the weight-decay pull ``a_theta W`` shrinks the whole
``W``, including its component outside the data span.

``"newton"``
    ``theta <- theta - H^{-1} g`` (``NumericalError`` when ``H`` is singular).
``"damped_newton"``
    ``theta <- theta - (H + damping I)^{-1} g``.
``"pinv_newton"``
    ``theta <- theta - H^+ g`` (eigenvalues ``|lam| <= rcond * max |lam|`` dropped). With
    ``damped_newton``, the naive fixes of the degenerate Hessian ([Newton]_, Observation 4.1).
``"cure_newton"``
    CuReNU of [Newton]_:
    ``theta <- theta + argmin_s <g,s> + 1/2 s^T H s + (M/6) ||s||^3`` (the global minimizer of the
    cubic-regularized model [NP06]_, hard case included; the damping ``gamma = M ||s|| / 2`` is
    recorded).

    ``M="auto"`` (options ``M_init`` = 1.0, ``M_max_tries`` = 30): per Newton step, a cubic constant
    accepted by two tests of the paper's premise that the cubic model is an upper bound of ``F``
    (``M`` at least the Lipschitz constant of ``H``): (a) the Hessian's Lipschitz constant measured
    along the step from two Hessian-vector products,
    ``L_hat(M) = || H(theta + s) s - H(theta) s || / ||s||^2 <= M``, and (b) the adaptive
    cubic-regularization ratio [CGT11]_
    ``rho(M) = (F(theta) - F(theta + s)) / (-m(s)) >= 0.1``,
    ``m(s) = <g,s> + 1/2 s^T H s + M/6 ||s||^3``. (b) guards (a) on long steps, where a bounded
    Hessian makes ``L_hat`` small although the step overshoots. Starting at ``M_init``: if accepted,
    ``M <- max(2 L_hat, M/4)`` while the last accepted ``M`` exceeds ``2 L_hat`` and the smaller
    ``M`` is accepted too; if rejected, ``M <- max(2 M, L_hat)`` until accepted. Later steps start
    from the last accepted ``M``. Recorded: ``M`` (per step), ``M_auto`` (per step: ``M``,
    ``step_norm``, ``gamma``, ``lipschitz``, ``rho``, ``n_tries``, ``tries``). The paper's values
    (``M`` = 5 / 50 / 80 / 400 for FashionMNIST / CIFAR-10 / AG-News / TOFU) are fixed choices for
    its models.

    Common options of the Newton family: ``l2`` (0), ``n_steps`` (1), ``solver`` ("auto",
    "lowrank", "dense" or "krylov"), ``dense_max_params`` (2000), ``krylov_dim`` (None:
    ``min(100, max(10, 5e7 / p))`` Lanczos vectors, i.e. at most about 400 MB of basis for large
    ``p``; on a span model's coordinates below, ``p`` is their dimension), ``krylov_tol`` (``1e-10``); ``damping`` (``1e-3``), ``rcond`` (``1e-15``), ``M`` (1.0).
    Solver "auto": linear model and fixed ``u`` -> "lowrank" (``H = J^T D J / n_r + l2 I`` solved
    exactly in the ``n_r``-dimensional span of the per-example gradients; the ``p x p`` matrix is
    never formed); trained ``u`` -> "dense" when ``p <= dense_max_params``, else "krylov" (Lanczos
    on Hessian-vector products).

    Trained ``u`` on a span model: "dense" and "krylov" run on the model's orthonormal coordinates,
    never on ``d``. With the Cholesky factor ``K_SS = L L^T`` of ``K_RR = X_R X_R^T`` on the ``r`` rows
    ``S`` it keeps (rows in the span of earlier ones dropped), ``x_i = sum_k R_ik b_k`` for the
    orthonormal rows ``b_k`` of ``L^{-1} X_S`` and ``R = K_RS L^{-T}``; a neuron is
    ``w_j = sum_k C_kj b_k + w_j^perp`` with ``C = L^{-1} Z_S`` and
    ``tau_j = ||w_j^perp|| = (||w_j||^2 - ||C_j||^2)^{1/2}``. The retained objective is the same
    network on the data ``[R, 0]`` (``n_r x (r+1)``) at the weights ``[C^T, tau]``: an isometry onto a
    subspace that contains the gradient and is invariant under the Hessian (which is ``l2 I`` on its
    complement). So every step, Lanczos recursion and record (``lam_min``, ``lam_max``, ``rank``,
    ``pinv_rank`` counted in the full space) is the full-space one, and the result
    ``W' = rho W + Gamma^T X_R`` is a span model (``rho = 1`` unless ``l2 > 0``, which shrinks
    ``w^perp`` by the common ratio ``rho`` of the new to the old ``tau``).
``"scure_newton"``
    SCureNewton (CuReNUS, the stochastic variant of [Newton]_, its section 4, after [Tri18]_ with the
    gradient-descent subsolver of Carmon & Duchi 2016): ``n_outer`` outer steps, each on minibatches
    ``B1`` (``batch_grad`` rows, gradient ``g``) and ``B2`` (``batch_hess`` rows, Hessian-vector
    products with ``H``) of ``R``, drawn without replacement and read in place (no copy of the rows):
    Cauchy-point start ``Delta_0 = -R_c g/||g||``, ``R_c = -kappa + sqrt(kappa^2 + 2||g||/M)``,
    ``kappa = g^T H g / (M ||g||^2)``, then ``n_inner`` steps ``Delta <- Delta - eta grad m~(Delta)``
    on the perturbed cubic model::

        m~(Delta) = <g + sigma zeta, Delta> + 1/2 Delta^T H Delta + (M/6) ||Delta||^3,

    ``zeta`` uniform on the sphere, ``eta = lr``. On a span model the method runs on the
    coordinates above (of dimension ``q = m (r+1) + m``); ``zeta`` is still uniform on the sphere of
    all ``p`` dimensions: ``q`` normals and, for the other ``p - q``, their squared norm as one
    chi-square draw (Marsaglia & Tsang 2000). The step's part along that hidden direction, on which
    ``F`` is ``(l2/2) ||.||^2`` alone, is tracked exactly in the inner loop and then dropped (its norm,
    at most ``sigma lr n_inner``, is recorded as ``hidden_step_norm``); it changes no output. The span and
    primal methods agree in law, not draw by draw: the first outer step's minibatches are the same,
    later ones differ (the two draws of ``zeta`` use the generator differently) unless the batches
    are full; with full batches and ``sigma = 0`` the two are equal. ``safeguard`` (True): an inner step that would
    raise ``m~`` is retried with ``eta`` halved (it stays halved for the rest of the outer step).
    Gradient descent on ``m~`` is stable only for ``eta < 2 / (lam_max(H) + M ||Delta||)``; a
    network trained by GD with step ``lr`` sits at the edge of stability, ``lam_max(H) ~ 2 / lr``
    (Cohen et al. 2021), so the paper's "eta = the training lr" diverges there once the cubic term
    is added (``safeguard=False`` runs the paper's plain iteration). ``M="auto"`` (options
    ``M_init``, ``M_max_tries``): cure_newton's rule on the minibatches, per outer step: accept ``M``
    iff ``L_hat = ||H_B2(theta + Delta) Delta - H_B2(theta) Delta|| / ||Delta||^2 <= M`` and
    ``rho = (F_B1(theta) - F_B1(theta + Delta)) / (-m(Delta)) >= 0.1`` (``m``: the model with the
    unperturbed ``g``); shrink to ``max(2 L_hat, M/4)`` while accepted and ``L_hat < M/2``, grow to
    ``max(2 M, L_hat)`` while rejected (the same minibatches and ``zeta``; at most ``M_max_tries``
    solves); the next outer step starts from the accepted ``M``. Options: ``M`` (1.0 or "auto"),
    ``M_init`` (1.0), ``M_max_tries`` (30), ``safeguard`` (True), ``lr`` (``1e-3``), ``sigma``
    (``1e-3``), ``batch_grad`` (128), ``batch_hess`` (64), ``n_outer`` (10), ``n_inner`` (5),
    ``random_state`` (0), ``weight_decay`` (the model's). Each outer step records ``M``,
    ``gamma = (M/2) ||Delta||``, ``step_norm``, ``cauchy_radius``, ``grad_norm``, ``batch_loss``,
    ``model_value``, ``lr`` (the final ``eta``), ``n_halvings``, ``lipschitz`` / ``rho`` /
    ``n_tries`` / ``accepted`` (``M="auto"``), ``rows_grad`` / ``rows_hess`` (the minibatch rows,
    indices into ``R``), and on a span model ``hidden_step_norm`` (the dropped hidden part, above).

``unlearn_info_`` keys (all methods): ``method``, ``options``, ``step_norm``
(``||theta^- - theta||``, raw flat parameters), ``time`` (seconds), ``n_iter``, ``preact_shift``
(max over retained ``i`` and neurons ``j`` of ``|<w_j^- - w_j, x_i>|``, raw scale), ``forget`` (the
indices), ``n_retained``, ``reference_scale`` (the original model's ``s = (min_{i in S}
q_i)^(1/L)``, inherited along a chain of unlearning calls, in which
:func:`kktunlearn.verify_unlearning <kktunlearn.kkt.verify_unlearning>` measures every method); plus method-specific keys (ga:
``scale``, ``lambda_forget``, ``n_clarke``, ``subgradient``, ``step_norm_normalized``; Newton:
``solver``, ``steps`` (per-step records), ``gamma`` / ``damping`` / ``rcond`` / ``M``,
``hard_case``; NegGrad family: ``objective``, ``lr``).
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import _core, _span
from ._validation import check_choice, check_forget, check_int, check_is_fitted, check_positive
from .exceptions import ConvergenceWarning, NotSeparableError

__all__ = ["unlearn", "unlearn_sequence", "solve_cubic", "solve_cubic_eig", "solve_cubic_lowrank", "METHODS"]

METHODS = ("ga", "neggrad", "neggrad_plus", "finetune", "retrain", "newton", "damped_newton", "pinv_newton",
           "cure_newton", "scure_newton")

_NEWTON_COMMON = {"weight_decay": None, "l2": None, "n_steps": 1, "solver": "auto", "dense_max_params": 2000, "krylov_dim": None,
                  "krylov_tol": 1e-10}
_DEFAULTS: Dict[str, Dict[str, Any]] = {
    "ga": {"step_scale": 1.0, "multipliers": None, "multiplier_method": "nnls", "subgradient": "clarke",
           "subgradient_tol": None},
    "neggrad": {"n_steps": 5, "lr": None, "normalized": True, "lr_max": math.inf},
    "neggrad_plus": {"n_steps": 5, "lr": None, "normalized": None, "lr_max": math.inf, "forget_weight": 1.0,
                     "weight_decay": None},
    "finetune": {"n_steps": 10, "lr": None, "normalized": None, "lr_max": math.inf, "weight_decay": None},
    "retrain": {},
    "newton": dict(_NEWTON_COMMON),
    "damped_newton": dict(_NEWTON_COMMON, damping=1e-3),
    "pinv_newton": dict(_NEWTON_COMMON, rcond=1e-15),
    "cure_newton": dict(_NEWTON_COMMON, M=1.0, M_init=1.0, M_max_tries=30),
    "scure_newton": {"M": 1.0, "M_init": 1.0, "M_max_tries": 30, "safeguard": True, "lr": 1e-3, "sigma": 1e-3,
                     "batch_grad": 128, "batch_hess": 64, "n_outer": 10, "n_inner": 5, "random_state": 0,
                     "weight_decay": None, "l2": None},
}
_NEWTON_KIND = {"newton": "newton", "damped_newton": "damped", "pinv_newton": "pinv", "cure_newton": "cubic"}


# ---------------------------------------------------------------------------------------------- cubic solver
def _cubic_dict(sol: Any) -> Dict[str, Any]:
    """The documented dict of a cubic subproblem's solution (the core returns a CubicSolution)."""
    return {"s": np.asarray(sol.s), "gamma": float(sol.gamma), "norm": float(sol.norm), "value": float(sol.value),
            "hard_case": bool(sol.hard_case), "n_iter": int(sol.n_iter)}


def solve_cubic(H: Any, g: Any, M: float) -> Dict[str, Any]:
    """Global minimizer of the cubic model ``m(s) = <g, s> + 1/2 s^T H s + (M/6) ||s||^3`` for a dense symmetric ``H``.

    The subproblem of cubic-regularized Newton [1]_ (CuReNU of [2]_). Solved from one
    eigendecomposition ``H = U diag(lam) U^T``: ``s = -(H + gamma I)^{-1} g`` with the damping
    ``gamma >= max(0, -lam_min)`` the root of ``||s(gamma)|| = 2 gamma / M`` (safeguarded Newton on the
    secular equation), or, in the hard case (``g`` orthogonal to the ``lam_min`` eigenspace),
    ``gamma = -lam_min`` and ``s = -(H + gamma I)^+ g + tau u_min`` with ``||s|| = 2 gamma / M``.

    Parameters
    ----------
    H : array-like of shape (p, p)
        A symmetric matrix.
    g : array-like of shape (p,)
        The gradient.
    M : float
        The cubic constant, ``> 0``.

    Returns
    -------
    dict
        ``s`` (the minimizer), ``gamma`` (the damping), ``norm`` (``||s||``), ``value`` (``m(s)``),
        ``hard_case`` (bool), ``n_iter``.

    Raises
    ------
    ValueError
        If ``H`` is not square and symmetric, ``g`` has the wrong length, a value is not finite or
        ``M <= 0``.

    References
    ----------
    .. [1] Nesterov & Polyak, "Cubic regularization of Newton method and its global performance",
       Math. Programming 108 (2006).
    .. [2] Bui et al., arXiv:2406.14507, the cubic-regularized Newton step.
    """
    Hm = np.ascontiguousarray(np.asarray(H, dtype=np.float64))
    gv = np.ascontiguousarray(np.asarray(g, dtype=np.float64))
    if Hm.ndim != 2 or Hm.shape[0] != Hm.shape[1]:
        raise ValueError(f"H must be a square matrix, got shape {Hm.shape}")
    if gv.ndim != 1 or gv.shape[0] != Hm.shape[0]:
        raise ValueError(f"g must be a vector of length {Hm.shape[0]}, got shape {gv.shape}")
    if not (np.isfinite(Hm).all() and np.isfinite(gv).all()):
        raise ValueError("H and g must be finite")
    if not np.allclose(Hm, Hm.T, rtol=1e-10, atol=1e-12 * max(1.0, float(np.abs(Hm).max(initial=0.0)))):
        raise ValueError("H must be symmetric")
    M = check_positive(M, "M")
    return _cubic_dict(_core.cubic_solve_dense(Hm, gv, M))


def solve_cubic_eig(lam: Any, b: Any, M: float) -> Dict[str, Any]:
    """The cubic subproblem in the eigenbasis of ``H`` (the low-rank form).

    Minimizes ``<b, s> + 1/2 sum_i lam_i s_i^2 + (M/6) ||s||^3`` (see :func:`solve_cubic`).

    Parameters
    ----------
    lam : array-like of shape (k,)
        The eigenvalues of ``H``.
    b : array-like of shape (k,)
        ``U^T g``, the gradient in the eigenbasis.
    M : float
        The cubic constant, ``> 0``.

    Returns
    -------
    dict
        ``s`` (in the eigenbasis: the step is ``U s``), ``gamma``, ``norm``, ``value``, ``hard_case``,
        ``n_iter``.

    Raises
    ------
    ValueError
        On a length mismatch, non-finite values or ``M <= 0``.
    """
    lv = np.ascontiguousarray(np.asarray(lam, dtype=np.float64).ravel())
    bv = np.ascontiguousarray(np.asarray(b, dtype=np.float64).ravel())
    if lv.shape != bv.shape:
        raise ValueError(f"lam and b must have the same length, got {lv.shape} and {bv.shape}")
    if not (np.isfinite(lv).all() and np.isfinite(bv).all()):
        raise ValueError("lam and b must be finite")
    M = check_positive(M, "M")
    return _cubic_dict(_core.cubic_solve_eig(lv, bv, M))


def solve_cubic_lowrank(J: Any, D: Any, g: Any, M: float, l2: float = 0.0) -> Dict[str, Any]:
    """The cubic subproblem for ``H = J^T diag(D) J + l2 I`` without forming ``H``.

    ``S = span{rows of J, g}`` is ``H``-invariant and contains ``g``, so the minimizer lies in ``S``
    (``H`` acts as ``l2 I >= 0`` on its complement): with ``B = [J^T, g]``,
    ``C = B^T B = V diag(c) V^T`` and ``T = V_+ diag(c_+)^{-1/2}``, the problem is solved exactly in
    the orthonormal basis ``B T`` (dimension at most ``k + 1``)::

        H_r = T^T (P^T diag(D) P + l2 C) T,   g_r = T^T B^T g,   P = J B = [J J^T, J g].

    Cost ``O(k^2 p + k^3)``.

    Parameters
    ----------
    J : array-like of shape (k, p)
        The per-example gradients (rows).
    D : array-like of shape (k,)
        The per-example curvatures.
    g : array-like of shape (p,)
        The gradient.
    M : float
        The cubic constant, ``> 0``.
    l2 : float, default 0.0
        The ridge term, ``>= 0``.

    Returns
    -------
    dict
        ``s`` (length ``p``), ``gamma``, ``norm``, ``value``, ``hard_case``, ``n_iter``, ``rank`` (the
        dimension of the basis).

    Raises
    ------
    ValueError
        On inconsistent shapes, non-finite values, ``M <= 0`` or ``l2 < 0``.
    """
    Jm = np.asarray(J, dtype=np.float64)
    Dv = np.asarray(D, dtype=np.float64).ravel()
    gv = np.asarray(g, dtype=np.float64).ravel()
    if Jm.ndim != 2 or Jm.shape[1] != gv.shape[0] or Dv.shape[0] != Jm.shape[0]:
        raise ValueError(f"J must be k x p with D of length k and g of length p; got J {Jm.shape}, D {Dv.shape}, "
                         f"g {gv.shape}")
    if not (np.isfinite(Jm).all() and np.isfinite(Dv).all() and np.isfinite(gv).all()):
        raise ValueError("J, D and g must be finite")
    M = check_positive(M, "M")
    l2 = check_positive(l2, "l2", allow_zero=True)
    k = Jm.shape[0]
    JJ = Jm @ Jm.T
    Jg = Jm @ gv
    C = np.block([[JJ, Jg[:, None]], [Jg[None, :], np.array([[gv @ gv]])]])
    P = np.hstack([JJ, Jg[:, None]])
    BHB = P.T @ (Dv[:, None] * P) + l2 * C
    Bg = np.concatenate([Jg, [gv @ gv]])
    c, V = np.linalg.eigh(C)
    keep = c > 1e-13 * max(c.max(initial=0.0), 0.0)
    T = V[:, keep] / np.sqrt(c[keep])
    lam, U = np.linalg.eigh(T.T @ BHB @ T)
    res = _cubic_dict(_core.cubic_solve_eig(np.ascontiguousarray(lam), np.ascontiguousarray(U.T @ (T.T @ Bg)), M))
    a = T @ (U @ res["s"])
    res["s"] = Jm.T @ a[:k] + a[k] * gv
    res["rank"] = int(keep.sum())
    return res


# ---------------------------------------------------------------------------------------------- validation
def _check_options(method: str, options: Dict[str, Any]) -> Dict[str, Any]:
    defaults = _DEFAULTS[method]
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise TypeError(f"unknown option(s) {unknown} for method {method!r}; valid options: {sorted(defaults)}")
    opts = dict(defaults)
    opts.update(options)
    return opts


def _split(model, X, y, forget) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    check_is_fitted(model)
    Xc = model._check_X(X)
    n = Xc.shape[0]
    y_enc = model._encode_y(y, n)
    idx = check_forget(forget, n)
    keep = np.ones(n, dtype=bool)
    keep[idx] = False
    yk = y_enc[keep]
    for cls in (-1.0, 1.0):
        if not (yk == cls).any():
            label = model.classes_[0] if cls < 0 else model.classes_[1]
            raise ValueError(f"forgetting {idx.size} point(s) leaves no retained point of class {label!r}; "
                             "both classes must remain")
    return Xc, y_enc, idx, keep


def _weight_decay(model, opts) -> float:
    """The lambda of (lambda/2) ||theta||^2 in the unlearning objective: the option weight_decay (or its older
    name l2), else the model's own weight_decay (the objective it was trained on), else 0."""
    wd, l2 = opts.get("weight_decay"), opts.get("l2")
    if wd is not None and l2 is not None and float(wd) != float(l2):
        raise ValueError(f"weight_decay={wd!r} and l2={l2!r} name the same lambda; give only one")
    val = wd if wd is not None else l2
    if val is None:
        val = getattr(model, "weight_decay", 0.0)
    return check_positive(val, "weight_decay", allow_zero=True)


def _flat(W: np.ndarray, u: np.ndarray, train_outer: bool) -> np.ndarray:
    parts = [np.asarray(W, dtype=np.float64).ravel()]
    if train_outer:
        parts.append(np.asarray(u, dtype=np.float64))
    return np.concatenate(parts)


def _preact_shift(Xr: np.ndarray, W0: np.ndarray, W1: np.ndarray, nt: int) -> float:
    """max_{i, j} |<w1_j - w0_j, x_i>| over the rows of Xr."""
    if Xr.shape[0] == 0:
        return 0.0
    D = np.ascontiguousarray(W1 - W0)
    return float(np.max(np.abs(_core.preactivations(Xr, D, nt)), initial=0.0))


def _loss_scaled(loss: str, q: np.ndarray, s: float) -> Tuple[np.ndarray, np.ndarray]:
    """(e^s l(q), e^s l'(q)) for s <= q, as the C++ kernels compute them (kktunlearn/loss.hpp)."""
    if loss == "exponential":
        v = np.exp(s - q)
        return v, -v
    pos = q > 0
    t = np.exp(-np.abs(q))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(t > 1e-8, np.log1p(t) / np.where(t > 0, t, 1.0), 1.0 - 0.5 * t)
    val = np.where(pos, np.exp(s - q) * ratio, math.exp(s) * (-q + np.log1p(np.exp(np.minimum(q, 0.0)))))
    der = np.where(q >= 0, -np.exp(s - q) / (1.0 + np.exp(-np.maximum(q, 0.0))),
                   -math.exp(s) / (1.0 + np.exp(np.minimum(q, 0.0))))
    return val, der


def _act(Z: np.ndarray, slope: float) -> np.ndarray:
    return np.where(Z > 0, Z, Z.dtype.type(slope) * Z)


def _dact(Z: np.ndarray, slope: float) -> np.ndarray:
    return np.where(Z > 0, 1.0, slope)


# ---------------------------------------------------------------------------------------------- span paths
# A span model (W = c W0 + A^T X_train) unlearned on its own training rows stays a span model: every
# method below changes A's rows (and u), computing with K, Z = c Z0 + K A and u only (no d).
def _ga_span(model, trows, y_enc, idx, keep, lamF, pr, pj, mu_l, alpha, w_scale):
    sp = model._state
    dt = model.dtype_
    m = sp.A.shape[1]
    Z = sp.train_preacts()
    fr, kr = trows[idx], trows[keep]
    ZF = Z[fr]
    yF = y_enc[idx].astype(np.float64)
    C = lamF[:, None] * _dact(ZF, model.slope_)
    for r, j, mu in zip(pr, pj, mu_l):
        if not 0 <= j < m:
            raise ValueError("multipliers.pinned refers to neurons this model does not have")
        C[r, j] = mu
    u = np.asarray(model._u)
    Gam = (-alpha * w_scale * yF[:, None] * C * u.astype(np.float64)[None, :]).astype(dt)
    if model.train_outer_:
        su = (lamF * yF) @ _act(ZF, model.slope_).astype(np.float64)
        u1 = (u.astype(np.float64) - alpha * su).astype(dt)
    else:
        u1 = u.copy()
    A1 = sp.A.copy()
    np.add.at(A1, fr, Gam)
    shift = 0.0
    if kr.size:
        KRF = sp.K[np.ix_(kr, fr)].astype(np.float64)
        shift = float(np.abs(KRF @ Gam.astype(np.float64)).max())
    return model._with_span(A1, u1), shift, len(pr)


def _gd_span(model, trows, y_enc, w, keep, lr, normalized, lr_max, n_steps, wd=0.0):
    """n_steps of gd_weighted (kktunlearn/unlearning.hpp) in the span: W_t = beta_t W_start + dA_t^T X_rows on
    the rows with w_i != 0, so Z = beta Z_start + K dA, with dA <- decay dA + Gamma and beta <- decay beta,
    decay = 1 - lr_t lambda under weight decay (1 without). The result is W = (beta c) W0 + (beta A + dA)^T X:
    the W0 coefficient c of the state carries the decay. The same iterates as the primal loop, no d."""
    sp = model._state
    dt = model.dtype_
    rows = np.flatnonzero(w != 0.0)
    tr = trows[rows]
    Kt = np.ascontiguousarray(sp.K[np.ix_(tr, tr)])
    Zs = np.ascontiguousarray(sp.train_preacts()[tr])
    ys = y_enc[rows].astype(np.float64)
    ws = w[rows]
    u = np.array(model._u, dtype=dt, copy=True)
    dA = np.zeros((tr.size, sp.A.shape[1]), dtype=dt)
    obj, lrs = [], []
    a = model.slope_
    beta = 1.0
    sq0 = sp.sqnorm_W() if wd > 0 else 0.0
    for _ in range(n_steps):
        Z = Kt @ dA
        Z += Zs if beta == 1.0 else dt(beta) * Zs
        q = ys * (_act(Z, a).astype(np.float64) @ u.astype(np.float64))
        qmin = float(q.min())
        if not math.isfinite(qmin):
            raise _core.NumericalError("gradient unlearning: margins are not finite (diverged; lower lr)")
        shift = max(0.0, qmin)
        ls, ld = _loss_scaled(model.loss, q, shift)
        phi_s = float(np.sum(ws * ls))
        abs_s = float(np.sum(np.abs(ws) * ls))
        c = ws * ld * ys
        if normalized:
            if not abs_s > 0:
                raise _core.NumericalError("gradient unlearning: the loss vanished; normalized steps undefined")
            step = min(lr / abs_s, lr_max * math.exp(-shift))
            lrs.append(min(lr / abs_s * math.exp(shift), lr_max))
        else:
            step = lr * math.exp(-shift)
            lrs.append(lr)
        sq = 0.0
        if wd > 0:  # ||W_t||^2 = beta^2 ||W_start||^2 + 2 beta <dA, Z_start> + <dA, K dA>  (+ ||u||^2)
            dAd = dA.astype(np.float64)
            sq = (beta * beta * sq0 + 2.0 * beta * np.einsum("ij,ij->", dAd, Zs, dtype=np.float64)
                  + np.einsum("ij,ij->", dAd, Kt.astype(np.float64) @ dAd))
            if model.train_outer_:
                sq += float(np.dot(u.astype(np.float64), u.astype(np.float64)))
        obj.append(phi_s * math.exp(-shift) + 0.5 * wd * sq)
        decay = 1.0 - lrs[-1] * wd
        if wd > 0 and not decay > 0:
            raise _core.NumericalError("gradient unlearning: lr_t * weight_decay >= 1 flips the sign of theta; "
                                       "lower lr")
        cc = -step * c
        Gam = (cc[:, None] * u.astype(np.float64)[None, :] * _dact(Z, a)).astype(dt)
        du = decay if wd > 0 else 1.0
        if model.train_outer_:
            gu = cc @ _act(Z, a).astype(np.float64)
            u = (du * u.astype(np.float64) + gu).astype(dt)
        if wd > 0:
            dA *= dt(decay)
            beta *= decay
        dA += Gam
        if not np.isfinite(dA).all():
            raise _core.NumericalError("gradient unlearning diverged (non-finite weights); lower lr")
    A1 = sp.A.copy() if beta == 1.0 else (beta * sp.A.astype(np.float64)).astype(dt)
    np.add.at(A1, tr, dA)
    kr = trows[keep]
    shift = 0.0
    if kr.size:
        D = sp.K[np.ix_(kr, tr)].astype(np.float64) @ dA.astype(np.float64)
        if beta != 1.0:  # Z_new - Z_old = (beta - 1) Z_old + K[:, rows] dA
            D += (beta - 1.0) * sp.train_preacts()[kr].astype(np.float64)
        shift = float(np.abs(D).max(initial=0.0))
    extra = {"objective": np.asarray(obj), "lr": np.asarray(lrs), "weight_decay": wd, "normalized": bool(normalized)}
    return model._with_span(A1, u, w0_coef=beta * sp.w0_coef), shift, extra


# ---------------------------------------------------------------------------------------------- methods
def _unlearn_ga(model, Xc, y, y_enc, idx, keep, opts, nt):
    alpha = check_positive(opts["step_scale"], "step_scale", allow_zero=True)
    sub = check_choice(opts["subgradient"], "subgradient", ("clarke", "autograd"))
    linear = bool(getattr(model, "_linear", False))
    tol = opts["subgradient_tol"]
    tol = (0.0 if linear else 1e-3) if tol is None else check_positive(tol, "subgradient_tol", allow_zero=True)
    L = model.degree_
    n = Xc.shape[0]
    mult = opts["multipliers"]
    if mult is None:
        try:
            from .kkt import kkt_multipliers
        except ImportError as exc:  # pragma: no cover - depends on the verification workstream
            raise ImportError("method='ga' needs the KKT multipliers from kktunlearn.kkt, which is not available; "
                              "pass multipliers=... explicitly") from exc
        mult = kkt_multipliers(model, Xc, y, method=opts["multiplier_method"],
                               subgradient_tol=(tol if sub == "clarke" else 0.0), n_threads=model.n_threads)
        computed = True
    else:
        computed = False
    for attr in ("lambdas", "scale"):
        if not hasattr(mult, attr):
            raise TypeError(f"multipliers must be a KKTMultipliers (from kktunlearn.kkt.kkt_multipliers), "
                            f"got {type(mult).__name__} without '{attr}'")
    lam = np.asarray(mult.lambdas, dtype=np.float64).ravel()
    if lam.shape[0] != n:
        raise ValueError(f"multipliers hold {lam.shape[0]} lambdas but X has {n} rows; they must come from "
                         "kkt_multipliers(model, X, y) on the same training set")
    if not np.isfinite(lam).all() or (lam < 0).any():
        raise ValueError("multipliers.lambdas must be finite and >= 0")
    s = float(mult.scale)
    # the multipliers must belong to this model: s = (min_i q_i)^{1/L}
    q = y_enc.astype(np.float64) * model._outputs(Xc)
    qmin = float(q.min())
    if not qmin > 0:
        raise NotSeparableError(
            f"the model does not fit the training data (min margin {qmin:.3g} <= 0); A_GA needs the normalized "
            "KKT point, which exists only for a model with all margins > 0")
    s_model = qmin ** (1.0 / L)
    if not (s > 0 and abs(s - s_model) <= 1e-6 * s_model):
        raise ValueError(f"multipliers.scale = {s:.6g} but this model's normalization scale is {s_model:.6g}: "
                         "the multipliers were computed for a different model or training set")
    # Clarke coefficients of the forgotten points' pinned pairs
    pos = -np.ones(n, dtype=np.int64)
    pos[idx] = np.arange(idx.size)
    pr: List[int] = []
    pj: List[int] = []
    mu_l: List[float] = []
    if sub == "clarke" and not linear:
        pinned = np.asarray(getattr(mult, "pinned", np.zeros((0, 2), dtype=np.int64)), dtype=np.int64).reshape(-1, 2)
        mu = np.asarray(getattr(mult, "mu", np.zeros(0)), dtype=np.float64).ravel()
        if mu.shape[0] != pinned.shape[0]:
            raise ValueError("multipliers.pinned and multipliers.mu differ in length")
        sel = pos[pinned[:, 0]] >= 0 if pinned.shape[0] else np.zeros(0, dtype=bool)
        pr = pos[pinned[sel, 0]].tolist()
        pj = pinned[sel, 1].tolist()
        mu_l = mu[sel].tolist()
    w_scale = s ** (2 - L)
    trows = model._train_rows_of(Xc)
    if trows is not None:
        new, shift, n_clarke = _ga_span(model, trows, y_enc, idx, keep, lam[idx], pr, pj, mu_l, alpha, w_scale)
        W1 = u1 = None
    else:
        new = None
        XF = np.ascontiguousarray(Xc[idx])
        yF = np.ascontiguousarray(y_enc[idx])
        XR = np.ascontiguousarray(Xc[keep])
        go = _core.GAOptions()
        go.slope, go.train_outer, go.alpha, go.w_scale, go.n_threads = model.slope_, model.train_outer_, alpha, w_scale, nt
        go.lam_forget, go.pinned_r, go.pinned_j = np.ascontiguousarray(lam[idx]), pr, pj
        go.mu = np.asarray(mu_l, dtype=np.float64)
        W1, u1, ga = _core.ga_step(XF, yF, XR, model._W, model._u, go)
        shift, n_clarke = ga.preact_shift, ga.n_clarke
    extra = {"scale": s, "degree": L, "lambda_forget": lam[idx].copy(), "n_clarke": int(n_clarke),
             "subgradient": sub, "subgradient_tol": tol, "multipliers_computed": computed,
             "multiplier_method": getattr(mult, "method", None), "kkt_epsilon": getattr(mult, "epsilon", None)}
    return new, W1, u1, 1, float(shift), extra


def _unlearn_gd(method, model, Xc, y_enc, idx, keep, opts, nt):
    n_steps = check_int(opts["n_steps"], "n_steps", 0)
    lr = model.lr if opts["lr"] is None else opts["lr"]
    lr = check_positive(lr, "lr")
    lr_max = check_positive(opts["lr_max"], "lr_max", allow_inf=True)
    wd = _weight_decay(model, opts) if method != "neggrad" else 0.0
    normalized = opts["normalized"]
    if normalized is None:  # the training schedule; a constant lr with weight decay (see TwoLayerReLU)
        normalized = wd == 0.0
    if not isinstance(normalized, (bool, np.bool_)):
        raise TypeError(f"normalized must be a bool, got {type(normalized).__name__}")
    n_r, k = int(keep.sum()), int(idx.size)
    w = np.zeros(Xc.shape[0])
    if method in ("finetune", "neggrad_plus"):
        w[keep] = 1.0 / n_r
    if method == "neggrad":
        w[idx] = -1.0 / k
    elif method == "neggrad_plus":
        fw = check_positive(opts["forget_weight"], "forget_weight", allow_zero=True)
        w[idx] = -fw / k
    trows = model._train_rows_of(Xc)
    if trows is not None:  # in the span; weight decay scales the state's W0 coefficient (W = c W0 + A^T X)
        new, shift, extra = _gd_span(model, trows, y_enc, w, keep, lr, bool(normalized), lr_max, n_steps, wd)
        return new, None, None, n_steps, shift, extra
    rows = np.flatnonzero(w != 0.0)
    Xs = np.ascontiguousarray(Xc[rows])
    ys = np.ascontiguousarray(y_enc[rows])
    o = _core.TrainOptions()
    o.loss, o.lr, o.normalized, o.lr_max, o.max_iter = model.loss, float(lr), bool(normalized), float(lr_max), n_steps
    o.n_threads, o.weight_decay = nt, float(wd)
    W1, u1, objective, lrs = _core.gd_weighted(Xs, ys, np.ascontiguousarray(w[rows]), model._W, model._u,
                                               model.slope_, model.train_outer_, o)
    shift = _preact_shift(np.ascontiguousarray(Xc[keep]), model._W, W1, nt)
    extra = {"objective": np.asarray(objective), "lr": np.asarray(lrs), "weight_decay": wd,
             "normalized": bool(normalized)}
    return None, W1, u1, n_steps, shift, extra


def _unlearn_retrain(model, X, y, Xc, idx, keep, opts, nt):
    from ._estimator import clone

    trows = model._train_rows_of(Xc)
    if trows is not None:
        # in the span: K[keep][:, keep], Z0[keep] and the model's own W0 (the same initialization)
        new = model._train_rows(Xc, y, np.flatnonzero(keep), start="init")
        kr = trows[keep]
        D = new._state.train_preacts()[kr].astype(np.float64) - model._state.train_preacts()[kr].astype(np.float64)
        shift = float(np.abs(D).max(initial=0.0))
        extra = {"same_initialization": True, "fit_status": getattr(new, "fit_status_", None)}
        return new, int(getattr(new, "n_iter_", 0)), shift, extra
    new = clone(model)
    yr = np.asarray(y)[keep]
    new.fit(Xc[keep], yr)
    shift = _preact_shift(np.ascontiguousarray(Xc[keep]), model._W, new._W, nt)
    same_init = getattr(model, "random_state", None) is not None or float(getattr(model, "init_scale", 0.0)) == 0.0
    extra = {"same_initialization": bool(same_init), "fit_status": getattr(new, "fit_status_", None)}
    return new, int(getattr(new, "n_iter_", 0)), shift, extra


def _choose_solver(model, opts) -> str:
    solver = check_choice(opts["solver"], "solver", ("auto", "lowrank", "dense", "krylov"))
    dmax = check_int(opts["dense_max_params"], "dense_max_params", 1)
    if solver == "lowrank" and model.train_outer_:
        raise ValueError("solver='lowrank' needs a fixed output layer (train_outer=False): with trained u the "
                         "Hessian has indefinite cross terms; use 'dense' or 'krylov' (or 'auto')")
    if solver == "dense" and model.n_params() > dmax:
        raise ValueError(f"solver='dense' forms the p x p Hessian, p = {model.n_params()} > dense_max_params = {dmax} "
                         f"({8.0 * model.n_params() ** 2 / 1e9:.2g} GB); raise dense_max_params or use 'krylov'/'auto'")
    if solver == "auto":
        if not model.train_outer_:
            solver = "lowrank"
        else:
            solver = "dense" if model.n_params() <= dmax else "krylov"
    return solver


# the per-step records of the Newton family and SCureNewton (from the core's NewtonStepInfo / SCubicStepInfo)
_NEWTON_STEP_FIELDS = ("loss", "grad_norm", "step_norm", "gamma", "lam_min", "lam_max", "rank", "pinv_rank",
                       "hard_case", "n_iter", "residual")
_SCUBIC_STEP_FIELDS = ("step_norm", "cauchy_radius", "grad_norm", "batch_loss", "M", "model_value", "lr",
                       "n_halvings", "lipschitz", "rho", "n_tries", "accepted", "rows_grad", "rows_hess")


def _record(info: Any, fields: Tuple[str, ...]) -> Dict[str, Any]:
    """One step's record as a dict (fields that are None, e.g. pinv_rank of a non-pinv step, left out)."""
    out = {}
    for k in fields:
        v = getattr(info, k)
        if v is not None:
            out[k] = v
    return out


def _unlearn_newton(method, model, Xc, y_enc, idx, keep, opts, nt):
    kind = _NEWTON_KIND[method]
    l2 = _weight_decay(model, opts)
    n_steps = check_int(opts["n_steps"], "n_steps", 0)
    damping = check_positive(opts.get("damping", 0.0), "damping", allow_zero=True)
    rcond = check_positive(opts.get("rcond", 1e-15), "rcond", allow_zero=True)
    auto_M = kind == "cubic" and isinstance(opts.get("M"), str)
    if auto_M:
        check_choice(opts["M"], "M", ("auto",))
        M = check_positive(opts["M_init"], "M_init")
        max_tries = check_int(opts["M_max_tries"], "M_max_tries", 1)
    else:
        M = check_positive(opts.get("M", 1.0), "M")
    if opts["krylov_dim"] is None:  # Lanczos basis of krylov_dim * p doubles: stay below ~400 MB
        kdim = int(min(100, max(10, 5e7 // max(model.n_params(), 1))))
    else:
        kdim = check_int(opts["krylov_dim"], "krylov_dim", 1)
    ktol = check_positive(opts["krylov_tol"], "krylov_tol", allow_zero=True)
    solver = _choose_solver(model, opts)
    yR = np.ascontiguousarray(y_enc[keep])

    def run(W, u, M_, k):
        o = _core.NewtonOptions()
        o.method, o.loss, o.l2, o.damping, o.rcond, o.M, o.n_steps = kind, model.loss, l2, damping, rcond, M_, k
        o.krylov_dim, o.krylov_tol, o.n_threads = kdim, ktol, nt
        if solver == "lowrank":
            W1, infos, _ = _core.newton_lowrank(XR, yR, W, u, model.slope_, o)
            return W1, np.array(u, copy=True), [_record(i, _NEWTON_STEP_FIELDS) for i in infos]
        W1, u1, infos, _ = _core.newton_net(XR, yR, W, u, model.slope_, model.train_outer_, solver, o)
        return W1, u1, [_record(i, _NEWTON_STEP_FIELDS) for i in infos]

    trows = model._train_rows_of(Xc)
    auto_log: List[Dict[str, Any]] = []
    new, W1, u1 = None, None, None
    if trows is not None and solver == "lowrank":  # a span model: the low-rank step on its K and Z, a span model
        o = _core.NewtonOptions()
        o.method, o.loss, o.l2, o.damping, o.rcond, o.M, o.n_steps = kind, model.loss, l2, damping, rcond, M, n_steps
        o.krylov_dim, o.krylov_tol, o.n_threads = kdim, ktol, nt
        sl = _SpanNewton(model, trows[keep], yR, o)
        if auto_M:
            steps = []
            for _ in range(n_steps):
                st, rec = sl.auto_M_step(l2, M, max_tries)
                steps.extend(st)
                auto_log.append(rec)
                M = rec["M"]  # the next step starts from the M accepted here
        else:
            steps = sl.step(M, n_steps)
        new, shift = sl.result()
    else:
        cs = None
        if trows is not None:  # a span model, trained u: the same solver on its coordinates (_SpanCoords)
            if kind == "newton" or (kind == "damped" and damping == 0.0):
                _krylov_singular_check(model, solver, l2, int(keep.sum()))
            cs = _SpanCoords(model, trows[keep])
            XR, yR, W_start, u_start = cs.X, yR.astype(np.float64), cs.W, cs.u
            if opts["krylov_dim"] is None:  # the basis cap on the dimension the Lanczos vectors have here
                kdim = int(min(100, max(10, 5e7 // max(cs.W.size + cs.u.size, 1))))
        else:
            XR, W_start, u_start = np.ascontiguousarray(Xc[keep]), model._W, model._u
        if auto_M:
            W1, u1, steps = np.array(W_start, copy=True), np.array(u_start, copy=True), []
            for _ in range(n_steps):
                W1, u1, st, rec = _auto_M_step(model, XR, yR, W1, u1, l2, M, max_tries, run, nt)
                steps.extend(st)
                auto_log.append(rec)
                M = rec["M"]  # the next step starts from the M accepted here
        else:
            W1, u1, steps = run(W_start, u_start, M, n_steps)
        if cs is not None:
            cs.full_space_records(steps, solver, kind, l2, rcond)
            new, shift = cs.result(W1, u1, l2)
            W1 = u1 = None
        else:
            shift = _preact_shift(XR, W_start, W1, nt)
    extra: Dict[str, Any] = {"solver": solver, "steps": steps, "l2": l2, "weight_decay": l2}
    if solver == "krylov":
        ok = all(st["residual"] <= max(ktol, 1e-12) * max(st["grad_norm"], 1e-300) for st in steps)
        extra["krylov_dim"] = kdim
        extra["krylov_converged"] = ok
        if not ok:
            warnings.warn(f"{method}: the Lanczos solve stopped at krylov_dim = {kdim} before its residual reached "
                          f"krylov_tol = {ktol:g} ||g||; the step is the exact solution in that Krylov space only. "
                          "Raise krylov_dim for a more accurate step.", ConvergenceWarning, stacklevel=3)
    if kind == "damped":
        extra["damping"] = damping
    if kind == "pinv":
        extra["rcond"] = rcond
    if kind == "cubic":
        extra["M"] = [rec["M"] for rec in auto_log] if auto_M else M
        extra["M_rule"] = "auto" if auto_M else "fixed"
        if auto_M:
            extra["M_auto"] = auto_log
        extra["gamma"] = [st["gamma"] for st in steps]
        extra["hard_case"] = any(st["hard_case"] for st in steps)
    return new, W1, u1, n_steps, shift, extra


class _SpanNewton:
    """The low-rank Newton family on a span model's state (fixed u): every step runs on K_RR = K[kr][:, kr],
    Z_R = X_R W^T and ||W||^2, none on d. After steps with (alpha_t, A_t), W_t = alpha_t W_{t-1} + A_t^T X_R, so
    W_T = a W + B^T X_R with a = prod alpha_t and B accumulated as B <- alpha_t B + A_t; the result is the span
    model (a c) W0 + (a A + B scattered to rows kr)^T X.

    M = "auto" (the acceptance test of the module docstring) needs the step s = W' - W, ||s||, <grad F, s>, H s
    at W and at W': all are d-free here. With P = X_R s^T = (alpha - 1) Z_R + K_RR A_R:
    ||s||^2 = (alpha - 1)^2 ||W||^2 + 2 (alpha - 1) <A_R, Z_R> + <A_R, K_RR A_R>; for the fixed-u network,
    grad F = G^T X_R + l2 W with G_ij = l'(q_i) y_i u_j sigma'(z_ij) / n, and (sigma'' = 0 almost everywhere)
    H s = Gamma^T X_R + l2 s with Gamma_ij = l''(q_i) (J s)_i u_j sigma'(z_ij) / n, (J s)_i = sum_j u_j
    sigma'(z_ij) P_ij; so <grad F, s> = <G, P> + l2 <W, s> and ||H' s - H s|| = ||(Gamma' - Gamma)^T X_R||,
    whose square is <dGamma, K_RR dGamma>."""

    def __init__(self, model, kr, yR, o):
        sp = model._state
        self.model, self.kr, self.o = model, kr, o
        self.dt = model.dtype_
        self.K = np.ascontiguousarray(sp.K[np.ix_(kr, kr)], dtype=self.dt)
        self.K64 = self.K.astype(np.float64)
        self.Z_start = np.ascontiguousarray(sp.train_preacts()[kr], dtype=self.dt).astype(np.float64)
        self.Z = self.Z_start.copy()  # X_R W_t^T (float64)
        self.w2 = float(sp.sqnorm_W())  # ||W_t||^2
        self.y = np.ascontiguousarray(yR, dtype=self.dt)
        self.u = np.ascontiguousarray(model._u, dtype=self.dt)
        self.a, self.B = 1.0, np.zeros((len(kr), self.Z.shape[1]))

    def _run(self, M, n_steps):
        o = self.o
        o.M, o.n_steps = M, n_steps
        AR, alpha, _, infos = _core.newton_lowrank_span(self.K, np.ascontiguousarray(self.Z, dtype=self.dt), self.w2,
                                                        self.y, self.u, self.model.slope_,
                                                        int(self.model.n_params()), o)
        return AR.astype(np.float64), float(alpha), [_record(i, _NEWTON_STEP_FIELDS) for i in infos]

    def _move(self, AR):
        """(K_RR A_R, <A_R, Z_R>, <A_R, K_RR A_R>) of a step at the current Z."""
        KA = self.K64 @ AR
        return KA, float(np.einsum("ij,ij->", AR, self.Z)), float(np.einsum("ij,ij->", AR, KA))

    def _advance(self, AR, alpha, move):
        KA, za, aka = move
        self.w2 = alpha * alpha * self.w2 + 2.0 * alpha * za + aka
        self.Z = alpha * self.Z + KA
        self.a *= alpha
        self.B = alpha * self.B + AR

    def step(self, M, n_steps):
        AR, alpha, recs = self._run(M, n_steps)
        self._advance(AR, alpha, self._move(AR))
        return recs

    def _parts(self, Z):
        """(mean loss, G, D, S) at pre-activations Z: S_ij = u_j sigma'(z_ij), G = diag(l'(q) y / n) S, D = l''(q) / n."""
        m = self.model
        n = Z.shape[0]
        y, u = self.y.astype(np.float64), self.u.astype(np.float64)
        q = y * (_act(Z, m.slope_) @ u)
        F = float(_core.margin_stats(q, m.loss).loss)
        _, dl = _core.losses(q, m.loss)
        d2 = _core.loss_deriv2(q, m.loss)
        S = u[None, :] * _dact(Z, m.slope_)
        return F, (np.asarray(dl) * y / n)[:, None] * S, d2 / n, S

    def auto_M_step(self, l2, M, max_tries):
        """One cubic step with the automatic M: the same trials and acceptance rule as _auto_M_step, d-free."""
        F0l, G0, D0, S0 = self._parts(self.Z)
        F0 = F0l + 0.5 * l2 * self.w2
        tries: List[Dict[str, Any]] = []

        def trial(M_):
            AR, alpha, recs = self._run(M_, 1)
            move = self._move(AR)
            KA, za, aka = move
            P = KA + (alpha - 1.0) * self.Z
            sn2 = (alpha - 1.0) ** 2 * self.w2 + 2.0 * (alpha - 1.0) * za + aka
            sn = math.sqrt(max(sn2, 0.0))
            if sn == 0.0:
                rec = dict(M=M_, step_norm=0.0, lipschitz=0.0, rho=1.0, accepted=True)
            else:
                Z1 = alpha * self.Z + KA
                F1l, _, D1, S1 = self._parts(Z1)
                Gam0 = (D0 * (S0 * P).sum(1))[:, None] * S0
                Gam1 = (D1 * (S1 * P).sum(1))[:, None] * S1
                dG = Gam1 - Gam0
                lip = math.sqrt(max(float(np.einsum("ij,ij->", dG, self.K64 @ dG)), 0.0)) / sn ** 2
                gs = float(np.einsum("ij,ij->", G0, P)) + l2 * ((alpha - 1.0) * self.w2 + za)
                sHs = float(np.einsum("ij,ij->", Gam0, P)) + l2 * sn2
                pred = -(gs + 0.5 * sHs + M_ / 6.0 * sn ** 3)
                F1 = F1l + 0.5 * l2 * (alpha * alpha * self.w2 + 2.0 * alpha * za + aka)
                rho = (F0 - F1) / pred if pred > 0 else (1.0 if F1 <= F0 else -math.inf)
                rec = dict(M=M_, step_norm=sn, lipschitz=lip, rho=float(rho), accepted=bool(rho >= 0.1 and lip <= M_))
            tries.append(rec)
            return AR, alpha, move, recs, rec

        AR, alpha, move, recs, rec = _choose_M(trial, M, max_tries, tries)
        self._advance(AR, alpha, move)
        return recs, _auto_M_summary(rec, tries)

    def result(self):
        """(the new span model, preact_shift = max |X_R (W_T - W)^T|)."""
        sp, dt, a = self.model._state, self.dt, self.a
        A1 = sp.A.copy() if a == 1.0 else (a * sp.A.astype(np.float64)).astype(dt)
        np.add.at(A1, self.kr, self.B.astype(dt))  # kr repeats a row only if X holds it more often than fit's X
        # Z_T - Z_R = (a - 1) Z_R + K_RR B, in float64 (no cancellation of two float32 Z)
        D = self.K64 @ self.B
        if a != 1.0:
            D += (a - 1.0) * self.Z_start
        shift = float(np.abs(D).max(initial=0.0))
        return self.model._with_span(A1, np.array(self.model._u, copy=True), w0_coef=a * sp.w0_coef), shift


def _krylov_singular_check(model, solver: str, l2: float, n_r: int) -> None:
    """The primal Krylov path's test that undamped Newton has a singular Hessian (rank(J^T D J) <= n_r and the
    cross block's <= 2 m, so H is singular when p exceeds their sum with l2 = 0), on the model's own p."""
    p, m = int(model.n_params()), int(model._u.shape[0])
    bound = n_r + 2 * m
    if solver == "krylov" and l2 == 0.0 and p > bound:
        raise _core.NumericalError(f"newton: the Hessian is singular (rank <= {bound} < {p} parameters, l2 = 0); "
                                   "use pinv_newton, damped_newton, cure_newton, or l2 > 0")


class _SpanCoords:
    """A span model's retained objective in orthonormal coordinates: the trained-u Newton solvers ("dense",
    "krylov") and SCureNewton run on it, never on d.

    With the Cholesky factor K_SS = L L^T of K_RR = X_R X_R^T on the rows S it keeps (a row whose pivot falls
    below 1e-13 of its diagonal lies in the span of the earlier ones and is dropped; r = |S|), the rows of
    B = L^{-1} X_S are orthonormal and x_i = sum_k R_ik b_k with R = K_RS L^{-T} (n_r x r; R_S = L): a neuron
    w_j = sum_k C_kj b_k + w_j^perp (C = E^T Z_R, E = L^{-T} on the rows S and 0 elsewhere, w_j^perp orthogonal
    to the rows of X_R) has pre-activations X_R w_j = R C_j and ||w_j^perp||^2 = ||w_j||^2 - ||C_j||^2. The retained
    objective F(W, u) = mean l(y_i f(x_i)) + (l2/2)(||W||^2 + ||u||^2) is therefore F on the data R padded with
    one zero column, at the coordinates W_c = [C^T, tau] (tau_j = ||w_j^perp||): the map is an isometry onto the
    subspace S' of R^(m d) x R^m it spans, which contains the gradient and is invariant under the Hessian, and
    on the orthogonal complement the Hessian is l2 I. So the Newton-family steps (and the Lanczos recursion of
    "krylov") are those of the full space, and the result W' = W + (kappa w_j^perp)_j + (E dC)^T X_R keeps the
    span form: W' = rho W + (E (dC - kappa C))^T X_R with rho = 1 + kappa, kappa the common ratio dtau_j / tau_j
    (zero when l2 = 0; its least-squares value otherwise, which also drops a step's part on the m - 1 padded
    directions orthogonal to tau, and on which F is (l2/2)||.||^2 alone).
    """

    def __init__(self, model, kr):
        sp = model._state
        self.model, self.kr = model, np.asarray(kr)
        K = np.ascontiguousarray(np.asarray(sp.K, dtype=np.float64)[np.ix_(self.kr, self.kr)])
        Z = np.asarray(sp.train_preacts(), dtype=np.float64)[self.kr]
        kept, Linv = _core.span_basis(K, 1e-13, model._n_threads())
        self.E = np.zeros((len(self.kr), kept.size))
        self.E[kept] = Linv.T
        self.C = Linv @ Z[kept]  # r x m
        r, m = self.C.shape
        d = int(sp.shape[1])
        wsq = np.asarray(sp.neuron_sqnorms(), dtype=np.float64)
        tau2 = wsq - np.einsum("km,km->m", self.C, self.C)
        # ||w_perp||^2 is a difference; where it is at rounding level the neuron lies in the span of X_R
        self.tau = np.where(tau2 > 1e-14 * np.maximum(wsq, 1e-300), np.sqrt(np.maximum(tau2, 0.0)), 0.0)
        self.with_tau = r < d
        cols = r + (1 if self.with_tau else 0)
        self.X = np.zeros((len(self.kr), cols))
        self.X[:, :r] = K[:, kept] @ Linv.T
        self.W = np.zeros((m, cols))
        self.W[:, :r] = self.C.T
        if self.with_tau:
            self.W[:, r] = self.tau
        self.u = np.asarray(model._u, dtype=np.float64).copy()
        # p minus the coordinates' parameters: >= 0 (r + 1 <= d columns when r < d, else r = d and no tau column)
        self.hidden_dims = int(model.n_params()) - (self.W.size + (m if model.train_outer_ else 0))

    def full_space_records(self, steps, solver: str, kind: str, l2: float, rcond: float) -> None:
        """The dense solver's per-step records in terms of the full space: its dimension p, and pinv's rank
        counting the hidden directions' eigenvalue l2 (the spectrum's extremes already include it)."""
        if solver != "dense" or self.hidden_dims <= 0:
            return
        p = int(self.model.n_params())
        for st in steps:
            st["rank"] = p
            if kind == "pinv" and "pinv_rank" in st:
                mx = max(abs(st["lam_min"]), abs(st["lam_max"]))
                if l2 != 0.0 and l2 > rcond * mx:
                    st["pinv_rank"] += self.hidden_dims

    def result(self, W1c, u1, l2: float):
        """(the span model at the coordinates (W1c, u1), max |X_R (W' - W)^T|)."""
        sp, model, r = self.model._state, self.model, self.C.shape[0]
        D = np.asarray(W1c, dtype=np.float64) - self.W
        dC = D[:, :r].T
        kappa = 0.0
        tt = float(self.tau @ self.tau)
        if self.with_tau and l2 > 0.0 and tt > 0.0:
            kappa = float(D[:, r] @ self.tau) / tt
        rho = 1.0 + kappa
        A = sp.A.astype(np.float64)
        if rho != 1.0:
            A *= rho
        np.add.at(A, self.kr, self.E @ (dC - kappa * self.C))  # (kr may repeat a row: see _SpanNewton.result)
        shift = float(np.abs(self.X[:, :r] @ dC).max(initial=0.0))
        new = model._with_span(A.astype(model.dtype_), np.asarray(u1, dtype=model.dtype_),
                               w0_coef=rho * sp.w0_coef)
        return new, shift


def _objective(model, XR, yR, W, u, l2) -> float:
    """F(theta) = mean retained loss + (l2/2) ||theta||^2 (theta = W, and u when trained)."""
    th = _flat(W, u, model.train_outer_)
    q = yR.astype(np.float64) * _core.outputs(XR, np.ascontiguousarray(W), np.ascontiguousarray(u), model.slope_,
                                              model._n_threads())
    return float(_core.margin_stats(q, model.loss).loss) + 0.5 * l2 * float(th @ th)


def _choose_M(trial, M, max_tries, tries):
    """The automatic cubic constant's search (module docstring, "M='auto'"): trial(M) returns a tuple whose last
    entry is the record {M, step_norm, lipschitz, rho, accepted}, and appends it to `tries`."""
    best = trial(M)
    if best[-1]["accepted"]:
        # shrink while the last accepted M is more than twice the measured Lipschitz constant
        while len(tries) < max_tries and best[-1]["lipschitz"] < 0.5 * best[-1]["M"] and best[-1]["step_norm"] > 0:
            cand = trial(max(2.0 * best[-1]["lipschitz"], 0.25 * best[-1]["M"]))
            if not cand[-1]["accepted"]:
                break
            best = cand
    else:
        while len(tries) < max_tries and not best[-1]["accepted"]:
            best = trial(max(2.0 * best[-1]["M"], best[-1]["lipschitz"]))
        if not best[-1]["accepted"]:
            warnings.warn(f"cure_newton M='auto': no M up to {best[-1]['M']:.3g} passed the test within "
                          f"M_max_tries = {max_tries} tries; the step with the largest M is used",
                          ConvergenceWarning, stacklevel=5)
    return best


def _auto_M_summary(rec, tries) -> Dict[str, Any]:
    """The record of one automatic-M step (unlearn_info_["M_auto"]) from its accepted trial and all its tries."""
    return {"M": rec["M"], "step_norm": rec["step_norm"], "gamma": 0.5 * rec["M"] * rec["step_norm"],
            "lipschitz": rec["lipschitz"], "rho": rec["rho"], "n_tries": len(tries), "accepted": rec["accepted"],
            "tries": tries}


def _auto_M_step(model, XR, yR, W, u, l2, M, max_tries, run, nt):
    """One cubic step with the automatic cubic constant (module docstring, "M='auto'")."""
    to = model.train_outer_
    th = _flat(W, u, to)
    F0 = _objective(model, XR, yR, W, u, l2)
    tries: List[Dict[str, Any]] = []

    def trial(M_):
        W1, u1, st = run(W, u, M_, 1)
        s = _flat(W1, u1, to) - th
        sn = float(np.linalg.norm(s))
        if sn == 0.0:
            rec = dict(M=M_, step_norm=0.0, lipschitz=0.0, rho=1.0, accepted=True)
        else:
            g0, Hs0 = _core.retained_hvp(XR, yR, W, u, model.slope_, to, model.loss, l2, s, nt)
            _, Hs1 = _core.retained_hvp(XR, yR, W1, u1, model.slope_, to, model.loss, l2, s, nt)
            lip = float(np.linalg.norm(Hs1 - Hs0)) / sn ** 2
            pred = -(float(g0 @ s) + 0.5 * float(s @ Hs0) + M_ / 6.0 * sn ** 3)  # > 0 at the cubic minimizer
            F1 = _objective(model, XR, yR, W1, u1, l2)
            rho = (F0 - F1) / pred if pred > 0 else (1.0 if F1 <= F0 else -math.inf)
            rec = dict(M=M_, step_norm=sn, lipschitz=lip, rho=float(rho), accepted=bool(rho >= 0.1 and lip <= M_))
        tries.append(rec)
        return W1, u1, st, rec

    W1, u1, st, rec = _choose_M(trial, M, max_tries, tries)
    return W1, u1, st, _auto_M_summary(rec, tries)


def _unlearn_scure(model, Xc, y_enc, idx, keep, opts, nt):
    """SCureNewton (module docstring): the C++ loop, minibatches read in place, M fixed or automatic."""
    auto_M = isinstance(opts["M"], str)
    if auto_M:
        check_choice(opts["M"], "M", ("auto",))
        M = check_positive(opts["M_init"], "M_init")
    else:
        M = check_positive(opts["M"], "M")
    max_tries = check_int(opts["M_max_tries"], "M_max_tries", 1)
    safeguard = opts["safeguard"]
    if not isinstance(safeguard, (bool, np.bool_)):
        raise TypeError(f"safeguard must be a bool, got {type(safeguard).__name__}")
    lr = check_positive(opts["lr"], "lr")
    sigma = check_positive(opts["sigma"], "sigma", allow_zero=True)
    l2 = _weight_decay(model, opts)
    n_r = int(keep.sum())
    bg = min(check_int(opts["batch_grad"], "batch_grad", 1), n_r)
    bh = min(check_int(opts["batch_hess"], "batch_hess", 1), n_r)
    n_outer = check_int(opts["n_outer"], "n_outer", 0)
    n_inner = check_int(opts["n_inner"], "n_inner", 0)
    seed = check_int(opts["random_state"], "random_state", 0)
    yR = np.ascontiguousarray(y_enc[keep])
    trows = model._train_rows_of(Xc)
    cs = None
    if trows is not None:  # a span model: on its coordinates, zeta drawn in all p dimensions (_SpanCoords)
        cs = _SpanCoords(model, trows[keep])
        XR, yR, W_start, u_start = cs.X, yR.astype(np.float64), cs.W, cs.u
    else:
        XR, W_start, u_start = np.ascontiguousarray(Xc[keep]), model._W, model._u
    so = _core.SCubicOptions()
    so.M, so.lr, so.sigma, so.batch_grad, so.batch_hess = M, lr, sigma, bg, bh
    so.n_outer, so.n_inner, so.seed = n_outer, n_inner, seed
    so.auto_M, so.max_tries, so.safeguard = bool(auto_M), max_tries, bool(safeguard)
    if cs is not None:
        so.hidden_dims = cs.hidden_dims
    W1, u1, infos, preact_shift = _core.scure_newton(XR, yR, W_start, u_start, model.slope_, model.train_outer_,
                                                     model.loss, l2, so, nt)
    steps = [_record(i, _SCUBIC_STEP_FIELDS) for i in infos]
    new = None
    if cs is not None:
        for st, i in zip(steps, infos):  # the dropped hidden part of each step (SCubicOptions.hidden_dims)
            st["hidden_step_norm"] = float(i.hidden_step_norm)
        new, preact_shift = cs.result(W1, u1, l2)
        W1 = u1 = None
    for st in steps:
        st["gamma"] = 0.5 * st["M"] * st["step_norm"]
    if auto_M and not all(st["accepted"] for st in steps):
        bad = sum(not st["accepted"] for st in steps)
        warnings.warn(f"scure_newton M='auto': in {bad} of {len(steps)} outer steps no M passed the test within "
                      f"M_max_tries = {max_tries} tries; the step with the largest M was used", ConvergenceWarning,
                      stacklevel=4)
    extra = {"solver": "hvp", "steps": steps, "M": [st["M"] for st in steps] if auto_M else M,
             "M_rule": "auto" if auto_M else "fixed", "safeguard": bool(safeguard), "batch_grad": bg,
             "batch_hess": bh, "weight_decay": l2, "gamma": [st["gamma"] for st in steps]}
    if auto_M:
        extra["M_auto"] = [{k: st[k] for k in ("M", "step_norm", "gamma", "lipschitz", "rho", "n_tries", "accepted")}
                           for st in steps]
    return new, W1, u1, n_outer, float(preact_shift), extra


# ---------------------------------------------------------------------------------------------- public API
@_span.scoped('model')
def unlearn(model, X: Any, y: Any, forget: Any, method: str = "ga", **options: Any):
    """Unlearn the points ``forget`` from a fitted model.

    The methods, their formulas and options are listed in the module documentation of
    :mod:`kktunlearn.unlearning`; ``"ga"`` is the gradient-ascent step with the step size of [1]_
    Theorem 4.1, ``"cure_newton"`` / ``"scure_newton"`` the cubic-regularized Newton methods of [2]_.

    Parameters
    ----------
    model : LinearModel or TwoLayerReLU
        A fitted model.
    X : array-like of shape (n, d)
        The full training set the model was fitted on.
    y : array-like of shape (n,)
        Its labels.
    forget : int or array-like of int
        An index or a list of indices into ``X``.
    method : str, default "ga"
        One of ``METHODS``: "ga", "neggrad", "neggrad_plus", "finetune", "retrain", "newton",
        "damped_newton", "pinv_newton", "cure_newton", "scure_newton".
    **options
        The method's options (module documentation); unknown names raise ``TypeError``.

    Returns
    -------
    model
        A new fitted model of the same class (the original is untouched) with ``unlearn_info_``
        (method, options, ``step_norm``, ``time``, ``n_iter``, ``preact_shift``, ``forget``,
        ``n_retained``, ``reference_scale`` and method-specific keys).

    Raises
    ------
    ValueError
        On an empty, out-of-range or duplicate forget set, on forgetting every point or every point of
        a class, on an unknown method.
    TypeError
        On unknown option names or non-integer indices.
    NotFittedError
        On an unfitted model.
    kktunlearn._core.NumericalError
        When plain Newton meets a singular Hessian, or the result is not finite.

    See Also
    --------
    kktunlearn.kkt.verify_unlearning : the certificate of the result.
    unlearn_sequence : several requests one after another.

    References
    ----------
    .. [1] Melamed, Yehudai & Vardi, arXiv:2510.14844, the algorithm A_GA and Theorem 4.1.
    .. [2] Bui et al., arXiv:2406.14507, CuReNU and CuReNUS (CureNewton and SCureNewton).
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"unknown unlearning method {method!r}; choose one of {list(METHODS)}")
    opts = _check_options(method, options)
    check_is_fitted(model)
    model._require_unweighted("Unlearning")
    Xc, y_enc, idx, keep = _split(model, X, y, forget)
    nt = model._n_threads()
    t0 = time.perf_counter()
    new = None
    if method == "ga":
        new, W1, u1, n_iter, shift, extra = _unlearn_ga(model, Xc, y, y_enc, idx, keep, opts, nt)
    elif method in ("neggrad", "neggrad_plus", "finetune"):
        new, W1, u1, n_iter, shift, extra = _unlearn_gd(method, model, Xc, y_enc, idx, keep, opts, nt)
    elif method == "retrain":
        new, n_iter, shift, extra = _unlearn_retrain(model, X, y, Xc, idx, keep, opts, nt)
    elif method == "scure_newton":
        new, W1, u1, n_iter, shift, extra = _unlearn_scure(model, Xc, y_enc, idx, keep, opts, nt)
    else:
        new, W1, u1, n_iter, shift, extra = _unlearn_newton(method, model, Xc, y_enc, idx, keep, opts, nt)
    elapsed = time.perf_counter() - t0
    ref_scale = _reference_scale(model, Xc, y_enc, nt)
    if new is None:
        new = model._with_params(np.asarray(W1), np.asarray(u1))
    # ||theta^- - theta|| from the two states (no d when both are span models over the same X and W0)
    step_norm = math.sqrt(new._sqdist_theta(model))
    shown = {k: (v if k != "multipliers" else (None if v is None else f"<{type(v).__name__}>")) for k, v in opts.items()}
    info: Dict[str, Any] = {"method": method, "options": shown, "step_norm": float(step_norm),
                            "time": elapsed, "n_iter": int(n_iter), "preact_shift": float(shift),
                            "forget": idx.copy(), "n_retained": int(keep.sum()), "reference_scale": ref_scale}
    if method == "ga":
        info["step_norm_normalized"] = info["step_norm"] / extra["scale"]
    info.update(extra)
    if not np.isfinite(info["step_norm"]):
        from ._core import NumericalError

        raise NumericalError(f"{method}: the unlearned parameters are not finite")
    new.unlearn_info_ = info
    return new


def _reference_scale(model, Xc: np.ndarray, y_enc: np.ndarray, nt: int) -> Optional[float]:
    """The original model's normalization s = (min_{i in S} q_i)^(1/L), the scale in which every method's
    certificate is measured (kktunlearn.verify_unlearning). A model that came out of an earlier unlearning
    call passes on the scale it recorded (the original of the chain); None when the model does not fit S."""
    prev = (getattr(model, "unlearn_info_", None) or {}).get("reference_scale")
    if prev is not None:
        return float(prev)
    q = y_enc.astype(np.float64) * model._outputs(Xc)
    qmin = float(q.min())
    return qmin ** (1.0 / model.degree_) if qmin > 0 else None


def _retained_numbers(model, X, y, nt) -> Dict[str, Any]:
    """Loss, gradient norm and minimum margin of `model` on (X, y) (the current retained set)."""
    Xc = model._check_X(X)
    y_enc = model._encode_y(y, Xc.shape[0])
    if model._train_rows_of(Xc) is not None:
        # span: ||grad_W||^2 = <Gamma, K Gamma>, Gamma_ij = (1/n) l'(q_i) y_i u_j sigma'(z_ij) (no d)
        Z = model._preactivations(Xc)
        yd = y_enc.astype(np.float64)
        q = yd * model._outputs_from_preacts(Z)
        c = _core.losses(q, model.loss)[1] * yd / Xc.shape[0]
        u = np.asarray(model._u, dtype=np.float64)
        Gam = c[:, None] * u[None, :] * _dact(Z, model.slope_)
        g2 = float(np.einsum("ij,ij->", Gam, model._kernel(Xc).astype(np.float64) @ Gam))
        if model.train_outer_:
            gu = _act(Z, model.slope_).astype(np.float64).T @ c
            g2 += float(gu @ gu)
        gnorm = math.sqrt(max(g2, 0.0))
    else:
        q = y_enc.astype(np.float64) * _core.outputs(Xc, model._W, model._u, model.slope_, nt)
        L, gW, gu = _core.loss_and_grad(Xc, y_enc, model._W, model._u, model.slope_, model.train_outer_, model.loss,
                                        nt)
        g = _flat(gW, gu if gu is not None else np.zeros(0), model.train_outer_)
        gnorm = float(np.linalg.norm(g))
    return {"retained_loss": float(_core.margin_stats(q, model.loss).loss), "retained_grad_norm": gnorm,
            "min_margin": float(q.min()), "retained_accuracy": float(np.mean(q > 0))}


@_span.scoped('model')
def unlearn_sequence(model, X: Any, y: Any, requests: Sequence[Any], method: str = "ga", kkt: bool = True,
                     kkt_subgradient_tol: Optional[float] = None, kkt_relaxed_radius: Optional[float] = None,
                     **options: Any) -> Tuple[List[Any], List[Dict[str, Any]]]:
    """Serve a list of forget requests one after another (sequential unlearning).

    The sequential protocol of [1]_: round ``t`` unlearns request ``t`` from the model of round
    ``t-1`` with the retained set ``S`` minus every point forgotten so far (so the Newton objective and
    the GA multipliers are those of the shrinking retained set). The certificate of every round is
    computed by :func:`kktunlearn.verify_unlearning <kktunlearn.kkt.verify_unlearning>` with the SAME measure in every round and for
    every method: the ORIGINAL model's scale ``s = (min_{i in S} q_i)^(1/L)`` (so ``tau > 0`` when a
    round pushes retained margins below the original's, and a model that no longer fits the retained
    set still gets numbers), the literal kink tolerance ``kkt_subgradient_tol`` and the relaxed radius
    ``kkt_relaxed_radius``, fixed for all rounds.

    Parameters
    ----------
    model : LinearModel or TwoLayerReLU
        The fitted original model.
    X : array-like of shape (n, d)
        Its full training set.
    y : array-like of shape (n,)
        Its labels.
    requests : sequence
        Each an index or a list of indices into the ORIGINAL ``X``; requests must be disjoint.
    method : str, default "ga"
        The unlearning method of every round (see :func:`unlearn`).
    kkt : bool, default True
        Add the certificate of each round to its record.
    kkt_subgradient_tol : float, optional
        The literal kink tolerance (default ``kktunlearn.kkt.LITERAL_TOL``).
    kkt_relaxed_radius : float, optional
        The relaxed radius (default ``kktunlearn.kkt.RELAXED_RADIUS``).
    **options
        Options of the method, passed to every round.

    Returns
    -------
    models : list
        ``models[t]`` is the model after round ``t``.
    records : list of dict
        ``records[t]`` has ``round``, ``forget``, ``n_retained``, ``time``, ``step_norm``,
        ``preact_shift``, ``retained_loss``, ``retained_grad_norm``, ``min_margin`` (raw),
        ``retained_accuracy`` and, when ``kkt=True``, the certificate of round ``t``'s model on the
        current retained set (:meth:`~kktunlearn.kkt.UnlearningReport.columns`). A round whose
        certificate cannot be computed gets NaN numbers and the full error under ``kkt_error``.

    Raises
    ------
    ValueError
        On overlapping or invalid requests, an unknown method or bad tolerances.

    References
    ----------
    .. [1] Bui et al., arXiv:2406.14507, batch and sequential unlearning.
    """
    if kkt_subgradient_tol is not None:
        kkt_subgradient_tol = check_positive(kkt_subgradient_tol, "kkt_subgradient_tol", allow_zero=True)
    if kkt_relaxed_radius is not None:
        kkt_relaxed_radius = check_positive(kkt_relaxed_radius, "kkt_relaxed_radius", allow_zero=True)
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"unknown unlearning method {method!r}; choose one of {list(METHODS)}")
    if "multipliers" in options:
        raise ValueError("multipliers cannot be given to unlearn_sequence: they belong to one model and are "
                         "recomputed at every round")
    _check_options(method, options)
    check_is_fitted(model)
    model._require_unweighted("Unlearning")
    Xc = model._check_X(X)
    n = Xc.shape[0]
    y_arr = np.asarray(y)
    y_enc = model._encode_y(y, n)
    if isinstance(requests, (str, bytes)) or not hasattr(requests, "__len__"):
        raise TypeError("requests must be a list of forget sets (indices or lists of indices)")
    if len(requests) == 0:
        raise ValueError("requests is empty: give at least one forget request")
    reqs = [check_forget(r, n) for r in requests]
    seen = np.zeros(n, dtype=bool)
    for t, r in enumerate(reqs):
        if seen[r].any():
            raise ValueError(f"request {t} repeats already forgotten indices {r[seen[r]][:5].tolist()}")
        seen[r] = True
    alive = np.ones(n, dtype=bool)
    current = model
    models: List[Any] = []
    records: List[Dict[str, Any]] = []
    nt = model._n_threads()
    s0 = _reference_scale(model, Xc, y_enc, nt) if kkt else None
    for t, r in enumerate(reqs):
        pos = -np.ones(n, dtype=np.int64)
        pos[alive] = np.arange(int(alive.sum()))
        local = pos[r]
        Xa, ya = Xc[alive], y_arr[alive]
        new = unlearn(current, Xa, ya, local, method=method, **options)
        alive[r] = False
        info = new.unlearn_info_
        rec: Dict[str, Any] = {"round": t, "forget": r.copy(), "n_retained": int(alive.sum()), "time": info["time"],
                               "step_norm": info["step_norm"], "preact_shift": info["preact_shift"]}
        rec.update(_retained_numbers(new, Xc[alive], y_arr[alive], nt))
        if kkt:
            rec.update(_kkt_numbers(new, Xa, ya, local, s0, kkt_subgradient_tol, kkt_relaxed_radius))
        models.append(new)
        records.append(rec)
        current = new
    return models, records


_KKT_NAN_KEYS = ("epsilon", "epsilon_rel", "delta", "tau", "literal_epsilon", "literal_epsilon_rel", "literal_delta",
                 "relaxed_epsilon", "relaxed_epsilon_rel", "relaxed_delta", "relaxed_free_fraction")


def _kkt_numbers(model, X, y, forget, scale: Optional[float], literal_tol: Optional[float] = None,
                 relaxed_radius: Optional[float] = None) -> Dict[str, Any]:
    """The round's certificate: verify_unlearning(model, X, y, forget) in the original model's scale
    (X, y: the set the round started from, forget: the round's request in it)."""
    from .kkt import verify_unlearning

    if scale is None:
        out: Dict[str, Any] = {k: math.nan for k in _KKT_NAN_KEYS}
        out["kkt_error"] = ("NotSeparableError: the original model does not fit its training set, so there is no "
                            "original scale to measure the rounds in")
        return out
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rep = verify_unlearning(model, X, y, forget, subgradient_tol=literal_tol, reference_scale=scale,
                                    relaxed_radius=relaxed_radius)
    except (ValueError, ArithmeticError, RuntimeError) as exc:
        out = {k: math.nan for k in _KKT_NAN_KEYS}
        out["kkt_error"] = f"{type(exc).__name__}: {exc}"
        return out
    out = rep.columns()
    if caught:
        out["kkt_warning"] = "; ".join(str(w.message) for w in caught)
    return out

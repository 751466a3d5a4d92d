"""KKT multipliers, residuals, the exact Clarke QP and unlearning verification.

Every reference number is computed here independently with numpy/scipy on the *explicit* Jacobian
(small problems), or from a closed form / theorem property.
"""

from __future__ import annotations

import math

import warnings

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.optimize as sopt

import kktunlearn as kk
from kktunlearn import _core
from conftest import nnls
from kktunlearn.datasets import near_orthogonal


# ----------------------------------------------------------------------------------------- references
def act(Z, slope):
    return np.where(Z > 0, Z, slope * Z)


def dact(Z, slope):
    return np.where(Z > 0, 1.0, slope)


def normalized(model, X, y):
    """theta / s with s = q_min^(1/L), in numpy: (W, u, s)."""
    W = np.asarray(model.W_, dtype=np.float64)
    u = np.asarray(model.u_, dtype=np.float64)
    Z = X @ W.T
    q = y * (act(Z, model.slope_) @ u)
    L = model.degree_
    s = q.min() ** (1.0 / L)
    return W / s, (u / s if model.train_outer_ else u), s


def explicit_jacobian(X, W, u, slope, trained, pinned=()):
    """Rows y-free: J[i] = grad N(x_i) flattened like params(); pinned pairs' W-part zeroed."""
    Z = X @ W.T
    S = dact(Z, slope)
    for i, j in pinned:
        S[i, j] = 0.0
    n, d = X.shape
    m = W.shape[0]
    J = ((S * u)[:, :, None] * X[:, None, :]).reshape(n, m * d)
    if trained:
        J = np.hstack([J, act(Z, slope)])
    return J


def theta_vec(W, u, trained):
    return np.concatenate([W.ravel(), u]) if trained else W.ravel()


def scipy_nnls_multipliers(model, X, y):
    W, u, s = normalized(model, X, y)
    Z = X @ W.T
    assert np.abs(Z).min() > 1e-9 * np.abs(Z).max(), "test setup: a pre-activation sits at the kink"
    J = explicit_jacobian(X, W, u, model.slope_, model.train_outer_)
    theta = theta_vec(W, u, model.train_outer_)
    lam, res = sopt.nnls((J * y[:, None]).T, theta, maxiter=50 * X.shape[0])
    return lam, res, np.linalg.norm(theta), s


# ReLU width: a point none of whose neurons of its label's sign is active at initialization gets no
# gradient that could fit it (probability ~2^-(m/2) per point with fixed u, 2^-m with trained u). At
# m = 6 the 12 points fit only with probability ~0.2-0.8 depending on the draw (kktunlearn 0.1.0's draw
# happened to fit); m = 30 makes a dead point a ~4e-4 event.
RELU_WIDTH = 30

VARIANTS = [
    ("linear", dict()),
    ("relu", dict(width=RELU_WIDTH)),
    ("relu_trained", dict(width=RELU_WIDTH, train_outer=True)),
    ("leaky", dict(width=6, leaky_slope=0.2)),
    ("leaky_trained", dict(width=6, leaky_slope=0.2, train_outer=True)),
]


def make_model(kind, params, loss, X, y, max_iter=150):
    if kind == "linear":
        return kk.LinearModel(loss=loss, init_scale=0.3, random_state=1, max_iter=max_iter).fit(X, y)
    return kk.TwoLayerReLU(loss=loss, random_state=3, init_scale=0.3, max_iter=max_iter, **params).fit(X, y)


# ----------------------------------------------------------------------------------------- (a) NNLS
@pytest.mark.parametrize("loss", ["exponential", "logistic"])
@pytest.mark.parametrize("kind,params", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_nnls_matches_scipy_on_explicit_jacobian(kind, params, loss):
    X, y = near_orthogonal(12, 40, seed=5)
    model = make_model(kind, params, loss, X, y)
    lam_ref, eps_ref, tnorm, s = scipy_nnls_multipliers(model, X, y)
    mult = kk.kkt_multipliers(model, X, y)
    assert mult.converged
    assert mult.scale == pytest.approx(s, rel=1e-12)
    assert mult.theta_norm == pytest.approx(tnorm, rel=1e-12)
    np.testing.assert_allclose(mult.lambdas, lam_ref, rtol=0, atol=1e-8 * lam_ref.max())
    assert eps_ref > 1e-3 * tnorm  # a genuine residual, so the relative comparison is meaningful
    assert mult.epsilon == pytest.approx(eps_ref, rel=1e-8)
    assert mult.epsilon_rel == pytest.approx(eps_ref / tnorm, rel=1e-8)
    assert mult.epsilon_plain == mult.epsilon and mult.n_pinned == 0
    np.testing.assert_allclose(mult.margins.min(), 1.0, rtol=1e-12)


def test_nnls_gram_solver_against_scipy_random():
    rng = np.random.default_rng(0)
    for trial in range(20):
        k, p = rng.integers(2, 25), rng.integers(2, 40)
        A = rng.standard_normal((p, k))
        if trial % 4 == 0:  # rank-deficient: duplicated column
            A[:, -1] = A[:, 0]
        t = rng.standard_normal(p)
        G, b = A.T @ A, A.T @ t
        r = nnls(G, b, 1e-12, 0)
        assert r.converged
        x_ref, res_ref = sopt.nnls(A, t, maxiter=100 * k)
        res = np.linalg.norm(A @ r.x - t)
        assert (r.x >= 0).all()
        assert res == pytest.approx(res_ref, rel=1e-9, abs=1e-12)
        if trial % 4 != 0:
            np.testing.assert_allclose(r.x, x_ref, atol=1e-8 * max(1.0, np.abs(x_ref).max()))


def test_float32_model_close_to_float64():
    X, y = near_orthogonal(12, 40, seed=5)
    m64 = make_model("relu", dict(width=RELU_WIDTH), "exponential", X, y)
    m32 = kk.TwoLayerReLU(width=RELU_WIDTH, dtype=np.float32).set_parameters(m64.W_.astype(np.float32), m64.u_)
    a, b = kk.kkt_multipliers(m64, X, y), kk.kkt_multipliers(m32, X, y)
    np.testing.assert_allclose(b.lambdas, a.lambdas, rtol=1e-3, atol=1e-4)
    assert b.epsilon == pytest.approx(a.epsilon, rel=1e-3)


def test_deterministic_across_thread_counts():
    X, y = near_orthogonal(20, 300, seed=2)
    net = kk.TwoLayerReLU(width=30, random_state=0, max_iter=800).fit(X, y)
    a = kk.kkt_multipliers(net, X, y, subgradient_tol=1e-3, n_threads=1)
    b = kk.kkt_multipliers(net, X, y, subgradient_tol=1e-3, n_threads=2)
    assert np.array_equal(a.lambdas, b.lambdas) and a.epsilon == b.epsilon
    assert np.array_equal(a.mu, b.mu)


# ----------------------------------------------------------------------------------------- (b) linear / SVM
def svm_dual(X, y):
    """Hard-margin SVM without bias, dual: max 1^T a - 1/2 a^T Q a, a >= 0, Q = (y y^T) o X X^T,
    solved as an NNLS on the Cholesky factor of Q with scipy."""
    Q = (y[:, None] * y[None, :]) * (X @ X.T)
    R = sla.cholesky(Q)  # Q = R^T R
    a, _ = sopt.nnls(R, sla.solve_triangular(R, np.ones(len(y)), trans="T"), maxiter=1000)
    return a


def test_linear_multipliers_equal_svm_dual():
    rng = np.random.default_rng(4)
    n, d = 14, 30
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    mean = rng.standard_normal(d)
    X = 0.9 * y[:, None] * mean[None, :] / np.linalg.norm(mean) + 0.5 * rng.standard_normal((n, d)) / np.sqrt(d)
    a = svm_dual(X, y)
    w = X.T @ (y * a)
    q = y * (X @ w)
    assert q.min() == pytest.approx(1.0, abs=1e-9)  # exact SVM solution: min margin 1
    n_sv = int((a > 1e-9).sum())
    assert 1 < n_sv < n  # a real mix of support vectors and interior points
    svm = kk.LinearModel().set_parameters(w[None, :])
    mult = kk.kkt_multipliers(svm, X, y)
    np.testing.assert_allclose(mult.lambdas, a, atol=1e-8 * a.max())
    assert mult.epsilon <= 1e-9 * np.linalg.norm(w)
    rep = kk.kkt_report(svm, X, y)
    assert rep.delta <= 1e-8 and rep.tau <= 1e-12
    # GD converges in direction to the SVM (slowly): close, not equal
    gd = kk.LinearModel(max_iter=5000).fit(X, y)
    assert kk.cosine_similarity(gd, svm) > 0.99


def test_linear_closed_form_all_support_vectors():
    X, y = near_orthogonal(10, 400, seed=1)
    a = svm_dual(X, y)
    assert (a > 1e-6).all()  # n << d: every point is a support vector
    svm = kk.LinearModel().set_parameters((X.T @ (y * a))[None, :])
    cf = kk.kkt_multipliers(svm, X, y, method="closed_form")
    ref = y * np.linalg.solve(X @ X.T, y)  # spec 9.1: lambda = y o (X X^T)^{-1} y
    np.testing.assert_allclose(cf.lambdas, ref, rtol=1e-9)
    np.testing.assert_allclose(cf.lambdas, a, rtol=1e-7)
    assert cf.epsilon <= 1e-9 * cf.theta_norm


def test_closed_form_warns_and_clips_when_not_all_support_vectors():
    rng = np.random.default_rng(4)
    n, d = 14, 30
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    mean = rng.standard_normal(d)
    X = 0.9 * y[:, None] * mean[None, :] / np.linalg.norm(mean) + 0.5 * rng.standard_normal((n, d)) / np.sqrt(d)
    w = X.T @ (y * svm_dual(X, y))
    model = kk.LinearModel().set_parameters(w[None, :])
    with pytest.warns(UserWarning, match="negative"):
        cf = kk.kkt_multipliers(model, X, y, method="closed_form")
    assert (cf.lambdas >= 0).all()


def test_dynamics_multipliers_formula():
    X, y = near_orthogonal(12, 40, seed=5)
    for kind, params in VARIANTS[:3]:
        for loss in ("exponential", "logistic"):
            model = make_model(kind, params, loss, X, y, max_iter=300)
            W, u, s = normalized(model, X, y)
            Wr, ur = model.W_, model.u_
            q_raw = y * (act(X @ Wr.T, model.slope_) @ ur)
            # |l'(q)| up to the common factor |l'(q_min)| (which cancels in lambda = c v)
            if loss == "exponential":
                v = np.exp(-(q_raw - q_raw.min()))
            else:
                v = np.exp(np.logaddexp(0.0, q_raw.min()) - np.logaddexp(0.0, q_raw))
            J = explicit_jacobian(X, W, u, model.slope_, model.train_outer_)
            theta = theta_vec(W, u, model.train_outer_)
            g = J.T @ (y * v)
            lam_ref = (theta @ g) / (g @ g) * v
            eps_ref = np.linalg.norm(theta - J.T @ (y * lam_ref))
            dyn = kk.kkt_multipliers(model, X, y, method="dynamics")
            np.testing.assert_allclose(dyn.lambdas, lam_ref, rtol=1e-9)
            assert dyn.epsilon == pytest.approx(eps_ref, rel=1e-8)
            nn = kk.kkt_multipliers(model, X, y)
            assert nn.epsilon <= dyn.epsilon * (1 + 1e-12)  # NNLS is the optimum


def test_fixed_multipliers_variant_and_linear_ga_step_is_exact():
    """Spec 7.3: for the linear SVM the ideal GA step w - lambda_r y_r x_r is an exact KKT point of S \\ {r}."""
    X, y = near_orthogonal(12, 300, seed=3)
    a = svm_dual(X, y)
    w = X.T @ (y * a)
    svm = kk.LinearModel().set_parameters(w[None, :])
    r = 4
    w_minus = w - a[r] * y[r] * X[r]
    un = kk.LinearModel().set_parameters(w_minus[None, :])
    rep = kk.verify_unlearning(un, X, y, [r], reference_scale=1.0, epsilon=1e-8, tau=1.0)
    keep = np.arange(12) != r
    q = y[keep] * (X[keep] @ w_minus)
    assert rep.epsilon <= 1e-9 * np.linalg.norm(w_minus)
    assert rep.tau == pytest.approx(max(0.0, 1.0 - q.min()), abs=1e-12)
    assert rep.successful is True
    assert rep.forget_margins[0] == pytest.approx(y[r] * X[r] @ w_minus, rel=1e-10)
    # evaluated at the original multipliers (fixed-lambda variant): the same zero residual
    orig = kk.kkt_multipliers(svm, X, y)
    fixed = type(orig)(**{**orig.__dict__, "lambdas": orig.lambdas[keep]})
    rep2 = kk.kkt_report(un, X[keep], y[keep], multipliers=fixed, scale=1.0)
    assert rep2.epsilon <= 1e-9 * np.linalg.norm(w_minus)
    assert rep2.method == "given"
    # alpha = 0.5: epsilon = |1 - alpha| lambda_r ||x_r|| (spec 7.3's V shape)
    half = kk.LinearModel().set_parameters((w - 0.5 * a[r] * y[r] * X[r])[None, :])
    rep3 = kk.kkt_report(half, X[keep], y[keep], multipliers=fixed, scale=1.0)
    assert rep3.epsilon == pytest.approx(0.5 * a[r] * np.linalg.norm(X[r]), rel=1e-9)


# ----------------------------------------------------------------------------------------- (c), (d) Clarke
def clarke_columns(X, y, W, u, slope, trained, pairs):
    n = X.shape[0]
    J = explicit_jacobian(X, W, u, slope, trained, pinned=pairs)
    cols = [y[i] * J[i] for i in range(n)]
    m, d = W.shape
    for i, j in pairs:
        c = np.zeros((m, d))
        c[j] = y[i] * u[j] * X[i]
        c = c.ravel()
        if trained:
            c = np.concatenate([c, np.zeros(m)])
        cols.append(c)
    return np.array(cols).T


def clarke_kkt_violation(A, theta, lam, mu, pairs, slope, n):
    """Largest violation of the Clarke QP's KKT conditions, from the explicit columns A."""
    v = np.concatenate([lam, mu])
    g = -A.T @ (theta - A @ v)  # gradient of 1/2 ||theta - A v||^2
    gl, gm = g[:n], g[n:]
    viol = 0.0
    scale = np.abs(A.T @ theta).max()
    tiny = 1e-9 * max(lam.max(), 1e-300)
    merged = gl.copy()
    for p, (i, j) in enumerate(pairs):
        lo, hi = slope * lam[i], lam[i]
        if lam[i] <= tiny:
            merged[i] += min(slope * gm[p], gm[p])  # best feasible direction out of the corner
        elif mu[p] - lo <= tiny:
            viol = max(viol, -gm[p])
            merged[i] += slope * gm[p]
        elif hi - mu[p] <= tiny:
            viol = max(viol, gm[p])
            merged[i] += gm[p]
        else:
            viol = max(viol, abs(gm[p]))
    for i in range(n):
        viol = max(viol, -merged[i] if lam[i] <= tiny else abs(merged[i]))
    return viol / scale


@pytest.mark.parametrize("slope,trained", [(0.0, False), (0.0, True), (0.25, False), (0.25, True)])
def test_clarke_qp_optimal_and_matches_slsqp(slope, trained):
    rng = np.random.default_rng(11)
    n, d, m = 7, 12, 4
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    W = rng.standard_normal((m, d))
    u = np.array([1.0, -1.0, 1.0, -1.0]) / 2.0
    net = kk.TwoLayerReLU(width=m, leaky_slope=slope, train_outer=trained).set_parameters(W, u)
    tol = 0.3
    mult = kk.kkt_multipliers(net, X, y, subgradient_tol=tol, scale=1.0)
    pairs = [tuple(p) for p in mult.pinned]
    Z = X @ W.T
    assert pairs == [(i, j) for i in range(n) for j in range(m) if abs(Z[i, j]) <= tol]
    assert len(pairs) >= 4
    lam, mu = np.asarray(mult.lambdas), np.asarray(mult.mu)
    pi = np.array([p[0] for p in pairs])
    assert (lam >= 0).all()
    assert (mu >= slope * lam[pi] - 1e-12).all() and (mu <= lam[pi] + 1e-12).all()
    A = clarke_columns(X, y, W, u, slope, trained, pairs)
    theta = theta_vec(W, u, trained)
    v = np.concatenate([lam, mu])
    assert mult.epsilon == pytest.approx(np.linalg.norm(theta - A @ v), rel=1e-10)
    assert clarke_kkt_violation(A, theta, lam, mu, pairs, slope, n) <= 1e-8
    # a generic solver on the same QP reaches no lower value
    nv = n + len(pairs)
    rows = []
    for p, (i, j) in enumerate(pairs):
        r1 = np.zeros(nv)
        r1[n + p], r1[i] = 1.0, -slope
        r2 = np.zeros(nv)
        r2[n + p], r2[i] = -1.0, 1.0
        rows += [r1, r2]
    Cm = np.array(rows)
    f = lambda x: 0.5 * np.sum((theta - A @ x) ** 2)  # noqa: E731
    gf = lambda x: -A.T @ (theta - A @ x)  # noqa: E731
    sol = sopt.minimize(f, np.full(nv, 0.1), jac=gf, method="SLSQP", bounds=[(0, None)] * nv,
                        constraints=[{"type": "ineq", "fun": lambda x: Cm @ x, "jac": lambda x: Cm}],
                        options=dict(ftol=1e-15, maxiter=3000))
    assert mult.epsilon <= math.sqrt(2 * sol.fun) * (1 + 1e-7)
    assert mult.epsilon <= mult.epsilon_plain * (1 + 1e-12)


@pytest.mark.parametrize("slope,trained", [(0.0, False), (0.0, True), (0.25, False)])
def test_clarke_primal_path_agrees_with_pdas_warm_start(slope, trained):
    """The pure primal active-set method (pdas_iter=0) and the default (primal-dual warm start, then
    the primal method's optimality check) reach the same optimum."""
    rng = np.random.default_rng(3)
    n, d, m = 12, 30, 10
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    W = rng.standard_normal((m, d))
    u = np.where(np.arange(m) < m // 2, 1.0, -1.0) / np.sqrt(m)
    def solve(pdas_iter):
        o = _core.KKTOptions()
        o.method, o.subgradient_tol, o.tol, o.scale, o.pdas_iter = "nnls", 0.4, 1e-12, 1.0, pdas_iter
        return _core.kkt_solve(X, y, W, u, slope, trained, o, 0)

    runs = [solve(k) for k in (0, 50)]
    assert runs[0].converged and runs[1].converged
    assert len(runs[0].pinned) > 20
    assert runs[1].epsilon == pytest.approx(runs[0].epsilon, rel=1e-9)
    assert runs[1].epsilon <= runs[1].epsilon_plain * (1 + 1e-12)
    np.testing.assert_allclose(runs[1].lambdas, runs[0].lambdas, atol=1e-6 * runs[0].lambdas.max())


def test_duplicated_points_leave_epsilon_unchanged():
    """Repeating data points (singular G and K) does not change the cone of the stationarity sum,
    so epsilon (plain and Clarke) must be exactly the same as without the copies."""
    X0, y0 = near_orthogonal(10, 40, seed=8)
    net = kk.TwoLayerReLU(width=6, random_state=0, init_scale=0.3, max_iter=300).fit(X0, y0)
    X = np.vstack([X0, X0[:3], X0[:1]])
    y = np.concatenate([y0, y0[:3], y0[:1]])
    for tol in (0.0, 0.05):
        a = kk.kkt_multipliers(net, X0, y0, subgradient_tol=tol)
        b = kk.kkt_multipliers(net, X, y, subgradient_tol=tol)
        assert b.converged and b.epsilon == pytest.approx(a.epsilon, rel=1e-9)
        # lambdas of copies sum to the original's multiplier
        lam = np.asarray(b.lambdas)
        merged = lam[:10].copy()
        merged[:3] += lam[10:13]
        merged[0] += lam[13]
        if tol == 0.0:
            np.testing.assert_allclose(merged, a.lambdas, atol=1e-8 * a.lambdas.max())


def test_nnls_ill_conditioned_gram():
    k = 10
    G = 1.0 / (np.arange(k)[:, None] + np.arange(k)[None, :] + 1.0)  # Hilbert matrix, cond ~ 1.6e13
    x_true = np.linspace(1.0, 2.0, k)
    b = G @ x_true
    r = nnls(G, b, 1e-12, 0)
    assert r.converged
    x = r.x
    assert (x >= 0).all()
    f_opt = -0.5 * x_true @ G @ x_true
    assert r.objective == pytest.approx(f_opt, rel=1e-9)


def test_iteration_limit_warns():
    X, y = near_orthogonal(20, 200, seed=0)
    rng = np.random.default_rng(0)
    net = kk.TwoLayerReLU(width=10).set_parameters(rng.standard_normal((10, 200)))
    # Lawson-Hanson releases one coordinate per iteration: one iteration cannot reach the optimum here
    with pytest.warns(kk.ConvergenceWarning, match="max_iter"):
        m = kk.kkt_multipliers(net, X, y, scale=1.0, max_iter=1, solver="active_set")
    assert not m.converged
    # the default solver's `converged` is its own KKT test at the returned point, whatever max_iter is
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        m = kk.kkt_multipliers(net, X, y, scale=1.0, max_iter=1)
    warned = any(issubclass(w.category, kk.ConvergenceWarning) for w in rec)
    assert warned == (not m.converged)


def test_clarke_equals_plain_without_pinned_pairs():
    X, y = near_orthogonal(12, 40, seed=5)
    net = make_model("relu", dict(width=RELU_WIDTH), "exponential", X, y)
    plain = kk.kkt_multipliers(net, X, y)
    tol0 = kk.kkt_multipliers(net, X, y, subgradient_tol=0.0)
    assert tol0.n_pinned == 0
    assert tol0.epsilon == plain.epsilon and np.array_equal(tol0.lambdas, plain.lambdas)
    # a tolerance below every |z|/s still pins nothing
    W, u, s = normalized(net, X, y)
    zmin = np.abs(X @ W.T).min()
    small = kk.kkt_multipliers(net, X, y, subgradient_tol=0.5 * zmin)
    assert small.n_pinned == 0 and small.epsilon == plain.epsilon
    # the linear model never pins (its derivative interval is the single point 1)
    lin = make_model("linear", {}, "exponential", X, y)
    assert kk.kkt_multipliers(lin, X, y, subgradient_tol=10.0).n_pinned == 0


def test_clarke_never_above_plain_random_models():
    rng = np.random.default_rng(7)
    for trial in range(6):
        n, d, m = 10, 25, 8
        X = rng.standard_normal((n, d)) / np.sqrt(d)
        y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        net = kk.TwoLayerReLU(width=m, leaky_slope=0.1 * (trial % 2),
                              train_outer=bool(trial % 3 == 0)).set_parameters(rng.standard_normal((m, d)))
        plain = kk.kkt_multipliers(net, X, y, scale=1.0)
        for tol in (0.05, 0.2, 0.6):
            c = kk.kkt_multipliers(net, X, y, subgradient_tol=tol, scale=1.0)
            assert c.converged
            assert c.epsilon_plain == pytest.approx(plain.epsilon, rel=1e-12)
            assert c.epsilon <= plain.epsilon * (1 + 1e-12)


def test_clarke_spec_setting_far_below_plain():
    """Spec 9.4 / 7.4 setting B: n = 20, d = 1000, m = 100, normalized GD, 4000 steps."""
    X, y = near_orthogonal(20, 1000, seed=0)
    net = kk.TwoLayerReLU(width=100, random_state=0, max_iter=4000).fit(X, y)
    plain = kk.kkt_multipliers(net, X, y)
    clarke = kk.kkt_multipliers(net, X, y, subgradient_tol=1e-3)
    assert plain.n_pinned == 0 and clarke.converged
    assert clarke.n_pinned > 200  # a large share of the 2000 pairs sit at the kink
    assert clarke.epsilon_plain == pytest.approx(plain.epsilon, rel=1e-12)
    assert clarke.epsilon < 0.25 * plain.epsilon
    # the returned certificate reproduces epsilon directly (numpy residual from lambda and mu)
    W, u, s = normalized(net, X, y)
    Z = X @ W.T
    C = clarke.lambdas[:, None] * dact(Z, 0.0)
    C[clarke.pinned[:, 0], clarke.pinned[:, 1]] = clarke.mu
    R = W - (u[None, :] * y[:, None] * C).T @ X
    assert clarke.epsilon == pytest.approx(np.linalg.norm(R), rel=1e-8)
    lam_p = clarke.lambdas[clarke.pinned[:, 0]]
    assert (clarke.mu >= -1e-12).all() and (clarke.mu <= lam_p * (1 + 1e-12) + 1e-12).all()
    assert (np.abs(Z[clarke.pinned[:, 0], clarke.pinned[:, 1]]) <= 1e-3).all()


# ----------------------------------------------------------------------------------------- verify_unlearning
def test_verify_unlearning_same_default_measure_and_thresholds():
    X, y = near_orthogonal(16, 300, seed=1)
    net = kk.TwoLayerReLU(width=20, random_state=1, max_iter=1500).fit(X, y)
    un = net._with_params(net.W_ * 0.999, net.u_)
    un.unlearn_info_ = {"method": "damped_newton", "preact_shift": 0.05}
    other = kk.verify_unlearning(un, X, y, [2, 5], original=net)
    un.unlearn_info_ = {"method": "ga", "preact_shift": 0.05}
    rep = kk.verify_unlearning(un, X, y, [2, 5], original=net)
    # the method does not change the measure (no step-sized widening for GA)
    assert rep.subgradient_tol == other.subgradient_tol == pytest.approx(1e-3)
    assert rep.epsilon == other.epsilon and rep.relaxed_radius == other.relaxed_radius
    q0 = y * net.decision_function(X)
    s = q0.min()
    assert rep.scale == pytest.approx(s, rel=1e-12) and rep.scale_source == "original"
    assert rep.successful is None
    keep = np.setdiff1d(np.arange(16), [2, 5])
    q = y[keep] * un.decision_function(X[keep]) / s
    assert rep.tau == pytest.approx(max(0.0, 1 - q.min()), abs=1e-12)
    assert rep.tau > 0  # scaled down by 0.999: margins below 1 in the original frame
    np.testing.assert_allclose(rep.forget_margins, y[[2, 5]] * un.decision_function(X[[2, 5]]) / s, rtol=1e-12)
    explicit = kk.verify_unlearning(un, X, y, [2, 5], original=net, subgradient_tol=0.0)
    assert explicit.subgradient_tol == 0.0 and explicit.tol_rule == "given"
    assert rep.epsilon <= explicit.epsilon * (1 + 1e-12)  # a larger tolerance relaxes the problem
    ok = kk.verify_unlearning(un, X, y, [2, 5], original=net, epsilon=1e9, delta=1e9, tau=1e9)
    bad = kk.verify_unlearning(un, X, y, [2, 5], original=net, tau=0.0)
    assert ok.successful is True and bad.successful is False
    ret = kk.TwoLayerReLU(width=20, random_state=1, max_iter=1500).fit(X[keep], y[keep])
    r2 = kk.verify_unlearning(un, X, y, np.array([5, 2]), retrained=ret, original=net)
    assert r2.cosine_to_retrained == pytest.approx(kk.cosine_similarity(un, ret))
    assert r2.cosine_original_to_retrained == pytest.approx(kk.cosine_similarity(net, ret))
    assert list(r2.forget) == [2, 5]
    un.unlearn_info_ = {"method": "ga", "preact_shift": 0.05}  # no recorded scale
    with pytest.warns(UserWarning, match="tau = 0"):
        self_scaled = kk.verify_unlearning(un, X, y, [2, 5])
    assert self_scaled.scale_source == "self" and self_scaled.tau <= 1e-12
    assert "successful" in repr(ok) and "epsilon" in repr(ok.retained)


def test_clarke_consistent_ga_step_preserves_stationarity():
    """Spec 7.5 (theorem property): removing exactly the forgotten point's fitted term from the normalized
    model, theta^- = theta - y_r sum_j c_rj u_j x_r e_j^T, leaves the original certificate (lambda_i, mu_ij,
    i != r) feasible for S \\ {r} under the relaxed reading with radius r = preact_shift / s, with the same
    residual vector, so epsilon(theta^-, S \\ r) <= epsilon_clarke(theta, S); a half step is far worse."""
    X, y = near_orthogonal(20, 1000, seed=1)
    net = kk.TwoLayerReLU(width=100, random_state=1, max_iter=4000).fit(X, y)
    cert = kk.kkt_multipliers(net, X, y, subgradient_tol=1e-3)
    W, u = net.W_ / cert.scale, net.u_
    C = cert.lambdas[:, None] * dact(X @ W.T, 0.0)
    C[cert.pinned[:, 0], cert.pinned[:, 1]] = cert.mu
    # forget the point with the most pairs at the kink (which points have them depends on the draw)
    r = int(np.argmax(np.bincount(cert.pinned[:, 0], minlength=20)))
    assert (cert.pinned[:, 0] == r).sum() > 10  # the forgotten point has pairs at the kink
    keep = np.arange(20) != r
    eps = {}
    for alpha in (0.5, 1.0):
        step = alpha * y[r] * (C[r] * u)[:, None] * X[r][None, :]
        un = kk.TwoLayerReLU(width=100).set_parameters(W - step, u)
        un.unlearn_info_ = {"method": "ga", "preact_shift": float(np.abs(X[keep] @ step.T).max())}
        rep = kk.verify_unlearning(un, X, y, [r], reference_scale=1.0,
                                   relaxed_radius=un.unlearn_info_["preact_shift"])
        assert rep.relaxed.subgradient_tol == pytest.approx(1e-3 + un.unlearn_info_["preact_shift"])
        eps[alpha] = rep.epsilon_relaxed
    assert eps[1.0] <= cert.epsilon * (1 + 1e-9)
    assert eps[0.5] > 5 * eps[1.0]


def test_verify_unlearning_uses_the_ga_steps_reference_scale():
    X, y = near_orthogonal(20, 1000, seed=1)
    net = kk.TwoLayerReLU(width=100, random_state=1, max_iter=4000).fit(X, y)
    un = net.unlearn(X, y, [0], method="ga")
    rep = kk.verify_unlearning(un, X, y, [0])
    ref = kk.verify_unlearning(un, X, y, [0], original=net)
    assert rep.scale_source == "unlearn_info" and rep.scale == pytest.approx(ref.scale, rel=1e-9)
    assert rep.epsilon == pytest.approx(ref.epsilon, rel=1e-9) and rep.tau == pytest.approx(ref.tau, abs=1e-12)
    assert rep.tau > 0  # the step lowered some retained margin below 1 in the original frame


def test_cosine_similarity():
    rng = np.random.default_rng(0)
    a = kk.TwoLayerReLU(width=4, train_outer=True).set_parameters(rng.standard_normal((4, 7)), rng.standard_normal(4))
    b = kk.TwoLayerReLU(width=4, train_outer=True).set_parameters(rng.standard_normal((4, 7)), rng.standard_normal(4))
    ta = np.concatenate([a.W_.ravel(), a.u_])
    tb = np.concatenate([b.W_.ravel(), b.u_])
    assert kk.cosine_similarity(a, b) == pytest.approx(ta @ tb / np.linalg.norm(ta) / np.linalg.norm(tb), rel=1e-12)
    assert kk.cosine_similarity(a, a) == pytest.approx(1.0)
    c = kk.TwoLayerReLU(width=5).set_parameters(rng.standard_normal((5, 7)))
    with pytest.raises(ValueError, match="architectures"):
        kk.cosine_similarity(a, c)
    with pytest.raises(kk.NotFittedError):
        kk.cosine_similarity(a, kk.TwoLayerReLU(width=4))


def test_report_fields_and_repr():
    X, y = near_orthogonal(12, 40, seed=5)
    net = make_model("relu", dict(width=RELU_WIDTH), "exponential", X, y)
    rep = kk.kkt_report(net, X, y)
    lam, q = np.asarray(rep.lambdas), np.asarray(rep.margins)
    assert rep.delta == pytest.approx((lam * np.maximum(q - 1, 0)).max())
    assert rep.delta_sum == pytest.approx((lam * np.maximum(q - 1, 0)).sum())
    assert rep.min_margin == pytest.approx(1.0) and rep.tau <= 1e-12
    assert rep.epsilon_rel == pytest.approx(rep.epsilon / rep.theta_norm)
    text = repr(rep)
    for key in ("epsilon=", "delta=", "tau=", "n_pinned=", "scale="):
        assert key in text
    with pytest.raises(Exception):
        rep.epsilon = 0.0  # frozen
    with pytest.raises(ValueError):
        rep.lambdas[0] = 1.0  # read-only array
    # labels given as another pair of classes are mapped like the model's
    net2 = kk.TwoLayerReLU(width=RELU_WIDTH, random_state=3, init_scale=0.3, max_iter=150).fit(X, np.where(y > 0, "b", "a"))
    r2 = kk.kkt_report(net2, X, np.where(y > 0, "b", "a"))
    assert r2.epsilon == pytest.approx(rep.epsilon, rel=1e-12)


# ----------------------------------------------------------------------------------------- (e) bad input
def test_bad_input_errors():
    X, y = near_orthogonal(12, 40, seed=5)
    net = make_model("relu", dict(width=RELU_WIDTH), "exponential", X, y)
    with pytest.raises(kk.NotFittedError):
        kk.kkt_multipliers(kk.TwoLayerReLU(), X, y)
    with pytest.raises(kk.NotFittedError):
        kk.verify_unlearning(kk.LinearModel(), X, y, [0])
    with pytest.raises(TypeError):
        kk.kkt_multipliers("not a model", X, y)
    with pytest.raises(ValueError, match="features"):
        kk.kkt_multipliers(net, X[:, :30], y)
    with pytest.raises(ValueError, match="labels"):
        kk.kkt_multipliers(net, X, y[:-1])
    with pytest.raises(ValueError):
        kk.kkt_multipliers(net, X, np.where(y > 0, 2.0, 0.0))
    with pytest.raises(ValueError, match="method"):
        kk.kkt_multipliers(net, X, y, method="magic")
    with pytest.raises(ValueError, match="LinearModel"):
        kk.kkt_multipliers(net, X, y, method="closed_form")
    with pytest.raises(ValueError, match="subgradient_tol"):
        kk.kkt_multipliers(net, X, y, subgradient_tol=-1.0)
    with pytest.raises(ValueError, match="scale"):
        kk.kkt_multipliers(net, X, y, scale=0.0)
    with pytest.raises(ValueError, match="tol"):
        kk.kkt_multipliers(net, X, y, tol=float("nan"))
    # a model that does not fit the data cannot be normalized
    rng = np.random.default_rng(0)
    unfit = kk.TwoLayerReLU(width=6).set_parameters(rng.standard_normal((6, 40)))
    with pytest.raises(kk.NotSeparableError, match="min margin"):
        kk.kkt_report(unfit, X, y)
    assert kk.kkt_report(unfit, X, y, scale=1.0).tau > 1.0  # measurable against a given scale
    # forget indices
    for bad, msg in (([12], "out of range"), ([-1], "out of range"), ([1, 1], "repeated"), ([], "empty"),
                     (list(range(12)), "every data point")):
        with pytest.raises(ValueError, match=msg):
            kk.verify_unlearning(net, X, y, bad)
    with pytest.raises(TypeError):
        kk.verify_unlearning(net, X, y, [0.5])
    with pytest.raises(ValueError):
        kk.verify_unlearning(net, X, y, [0], epsilon=-1.0)
    m = kk.kkt_multipliers(net, X, y)
    with pytest.raises(ValueError, match="lambdas"):
        kk.kkt_report(net, X[:-1], y[:-1], multipliers=m)
    with pytest.raises(TypeError):
        kk.kkt_report(net, X, y, multipliers=np.ones(12))
    with pytest.raises(ValueError):
        kk.kkt_multipliers(net, X, y, n_threads=0)


def _clarke_solve(X, y, W, u, slope, subgradient_tol, n_threads):
    """The core's Clarke QP at scale 1 (fixed u), solved to 1e-12."""
    o = _core.KKTOptions()
    o.method, o.subgradient_tol, o.tol, o.scale = "nnls", subgradient_tol, 1e-12, 1.0
    return _core.kkt_solve(X, y, W, u, slope, False, o, n_threads)


@pytest.mark.parametrize("slope", [0.0, 0.1])
@pytest.mark.parametrize("dup", [False, True])
def test_clarke_qp_medium_scale_optimal_and_thread_independent(dup, slope):
    """The Clarke QP at a size where its subproblem takes the blocked paths (f > 128 free multipliers: a
    multi-panel Cholesky of the f x f Schur complement; hundreds of free pairs eliminated neuron by neuron, on
    each neuron's support: for the ReLU about half of F, one product per neuron; for the leaky ReLU most of
    F, one product per group of neurons), checked against the QP's KKT conditions on the explicit columns
    (numpy), bit-identical for 1, 2 and 3 threads. With duplicated rows, a neuron's K_MM is singular and
    takes the complete orthogonal fallback."""
    rng = np.random.default_rng(5)
    n, d, m = 240, 60, 16
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    if dup:
        X = np.vstack([X, X[:6]])
        y = np.concatenate([y, y[:6]])
        n = X.shape[0]
    W = rng.standard_normal((m, d))
    u = np.where(np.arange(m) % 2 == 0, 1.0, -1.0) / np.sqrt(m)
    tol = 0.5

    def solve(nt):
        return _clarke_solve(X, y, W, u, slope, tol, nt)

    r1, r2, r3 = solve(1), solve(2), solve(3)
    assert r1.converged and r1.clarke_converged
    pairs = [tuple(p) for p in r1.pinned]
    assert len(pairs) > 1400
    lam, mu = np.asarray(r1.lambdas), np.asarray(r1.mu)
    assert np.count_nonzero(lam) > 128
    for r in (r2, r3):
        np.testing.assert_array_equal(r.lambdas, r1.lambdas)
        np.testing.assert_array_equal(r.mu, r1.mu)
        assert r.epsilon == r1.epsilon
    pi = np.array([p[0] for p in pairs])
    assert (lam >= 0).all() and (mu >= slope * lam[pi] * (1 - 1e-12) - 1e-12).all() and (mu <= lam[pi] * (1 + 1e-12) + 1e-12).all()
    assert ((mu > slope * lam[pi] + 1e-9 * lam.max()) & (mu < lam[pi] * (1 - 1e-9))).sum() > 200  # free pairs at the optimum
    A = clarke_columns(X, y, W, u, slope, False, pairs)
    theta = theta_vec(W, u, False)
    assert r1.epsilon == pytest.approx(np.linalg.norm(theta - A @ np.concatenate([lam, mu])), rel=1e-9)
    assert clarke_kkt_violation(A, theta, lam, mu, pairs, slope, n) <= 1e-8
    assert r1.epsilon <= r1.epsilon_plain * (1 + 1e-12)
    if dup:
        assert r1.n_fallback > 0


@pytest.mark.parametrize("slope", [0.0, 0.2])
def test_clarke_qp_more_free_pairs_than_the_data_rank(slope):
    """n > d: a neuron's free pairs outnumber the rank of their rows, K_MM is singular and takes the pivoted
    Cholesky (its share of the Schur complement read off the pivot rows, mu the minimum-norm solution). The
    result must still satisfy the Clarke QP's KKT conditions on the explicit columns, for any thread count."""
    rng = np.random.default_rng(11)
    n, d, m = 150, 6, 8
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    W = rng.standard_normal((m, d))
    u = np.where(np.arange(m) % 2 == 0, 1.0, -1.0) / np.sqrt(m)

    def solve(nt):
        return _clarke_solve(X, y, W, u, slope, 0.6, nt)

    r1, r2 = solve(1), solve(2)
    assert r1.converged and r1.clarke_converged and r1.n_fallback > 0
    np.testing.assert_array_equal(r2.lambdas, r1.lambdas)
    np.testing.assert_array_equal(r2.mu, r1.mu)
    pairs = [tuple(p) for p in r1.pinned]
    per_neuron = np.bincount([p[1] for p in pairs], minlength=m)
    assert per_neuron.max() > 3 * d  # more pinned pairs in a neuron than the rank of their rows
    lam, mu = np.asarray(r1.lambdas), np.asarray(r1.mu)
    A = clarke_columns(X, y, W, u, slope, False, pairs)
    theta = theta_vec(W, u, False)
    assert r1.epsilon == pytest.approx(np.linalg.norm(theta - A @ np.concatenate([lam, mu])), rel=1e-9)
    assert clarke_kkt_violation(A, theta, lam, mu, pairs, slope, n) <= 1e-8
    assert r1.epsilon <= r1.epsilon_plain * (1 + 1e-12)


def test_clarke_qp_duplicated_free_pair_splits_evenly():
    """A point whose pinned pair is free at the optimum, duplicated: the optimal epsilon is unchanged (the
    columns are the same set), and the canonical (minimum-norm) multipliers split lambda_i and mu_ij evenly
    between the two copies. At that state K_MM holds two equal rows (singular), so mu comes from the
    pivoted Cholesky's minimum-norm solution."""
    rng = np.random.default_rng(1)
    n, d, m = 40, 30, 4
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    W = rng.standard_normal((m, d))
    u = np.where(np.arange(m) % 2 == 0, 1.0, -1.0) / np.sqrt(m)

    def solve(X, y):
        return _clarke_solve(X, y, W, u, 0.0, 0.4, 1)

    r = solve(X, y)
    lam, mu, P = np.asarray(r.lambdas), np.asarray(r.mu), [tuple(p) for p in r.pinned]
    free = [k for k, (i, j) in enumerate(P) if 1e-6 * lam.max() < mu[k] < lam[i] * (1 - 1e-6)]
    assert free
    i, j = P[free[0]]
    r2 = solve(np.vstack([X, X[i:i + 1]]), np.concatenate([y, y[i:i + 1]]))
    lam2, mu2, P2 = np.asarray(r2.lambdas), np.asarray(r2.mu), [tuple(p) for p in r2.pinned]
    assert r2.n_fallback > 0 and r2.clarke_converged
    assert r2.epsilon == pytest.approx(r.epsilon, rel=1e-12)
    assert lam2[i] == pytest.approx(lam[i] / 2, rel=1e-9) and lam2[n] == pytest.approx(lam[i] / 2, rel=1e-9)
    a, b = P2.index((i, j)), P2.index((n, j))
    assert mu2[a] == pytest.approx(mu[free[0]] / 2, rel=1e-9) and mu2[b] == pytest.approx(mu[free[0]] / 2, rel=1e-9)

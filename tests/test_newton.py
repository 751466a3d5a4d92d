"""Newton-family unlearning steps against dense p x p computations written here in numpy.

F(theta) = (1/n_r) sum_{i retained} l(y_i N(x_i)) + (l2/2) ||theta||^2; the reference forms the per-example
Jacobian J (n_r x p), H = J^T diag(l''(q)/n_r) J (+ the cross block d^2N/(du_j dw_j) = sigma'(z_ij) x_i
weighted by l'(q_i) y_i / n_r when u is trained) + l2 I, and g = J^T (l'(q) y / n_r) + l2 theta.
"""

import warnings

import numpy as np
import pytest
from scipy.optimize import brentq

import kktunlearn as kk
from kktunlearn import _core
from kktunlearn.datasets import near_orthogonal


def act(z, a):
    return np.where(z > 0, z, a * z)


def dact(z, a):
    return np.where(z > 0, 1.0, a)


def loss_derivs(q, loss):
    if loss == "exponential":
        e = np.exp(-q)
        return e, -e, e
    s = 1.0 / (1.0 + np.exp(q))
    return np.log1p(np.exp(-q)), -s, s * (1 - s)


def dense_problem(model, X, y, l2=0.0):
    W, u, a = model.W_.astype(float), model.u_.astype(float), model.slope_
    tu = model.train_outer_
    n, d = X.shape
    m = W.shape[0]
    Z = X @ W.T
    q = y * (act(Z, a) @ u)
    l, l1, l2d = loss_derivs(q, model.loss)
    c, D = l1 * y / n, l2d / n
    S = dact(Z, a)
    J = (u[None, :, None] * S[:, :, None] * X[:, None, :]).reshape(n, m * d)
    if tu:
        J = np.hstack([J, act(Z, a)])
    theta = np.concatenate([W.ravel(), u]) if tu else W.ravel()
    g = J.T @ c + l2 * theta
    H = J.T @ (D[:, None] * J) + l2 * np.eye(J.shape[1])
    if tu:
        for j in range(m):
            col = (c * S[:, j]) @ X
            H[j * d:(j + 1) * d, m * d + j] += col
            H[m * d + j, j * d:(j + 1) * d] += col
    return l.mean() + 0.5 * l2 * theta @ theta, g, H


def ref_cubic(H, g, M):
    lam, U = np.linalg.eigh(H)
    b = U.T @ g
    gmin = max(0.0, -lam[0])
    psi = lambda gam: np.linalg.norm(b / (lam + gam)) - 2 * gam / M  # noqa: E731
    hi = 0.5 * (-lam[0] + np.sqrt(lam[0] ** 2 + 2 * M * np.linalg.norm(g)))
    lo = gmin + 1e-14 * max(1.0, gmin)
    while psi(lo) <= 0:
        lo = gmin + (lo - gmin) * 1e-3
    gam = brentq(psi, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
    return U @ (-b / (lam + gam)), gam


def ref_step(method, H, g, opts):
    p = len(g)
    if method == "damped_newton":
        return -np.linalg.solve(H + opts["damping"] * np.eye(p), g)
    if method == "pinv_newton":
        return -np.linalg.pinv(H, rcond=opts["rcond"], hermitian=True) @ g
    if method == "newton":
        return -np.linalg.solve(H, g)
    return ref_cubic(H, g, opts["M"])[0]


OPTS = {"damped_newton": {"damping": 1e-2}, "pinv_newton": {"rcond": 1e-10}, "cure_newton": {"M": 0.5}}


def small_data():
    rng = np.random.default_rng(1)
    n, d = 10, 20
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    return X, y


def small_model(kind, X, y, dtype=np.float64):
    common = dict(max_iter=20, loss="logistic", normalized_gd=False, lr=1.0, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kk.ConvergenceWarning)  # a partly trained model: l'' not negligible
        if kind == "linear":
            return kk.LinearModel(**common).fit(X, y)
        return kk.TwoLayerReLU(width=3, random_state=0, init_scale=0.3, train_outer=(kind == "trained_u"),
                               leaky_slope=0.1 if kind == "leaky" else 0.0, **common).fit(X, y)


def rel_err(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.mark.parametrize("kind", ["linear", "relu", "leaky"])
@pytest.mark.parametrize("l2", [0.0, 0.05])
@pytest.mark.parametrize("method", sorted(OPTS))
def test_lowrank_step_equals_dense(kind, l2, method):
    X, y = small_data()
    model = small_model(kind, X, y)
    keep = np.arange(1, len(y))
    _, g, H = dense_problem(model, X[keep], y[keep], l2)
    ref = ref_step(method, H, g, OPTS[method])
    out = model.unlearn(X, y, [0], method=method, l2=l2, **OPTS[method])
    assert out.unlearn_info_["solver"] == "lowrank"
    step = out.params() - model.params()
    assert rel_err(step, ref) < 1e-8
    assert out.unlearn_info_["step_norm"] == pytest.approx(np.linalg.norm(ref), rel=1e-8)
    assert out.unlearn_info_["steps"][0]["step_norm"] == pytest.approx(np.linalg.norm(ref), rel=1e-8)
    # the recorded pre-activation shift is max_{i retained, j} |<w_j^- - w_j, x_i>|
    dW = out.W_ - model.W_
    assert out.unlearn_info_["preact_shift"] == pytest.approx(np.abs(X[keep] @ dW.T).max(), rel=1e-8)
    if method == "cure_newton":
        gam = out.unlearn_info_["gamma"][0]
        assert gam == pytest.approx(OPTS[method]["M"] * np.linalg.norm(ref) / 2, rel=1e-8)


@pytest.mark.parametrize("kind", ["linear", "relu"])
def test_lowrank_two_steps_follow_dense_iteration(kind):
    X, y = small_data()
    model = small_model(kind, X, y)
    keep = np.arange(2, len(y))
    cur = model
    for _ in range(2):
        _, g, H = dense_problem(cur, X[keep], y[keep], 0.03)
        s = ref_cubic(H, g, 0.7)[0]
        cur = cur._with_params(cur.W_ + s.reshape(cur.W_.shape), cur.u_)
    out = model.unlearn(X, y, [0, 1], method="cure_newton", M=0.7, l2=0.03, n_steps=2)
    assert rel_err(out.params() - model.params(), cur.params() - model.params()) < 1e-8
    assert out.unlearn_info_["n_iter"] == 2 and len(out.unlearn_info_["steps"]) == 2


@pytest.mark.parametrize("l2", [0.0, 0.05])
@pytest.mark.parametrize("method", sorted(OPTS))
@pytest.mark.parametrize("solver", ["dense", "krylov"])
def test_trained_outer_layer_dense_and_krylov(l2, method, solver):
    X, y = small_data()
    model = small_model("trained_u", X, y)
    keep = np.arange(1, len(y))
    _, g, H = dense_problem(model, X[keep], y[keep], l2)
    assert np.linalg.eigvalsh(H)[0] < 0 or l2 > 0  # the cross block makes H indefinite
    ref = ref_step(method, H, g, OPTS[method])
    out = model.unlearn(X, y, [0], method=method, l2=l2, solver=solver, krylov_dim=len(g), krylov_tol=1e-12,
                        **OPTS[method])
    assert out.unlearn_info_["solver"] == solver
    assert rel_err(out.params() - model.params(), ref) < 1e-8


def test_auto_solver_choice():
    X, y = small_data()
    model = small_model("trained_u", X, y)  # p = 3 * 20 + 3 = 63
    assert model.unlearn(X, y, 0, method="cure_newton").unlearn_info_["solver"] == "dense"
    out = model.unlearn(X, y, 0, method="cure_newton", dense_max_params=10)
    assert out.unlearn_info_["solver"] == "krylov"
    with pytest.raises(ValueError, match="dense_max_params"):
        model.unlearn(X, y, 0, method="cure_newton", solver="dense", dense_max_params=10)
    with pytest.raises(ValueError, match="lowrank"):
        model.unlearn(X, y, 0, method="cure_newton", solver="lowrank")
    assert small_model("relu", X, y).unlearn(X, y, 0, method="cure_newton").unlearn_info_["solver"] == "lowrank"


@pytest.mark.parametrize("kind", ["relu", "trained_u"])
def test_hvp_matches_finite_differences_of_the_gradient(kind):
    X, y = small_data()
    model = small_model(kind, X, y)
    rng = np.random.default_rng(0)
    v = rng.standard_normal(model.n_params())
    l2 = 0.1
    g, Hv = _core.retained_hvp(X, y, model.W_, model.u_, model.slope_, model.train_outer_, model.loss, l2, v)
    theta = model.params()
    m, d = model.W_.shape

    def grad_at(th):
        W = th[:m * d].reshape(m, d)
        u = th[m * d:] if model.train_outer_ else model.u_
        return model._with_params(W, u).loss_gradient(X, y) + l2 * th

    eps = 1e-6
    fd = (grad_at(theta + eps * v) - grad_at(theta - eps * v)) / (2 * eps)
    np.testing.assert_allclose(g, grad_at(theta), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(Hv, fd, rtol=1e-5, atol=1e-7 * np.abs(fd).max())


def test_plain_newton_singular_and_regularized():
    X, y = small_data()
    model = small_model("relu", X, y)
    with pytest.raises(_core.NumericalError, match="singular"):
        model.unlearn(X, y, [0], method="newton")
    with pytest.raises(ArithmeticError):
        small_model("trained_u", X, y).unlearn(X, y, [0], method="newton", solver="krylov")
    keep = np.arange(1, len(y))
    _, g, H = dense_problem(model, X[keep], y[keep], 0.05)
    out = model.unlearn(X, y, [0], method="newton", l2=0.05)
    assert rel_err(out.params() - model.params(), -np.linalg.solve(H, g)) < 1e-8


def test_pinv_and_damped_steps_are_far_larger_than_cubic_on_a_trained_network():
    # the Newton paper's headline (newton spec 2.3): near-degenerate, indefinite Hessian of a trained net
    X, y = near_orthogonal(20, 100, seed=0)
    net = kk.TwoLayerReLU(width=8, random_state=0, train_outer=True, init_scale=0.1, normalized_gd=False, lr=1.0,
                          max_iter=2000).fit(X, y)
    norms = {}
    for method, opts in [("pinv_newton", {}), ("damped_newton", {"damping": 1e-4}), ("cure_newton", {"M": 1.0})]:
        out = net.unlearn(X, y, [0], method=method, **opts)
        assert out.unlearn_info_["solver"] == "dense"
        norms[method] = out.unlearn_info_["step_norm"]
        lam_min = out.unlearn_info_["steps"][0]["lam_min"]
    assert lam_min < 0  # indefinite
    assert norms["pinv_newton"] > 10 * norms["cure_newton"]
    assert norms["damped_newton"] > 10 * norms["cure_newton"]


def test_scure_newton_matches_numpy_iteration():
    # full batches and sigma = 0: SCureNewton is deterministic; reproduce Cauchy point + inner GD in numpy
    X, y = small_data()
    for kind in ["relu", "trained_u"]:
        model = small_model(kind, X, y)
        keep = np.arange(1, len(y))
        M, lr, n_inner = 2.0, 0.5, 4
        cur = model
        for _ in range(2):
            _, g, H = dense_problem(cur, X[keep], y[keep], 0.0)
            gn = np.linalg.norm(g)
            kappa = g @ H @ g / (M * gn ** 2)
            delta = -(-kappa + np.sqrt(kappa ** 2 + 2 * gn / M)) * g / gn
            for _ in range(n_inner):
                delta = delta - lr * (g + H @ delta + 0.5 * M * np.linalg.norm(delta) * delta)
            m, d = cur.W_.shape
            u = cur.u_ + delta[m * d:] if cur.train_outer_ else cur.u_
            cur = cur._with_params(cur.W_ + delta[:m * d].reshape(m, d), u)
        out = model.unlearn(X, y, [0], method="scure_newton", M=M, lr=lr, sigma=0.0, n_inner=n_inner, n_outer=2,
                            batch_grad=100, batch_hess=100)
        assert out.unlearn_info_["batch_grad"] == len(keep)
        assert rel_err(out.params() - model.params(), cur.params() - model.params()) < 1e-8


def test_scure_newton_seeded():
    X, y = small_data()
    model = small_model("relu", X, y)
    kw = dict(method="scure_newton", batch_grad=4, batch_hess=3, sigma=0.1, n_outer=3)
    a = model.unlearn(X, y, [0], random_state=1, **kw)
    b = model.unlearn(X, y, [0], random_state=1, **kw)
    c = model.unlearn(X, y, [0], random_state=2, **kw)
    np.testing.assert_array_equal(a.W_, b.W_)
    assert not np.array_equal(a.W_, c.W_)
    assert len(a.unlearn_info_["steps"]) == 3


def test_float32_model_lowrank():
    X, y = small_data()
    m64 = small_model("relu", X, y)
    m32 = small_model("relu", X, y, dtype=np.float32)
    s64 = m64.unlearn(X, y, [0], method="cure_newton", M=0.5).params() - m64.params()
    out32 = m32.unlearn(X, y, [0], method="cure_newton", M=0.5)
    assert out32.W_.dtype == np.float32
    assert rel_err(out32.params() - m32.params(), s64) < 1e-3


def test_newton_bad_options():
    X, y = small_data()
    model = small_model("relu", X, y)
    with pytest.raises(ValueError, match="M"):
        model.unlearn(X, y, [0], method="cure_newton", M=0.0)
    with pytest.raises(ValueError, match="damping"):
        model.unlearn(X, y, [0], method="damped_newton", damping=-1.0)
    with pytest.raises(ValueError, match="solver"):
        model.unlearn(X, y, [0], method="cure_newton", solver="magic")
    with pytest.raises(TypeError, match="unknown option"):
        model.unlearn(X, y, [0], method="cure_newton", damping=1.0)
    with pytest.raises(TypeError, match="n_steps"):
        model.unlearn(X, y, [0], method="pinv_newton", n_steps=1.5)


def test_krylov_truncated_warns():
    X, y = small_data()
    model = small_model("trained_u", X, y)
    with pytest.warns(kk.ConvergenceWarning, match="krylov_dim"):
        out = model.unlearn(X, y, [0], method="cure_newton", solver="krylov", krylov_dim=3)
    assert out.unlearn_info_["krylov_converged"] is False
    full = model.unlearn(X, y, [0], method="cure_newton", solver="krylov", krylov_dim=200)
    assert full.unlearn_info_["krylov_converged"] is True

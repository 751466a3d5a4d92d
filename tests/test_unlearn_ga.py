"""A_GA (KKT-scaled gradient ascent) against KKT quantities computed here with scipy's NNLS.

The multipliers are fitted in the test on the normalized model theta = theta_raw / q_min (GA spec 9.1,
including the Clarke relaxation of 9.4 with its span reduction), independently of kktunlearn.kkt.
"""

from types import SimpleNamespace

import numpy as np
import pytest
from scipy.optimize import nnls

import kktunlearn as kk
from kktunlearn.datasets import near_orthogonal


def linear_multipliers(model, X, y):
    w = model.coef_
    s = float((y * (X @ w)).min())
    lam, eps0 = nnls((y[:, None] * X).T, w / s)
    return SimpleNamespace(lambdas=lam, scale=s, pinned=np.zeros((0, 2), dtype=np.int64), mu=np.zeros(0),
                           epsilon=eps0, method="test-nnls")


def clarke_nnls(W, u, X, y, tol, slope=0.0):
    """min_{lam, mu >= 0} ||W - sum_i y_i sum_j c_ij u_j x_i e_j^T|| for a normalized fixed-u network:
    c_ij = lam_i sigma'(z_ij) for |z_ij| > tol, c_ij = mu_ij (free, >= 0) for the pinned pairs |z_ij| <= tol.
    Solved in the span of the x_i: w_j = X^T a_j + w_perp_j, ||X^T v|| = ||R v|| with X X^T = R^T R."""
    n, m = X.shape[0], W.shape[0]
    G = X @ X.T
    R = np.linalg.cholesky(G).T
    Z = X @ W.T
    A = np.linalg.solve(G, Z)
    perp2 = np.linalg.norm(W - (X.T @ A).T) ** 2
    b = (R @ A).T.ravel()
    pinned = np.argwhere(np.abs(Z) <= tol)
    cols = []
    for i in range(n):
        ind = np.where(Z[i] > tol, 1.0, np.where(Z[i] < -tol, slope, 0.0))
        cols.append((R[:, i][None, :] * (u * y[i] * ind)[:, None]).ravel())
    for i, j in pinned:
        c = np.zeros((m, n))
        c[j] = R[:, i] * u[j] * y[i]
        cols.append(c.ravel())
    coef, res = nnls(np.stack(cols, axis=1), b, maxiter=50 * len(cols))
    return float(np.sqrt(perp2 + res ** 2)), coef[:n], pinned, coef[n:]


def network_multipliers(model, X, y, tol):
    s = float(model.margins(X, y).min())
    eps, lam, pinned, mu = clarke_nnls(model.W_ / s, model.u_, X, y, tol, model.slope_)
    return SimpleNamespace(lambdas=lam, scale=s, pinned=pinned, mu=mu, epsilon=eps, method="test-nnls")


def cosine(a, b):
    a, b = a.params(), b.params()
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def linear_setting():
    X, y = near_orthogonal(20, 1000, seed=0)
    model = kk.LinearModel().fit(X, y)
    return X, y, model, linear_multipliers(model, X, y)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 0.9, 1.0, 1.25, 2.0])
def test_ga_linear_epsilon_formula(linear_setting, alpha):
    # spec 7.3: with the multipliers of S kept, theta^- - sum_{i != r} lam_i y_i x_i = (1 - alpha) lam_r y_r x_r + v0
    X, y, model, mult = linear_setting
    r = 3
    keep = np.delete(np.arange(len(y)), r)
    out = kk.unlearn(model, X, y, r, method="ga", multipliers=mult, step_scale=alpha)
    info = out.unlearn_info_
    s = info["scale"]
    assert s == pytest.approx(mult.scale)
    theta = out.coef_ / s
    A = (y[:, None] * X).T
    lam = mult.lambdas
    pred = abs(1 - alpha) * lam[r] * np.linalg.norm(X[r])
    eps_fixed = np.linalg.norm(theta - A[:, keep] @ lam[keep])
    assert abs(eps_fixed - pred) <= mult.epsilon + 1e-10
    # refitting the multipliers on the retained set can only explain the part of x_r in span{x_i, i retained}
    eps_refit = nnls(A[:, keep], theta)[1]
    Q, _ = np.linalg.qr(X[keep].T)
    perp = np.linalg.norm(X[r] - Q @ (Q.T @ X[r]))
    assert abs(1 - alpha) * lam[r] * perp - mult.epsilon - 1e-9 <= eps_refit <= pred + mult.epsilon + 1e-9
    # the raw step is alpha * s * lam_r * y_r * x_r and nothing else
    np.testing.assert_allclose(model.coef_ - out.coef_, alpha * s * lam[r] * y[r] * X[r], rtol=1e-12, atol=1e-12)
    assert info["step_norm"] == pytest.approx(alpha * s * lam[r] * np.linalg.norm(X[r]), rel=1e-12)
    assert info["preact_shift"] == pytest.approx(np.abs(X[keep] @ (out.coef_ - model.coef_)).max(), rel=1e-10)


def test_ga_linear_close_to_retrained(linear_setting):
    X, y, model, mult = linear_setting
    retrained = kk.unlearn(model, X, y, [0], method="retrain")
    ga = kk.unlearn(model, X, y, [0], method="ga", multipliers=mult)
    before = cosine(model, retrained)
    after = cosine(ga, retrained)
    assert after > 0.999
    assert after > before
    # and the cosine is largest at step_scale = 1 among a few scales
    cos = {a: cosine(kk.unlearn(model, X, y, [0], method="ga", multipliers=mult, step_scale=a), retrained)
           for a in (0.5, 1.0, 1.5)}
    assert cos[1.0] > max(cos[0.5], cos[1.5])


def test_ga_linear_forget_set_removes_all_terms(linear_setting):
    X, y, model, mult = linear_setting
    F = [1, 4, 7]
    out = kk.unlearn(model, X, y, F, method="ga", multipliers=mult)
    s = mult.scale
    expect = model.coef_ - s * ((mult.lambdas[F] * y[F]) @ X[F])
    np.testing.assert_allclose(out.coef_, expect, rtol=1e-12, atol=1e-12)
    keep = np.setdiff1d(np.arange(len(y)), F)
    eps = np.linalg.norm(out.coef_ / s - (y[keep, None] * X[keep]).T @ mult.lambdas[keep])
    assert eps <= mult.epsilon + 1e-10


def test_ga_leaves_original_untouched_and_records_info(linear_setting):
    X, y, model, mult = linear_setting
    before = model.coef_.copy()
    out = model.unlearn(X, y, [2], method="ga", multipliers=mult, step_scale=0.5)
    np.testing.assert_array_equal(model.coef_, before)
    assert out is not model and not hasattr(model, "unlearn_info_")
    info = out.unlearn_info_
    for key in ("method", "options", "step_norm", "time", "n_iter", "preact_shift", "scale", "lambda_forget"):
        assert key in info
    assert info["method"] == "ga" and info["n_iter"] == 1 and info["options"]["step_scale"] == 0.5
    assert info["lambda_forget"][0] == pytest.approx(mult.lambdas[2])


def test_ga_rejects_foreign_multipliers(linear_setting):
    X, y, model, mult = linear_setting
    other = kk.LinearModel(max_iter=50).fit(X, y)
    with pytest.raises(ValueError, match="different model"):
        other.unlearn(X, y, 0, method="ga", multipliers=mult)
    with pytest.raises(ValueError, match="lambdas"):
        model.unlearn(X[:10], y[:10], 0, method="ga", multipliers=mult)
    with pytest.raises(TypeError, match="KKTMultipliers"):
        model.unlearn(X, y, 0, method="ga", multipliers=np.ones(20))
    with pytest.raises(ValueError, match="subgradient"):
        model.unlearn(X, y, 0, method="ga", multipliers=mult, subgradient="exact")


@pytest.fixture(scope="module")
def network_setting():
    # GA spec 7.4 / 7.5 setting B (the tests that need a forgotten point with pinned pairs pick it from the
    # certificate: which points have pairs at the kink depends on the draw)
    X, y = near_orthogonal(20, 1000, seed=1)
    net = kk.TwoLayerReLU(width=100, random_state=1, max_iter=4000).fit(X, y)
    return X, y, net, network_multipliers(net, X, y, 1e-3)


def goldstein_eps(out, X, y, keep):
    info = out.unlearn_info_
    s = info["scale"]
    tol = 1e-3 + info["preact_shift"] / s
    return clarke_nnls(out.W_ / s, out.u_, X[keep], y[keep], tol)[0]


def test_ga_network_clarke_step_minimum_at_one(network_setting):
    X, y, net, mult = network_setting
    # forget the point with the most neuron pairs at the kink (the case the Clarke step is for)
    r = int(np.argmax(np.bincount(mult.pinned[:, 0], minlength=len(y))))
    keep = np.arange(len(y)) != r
    n_pinned_r = int((mult.pinned[:, 0] == r).sum())
    assert n_pinned_r >= 10
    eps = {}
    for a in (0.75, 1.0, 1.25):
        out = net.unlearn(X, y, [r], method="ga", multipliers=mult, step_scale=a)
        assert out.unlearn_info_["n_clarke"] == n_pinned_r
        eps[a] = goldstein_eps(out, X, y, keep)
    assert min(eps, key=eps.get) == 1.0
    # the ideal step preserves stationarity: the retained epsilon equals the original Clarke epsilon
    assert eps[1.0] == pytest.approx(mult.epsilon, rel=0.05, abs=1e-3)
    assert eps[0.75] > 2 * eps[1.0] and eps[1.25] > 2 * eps[1.0]
    # the autograd step (sigma'(0) = 0 drops the pinned pairs of x_0) leaves part of x_0's term behind
    auto = net.unlearn(X, y, [r], method="ga", multipliers=mult, subgradient="autograd")
    assert auto.unlearn_info_["n_clarke"] == 0
    assert goldstein_eps(auto, X, y, keep) > 3 * eps[1.0]


def test_ga_network_step_formula(network_setting):
    # W^- = W - alpha s sum_j c_rj u_j y_r x_r e_j^T with c_rj = lam_r 1[z_rj > 0] or mu for pinned pairs
    X, y, net, mult = network_setting
    out = net.unlearn(X, y, [0], method="ga", multipliers=mult, step_scale=0.7)
    s = mult.scale
    z = X[0] @ net.W_.T
    c = mult.lambdas[0] * (z > 0)
    for (i, j), mu in zip(mult.pinned, mult.mu):
        if i == 0:
            c[j] = mu
    expect = net.W_ - 0.7 * s * y[0] * (c * net.u_)[:, None] * X[0][None, :]
    np.testing.assert_allclose(out.W_, expect, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(out.u_, net.u_)


def test_ga_trained_outer_layer_homogeneity():
    # L = 2: theta_raw^- = s * theta^-, theta^- = theta - lam_r y_r grad N(x_r; theta), theta = theta_raw / s
    X, y = near_orthogonal(20, 100, seed=0)
    net = kk.TwoLayerReLU(width=8, random_state=0, train_outer=True, init_scale=0.1, normalized_gd=False, lr=1.0,
                          max_iter=2000).fit(X, y)
    q = net.margins(X, y)
    s = float(np.sqrt(q.min()))
    lam = np.linspace(0.5, 1.5, len(y))
    mult = SimpleNamespace(lambdas=lam, scale=s, pinned=np.zeros((0, 2), dtype=np.int64), mu=np.zeros(0))
    out = net.unlearn(X, y, [2, 5], method="ga", multipliers=mult, subgradient="autograd")
    Wn, un = net.W_ / s, net.u_ / s
    Wm, um = Wn.copy(), un.copy()
    for r in (2, 5):
        z = Wn @ X[r]
        Wm -= lam[r] * y[r] * ((un * (z > 0))[:, None] * X[r][None, :])
        um -= lam[r] * y[r] * np.maximum(z, 0)
    np.testing.assert_allclose(out.W_, s * Wm, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(out.u_, s * um, rtol=1e-11, atol=1e-12)
    assert out.unlearn_info_["degree"] == 2


def test_ga_default_multipliers_from_kkt_module():
    kkt = pytest.importorskip("kktunlearn.kkt")
    X, y = near_orthogonal(20, 1000, seed=0)
    model = kk.LinearModel().fit(X, y)
    mult = kkt.kkt_multipliers(model, X, y)
    a = model.unlearn(X, y, [0], method="ga")
    b = model.unlearn(X, y, [0], method="ga", multipliers=mult)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10)
    assert a.unlearn_info_["multipliers_computed"] and not b.unlearn_info_["multipliers_computed"]
    ref = linear_multipliers(model, X, y)
    assert mult.lambdas[0] == pytest.approx(ref.lambdas[0], rel=1e-4)

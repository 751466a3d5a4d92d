"""Weight decay (lambda/2 ||theta||^2 on the mean loss): training, finetune / NegGrad+, the Newton family and
the automatic cubic constant, against numpy references written here and finite differences."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import kktunlearn as kk
from kktunlearn import _core


def act(z, a):
    return np.where(z > 0, z, a * z)


def dact(z, a):
    return np.where(z > 0, 1.0, a)


def ell(q, loss):
    """(l, l', l'') of the margin loss."""
    if loss == "exponential":
        e = np.exp(-q)
        return e, -e, e
    s = 1.0 / (1.0 + np.exp(q))
    return np.logaddexp(0.0, -q), -s, s * (1 - s)


class Net:
    """numpy reference of N(x) = sum_j u_j sigma(<w_j, x>) with theta = (W, u if trained) flattened."""

    def __init__(self, m, d, train_outer, slope=0.0, loss="logistic", u=None):
        self.m, self.d, self.to, self.a, self.loss = m, d, train_outer, slope, loss
        self.u = u

    def split(self, th):
        W = th[: self.m * self.d].reshape(self.m, self.d)
        u = th[self.m * self.d:] if self.to else self.u
        return W, u

    def objective(self, th, X, y, lam):
        W, u = self.split(th)
        q = y * (act(X @ W.T, self.a) @ u)
        return ell(q, self.loss)[0].mean() + 0.5 * lam * th @ th

    def gradient(self, th, X, y, lam):
        W, u = self.split(th)
        Z = X @ W.T
        q = y * (act(Z, self.a) @ u)
        c = ell(q, self.loss)[1] * y / len(y)
        gW = (c[:, None] * dact(Z, self.a) * u[None, :]).T @ X
        parts = [gW.ravel()]
        if self.to:
            parts.append(act(Z, self.a).T @ c)
        return np.concatenate(parts) + lam * th


def data(n=12, d=7, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    y[:2] = [1.0, -1.0]
    return X, y


def fit(kind, X, y, lam, max_iter=8, loss="logistic", lr=0.7):
    common = dict(max_iter=max_iter, loss=loss, normalized_gd=False, lr=lr, weight_decay=lam)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kk.ConvergenceWarning)
        if kind == "linear":
            return kk.LinearModel(init_scale=0.2, random_state=1, **common).fit(X, y)
        return kk.TwoLayerReLU(width=4, random_state=0, init_scale=0.5, train_outer=(kind == "trained_u"),
                               leaky_slope=0.1 if kind == "leaky" else 0.0, **common).fit(X, y)


def ref_net(model):
    m, d = model.W_.shape
    return Net(m, d, model.train_outer_, model.slope_, model.loss, u=np.array(model.u_, float))


@pytest.mark.parametrize("kind", ["linear", "relu", "trained_u"])
@pytest.mark.parametrize("loss", ["logistic", "exponential"])
def test_training_with_weight_decay_follows_numpy_gd(kind, loss):
    X, y = data()
    lam, lr, T = 0.3, 0.7, 8
    model = fit(kind, X, y, lam, max_iter=T, loss=loss, lr=lr)
    start = fit(kind, X, y, lam, max_iter=0, loss=loss, lr=lr)
    net = ref_net(start)
    th = start.params()
    for _ in range(T):
        th = th - lr * net.gradient(th, X, y, lam)
    np.testing.assert_allclose(model.params(), th, rtol=1e-11, atol=1e-13)
    assert model.representation_ == "primal"
    # weight decay shrinks the weights relative to the unregularized run
    plain = fit(kind, X, y, 0.0, max_iter=T, loss=loss, lr=lr)
    assert np.linalg.norm(model.params()) < np.linalg.norm(plain.params())


@pytest.mark.parametrize("kind", ["linear", "relu", "leaky", "trained_u"])
def test_gradient_and_hvp_with_weight_decay_vs_numpy_and_finite_differences(kind):
    X, y = data()
    lam = 0.25
    model = fit(kind, X, y, lam)
    net = ref_net(model)
    th = model.params()
    rng = np.random.default_rng(5)
    v = rng.standard_normal(th.size)
    g, Hv = _core.retained_hvp(X, y, model.W_, model.u_, model.slope_, model.train_outer_, model.loss, lam, v)
    # gradient: the independent numpy formula, and central differences of the numpy objective
    np.testing.assert_allclose(g, net.gradient(th, X, y, lam), rtol=1e-12, atol=1e-15)
    eps = 1e-6
    fd_g = np.array([(net.objective(th + eps * e, X, y, lam) - net.objective(th - eps * e, X, y, lam)) / (2 * eps)
                     for e in np.eye(th.size)])
    np.testing.assert_allclose(g, fd_g, rtol=1e-6, atol=1e-8)
    # HVP: central differences of the numpy gradient along v (ReLU patterns fixed at eps = 1e-6)
    fd_h = (net.gradient(th + eps * v, X, y, lam) - net.gradient(th - eps * v, X, y, lam)) / (2 * eps)
    np.testing.assert_allclose(Hv, fd_h, rtol=1e-6, atol=1e-7 * np.abs(fd_h).max())
    # the lambda I part exactly: H(v) at lambda minus H(v) at 0 is lambda v
    _, Hv0 = _core.retained_hvp(X, y, model.W_, model.u_, model.slope_, model.train_outer_, model.loss, 0.0, v)
    np.testing.assert_allclose(Hv - Hv0, lam * v, rtol=1e-12, atol=1e-14)


def dense_H(model, X, y, lam):
    """The p x p Hessian by central differences of the numpy gradient (columns), symmetrized."""
    net = ref_net(model)
    th = model.params()
    eps = 1e-6
    cols = [(net.gradient(th + eps * e, X, y, lam) - net.gradient(th - eps * e, X, y, lam)) / (2 * eps)
            for e in np.eye(th.size)]
    H = np.array(cols).T
    return 0.5 * (H + H.T), net.gradient(th, X, y, lam)


def exact_H(model, X, y, lam):
    """The p x p Hessian column by column from the library's HVP (validated above against numpy)."""
    cols = [_core.retained_hvp(X, y, model.W_, model.u_, model.slope_, model.train_outer_, model.loss, lam, e)[1]
            for e in np.eye(model.n_params())]
    H = np.array(cols).T
    g = _core.retained_hvp(X, y, model.W_, model.u_, model.slope_, model.train_outer_, model.loss, lam,
                           np.zeros(model.n_params()))[0]
    return 0.5 * (H + H.T), g


@pytest.mark.parametrize("kind", ["linear", "relu", "leaky"])
@pytest.mark.parametrize("method,opts", [("pinv_newton", {"rcond": 1e-12}), ("damped_newton", {"damping": 1e-2}),
                                         ("newton", {}), ("cure_newton", {"M": 0.8})])
def test_woodbury_lowrank_step_with_weight_decay_equals_dense_solve(kind, method, opts):
    """The low-rank path (basis [J^T, theta]: the lambda theta part of g lies outside the span of the
    retained rows) against the dense p x p solve, to 1e-8; the model's weight_decay is the default."""
    X, y = data(n=10, d=30)  # p = 4 * 30 = 120 > n_r = 9: the data span alone is rank-deficient
    lam = 0.05
    model = fit(kind, X, y, lam)
    keep = np.arange(1, len(y))
    H, g = exact_H(model, X[keep], y[keep], lam)
    if method == "pinv_newton":
        ref = -np.linalg.pinv(H, rcond=opts["rcond"], hermitian=True) @ g
    elif method == "damped_newton":
        ref = -np.linalg.solve(H + opts["damping"] * np.eye(len(g)), g)
    elif method == "newton":
        ref = -np.linalg.solve(H, g)
    else:
        from kktunlearn.unlearning import solve_cubic

        ref = solve_cubic(H, g, opts["M"])["s"]
    out = model.unlearn(X, y, [0], method=method, **opts)
    assert out.unlearn_info_["solver"] == "lowrank"
    assert out.unlearn_info_["weight_decay"] == lam
    step = out.params() - model.params()
    assert np.linalg.norm(step - ref) <= 1e-8 * np.linalg.norm(ref)
    # the theta component: the step is NOT in the row span of X_R alone (W0 is random)
    if kind != "linear":
        Q, _ = np.linalg.qr(X[keep].T)
        dW = step.reshape(model.W_.shape)
        assert np.linalg.norm(dW - (dW @ Q) @ Q.T) > 1e-6 * np.linalg.norm(dW)
    # explicit weight_decay overrides the model's; l2 is the same option under its older name
    if method == "newton":  # without weight decay the Hessian is singular (p > n_r)
        with pytest.raises(_core.NumericalError, match="singular"):
            model.unlearn(X, y, [0], method=method, weight_decay=0.0)
        return
    a = model.unlearn(X, y, [0], method=method, weight_decay=0.0, **opts)
    b = model.unlearn(X, y, [0], method=method, l2=0.0, **opts)
    np.testing.assert_array_equal(a.params(), b.params())
    assert not np.allclose(a.params(), out.params())
    with pytest.raises(ValueError, match="only one"):
        model.unlearn(X, y, [0], method=method, l2=0.1, weight_decay=0.2, **opts)


def test_lowrank_with_weight_decay_at_large_p_solves_the_newton_system():
    """p = 4 x 50000: never a p x p matrix; the step satisfies g + H s = 0 checked with two HVPs."""
    rng = np.random.default_rng(0)
    n, d = 20, 50_000
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    lam = 1e-2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kk.ConvergenceWarning)
        model = kk.TwoLayerReLU(width=4, random_state=0, init_scale=0.1, loss="logistic", normalized_gd=False,
                                lr=1.0, max_iter=10, weight_decay=lam).fit(X, y)
    out = model.unlearn(X, y, [0, 1], method="newton")
    keep = np.arange(2, n)
    s = out.params() - model.params()
    g, Hs = _core.retained_hvp(X[keep], y[keep], model.W_, model.u_, model.slope_, False, model.loss, lam, s)
    assert np.linalg.norm(g + Hs) <= 1e-9 * np.linalg.norm(g)


@pytest.mark.parametrize("kind", ["relu", "trained_u"])
@pytest.mark.parametrize("method", ["finetune", "neggrad_plus"])
def test_finetune_and_neggrad_plus_with_weight_decay_follow_numpy(kind, method):
    X, y = data()
    lam, lr, T = 0.2, 0.5, 4
    model = fit(kind, X, y, lam)
    net = ref_net(model)
    forget = np.array([0, 3])
    keep = np.setdiff1d(np.arange(len(y)), forget)
    th = model.params()
    for _ in range(T):
        g = net.gradient(th, X[keep], y[keep], lam)
        if method == "neggrad_plus":
            g = g - net.gradient(th, X[forget], y[forget], 0.0)
        th = th - lr * g
    out = model.unlearn(X, y, forget, method=method, n_steps=T, lr=lr)
    assert out.unlearn_info_["weight_decay"] == lam and out.unlearn_info_["normalized"] is False
    np.testing.assert_allclose(out.params(), th, rtol=1e-11, atol=1e-13)
    with pytest.raises(_core.NumericalError, match="weight_decay"):
        model.unlearn(X, y, forget, method=method, n_steps=2, lr=10.0)


def test_scure_newton_uses_the_weight_decay():
    X, y = data(n=30)
    model = fit("trained_u", X, y, 0.1)
    a = model.unlearn(X, y, [0], method="scure_newton", batch_grad=8, batch_hess=4, n_outer=3)
    b = model.unlearn(X, y, [0], method="scure_newton", batch_grad=8, batch_hess=4, n_outer=3, weight_decay=0.0)
    assert a.unlearn_info_["weight_decay"] == 0.1 and b.unlearn_info_["weight_decay"] == 0.0
    assert not np.allclose(a.params(), b.params())
    st = a.unlearn_info_["steps"][0]
    assert st["gamma"] == pytest.approx(0.5 * a.unlearn_info_["M"] * st["step_norm"])


@pytest.mark.parametrize("kind", ["relu", "trained_u"])
@pytest.mark.parametrize("M_init", [1e-4, 1e4])
def test_auto_M_rule(kind, M_init):
    """M='auto': the accepted M passes both tests (rho >= 0.1, Lipschitz estimate <= M), and from a large
    start it shrinks (to max(2 L_hat, M/4)) while it stays more than twice the estimate."""
    X, y = data(n=16, d=6)
    lam = 1e-2
    model = fit(kind, X, y, lam, max_iter=30)
    out = model.unlearn(X, y, [0, 1], method="cure_newton", M="auto", M_init=M_init, n_steps=2)
    info = out.unlearn_info_
    assert info["M_rule"] == "auto" and len(info["M"]) == 2 and len(info["M_auto"]) == 2
    keep = np.arange(2, len(y))
    for rec in info["M_auto"]:
        assert rec["accepted"]
        assert rec["rho"] >= 0.1 and rec["lipschitz"] <= rec["M"]
        assert rec["n_tries"] == len(rec["tries"])
    first = info["M_auto"][0]
    if M_init > 1:
        # shrinking stopped: either the next candidate failed or M is within twice the estimate
        assert first["M"] < M_init or first["lipschitz"] >= 0.5 * M_init
        tries = first["tries"]
        for a, b in zip(tries[:-1], tries[1:]):
            if a["accepted"]:
                assert b["M"] == pytest.approx(max(2 * a["lipschitz"], 0.25 * a["M"]))
    # the step taken is the cubic step at the accepted M: recompute it
    net = ref_net(model)
    H, g = exact_H(model, X[keep], y[keep], lam)
    from kktunlearn.unlearning import solve_cubic

    one = model.unlearn(X, y, [0, 1], method="cure_newton", M=first["M"])
    assert one.unlearn_info_["steps"][0]["step_norm"] == pytest.approx(first["step_norm"], rel=1e-12)
    assert np.linalg.norm(solve_cubic(H, g, first["M"])["s"]) == pytest.approx(first["step_norm"], rel=1e-6)
    del net
    with pytest.raises(ValueError):
        model.unlearn(X, y, [0], method="cure_newton", M="lipschitz")


def test_weight_decay_validation():
    X, y = data()
    with pytest.raises(ValueError, match="normalized_gd=False"):
        kk.TwoLayerReLU(width=3, weight_decay=0.1).fit(X, y)
    with pytest.raises(ValueError, match="span"):
        kk.TwoLayerReLU(width=3, weight_decay=0.1, normalized_gd=False, representation="span").fit(X, y)
    with pytest.raises(ValueError, match="weight_decay"):
        kk.TwoLayerReLU(width=3, weight_decay=-1.0, normalized_gd=False).fit(X, y)
    with pytest.raises(ValueError, match="weight_decay"):
        kk.LinearModel(weight_decay=1.0, normalized_gd=False, lr=2.0, max_iter=3).fit(X, y)
    m = kk.TwoLayerReLU(width=3, weight_decay=0.1, normalized_gd=False, max_iter=3)
    assert m.get_params()["weight_decay"] == 0.1
    from kktunlearn.models import clone

    assert clone(m).weight_decay == 0.1

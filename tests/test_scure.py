"""SCureNewton (arXiv 2406.14507, section 4) against an independent numpy implementation of the stochastic
cubic algorithm: per outer step a gradient on minibatch B1 and a dense Hessian on minibatch B2 (formed here
from the per-example Jacobian, never from the library), the Cauchy point, n_inner gradient steps on the
cubic model (with the eta-halving safeguard or without it), and the automatic cubic constant.

The only thing taken from the library's run is its randomness: the minibatch rows it records per step
(sigma = 0, so the sphere draw does not enter)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import kktunlearn as kk


def act(z, a):
    return np.where(z > 0, z, a * z)


def dact(z, a):
    return np.where(z > 0, 1.0, a)


class Dense:
    """F(theta) = mean_i l(y_i N(x_i)) + l2/2 ||theta||^2 on a set of rows, its gradient and dense Hessian."""

    def __init__(self, m, d, train_outer, u_fixed, slope, l2):
        self.m, self.d, self.to, self.u, self.a, self.l2 = m, d, train_outer, u_fixed, slope, l2

    def split(self, th):
        W = th[: self.m * self.d].reshape(self.m, self.d)
        return W, (th[self.m * self.d:] if self.to else self.u)

    def __call__(self, th, X, y):
        W, u = self.split(th)
        n, d, m, a = len(y), self.d, self.m, self.a
        Z = X @ W.T
        q = y * (act(Z, a) @ u)
        s = 1.0 / (1.0 + np.exp(q))
        F = np.logaddexp(0.0, -q).mean() + 0.5 * self.l2 * th @ th
        c, D = -s * y / n, s * (1 - s) / n
        S = dact(Z, a)
        J = (u[None, :, None] * S[:, :, None] * X[:, None, :]).reshape(n, m * d)
        if self.to:
            J = np.hstack([J, act(Z, a)])
        g = J.T @ c + self.l2 * th
        H = J.T @ (D[:, None] * J) + self.l2 * np.eye(len(th))
        if self.to:  # cross block d^2 N / (dw_j du_j) = sigma'(z_ij) x_i, weighted by l'(q_i) y_i / n
            for j in range(m):
                col = (c * S[:, j]) @ X
                H[j * d:(j + 1) * d, m * d + j] += col
                H[m * d + j, j * d:(j + 1) * d] += col
        return F, g, H


def ref_scure(model, XR, yR, batches, M, lr, n_inner, l2, safeguard, auto, max_tries=30):
    """The stochastic cubic Newton iteration, written out (the Newton paper's algorithm, section 4.3)."""
    W0, u0 = model.W_.astype(float), model.u_.astype(float)
    to = model.train_outer_
    obj = Dense(W0.shape[0], W0.shape[1], to, u0, model.slope_, l2)
    th = np.concatenate([W0.ravel(), u0]) if to else W0.ravel().copy()
    Ms = []
    for r1, r2 in batches:
        F1, g, _ = obj(th, XR[r1], yR[r1])
        _, _, H = obj(th, XR[r2], yR[r2])
        gn = np.linalg.norm(g)

        def model_val(D, Mt):
            return g @ D + 0.5 * D @ H @ D + Mt / 6 * np.linalg.norm(D) ** 3

        def solve(Mt):
            kappa = g @ H @ g / (Mt * gn ** 2)
            D = -(-kappa + math.sqrt(kappa ** 2 + 2 * gn / Mt)) * g / gn
            eta, mv = lr, model_val(D, Mt)
            for _ in range(n_inner):
                grad = g + H @ D + 0.5 * Mt * np.linalg.norm(D) * D
                for _h in range(61):
                    cand = D - eta * grad
                    mc = model_val(cand, Mt)
                    if not safeguard or mc <= mv:
                        D, mv = cand, mc
                        break
                    eta *= 0.5
            return D

        def judge(D, Mt):
            sn = np.linalg.norm(D)
            _, _, H1 = obj(th + D, XR[r2], yR[r2])
            lip = np.linalg.norm(H1 @ D - H @ D) / sn ** 2
            pred = -model_val(D, Mt)
            Fb = obj(th + D, XR[r1], yR[r1])[0]
            rho = (F1 - Fb) / pred if pred > 0 else (1.0 if Fb <= F1 else -math.inf)
            return lip, rho, (rho >= 0.1 and lip <= Mt)

        D = solve(M)
        if auto:
            lip, rho, ok = judge(D, M)
            tries, Mc = 1, M
            if ok:
                while tries < max_tries and lip < 0.5 * Mc:
                    M2 = max(2 * lip, 0.25 * Mc)
                    D2 = solve(M2)
                    tries += 1
                    l2_, r2_, ok2 = judge(D2, M2)
                    if not ok2:
                        break
                    D, Mc, lip = D2, M2, l2_
            else:
                while tries < max_tries and not ok:
                    Mc = max(2 * Mc, lip)
                    D = solve(Mc)
                    tries += 1
                    lip, rho, ok = judge(D, Mc)
            M = Mc
        Ms.append(M)
        th = th + D
    return th, Ms


def data(n=24, d=6, seed=2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    y[:2] = [1.0, -1.0]
    return X, y


def fit(kind, X, y, lam=0.0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kk.ConvergenceWarning)
        return kk.TwoLayerReLU(width=3, random_state=0, init_scale=0.5, train_outer=(kind == "trained_u"),
                               leaky_slope=0.1 if kind == "leaky" else 0.0, max_iter=40, loss="logistic",
                               normalized_gd=False, lr=1.0, weight_decay=lam).fit(X, y)


@pytest.mark.parametrize("kind", ["relu", "trained_u", "leaky"])
@pytest.mark.parametrize("safeguard", [True, False])
@pytest.mark.parametrize("auto", [False, True])
def test_scure_newton_matches_numpy_minibatch_algorithm(kind, safeguard, auto):
    X, y = data()
    lam = 0.01
    model = fit(kind, X, y, lam)
    forget = [0, 3]
    keep = np.setdiff1d(np.arange(len(y)), forget)
    # lr = 20 is past the inner iteration's stability limit for this model: the safeguard has work to do
    # (the plain iteration diverges there, so it is compared at lr = 3)
    lr = 20.0 if safeguard else 3.0
    kw = dict(M="auto", M_init=0.5) if auto else dict(M=2.0)
    out = model.unlearn(X, y, forget, method="scure_newton", lr=lr, sigma=0.0, n_inner=4, n_outer=3,
                        batch_grad=9, batch_hess=6, random_state=5, safeguard=safeguard, **kw)
    info = out.unlearn_info_
    steps = info["steps"]
    batches = [(st["rows_grad"], st["rows_hess"]) for st in steps]
    for r1, r2 in batches:
        # the recorded minibatches: drawn without replacement from the retained rows, sorted
        assert len(r1) == 9 and len(r2) == 6
        assert np.all(np.diff(r1) > 0) and np.all(np.diff(r2) > 0)
        assert r1.min() >= 0 and max(r1.max(), r2.max()) < len(keep)
    assert any(not np.array_equal(batches[0][0], b[0]) for b in batches[1:])
    th, Ms = ref_scure(model, X[keep], y[keep], batches, 0.5 if auto else 2.0, lr, 4, lam, safeguard, auto)
    delta = out.params() - model.params()
    ref = th - model.params()
    assert np.linalg.norm(delta - ref) <= 1e-8 * np.linalg.norm(ref)
    np.testing.assert_allclose([st["M"] for st in steps], Ms, rtol=1e-10)
    for st in steps:
        assert st["gamma"] == pytest.approx(0.5 * st["M"] * st["step_norm"])
    if safeguard:
        if not auto:  # (the automatic M may shrink far enough that lr = 20 is stable)
            assert sum(st["n_halvings"] for st in steps) > 0  # lr = 20 was too large
        assert all(st["lr"] == lr / 2 ** st["n_halvings"] for st in steps)
    else:
        assert all(st["n_halvings"] == 0 and st["lr"] == lr for st in steps)
    if auto:
        assert info["M_rule"] == "auto"
        np.testing.assert_allclose(info["M"], Ms, rtol=1e-10)
        for rec in info["M_auto"]:
            if rec["accepted"]:
                assert rec["rho"] >= 0.1 and rec["lipschitz"] <= rec["M"]
    else:
        assert info["M_rule"] == "fixed" and info["M"] == 2.0


def test_scure_safeguard_keeps_the_inner_iteration_stable():
    """Past lr = 2 / (lam_max(H) + M ||Delta||) the plain inner iteration diverges (here to non-finite
    numbers at lr = 5); the safeguarded one halves eta and lands where a stable lr lands, with a model
    value below 0 (a decrease of the cubic model)."""
    X, y = data(n=40, d=8, seed=4)
    model = fit("trained_u", X, y, 0.01)
    kw = dict(method="scure_newton", M=5.0, sigma=0.0, n_inner=5, n_outer=4, batch_grad=16, batch_hess=8)
    with pytest.raises(ArithmeticError, match="not finite"):
        model.unlearn(X, y, [0], safeguard=False, lr=5.0, **kw)
    stable = model.unlearn(X, y, [0], safeguard=False, lr=2.0, **kw).unlearn_info_["steps"]
    safe = model.unlearn(X, y, [0], lr=5.0, **kw).unlearn_info_["steps"]
    assert all(st["n_halvings"] == 0 for st in stable)
    assert all(st["n_halvings"] >= 1 and st["model_value"] < 0 for st in safe)
    np.testing.assert_allclose([st["step_norm"] for st in safe], [st["step_norm"] for st in stable], rtol=0.05)


def test_scure_auto_M_from_far_starts():
    X, y = data()
    model = fit("trained_u", X, y, 0.01)
    for M_init in (1e-4, 1e4):
        info = model.unlearn(X, y, [1], method="scure_newton", M="auto", M_init=M_init, lr=0.5, n_outer=3,
                             batch_grad=12, batch_hess=6).unlearn_info_
        assert all(rec["accepted"] for rec in info["M_auto"])
        assert all(rec["n_tries"] >= 1 for rec in info["M_auto"])
        if M_init > 1:
            assert info["M"][0] < M_init  # shrunk towards twice the Lipschitz estimate
        else:
            assert info["M"][0] > M_init  # grown until the tests pass


def test_scure_option_validation():
    X, y = data()
    model = fit("relu", X, y)
    with pytest.raises(ValueError):
        model.unlearn(X, y, [0], method="scure_newton", M="lipschitz")
    with pytest.raises(TypeError, match="safeguard"):
        model.unlearn(X, y, [0], method="scure_newton", safeguard="yes")
    with pytest.raises(ValueError):
        model.unlearn(X, y, [0], method="scure_newton", M="auto", M_init=0.0)

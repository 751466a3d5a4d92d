"""The l'/l'' explanation of why Newton unlearning is benign in our KKT regime (the newton reproduction's
secondary setting): with a fixed outer layer and no weight decay, H = J^T diag(l''(q)/n) J and
g = J^T (l'(q) y / n), so when the per-example Jacobian J (n_r x p) has full row rank the pinv step
s = -H^+ g satisfies J s = -l'(q) y / l''(q), i.e. it raises every retained margin, to first order, by

    y_i (J s)_i = -l'(q_i) / l''(q_i)  =  1 (exponential loss),  1 + e^{-q_i} (logistic loss),

the minimum-norm step that does so (s lies in the row space of J). Checked here against a Jacobian built
in numpy, and the reproduction's helpers (_neg_ratio, _linear_margin_raise) against the same numbers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import kktunlearn as kk
from kktunlearn import reproduce as R


def jacobian(model, X):
    W, u, a = model.W_.astype(float), model.u_.astype(float), model.slope_
    Z = X @ W.T
    S = np.where(Z > 0, 1.0, a)
    n, d = X.shape
    return (u[None, :, None] * S[:, :, None] * X[:, None, :]).reshape(n, -1), Z


@pytest.mark.parametrize("loss", ["exponential", "logistic"])
@pytest.mark.parametrize("method,opts", [("pinv_newton", {}), ("damped_newton", {"damping": 1e-12})])
def test_newton_step_raises_every_retained_margin_by_minus_lprime_over_lsecond(loss, method, opts):
    rng = np.random.default_rng(0)
    n, d = 12, 40
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kk.ConvergenceWarning)
        net = kk.TwoLayerReLU(width=20, random_state=1, init_scale=0.3, loss=loss, max_iter=300,
                              train_outer=False).fit(X, y)
    forget = [0, 5]
    keep = np.setdiff1d(np.arange(n), forget)
    J, Z = jacobian(net, X[keep])
    assert np.linalg.matrix_rank(J) == len(keep)  # full row rank: the identity is exact
    q = net.margins(X[keep], y[keep])
    out = net.unlearn(X, y, forget, method=method, weight_decay=0.0, **opts)
    s = (out.W_ - net.W_).ravel()
    rise = y[keep] * (J @ s)
    expected = np.ones_like(q) if loss == "exponential" else 1.0 + np.exp(-q)
    np.testing.assert_allclose(rise, expected, rtol=1e-6)
    # the minimum-norm such step: s is in the row space of J
    coef = np.linalg.lstsq(J.T, s, rcond=None)[0]
    assert np.linalg.norm(J.T @ coef - s) <= 1e-8 * np.linalg.norm(s)
    # the reproduction's helpers compute the same numbers
    np.testing.assert_allclose(R._neg_ratio(loss, q), expected, rtol=1e-12)
    np.testing.assert_allclose(R._linear_margin_raise(net, X[keep], y[keep], out.W_), rise, rtol=1e-10, atol=1e-12)


def test_weight_decay_breaks_the_identity():
    """With lambda > 0 the lambda I term enters H and g; the margin rise is no longer -l'/l'' (the
    explanation is specific to the unregularized KKT regime)."""
    rng = np.random.default_rng(0)
    n, d = 12, 40
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kk.ConvergenceWarning)
        net = kk.TwoLayerReLU(width=6, random_state=1, init_scale=0.3, loss="exponential", max_iter=300,
                              train_outer=False).fit(X, y)
    keep = np.arange(1, n)
    out = net.unlearn(X, y, [0], method="pinv_newton", weight_decay=0.05)
    rise = R._linear_margin_raise(net, X[keep], y[keep], out.W_)
    assert np.max(np.abs(rise - 1.0)) > 1e-2

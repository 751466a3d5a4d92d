"""Metrics: rank AUC against brute force, the attacks, cosine / step norm, the evaluation row."""

from __future__ import annotations

import numpy as np
import pytest

from kktunlearn import LinearModel, TwoLayerReLU
from kktunlearn import metrics as M
from kktunlearn.datasets import near_orthogonal


def _brute_auc(p, n):
    p = np.asarray(p, float)[:, None]
    n = np.asarray(n, float)[None, :]
    return float(np.mean((p > n) + 0.5 * (p == n)))


@pytest.mark.parametrize("seed", range(5))
def test_auc_matches_pairwise_count_with_ties(seed):
    rng = np.random.default_rng(seed)
    p = rng.integers(0, 6, size=rng.integers(1, 30))
    n = rng.integers(0, 6, size=rng.integers(1, 30))
    assert M.auc(p, n) == pytest.approx(_brute_auc(p, n), abs=1e-14)


def test_auc_extremes_and_errors():
    assert M.auc([3, 4], [1, 2]) == 1.0
    assert M.auc([1, 2], [3, 4]) == 0.0
    assert M.auc([1, 1], [1, 1, 1]) == 0.5
    with pytest.raises(ValueError):
        M.auc([], [1.0])
    with pytest.raises(ValueError):
        M.auc([np.nan], [1.0])


def test_logistic_regression_optimality():
    rng = np.random.default_rng(0)
    F = rng.standard_normal((200, 2))
    t = (F[:, 0] + 0.5 * rng.standard_normal(200) > 0).astype(float)
    l2 = 1e-2
    w = M.logistic_regression(F, t, l2=l2)
    A = np.hstack([np.ones((200, 1)), F])
    s = 2 * t - 1
    grad = -(A.T @ (s / (1 + np.exp(s * (A @ w))))) / 200 + np.r_[1e-12, l2, l2] * w
    assert np.linalg.norm(grad) < 1e-9
    assert w[1] > 0  # learned the right direction


@pytest.fixture(scope="module")
def trained():
    X, y = near_orthogonal(20, 300, seed=1)
    Xt, yt = near_orthogonal(40, 300, seed=2)
    net = TwoLayerReLU(width=20, random_state=0, max_iter=500, n_threads=1).fit(X, y)
    keep = np.arange(20) != 0
    ret = TwoLayerReLU(width=20, random_state=0, max_iter=500, n_threads=1).fit(X[keep], y[keep])
    return X, y, Xt, yt, net, ret


def test_membership_inference_threshold_auc(trained):
    X, y, Xt, yt, net, _ = trained
    out = M.membership_inference(net, X[:5], y[:5], Xt, yt, X[5:], y[5:], seed=0)
    qf = y[:5] * net.decision_function(X[:5])
    qh = yt * net.decision_function(Xt)
    assert out["mia_threshold_auc"] == pytest.approx(_brute_auc(qf, qh))
    # the loss-threshold attack ranks by -loss, which is the same order as the margin
    lf, lh = np.exp(-qf), np.exp(-qh)
    assert out["mia_threshold_auc"] == pytest.approx(_brute_auc(-lf, -lh))
    # a fitted model separates members (margin >= min margin > 0) from random-label held-out points
    assert out["mia_threshold_auc"] > 0.8
    assert 0.5 <= out["mia_threshold_acc"] <= 1.0
    assert 0.0 <= out["mia_lr_auc"] <= 1.0
    with pytest.raises(ValueError, match="held-out"):
        M.membership_inference(net, X[:1], y[:1], Xt[:1], yt[:1])


def test_cosine_step_norm_accuracy(trained):
    X, y, Xt, yt, net, ret = trained
    a, b = net.params(), ret.params()
    assert M.cosine(net, ret) == pytest.approx(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert M.cosine(net, net) == pytest.approx(1.0)
    assert M.step_norm(net, ret) == pytest.approx(np.linalg.norm(a - b))
    assert M.accuracy(net, X, y) == 1.0
    with pytest.raises(ValueError):
        M.cosine(np.ones(3), np.ones(4))


def test_evaluate_unlearning_without_kkt(trained):
    X, y, Xt, yt, net, ret = trained
    row = M.evaluate_unlearning(net, ret, X, y, [0], retrained=ret, X_test=Xt, y_test=yt, kkt=False)
    q0 = y * net.decision_function(X)
    q = y * ret.decision_function(X) / q0.min()
    assert row["retained_margin_min"] == pytest.approx(q[1:].min())
    assert row["forget_margin_mean"] == pytest.approx(q[0])
    assert row["tau"] == pytest.approx(max(0.0, 1 - q[1:].min()))
    assert row["cos_to_retrained"] == pytest.approx(1.0)
    assert row["param_dist_to_retrained"] == 0.0
    assert row["retained_acc"] == 1.0
    assert row["test_acc"] == pytest.approx(np.mean(yt * ret.decision_function(Xt) > 0))
    assert row["step_norm"] == pytest.approx(np.linalg.norm(ret.params() - net.params()))
    assert {"mia_threshold_auc", "mia_lr_auc"} <= set(row)


def test_evaluate_rejects_unfitted_original():
    X, y = near_orthogonal(10, 20, seed=0)
    # fitted, then broken on purpose (one step, as before, no longer fits this draw)
    bad = LinearModel(max_iter=200, representation="primal").fit(X, y)
    bad._W[:] = 0.0
    with pytest.raises(ValueError, match="does not fit"):
        M.evaluate_unlearning(bad, bad, X, y, [0], kkt=False)


def test_report_to_dict():
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class R:
        a: float
        b: int
        c: np.ndarray
        d: str
        e: bool

    out = M.report_to_dict(R(1.5, 2, np.ones(3), "x", True), prefix="p_")
    assert out == {"p_a": 1.5, "p_b": 2, "p_d": "x", "p_e": True}

"""unlearn / unlearn_sequence: input validation, the NegGrad family, retraining, sequential unlearning."""

import warnings

import numpy as np
import pytest

import kktunlearn as kk
from kktunlearn.datasets import near_orthogonal
from kktunlearn.exceptions import NotFittedError


@pytest.fixture(scope="module")
def data():
    return near_orthogonal(20, 300, seed=4)


@pytest.fixture(scope="module")
def linear(data):
    X, y = data
    return kk.LinearModel(max_iter=300).fit(X, y)


@pytest.fixture(scope="module")
def net(data):
    X, y = data
    return kk.TwoLayerReLU(width=10, random_state=0, max_iter=500).fit(X, y)


# ---------------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize("forget, exc, match", [
    ([], ValueError, "empty"),
    (np.array([], dtype=int), ValueError, "empty"),
    (list(range(20)), ValueError, "all 20"),
    ([20], ValueError, "out of range"),
    (25, ValueError, "out of range"),
    ([-1], ValueError, "negative"),
    ([1, 1], ValueError, "duplicate"),
    ([1.0], TypeError, "integer"),
    (1.5, TypeError, "integer"),
    (True, TypeError, "bool"),
    (np.zeros(20, dtype=bool), ValueError, "mask selects no point"),   # masks follow the one check_forget rule
    (np.zeros(5, dtype=bool), ValueError, r"mask must have shape \(20,\)"),
    (2**70, ValueError, "out of range"),
    (np.array([2**64 - 1], np.uint64), ValueError, "index 18446744073709551615 is out of range"),
    ([[0, 1]], ValueError, "1-D"),
    ("0", TypeError, "integer"),
    (None, TypeError, "integer"),
])
def test_bad_forget_sets(linear, data, forget, exc, match):
    X, y = data
    with pytest.raises(exc, match=match):
        kk.unlearn(linear, X, y, forget, method="cure_newton")


def test_forgetting_a_whole_class(linear, data):
    X, y = data
    with pytest.raises(ValueError, match="class"):
        linear.unlearn(X, y, np.flatnonzero(y > 0), method="finetune")


def test_numpy_integer_indices_accepted(linear, data):
    X, y = data
    a = linear.unlearn(X, y, np.int32(3), method="cure_newton")
    b = linear.unlearn(X, y, np.array([3], dtype=np.uint8), method="cure_newton")
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.unlearn_info_["forget"], [3])


def test_unfitted_model(data):
    X, y = data
    with pytest.raises(NotFittedError):
        kk.unlearn(kk.TwoLayerReLU(), X, y, [0], method="finetune")


def test_unknown_method_and_options(linear, data):
    X, y = data
    with pytest.raises(ValueError, match="unknown unlearning method"):
        linear.unlearn(X, y, [0], method="sgd")
    with pytest.raises(TypeError, match="unknown option"):
        linear.unlearn(X, y, [0], method="finetune", step_scale=1.0)
    with pytest.raises(TypeError, match="unknown option"):
        linear.unlearn(X, y, [0], method="retrain", lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        linear.unlearn(X, y, [0], method="neggrad", lr=-1.0)
    with pytest.raises(TypeError, match="normalized"):
        linear.unlearn(X, y, [0], method="neggrad", normalized="yes")


def test_mismatched_data(linear, data):
    X, y = data
    with pytest.raises(ValueError, match="features"):
        linear.unlearn(X[:, :10], y, [0], method="finetune")
    with pytest.raises(ValueError, match="labels"):
        linear.unlearn(X, y[:10], [0], method="finetune")


# ---------------------------------------------------------------------------------------------- gradient family
@pytest.mark.parametrize("kind", ["linear", "net", "trained_u"])
@pytest.mark.parametrize("normalized", [False, True])
def test_gradient_methods_one_step(data, kind, normalized):
    X, y = data
    if kind == "linear":
        model = kk.LinearModel(max_iter=100, loss="logistic").fit(X, y)
    else:
        model = kk.TwoLayerReLU(width=10, random_state=1, max_iter=500, train_outer=(kind == "trained_u"),
                                normalized_gd=False, lr=1.0, init_scale=0.1).fit(X, y)
    F = [2, 7]
    keep = np.setdiff1d(np.arange(len(y)), F)
    gR = model.loss_gradient(X[keep], y[keep])
    gF = model.loss_gradient(X[F], y[F])
    LR = model.loss_value(X[keep], y[keep])
    LF = model.loss_value(X[F], y[F])
    lr, fw = 0.3, 0.5
    expect = {
        "finetune": -(lr / LR if normalized else lr) * gR,
        "neggrad": (lr / LF if normalized else lr) * gF,
        "neggrad_plus": -(lr / (LR + fw * LF) if normalized else lr) * (gR - fw * gF),
    }
    for method, step in expect.items():
        opts = {"forget_weight": fw} if method == "neggrad_plus" else {}
        out = model.unlearn(X, y, F, method=method, lr=lr, n_steps=1, normalized=normalized, **opts)
        np.testing.assert_allclose(out.params() - model.params(), step, rtol=1e-9, atol=1e-14)
        assert out.unlearn_info_["n_iter"] == 1
        assert out.unlearn_info_["step_norm"] == pytest.approx(np.linalg.norm(step), rel=1e-9)


def test_neggrad_steps_increase_forget_loss_and_finetune_decreases_retained(net, data):
    X, y = data
    F = [0]
    keep = np.arange(1, len(y))
    ng = net.unlearn(X, y, F, method="neggrad", n_steps=3)
    assert ng.loss_value(X[F], y[F]) > net.loss_value(X[F], y[F])
    ft = net.unlearn(X, y, F, method="finetune", n_steps=3)
    assert ft.loss_value(X[keep], y[keep]) < net.loss_value(X[keep], y[keep])
    assert len(ft.unlearn_info_["objective"]) == 3


# ---------------------------------------------------------------------------------------------- retrain
def test_retrain_is_training_on_the_retained_set(net, data):
    X, y = data
    F = [3, 9]
    keep = np.setdiff1d(np.arange(len(y)), F)
    out = net.unlearn(X, y, F, method="retrain")
    ref = kk.clone(net).fit(X[keep], y[keep])
    # a span model retrains on K[keep][:, keep] and Z0[keep] taken from the full-data products; a fresh fit
    # computes them on X[keep]. Where the GEMM kernel's summation order depends on a row's position in its
    # register block (Eigen's AVX2 kernel) the two differ in the last bit, so the check is to rounding
    np.testing.assert_allclose(out.W_, ref.W_, rtol=1e-10, atol=1e-13)
    assert out.unlearn_info_["same_initialization"]
    assert out.unlearn_info_["n_iter"] == ref.n_iter_
    assert out.unlearn_info_["preact_shift"] == pytest.approx(np.abs(X[keep] @ (out.W_ - net.W_).T).max())


def test_original_model_untouched_by_every_method(net, data):
    X, y = data
    W, u = net.W_.copy(), net.u_.copy()
    for method in ("neggrad", "neggrad_plus", "finetune", "retrain", "damped_newton", "pinv_newton",
                   "cure_newton", "scure_newton"):
        out = net.unlearn(X, y, [1], method=method)
        assert out is not net and out.unlearn_info_["method"] == method
        assert np.isfinite(out.unlearn_info_["step_norm"]) and out.unlearn_info_["time"] >= 0
        np.testing.assert_array_equal(net.W_, W)
        np.testing.assert_array_equal(net.u_, u)
    assert not hasattr(net, "unlearn_info_")


# ---------------------------------------------------------------------------------------------- sequence
def test_unlearn_sequence_matches_chained_calls(linear, data):
    X, y = data
    requests = [[0], [4, 5], 9]
    models, records = kk.unlearn_sequence(linear, X, y, requests, method="cure_newton", M=0.1, kkt=False)
    assert len(models) == len(records) == 3
    assert [r["n_retained"] for r in records] == [19, 17, 16]
    # manual chain: each round on the current model and the current retained set (indices re-mapped)
    alive = np.ones(len(y), dtype=bool)
    cur = linear
    for t, req in enumerate(requests):
        idx = np.atleast_1d(req)
        pos = np.cumsum(alive) - 1
        cur = kk.unlearn(cur, X[alive], y[alive], pos[idx], method="cure_newton", M=0.1)
        alive[idx] = False
        np.testing.assert_allclose(models[t].coef_, cur.coef_, rtol=1e-12)
        rec = records[t]
        assert rec["step_norm"] == pytest.approx(cur.unlearn_info_["step_norm"])
        assert rec["min_margin"] == pytest.approx(cur.margins(X[alive], y[alive]).min())
        assert rec["retained_loss"] == pytest.approx(cur.loss_value(X[alive], y[alive]), rel=1e-10)
        g = cur.loss_gradient(X[alive], y[alive])
        assert rec["retained_grad_norm"] == pytest.approx(np.linalg.norm(g), rel=1e-8)


def test_unlearn_sequence_newton_degrades_cubic_does_not(data):
    # spec 5: plain pseudo-inverse steps compound over rounds; the cubic steps stay small
    X, y = data
    net = kk.TwoLayerReLU(width=8, random_state=0, train_outer=True, init_scale=0.1, normalized_gd=False, lr=1.0,
                          max_iter=1000).fit(X, y)
    reqs = [[0], [1], [2], [3]]
    _, rec_p = kk.unlearn_sequence(net, X, y, reqs, method="pinv_newton", kkt=False)
    _, rec_c = kk.unlearn_sequence(net, X, y, reqs, method="cure_newton", kkt=False)
    assert sum(r["step_norm"] for r in rec_p) > 10 * sum(r["step_norm"] for r in rec_c)


def test_unlearn_sequence_bad_requests(linear, data):
    X, y = data
    with pytest.raises(ValueError, match="repeats"):
        kk.unlearn_sequence(linear, X, y, [[0, 1], [1]], method="finetune")
    with pytest.raises(ValueError, match="empty"):
        kk.unlearn_sequence(linear, X, y, [], method="finetune")
    with pytest.raises(ValueError, match="multipliers"):
        kk.unlearn_sequence(linear, X, y, [[0]], method="ga", multipliers=object())
    with pytest.raises(ValueError, match="unknown unlearning method"):
        kk.unlearn_sequence(linear, X, y, [[0]], method="nope")
    with pytest.raises(TypeError, match="unknown option"):
        kk.unlearn_sequence(linear, X, y, [[0]], method="finetune", M=1.0)
    with pytest.raises(ValueError, match="class"):
        kk.unlearn_sequence(linear, X, y, [[i] for i in np.flatnonzero(y > 0)], method="finetune", kkt=False)


def test_unlearn_sequence_with_kkt_numbers(linear, data):
    pytest.importorskip("kktunlearn.kkt")
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models, records = kk.unlearn_sequence(linear, X, y, [[0], [1]], method="ga")
    for r in records:
        assert np.isfinite(r["epsilon"]) and r["tau"] >= 0


def test_string_labels(data):
    X, y = data
    ys = np.where(y > 0, "dog", "cat")
    model = kk.LinearModel(max_iter=300).fit(X, ys)
    ref = kk.LinearModel(max_iter=300).fit(X, y)
    a = model.unlearn(X, ys, [0, 1], method="cure_newton")
    b = ref.unlearn(X, y, [0, 1], method="cure_newton")
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-12)
    r = model.unlearn(X, ys, [0, 1], method="retrain")
    assert list(r.classes_) == ["cat", "dog"]
    with pytest.raises(ValueError, match="class"):
        model.unlearn(X, ys, np.flatnonzero(ys == "dog"), method="finetune")


def test_string_labels_ga_default_multipliers(data):
    pytest.importorskip("kktunlearn.kkt")
    X, y = data
    ys = np.where(y > 0, "dog", "cat")
    model = kk.LinearModel(max_iter=300).fit(X, ys)
    ref = kk.LinearModel(max_iter=300).fit(X, y)
    g = model.unlearn(X, ys, [0], method="ga")
    np.testing.assert_allclose(g.coef_, ref.unlearn(X, y, [0], method="ga").coef_, rtol=1e-10)

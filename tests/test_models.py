"""Foundation: kernels, gradients, GD steps, convergence to the SVM, estimator conventions."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy.optimize import nnls

import kktunlearn as kk
from kktunlearn import _core, _random
from kktunlearn.datasets import near_orthogonal

from conftest import np_act, np_dact, np_forward, np_loss, np_loss_grad, train_options

VARIANTS = [
    # (slope, train_outer)
    (0.0, False),
    (0.0, True),
    (0.2, False),
    (0.2, True),
    (1.0, False),  # the linear model
]


def _random_net(d, m, seed, linear=False):
    rng = np.random.default_rng(seed)
    if linear:
        return rng.standard_normal((1, d)), np.ones(1)
    W = rng.standard_normal((m, d))
    u = rng.standard_normal(m) / np.sqrt(m)
    return W, u


# ----------------------------------------------------------------------------- losses
@pytest.mark.parametrize("loss", ["exponential", "logistic"])
def test_losses_match_reference_and_are_stable(loss):
    q = np.array([-30.0, -1.0, 0.0, 0.5, 3.0, 20.0])
    lv, ld = _core.losses(q, loss)
    rv, rd = np_loss(q, loss)
    np.testing.assert_allclose(lv, rv, rtol=1e-13)
    np.testing.assert_allclose(ld, rd, rtol=1e-13)
    big = np.array([50.0, 200.0, 800.0, 5000.0])
    lv, ld = _core.losses(big, loss)
    assert np.all(np.isfinite(lv)) and np.all(np.isfinite(ld))
    assert np.all(lv >= 0) and np.all(ld <= 0)
    st = _core.margin_stats(big, loss)
    # log of the mean loss stays exact where the loss itself underflows: log L ~ -min q - log n
    assert np.isfinite(st.log_loss)
    assert st.log_loss == pytest.approx(-50.0 - np.log(4.0), rel=1e-12)


@pytest.mark.parametrize("loss", ["exponential", "logistic"])
def test_training_at_huge_margins_stays_finite(loss):
    X, y = near_orthogonal(10, 200, seed=3)
    m = kk.LinearModel(loss=loss, max_iter=0).fit(X, y)
    # a model with margins around 60..1000: the loss underflows but steps must stay finite
    w = 80.0 * (y[:, None] * X).sum(0)
    m.set_parameters(w[None, :])
    assert m.margins(X, y).min() > 50
    g = m.loss_gradient(X, y)
    assert np.all(np.isfinite(g))
    for normalized in (True, False):
        W, _, res = _core.train_primal(X, y, m._W, m._u, slope=1.0, train_outer=False,
                                       options=train_options(loss=loss, normalized=normalized, max_iter=50,
                                                             history_every=10, n_threads=0))
        assert np.all(np.isfinite(W))
        assert np.isfinite(res.log_loss)
        assert res.status == "max_iter"
        if normalized:  # normalized GD keeps making progress at tiny losses
            assert res.min_margin > m.margins(X, y).min()


# ----------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("slope,train_outer", VARIANTS)
@pytest.mark.parametrize("loss", ["exponential", "logistic"])
def test_loss_gradient_matches_numpy_and_finite_differences(small_data, slope, train_outer, loss):
    X, y = small_data
    linear = slope == 1.0
    W, u = _random_net(X.shape[1], 7, seed=5, linear=linear)
    L, gW, gu = _core.loss_and_grad(X, y, W, u, slope, train_outer, loss, 0)
    rL, rgW, rgu = np_loss_grad(X, y, W, u, slope, train_outer, loss)
    assert L == pytest.approx(rL, rel=1e-13)
    np.testing.assert_allclose(gW, rgW, rtol=1e-11, atol=1e-14)
    if train_outer:
        np.testing.assert_allclose(gu, rgu, rtol=1e-11, atol=1e-14)
    else:
        assert gu is None

    # central finite differences on a few random directions
    rng = np.random.default_rng(7)
    h = 1e-6
    for _ in range(3):
        V = rng.standard_normal(W.shape)
        vu = rng.standard_normal(u.shape) if train_outer else np.zeros_like(u)
        f = lambda t: np_loss_grad(X, y, W + t * V, u + t * vu, slope, False, loss)[0]  # noqa: E731
        fd = (f(h) - f(-h)) / (2 * h)
        an = np.sum(gW * V) + (np.dot(gu, vu) if train_outer else 0.0)
        assert an == pytest.approx(fd, rel=1e-6, abs=1e-10)


@pytest.mark.parametrize("slope,train_outer", VARIANTS)
def test_forward_pattern_jvp_vjp(small_data, slope, train_outer):
    X, y = small_data
    W, u = _random_net(X.shape[1], 6, seed=9, linear=slope == 1.0)
    np.testing.assert_allclose(_core.outputs(X, W, u, slope, 0), np_forward(X, W, u, slope), rtol=1e-13)
    np.testing.assert_array_equal(_core.activation_pattern(X, W, slope, 0), np_dact(X @ W.T, slope))
    # explicit per-example Jacobian
    Z = X @ W.T
    S = np_dact(Z, slope) * u[None, :]
    J = (S[:, :, None] * X[:, None, :]).reshape(X.shape[0], -1)
    if train_outer:
        J = np.hstack([J, np_act(Z, slope)])
    rng = np.random.default_rng(0)
    V = rng.standard_normal(W.shape)
    vu = rng.standard_normal(u.shape)
    v = np.concatenate([V.ravel(), vu]) if train_outer else V.ravel()
    np.testing.assert_allclose(_core.jvp(X, W, u, slope, train_outer, V, vu, 0), J @ v, rtol=1e-12, atol=1e-14)
    c = rng.standard_normal(X.shape[0])
    dW, du = _core.vjp(X, W, u, slope, train_outer, c, 0)
    flat = np.concatenate([dW.ravel(), du]) if train_outer else dW.ravel()
    np.testing.assert_allclose(flat, J.T @ c, rtol=1e-12, atol=1e-14)
    # Gram of the per-example gradients from K and the pattern, against the explicit Jacobian
    K = _core.kernel_matrix(X, 0)
    np.testing.assert_allclose(K, X @ X.T, rtol=1e-13, atol=1e-15)
    G = _core.gradient_gram(K, np.ascontiguousarray(Z), u, y, slope, train_outer, 0)
    np.testing.assert_allclose(G, np.outer(y, y) * (J @ J.T), rtol=1e-12, atol=1e-14)


def test_homogeneity(small_data):
    X, _ = small_data
    W, u = _random_net(X.shape[1], 6, seed=2)
    N = _core.outputs(X, W, u, 0.0, 0)
    np.testing.assert_allclose(_core.outputs(X, 3.0 * W, u, 0.0, 0), 3.0 * N, rtol=1e-13)
    np.testing.assert_allclose(_core.outputs(X, 3.0 * W, 3.0 * u, 0.0, 0), 9.0 * N, rtol=1e-13)
    assert kk.TwoLayerReLU().degree_ == 1
    assert kk.TwoLayerReLU(train_outer=True).degree_ == 2
    assert kk.LinearModel().degree_ == 1


# ----------------------------------------------------------------------------- GD steps
def _np_gd(X, y, W, u, slope, train_outer, loss, lr, normalized, steps, lr_max=np.inf):
    W = W.copy()
    u = u.copy()
    for _ in range(steps):
        L, gW, gu = np_loss_grad(X, y, W, u, slope, train_outer, loss)
        # normalized GD, Lyu & Li's rate for an L-homogeneous model: eta / (L(theta) max(1, log 1/L)^(2-2/L))
        deg = 2 if train_outer else 1
        lr_t = min(lr / (L * max(1.0, -np.log(L)) ** (2 - 2 / deg)), lr_max) if normalized else lr
        W = W - lr_t * gW
        if train_outer:
            u = u - lr_t * gu
    return W, u


@pytest.mark.parametrize("slope,train_outer", VARIANTS)
@pytest.mark.parametrize("loss", ["exponential", "logistic"])
@pytest.mark.parametrize("normalized", [True, False])
@pytest.mark.parametrize("representation", ["primal", "span"])
def test_ten_gd_steps_match_numpy(slope, train_outer, loss, normalized, representation):
    X, y = near_orthogonal(15, 40, seed=11)
    if slope == 1.0:
        model = kk.LinearModel(loss=loss, lr=0.3, max_iter=10, normalized_gd=normalized, init_scale=0.1,
                               random_state=4, representation=representation)
    else:
        model = kk.TwoLayerReLU(width=8, train_outer=train_outer, leaky_slope=slope, init_scale=0.3, loss=loss,
                                lr=0.3, max_iter=10, normalized_gd=normalized, random_state=4,
                                representation=representation)
    init = kk.clone(model).set_params(max_iter=0).fit(X, y)  # max_iter=0: the initialization
    W0, u0 = init.W_.copy(), init.u_.copy()
    _fit_quietly(model, X, y)
    rW, ru = _np_gd(X, y, W0, u0, model.slope_, model.train_outer_, loss, 0.3, normalized, 10)
    assert model.n_iter_ == 10
    np.testing.assert_allclose(model.W_, rW, rtol=1e-12, atol=1e-12 * np.abs(rW).max())
    np.testing.assert_allclose(model.u_, ru, rtol=1e-12, atol=1e-12 * np.abs(ru).max())


def _fit_quietly(model, X, y):
    """Fit, absorbing the not-fitted-yet warning a 10-step run may give."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kk.ConvergenceWarning)
        model.fit(X, y)


def test_span_and_primal_agree_on_long_run():
    X, y = near_orthogonal(20, 1000, seed=0)
    a = kk.TwoLayerReLU(width=50, random_state=1, max_iter=1500, representation="span").fit(X, y)
    b = kk.TwoLayerReLU(width=50, random_state=1, max_iter=1500, representation="primal").fit(X, y)
    rel = np.linalg.norm(a.W_ - b.W_) / np.linalg.norm(b.W_)
    assert rel < 1e-10
    assert kk.choose_representation(20, 1000, 50, 1500) == "span"
    assert kk.choose_representation(5000, 200, 200, 200) == "primal"


# ----------------------------------------------------------------------------- convergence
def _svm_no_bias(X, y):
    """Hard-margin SVM without bias from its dual: max sum(a) - a^T Q a / 2, a >= 0, Q = (y y^T) o K."""
    Q = np.outer(y, y) * (X @ X.T)
    R = np.linalg.cholesky(Q).T  # Q = R^T R
    a, _ = nnls(R, np.linalg.solve(R.T, np.ones(len(y))))
    return (a * y) @ X, a


@pytest.mark.parametrize("loss", ["exponential", "logistic"])
def test_linear_model_converges_to_hard_margin_svm(loss):
    X, y = near_orthogonal(20, 1000, seed=2)
    model = kk.LinearModel(loss=loss, max_iter=3000).fit(X, y)
    w_svm, a = _svm_no_bias(X, y)
    cos = model.coef_ @ w_svm / (np.linalg.norm(model.coef_) * np.linalg.norm(w_svm))
    assert cos > 0.999
    assert np.all(y * (X @ w_svm) > 1 - 1e-8)  # the reference is feasible
    # normalized margin increases along training (the implicit bias towards max margin)
    nm = model.history_["normalized_margin"]
    assert nm[-1] > nm[len(nm) // 2] > 0
    assert nm[-1] == pytest.approx(1.0 / np.linalg.norm(w_svm), rel=5e-3)  # log-slow approach from below
    assert nm[-1] <= 1.0 / np.linalg.norm(w_svm) * (1 + 1e-9)  # never above the max margin


def test_relu_network_fits_and_margin_grows():
    X, y = near_orthogonal(20, 1000, seed=0)
    net = kk.TwoLayerReLU(width=100, random_state=0, max_iter=4000).fit(X, y)
    assert net.score(X, y) == 1.0
    assert net.min_margin_ > 1.0
    nm = net.history_["normalized_margin"]
    assert nm[-1] > nm[len(nm) // 2]
    np.testing.assert_allclose(net.margins(X, y), y * net.decision_function(X))


# ----------------------------------------------------------------------------- stopping, faults
def test_stopping_rules():
    X, y = near_orthogonal(20, 500, seed=3)
    m = kk.LinearModel(max_iter=5000, tol=1e-3).fit(X, y)
    assert m.fit_status_ == "tol" and m.loss_ <= 1e-3 and m.n_iter_ < 5000
    m2 = kk.LinearModel(max_iter=100000, margin_tol=1e-6, history_every=50).fit(X, y)
    assert m2.fit_status_ == "margin_tol" and m2.n_iter_ < 100000


def test_max_iter_zero_leaves_initialization_and_replays():
    X, y = near_orthogonal(10, 50, seed=4)
    a = kk.TwoLayerReLU(width=6, random_state=3, max_iter=0).fit(X, y)
    # W(0) = init_scale * z(seed 3, stream 0, j, k) (the counter-based generator, kktunlearn._random)
    np.testing.assert_array_equal(a.W_, 1e-3 * _random.normal_block(3, 0, 0, 6, 0, 50))
    assert a.n_iter_ == 0


def test_divergence_keeps_last_finite_state():
    X, y = near_orthogonal(10, 50, seed=5)
    y = y.copy()
    X = X * 30.0
    m = kk.LinearModel(lr=1e6, normalized_gd=False, max_iter=100, init_scale=1.0, random_state=0)
    with pytest.raises(kk.TrainingDivergedError, match="diverged"):
        m.fit(X, y)
    assert np.all(np.isfinite(m.coef_))
    assert np.all(np.isfinite(m.decision_function(X)))


def test_non_separable_warns():
    X = np.array([[1.0, 0.0], [2.0, 0.0], [-1.0, 0.0]])
    y = np.array([1.0, -1.0, 1.0])  # not linearly separable through the origin
    with pytest.warns(kk.ConvergenceWarning, match="does not fit"):
        kk.LinearModel(max_iter=50).fit(X, y)


# ----------------------------------------------------------------------------- estimator API
def test_determinism_pickle_clone_threads():
    X, y = near_orthogonal(20, 300, seed=6)
    kw = dict(width=20, random_state=11, max_iter=300)
    a = kk.TwoLayerReLU(**kw, n_threads=1, representation="primal").fit(X, y)
    b = kk.TwoLayerReLU(**kw, n_threads=1, representation="primal").fit(X, y)
    c = kk.TwoLayerReLU(**kw, n_threads=2, representation="primal").fit(X, y)
    np.testing.assert_array_equal(a.W_, b.W_)
    np.testing.assert_array_equal(a.W_, c.W_)  # fixed block splits: thread count does not change bits
    p = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(p.W_, a.W_)
    np.testing.assert_array_equal(p.decision_function(X), a.decision_function(X))
    cl = kk.clone(a)
    assert cl.get_params() == a.get_params()
    assert not hasattr(cl, "W_") or not getattr(cl, "is_fitted_", False)
    with pytest.raises(kk.NotFittedError):
        cl.predict(X)
    assert "width=20" in repr(a)
    a2 = kk.clone(a).set_params(width=5)
    assert a2.width == 5
    with pytest.raises(ValueError, match="invalid parameter"):
        a2.set_params(nonsense=1)


def test_label_mapping_and_predict():
    X, y = near_orthogonal(20, 300, seed=7)
    labels = np.where(y > 0, "cat", "dog")
    m = kk.LinearModel(max_iter=500).fit(X, labels)
    assert list(m.classes_) == ["cat", "dog"]
    pred = m.predict(X)
    assert set(pred) <= {"cat", "dog"}
    assert m.score(X, labels) == 1.0
    m01 = kk.LinearModel(max_iter=500).fit(X, (y > 0).astype(int))
    np.testing.assert_array_equal(m01.predict(X), (y > 0).astype(int))
    mpm = kk.LinearModel(max_iter=500).fit(X, y.astype(int))
    np.testing.assert_array_equal(mpm.predict(X), y.astype(int))


@pytest.mark.parametrize("bad", [
    lambda X, y: (X, np.where(y > 0, 2.0, 0.0) + np.arange(len(y)) % 3),  # three classes
    lambda X, y: (X, np.ones_like(y)),  # a single class
    lambda X, y: (X, y[:-1]),  # mismatched n
    lambda X, y: (X[0], y),  # 1-D X
    lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 3, np.nan, X), y),  # NaN in X
    lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 3, np.inf, X), y),  # inf in X
    lambda X, y: (X, np.where(np.arange(len(y)) == 2, np.nan, y)),  # NaN in y
    lambda X, y: (X[:0], y[:0]),  # empty
])
def test_bad_input_raises_value_error(bad):
    X, y = near_orthogonal(12, 20, seed=8)
    Xb, yb = bad(X, y)
    with pytest.raises(ValueError):
        kk.TwoLayerReLU(width=4, max_iter=5).fit(Xb, yb)


@pytest.mark.parametrize("params", [
    dict(lr=0.0), dict(lr=-1.0), dict(lr=np.nan), dict(max_iter=-1), dict(loss="hinge"), dict(width=0),
    dict(leaky_slope=1.5), dict(n_threads=0), dict(representation="dual"), dict(tol=-1.0),
])
def test_bad_hyper_parameters(params):
    X, y = near_orthogonal(8, 10, seed=9)
    with pytest.raises(ValueError):
        kk.TwoLayerReLU(**params).fit(X, y)


def test_predict_checks():
    X, y = near_orthogonal(12, 20, seed=10)
    m = kk.LinearModel(max_iter=100).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        m.predict(X[:, :10])
    with pytest.raises(kk.NotFittedError):
        kk.LinearModel().decision_function(X)
    # non-contiguous and integer inputs work (converted once)
    Xf = np.asfortranarray(X)
    np.testing.assert_allclose(m.decision_function(Xf), m.decision_function(X))
    assert m.decision_function(X[::2]).shape == (6,)
    assert np.all(np.isfinite(m.decision_function(np.ones((3, 20), dtype=np.int64))))


def test_ctrl_c_interrupts_training_within_a_second():
    import os
    import signal
    import threading
    import time

    X, y = near_orthogonal(200, 3000, seed=12)
    model = kk.TwoLayerReLU(width=200, max_iter=10**7, representation="primal", random_state=0)
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt, match="interrupted"):
            model.fit(X, y)
    finally:
        timer.cancel()
    elapsed = time.perf_counter() - t0
    assert elapsed < 0.5 + 1.5  # generous: the contract is "within a second" of the signal
    assert 0 < model.n_iter_ < 10**7
    assert np.all(np.isfinite(model.W_))
    # the model is usable and consistent: its recorded final history entry matches its state
    assert model.history_["iter"][-1] == model.n_iter_
    np.testing.assert_allclose(model.margins(X, y).min(), model.history_["min_margin"][-1], rtol=1e-10)


def test_progress_bar_runs():
    X, y = near_orthogonal(10, 50, seed=13)
    m = kk.LinearModel(max_iter=200, progress=True).fit(X, y)
    assert m.n_iter_ == 200


def test_threadpoolctl_limits_the_openmp_default():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not _core.have_openmp:
        pytest.skip("serial build")
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert _core.max_threads(0) == 1
    assert _core.max_threads(3) == 3  # an explicit n_threads is taken as is


@pytest.mark.parametrize("weight_decay", [0.0, 1e-7])
def test_diverged_span_training_keeps_the_last_finite_iterate(weight_decay):
    """A span model whose training diverges is left at its last finite iterate (the trainer's second A buffer
    and W0 coefficient are swapped back): the same W as the primal representation's, which restores a copy."""
    X, y = near_orthogonal(20, 10, seed=0)
    X = X * 30.0
    out = {}
    for rep in ("span", "primal"):
        m = kk.LinearModel(lr=1e6, normalized_gd=False, max_iter=100, init_scale=1.0, random_state=0,
                           representation=rep, weight_decay=weight_decay)
        with pytest.raises(kk.TrainingDivergedError, match="diverged"):
            m.fit(X, y)
        assert m.representation_ == rep
        out[rep] = (np.asarray(m.coef_, dtype=np.float64), m.n_iter_)
    assert out["span"][1] == out["primal"][1]
    assert np.all(np.isfinite(out["span"][0]))
    np.testing.assert_allclose(out["span"][0], out["primal"][0], rtol=1e-10, atol=0)

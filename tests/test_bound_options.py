"""The core's bound option and result structs (TrainOptions / TrainResult, KKTOptions / KKTResult,
NewtonOptions / NewtonStepInfo, SCubicOptions / SCubicStepInfo): every field round-trips, each enum
has one name table, bad names raise, and a call through them gives the public API's numbers."""

from __future__ import annotations

import numpy as np
import pytest

import kktunlearn as kk
from kktunlearn import _core
from kktunlearn.datasets import near_orthogonal


def test_train_options_round_trip_and_names():
    o = _core.TrainOptions()
    assert o.loss == "exponential" and o.normalized and o.sample_weight is None
    for name in ("logistic", "exponential"):
        o.loss = name
        assert o.loss == name
    o.loss = "exp"  # the accepted alias reads back as the canonical name
    assert o.loss == "exponential"
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        o.loss = "hinge"
    vals = dict(lr=0.25, normalized=False, lr_max=3.0, max_iter=17, tol=1e-9, margin_tol=1e-4, history_every=3,
                n_threads=2, weight_decay=1e-3)
    for k, v in vals.items():
        setattr(o, k, v)
        assert getattr(o, k) == v
    o.sample_weight = np.array([1.0, 2.0, 0.5])
    np.testing.assert_array_equal(o.sample_weight, [1.0, 2.0, 0.5])
    o.sample_weight = None
    assert o.sample_weight is None
    assert "TrainOptions(loss='exponential'" in repr(o)


def test_train_result_matches_the_fitted_attributes():
    X, y = near_orthogonal(12, 60, seed=1)
    m = kk.TwoLayerReLU(width=8, max_iter=40, history_every=5, random_state=0, representation="primal").fit(X, y)
    from kktunlearn import _training

    ye = m._encode_y(y, X.shape[0])
    # through the core directly, from the model's own initialization: the same numbers as fit
    init, u0 = m._init_source(X.shape[1])
    from kktunlearn import _span

    W0 = _span.init_full(init, np.float64)
    W, u, res = _core.train_primal(X, ye, W0, np.ascontiguousarray(u0, dtype=np.float64), m.slope_, m.train_outer_,
                                   _training.options(m, m.lr_scale_))
    assert isinstance(res, _core.TrainResult)
    assert res.n_iter == m.n_iter_ == 40 and res.status == m.fit_status_ == "max_iter" and not res.interrupted
    assert res.loss == pytest.approx(m.loss_, rel=1e-12)
    assert res.min_margin == pytest.approx(m.min_margin_, rel=1e-12)
    np.testing.assert_allclose(W, m.W_, rtol=1e-12, atol=1e-15)
    assert set(res.history) == {"iter", "loss", "log_loss", "min_margin", "normalized_margin"}
    np.testing.assert_array_equal(res.history["iter"], m.history_["iter"])


def test_sample_weight_length_is_checked():
    X, y = near_orthogonal(6, 20, seed=2)
    W0 = 1e-3 * np.ones((3, 20))
    o = _core.TrainOptions()
    o.sample_weight = np.ones(5)
    with pytest.raises(ValueError, match="sample_weight has 5 entries, expected 6"):
        _core.train_primal(X, y, W0, np.ones(3), 0.0, False, o)


def test_newton_and_scubic_options_round_trip():
    o = _core.NewtonOptions()
    for name in ("newton", "damped", "pinv", "cubic"):
        o.method = name
        assert o.method == name
    with pytest.raises(ValueError, match="unknown Newton step 'cure'"):
        o.method = "cure"
    for k, v in dict(l2=1e-3, damping=0.5, rcond=1e-9, M=2.0, n_steps=3, basis_tol=1e-12, sing_tol=1e-11,
                     krylov_dim=7, krylov_tol=1e-8, n_threads=1).items():
        setattr(o, k, v)
        assert getattr(o, k) == v
    s = _core.SCubicOptions()
    for k, v in dict(M=3.0, lr=1e-2, sigma=0.0, batch_grad=5, batch_hess=4, n_outer=2, n_inner=3, seed=9,
                     safeguard=False, auto_M=True, max_tries=4).items():
        setattr(s, k, v)
        assert getattr(s, k) == v


def test_newton_step_records_through_the_public_api():
    X, y = near_orthogonal(10, 40, seed=3)
    m = kk.TwoLayerReLU(width=6, max_iter=300, random_state=0).fit(X, y)
    for method, key in (("pinv_newton", "pinv_rank"), ("cure_newton", "gamma")):
        new = kk.unlearn(m, X, y, [0], method=method)
        steps = new.unlearn_info_["steps"]
        assert len(steps) == 1 and key in steps[0]
        assert steps[0]["rank"] >= 1 and np.isfinite(steps[0]["grad_norm"])
    # pinv_rank only where it means something
    assert "pinv_rank" not in kk.unlearn(m, X, y, [0], method="cure_newton").unlearn_info_["steps"][0]
    sc = kk.unlearn(m, X, y, [0], method="scure_newton", n_outer=2, batch_grad=4, batch_hess=3, lr=1e-3, M=5.0)
    st = sc.unlearn_info_["steps"]
    assert len(st) == 2 and st[0]["rows_grad"].dtype == np.int64 and st[0]["rows_grad"].size == 4


def test_kkt_options_round_trip_and_result():
    o = _core.KKTOptions()
    assert o.method == "nnls" and o.solver == "auto" and o.lambdas is None and o.pairs is None and o.mu is None
    for name in ("dynamics", "closed_form", "given", "nnls"):
        o.method = name
        assert o.method == name
    with pytest.raises(ValueError, match="unknown multiplier method"):
        o.method = "lp"
    o.solver = "active_set"
    assert o.solver == "active_set"
    with pytest.raises(ValueError, match="unknown NNLS solver"):
        o.solver = "cg"
    P = np.array([[0, 1], [3, 2]], dtype=np.int64)
    o.pairs = P
    np.testing.assert_array_equal(o.pairs, P)
    o.pairs = None
    assert o.pairs is None
    X, y = near_orthogonal(10, 40, seed=4)
    m = kk.TwoLayerReLU(width=6, max_iter=300, random_state=0, representation="primal").fit(X, y)
    mult = kk.kkt_multipliers(m, X, y, subgradient_tol=0.0)
    o = _core.KKTOptions()
    o.subgradient_tol = 0.0
    r = _core.kkt_solve(np.ascontiguousarray(X), m._encode_y(y, 10), np.asarray(m.W_), np.asarray(m.u_, float),
                        m.slope_, m.train_outer_, o, 1)
    assert isinstance(r, _core.KKTResult) and r.separable and r.converged
    np.testing.assert_allclose(r.lambdas, mult.lambdas, rtol=1e-12, atol=1e-15)
    assert r.epsilon == pytest.approx(mult.epsilon, rel=1e-12)
    given = _core.KKTOptions()
    given.method = "given"
    with pytest.raises(ValueError, match="method 'given' needs lambdas"):
        _core.kkt_solve(np.ascontiguousarray(X), m._encode_y(y, 10), np.asarray(m.W_), np.asarray(m.u_, float),
                        m.slope_, m.train_outer_, given, 1)


def test_nnls_options_and_result():
    o = _core.NNLSOptions()
    assert o.solver == "auto" and o.tol == 1e-10 and o.max_iter == 0
    for k, v in dict(tol=1e-12, max_iter=7, n_threads=2, drop_tol=1e-9).items():
        setattr(o, k, v)
        assert getattr(o, k) == v
    o.solver = "active_set"
    assert o.solver == "active_set"
    with pytest.raises(ValueError, match="nope"):
        o.solver = "nope"
    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 12))
    t = rng.standard_normal(30)
    o.max_iter = 0
    r = _core.nnls_gram(A.T @ A, A.T @ t, o)
    assert isinstance(r, _core.NNLSResult) and r.converged and (r.x >= 0).all()
    g = A.T @ A @ r.x - A.T @ t  # the NNLS optimality conditions, and the reported objective and violation
    assert np.all(g[r.x == 0] >= -1e-10) and np.abs(g[r.x > 0]).max() <= 1e-10
    assert r.objective == pytest.approx(0.5 * r.x @ (A.T @ A) @ r.x - (A.T @ t) @ r.x, rel=1e-12)
    assert r.kkt_violation <= 1e-10
    bad = _core.NNLSOptions()
    bad.tol = 0.0
    with pytest.raises(ValueError, match="tol must be > 0"):
        _core.nnls_gram(A.T @ A, A.T @ t, bad)


def test_margin_stats_and_cubic_solution_are_structs():
    q = np.array([0.5, -1.0, 3.0])
    st = _core.margin_stats(q, "exponential")
    assert st.loss == pytest.approx(np.mean(np.exp(-q)), rel=1e-14) and st.min_margin == -1.0 and st.n_misfit == 1
    assert st.log_loss == pytest.approx(np.log(np.mean(np.exp(-q))), rel=1e-14) and st.finite
    lam, b = np.array([-1.0, 2.0]), np.array([0.3, -0.5])
    s = _core.cubic_solve_eig(lam, b, 2.0)
    # stationarity of <b, s> + 1/2 sum lam s^2 + M/6 ||s||^3: b + (lam + (M/2) ||s||) s = 0
    np.testing.assert_allclose(b + (lam + 1.0 * np.linalg.norm(s.s)) * s.s, 0.0, atol=1e-10)
    assert s.gamma == pytest.approx(np.linalg.norm(s.s), rel=1e-12) and s.norm == pytest.approx(np.linalg.norm(s.s))
    d = kk.unlearning.solve_cubic_eig(lam, b, 2.0)  # the public function keeps its documented dict
    np.testing.assert_array_equal(d["s"], s.s)
    assert d["gamma"] == s.gamma and d["hard_case"] is False


@pytest.mark.parametrize("train_outer", [False, True])
def test_ga_options_round_trip_and_step_formula(train_outer):
    rng = np.random.default_rng(1)
    k, nr, d, m = 4, 6, 9, 5
    XF, XR = rng.standard_normal((k, d)), rng.standard_normal((nr, d))
    yF = np.array([1.0, -1.0, 1.0, -1.0])
    W, u = rng.standard_normal((m, d)), rng.standard_normal(m)
    o = _core.GAOptions()
    assert o.mu is None and o.alpha == 1.0 and o.w_scale == 1.0
    o.slope, o.train_outer, o.alpha, o.w_scale, o.n_threads = 0.1, train_outer, 0.7, 1.3, 1
    o.lam_forget = np.array([0.5, 1.0, 0.0, 2.0])
    o.pinned_r, o.pinned_j, o.mu = [1, 3], [2, 0], np.array([0.25, 1.5])
    assert list(o.pinned_r) == [1, 3] and list(o.pinned_j) == [2, 0]
    np.testing.assert_array_equal(o.mu, [0.25, 1.5])
    W1, u1, res = _core.ga_step(XF, yF, XR, W, u, o)
    # numpy: c_rj = lambda_r sigma'(z_rj), or mu on the pinned pairs
    Z = XF @ W.T
    C = o.lam_forget[:, None] * np.where(Z > 0, 1.0, 0.1)
    C[1, 2], C[3, 0] = 0.25, 1.5
    W_ref = W - 0.7 * 1.3 * ((yF[:, None] * C * u[None, :]).T @ XF)
    np.testing.assert_allclose(W1, W_ref, rtol=1e-13, atol=1e-13)
    u_ref = u - 0.7 * (o.lam_forget * yF) @ np.where(Z > 0, Z, 0.1 * Z) if train_outer else u
    np.testing.assert_allclose(u1, u_ref, rtol=1e-13, atol=1e-13)
    assert res.n_clarke == 2
    assert res.preact_shift == pytest.approx(np.abs(XR @ (W1 - W).T).max(), rel=1e-12)

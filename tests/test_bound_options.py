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

"""The default multiplier solver (one Cholesky factor + primal-dual active set, nnls.hpp) against
scipy's NNLS on explicit Jacobians, against Lawson-Hanson, on singular Grams, across thread counts,
and under Ctrl-C."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
import scipy.optimize as sopt

import kktunlearn as kk
from kktunlearn import _core
from conftest import nnls


def _jacobian_columns(X, y, W, u):
    """A = [y_i grad_W N(x_i)]_i as an (m d) x n matrix (fixed-u ReLU net), formed explicitly."""
    Z = X @ W.T
    D = (Z > 0).astype(np.float64) * u[None, :]          # n x m
    return np.stack([y[i] * np.outer(D[i], X[i]).ravel() for i in range(X.shape[0])], axis=1)


def _net(X, y, m, seed):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((m, X.shape[1])) / np.sqrt(X.shape[1])
    net = kk.TwoLayerReLU(width=m).set_parameters(W)
    return net, W, np.asarray(net.u_, dtype=np.float64)


def _gram(A, t):
    return np.ascontiguousarray(A.T @ A), A.T @ t


@pytest.mark.parametrize("seed", range(6))
def test_multipliers_match_scipy_nnls_on_explicit_jacobian(seed):
    rng = np.random.default_rng(seed)
    n, d, m = 12 + 3 * seed, 30, 6
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    net, W, u = _net(X, y, m, seed)
    mult = kk.kkt_multipliers(net, X, y, scale=1.0)
    A = _jacobian_columns(X, y, W, u)
    lam_ref, res_ref = sopt.nnls(A, W.ravel(), maxiter=100 * n)
    assert mult.converged and mult.n_dropped == 0
    np.testing.assert_allclose(mult.lambdas, lam_ref, rtol=0, atol=1e-8 * max(1.0, lam_ref.max()))
    assert mult.epsilon == pytest.approx(res_ref, rel=1e-10)


def test_factor_solver_matches_lawson_hanson_medium():
    rng = np.random.default_rng(3)
    n, d, m = 300, 80, 20
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    net, W, u = _net(X, y, m, 3)
    a = kk.kkt_multipliers(net, X, y, scale=1.0)
    b = kk.kkt_multipliers(net, X, y, scale=1.0, solver="active_set")
    assert a.converged and b.converged
    assert 0 < (a.lambdas > 0).sum() < n  # a genuine active set: some constraints inactive
    np.testing.assert_allclose(a.lambdas, b.lambdas, rtol=0, atol=1e-8 * b.lambdas.max())
    assert a.epsilon == pytest.approx(b.epsilon, rel=1e-10)


def _check_singular(G, b, A, t):
    r = nnls(G, b, 1e-12, 0)
    x = r.x
    assert r.converged and (x >= 0).all()
    _, res_ref = sopt.nnls(A, t, maxiter=200 * len(b))
    # the minimizer is not unique; the residual (epsilon) and the objective are
    assert np.linalg.norm(A @ x - t) == pytest.approx(res_ref, rel=1e-9, abs=1e-12)
    w = b - G @ x
    assert np.max(np.where(x > 0, np.abs(w), w)) <= 1e-9 * np.abs(b).max()
    return r


def test_rank_deficient_gram_more_points_than_parameters():
    rng = np.random.default_rng(0)
    p, n = 15, 60                               # n > m d: rank(G) <= 15 of 60
    A = rng.standard_normal((p, n))
    t = A @ np.abs(rng.standard_normal(n)) + 0.1 * rng.standard_normal(p)
    G, b = _gram(A, t)
    r = _check_singular(G, b, A, t)
    supp = r.x > 0
    # a basic solution: supported on linearly independent columns
    assert supp.sum() <= p and np.linalg.matrix_rank(A[:, supp]) == supp.sum()
    # started from every point: the factorization itself finds the rank
    r2 = nnls(G, b, 1e-12, 0, x0=np.ones(n))
    assert r2.n_dropped == n - p and r2.converged
    assert np.linalg.norm(A @ r2.x - t) == pytest.approx(np.linalg.norm(A @ r.x - t), rel=1e-9)


def test_duplicated_and_zero_rows():
    rng = np.random.default_rng(1)
    p, n = 40, 25
    A = rng.standard_normal((p, n))
    A[:, 7] = A[:, 3]                          # duplicated point
    A[:, 11] = 0.0                             # zero gradient
    t = A @ np.abs(rng.standard_normal(n))
    G, b = _gram(A, t)
    r = _check_singular(G, b, A, t)
    assert r.x[11] == 0.0 and min(r.x[3], r.x[7]) == 0.0
    r2 = nnls(G, b, 1e-12, 0, x0=np.ones(n))   # both in the first factorization: both dropped
    assert r2.n_dropped == 2 and r2.x[11] == 0.0 and r2.x[7] == 0.0 and r2.converged
    # the KKT wrapper: duplicated data points give a singular Gram and the same epsilon as scipy
    X = rng.standard_normal((10, 20)) / np.sqrt(20)
    X[5] = X[2]
    y = np.where(np.arange(10) % 2 == 0, 1.0, -1.0)
    net, W, u = _net(X, y, 4, 1)
    mult = kk.kkt_multipliers(net, X, y, scale=1.0)
    _, res_ref = sopt.nnls(_jacobian_columns(X, y, W, u), W.ravel(), maxiter=2000)
    assert mult.epsilon == pytest.approx(res_ref, rel=1e-10)


def test_auto_and_active_set_agree_random_grams():
    rng = np.random.default_rng(5)
    for trial in range(30):
        k, p = int(rng.integers(2, 60)), int(rng.integers(2, 80))
        A = rng.standard_normal((p, k))
        t = rng.standard_normal(p)
        G, b = _gram(A, t)
        ra = nnls(G, b, 1e-12, 0)
        rb = nnls(G, b, 1e-12, 0, solver="active_set")
        assert ra.converged and rb.converged
        assert ra.objective == pytest.approx(rb.objective, rel=1e-9, abs=1e-12)
        if p >= k and np.linalg.cond(G) < 1e8:
            np.testing.assert_allclose(ra.x, rb.x, atol=1e-8 * max(1.0, np.abs(rb.x).max()))


def test_interior_solution_with_nonpositive_b_takes_one_factorization():
    """The first working set is every coordinate: when the minimizer is interior (x* > 0 everywhere) but
    many b_i <= 0 (points a model does not fit yet), the solve is one factorization and no working-set
    change, and x equals the unconstrained solution and scipy's NNLS."""
    rng = np.random.default_rng(11)
    n, p = 300, 400
    A = rng.standard_normal((p, n))
    G = A.T @ A / p
    xstar = np.where(np.arange(n) % 2 == 0, 1e-3, 1.0) * rng.uniform(0.5, 1.5, n)
    b = G @ xstar  # the small x*_i get b_i of either sign from the off-diagonal terms
    x_unc = np.linalg.solve(G, b)
    assert (x_unc > 0).all() and (b <= 0).sum() > 0.2 * n  # the case this test is about
    r = nnls(G, b, 1e-12, 0)
    assert r.converged and r.n_factor == 1 and r.n_pdas == 0
    np.testing.assert_allclose(r.x, x_unc, rtol=1e-9, atol=1e-12)
    R = np.linalg.cholesky(G).T
    x_sp, _ = sopt.nnls(R, np.linalg.solve(R.T, b), maxiter=50 * n)
    np.testing.assert_allclose(r.x, x_sp, rtol=1e-8, atol=1e-10)


def test_warm_start_and_bad_solver_name():
    rng = np.random.default_rng(2)
    A = rng.standard_normal((50, 30))
    G, b = _gram(A, rng.standard_normal(50))
    r0 = nnls(G, b, 1e-12, 0)
    r1 = nnls(G, b, 1e-12, 0, x0=r0.x)
    assert r1.n_pdas == 0 or r1.n_pdas <= r0.n_pdas
    np.testing.assert_allclose(r1.x, r0.x, atol=1e-12 * np.abs(r0.x).max())
    with pytest.raises(ValueError, match="solver"):
        nnls(G, b, 1e-12, 0, solver="nope")
    X = rng.standard_normal((6, 5))
    y = np.where(np.arange(6) % 2 == 0, 1.0, -1.0)
    net, _, _ = _net(X, y, 3, 0)
    with pytest.raises(ValueError, match="solver"):
        kk.kkt_multipliers(net, X, y, scale=1.0, solver="nope")


def test_bit_identical_across_thread_counts():
    rng = np.random.default_rng(4)
    p, n = 500, 400                             # several 128-column panels
    A = rng.standard_normal((p, n))
    t = A @ rng.standard_normal(n)              # about half the constraints active
    G, b = _gram(A, t)
    outs = [nnls(G, b, 1e-12, 0, nt).x for nt in (1, 2, 3, 4)]
    assert (outs[0] > 0).sum() < n
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


def test_ctrl_c_inside_the_factorization():
    rng = np.random.default_rng(0)
    n = 3000
    B = rng.standard_normal((n, n + 10))
    G = np.ascontiguousarray(B @ B.T)
    b = G @ np.ones(n)
    del B
    t = threading.Timer(0.05, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.perf_counter()
    t.start()
    interrupted = False
    try:
        try:
            nnls(G, b, 1e-10, 0, 2)
        except KeyboardInterrupt:
            interrupted = True
        elapsed = time.perf_counter() - t0
        t.cancel()
        t.join()
        time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    if not interrupted:
        pytest.skip(f"the solve finished in {elapsed:.2f} s, before the interrupt")
    # checked once per 128-column panel of the factorization
    assert elapsed < 0.05 + (30.0 if os.environ.get("KKT_SANITIZE") else 3.0)
    r = nnls(G[:50, :50].copy(), b[:50].copy(), 1e-10, 0)
    assert r.converged


def test_kkt_report_reuses_the_models_own_multipliers(monkeypatch):
    rng = np.random.default_rng(8)
    n, d, m = 30, 40, 8
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    net, W, u = _net(X, y, m, 8)
    mult = kk.kkt_multipliers(net, X, y, scale=1.0, subgradient_tol=1e-2)
    fresh = kk.kkt_report(net, X, y, multipliers=type(mult)(**{**mult.__dict__, "_state_key": None}), scale=1.0,
                          subgradient_tol=1e-2)
    calls = []
    orig = _core.kkt_solve
    monkeypatch.setattr(_core, "kkt_solve", lambda *a, **k: calls.append(1) or orig(*a, **k))
    rep = kk.kkt_report(net, X, y, multipliers=mult, scale=1.0, subgradient_tol=1e-2)
    assert calls == []                                  # nothing recomputed
    assert rep.multipliers is mult
    assert rep.epsilon == pytest.approx(fresh.epsilon, rel=1e-12)
    assert rep.delta == pytest.approx(fresh.delta, rel=1e-12, abs=1e-15)
    np.testing.assert_array_equal(rep.lambdas, fresh.lambdas)
    # anything that changes the state is a cache miss: other data, other scale, other tolerance,
    # edited multipliers, a model whose parameters changed
    for kwargs in (dict(scale=2.0, subgradient_tol=1e-2), dict(scale=1.0, subgradient_tol=0.0)):
        calls.clear()
        kk.kkt_report(net, X, y, multipliers=mult, **kwargs)
        assert calls == [1]
    calls.clear()
    kk.kkt_report(net, X[::-1].copy(), y[::-1].copy(), multipliers=mult, scale=1.0, subgradient_tol=1e-2)
    assert calls == [1]
    calls.clear()
    edited = type(mult)(**{**mult.__dict__, "lambdas": mult.lambdas * 2})
    kk.kkt_report(net, X, y, multipliers=edited, scale=1.0, subgradient_tol=1e-2)
    assert calls == [1]
    calls.clear()
    net2 = kk.TwoLayerReLU(width=m).set_parameters(W * (1 + 1e-9))
    kk.kkt_report(net2, X, y, multipliers=mult, scale=1.0, subgradient_tol=1e-2)
    assert calls == [1]

"""float32 models: the whole pipeline in float32, long sums accumulated in double.

Tolerances (stated here, checked below):
  * K = X X^T and Z = X W^T in float32 with d > 4096 (here 3e5): each entry is the float32
    rounding of a double-accurate sum, i.e. within half an ulp (2^-24 relative) of the float64
    product of the same float32 data (the sums over d run in double; a plain float32 GEMM is off
    by ~1e-6 of the largest entry at this d, many ulps for the smaller entries).
  * trained models (300 GD steps, n = 16, d = 300): W, u, decisions and min margin of the float32
    model within 1e-4 relative of the float64 model (measured ~5e-7; the slack covers the
    amplification of rounding over the iterations), same activation pattern on the training set
    wherever |z| > 1e-4 max|z|.
  * the KKT certificate of a float32 (primal) model against the float64 certificate of the same parameters on
    the same data (n = 24, m = 16, d = 200 and 2e5; the data float32-representable, so only the arithmetic
    differs): the core sums K = X X^T and Z = X W^T in double and keeps them in double for the solve, so lambda
    is within CERT_LAM_RTOL = 1e-10 of max lambda and epsilon within CERT_EPS_RTOL = 1e-10 relative (measured
    ~1e-15). Rounding K and Z to float32 once (what the certificate did before, for d > 4096) moves lambda by
    ~4e-8; summing them in float32 (16 lanes of 12500 terms) by 8.0e-7 and epsilon by 4.9e-6: the test checks
    that the tolerances catch the latter.
"""

import numpy as np
import pytest

from kktunlearn import LinearModel, TwoLayerReLU, _core
from kktunlearn.datasets import near_orthogonal

TRAIN_RTOL = 1e-4
CERT_LAM_RTOL = 1e-10
CERT_EPS_RTOL = 1e-10


def _rel(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def data():
    return near_orthogonal(16, 300, seed=3)


@pytest.mark.parametrize("rep", ["span", "primal"])
@pytest.mark.parametrize("kw", [dict(), dict(train_outer=True, lr_max=50.0), dict(leaky_slope=0.1, loss="logistic")])
def test_float32_network_matches_float64(data, rep, kw):
    X, y = data
    a = TwoLayerReLU(width=24, random_state=7, max_iter=300, representation=rep, dtype=np.float32, **kw).fit(X, y)
    b = TwoLayerReLU(width=24, random_state=7, max_iter=300, representation=rep, **kw).fit(X, y)
    assert a.W_.dtype == np.float32 and a.u_.dtype == np.float32
    assert a.representation_ == rep
    assert _rel(a.W_, b.W_) < TRAIN_RTOL
    assert _rel(a.u_, b.u_) < TRAIN_RTOL
    assert _rel(a.decision_function(X), b.decision_function(X)) < TRAIN_RTOL
    assert abs(a.min_margin_ - b.min_margin_) < TRAIN_RTOL * abs(b.min_margin_)
    Z = X @ np.asarray(b.W_).T
    clear = np.abs(Z) > 1e-4 * np.abs(Z).max()
    assert np.array_equal(a.activation_pattern(X)[clear], b.activation_pattern(X).astype(np.float32)[clear])
    if rep == "span":
        Zs = a._preactivations(np.asarray(X, dtype=np.float32))
        assert Zs.dtype == np.float32
        assert a._kernel(np.asarray(X, dtype=np.float32)).dtype == np.float32


@pytest.mark.parametrize("rep", ["span", "primal"])
def test_float32_linear_matches_float64(data, rep):
    X, y = data
    a = LinearModel(max_iter=500, representation=rep, dtype=np.float32).fit(X, y)
    b = LinearModel(max_iter=500, representation=rep).fit(X, y)
    assert a.coef_.dtype == np.float32
    assert _rel(a.coef_, b.coef_) < TRAIN_RTOL


def test_float32_long_sums_accumulate_in_double():
    rng = np.random.default_rng(0)
    d = 300_000
    X = rng.standard_normal((12, d)).astype(np.float32)
    W = rng.standard_normal((9, d)).astype(np.float32)
    X64, W64 = X.astype(np.float64), W.astype(np.float64)
    K64 = X64 @ X64.T
    K = _core.kernel_matrix(X, 0)
    assert K.dtype == np.float32
    # the float32 result is the float32 rounding of a double-accurate sum: within half an ulp
    # (2^-24 relative) of the float64 product, up to double rounding (1e-12 of the largest entry)
    assert np.all(np.abs(K - K64) <= 2.0 ** -24 * np.abs(K64) + 1e-12 * np.abs(K64).max())
    assert np.array_equal(K, K.T)
    Z64 = X64 @ W64.T
    Z = _core.preactivations(X, W, 0)
    assert np.all(np.abs(Z - Z64) <= 2.0 ** -24 * np.abs(Z64) + 1e-12 * np.abs(Z64).max())
    # thread count does not change a bit
    assert np.array_equal(_core.kernel_matrix(X, 1), _core.kernel_matrix(X, 2))
    assert np.array_equal(_core.preactivations(X, W, 1), _core.preactivations(X, W, 2))


def test_float32_span_model_on_wide_data():
    rng = np.random.default_rng(1)
    n, d = 12, 50_000
    X = (rng.standard_normal((n, d)) / np.sqrt(d)).astype(np.float32)
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    a = TwoLayerReLU(width=16, random_state=0, max_iter=200, dtype=np.float32).fit(X, y)
    b = TwoLayerReLU(width=16, random_state=0, max_iter=200).fit(X.astype(np.float64), y)
    assert a.representation_ == b.representation_ == "span"
    assert _rel(a.decision_function(X), b.decision_function(X.astype(np.float64))) < TRAIN_RTOL
    assert _rel(a.W_, b.W_) < TRAIN_RTOL


def test_float32_multipliers_and_ga_match_float64():
    from kktunlearn import kkt_multipliers, unlearn

    X, y = near_orthogonal(12, 80, seed=5)
    a = TwoLayerReLU(width=10, max_iter=400, random_state=2, dtype=np.float32).fit(X, y)
    b = TwoLayerReLU(width=10, max_iter=400, random_state=2).fit(X, y)
    ma = kkt_multipliers(a, X, y, subgradient_tol=1e-3)
    mb = kkt_multipliers(b, X, y, subgradient_tol=1e-3)
    assert np.abs(ma.lambdas - mb.lambdas).max() <= TRAIN_RTOL * np.abs(mb.lambdas).max()
    assert abs(ma.epsilon - mb.epsilon) <= TRAIN_RTOL * mb.epsilon
    ua, ub = unlearn(a, X, y, [3]), unlearn(b, X, y, [3])
    assert ua.W_.dtype == np.float32
    assert _rel(ua.W_, ub.W_) < TRAIN_RTOL


def _float32_lane_sums(A, B, lanes=16):
    """A B^T the way a float32 GEMM sums: float32 products, 16 lanes each summed in order in float32, then the
    lanes (np.cumsum is sequential; no BLAS, so the result does not depend on the machine)."""
    out = np.empty((A.shape[0], B.shape[0]), dtype=np.float32)
    for i in range(A.shape[0]):
        P = (A[i][None, :] * B).reshape(B.shape[0], -1, lanes)
        out[i] = np.cumsum(P, axis=1, dtype=np.float32)[:, -1, :].sum(axis=1, dtype=np.float32)
    return out


@pytest.mark.parametrize("d", [200, 200_000])
def test_float32_certificate_matches_float64_of_same_parameters(d):
    # the float32 path of the certificate (K = X X^T, Z = X W^T summed in double over any d, kept in double for
    # the solve) against the float64 certificate of the same parameters on the same data
    from kktunlearn import kkt_report

    rng = np.random.default_rng(4)
    n, m = 24, 16
    X = (rng.standard_normal((n, d)) / np.sqrt(d)).astype(np.float32)
    X64 = X.astype(np.float64)
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    net = TwoLayerReLU(width=m, max_iter=200, random_state=0, n_threads=1).fit(X64, y)
    W32, u32 = np.asarray(net.W_).astype(np.float32), np.asarray(net.u_).astype(np.float32)
    a = TwoLayerReLU(width=m, n_threads=1, dtype=np.float32).set_parameters(W32, u32)
    b = TwoLayerReLU(width=m, n_threads=1).set_parameters(W32.astype(np.float64), u32.astype(np.float64))
    s = float((y * b.decision_function(X64)).min())
    assert s > 0
    ra, rb = kkt_report(a, X, y, scale=s, n_threads=1), kkt_report(b, X64, y, scale=s, n_threads=1)
    assert ra.converged and rb.converged and ra.multipliers.n_dropped == rb.multipliers.n_dropped == 0
    lb = np.asarray(rb.lambdas)
    lam_gap = np.abs(np.asarray(ra.lambdas) - lb).max() / np.abs(lb).max()
    assert lam_gap <= CERT_LAM_RTOL
    assert abs(ra.epsilon - rb.epsilon) <= CERT_EPS_RTOL * rb.epsilon
    assert abs(ra.epsilon_rel - rb.epsilon_rel) <= CERT_EPS_RTOL * rb.epsilon_rel
    assert rb.delta > 0 and abs(ra.delta - rb.delta) <= CERT_EPS_RTOL * rb.delta   # measured <= 3.3e-16
    assert abs(ra.tau - rb.tau) <= 1e-12   # measured 0
    if d <= 4096:
        return   # the float32-sum counterfactual below is for long sums

    # the tolerances would catch float32 accumulation: the same certificate from K and Z summed in float32, fed
    # to the core's float32 entry (span form with A = 0: W = W0, Z0 = Z, K_train = K), falls outside both
    K, Z = _float32_lane_sums(X, X), _float32_lane_sums(X, W32)
    wsq = np.einsum("ij,ij->i", W32, W32, dtype=np.float64)
    opt = _core.KKTOptions()
    opt.method, opt.tol, opt.scale, opt.loss = "nnls", 1e-10, s, "exponential"
    r = _core.kkt_solve_span(Z, K, wsq, K, Z, np.zeros((n, m), dtype=np.float32), list(range(n)), 1.0,
                             float(wsq.sum()), y.astype(np.float32), u32, 0.0, False, opt, 1)
    assert np.abs(np.asarray(r.lambdas) - lb).max() / np.abs(lb).max() > CERT_LAM_RTOL
    assert abs(r.epsilon - rb.epsilon) > CERT_EPS_RTOL * rb.epsilon

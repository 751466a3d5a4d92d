"""One model state from fit to verdict (issue 10).

* Every consumer of a span model (W = c W0 + A^T X held implicitly) gives the numbers of the primal
  model holding the same W as an array: predictions, KKT multipliers and reports, verification,
  cosine similarity, every span-capable unlearning method, sequences, the metrics. The primal twin is
  built with set_parameters(W_ of the span model), so both hold the same parameters and only the
  representation differs (tolerance 1e-10 relative; float32: 1e-4).
* Reading never changes a result: outputs are bit-identical before and after reading W_, across
  pickle and across save/load, for span and primal models.
* A span model's result stays a span model (W is not formed inside the library).
"""

import io
import pickle
import warnings

import numpy as np
import pytest

import kktunlearn as ku
from kktunlearn import LinearModel, TwoLayerReLU, _span
from kktunlearn.datasets import near_orthogonal
from kktunlearn.kkt import cosine_similarity, kkt_multipliers, kkt_report, verify_unlearning
from kktunlearn.metrics import evaluate_unlearning
from kktunlearn.unlearning import unlearn, unlearn_sequence

SPAN_METHODS = ("ga", "neggrad", "neggrad_plus", "finetune", "retrain")


def _rel(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def _fit(kind, dtype=np.float64, seed=5, n=14, d=90):
    X, y = near_orthogonal(n, d, seed=seed)
    X = X.astype(dtype)
    if kind == "linear":
        mdl = LinearModel(max_iter=300, representation="span", init_scale=1e-2, random_state=3, dtype=dtype)
    else:
        kw = dict(relu=dict(), trained=dict(train_outer=True, lr_max=50.0), leaky=dict(leaky_slope=0.2))[kind]
        mdl = TwoLayerReLU(width=9, max_iter=300, random_state=2, representation="span", dtype=dtype, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mdl.fit(X, y)
    assert mdl._is_span
    return X, y, mdl


def _primal_twin(mdl):
    """A primal model holding the span model's W (formed once, here in the test) and u."""
    twin = ku.clone(mdl).set_params(representation="primal")
    twin.set_parameters(np.array(mdl.W_), np.array(mdl.u_))
    twin.classes_ = mdl.classes_
    assert not twin._is_span
    return twin


KINDS = ["linear", "relu", "trained", "leaky"]


# ----------------------------------------------------------------------------- span == primal
@pytest.mark.parametrize("kind", KINDS)
def test_predictions_span_equal_primal(kind):
    X, y, a = _fit(kind)
    b = _primal_twin(a)
    Xt = np.random.default_rng(1).standard_normal((5, X.shape[1])) / np.sqrt(X.shape[1])
    for Xe in (X, X[3:9], X[::-1].copy(), Xt):
        assert _rel(a.decision_function(Xe), b.decision_function(Xe)) < 1e-10
    assert np.array_equal(a.predict(Xt), b.predict(Xt))
    assert a.score(X, y) == b.score(X, y)
    assert _rel(a.margins(X, y), b.margins(X, y)) < 1e-10
    # the state's norms and inner products against numpy on the formed W
    W = np.asarray(a.W_, dtype=np.float64)
    sp = a._state
    np.testing.assert_allclose(sp.neuron_sqnorms(), np.sum(W * W, axis=1), rtol=1e-10)
    assert a._sqnorm_W() == pytest.approx(float(np.sum(W * W)), rel=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_kkt_span_equal_primal(kind):
    X, y, a = _fit(kind)
    b = _primal_twin(a)
    tol = 0.0 if kind == "linear" else 1e-3
    for method in ("nnls", "dynamics"):
        ma = kkt_multipliers(a, X, y, method=method, subgradient_tol=tol)
        mb = kkt_multipliers(b, X, y, method=method, subgradient_tol=tol)
        assert np.array_equal(ma.pinned, mb.pinned)
        assert _rel(ma.lambdas, mb.lambdas) < 1e-9, method
        assert ma.epsilon == pytest.approx(mb.epsilon, rel=1e-8, abs=1e-12), method
        assert ma.theta_norm == pytest.approx(mb.theta_norm, rel=1e-12)
        assert ma.scale == pytest.approx(mb.scale, rel=1e-12)
    # on a subset of the training rows, with a given reference scale
    keep = np.arange(X.shape[0]) != 2
    ra = kkt_report(a, X[keep], y[keep], subgradient_tol=tol, scale=ma.scale)
    rb = kkt_report(b, X[keep], y[keep], subgradient_tol=tol, scale=mb.scale)
    for f in ("epsilon", "delta", "delta_sum", "tau", "min_margin", "theta_norm"):
        assert getattr(ra, f) == pytest.approx(getattr(rb, f), rel=1e-8, abs=1e-12), f


def test_direct_residual_in_the_span():
    # the linear model at its KKT point: epsilon is tiny and recomputed without the Gram identity
    X, y = near_orthogonal(10, 60, seed=1)
    a = LinearModel(max_iter=4000, representation="span").fit(X, y)
    b = _primal_twin(a)
    ma, mb = kkt_multipliers(a, X, y), kkt_multipliers(b, X, y)
    assert ma.direct_residual and mb.direct_residual
    assert ma.epsilon == pytest.approx(mb.epsilon, rel=1e-6, abs=1e-13)


@pytest.mark.parametrize("kind", KINDS)
def test_unlearning_span_equal_primal(kind):
    X, y, a = _fit(kind)
    b = _primal_twin(a)
    forget = [3, 7]
    for method in SPAN_METHODS:
        opts = {"n_steps": 3} if method in ("neggrad", "neggrad_plus", "finetune") else {}
        ua = unlearn(a, X, y, forget, method=method, **opts)
        ub = unlearn(b, X, y, forget, method=method, **opts)
        assert ua._is_span, method  # a span model's result stays a span model
        assert _rel(ua.W_, ub.W_) < 1e-10, method
        assert _rel(ua.u_, ub.u_) < 1e-10, method
        ia, ib = ua.unlearn_info_, ub.unlearn_info_
        assert ia["preact_shift"] == pytest.approx(ib["preact_shift"], rel=1e-8, abs=1e-13), method
        assert ia["step_norm"] == pytest.approx(ib["step_norm"], rel=1e-8, abs=1e-13), method
        # verification and cosine to the retrained model
        ra = unlearn(a, X, y, forget, method="retrain")
        rb = unlearn(b, X, y, forget, method="retrain")
        va = verify_unlearning(ua, X, y, forget, retrained=ra, original=a)
        vb = verify_unlearning(ub, X, y, forget, retrained=rb, original=b)
        for f in ("epsilon", "delta", "tau", "min_margin", "scale", "cosine_to_retrained",
                  "cosine_original_to_retrained"):
            assert getattr(va, f) == pytest.approx(getattr(vb, f), rel=1e-8, abs=1e-12), (method, f)
        assert cosine_similarity(ua, ra) == pytest.approx(cosine_similarity(ub, rb), rel=1e-10)


NEWTON_SPAN = (("newton", {"l2": 1e-3}), ("damped_newton", {"damping": 0.1}), ("pinv_newton", {}),
               ("cure_newton", {"M": 1.0}), ("cure_newton", {"M": 0.5, "l2": 1e-2, "n_steps": 3}),
               ("cure_newton", {"M": "auto", "M_init": 100.0, "n_steps": 2, "l2": 1e-2}),
               ("cure_newton", {"M": "auto", "n_steps": 2}))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["linear", "relu", "leaky"])
def test_newton_family_stays_in_the_span(kind, dtype):
    """The low-rank Newton family (fixed u; a fixed or the automatic M) on a span model runs on its K and Z:
    the result is a span model, equal to the primal twin's result (1e-10; float32 1e-4), with the same
    accepted M at every step, and no W is formed on the way."""
    X, y, a = _fit(kind, dtype=dtype)
    b = _primal_twin(_fit(kind, dtype=dtype)[2])  # the twin of an identical fit: a itself never forms W
    tol = 1e-10 if dtype == np.float64 else 1e-4
    atol = 1e-12 if dtype == np.float64 else 1e-6  # float32: a small shift is a difference of O(1) numbers
    forget = [3, 7]
    for method, opts in NEWTON_SPAN:
        ua = unlearn(a, X, y, forget, method=method, **opts)
        assert ua._is_span and ua.__dict__["_span"]._W is None, method
        ub = unlearn(b, X, y, forget, method=method, **opts)
        assert _rel(ua.W_, ub.W_) < tol, (method, opts)
        ia, ib = ua.unlearn_info_, ub.unlearn_info_
        assert ia["solver"] == ib["solver"] == "lowrank"
        assert ia["preact_shift"] == pytest.approx(ib["preact_shift"], rel=tol, abs=atol), method
        assert ia["step_norm"] == pytest.approx(ib["step_norm"], rel=tol, abs=atol), method
        assert len(ia["steps"]) == len(ib["steps"])
        for sa, sb in zip(ia["steps"], ib["steps"]):
            assert sa["loss"] == pytest.approx(sb["loss"], rel=tol), method
            assert sa["step_norm"] == pytest.approx(sb["step_norm"], rel=tol, abs=atol), method
        if opts.get("M") == "auto":
            assert ia["M_rule"] == ib["M_rule"] == "auto"
            np.testing.assert_allclose(ia["M"], ib["M"], rtol=tol)
            for ra, rb in zip(ia["M_auto"], ib["M_auto"]):
                assert ra["accepted"] == rb["accepted"]
                for f in ("rho", "lipschitz", "step_norm"):
                    assert ra[f] == pytest.approx(rb[f], rel=max(tol, 1e-8), abs=atol), f
    assert a.__dict__["_span"]._W is None
    # a sequence of Newton unlearning requests stays in the span too
    seq, _ = unlearn_sequence(a, X, y, [[1], [2]], method="cure_newton", M=1.0)
    seq_b, _ = unlearn_sequence(b, X, y, [[1], [2]], method="cure_newton", M=1.0)
    last_a, last_b = seq[-1], seq_b[-1]
    assert last_a._is_span and last_a.__dict__["_span"]._W is None
    assert _rel(last_a.W_, last_b.W_) < tol


TRAINED_NEWTON = (("newton", {"l2": 1e-3}), ("damped_newton", {"damping": 0.1}), ("pinv_newton", {}),
                  ("pinv_newton", {"l2": 1e-2}), ("cure_newton", {"M": 1.0}), ("cure_newton", {"M": "auto"}),
                  ("cure_newton", {"M": 1.0, "l2": 1e-2, "n_steps": 3}))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", ["dense", "krylov"])
def test_trained_u_newton_stays_in_the_span(solver, dtype):
    """The dense and Krylov Newton solvers (trained u) on a span model run on its orthonormal coordinates
    (unlearning._SpanCoords): the result is a span model equal to the primal twin's (1e-10; float32 1e-4, and the
    float32 span path, whose coordinates are float64, to the float64 result), with the same records, weight decay
    (which scales the W0 part: w0_coef != 1) included; no W is formed."""
    X, y, a = _fit("trained", dtype=dtype)
    b = _primal_twin(_fit("trained", dtype=dtype)[2])
    X64, y64, a64 = _fit("trained")
    tol = 1e-10 if dtype == np.float64 else 1e-4
    forget = [3, 7]
    for method, opts in TRAINED_NEWTON:
        ua = unlearn(a, X, y, forget, method=method, solver=solver, **opts)
        assert ua._is_span and ua.__dict__["_span"]._W is None, method
        ia = ua.unlearn_info_
        assert ia["solver"] == solver
        if opts.get("l2"):
            assert ua.__dict__["_span"].w0_coef != a.__dict__["_span"].w0_coef, method
        if dtype == np.float32 and solver == "krylov" and method == "pinv_newton" and not opts:
            # pinv with rcond = 1e-15 on float32 Hessian-vector products keeps eigenvalues at float32 noise (the
            # primal twin's Lanczos runs 31 steps, not 28, and its step is 100x longer): compare with float64
            ref = unlearn(a64, X64, y64, forget, method=method, solver=solver, **opts)
            assert _rel(ua.W_, ref.W_) < 1e-4 and _rel(ua.u_, ref.u_) < 1e-4
            continue
        ub = unlearn(b, X, y, forget, method=method, solver=solver, **opts)
        ib = ub.unlearn_info_
        assert _rel(ua.W_, ub.W_) < tol and _rel(ua.u_, ub.u_) < tol, (method, opts)
        assert ia["step_norm"] == pytest.approx(ib["step_norm"], rel=tol), method
        assert ia["preact_shift"] == pytest.approx(ib["preact_shift"], rel=tol, abs=tol * 1e-2), method
        assert len(ia["steps"]) == len(ib["steps"])
        for sa, sb in zip(ia["steps"], ib["steps"]):
            assert sa["rank"] == sb["rank"] and sa.get("pinv_rank") == sb.get("pinv_rank"), (method, sa, sb)
            for f in ("loss", "grad_norm", "step_norm", "lam_min", "lam_max"):
                assert sa[f] == pytest.approx(sb[f], rel=max(tol, 1e-8), abs=1e-12), (method, f)
        if opts.get("M") == "auto":
            np.testing.assert_allclose(ia["M"], ib["M"], rtol=tol)
    assert a.__dict__["_span"]._W is None


def test_trained_u_newton_singular_krylov_matches_primal():
    """Undamped Newton with l2 = 0 on a Krylov solve: the span path refuses it as the primal one does."""
    X, y, a = _fit("trained")
    b = _primal_twin(_fit("trained")[2])
    for mdl in (a, b):
        with pytest.raises(ku._core.NumericalError, match="singular"):
            unlearn(mdl, X, y, [3], method="newton", solver="krylov")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scure_newton_stays_in_the_span(dtype):
    """SCureNewton on a span model runs on its coordinates, zeta drawn in all p dimensions (the hidden part as a
    chi-square, then dropped). Without the perturbation (sigma = 0) it is the primal method: equal over several
    outer steps with full batches (minibatches do not depend on the draws), and over the first step with
    minibatches (drawn before zeta), automatic M and weight decay included. With sigma > 0 the perturbation
    differs in its draw, not its law; the steps then differ by about sigma * lr."""
    X, y, a = _fit("trained", dtype=dtype)
    b = _primal_twin(_fit("trained", dtype=dtype)[2])
    tol = 1e-10 if dtype == np.float64 else 1e-4
    forget = [3, 7]
    cases = (dict(sigma=0.0, batch_grad=100, batch_hess=100, n_outer=3),
             dict(sigma=0.0, batch_grad=5, batch_hess=4, n_outer=1),
             dict(sigma=0.0, batch_grad=100, batch_hess=100, n_outer=3, M="auto", l2=1e-2))
    for opts in cases:
        ua = unlearn(a, X, y, forget, method="scure_newton", **opts)
        ub = unlearn(b, X, y, forget, method="scure_newton", **opts)
        assert ua._is_span and ua.__dict__["_span"]._W is None
        assert _rel(ua.W_, ub.W_) < tol and _rel(ua.u_, ub.u_) < tol, opts
        ia, ib = ua.unlearn_info_, ub.unlearn_info_
        # float32: the primal shift is a difference of two float32 pre-activations of O(1)
        assert ia["preact_shift"] == pytest.approx(ib["preact_shift"], rel=tol, abs=tol * 1e-2)
        for sa, sb in zip(ia["steps"], ib["steps"]):
            np.testing.assert_array_equal(sa["rows_grad"], sb["rows_grad"])
            assert sa["step_norm"] == pytest.approx(sb["step_norm"], rel=tol)
            assert sa["M"] == pytest.approx(sb["M"], rel=tol)
            assert sa["hidden_step_norm"] == 0.0
    ua = unlearn(a, X, y, forget, method="scure_newton", sigma=1e-3, n_outer=3)
    ua2 = unlearn(a, X, y, forget, method="scure_newton", sigma=1e-3, n_outer=3)
    ub = unlearn(b, X, y, forget, method="scure_newton", sigma=1e-3, n_outer=3)
    np.testing.assert_array_equal(ua.W_, ua2.W_)  # deterministic for a seed
    hid = [st["hidden_step_norm"] for st in ua.unlearn_info_["steps"]]
    assert all(0.0 < h < 1e-3 * 1e-3 * 10 for h in hid), hid  # |beta| <= sigma lr n_inner (l2 = 0)
    assert 0.0 < _rel(ua.W_, ub.W_) < 1e-4


@pytest.mark.parametrize("train_outer", [False, True])
def test_unlearning_permuted_rows_with_duplicates(train_outer):
    """X passed back as a row permutation of a training matrix that holds duplicated rows: each passed row is
    matched to a distinct training copy (rows_of), so the span methods that scatter into A's rows give the
    primal twin's result, as on the training order (the Newton family's scatter used to drop a copy: 1e-3)."""
    X, y = near_orthogonal(14, 90, seed=5)
    X, y = np.vstack([X, X[:3]]), np.concatenate([y, y[:3]])
    kw = dict(train_outer=True, lr_max=50.0) if train_outer else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = TwoLayerReLU(width=9, max_iter=300, random_state=2, representation="span", **kw).fit(X, y)
    b = _primal_twin(a)
    perm = np.random.default_rng(0).permutation(X.shape[0])
    rows = a.__dict__["_span"].rows_of(X[perm], 1)
    assert sorted(rows.tolist()) == list(range(X.shape[0]))  # distinct copies
    for method, opts in (("cure_newton", {}), ("pinv_newton", {}), ("ga", {}), ("neggrad", {}),
                         ("scure_newton", dict(sigma=0.0, batch_grad=100, batch_hess=100, n_outer=2))):
        ua = unlearn(a, X[perm], y[perm], [0, 5], method=method, **opts)
        ub = unlearn(b, X[perm], y[perm], [0, 5], method=method, **opts)
        assert ua._is_span
        assert _rel(ua.W_, ub.W_) < 1e-10 and _rel(ua.u_, ub.u_) < 1e-10, method


def test_span_basis_is_an_orthonormal_basis_of_the_rows():
    """span_basis (the trained-u Newton family's coordinates): Linv X[kept] has orthonormal rows that span every
    row of X; a row equal to an earlier one, a zero row and a combination of earlier rows are dropped; the bits
    are the same for 1, 2 and 3 threads (blocked Cholesky of 300 rows: several panels)."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((300, 400))
    X[7] = X[2]
    X[11] = 0.0
    X[50] = 2.0 * X[3] - X[9]
    K = X @ X.T
    kept, Linv = ku._core.span_basis(K, 1e-13, 1)
    assert set(range(300)) - set(kept.tolist()) == {7, 11, 50}
    B = Linv @ X[kept]
    np.testing.assert_allclose(B @ B.T, np.eye(kept.size), atol=1e-10)
    coords = X @ B.T  # every row lies in the span of the basis
    np.testing.assert_allclose(coords @ B, X, atol=1e-10)
    for nt in (2, 3):
        k2, L2 = ku._core.span_basis(K, 1e-13, nt)
        np.testing.assert_array_equal(k2, kept)
        np.testing.assert_array_equal(L2, Linv)
    with pytest.raises(ValueError, match="square"):
        ku._core.span_basis(K[:, :10], 1e-13, 1)
    with pytest.raises(ValueError, match="finite"):
        ku._core.span_basis(np.full((3, 3), np.nan), 1e-13, 1)


def test_chi2_draws_follow_the_law():
    """The chi-square draws of SCureNewton's hidden perturbation (Marsaglia-Tsang; shape < 1 boosted): mean k,
    variance 2k, and a Kolmogorov-Smirnov test against scipy's chi-square law, for small and huge k."""
    stats = pytest.importorskip("scipy.stats")
    if not getattr(ku._core, "with_testing", False):
        pytest.skip("built without the test hooks")
    for k in (1, 2, 3, 7, 40, 10**9):
        z = np.asarray(ku._core._testing.chi2_draws(11, k, 20000))
        assert abs(z.mean() - k) < 5.0 * np.sqrt(2.0 * k / z.size), k
        assert abs(z.var() / (2.0 * k) - 1.0) < 0.1, k
        assert stats.kstest(z, stats.chi2(k).cdf).pvalue > 1e-4, k
    np.testing.assert_array_equal(ku._core._testing.chi2_draws(3, 5, 10), ku._core._testing.chi2_draws(3, 5, 10))


def test_retrain_span_equals_fresh_fit():
    X, y, a = _fit("relu")
    keep = np.ones(X.shape[0], dtype=bool)
    keep[[1, 4]] = False
    r = unlearn(a, X, y, [1, 4], method="retrain")
    assert r._is_span and r._state.X is X  # same X, K, Z0 and W0: retrained in the span
    c = ku.clone(a).set_params(representation="primal").fit(X[keep], y[keep])
    assert _rel(r.W_, c.W_) < 1e-10
    # a span model retrained on the retained rows is compared d-free with the models over the full X
    f = ku.clone(a).fit(X[keep], y[keep])
    assert f._is_span
    assert cosine_similarity(r, f) == pytest.approx(1.0, abs=1e-12)
    assert cosine_similarity(a, f) == pytest.approx(cosine_similarity(a, c), rel=1e-10)


@pytest.mark.parametrize("kind", ["relu", "trained", "linear"])
def test_sequence_span_equal_primal(kind):
    X, y, a = _fit(kind, n=16)
    b = _primal_twin(a)
    reqs = [[1], [4, 9], [12]]
    for method in ("ga", "finetune"):
        ma, ra = unlearn_sequence(a, X, y, reqs, method=method)
        mb, rb = unlearn_sequence(b, X, y, reqs, method=method)
        for x1, x2, r1, r2 in zip(ma, mb, ra, rb):
            assert x1._is_span
            assert _rel(x1.W_, x2.W_) < 1e-10
            for k in ("step_norm", "preact_shift", "retained_loss", "retained_grad_norm", "min_margin",
                      "epsilon", "delta", "tau"):
                assert r1[k] == pytest.approx(r2[k], rel=1e-8, abs=1e-12), (method, k)


@pytest.mark.parametrize("kind", ["relu", "linear"])
def test_metrics_span_equal_primal(kind):
    X, y, a = _fit(kind)
    b = _primal_twin(a)
    rng = np.random.default_rng(3)
    Xt = rng.standard_normal((8, X.shape[1])) / np.sqrt(X.shape[1])
    yt = np.where(rng.standard_normal(8) > 0, 1.0, -1.0)
    forget = [2]
    ua, ub = unlearn(a, X, y, forget), unlearn(b, X, y, forget)
    ra, rb = unlearn(a, X, y, forget, method="retrain"), unlearn(b, X, y, forget, method="retrain")
    ea = evaluate_unlearning(a, ua, X, y, forget, retrained=ra, X_test=Xt, y_test=yt)
    eb = evaluate_unlearning(b, ub, X, y, forget, retrained=rb, X_test=Xt, y_test=yt)
    assert ea.keys() == eb.keys()
    for k, v in ea.items():
        if isinstance(v, float) and np.isfinite(v) and k not in ("wall_time",):
            assert v == pytest.approx(eb[k], rel=1e-7, abs=1e-10), k


def test_float32_span_equal_primal():
    X, y, a = _fit("relu", dtype=np.float32)
    b = _primal_twin(a)
    assert a.dtype_ is np.float32
    assert _rel(a.decision_function(X), b.decision_function(X)) < 1e-4
    ma, mb = kkt_multipliers(a, X, y, subgradient_tol=1e-3), kkt_multipliers(b, X, y, subgradient_tol=1e-3)
    assert _rel(ma.lambdas, mb.lambdas) < 1e-3
    for method in SPAN_METHODS:
        opts = {"n_steps": 2} if method in ("neggrad", "neggrad_plus", "finetune") else {}
        ua, ub = unlearn(a, X, y, [5], method=method, **opts), unlearn(b, X, y, [5], method=method, **opts)
        assert ua._is_span and ua.W_.dtype == np.float32
        assert _rel(ua.W_, ub.W_) < 1e-4, method


def test_w0_coef_in_every_formula():
    """W = c W0 + A^T X with c != 1 (weight decay): every formula of the state uses c."""
    X, y, a = _fit("relu")
    sp = a._state
    c = 0.625
    A2 = sp.A * 1.5
    b = a._with_span(A2, a.u_, w0_coef=c)
    W0 = _span.init_full(sp.init, np.float64)
    W = c * W0 + A2.T @ X
    np.testing.assert_allclose(b.W_, W, rtol=1e-12, atol=1e-15)
    Xt = np.random.default_rng(0).standard_normal((4, X.shape[1]))
    for Xe in (X, Xt):
        Z = Xe @ W.T
        np.testing.assert_allclose(b._preactivations(Xe), Z, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(b._state.neuron_sqnorms(), np.sum(W * W, axis=1), rtol=1e-10)
    Wa = np.asarray(a.W_)
    assert b._inner_theta(a) == pytest.approx(float(np.sum(W * Wa)), rel=1e-10)
    assert b._sqdist_theta(a) == pytest.approx(float(np.sum((W - Wa) ** 2)), rel=1e-8)
    twin = _primal_twin(b)
    assert kkt_multipliers(b, X, y, scale=1.0).epsilon == pytest.approx(
        kkt_multipliers(twin, X, y, scale=1.0).epsilon, rel=1e-9)
    back = _roundtrip_file(b)
    assert back._state.w0_coef == c
    assert np.array_equal(back.decision_function(Xt), b.decision_function(Xt))


# ----------------------------------------------------------------------------- reading changes nothing
def _roundtrip_file(mdl):
    buf = io.BytesIO()
    mdl.save(buf)
    buf.seek(0)
    return ku.load(buf)


def _outputs_of(mdl, X, y, Xt):
    """Every output a user can read, as arrays (bit comparison)."""
    m = kkt_multipliers(mdl, X, y, subgradient_tol=0.0 if mdl.degree_ == 1 and mdl._linear else 1e-3)
    return [mdl.decision_function(X), mdl.decision_function(Xt), mdl.decision_function(X[2:6]),
            mdl.margins(X, y), m.lambdas, np.array([m.epsilon, m.theta_norm, mdl._sqnorm_theta()]),
            unlearn(mdl, X, y, [1]).decision_function(Xt)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("rep", ["span", "primal"])
def test_reading_never_changes_results(kind, rep):
    X, y, a = _fit(kind)
    if rep == "primal":
        a = _primal_twin(a)
    Xt = np.random.default_rng(1).standard_normal((5, X.shape[1])) / np.sqrt(X.shape[1])
    before = _outputs_of(a, X, y, Xt)
    _ = a.W_
    _ = a.params()
    after = _outputs_of(a, X, y, Xt)
    pick = pickle.loads(pickle.dumps(a))
    filed = _roundtrip_file(a)
    assert filed._is_span == (rep == "span") and pick._is_span == (rep == "span")
    for other in (after, _outputs_of(pick, X, y, Xt), _outputs_of(filed, X, y, Xt)):
        for x1, x2 in zip(before, other):
            assert np.array_equal(x1, x2)
    # the loaded model's results are models of the same kind, bit-identical too
    assert np.array_equal(unlearn(filed, X, y, [4]).W_, unlearn(a, X, y, [4]).W_)


def test_span_file_roundtrip_is_exact():
    X, y, a = _fit("trained")
    b = _roundtrip_file(a)
    sa, sb = a._state, b._state
    for k in ("X", "K", "Z0", "A"):
        x1, x2 = getattr(sa, k), getattr(sb, k)
        assert x1.dtype == x2.dtype and np.array_equal(x1, x2), k
    assert np.array_equal(sa.rowsq0(), sb.rowsq0())
    assert _span.same_init(sa.init, sb.init)
    assert sb._W is None
    assert np.array_equal(a.W_, b.W_)
    assert b.representation_ == "span"


def test_unlearned_span_models_do_not_form_w():
    X, y, a = _fit("relu")
    sp = a.__dict__["_span"]
    r = unlearn(a, X, y, [0], method="retrain")
    for method in SPAN_METHODS:
        u = unlearn(a, X, y, [0], method=method)
        verify_unlearning(u, X, y, [0], retrained=r, original=a)
        evaluate_unlearning(a, u, X, y, [0], retrained=r, mia=False)
        assert u.__dict__["_span"]._W is None, method
    unlearn_sequence(a, X, y, [[1], [2]])
    assert sp._W is None and r.__dict__["_span"]._W is None


# ----------------------------------------------------------------------------- no big allocations
def test_whole_pipeline_without_m_by_d_allocations():
    """tracemalloc over fit -> certificate -> GA -> retrain oracle -> verify (cosine to retrained) ->
    sequence -> metrics -> predict -> save/load, scaled down (n = 12, d = 40000, m = 160, float32): no
    m x d array (let alone n x m d) is ever allocated: the traced peak stays below m d * 4 bytes, one
    float32 W (W0 is generated tile by tile inside the fused C++ Z0 kernel; the largest Python allocations
    are copies of X and X[keep] in the metrics)."""
    import tracemalloc

    n, d, m = 12, 40_000, 160
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((n, d)) / np.sqrt(d)).astype(np.float32)
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    Xt = (rng.standard_normal((4, d)) / np.sqrt(d)).astype(np.float32)
    W32 = m * d * 4

    def pipeline():
        net = TwoLayerReLU(width=m, random_state=0, max_iter=40, dtype=np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net.fit(X, y)
        mult = kkt_multipliers(net, X, y, subgradient_tol=1e-3)
        kkt_report(net, X, y, subgradient_tol=1e-3)
        ga = unlearn(net, X, y, [3], multipliers=mult)
        ng = unlearn(net, X, y, [3], method="neggrad_plus", n_steps=2)
        rt = unlearn(net, X, y, [3], method="retrain")
        rep = verify_unlearning(ga, X, y, [3], retrained=rt, original=net)
        cosine_similarity(ng, rt)
        cn = unlearn(net, X, y, [3], method="cure_newton", M=1.0)
        assert cn._is_span
        verify_unlearning(cn, X, y, [3], retrained=rt, original=net)
        # trained u: the Krylov Newton solver and SCureNewton, on the span coordinates
        tn = TwoLayerReLU(width=m, random_state=0, max_iter=40, dtype=np.float32, train_outer=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tn.fit(X, y)
        kc = unlearn(tn, X, y, [3], method="cure_newton", M=1.0)
        sc = unlearn(tn, X, y, [3], method="scure_newton", n_outer=2)
        assert kc._is_span and sc._is_span and kc.unlearn_info_["solver"] == "krylov"
        verify_unlearning(sc, X, y, [3], original=tn)
        unlearn_sequence(net, X, y, [[1], [5]])
        evaluate_unlearning(net, ga, X, y, [3], retrained=rt, X_test=Xt, y_test=np.array([1.0, -1, 1, -1]),
                            mia=False)
        ga.predict(Xt)
        buf = io.BytesIO()
        ga.save(buf)
        buf.seek(0)
        back = ku.load(buf)
        back.decision_function(Xt)
        return net, ga, rt, rep

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        net, ga, rt, rep = pipeline()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert net._is_span and ga._is_span and rt._is_span
    assert rep.cosine_to_retrained is not None
    assert peak < W32, f"traced peak {peak / 1e6:.1f} MB >= one m x d float32 array ({W32 / 1e6:.1f} MB)"
    # the check is sensitive: forming W allocates m x d
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        _ = ga.W_
        _, peak_w = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_w >= W32


def test_span_file_is_checked():
    """A span-state file is covered by the checksum, and inconsistent span states are refused."""
    import json

    from kktunlearn import io as kio

    X, y, a = _fit("relu")
    buf = io.BytesIO()
    a.save(buf)
    blob = buf.getvalue()

    def parts():
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            meta = json.loads(z["__meta__"].tobytes().decode())
            arrays = {k: z[k] for k in z.files if k != "__meta__"}
        return meta, arrays

    def write(meta, arrays, rehash=True):
        if rehash:
            meta["arrays"] = {k: {"dtype": v.dtype.str, "shape": list(v.shape)} for k, v in arrays.items()}
            meta["sha256"] = kio._digest(arrays, meta)
        out = io.BytesIO()
        np.savez(out, __meta__=np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8), **arrays)
        out.seek(0)
        return out

    meta, arrays = parts()
    name = meta["state"]["A"]["__array__"]
    arrays[name] = arrays[name].copy()
    arrays[name][0, 0] += 1e-12
    with pytest.raises(ku.ModelFileError, match="SHA-256"):
        ku.load(write(meta, arrays, rehash=False))
    meta, arrays = parts()
    arrays[name] = arrays[name][:-1].copy()
    with pytest.raises(ku.ModelFileError, match="shapes disagree"):
        ku.load(write(meta, arrays))
    meta, arrays = parts()
    arrays[name] = arrays[name].copy()
    arrays[name][1, 1] = np.nan
    with pytest.raises(ku.ModelFileError, match="finite"):
        ku.load(write(meta, arrays))
    meta, arrays = parts()
    meta["state"]["init"]["bit_generator_state"] = {"__dict__": {"bit_generator": "os.system"}}
    with pytest.raises(ku.ModelFileError, match="generator"):
        ku.load(write(meta, arrays))
    meta, arrays = parts()
    assert meta["format_version"] == 2
    back = ku.load(write(meta, arrays))
    assert np.array_equal(back.decision_function(X), a.decision_function(X))


def test_in_place_modification_is_detected_by_every_consumer():
    X, y, a = _fit("relu")
    X = X.copy()
    a = ku.clone(a).fit(X, y)
    r = unlearn(a, X, y, [1], method="retrain")
    X[3, 5] += 1.0
    for call in (lambda: a.decision_function(X), lambda: kkt_multipliers(a, X, y), lambda: unlearn(a, X, y, [1]),
                 lambda: verify_unlearning(r, X, y, [1], original=a), lambda: a.predict(X[:2].copy())):
        with pytest.raises(RuntimeError, match="modified in place"):
            call()
    X[3, 5] = np.nan
    with pytest.raises(RuntimeError, match="modified in place"):
        a.margins(X, y)


def test_new_data_cache_never_serves_stale_or_invalid_data():
    X, y, a = _fit("relu")
    Xt = np.random.default_rng(2).standard_normal((6, X.shape[1]))
    N1 = a.decision_function(Xt)
    u = unlearn(a, X, y, [0])
    Nu = u.decision_function(Xt)  # served from the shared cache: the same numbers as a fresh model's
    fresh = pickle.loads(pickle.dumps(u))
    assert np.array_equal(fresh.decision_function(Xt), Nu)
    Xt[1, 3] += 0.5  # modified in place: recomputed
    b = _primal_twin(a)
    assert _rel(a.decision_function(Xt), b.decision_function(Xt)) < 1e-10
    assert not np.array_equal(a.decision_function(Xt), N1)
    Xt[2, 2] = np.nan  # and validated again
    with pytest.raises(ValueError, match="NaN"):
        a.decision_function(Xt)


@pytest.mark.parametrize("kind", ["relu", "trained", "linear"])
@pytest.mark.parametrize("method", ["finetune", "neggrad_plus"])
def test_weight_decay_steps_stay_in_the_span(kind, method):
    """finetune / NegGrad+ with weight decay on a span model: W = (beta c) W0 + A^T X (the W0 coefficient
    carries the decay), equal to the primal loop on the same W."""
    X, y, a = _fit(kind)
    b = _primal_twin(a)
    opts = dict(n_steps=4, weight_decay=0.05, lr=0.5)
    ua, ub = unlearn(a, X, y, [2], method=method, **opts), unlearn(b, X, y, [2], method=method, **opts)
    assert ua._is_span and ua._state.w0_coef != 1.0 or kind == "linear"
    assert _rel(ua.W_, ub.W_) < 1e-10
    assert _rel(ua.u_, ub.u_) < 1e-10
    np.testing.assert_allclose(ua.unlearn_info_["objective"], ub.unlearn_info_["objective"], rtol=1e-9)
    assert ua.unlearn_info_["preact_shift"] == pytest.approx(ub.unlearn_info_["preact_shift"], rel=1e-8)
    assert ua.unlearn_info_["step_norm"] == pytest.approx(ub.unlearn_info_["step_norm"], rel=1e-8)
    Xt = np.random.default_rng(0).standard_normal((3, X.shape[1]))
    assert _rel(ua.decision_function(Xt), ub.decision_function(Xt)) < 1e-10
    back = _roundtrip_file(ua)
    assert back._state.w0_coef == ua._state.w0_coef
    assert np.array_equal(back.decision_function(Xt), ua.decision_function(Xt))


def test_new_data_fingerprint_is_computed_once_per_public_call(monkeypatch):
    """Inside one public call (evaluate_unlearning: many model methods on X_test) the held-out array is
    fingerprinted at most once; a later call checks it again, and the metrics equal those of a call
    that had to compute everything afresh."""
    X, y, a = _fit("relu")
    Xt, yt = near_orthogonal(30, X.shape[1], seed=9)
    u = unlearn(a, X, y, [0])
    r = unlearn(a, X, y, [0], method="retrain")
    fresh = evaluate_unlearning(pickle.loads(pickle.dumps(a)), pickle.loads(pickle.dumps(u)), X, y, [0],
                                retrained=pickle.loads(pickle.dumps(r)), X_test=Xt.copy(), y_test=yt, mia=False)
    a.decision_function(Xt)  # the family has predicted Xt before
    calls = []
    orig = _span.SpanState._fingerprint

    def counting(self, arr, n_threads):
        if arr.shape == Xt.shape:
            calls.append(1)
        return orig(self, arr, n_threads)

    monkeypatch.setattr(_span.SpanState, "_fingerprint", counting)
    got = evaluate_unlearning(a, u, X, y, [0], retrained=r, X_test=Xt, y_test=yt, mia=False)
    assert len(calls) == 1
    a.decision_function(Xt)  # a new public call: checked again
    assert len(calls) == 2
    for k, v in fresh.items():
        if isinstance(v, float) and k not in ("wall_time", "time"):
            assert got[k] == pytest.approx(v, rel=1e-12, abs=1e-15, nan_ok=True), k

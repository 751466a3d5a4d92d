"""The data-span representation: exact equivalence with the primal one, lazy W, helpers, pickling.

Reference values are computed here with plain numpy (X @ W.T, W + Gamma.T @ X, ...), never copied
from a run.
"""

import pickle

import numpy as np
import pytest

from kktunlearn import LinearModel, TwoLayerReLU, choose_representation
from kktunlearn import _random, _span
from kktunlearn.datasets import near_orthogonal

RTOL = 1e-10


def _rel(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def _np_outputs(X, W, u, slope):
    Z = X @ W.T
    return np.where(Z > 0, Z, slope * Z) @ u


@pytest.fixture(scope="module")
def data():
    return near_orthogonal(16, 300, seed=3)


def _make(kind, rep, loss="exponential", train_outer=False, leaky=0.0, max_iter=300, dtype=np.float64):
    if kind == "linear":
        return LinearModel(loss=loss, max_iter=max_iter, representation=rep, init_scale=1e-3, random_state=4,
                           dtype=dtype)
    # trained u with unbounded normalized steps makes the trajectory blow up (lr ~ 1/L(theta) at
    # degree 2); a cap keeps it well conditioned so that two exact methods can be compared.
    lr_max = 50.0 if train_outer else np.inf
    return TwoLayerReLU(width=24, loss=loss, train_outer=train_outer, leaky_slope=leaky, max_iter=max_iter,
                        representation=rep, random_state=7, lr_max=lr_max, dtype=dtype)


# ----------------------------------------------------------------------------- initialization
def test_seeded_init_blocks_equal_one_shot(monkeypatch):
    # force several row blocks: chunked generation must equal the one-shot counter-based draw
    monkeypatch.setattr(_span, "_W0_BLOCK_BYTES", 8 * 301 * 3)
    m, d, scale = 11, 301, 0.25
    init = _span.SeededInit.from_random_state(42, scale, m, d)
    assert _span._block_rows(d, m) == 3
    blocks = [(r0, r1, b.copy()) for r0, r1, b in init.blocks(np.float64)]
    assert len(blocks) == 4
    ref = scale * _random.normal_block(42, 0, 0, m, 0, d)
    assert np.array_equal(np.concatenate([b for _, _, b in blocks]), ref)
    assert np.array_equal(_span.init_full(init, np.float64), ref)
    X = np.random.default_rng(0).standard_normal((5, d))
    Z0, sq = _span.init_preacts(init, X, 0)
    np.testing.assert_allclose(Z0, X @ ref.T, rtol=1e-12, atol=1e-14)
    assert sq == pytest.approx(float(np.sum(ref * ref)), rel=1e-13)


def test_generator_random_state_takes_one_seed_draw(data):
    # a numpy Generator as random_state gives the 64-bit seed of the counter-based generator
    # (one draw), and the caller's generator moves on by exactly that draw
    X, y = data
    g1 = np.random.default_rng(9)
    net = TwoLayerReLU(width=8, random_state=g1, max_iter=0, representation="span").fit(X, y)
    g2 = np.random.default_rng(9)
    seed = int(g2.integers(0, 2**64, dtype=np.uint64))
    W0 = 1e-3 * _random.normal_block(seed, 0, 0, 8, 0, X.shape[1])
    assert np.array_equal(net.W_, W0)
    assert g1.standard_normal() == g2.standard_normal()


def test_init_params_unchanged_definition(data):
    X, _ = data
    net = TwoLayerReLU(width=6, random_state=5, init_scale=0.1)
    init, u0 = net._init_source(X.shape[1])
    W0 = _span.init_full(init, np.float64)
    assert np.array_equal(W0, 0.1 * _random.normal_block(5, 0, 0, 6, 0, X.shape[1]))
    assert np.allclose(np.abs(u0), 1 / np.sqrt(6))



# ----------------------------------------------------------------------------- training equivalence
@pytest.mark.parametrize("loss", ["exponential", "logistic"])
@pytest.mark.parametrize("kind,train_outer,leaky", [("linear", False, 0.0), ("relu", False, 0.0),
                                                    ("relu", True, 0.0), ("relu", False, 0.2),
                                                    ("relu", True, 0.1)])
def test_span_equals_primal_training(data, loss, kind, train_outer, leaky):
    X, y = data
    a = _make(kind, "span", loss, train_outer, leaky).fit(X, y)
    b = _make(kind, "primal", loss, train_outer, leaky).fit(X, y)
    assert a.representation_ == "span" and b.representation_ == "primal"
    assert a._is_span and not b._is_span
    assert a.n_iter_ == b.n_iter_ == 300
    assert _rel(a.W_, b.W_) < RTOL
    assert _rel(a.u_, b.u_) < RTOL
    assert _rel(a.history_["loss"], b.history_["loss"]) < 1e-8
    assert _rel(a.history_["normalized_margin"], b.history_["normalized_margin"]) < 1e-8
    assert _rel(a.params(), b.params()) < RTOL
    assert a.n_params() == b.n_params() == a.params().size
    Xt = np.random.default_rng(1).standard_normal((7, X.shape[1]))
    assert _rel(a.decision_function(Xt), b.decision_function(Xt)) < RTOL
    assert _rel(a.loss_gradient(X, y), b.loss_gradient(X, y)) < 1e-8
    assert np.array_equal(a.activation_pattern(Xt), b.activation_pattern(Xt))
    assert a.score(X, y) == b.score(X, y)


def test_auto_cost_model():
    assert choose_representation(20, 1000, 100, 4000) == "span"
    assert choose_representation(5000, 200, 200, 200) == "primal"
    # memory guard: an n x n Gram of more than 2 GiB is never chosen
    assert choose_representation(20000, 10 ** 7, 10, 1000) == "primal"
    # cost model: span total < primal total
    n, d, m, T = 300, 200, 50, 100
    span = n * n * d + 2.0 * n * m * d + 2.0 * n * n * m * T
    assert (choose_representation(n, d, m, T) == "span") == (span < 4.0 * n * m * d * T)


# ----------------------------------------------------------------------------- lazy W and helpers
def test_w_is_lazy_and_decision_function_needs_no_w(data):
    X, y = data
    net = _make("relu", "span").fit(X, y)
    sp = net.__dict__["_span"]
    Xt = np.random.default_rng(2).standard_normal((5, X.shape[1]))
    N = net.decision_function(Xt)
    Ntr = net.decision_function(X)
    assert sp._W is None  # W never formed for predictions
    W = net.W_  # now formed: W0 + A^T X
    assert sp._W is not None and not W.flags.writeable
    W0 = 1e-3 * _random.normal_block(7, 0, 0, 24, 0, X.shape[1])
    np.testing.assert_allclose(W, W0 + sp.A.T @ X, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(N, _np_outputs(Xt, W, net.u_, 0.0), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(Ntr, _np_outputs(X, W, net.u_, 0.0), rtol=1e-12, atol=1e-14)
    assert net._sqnorm_W() == pytest.approx(float(np.sum(W * W)), rel=1e-12)


def test_preactivations_and_kernel_helpers(data):
    X, y = data
    net = _make("relu", "span").fit(X, y)
    W = np.array(net.W_)
    ref = X @ W.T
    np.testing.assert_allclose(net._preactivations(X), ref, rtol=1e-12, atol=1e-14)
    Xcopy = X.copy()  # equal content, other buffer: still recognized as the training matrix
    assert net._is_training_X(Xcopy)
    assert net._kernel(Xcopy) is net.__dict__["_span"].K
    # elementwise forward-error bound of a d-term dot product, |fl(<x_i, x_j>) - <x_i, x_j>| <= gamma_d
    # sum_k |x_ik x_jk|, here with 1e-14 (below gamma_300 = 3.3e-14): a relative tolerance per entry
    # is meaningless for the entries near 0 that cancellation leaves (this draw has one of ~1e-5)
    np.testing.assert_array_less(np.abs(net._kernel(X) - X @ X.T), 1e-14 * (np.abs(X) @ np.abs(X).T))
    Xother = Xcopy.copy()
    Xother[3, 5] += 1e-9
    assert not net._is_training_X(Xother)
    np.testing.assert_allclose(net._preactivations(Xother), Xother @ W.T, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_less(np.abs(net._kernel(Xother) - Xother @ Xother.T),
                                 1e-14 * (np.abs(Xother) @ np.abs(Xother).T))
    prim = _make("relu", "primal").fit(X, y)
    np.testing.assert_allclose(prim._preactivations(X), X @ prim.W_.T, rtol=1e-12, atol=1e-14)


def test_inplace_modification_of_training_x_is_detected():
    X, y = near_orthogonal(10, 120, seed=1)
    net = TwoLayerReLU(width=20, random_state=0, max_iter=300, representation="span").fit(X, y)
    X[2, 7] += 0.5  # the model references X; changing it must not silently change the model
    with pytest.raises(RuntimeError, match="modified in place"):
        net.decision_function(X[:3] + 1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        _ = net.W_


@pytest.mark.parametrize("trained_u", [False, True])
def test_apply_gamma_span_and_primal(data, trained_u):
    X, y = data
    a = _make("relu", "span", train_outer=trained_u).fit(X, y)
    b = _make("relu", "primal", train_outer=trained_u).fit(X, y)
    rng = np.random.default_rng(3)
    rows = np.array([2, 5, 5, 11])  # repeated row: both contributions add
    G = rng.standard_normal((4, 24)) * 1e-2
    u_new = a.u_ * 1.5
    a2 = a._apply_gamma(G, X, rows=rows, u=u_new)
    b2 = b._apply_gamma(G, X, rows=rows, u=u_new)
    assert a2._is_span and not b2._is_span and not a2 is a
    Wref = np.array(b.W_) + G.T @ X[rows]
    assert _rel(a2.W_, Wref) < RTOL and _rel(b2.W_, Wref) < RTOL
    assert np.array_equal(a2.u_, u_new)
    np.testing.assert_allclose(a2._preactivations(X), X @ Wref.T, rtol=1e-10, atol=1e-13)
    # a matrix other than the training one: explicit W
    Xo = rng.standard_normal((3, X.shape[1]))
    G3 = rng.standard_normal((3, 24))
    a3 = a._apply_gamma(G3, Xo)
    assert not a3._is_span
    assert _rel(a3.W_, np.array(a.W_) + G3.T @ Xo) < 1e-13
    # the original is untouched
    assert _rel(a.W_, b.W_) < RTOL


@pytest.mark.parametrize("start", ["init", "current"])
@pytest.mark.parametrize("trained_u", [False, True])
def test_train_rows_span_equals_primal(data, start, trained_u):
    X, y = data
    a = _make("relu", "span", train_outer=trained_u, max_iter=100).fit(X, y)
    b = _make("relu", "primal", train_outer=trained_u, max_iter=100).fit(X, y)
    keep = np.array([0, 1, 3, 4, 6, 8, 9, 10, 12, 15])
    a2 = a._train_rows(X, y, keep, start=start, max_iter=80)
    b2 = b._train_rows(X, y, keep, start=start, max_iter=80)
    assert a2._is_span and not b2._is_span
    assert a2.n_iter_ == b2.n_iter_ == 80
    assert _rel(a2.W_, b2.W_) < RTOL
    assert _rel(a2.u_, b2.u_) < RTOL
    if start == "init":
        # retraining from the same initialization on the kept rows is a fresh fit on X[keep]
        c = _make("relu", "primal", train_outer=trained_u, max_iter=80).fit(X[keep], y[keep])
        assert _rel(a2.W_, c.W_) < RTOL


def test_pickle_span_model(data):
    X, y = data
    net = _make("relu", "span", leaky=0.1).fit(X, y)
    Xt = np.random.default_rng(4).standard_normal((3, X.shape[1]))
    N = net.decision_function(Xt)
    _ = net.W_  # the cached W is not pickled
    blob = pickle.dumps(net)
    back = pickle.loads(blob)
    assert back._is_span and back.__dict__["_span"]._W is None
    assert np.array_equal(back.__dict__["_span"].X, X)  # X travels with the model
    np.testing.assert_array_equal(back.decision_function(Xt), N)
    assert np.array_equal(back.W_, net.W_)
    assert back._is_training_X(X)


def test_setting_w_switches_to_primal(data):
    X, y = data
    net = _make("relu", "span").fit(X, y)
    W = np.array(net.W_)
    net.set_parameters(W * 2, net.u_)
    assert not net._is_span
    np.testing.assert_allclose(net.decision_function(X), _np_outputs(X, W * 2, net.u_, 0.0), rtol=1e-12)


# ----------------------------------------------------------------------------- CPU dispatch
_DISPATCH_CHECK = r"""
import importlib, sys
import numpy as np
import kktunlearn
from kktunlearn import _core, _dispatch
from kktunlearn.datasets import near_orthogonal

assert kktunlearn.cpu_variant in ("baseline", "avx2", "avx512")
assert _core.variant == _dispatch._MODULE[kktunlearn.cpu_variant]
X, y = near_orthogonal(16, 300, seed=3)
rng = np.random.default_rng(0)
W = rng.standard_normal((24, X.shape[1]))
X32 = rng.standard_normal((6, 9000)).astype(np.float32)
results = []
for name in ("_core", "_core_avx2", "_core_avx512"):
    try:
        mod = importlib.import_module(f"kktunlearn.{name}")
    except ImportError:
        continue
    key = {"_core": "baseline", "_core_avx2": "avx2", "_core_avx512": "avx512"}[name]
    if not all(mod.cpu_features().get(f, False) for f in _dispatch._NEEDS[key]):
        continue
    results.append((mod.preactivations(X, W, 0), mod.kernel_matrix(X, 0), mod.kernel_matrix(X32, 0),
                    mod.normal_block(7, 0, 0, 5, 0, 3001, 1.0, "float64", None, None, 0)))
for Z, K, K32, G in results[1:]:
    # the counter-based generator has the same bits on every ISA variant (no libm, no FMA contraction)
    assert np.array_equal(G, results[0][3])
    np.testing.assert_allclose(Z, results[0][0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(K, results[0][1], rtol=1e-12)
    # float32 long sums are double sums rounded once: identical up to a last-bit tie
    np.testing.assert_allclose(K32, results[0][2], rtol=2.0 ** -23)
print(len(results))
"""


def test_cpu_dispatch_variants_agree():
    # In a separate process: loading several builds into one process would also load their
    # exception translators, which pybind11 shares between modules.
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-c", _DISPATCH_CHECK], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout.strip().splitlines()[-1]) >= 1
    env["KKTUNLEARN_DISPATCH"] = "baseline"
    r = subprocess.run([sys.executable, "-c", "import kktunlearn; print(kktunlearn.cpu_variant)"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0 and r.stdout.strip() == "baseline", r.stderr


_HOT_CHECK = r"""
import importlib
import numpy as np
import kktunlearn
from kktunlearn import _core, _dispatch

base = importlib.import_module("kktunlearn._core")  # sys.modules holds the merged module
names = [k for k in dir(base) if not k.startswith("_")]
# the merged module has every baseline attribute
assert all(hasattr(_core, k) for k in names), [k for k in names if not hasattr(_core, k)]
assert _core.NumericalError is base.NumericalError
X = np.ones((3, 4)); y = np.array([1.0, -1.0, 1.0]); W0 = np.ones((2, 4)); u0 = np.ones(2)
checked = 0
for name in ("_core_avx2", "_core_avx512"):
    try:
        mod = importlib.import_module(f"kktunlearn.{name}")
    except ImportError:
        continue
    key = {"_core_avx2": "avx2", "_core_avx512": "avx512"}[name]
    if not all(base.cpu_features().get(f, False) for f in _dispatch._NEEDS[key]):
        continue
    assert mod.hot_only and not mod.with_testing and not hasattr(mod, "_testing")
    # hot kernels only: no unlearning method is compiled into a variant
    assert hasattr(mod, "kkt_solve_span") and hasattr(mod, "train_span") and not hasattr(mod, "newton_lowrank")
    # errors from a variant's kernels are the baseline's classes
    try:
        mod.train_primal(X, y, np.ones((2, 5)), u0, 0.0, False, "exponential", 0.1, False, np.inf, 5, 0.0, 0.0,
                         1, 1, None, 0.0)
        raise AssertionError("expected a ValueError")
    except ValueError as exc:
        assert "columns of W0" in str(exc)
    try:
        mod.train_primal(X, y, W0, u0, 0.0, False, "exponential", 10.0, False, np.inf, 5, 0.0, 0.0, 1, 1,
                         None, 1.0)
        raise AssertionError("expected a NumericalError")
    except base.NumericalError:
        pass
    checked += 1
if kktunlearn.cpu_variant != "baseline":
    assert _core.hot_only and _core.train_span is _core.hot_variant.train_span
    assert _core.newton_lowrank is base.newton_lowrank
print(checked)
"""


def test_hot_variants_lay_over_the_baseline():
    # the AVX2/AVX-512 builds hold only the hot kernels; kktunlearn._core merges them over the
    # baseline build, and their errors are the baseline's exception classes (child process: see above)
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", _HOT_CHECK], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout.strip().splitlines()[-1]) >= 0


# ----------------------------------------------------------------------------- verification and unlearning
def _kkt_pair(loss, train_outer):
    X, y = near_orthogonal(12, 80, seed=5)
    kw = dict(width=10, loss=loss, train_outer=train_outer, max_iter=400, random_state=2,
              lr_max=50.0 if train_outer else np.inf)
    a = TwoLayerReLU(representation="span", **kw).fit(X, y)
    b = TwoLayerReLU(representation="primal", **kw).fit(X, y)
    assert _rel(a.W_, b.W_) < RTOL
    return X, y, a, b


@pytest.mark.parametrize("loss", ["exponential", "logistic"])
@pytest.mark.parametrize("train_outer", [False, True])
def test_span_equals_primal_multipliers_and_report(loss, train_outer):
    from kktunlearn import kkt_multipliers, kkt_report

    X, y, a, b = _kkt_pair(loss, train_outer)
    ma = kkt_multipliers(a, X, y, subgradient_tol=1e-3)
    mb = kkt_multipliers(b, X, y, subgradient_tol=1e-3)
    assert np.array_equal(ma.pinned, mb.pinned)
    np.testing.assert_allclose(ma.lambdas, mb.lambdas, rtol=1e-7, atol=1e-9 * np.abs(mb.lambdas).max())
    assert ma.epsilon == pytest.approx(mb.epsilon, rel=1e-7, abs=1e-10)
    ra = kkt_report(a, X, y, subgradient_tol=1e-3)
    rb = kkt_report(b, X, y, subgradient_tol=1e-3)
    for f in ("epsilon", "delta", "min_margin", "scale"):
        assert getattr(ra, f) == pytest.approx(getattr(rb, f), rel=1e-7, abs=1e-10), f


def test_span_equals_primal_linear_multipliers():
    from kktunlearn import kkt_multipliers

    X, y = near_orthogonal(12, 80, seed=5)
    a = LinearModel(max_iter=500, representation="span").fit(X, y)
    b = LinearModel(max_iter=500, representation="primal").fit(X, y)
    import warnings

    for method in ("nnls", "closed_form"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # closed_form: non-support vectors clipped
            ma, mb = kkt_multipliers(a, X, y, method=method), kkt_multipliers(b, X, y, method=method)
        np.testing.assert_allclose(ma.lambdas, mb.lambdas, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("train_outer", [False, True])
def test_span_equals_primal_every_unlearning_method(train_outer):
    from kktunlearn import _core
    from kktunlearn.unlearning import METHODS, unlearn

    X, y, a, b = _kkt_pair("exponential", train_outer)
    forget = [3]
    for method in METHODS:
        opts = {"n_steps": 2} if method in ("neggrad", "neggrad_plus", "finetune") else {}
        try:
            ub = unlearn(b, X, y, forget, method=method, **opts)
        except (_core.NumericalError, ValueError) as exc:  # e.g. a singular Hessian: both must fail alike
            with pytest.raises(type(exc)):
                unlearn(a, X, y, forget, method=method, **opts)
            continue
        ua = unlearn(a, X, y, forget, method=method, **opts)
        assert _rel(ua.W_, ub.W_) < 1e-8, method
        assert _rel(ua.u_, ub.u_) < 1e-8, method
        assert ua.unlearn_info_["preact_shift"] == pytest.approx(ub.unlearn_info_["preact_shift"], rel=1e-6,
                                                                 abs=1e-12), method

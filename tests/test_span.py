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
from conftest import nnls

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
def _supported_variants():
    """The CPU variants built here that this CPU runs (always 'baseline')."""
    import importlib

    import kktunlearn
    from kktunlearn import _dispatch

    feats = kktunlearn._core.cpu_features()
    out = ["baseline"]
    for name in ("avx2", "avx512"):
        try:
            importlib.import_module(f"kktunlearn.{_dispatch._MODULE[name]}")
        except ImportError:
            continue
        if all(feats.get(f, False) for f in _dispatch._NEEDS[name]):
            out.append(name)
    return out


@pytest.fixture
def restore_kernels():
    import kktunlearn
    from kktunlearn import _dispatch

    yield _dispatch
    _dispatch.install("kktunlearn", kktunlearn.cpu_variant)
    assert kktunlearn._core.kernels() == kktunlearn.cpu_variant


def test_dispatch_installs_the_chosen_kernels():
    import os
    import subprocess
    import sys

    import kktunlearn

    assert kktunlearn.cpu_variant in ("baseline", "avx2", "avx512")
    assert kktunlearn._core.kernels() == kktunlearn.cpu_variant
    # the best supported variant is the default
    assert kktunlearn.cpu_variant == _supported_variants()[-1] or "KKTUNLEARN_DISPATCH" in os.environ
    env = dict(os.environ, KKTUNLEARN_DISPATCH="baseline")
    r = subprocess.run([sys.executable, "-c", "import kktunlearn; print(kktunlearn.cpu_variant, "
                        "kktunlearn._core.kernels())"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and r.stdout.split() == ["baseline", "baseline"], r.stderr


def test_set_kernels_refuses_what_is_not_a_kernel_table():
    import kktunlearn

    with pytest.raises((TypeError, RuntimeError, ValueError)):
        kktunlearn._core._set_kernels(3)
    assert kktunlearn._core.kernels() == kktunlearn.cpu_variant


def test_kernel_modules_hold_only_kernels():
    import importlib

    from kktunlearn import _core, _dispatch

    for name in _supported_variants()[1:]:
        mod = importlib.import_module(f"kktunlearn.{_dispatch._MODULE[name]}")
        public = sorted(k for k in dir(mod) if not k.startswith("_"))
        assert public == ["abi", "name", "table"], public
        assert mod.name == name and mod.abi == _core.kernel_abi


def test_cpu_dispatch_variants_agree(restore_kernels):
    """Every kernel of the table, through the public kernels that use it, on each CPU variant this
    machine runs, against the baseline build: gemm (X W^T, Gamma^T X, the span step, the Gram and
    Cholesky of the certificate), syrk (K = X X^T), gemv and trsm (the multiplier solver), the generator
    (bit-identical: no libm, no FMA contraction)."""
    from kktunlearn import _core

    X, y = near_orthogonal(16, 300, seed=3)
    rng = np.random.default_rng(0)
    W = rng.standard_normal((24, X.shape[1]))
    X32 = rng.standard_normal((6, 9000)).astype(np.float32)
    Xg = rng.standard_normal((200, 500))  # full rank: the NNLS solution is unique
    G = Xg @ Xg.T / 500
    b = G @ np.abs(rng.standard_normal(200)) - 0.5
    results = {}
    for name in _supported_variants():
        restore_kernels.install("kktunlearn", name)
        assert _core.kernels() == name
        net = TwoLayerReLU(width=8, max_iter=30, random_state=0, representation="span", n_threads=1).fit(X, y)
        sol = nnls(G, b, 1e-12, 0, 1, "auto")
        results[name] = (_core.preactivations(X, W, 0), _core.kernel_matrix(X, 0), _core.kernel_matrix(X32, 0),
                         _core.normal_block(7, 0, 0, 5, 0, 3001, 1.0, "float64", None, None, 0),
                         _core.normal_block(7, 1, 0, 5, 0, 3001, 1.0, "float32", None, None, 0),
                         net.decision_function(X), sol.x)
    ref = results["baseline"]
    for name, (Z, K, K32, G64, G32, f, lam) in results.items():
        assert np.array_equal(G64, ref[3]) and np.array_equal(G32, ref[4]), name
        np.testing.assert_allclose(Z, ref[0], rtol=1e-12, atol=1e-13 * np.abs(ref[0]).max())
        np.testing.assert_allclose(K, ref[1], rtol=1e-12, atol=1e-13 * np.abs(ref[1]).max())
        # float32 long sums are double sums rounded once: identical up to a last-bit tie
        np.testing.assert_allclose(K32, ref[2], rtol=2.0 ** -23)
        np.testing.assert_allclose(f, ref[5], rtol=1e-9, atol=1e-12 * np.abs(ref[5]).max())
        np.testing.assert_allclose(lam, ref[6], rtol=1e-8, atol=1e-10 * np.abs(ref[6]).max())


def _np_outputs_in_order(Z, u, slope):
    """sum_j u_j sigma(Z_ij) with each row's sum taken left to right (np.cumsum is sequential): the exact
    bits the outputs kernel promises. sigma'(z) z is formed in Z's dtype, the terms in float64."""
    d = np.where(Z > 0, Z.dtype.type(1), Z.dtype.type(slope))
    terms = u.astype(np.float64) * (d * Z).astype(np.float64)
    return np.cumsum(terms, axis=1)[:, -1] if Z.shape[1] else np.zeros(Z.shape[0])


def test_activation_kernels_bit_identical_on_every_variant_and_to_numpy(restore_kernels):
    """The outputs and coefficients kernels (vectorized per CPU variant, no FMA contraction) give the
    bits of the documented left-to-right formulas on every CPU variant: row counts around the 8-row
    groups, widths around the 256-column chunks, pre-activations exactly 0 (sigma'(0) = slope)."""
    from kktunlearn import _core

    rng = np.random.default_rng(11)
    cases = []
    for dt in (np.float64, np.float32):
        for n, m in ((1, 1), (7, 3), (8, 256), (17, 257), (50, 100), (3, 700)):
            Z = rng.standard_normal((n, m)).astype(dt)
            Z[::3, ::4] = 0
            cases.append((Z, rng.standard_normal(m).astype(dt), rng.standard_normal(n)))
    for name in _supported_variants():
        restore_kernels.install("kktunlearn", name)
        for Z, u, c in cases:
            for slope in (0.0, 0.1, 1.0):
                N = _core.outputs_from_preacts(Z, u, slope)
                assert np.array_equal(N, _np_outputs_in_order(Z, u, slope)), (name, Z.shape, slope)
                G, _ = _core.coefficient_matrix(Z, u, c, slope, False)
                d = np.where(Z > 0, Z.dtype.type(1), Z.dtype.type(slope)).astype(np.float64)
                ref = ((c[:, None] * u.astype(np.float64)[None, :]) * d).astype(Z.dtype)
                assert G.dtype == Z.dtype and np.array_equal(G, ref), (name, Z.shape, slope)


def test_dense_kernels_against_numpy(restore_kernels):
    """The table's gemm / gemv / trsm / syrk on every layout the adapters map (row- and column-major
    operands and outputs, transposes, blocks with a leading dimension), for each CPU variant."""
    from kktunlearn import _core

    t = getattr(_core, "_testing", None)
    if t is None or not hasattr(t, "dense_kernels"):
        pytest.skip("needs the test-only bindings (KKTUNLEARN_TESTING=ON)")
    rng = np.random.default_rng(5)
    for name in _supported_variants():
        restore_kernels.install("kktunlearn", name)
        for dt, rtol in ((np.float64, 1e-12), (np.float32, 1e-5)):
            A = rng.standard_normal((37, 23)).astype(dt)
            B = rng.standard_normal((23, 29)).astype(dt)
            C = rng.standard_normal((37, 29)).astype(dt)
            for ta in (False, True):
                for tb in (False, True):
                    for c_col in (False, True):
                        a = np.ascontiguousarray(A.T) if ta else A
                        bb = np.ascontiguousarray(B.T) if tb else B
                        got = t.dense_kernels("gemm", a, ta, bb, tb, C, 0.5, -1.5, c_col)
                        want = -1.5 * C.astype(np.float64) + 0.5 * (A.astype(np.float64) @ B.astype(np.float64))
                        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 10, err_msg=f"{name} {ta} {tb} {c_col}")
            got = t.dense_kernels("syrk", A, False, A, False, np.tril(np.ones((37, 37), dt)), 1.0, 1.0, False)
            want = np.tril(np.ones((37, 37))) + A.astype(np.float64) @ A.T.astype(np.float64)
            np.testing.assert_allclose(np.tril(got), np.tril(want), rtol=rtol, atol=rtol * 10)
        for rows, cols in ((40, 31), (1, 31), (40, 1), (40, 0)):
            A = rng.standard_normal((rows, cols))
            x = rng.standard_normal(cols)
            yv = rng.standard_normal(rows)
            for a_col in (False, True):  # A a row-major block, or a column-major one (passed as its transpose)
                for beta in (0.5, 0.0):
                    got = t.dense_kernels("gemv", A, False, x[:, None], False, yv[:, None], 2.0, beta, a_col)[:, 0]
                    np.testing.assert_allclose(got, beta * yv + 2.0 * A @ x, rtol=1e-12, atol=1e-12,
                                               err_msg=f"{name} {rows}x{cols} col={a_col} beta={beta}")
                    got = t.dense_kernels("gemv", A, True, yv[:, None], False, x[:, None], 2.0, beta, a_col)[:, 0]
                    np.testing.assert_allclose(got, beta * x + 2.0 * A.T @ yv, rtol=1e-12, atol=1e-12,
                                               err_msg=f"{name} {rows}x{cols} col={a_col} beta={beta} (A^T)")
        for k in (19, 150):  # one diagonal block, and several (the blocked updates: 64-column blocks)
            L = np.tril(rng.standard_normal((k, k))) / np.sqrt(k) + 2 * np.eye(k)
            Bm = rng.standard_normal((k, 7))
            for right in (False, True):
                for trans in (False, True):
                    rhs = Bm.T.copy() if right else Bm
                    got = t.dense_kernels("trsm", L, trans, rhs, right, rhs, 1.0, 1.0, True)
                    op = L.T if trans else L
                    want = rhs @ np.linalg.inv(op) if right else np.linalg.solve(op, rhs)
                    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12,
                                               err_msg=f"{name} k={k} right={right} trans={trans}")


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
        if method == "scure_newton":  # equal in law only, unless the batches are full and sigma = 0
            opts = {"sigma": 0.0, "batch_grad": 10**6, "batch_hess": 10**6, "n_outer": 3}
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


@pytest.mark.parametrize("n,d", [(300, 50), (700, 1000), (520, 1100), (257, 3)])
def test_kernel_matrix_panels_and_tiles_match_numpy(n, d):
    """K = X X^T on both layouts of the work (8 row panels for d <= 1024 and n > 256, 128 x 128 tiles
    otherwise): equal to numpy's product, exactly symmetric, and bit-identical for 1, 2 and 3 threads;
    float32 within the float rounding of the float64 product."""
    from kktunlearn import _core

    X = np.random.default_rng(n + d).standard_normal((n, d))
    K = _core.kernel_matrix(X, 1)
    ref = X @ X.T
    np.testing.assert_allclose(K, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    assert np.array_equal(K, K.T)
    assert np.array_equal(K, _core.kernel_matrix(X, 2)) and np.array_equal(K, _core.kernel_matrix(X, 3))
    X32 = X.astype(np.float32)
    K32 = _core.kernel_matrix(X32, 2)
    assert K32.dtype == np.float32 and np.array_equal(K32, K32.T)
    ref32 = X32.astype(np.float64) @ X32.astype(np.float64).T
    np.testing.assert_allclose(K32, ref32, rtol=2e-5 * np.sqrt(d), atol=2e-6 * np.sqrt(d) * np.abs(ref32).max())
    assert np.array_equal(K32, _core.kernel_matrix(X32, 1))

"""Held-out rows kept as their generator (datasets.GeneratedRows, ``lazy=True``).

* A GeneratedRows materializes to exactly the array the eager generator gives (near_orthogonal, the
  mixture's test sampler, float64 and float32), in whole or by row slices.
* The fused kernel ``normal_preacts_generated`` (X's sub-blocks generated beside W0's) gives the bits of
  ``normal_preacts`` on the materialized matrix, for any thread count, with and without the extra
  product, for m above one 128-row block of W0, and for the mixture's ``coef * v`` term.
* A span model predicts a GeneratedRows with the bits of the materialized array, without materializing
  it (tracemalloc); a primal model, or one of another dtype, gets the array.
* The sweep row, which now keeps its held-out set lazy, gives the same row as with the eager array.
"""

import pickle
import tracemalloc
import warnings

import numpy as np
import pytest

from kktunlearn import LinearModel, TwoLayerReLU, _core, _random
from kktunlearn import datasets as ds
from kktunlearn.datasets import GeneratedRows
from kktunlearn.metrics import evaluate_unlearning


def _same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("data", ["near_orthogonal", "mixture", "correlated"])
def test_materializes_to_the_eager_array(dtype, data):
    X, y, sampler = ds.make_data(data, n=10, d=777, seed=4, dtype=dtype, **({"rho": 0.3} if data == "correlated" else {}))
    G, yg = sampler(33, 9, lazy=True)
    Xt, yt = sampler(33, 9)
    assert isinstance(G, GeneratedRows) and G.shape == (33, 777) and G.dtype == np.dtype(dtype)
    assert len(G) == 33 and G.ndim == 2 and G.nbytes == Xt.nbytes
    assert _same(np.asarray(G), Xt) and np.array_equal(yg, yt)
    assert _same(G[5:19], Xt[5:19]) and _same(G[-3:], Xt[-3:]) and _same(G[7], Xt[7]) and _same(G[-1], Xt[-1])
    assert _same(G[::2], Xt[::2]) and _same(G[[3, 1]], Xt[[3, 1]])
    assert _same(G[30:10], Xt[30:10])
    assert np.asarray(G, dtype=np.float64).dtype == np.float64
    with pytest.raises(IndexError):
        G[33]
    # immutable inputs: v and coef are read-only copies
    if G.v is not None:
        assert not G.v.flags.writeable and not G.coef.flags.writeable


def test_real_samplers_ignore_lazy():
    for name, kw in (("breast_cancer", {}), ("digits", {})):
        _, _, sampler = ds.make_data(name, n=20, d=30, seed=1, **kw)
        X1, y1 = sampler(5, 2, lazy=True)
        X2, y2 = sampler(5, 2)
        assert isinstance(X1, np.ndarray) and np.array_equal(X1, X2) and np.array_equal(y1, y2)


def test_pickle_keeps_the_matrix_and_gets_a_new_token():
    G, _ = ds.gaussian_mixture(5, 300, seed=2).test(12, seed=3, lazy=True)
    H = pickle.loads(pickle.dumps(G))
    assert _same(np.asarray(H), np.asarray(G)) and H._token != G._token


def test_bad_descriptions():
    with pytest.raises(ValueError, match="both v and coef"):
        GeneratedRows(1, 1, 3, 4, 1.0, v=np.zeros(4))
    with pytest.raises(ValueError, match="v needs 4"):
        GeneratedRows(1, 1, 3, 4, 1.0, v=np.zeros(5), coef=np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        GeneratedRows(1, 1, 3, 4, 1.0, v=np.array([0, np.nan, 0, 0]), coef=np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        GeneratedRows(1, 1, 3, 4, np.inf)
    with pytest.raises(ValueError, match="negative"):
        GeneratedRows(1, 1, -1, 4, 1.0)
    with pytest.raises(ValueError, match="float64 or float32"):
        GeneratedRows(1, 1, 3, 4, 1.0, dtype=np.int64)
    with pytest.raises(ValueError, match="both v and coef"):
        _core.RowGen(seed=1, stream=1, row0=0, rows=3, cols=4, v=np.zeros(4))
    with pytest.raises(ValueError, match="must be >= 0"):
        _core.RowGen(seed=1, stream=1, row0=0, rows=-3, cols=4)
    g = _core.RowGen(seed=1, stream=1, row0=0, rows=3, cols=4)
    with pytest.raises(ValueError, match="as many columns"):
        _core.normal_preacts_generated(g, 5, 0, 7, 1.0, "float64", 1, np.zeros((2, 5)))
    with pytest.raises(ValueError, match="dtype"):
        _core.normal_preacts_generated(g, 5, 0, 7, 1.0, "float16", 1)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mixture", [False, True])
@pytest.mark.parametrize("m", [0, 37, 150])
def test_fused_kernel_bits_equal_the_materialized_path(dtype, mixture, m):
    n, d, row0 = 29, 2600, 11  # d: several 512-column sub-blocks and a ragged last one
    rng = np.random.default_rng(0)
    v = rng.standard_normal(d) if mixture else None
    coef = rng.standard_normal(n) if mixture else None
    X = _random.normal_block(21, 3, row0, n, 0, d, scale=0.07, dtype=dtype, v=v, coef=coef)
    E = _random.normal_block(22, 1, 0, 6, 0, d, dtype=dtype)
    g = _core.RowGen(seed=21, stream=3, row0=row0, rows=n, cols=d, scale=0.07, v=v, coef=coef)
    for nt in (1, 2, 3):
        ref = _core.normal_preacts(X, 99, 0, m, 0.3, nt, E)
        got = _core.normal_preacts_generated(g, 99, 0, m, 0.3, dtype, nt, E)
        assert all(_same(a, b) for a, b in zip(ref, got))
        if m > 0:
            ref2 = _core.normal_preacts(X, 99, 0, m, 0.3, nt)
            got2 = _core.normal_preacts_generated(g, 99, 0, m, 0.3, dtype, nt)
            assert len(got2) == 2 and all(_same(a, b) for a, b in zip(ref2, got2))
    # and the products are the right numbers (independent numpy computation)
    if m > 0:
        W0 = _random.normal_block(99, 0, 0, m, 0, d, scale=0.3, dtype=dtype)
        tol = 1e-12 if dtype == "float64" else 1e-5
        np.testing.assert_allclose(got[0], X.astype(np.float64) @ W0.T.astype(np.float64), rtol=tol, atol=tol)
    np.testing.assert_allclose(got[-1], X.astype(np.float64) @ E.T.astype(np.float64), rtol=1e-5, atol=1e-5)


def _fit(dtype, data, representation, n=16, d=2100, width=24, **kw):
    X, y, sampler = ds.make_data(data, n=n, d=d, seed=5, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = TwoLayerReLU(width=width, max_iter=60, random_state=1, dtype=dtype, representation=representation,
                             **kw).fit(X, y)
    return model, X, y, sampler


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("data", ["near_orthogonal", "mixture"])
@pytest.mark.parametrize("representation", ["span", "primal"])
def test_predictions_equal_the_materialized_array(dtype, data, representation):
    model, X, y, sampler = _fit(dtype, data, representation)
    G, yt = sampler(40, 8, lazy=True)
    Xt = np.asarray(G)
    for nt in (1, 2, 3):
        model.set_params(n_threads=nt)
        ref = model.decision_function(Xt)
        assert _same(model.decision_function(G), ref)
        assert _same(model.decision_function(G), ref)  # the cached products
        assert _same(model.margins(G, yt), model.margins(Xt, yt))
        assert model.score(G, yt) == model.score(Xt, yt)
        assert _same(model.predict(G), model.predict(Xt))
        assert _same(model.predict_proba(G), model.predict_proba(Xt))


def test_span_model_does_not_materialize_generated_rows():
    model, X, y, sampler = _fit(np.float64, "near_orthogonal", "span", d=40000, width=20)
    G, _ = sampler(300, 8, lazy=True)  # 96 MB if materialized
    tracemalloc.start()
    try:
        out = model.decision_function(G)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < G.nbytes / 20, peak
    assert _same(out, model.decision_function(np.asarray(G)))


def test_generated_training_rows_are_recognized_as_training_rows():
    # a GeneratedRows whose rows are the training rows goes the training-row way, like the equal array
    model, X, y, _ = _fit(np.float64, "near_orthogonal", "span")
    key = _random.seed_from_random_state(5)
    G = GeneratedRows(key, _random.STREAM_ROWS, X.shape[0], X.shape[1], 1.0 / np.sqrt(X.shape[1]))
    assert _same(np.asarray(G), X)
    assert _same(model.decision_function(G), model.decision_function(X.copy()))
    assert _same(model.decision_function(G), model.decision_function(X))


def test_other_dtype_and_feature_count():
    model, X, y, sampler = _fit(np.float32, "near_orthogonal", "span")
    G64 = GeneratedRows(3, 4, 7, X.shape[1], 0.02, np.float64)
    assert _same(model.decision_function(G64), model.decision_function(np.asarray(G64)))
    with pytest.raises(ValueError, match="features"):
        model.decision_function(GeneratedRows(3, 4, 7, X.shape[1] + 1, 0.02, np.float32))
    with pytest.raises(ValueError):
        model.decision_function(GeneratedRows(3, 4, 0, X.shape[1], 0.02, np.float32))
    # consumers that need the entries get the array (here: the training-set certificate's loss gradient)
    lin = LinearModel(max_iter=50, random_state=0).fit(X.astype(np.float64), y)
    Gl = GeneratedRows(3, 4, 7, X.shape[1], 0.02)
    assert _same(lin.decision_function(Gl), lin.decision_function(np.asarray(Gl)))
    np.testing.assert_array_equal(lin.loss_gradient(Gl, np.ones(7)), lin.loss_gradient(np.asarray(Gl), np.ones(7)))


def test_metrics_take_generated_rows():
    model, X, y, sampler = _fit(np.float64, "mixture", "span")
    from kktunlearn.unlearning import unlearn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        un = unlearn(model, X, y, [2], method="ga")
        rt = model._train_rows(X, y, np.flatnonzero(np.arange(X.shape[0]) != 2), start="init")
        G, yt = sampler(25, 3, lazy=True)
        a = evaluate_unlearning(model, un, X, y, [2], retrained=rt, X_test=G, y_test=yt)
        b = evaluate_unlearning(model, un, X, y, [2], retrained=rt, X_test=np.asarray(G), y_test=yt)
    assert a.keys() == b.keys()
    for k in a:
        if k != "wall_time":
            assert str(a[k]) == str(b[k]), k


@pytest.mark.parametrize("cfg", [dict(d=3000, seed=1), dict(d=2500, seed=2, data="mixture"),
                                 dict(d=2000, seed=3, data="correlated", rho=0.2),
                                 dict(d=2000, seed=4, model="linear")])
def test_sweep_row_is_the_row_of_the_eager_test_set(cfg, monkeypatch):
    import kktunlearn.sweep as sw

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sw._CACHE.clear()
        lazy = sw.unlearning_experiment(**cfg)
        orig = ds.make_data

        def eager(*a, **k):
            X, y, s = orig(*a, **k)
            return X, y, (lambda n, seed, lazy=False: s(n, seed))

        monkeypatch.setattr(ds, "make_data", eager)
        sw._CACHE.clear()
        ref = sw.unlearning_experiment(**cfg)
        sw._CACHE.clear()
    assert lazy.keys() == ref.keys()
    for k in lazy:
        if not k.endswith("time"):
            assert str(lazy[k]) == str(ref[k]), k


def test_fallbacks_to_the_array_give_the_same_numbers(monkeypatch):
    from kktunlearn import _span

    # rows too many for one sub-block per thread (the limit forced down): the array path, same bits
    model, X, y, sampler = _fit(np.float64, "mixture", "span")
    G, yt = sampler(30, 8, lazy=True)
    ref = model.decision_function(np.asarray(G))
    monkeypatch.setattr(_span, "_GENERATED_TILE_BYTES", 0)
    assert _same(model.decision_function(G), ref)
    # a span state whose W0 is not the counter-based generator's (kktunlearn 0.1.0's PCG64 draw)
    model2, X2, y2, sampler2 = _fit(np.float64, "near_orthogonal", "span")
    st = model2._span
    st.init = _span.PCG64Init(np.random.default_rng(42).bit_generator.state, st.init.scale, st.init.m,
                              X2.shape[1])
    G2, _ = sampler2(12, 3, lazy=True)
    assert _same(model2.decision_function(G2), model2.decision_function(np.asarray(G2)))


def test_model_fitted_on_a_dataframe_warns_like_for_an_array():
    pd = pytest.importorskip("pandas")
    X, y = ds.near_orthogonal(12, 40, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = TwoLayerReLU(width=8, max_iter=30, random_state=0, representation="span").fit(
            pd.DataFrame(X, columns=[f"f{k}" for k in range(40)]), y)
    G, _ = ds.near_orthogonal(5, 40, seed=2, lazy=True)
    with pytest.warns(UserWarning, match="feature names"):
        out = model.decision_function(G)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _same(out, model.decision_function(np.asarray(G)))

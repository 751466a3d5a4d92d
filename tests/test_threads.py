"""Threads: the same call from 8 Python threads at once gives the sequential results bit for bit
(the GIL is released inside the kernels), and results are bit-identical for a fixed seed whatever
n_threads is (the core splits work into fixed-size blocks, so the floating-point operations and their
order do not depend on how many threads run them)."""

from __future__ import annotations

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import kktunlearn as kk
from kktunlearn import _core
from kktunlearn.datasets import near_orthogonal

N_PY_THREADS = 8


@pytest.fixture(scope="module")
def data():
    # n > 64 and d > 2048 so that the row, tile and column blocks really split the work
    return near_orthogonal(100, 2100, seed=31)


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    net = kk.TwoLayerReLU(width=70, random_state=0, max_iter=150, n_threads=2).fit(X, y)
    lin = kk.LinearModel(max_iter=100, n_threads=2).fit(X, y)
    return net, lin


def _same(a, b, where=""):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for i, (p, q) in enumerate(zip(a, b)):
            _same(p, q, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert a.tobytes() == b.tobytes(), f"{where}: results differ"
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b, where


def _concurrently(fn, n=N_PY_THREADS):
    """Run fn(i) from n Python threads released together; returns the results in order."""
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()
        return fn(i)

    with ThreadPoolExecutor(n) as ex:
        return list(ex.map(run, range(n)))


def _state(model):
    return (model.W_, model.u_, model.n_iter_, model.history_)


def _calls(data, fitted):
    X, y = data
    net, lin = fitted
    Xs, ys = X[:40], y[:40]
    small_lin = kk.LinearModel(max_iter=200, n_threads=2).fit(Xs, ys)

    def unlearn_ga():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = kk.unlearn(small_lin, Xs, ys, [0, 5], method="ga")
        return r.W_

    return {
        "decision_function": lambda: net.decision_function(X),
        "loss_gradient": lambda: net.loss_gradient(X, y),
        "activation_pattern": lambda: net.activation_pattern(X),
        "fit_primal": lambda: _state(kk.TwoLayerReLU(width=16, random_state=1, max_iter=25, n_threads=2,
                                                     representation="primal").fit(X, y)),
        "fit_span": lambda: _state(kk.TwoLayerReLU(width=16, random_state=1, max_iter=25, n_threads=2,
                                                   representation="span", train_outer=True).fit(X, y)),
        "fit_linear_float32": lambda: _state(kk.LinearModel(max_iter=25, n_threads=2, dtype=np.float32).fit(X, y)),
        "kernel_matrix": lambda: _core.kernel_matrix(X, 2),
        "gradient_gram": lambda: _core.gradient_gram(_core.kernel_matrix(X, 1), _core.preactivations(X, net.W_, 1),
                                                      net.u_, y, 0.0, False, 2),
        "kkt_multipliers": lambda: kk.kkt_multipliers(small_lin, Xs, ys).lambdas,
        "unlearn_ga": unlearn_ga,
    }


CALL_NAMES = ["decision_function", "loss_gradient", "activation_pattern", "fit_primal", "fit_span",
              "fit_linear_float32", "kernel_matrix", "gradient_gram", "kkt_multipliers", "unlearn_ga"]


@pytest.mark.parametrize("name", CALL_NAMES)
def test_eight_python_threads_match_sequential(data, fitted, name):
    call = _calls(data, fitted)[name]
    seq = [call() for _ in range(2)]
    _same(seq[0], seq[1], name)
    par = _concurrently(lambda i: call())
    for r in par:
        _same(seq[0], r, name)


def test_mixed_calls_from_threads(data, fitted):
    """Different kernels interleaved from 8 threads (shared fitted models, read-only)."""
    calls = _calls(data, fitted)
    names = [CALL_NAMES[i % len(CALL_NAMES)] for i in range(2 * N_PY_THREADS)]
    ref = {n: calls[n]() for n in set(names)}
    out = _concurrently(lambda i: [(names[k], calls[names[k]]()) for k in range(i, len(names), N_PY_THREADS)])
    for lst in out:
        for name, r in lst:
            _same(ref[name], r, name)


def test_gil_is_released_during_training(data):
    """While a fit runs in another thread, this thread keeps running Python code."""
    X, y = data
    started, done = threading.Event(), threading.Event()

    def work():
        started.set()
        kk.TwoLayerReLU(width=16, random_state=0, max_iter=150, n_threads=1, representation="primal").fit(X, y)
        done.set()

    t = threading.Thread(target=work)
    t.start()
    started.wait()
    ticks = 0
    while not done.is_set():
        ticks += 1
    t.join()
    # with the GIL held for the whole fit this loop could only run between the progress callbacks
    assert ticks > 10_000


# ----------------------------------------------------------------------------- n_threads does not change bits
THREAD_COUNTS = [1, 2, 3, 7]


@pytest.mark.parametrize("what", ["fit_primal", "fit_span", "fit_trained_u_float32", "fit_linear", "kernels",
                                  "kkt", "unlearn"])
def test_bit_identical_for_any_n_threads(data, what):
    X, y = data
    results = []
    for nt in THREAD_COUNTS:
        if what == "fit_primal":
            m = kk.TwoLayerReLU(width=70, random_state=3, max_iter=20, n_threads=nt, representation="primal").fit(X, y)
            results.append(_state(m))
        elif what == "fit_span":
            m = kk.TwoLayerReLU(width=70, random_state=3, max_iter=20, n_threads=nt, representation="span").fit(X, y)
            results.append(_state(m))
        elif what == "fit_trained_u_float32":
            m = kk.TwoLayerReLU(width=70, random_state=3, max_iter=20, n_threads=nt, train_outer=True,
                                dtype=np.float32).fit(X, y)
            results.append(_state(m))
        elif what == "fit_linear":
            results.append(_state(kk.LinearModel(max_iter=50, n_threads=nt).fit(X, y)))
        elif what == "kernels":
            W = np.random.default_rng(0).standard_normal((70, X.shape[1]))
            u = np.linspace(-1, 1, 70)
            Z = _core.preactivations(X, W, nt)
            results.append((Z, _core.outputs(X, W, u, 0.1, nt), _core.kernel_matrix(X, nt),
                            _core.loss_and_grad(X, y, W, u, 0.1, True, "logistic", nt)[1],
                            _core.vjp(X, W, u, 0.1, True, y.astype(np.float64), nt)[0],
                            _core.jvp(X, W, u, 0.1, False, W, None, nt),
                            _core.gradient_gram(_core.kernel_matrix(X, nt), Z, u, y, 0.1, True, nt)))
        elif what == "kkt":
            m = kk.LinearModel(max_iter=300, n_threads=nt).fit(X[:60], y[:60])
            r = kk.kkt_multipliers(m, X[:60], y[:60])
            results.append((r.lambdas, r.epsilon))
        elif what == "unlearn":
            m = kk.LinearModel(max_iter=300, n_threads=nt).fit(X[:60], y[:60])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                outs = tuple(kk.unlearn(m, X[:60], y[:60], [1, 2], method=meth).W_
                             for meth in ("ga", "neggrad", "cure_newton"))
            results.append(outs)
    for nt, r in zip(THREAD_COUNTS[1:], results[1:]):
        _same(results[0], r, f"{what} n_threads={nt} vs 1")


def test_openmp_default_is_limited_by_threadpoolctl(data):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    X, y = data
    if not _core.have_openmp:
        pytest.skip("serial build")
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert _core.max_threads(0) == 1
        a = kk.LinearModel(max_iter=30).fit(X, y).coef_
    b = kk.LinearModel(max_iter=30, n_threads=3).fit(X, y).coef_
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n, m, d, dtype", [
    (1500, 40, 300, np.float64),    # small d, n >= 1280: fixed row chunks, partials added in chunk order
    (5000, 200, 200, np.float64),   # the certificate table's shape (8 chunks)
    (3000, 64, 500, np.float32),
    (700, 40, 300, np.float64),     # one chunk only: blocks of the m rows of out
    (1400, 1100, 4000, np.float64),  # partials over 64 MB: blocks of the m rows of out
    (300, 20, 5000, np.float64),    # large d: 2048-column blocks
])
def test_add_gamma_t_x_every_split_is_bit_identical_and_exact(n, m, d, dtype):
    # out += Gamma^T X: every split of the work is fixed by the shapes, so 1, 2, 3 and 7 threads give the same
    # bits, and the sum is Gamma^T X to rounding (float64 reference, in float64 for the float32 kernel)
    rng = np.random.default_rng(n + m + d)
    G = rng.standard_normal((n, m)).astype(dtype)
    X = rng.standard_normal((n, d)).astype(dtype)
    base = rng.standard_normal((m, d)).astype(dtype)
    outs = []
    for nt in THREAD_COUNTS:
        o = base.copy()
        _core.add_gamma_t_x(G, X, o, nt)
        outs.append(o)
    for nt, o in zip(THREAD_COUNTS[1:], outs[1:]):
        np.testing.assert_array_equal(outs[0], o, err_msg=f"n_threads={nt} vs 1")
    ref = base.astype(np.float64) + G.astype(np.float64).T @ X.astype(np.float64)
    scale = np.sqrt(n) * (1e-13 if dtype == np.float64 else 1e-5)
    assert np.abs(outs[0] - ref).max() < 10 * scale


@pytest.mark.parametrize("n, d, dtype", [
    (1500, 3000, np.float64),   # n > 1024: 256 x 256 tiles
    (4200, 1100, np.float64),   # 512 x 512 tiles
    (1100, 5000, np.float32),   # larger tiles, float32 summed over d in double
    (600, 3000, np.float64),    # 128 x 128 tiles
])
def test_kernel_matrix_tiles_bit_identical_and_exact(n, d, dtype):
    X = np.random.default_rng(n + d).standard_normal((n, d)).astype(dtype)
    Ks = [_core.kernel_matrix(X, nt) for nt in THREAD_COUNTS]
    for nt, K in zip(THREAD_COUNTS[1:], Ks[1:]):
        np.testing.assert_array_equal(Ks[0], K, err_msg=f"n_threads={nt} vs 1")
    K = Ks[0].astype(np.float64)
    np.testing.assert_array_equal(K, K.T)
    Xd = X.astype(np.float64)
    ref = Xd @ Xd.T
    tol = 1e-13 if dtype == np.float64 else 1e-6
    assert np.abs(K - ref).max() <= tol * np.abs(ref).max()


def test_span_fit_with_two_row_halves_bit_identical():
    # 128 < n <= 512: the span step splits K into two row halves (multiples of 8); the split is fixed by n, so
    # the fitted state is the same for every thread count (width 300: 2 n^2 m = 2.4e7 flops per step, above the
    # 2e7 under which a step runs serially whatever n_threads is)
    X, y = near_orthogonal(200, 600, seed=8)
    states = [_state(kk.TwoLayerReLU(width=300, random_state=1, max_iter=20, n_threads=nt,
                                     representation="span").fit(X, y)) for nt in THREAD_COUNTS]
    for nt, s in zip(THREAD_COUNTS[1:], states[1:]):
        _same(states[0], s, f"span n=200 n_threads={nt} vs 1")

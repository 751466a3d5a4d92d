"""Faults during long work: divergence, non-separable data, Ctrl-C, exceptions inside OpenMP
regions and inside progress callbacks."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import warnings

import numpy as np
import pytest

import kktunlearn as kk
from kktunlearn import _core
from kktunlearn.datasets import near_orthogonal
from conftest import train_options


def _os_threads() -> int:
    """Threads of this process (Python and OpenMP ones)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # pragma: no cover - not Linux
        return threading.active_count()


def _interrupt_after(seconds):
    t = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT))
    t.start()
    return t


# ----------------------------------------------------------------------------- divergence
@pytest.mark.parametrize("representation", ["primal", "span"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_divergence_keeps_last_finite_state_exactly(representation, dtype):
    X, y = near_orthogonal(10, 50, seed=5)
    X = X * 30.0
    kw = dict(lr=1e6, normalized_gd=False, init_scale=1.0, random_state=0, representation=representation,
              dtype=dtype, n_threads=1)
    m = kk.LinearModel(max_iter=100, **kw)
    with pytest.raises(kk.TrainingDivergedError, match=r"diverged at iteration \d+.*last finite state.*lower lr"):
        m.fit(X, y)
    assert isinstance(m.fit_status_, str) and m.fit_status_ == "diverged"
    assert np.all(np.isfinite(m.W_)) and np.all(np.isfinite(m.decision_function(X)))
    # the kept state is exactly the state after n_iter_ steps: replaying that many steps gives it
    k = m.n_iter_
    assert 0 <= k < 100
    replay = kk.LinearModel(max_iter=k, **kw).fit(X, y) if k > 0 else None
    if replay is not None:
        np.testing.assert_array_equal(replay.W_, m.W_)
    # and the model is usable: margins consistent with its history, save/load, refit
    np.testing.assert_allclose(m.margins(X, y).min(), m.history_["min_margin"][-1], rtol=1e-5)
    m.set_params(lr=0.1, normalized_gd=True).fit(X, y)
    assert m.fit_status_ == "max_iter"
    assert issubclass(kk.TrainingDivergedError, ArithmeticError)


def test_divergence_of_two_layer_network_with_trained_outer_layer():
    X, y = near_orthogonal(12, 40, seed=1)
    m = kk.TwoLayerReLU(width=8, train_outer=True, lr=50.0, normalized_gd=False, init_scale=0.5,
                        random_state=0, max_iter=200, n_threads=1, representation="primal")
    with pytest.raises(kk.TrainingDivergedError):
        m.fit(X, y)
    assert np.all(np.isfinite(m.W_)) and np.all(np.isfinite(m.u_))
    if m.n_iter_ > 0:
        with warnings.catch_warnings():  # the replayed model need not fit the data yet
            warnings.simplefilter("ignore", kk.ConvergenceWarning)
            r = kk.clone(m).set_params(max_iter=m.n_iter_).fit(X, y)
        np.testing.assert_array_equal(r.W_, m.W_)
        np.testing.assert_array_equal(r.u_, m.u_)


def test_overflowing_input_is_a_clear_error():
    X, y = near_orthogonal(10, 50, seed=5)
    m = kk.LinearModel(init_scale=1.0, random_state=0)
    with pytest.raises(kk.TrainingDivergedError, match="cannot start.*not finite.*rescale X"):
        m.fit(X * 1e200, y)
    assert not getattr(m, "is_fitted_", False)


# ----------------------------------------------------------------------------- non-separable data
@pytest.mark.parametrize("make", [lambda: kk.LinearModel(max_iter=50),
                                  lambda: kk.TwoLayerReLU(width=2, max_iter=50, random_state=0)])
def test_non_separable_warns_and_says_what_to_try(make):
    X = np.array([[1.0, 0.0], [2.0, 0.0], [-1.0, 0.0], [-3.0, 0.0]])
    y = np.array([1.0, -1.0, 1.0, -1.0])  # +/- on both sides of the origin along one axis
    m = make()
    with pytest.warns(kk.ConvergenceWarning) as rec:
        m.fit(X, y)
    msg = str(rec[0].message)
    assert "does not fit the training data" in msg and "max_iter" in msg and "separable" in msg
    n_bad = int(np.sum(m.margins(X, y) <= 0))
    assert f"{n_bad} of 4 points" in msg and n_bad > 0
    assert m.predict(X).shape == (4,)  # still a usable fitted model


# ----------------------------------------------------------------------------- Ctrl-C
@pytest.mark.parametrize("representation", ["primal", "span"])
def test_ctrl_c_during_training(representation):
    X, y = near_orthogonal(60, 400, seed=12)
    kw = dict(width=64, random_state=0, representation=representation, n_threads=2)
    # warm up the OpenMP team of this thread, then count threads
    kk.TwoLayerReLU(max_iter=3, **kw).fit(X, y)
    _core._testing.threads_used(2)
    before_os, before_py = _os_threads(), threading.active_count()
    model = kk.TwoLayerReLU(max_iter=10**8, **kw)
    timer = _interrupt_after(0.3)
    t0 = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt, match="interrupted after"):
            model.fit(X, y)
        elapsed = time.perf_counter() - t0
    finally:
        timer.cancel()
        timer.join()
    assert elapsed < 0.3 + (10.0 if os.environ.get("KKT_SANITIZE") else 1.5)  # "within a second" of the signal
    assert threading.active_count() == before_py
    assert _os_threads() <= before_os  # no thread left behind (the OpenMP team is reused)
    k = model.n_iter_
    assert 0 < k < 10**8 and model.fit_status_ == "interrupted"
    assert model.history_["iter"][-1] == k
    # the kept state is exactly the state after k steps
    replay = kk.TwoLayerReLU(max_iter=k, **kw).fit(X, y)
    np.testing.assert_array_equal(replay.W_, model.W_)
    # usable: predict, margins, and fitting again
    np.testing.assert_allclose(model.margins(X, y).min(), model.history_["min_margin"][-1], rtol=1e-9)
    model.set_params(max_iter=5).fit(X, y)
    assert model.n_iter_ == 5


def test_keyboard_interrupt_raised_inside_the_progress_callback():
    X, y = near_orthogonal(20, 50, seed=2)
    W0 = 1e-3 * np.random.default_rng(0).standard_normal((4, 50))
    u0 = np.array([0.5, 0.5, -0.5, -0.5])

    def cb(it, loss):
        raise KeyboardInterrupt

    _, _, res = _core.train_primal(X, y, W0, u0, 0.0, False, train_options(max_iter=10**8, history_every=10), cb)
    assert res.interrupted and res.status == "interrupted" and 0 < res.n_iter < 10**8


@pytest.mark.parametrize("exc", [ValueError("boom from callback"), ZeroDivisionError("divide")])
def test_exception_in_progress_callback_is_reraised_as_itself(exc):
    X, y = near_orthogonal(20, 50, seed=2)
    W0 = 1e-3 * np.random.default_rng(0).standard_normal((4, 50))
    u0 = np.array([0.5, 0.5, -0.5, -0.5])

    def cb(it, loss):
        raise exc

    with pytest.raises(type(exc), match=str(exc)):
        _core.train_primal(X, y, W0, u0, 0.0, False, train_options(max_iter=10**8, history_every=10), cb)
    with pytest.raises(TypeError, match="progress callback must return None or a bool"):
        _core.train_primal(X, y, W0, u0, 0.0, False, train_options(max_iter=10**8, history_every=10),
                           lambda it, loss: "yes")
    _, _, res = _core.train_primal(X, y, W0, u0, 0.0, False, train_options(max_iter=10**8, history_every=10),
                                   lambda it, loss: False)  # returning False stops, as an interrupt
    assert res.interrupted


# ----------------------------------------------------------------------------- exceptions in OpenMP regions
_KINDS = {"invalid": ValueError, "numerical": _core.NumericalError, "runtime": RuntimeError,
          "bad_alloc": MemoryError, "int": RuntimeError}


@pytest.mark.parametrize("kind", list(_KINDS))
@pytest.mark.parametrize("tiles", [False, True])
@pytest.mark.parametrize("n_threads", [1, 2, 4])
def test_exception_inside_openmp_region_is_reraised(kind, tiles, n_threads):
    throw_at = [3, 500, 999]
    for _ in range(20):  # repeated: any race in the capture would show up
        with pytest.raises(_KINDS[kind]) as ei:
            _core._testing.throw_in_parallel(1000, 7, throw_at, kind, tiles, n_threads)
        if kind in ("invalid", "numerical", "runtime"):
            assert any(f"at item {i}" in str(ei.value) for i in throw_at)
    # the process and the OpenMP runtime are fine afterwards
    assert _core._testing.throw_in_parallel(1000, 7, [], kind, tiles, n_threads) == 1000
    X = np.random.default_rng(0).standard_normal((50, 30))
    np.testing.assert_allclose(_core.kernel_matrix(X, n_threads), X @ X.T, rtol=1e-12, atol=1e-12)


def test_exception_in_every_block():
    with pytest.raises(RuntimeError, match="at item"):
        _core._testing.throw_in_parallel(64, 1, list(range(64)), "runtime", False, 4)


@pytest.mark.skipif(not _core.have_openmp, reason="serial build")
def test_thread_count_helpers():
    assert _core._testing.threads_used(1) == 1
    assert _core._testing.threads_used(3) == 3
    assert _core.max_threads(10**6) == max(256, 4 * os.cpu_count())


def test_ctrl_c_during_multiplier_solve():
    # n = 1600, ~800 Lawson-Hanson iterations: over a second of work in the C++ solver even with
    # the AVX-512 build, with the GIL released
    X, y = near_orthogonal(1600, 3000, seed=0)
    m = kk.LinearModel(n_threads=2).set_parameters(np.random.default_rng(0).standard_normal((1, 3000)))
    kk.kkt_multipliers(m, X[:20], y[:20], scale=1.0)  # warm-up
    _core._testing.threads_used(2)  # start this thread's OpenMP team of 2 (kept by the runtime)
    before_os, before_py = _os_threads(), threading.active_count()
    timer = _interrupt_after(0.2)
    t0 = time.perf_counter()
    interrupted = False
    try:
        try:
            kk.kkt_multipliers(m, X, y, scale=1.0)
        except KeyboardInterrupt:
            interrupted = True
        elapsed = time.perf_counter() - t0
        timer.cancel()
        timer.join()
        time.sleep(0.05)  # a signal sent just as the solve returned is delivered here
    except KeyboardInterrupt:
        interrupted = interrupted or False
    if not interrupted:
        pytest.skip(f"the solve finished in {elapsed:.2f} s, before the interrupt; nothing to test on this machine")
    # the solver loops check every 0.1 s; the latency is bounded by the longest single kernel before
    # them (the n x n Gram matrix, about a second on a loaded 2-core machine at this size)
    # (the sanitizer build is ~10x slower per kernel: there only the interrupt itself is checked)
    assert elapsed < 0.2 + (30.0 if os.environ.get("KKT_SANITIZE") else 3.0)
    assert threading.active_count() == before_py and _os_threads() <= before_os
    # the model and the solver are usable afterwards and give the same answer as before
    r1 = kk.kkt_multipliers(m, X[:30], y[:30], scale=1.0)
    r2 = kk.kkt_multipliers(kk.clone(m).set_parameters(m.W_), X[:30], y[:30], scale=1.0)
    np.testing.assert_array_equal(r1.lambdas, r2.lambdas)
    assert np.all(np.isfinite(m.W_))

"""Shared fixtures and independent numpy references for the tests."""

from __future__ import annotations

import signal
import threading

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _python_sigint_handler():
    """Python's KeyboardInterrupt handler for SIGINT during every test.

    A process started with SIGINT ignored (e.g. `cmd &` from a non-interactive shell, as some CI
    runners and `nohup`-style launchers do) never installs Python's handler, so the tests that send
    themselves SIGINT (Ctrl-C inside training and solvers) would wait forever. The previous handler
    is restored after the test."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    prev = signal.getsignal(signal.SIGINT)
    if prev is not signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if prev is not signal.default_int_handler and prev is not None:
            signal.signal(signal.SIGINT, prev)


def train_options(**kw):
    """A _core.TrainOptions for direct calls of the core's training loop (defaults: exponential loss,
    normalized GD with lr 0.5, no cap, history every step, 1 thread), the fields in kw set."""
    from kktunlearn import _core

    o = _core.TrainOptions()
    base = dict(loss="exponential", lr=0.5, normalized=True, lr_max=np.inf, max_iter=5, tol=0.0, margin_tol=0.0,
                history_every=1, n_threads=1)
    base.update(kw)
    for k, v in base.items():
        setattr(o, k, v)
    return o


def nnls(G, b, tol=1e-10, max_iter=0, n_threads=0, solver="auto", x0=None, drop_tol=1e-10):
    """_core.nnls_gram with its NNLSOptions built from the arguments (an NNLSResult)."""
    from kktunlearn import _core

    o = _core.NNLSOptions()
    o.tol, o.max_iter, o.n_threads, o.solver, o.drop_tol = tol, max_iter, n_threads, solver, drop_tol
    return _core.nnls_gram(G, b, o, x0)


def np_act(Z, slope):
    return np.where(Z > 0, Z, slope * Z)


def np_dact(Z, slope):
    return np.where(Z > 0, 1.0, slope)


def np_loss(q, loss):
    if loss == "exponential":
        return np.exp(-q), -np.exp(-q)
    return np.logaddexp(0.0, -q), -1.0 / (1.0 + np.exp(q))


def np_forward(X, W, u, slope):
    return np_act(X @ W.T, slope) @ u


def np_loss_grad(X, y, W, u, slope, train_outer, loss):
    """Mean loss and its gradient, written independently of the library."""
    n = X.shape[0]
    Z = X @ W.T
    q = y * (np_act(Z, slope) @ u)
    lv, ld = np_loss(q, loss)
    c = ld * y / n
    gW = (c[:, None] * np_dact(Z, slope) * u[None, :]).T @ X
    gu = np_act(Z, slope).T @ c if train_outer else None
    return lv.mean(), gW, gu


@pytest.fixture
def small_data():
    rng = np.random.default_rng(1234)
    n, d = 12, 30
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    y[0], y[1] = -1.0, 1.0
    return X, y

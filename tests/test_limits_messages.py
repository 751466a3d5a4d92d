"""Limits and messages (issue 14) that are not plain ValueError/TypeError cases of the bad-input
catalogue: the exponential loss beyond double range, the dynamics-multiplier underflow warning, the
advice of the divergence warning, the memory estimate, KKTUNLEARN_DISPATCH, the one forget rule."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import kktunlearn as kk
from kktunlearn import _validation as V
from kktunlearn.datasets import near_orthogonal

PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(kk.__file__)))


@pytest.fixture(scope="module")
def linear():
    X, y = near_orthogonal(12, 30, seed=0)
    return kk.LinearModel(max_iter=200).fit(X, y), X, y


# --------------------------------------------------------------------------------- exponential overflow
def test_exponential_loss_beyond_double_range_raises(linear):
    m, X, y = linear
    Xb = -X * (800.0 / np.abs(m.margins(X, y)).min())          # every margin <= -800
    assert m.margins(Xb, y).max() <= -710
    with pytest.raises(ArithmeticError, match=r"exp\(.*\) \(log domain\).*min.*margin"):
        m.loss_value(Xb, y)
    with pytest.raises(ArithmeticError, match="exceed the largest double"):
        m.loss_gradient(Xb, y)
    # the logistic loss grows linearly: finite, and equal to the mean of -q there
    lg = kk.LinearModel(loss="logistic").set_parameters(m.W_)
    q = lg.margins(Xb, y)
    assert np.isclose(lg.loss_value(Xb, y), np.mean(-q), rtol=1e-12)
    assert np.isfinite(lg.loss_gradient(Xb, y)).all()


def test_exponential_loss_just_inside_the_range_is_exact(linear):
    m, X, y = linear
    w = m.W_[0]
    x = w / np.dot(w, w) * -700.0                               # margin exactly -700 for label +1
    Xq, yq = x[None, :], np.array([1.0])
    m2 = kk.LinearModel().set_parameters(w[None, :])
    assert np.isclose(m2.loss_value(Xq, yq), np.exp(700.0), rtol=1e-9)
    g = m2.loss_gradient(Xq, yq)
    np.testing.assert_allclose(g, -np.exp(700.0) * x, rtol=1e-9)


# ---------------------------------------------------------------------------------- dynamics underflow
def test_dynamics_multipliers_do_not_underflow_at_margins_1e4(linear):
    """The issue's reproducer: at raw margins of 1e4, |l'(q)| = exp(-1e4) is 0 in double precision; the
    weights are taken relative to the smallest margin (exp(q_min - q_i)), so the result is the scale-free
    one: equal to the multipliers of the same direction at margin 1, up to the factor of the scale."""
    m, X, y = linear
    f = 1e4 / m.margins(X, y).min()
    big = kk.LinearModel().set_parameters(m.W_ * f)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lam = np.asarray(kk.kkt_multipliers(big, X, y, method="dynamics").lambdas)
    assert (lam > 0).any() and np.isfinite(lam).all()
    # independent numpy computation in the log domain, in the normalized scale theta / s (s = q_min for
    # the linear model): lambda = c v, v_i = exp(q_min - q_i), c = <theta / s, g> / ||g||^2,
    # g = sum_i v_i y_i x_i
    q = big.margins(X, y)
    v = np.exp(q.min() - q)
    g = (v * np.where(y > 0, 1.0, -1.0)) @ X
    ref = (big.W_[0] / q.min() @ g) / (g @ g) * v
    np.testing.assert_allclose(lam, ref, rtol=1e-8, atol=1e-300)


def test_dynamics_multipliers_warn_when_all_zero(linear):
    m, X, y = linear
    bad = kk.LinearModel().set_parameters(-m.W_)        # every margin negative: <theta, g> < 0
    with pytest.warns(UserWarning, match=r"every multiplier is 0 .*method='nnls'"):
        lam = kk.kkt_multipliers(bad, X, y, method="dynamics", scale=1.0).lambdas
    assert not (np.asarray(lam) > 0).any()


# ---------------------------------------------------------------------------------- divergence advice
def test_rising_loss_warning_advises_a_smaller_lr():
    X, y = near_orthogonal(12, 30, seed=0)
    with pytest.warns(kk.ConvergenceWarning) as rec:
        kk.LinearModel(max_iter=50, lr=1e6, loss="logistic").fit(X, y)
    msg = " ".join(str(w.message) for w in rec)
    assert "loss rose" in msg and "Lower lr (now 1000000.0)" in msg and "larger lr" not in msg


# ----------------------------------------------------------------------------------------- memory
def test_memory_estimate_names_parameter_estimate_and_available(monkeypatch):
    monkeypatch.setattr(V, "available_memory", lambda: 1 << 30)
    with pytest.raises(MemoryError) as ei:
        V.check_memory(3 << 30, "width", "fitting TwoLayerReLU")
    msg = str(ei.value)
    assert isinstance(ei.value, ValueError) and "width is too large" in msg and "3 GiB" in msg and "1 GiB" in msg
    V.check_memory(1 << 20, "width", "small")                    # fits: silent
    X, y = near_orthogonal(12, 30, seed=0)
    with pytest.raises(kk.InsufficientMemoryError, match=r"width is too large.*width=200000000.*1 GiB"):
        kk.TwoLayerReLU(width=2 * 10**8).fit(X, y)
    with pytest.raises(kk.InsufficientMemoryError, match=r"d is too large: near_orthogonal"):
        near_orthogonal(10, 10**8)


def test_available_memory_is_sane():
    a = V.available_memory()
    assert a is None or 0 < a < 1 << 50


# ------------------------------------------------------------------------------------ CPU dispatch
def _import_with(value):
    env = dict(os.environ, KKTUNLEARN_DISPATCH=value)
    env["PYTHONPATH"] = PKG_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", "import kktunlearn, kktunlearn._dispatch as d; "
                           "print(kktunlearn.cpu_variant, d.report())"], capture_output=True, text=True, env=env,
                          timeout=120)


def test_unknown_dispatch_value_is_rejected():
    r = _import_with("bogus")
    assert r.returncode != 0
    assert "KKTUNLEARN_DISPATCH='bogus' is not a CPU build" in r.stderr and "avx2" in r.stderr


def test_dispatch_report():
    r = _import_with("baseline")
    assert r.returncode == 0, r.stderr
    assert "baseline" in r.stdout and "'requested': 'baseline'" in r.stdout
    assert "above the requested KKTUNLEARN_DISPATCH=baseline" in r.stdout
    rep = kk._dispatch.report()
    assert rep["loaded"] == kk.cpu_variant and set(rep) == {"requested", "loaded", "skipped"}


# ------------------------------------------------------------------------------------ one forget rule
@pytest.mark.parametrize("forget, expected", [
    (3, [3]), (np.int8(3), [3]), ([5, 1], [1, 5]), (np.array([5, 1], np.uint64), [1, 5]),
    (np.arange(10) % 4 == 0, [0, 4, 8]), (np.array([1, 2], dtype=object), [1, 2]),
])
def test_check_forget_accepts(forget, expected):
    assert V.check_forget(forget, 10).tolist() == expected


@pytest.mark.parametrize("forget, exc, match", [
    ([0.0], TypeError, "float indices"), (1.0, TypeError, "integer indices"), (True, TypeError, "bool"),
    (None, TypeError, "integer index"), ("1", TypeError, "integer index"), ([-1], ValueError, "negative"),
    ([10], ValueError, "out of range"), (2**70, ValueError, "out of range"), ([2**70], ValueError, "out of range"),
    (np.array([2**64 - 1], np.uint64), ValueError, "18446744073709551615 is out of range"),
    ([1, 1], ValueError, "repeated"), ([], ValueError, "empty"), (np.zeros(10, bool), ValueError, "selects no"),
    (np.ones(10, bool), ValueError, "every data point"), (np.ones(4, bool), ValueError, r"shape \(10,\)"),
    ([[1]], ValueError, "1-D"),
])
def test_check_forget_refuses(forget, exc, match):
    with pytest.raises(exc, match=match):
        V.check_forget(forget, 10)


def test_every_entry_point_uses_the_shared_rule():
    import kktunlearn.kkt as K
    import kktunlearn.unlearning as U

    assert not hasattr(K, "_check_forget") and not hasattr(U, "_check_forget")
    assert K.check_forget is V.check_forget and U.check_forget is V.check_forget

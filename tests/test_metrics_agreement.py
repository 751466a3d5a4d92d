"""Tug-of-War and JS divergence (Newton paper's agreement-with-retraining metrics) on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kktunlearn import metrics as M


def test_tow_hand_computed():
    assert M.tug_of_war([0.0, 1.0, 0.9], [0.0, 1.0, 0.9]) == 1.0
    # (1 - 0.5) (1 - 0.1) (1 - 0.1)
    assert M.tug_of_war([0.5, 0.9, 0.8], [0.0, 1.0, 0.9]) == pytest.approx(0.405, abs=1e-15)
    # a collapsed model: forget 0.5 vs 0, retained 0.5 vs 1, test 0.5 vs 0.95
    assert M.tug_of_war([0.5, 0.5, 0.5], [0.0, 1.0, 0.95]) == pytest.approx(0.5 * 0.5 * 0.55, abs=1e-15)
    # order-free with dicts of the same keys
    u = {"forget": 0.2, "retained": 0.99, "test": 0.9}
    r = {"test": 0.95, "forget": 0.0, "retained": 1.0}
    assert M.tug_of_war(u, r) == pytest.approx(0.8 * 0.99 * 0.95, abs=1e-15)


def test_tow_errors():
    with pytest.raises(ValueError, match="percentages"):
        M.tug_of_war([50.0, 90.0, 80.0], [0.0, 100.0, 90.0])
    with pytest.raises(ValueError, match="as many"):
        M.tug_of_war([0.5, 0.5], [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="different data sets"):
        M.tug_of_war({"a": 0.5}, {"b": 0.5})
    with pytest.raises(ValueError):
        M.tug_of_war([], [])
    with pytest.raises(ValueError):
        M.tug_of_war([np.nan], [0.5])


class _Fixed:
    """A stand-in model with given outputs f(x_i) = x_i[0] * s."""

    def __init__(self, s):
        self.s = s

    def decision_function(self, X):
        return np.asarray(X, float)[:, 0] * self.s

    def margins(self, X, y):
        return np.asarray(y, float) * self.decision_function(X)


def test_tow_models():
    X = np.array([[1.0], [2.0], [-1.0], [-3.0]])
    y = np.array([1, 1, -1, -1])
    a, b = _Fixed(1.0), _Fixed(-1.0)  # a: accuracy 1, b: accuracy 0 on every set
    sets = [(X[:1], y[:1]), (X[1:3], y[1:3]), (X[3:], y[3:])]
    assert M.tug_of_war_models(a, a, sets) == 1.0
    assert M.tug_of_war_models(a, b, sets) == 0.0
    # an empty set is skipped
    assert M.tug_of_war_models(a, a, [(X[:0], y[:0])] + sets) == 1.0


def test_js_hand_computed():
    # identical distributions
    assert M.js_divergence([0.0, 3.0, -2.0], [0.0, 3.0, -2.0]) == pytest.approx(0.0, abs=1e-15)
    # p = 3/4 (f = ln 3) against q = 1/4 (f = -ln 3): M = (1/2, 1/2), JS = 3/4 ln(3/2) + 1/4 ln(1/2)
    want = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert M.js_divergence([math.log(3.0)], [-math.log(3.0)]) == pytest.approx(want, rel=1e-13)
    # p = 1/2 (f = 0) against q = 1 (f = 800): M = (3/4, 1/4);
    # KL(P||M) = 1/2 ln(2/3) + 1/2 ln 2 = 1/2 ln(4/3), KL(Q||M) = ln(4/3); JS = 3/4 ln(4/3)
    want2 = 0.75 * math.log(4.0 / 3.0)
    assert M.js_divergence([0.0], [800.0]) == pytest.approx(want2, rel=1e-13)
    # disjoint certain outputs: JS = ln 2 nats = 1 bit
    assert M.js_divergence([1e300], [-1e300]) == pytest.approx(math.log(2.0), rel=1e-15)
    assert M.js_divergence([1e300], [-1e300], base=2) == pytest.approx(1.0, rel=1e-15)
    # the mean over points
    got = M.js_divergence([math.log(3.0), 0.0, 5.0], [-math.log(3.0), 800.0, 5.0])
    assert got == pytest.approx((want + want2 + 0.0) / 3.0, rel=1e-13)
    # symmetric
    assert M.js_divergence([0.0], [800.0]) == M.js_divergence([800.0], [0.0])


def test_js_matches_scipy_distance_squared():
    from scipy.spatial.distance import jensenshannon

    rng = np.random.default_rng(0)
    fa, fb = rng.normal(scale=3, size=50), rng.normal(scale=3, size=50)
    pa, pb = 1 / (1 + np.exp(-fa)), 1 / (1 + np.exp(-fb))
    ref = np.mean([jensenshannon([p, 1 - p], [q, 1 - q]) ** 2 for p, q in zip(pa, pb)])
    assert M.js_divergence(fa, fb) == pytest.approx(ref, rel=1e-10)
    ref2 = np.mean([jensenshannon([p, 1 - p], [q, 1 - q], base=2) ** 2 for p, q in zip(pa, pb)])
    assert M.js_divergence(fa, fb, base=2) == pytest.approx(ref2, rel=1e-10)


def test_js_models_and_errors():
    X = np.array([[math.log(3.0)], [0.0]])
    a, b = _Fixed(1.0), _Fixed(-1.0)
    want = (0.75 * math.log(1.5) + 0.25 * math.log(0.5)) / 2.0  # second point: both 1/2
    assert M.js_divergence(a, b, X) == pytest.approx(want, rel=1e-13)
    with pytest.raises(ValueError, match="same length"):
        M.js_divergence([0.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="at least one"):
        M.js_divergence([], [])
    with pytest.raises(ValueError, match="NaN"):
        M.js_divergence([np.nan], [0.0])
    with pytest.raises(ValueError, match="base"):
        M.js_divergence([0.0], [0.0], base=1.0)

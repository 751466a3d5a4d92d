"""Data generators: statistics within their theoretical ranges, determinism, real data sets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from kktunlearn import datasets as D

FAIL = 1e-6  # failure probability budget for the concentration bounds below


def _chi2_band(n, d):
    """Laurent-Massart: P(|chi2_d / d - 1| >= 2 sqrt(t/d) + 2 t/d) <= 2 exp(-t), union over n rows."""
    t = math.log(2 * n / FAIL)
    return 2 * math.sqrt(t / d) + 2 * t / d


def _phi_bound(n, d):
    """<x_i, x_j> for independent N(0, I/d) rows is sub-exponential with scale ~1/sqrt(d): a
    Bernstein bound with t = log(n^2 / FAIL)."""
    t = math.log(n * n / FAIL)
    return 2 * math.sqrt(t / d) + 2 * t / d


def test_near_orthogonal_norms_and_inner_products():
    n, d = 50, 2000
    X, y = D.near_orthogonal(n, d, seed=3)
    st = D.stats(X)
    assert st.psi <= _chi2_band(n, d)
    assert st.phi <= _phi_bound(n, d)
    # and not trivially small: the max of 1225 |N(0, 1/d)| exceeds 1/sqrt(d) with overwhelming probability
    assert st.phi >= 1.0 / math.sqrt(d)
    sq = np.einsum("ij,ij->i", X, X)
    assert st.min_sqnorm == pytest.approx(sq.min()) and st.max_sqnorm == pytest.approx(sq.max())
    K = X @ X.T
    assert st.phi == pytest.approx(np.abs(K - np.diag(np.diag(K))).max())
    assert set(np.unique(y)) == {-1.0, 1.0}


def test_label_balance():
    _, y = D.near_orthogonal(4000, 5, seed=0)
    assert abs(y.mean()) <= 5 / math.sqrt(4000)
    _, yb = D.near_orthogonal(21, 5, seed=0, labels="balanced")
    assert (yb == 1).sum() == 11 and (yb == -1).sum() == 10


def test_mixture_mean_noise_and_labels():
    n, d = 4000, 200
    gm = D.gaussian_mixture(n, d, label_noise=0.1, seed=5)
    X, y = gm  # unpacks
    assert X.shape == (n, d) and gm.mu.shape == (d,)
    assert gm.mu_norm == pytest.approx(d ** -0.25)           # documented default ||mu|| = d^(-1/4)
    # mean of y_clean x is mu up to the noise mean, whose squared norm has expectation 1/n
    est = (gm.y_clean[:, None] * X).mean(axis=0)
    assert np.linalg.norm(est - gm.mu) <= 4 / math.sqrt(n)
    # label noise: Binomial(n, 0.1)
    flips = np.mean(gm.y != gm.y_clean)
    assert abs(flips - 0.1) <= 5 * math.sqrt(0.1 * 0.9 / n)
    assert abs(gm.y_clean.mean()) <= 5 / math.sqrt(n)
    # noise part has covariance I/d: E ||x - y mu||^2 = 1
    R = X - gm.y_clean[:, None] * gm.mu
    assert np.mean(np.einsum("ij,ij->i", R, R)) == pytest.approx(1.0, abs=5 * math.sqrt(2 / (n * d)))


def test_mixture_test_sampler_bayes_accuracy():
    """The Bayes rule sign(<mu, x>) is right with probability Phi(||mu|| sqrt(d)) on clean labels."""
    d = 100
    mu_norm = 0.84 / math.sqrt(d)
    gm = D.gaussian_mixture(10, d, mu_norm=mu_norm, seed=1)
    Xt, yt = gm.test(20000, clean=True)
    acc = np.mean(np.sign(Xt @ gm.mu) == yt)
    expected = norm.cdf(mu_norm * math.sqrt(d))
    assert abs(acc - expected) <= 5 * math.sqrt(expected * (1 - expected) / 20000)


def test_mixture_determinism():
    a = D.gaussian_mixture(30, 50, seed=7)
    b = D.gaussian_mixture(30, 50, seed=7)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.mu, b.mu)
    t1, t2 = a.test(5), a.test(5)
    assert not np.array_equal(t1[0], t2[0])                  # fresh points on every call ...
    np.testing.assert_array_equal(t1[0], b.test(5)[0])       # ... but the stream is fixed by the seed
    np.testing.assert_array_equal(a.test(4, seed=3)[0], b.test(4, seed=3)[0])
    c = D.gaussian_mixture(30, 50, seed=8)
    assert not np.array_equal(a.mu, c.mu)
    assert "GaussianMixture" in repr(a)


@pytest.mark.parametrize("bad", [dict(label_noise=0.5), dict(label_noise=-0.1), dict(mu_norm=-1.0),
                                 dict(mu_norm=float("nan"))])
def test_mixture_bad_input(bad):
    with pytest.raises(ValueError):
        D.gaussian_mixture(10, 5, **bad)


def test_correlated_inner_products_grow_with_rho():
    n, d = 60, 4000
    off = ~np.eye(n, dtype=bool)
    means, phis = [], []
    for rho in (0.0, 0.1, 0.3, 0.6):
        X, y = D.correlated(n, d, rho, seed=2)
        K = X @ X.T
        # E ||x||^2 = 1 and E <x_i, x_j> = rho; fluctuations O(1/sqrt(d)) each, averaged over many pairs
        assert np.mean(np.diag(K)) == pytest.approx(1.0, abs=5 * math.sqrt(2 / (n * d)))
        assert np.mean(K[off]) == pytest.approx(rho, abs=6 / math.sqrt(d))
        means.append(np.mean(K[off]))
        phis.append(D.stats(X).phi)
        assert set(np.unique(y)) == {-1.0, 1.0}
    assert np.all(np.diff(means) > 0) and np.all(np.diff(phis) > 0)
    X0, _ = D.correlated(n, d, 0.0, seed=2)
    assert D.stats(X0).phi <= _phi_bound(n, d)
    np.testing.assert_array_equal(D.correlated(5, 7, 0.2, seed=1)[0], D.correlated(5, 7, 0.2, seed=1)[0])


@pytest.mark.parametrize("rho", [-0.1, 1.0, float("nan")])
def test_correlated_bad_rho(rho):
    with pytest.raises(ValueError, match="rho"):
        D.correlated(5, 5, rho)


def test_digits_binary():
    sk = pytest.importorskip("sklearn.datasets")
    X, y = D.load_digits_binary()
    t = sk.load_digits().target
    assert X.shape == (1797, 64)
    assert (y == 1).sum() == np.isin(t, [0, 2, 4, 6, 8]).sum()
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-12)
    X2, y2 = D.load_digits_binary(positive=[3], negative=[8])
    assert X2.shape[0] == np.isin(t, [3, 8]).sum() and (y2 == 1).sum() == (t == 3).sum()
    with pytest.raises(ValueError, match="disjoint"):
        D.load_digits_binary(positive=[1], negative=[1, 2])
    Xs, ys = D.load_digits_binary(n=100, seed=0)
    assert Xs.shape == (100, 64) and set(np.unique(ys)) <= {-1.0, 1.0}


def test_breast_cancer():
    sk = pytest.importorskip("sklearn.datasets")
    X, y = D.load_breast_cancer()
    raw = sk.load_breast_cancer()
    assert X.shape == (569, 30)
    assert (y == 1).sum() == (raw.target == 1).sum() == 357
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-12)
    # rows are the z-scored features rescaled: direction preserved
    Z = (raw.data - raw.data.mean(0)) / raw.data.std(0)
    np.testing.assert_allclose(X * np.linalg.norm(Z, axis=1, keepdims=True), Z, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="larger"):
        D.load_breast_cancer(n=1000)


@pytest.mark.parametrize("name,kw", [("near_orthogonal", {}), ("mixture", {"mu_norm": 0.2}),
                                     ("correlated", {"rho": 0.2}), ("breast_cancer", {})])
def test_make_data(name, kw):
    if name == "breast_cancer":
        pytest.importorskip("sklearn")
    X, y, sampler = D.make_data(name, n=12, d=40, seed=0, **kw)
    assert X.shape[0] == 12 and y.shape == (12,)
    Xt, yt = sampler(7, 1)
    assert Xt.shape == (7, X.shape[1]) and yt.shape == (7,)
    with pytest.raises(ValueError, match="unknown data set"):
        D.make_data("nope")

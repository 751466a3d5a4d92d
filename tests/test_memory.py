"""Memory of span models at huge d: no m x d float64 array unless W (or params()) is asked for.

A scaled-down workload (e) (n = 20, d = 200000, m = 50, float32; the real one is n = 100,
d = 1e6, m = 100). tracemalloc sees every numpy allocation; the C++ core allocates only n x n and
n x m matrices on the span path (K, Z0 blocks, A, Z), so a traced peak below m*d*8 bytes shows that
no m x d float64 array existed. The last test shows the check is sensitive: asking for W_ or
params() does form m x d arrays.
"""

import tracemalloc

import numpy as np
import pytest

from kktunlearn import TwoLayerReLU

N, D, M = 20, 200_000, 50
W64_BYTES = M * D * 8


@pytest.fixture(scope="module")
def wide():
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((N, D)) / np.sqrt(D)).astype(np.float32)
    y = np.where(np.arange(N) % 2 == 0, 1.0, -1.0)
    Xt = (rng.standard_normal((3, D)) / np.sqrt(D)).astype(np.float32)
    return X, y, Xt


def _peak(f):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        out = f()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return out, peak


def test_fit_and_predict_without_m_by_d_float64(wide):
    X, y, Xt = wide
    net, peak_fit = _peak(lambda: TwoLayerReLU(width=M, random_state=0, max_iter=30, dtype=np.float32).fit(X, y))
    assert net.representation_ == "span"
    assert peak_fit < W64_BYTES
    sp = net.__dict__["_span"]
    assert sp._W is None
    assert sp.nbytes() < 0.05 * W64_BYTES  # the model itself holds n^2 + 2nm + d numbers (X is the caller's)
    _, peak_pred = _peak(lambda: (net.decision_function(Xt), net.decision_function(X), net.margins(X, y),
                                  net.activation_pattern(Xt), net._preactivations(X), net._kernel(X)))
    assert peak_pred < W64_BYTES
    assert sp._W is None


def test_check_is_sensitive(wide):
    X, y, _ = wide
    net = TwoLayerReLU(width=M, random_state=0, max_iter=30, dtype=np.float32).fit(X, y)
    W, peak_w = _peak(lambda: net.W_)
    assert W.shape == (M, D) and W.dtype == np.float32
    assert peak_w >= M * D * 4
    _, peak_p = _peak(net.params)
    assert peak_p >= W64_BYTES

"""pytest-benchmark suites: kktunlearn vs plain numpy vs plain PyTorch on the workloads of bench/README.md.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=python python3 -m pytest bench/test_bench_train.py \
        --benchmark-only --benchmark-group-by=param:workload

By default the workloads are scaled down (steps / 10, peers run 3 steps) so that the suite takes
about a minute; KKT_BENCH_FULL=1 runs the full step counts for kktunlearn. bench/run_table.py
prints the one table of bench/README.md. Nothing here asserts a time.
"""

import os
import warnings

import numpy as np
import pytest

import peers
from kktunlearn import ConvergenceWarning, TwoLayerReLU, _core

FULL = os.environ.get("KKT_BENCH_FULL", "") == "1"
WORKLOADS = {
    "a": (50, 1000, 100, 2000),
    "b": (100, 100_000, 100, 2000),
    "c": (200, 5000, 1000, 500),
    "d": (5000, 200, 200, 200),
}
PEER_STEPS = 3


def _data(n, d):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    return X, y


def _steps(T):
    return T if FULL else max(T // 10, 1)


@pytest.fixture(scope="module", params=sorted(WORKLOADS))
def workload(request):
    n, d, m, T = WORKLOADS[request.param]
    X, y = _data(n, d)
    W0 = 1e-3 * np.random.default_rng(0).standard_normal((m, d))
    u = TwoLayerReLU(width=m)._default_u(m)
    return request.param, X, y, W0, u, m, T


def test_kktunlearn_fit(benchmark, workload):
    key, X, y, W0, u, m, T = workload
    benchmark.extra_info.update(workload=key, steps=_steps(T))

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            net = TwoLayerReLU(width=m, max_iter=_steps(T), random_state=0, n_threads=2).fit(X, y)
        return net.W_

    benchmark.pedantic(run, rounds=3, iterations=1)


def test_numpy_steps(benchmark, workload):
    key, X, y, W0, u, m, T = workload
    benchmark.extra_info.update(workload=key, steps=PEER_STEPS)
    benchmark.pedantic(lambda: peers.numpy_train(X, y, W0, u, PEER_STEPS), rounds=3, iterations=1)


def test_torch_steps(benchmark, workload):
    pytest.importorskip("torch")
    key, X, y, W0, u, m, T = workload
    benchmark.extra_info.update(workload=key, steps=PEER_STEPS)
    benchmark.pedantic(lambda: peers.torch_train(X, y, W0, u, PEER_STEPS, n_threads=2), rounds=3, iterations=1)


@pytest.mark.parametrize("impl", ["kktunlearn", "numpy"])
def test_kernel_matrix_float32(benchmark, impl):
    X = np.random.default_rng(0).standard_normal((100, 200_000), dtype=np.float32)
    f = (lambda: _core.kernel_matrix(X, 2)) if impl == "kktunlearn" else (lambda: X @ X.T)
    benchmark.pedantic(f, rounds=3, iterations=1)

"""Benchmark: Gram + NNLS + residual (the KKT multipliers of a two-layer ReLU network), C++ core
against the same computation written with numpy/scipy.

    python bench/bench_kkt.py                 # table at n = 200, d = 100000, m = 100 (about 250 MB of data)
    python bench/bench_kkt.py --d 20000       # smaller
    pytest bench/bench_kkt.py                 # pytest-benchmark (size from KKT_BENCH_N / _D / _M)

Both paths do the same work on the same model:
  Z = X W^T, q = y o N(X), s = q_min, K = X X^T, G = (y y^T) o K o (S S^T) with S = u o 1[Z > 0],
  b = y o (S Z/s) 1, lambda = argmin_{lambda >= 0} 1/2 lambda^T G lambda - b^T lambda,
  epsilon^2 = ||W/s||^2 - 2 lambda.b + lambda^T G lambda.
numpy: BLAS products, then scipy.optimize.nnls on the Cholesky factor R of G (G = R^T R):
  min ||R lambda - R^{-T} b||. kktunlearn: kkt_multipliers(model, X, y) (C++ core, own NNLS on G).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import scipy.linalg as sla
import scipy.optimize as sopt

try:
    import kktunlearn as kk
except ImportError:  # running from a source checkout
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
    import kktunlearn as kk


def make_problem(n: int, d: int, m: int, seed: int = 0):
    """Near-orthogonal data and a network that fits it (w_j = sign(u_j) sum_i y_i x_i + noise)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    u = np.where(np.arange(m) < (m + 1) // 2, 1.0, -1.0) / np.sqrt(m)
    W = rng.standard_normal((m, d)) + np.sign(u)[:, None] * (y @ X)[None, :]
    net = kk.TwoLayerReLU(width=m).set_parameters(W, u)
    return X, y, net


_NNLS_TIME = []


def numpy_path(X, y, W, u):
    Z = X @ W.T
    q = y * (np.maximum(Z, 0.0) @ u)
    s = q.min()
    Zn = Z / s
    K = X @ X.T
    S = (Zn > 0) * u[None, :]
    G = (y[:, None] * y[None, :]) * K * (S @ S.T)
    b = y * (S * Zn).sum(axis=1)
    t0 = time.perf_counter()
    R = sla.cholesky(G)
    lam, _ = sopt.nnls(R, sla.solve_triangular(R, b, trans="T"), maxiter=50 * len(y))
    _NNLS_TIME.append(time.perf_counter() - t0)
    eps2 = np.sum(W * W) / s**2 - 2 * lam @ b + lam @ G @ lam
    return lam, float(np.sqrt(max(eps2, 0.0)))


def core_path(X, y, net, n_threads=None):
    m = kk.kkt_multipliers(net, X, y, n_threads=n_threads)
    return np.asarray(m.lambdas), m.epsilon


def _interleaved(fa, fb, repeat):
    """Best-of-`repeat` times of fa and fb, alternating the two so that load changes on a shared
    machine affect both alike."""
    ta, tb, oa, ob = [], [], None, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        oa = fa()
        ta.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ob = fb()
        tb.append(time.perf_counter() - t0)
    return min(ta), oa, min(tb), ob


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--d", type=int, default=100_000)
    ap.add_argument("--m", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for both paths (BLAS via threadpoolctl, OpenMP via n_threads); default: library defaults")
    a = ap.parse_args(argv)
    if a.threads is not None:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=a.threads, user_api="blas"):
            return _run(a)
    return _run(a)


def _run(a):
    X, y, net = make_problem(a.n, a.d, a.m)
    W, u = net.W_, net.u_
    # warm-up (page in, thread pools)
    core_path(X, y, net, a.threads)
    numpy_path(X, y, W, u)
    t_np, (lam_np, eps_np), t_cc, (lam_cc, eps_cc) = _interleaved(
        lambda: numpy_path(X, y, W, u), lambda: core_path(X, y, net, a.threads), a.repeat)
    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(f"{i.get('internal_api')} {i.get('num_threads')} threads" for i in threadpool_info()
                         if i.get("user_api") == "blas")
    except ImportError:  # pragma: no cover
        blas = "?"
    print(f"KKT multipliers (Gram + NNLS + residual), n={a.n} d={a.d} m={a.m}, best of {a.repeat} (interleaved); "
          f"core threads={kk._core.max_threads(a.threads or 0)}, BLAS: {blas}")
    print(f"{'path':<28}{'time [s]':>10}{'epsilon':>16}")
    print(f"{'numpy + scipy.nnls':<28}{t_np:>10.3f}{eps_np:>16.10g}")
    print(f"{'kktunlearn (C++ core)':<28}{t_cc:>10.3f}{eps_cc:>16.10g}")
    print(f"(numpy path: best Cholesky + scipy.nnls part {min(_NNLS_TIME):.3f} s; "
          f"{int((np.asarray(lam_cc) > 0).sum())} of {a.n} multipliers positive)")
    print(f"speed-up numpy/core: {t_np / t_cc:.2f}x;  max |lambda diff| / max lambda = "
          f"{np.abs(lam_np - lam_cc).max() / lam_np.max():.2e};  |eps diff| / eps = {abs(eps_np - eps_cc) / eps_np:.2e}")


# ------------------------------------------------------------------------------ pytest-benchmark
def _size():
    return (int(os.environ.get("KKT_BENCH_N", 200)), int(os.environ.get("KKT_BENCH_D", 20_000)),
            int(os.environ.get("KKT_BENCH_M", 100)))


_CACHE = {}


def _problem():
    key = _size()
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = make_problem(*key)
    return _CACHE[key]


def test_bench_kkt_core(benchmark):
    X, y, net = _problem()
    lam, eps = benchmark(core_path, X, y, net)
    lam_np, eps_np = numpy_path(X, y, net.W_, net.u_)
    assert abs(eps - eps_np) <= 1e-6 * eps_np


def test_bench_kkt_numpy(benchmark):
    X, y, net = _problem()
    benchmark(numpy_path, X, y, net.W_, net.u_)


if __name__ == "__main__":
    main()

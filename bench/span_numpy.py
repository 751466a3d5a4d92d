"""kktunlearn's span training against the same algorithm written in plain numpy (issue 10).

Our trainer keeps W = W0 + A^T X and runs every step on n x n and n x m arrays:

    fixed costs   W0 (m x d) drawn, Z0 = X W0^T, K = X X^T
    each step     Z = Z0 + K A,  q = y (relu(Z) u),  l = exp(-q),  L = mean(l)
                  A += Gamma,  Gamma_ij = (lr / L) l_i y_i u_j 1[Z_ij > 0] / n     (normalized GD)

`numpy_span_train` is that algorithm in numpy: W0 by numpy's PCG64 (standard_normal), Z0 and K by
numpy's BLAS (OpenBLAS here), the n x n loop in numpy. `numpy_gd` (bench/peers.py) is plain GD on
the m x d matrix W. kktunlearn: TwoLayerReLU(width=m, representation="span").fit(X, y), every
fixed cost included (validation, K, the fused W0-generate-and-multiply Z0 kernel, the fingerprint
of X, the result object). Timings: median of `--repeat` runs, per thread count (BLAS threads set
by threadpoolctl for numpy, n_threads for kktunlearn), side by side in one process.

    python bench/span_numpy.py                       # the three shapes, 1 and 2 threads
    python bench/span_numpy.py --shapes 100,100000,100 --threads 1 --repeat 5 --breakdown
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from peers import numpy_train  # noqa: E402


def numpy_span_train(X, y, m, steps, lr=0.5, scale=1e-3, seed=0, timings=None):
    """The span algorithm in numpy (fixed u = +-1/sqrt(m), exponential loss, normalized GD)."""
    t0 = time.perf_counter()
    n, d = X.shape
    W0 = scale * np.random.default_rng(seed).standard_normal((m, d))
    t1 = time.perf_counter()
    Z0 = X @ W0.T
    t2 = time.perf_counter()
    K = X @ X.T
    t3 = time.perf_counter()
    u = np.full(m, -1.0 / np.sqrt(m))
    u[: (m + 1) // 2] = 1.0 / np.sqrt(m)
    A = np.zeros((n, m))
    for _ in range(steps):
        Z = Z0 + K @ A
        q = y * (np.maximum(Z, 0.0) @ u)
        ell = np.exp(-q)
        L = ell.mean()
        c = (lr / L) * ell * y / n
        A += (c[:, None] * u[None, :]) * (Z > 0)
    t4 = time.perf_counter()
    if timings is not None:
        timings.update(W0=t1 - t0, Z0=t2 - t1, K=t3 - t2, loop=t4 - t3)
    return A, Z0, K


def _median(f, repeat):
    ts = []
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)), out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default="50,1000,100;100,100000,100;200,5000,1000",
                    help="n,d,m triples separated by ';'")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--gd", default="100,100000,100", help="shapes (';'-separated) also timed with plain numpy GD")
    ap.add_argument("--breakdown", action="store_true", help="fixed-cost breakdown of both implementations")
    a = ap.parse_args(argv)

    from threadpoolctl import threadpool_limits

    import kktunlearn as kk
    from kktunlearn import _core, _random
    from kktunlearn.datasets import near_orthogonal

    shapes = [tuple(int(float(v)) for v in s.split(",")) for s in a.shapes.split(";") if s]
    gd_shapes = {tuple(int(float(v)) for v in s.split(",")) for s in a.gd.split(";") if s}
    threads = [int(t) for t in a.threads.split(",")]
    print(f"kktunlearn {kk.__version__} ({kk.cpu_variant}), {a.steps} steps, median of {a.repeat}; "
          f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
    print("| n | d | m | threads | numpy span (s) | kktunlearn (s) | ratio | numpy GD (s) | GD / kktunlearn |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, d, m in shapes:
        X, y = near_orthogonal(n, d, seed=0)
        for nt in threads:
            with threadpool_limits(limits=nt):
                t_np, _ = _median(lambda: numpy_span_train(X, y, m, a.steps), a.repeat)
                net = kk.TwoLayerReLU(width=m, max_iter=a.steps, representation="span", random_state=0,
                                      n_threads=nt)
                t_kk, _ = _median(lambda: net.fit(X, y), a.repeat)
                gd = ""
                if (n, d, m) in gd_shapes:
                    W0 = 1e-3 * np.random.default_rng(0).standard_normal((m, d))
                    u = np.full(m, -1.0 / np.sqrt(m))
                    u[: (m + 1) // 2] = 1.0 / np.sqrt(m)
                    t_gd, _ = _median(lambda: numpy_train(X, y, W0, u, a.steps), 1)
                    gd = f"{t_gd:.3f} | {t_gd / t_kk:.0f}x"
                else:
                    gd = "- | -"
            print(f"| {n} | {d} | {m} | {nt} | {t_np:.4f} | {t_kk:.4f} | {t_np / t_kk:.2f}x | {gd} |")
            if a.breakdown:
                tm = {}
                with threadpool_limits(limits=nt):
                    numpy_span_train(X, y, m, a.steps, timings=tm)
                t = time.perf_counter()
                _core.kernel_matrix(X, nt)
                tK = time.perf_counter() - t
                t = time.perf_counter()
                _core.normal_preacts(X, 0, 0, m, 1e-3, nt)
                tZ = time.perf_counter() - t
                t = time.perf_counter()
                _random.normal_block(0, 0, 0, m, 0, d, n_threads=nt)
                tG = time.perf_counter() - t
                W0 = _random.normal_block(0, 0, 0, m, 0, d, n_threads=nt)
                t = time.perf_counter()
                _core.preactivations(X, W0, nt)
                tP = time.perf_counter() - t
                flops = 2.0 * n * d * m
                print(f"|   | numpy: W0 {tm['W0']:.4f}, Z0 {tm['Z0']:.4f} ({flops / tm['Z0'] / 1e9:.0f} GFLOP/s), "
                      f"K {tm['K']:.4f}, loop {tm['loop']:.4f} | kktunlearn: K {tK:.4f}, fused Z0 {tZ:.4f} "
                      f"({flops / tZ / 1e9:.0f} GFLOP/s incl. generation), W0 alone {tG:.4f}, "
                      f"Eigen X W0^T alone {tP:.4f} ({flops / tP / 1e9:.0f} GFLOP/s) | | | | | |")


if __name__ == "__main__":
    main()

"""Timings of the dense-kernel paths under the CPU build in use (issue 13: compare builds side by side).

    KKTUNLEARN_DISPATCH=avx512 OMP_NUM_THREADS=2 PYTHONPATH=<package copy> python bench/dense_kernels.py

Prints one line per (threads, dtype): the generator (`normal_block`, 100 x 3e5), the fused W0 product
(`normal_preacts`, n = 100, d = 3e5, m = 100), K = X X^T (`kernel_matrix`), medians of 3; then
`kkt_multipliers` of a width-200 network after 200 steps at n = 2000, d = 200 (median of 5).
"""

from __future__ import annotations

import time

import numpy as np


def _median(f, r=3):
    ts = []
    for _ in range(r):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return round(float(np.median(ts)), 3)


def main():
    import kktunlearn as kk
    from kktunlearn import _core

    print(f"kktunlearn {kk.__version__}, CPU build {kk.cpu_variant}")
    for nt in (1, 2):
        for dt in ("float32", "float64"):
            X = np.ascontiguousarray(_core.normal_block(1, 0, 0, 100, 0, 300000, 1.0, dt, None, None, 2))
            print(f"threads {nt} {dt}: normal_block "
                  f"{_median(lambda: _core.normal_block(1, 0, 0, 100, 0, 300000, 1.0, dt, None, None, nt))} s, "
                  f"normal_preacts {_median(lambda: _core.normal_preacts(X, 3, 1, 100, 0.01, nt))} s, "
                  f"kernel_matrix {_median(lambda: _core.kernel_matrix(X, nt))} s")
    Xs, ys = kk.datasets.gaussian_mixture(2000, 200, seed=0)
    net = kk.TwoLayerReLU(width=200, max_iter=200, random_state=0, n_threads=1).fit(Xs, ys)
    print(f"kkt_multipliers (2000, 200, 200), 1 thread: {_median(lambda: kk.kkt_multipliers(net, Xs, ys), 5)} s")


if __name__ == "__main__":
    main()

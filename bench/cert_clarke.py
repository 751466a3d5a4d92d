"""The Clarke QP (issue 16): kkt_multipliers with pinned pairs, the default path of verify_unlearning.

    PYTHONPATH=python python3 bench/cert_clarke.py 1000 10000 200 100 [subgradient_tol] [repeats] [scale]

Trains a TwoLayerReLU (fixed u) for the given steps on bench/run_table.py's random-label data, then times
kk.kkt_multipliers(net, X, y, subgradient_tol=...) (the Clarke problem: lambda_i >= 0 and mu_ij in
[slope lambda_i, lambda_i] for every pinned pair) at 1 and 2 threads, medians of the repeats. Prints
epsilon, the number of pinned pairs and of Clarke iterations, so that two builds can be compared side by
side on identical numbers.
"""

from __future__ import annotations

import os
import sys
import time
import warnings

import numpy as np

import kktunlearn as kk


def main():
    n, d, m, steps = int(sys.argv[1]), int(float(sys.argv[2])), int(sys.argv[3]), int(sys.argv[4])
    st = float(sys.argv[5]) if len(sys.argv) > 5 else 1e-3
    reps = int(sys.argv[6]) if len(sys.argv) > 6 else 3
    scale = float(sys.argv[7]) if len(sys.argv) > 7 else None
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    rng.shuffle(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = kk.TwoLayerReLU(width=m, max_iter=steps, random_state=0, n_threads=2).fit(X, y)
    print("load", os.getloadavg(), "core", kk.cpu_variant)
    for nt in (1, 2):
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            r = kk.kkt_multipliers(net, X, y, subgradient_tol=st, n_threads=nt, scale=scale)
            ts.append(time.perf_counter() - t)
        print(f"{nt} thr: median {np.median(ts):.3f} s  (runs {', '.join(f'{x:.3f}' for x in ts)})  "
              f"eps {r.epsilon:.9g}  pinned {len(r.pinned)}  clarke_iter {r.clarke_iter}  "
              f"support {int(np.count_nonzero(r.lambdas))}  converged {r.converged}")


if __name__ == "__main__":
    main()

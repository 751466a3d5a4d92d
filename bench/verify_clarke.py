"""verify_unlearning end to end (issue 16): its default literal and relaxed readings solve the Clarke QP.

    PYTHONPATH=python python3 bench/verify_clarke.py 1000 10000 200 100 [n_threads] [repeats]

Trains a TwoLayerReLU (fixed u) for the given steps on bench/run_table.py's random-label data, unlearns
the first 1% of the points with "ga", and times kk.verify_unlearning(unlearned, X, y, forget, original=net)
(every default: literal kink tolerance 1e-3, relaxed radius 1e-2), medians of the repeats. Prints the
numbers the report states, so two builds can be compared side by side.
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
    nt = int(sys.argv[5]) if len(sys.argv) > 5 else 2
    reps = int(sys.argv[6]) if len(sys.argv) > 6 else 3
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    rng.shuffle(y)
    forget = np.arange(max(1, n // 100))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = kk.TwoLayerReLU(width=m, max_iter=steps, random_state=0, n_threads=nt).fit(X, y)
        un = kk.unlearn(net, X, y, forget, method="ga")
        print("load", os.getloadavg(), "core", kk.cpu_variant, "threads", nt)
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            rep = kk.verify_unlearning(un, X, y, forget, original=net, n_threads=nt)
            ts.append(time.perf_counter() - t)
    print(f"median {np.median(ts):.3f} s (runs {', '.join(f'{x:.3f}' for x in ts)})")
    print(f"literal eps {rep.epsilon_literal:.9g} pinned {rep.n_pinned_literal}; relaxed eps "
          f"{rep.epsilon_relaxed:.9g} free {rep.n_free_relaxed} of {rep.n_pairs}")


if __name__ == "__main__":
    main()

"""Solver-only comparison (issue 16): the NNLS on a given Gram matrix, kktunlearn's solvers vs FISTA in numpy.

    PYTHONPATH=python python3 bench/cert_solver.py 2000 10000 200 100     # n d m training-steps
    (numpy with its own kernels: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ...)

Trains a TwoLayerReLU (fixed u) for the given steps on bench/run_table.py's random-label data, forms
G_ik = y_i y_k K_ik sum_j u_j^2 s_ij s_kj and b_i = y_i <grad N(x_i), theta> in numpy (scale 1), then times
_core.nnls_gram with solver="auto" (1 and 2 threads) and "active_set", and peers.multipliers_pg's FISTA
iteration on the same (G, b) to the same optimality test (1e-10 relative).
"""

from __future__ import annotations

import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kktunlearn as kk  # noqa: E402
from kktunlearn import _core  # noqa: E402
from peers import fista_gram  # noqa: E402


def main():
    n, d, m, steps = int(sys.argv[1]), int(float(sys.argv[2])), int(sys.argv[3]), int(sys.argv[4])
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    rng.shuffle(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = kk.TwoLayerReLU(width=m, max_iter=steps, random_state=0, n_threads=2).fit(X, y)
    W, u = np.array(net.W_), np.array(net.u_, dtype=np.float64)
    Z = X @ W.T
    S = (Z > 0) * u[None, :]
    G = np.ascontiguousarray(np.outer(y, y) * (X @ X.T) * (S @ S.T))
    b = y * (S * Z).sum(1)
    print("load", os.getloadavg(), "core", kk.cpu_variant)
    ref = None
    for solver, nt in (("auto", 1), ("auto", 2), ("active_set", 1)):
        t = time.perf_counter()
        o = _core.NNLSOptions()
        o.tol, o.n_threads, o.solver = 1e-10, nt, solver
        r = _core.nnls_gram(G, b, o)
        t = time.perf_counter() - t
        ref = r.x if ref is None else ref
        print(f"{solver} {nt} thr: {t:.3f} s", {k: getattr(r, k) for k in ("n_iter", "n_pdas", "n_factor", "n_dropped", "converged", "kkt_violation")},
              "support", int((r.x > 0).sum()), "max rel diff vs auto", np.abs(r.x - ref).max() / ref.max())
    t = time.perf_counter()
    lam, it = fista_gram(G, b)
    t = time.perf_counter() - t
    print(f"numpy FISTA: {t:.3f} s, {it} iterations, max rel diff vs auto", np.abs(lam - ref).max() / ref.max())


if __name__ == "__main__":
    main()

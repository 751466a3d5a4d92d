"""Certificates at full speed (issue 16): multipliers + certificate, kktunlearn vs the numpy peers.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_WAIT_POLICY=PASSIVE PYTHONPATH=python \
        python3 bench/cert_table.py --repeats 3

For each shape (n, d, m): a TwoLayerReLU (fixed u) trained for --steps full-batch steps on random
labels (bench/run_table.py's data), then, side by side in one process:
  * kktunlearn: kkt_multipliers(net, X, y, scale=s) + kkt_report(net, X, y, multipliers=mult, scale=s),
    with solver="auto" (the default) and solver="active_set" (Lawson-Hanson, the old default);
  * `chol` peer: numpy Gram, Cholesky, scipy.optimize.nnls, epsilon formed explicitly;
  * `pg` peer: numpy Gram, FISTA (restarted) to the same optimality test as kktunlearn (1e-10 relative).
s = q_min^(1/L) when the trained model fits the data, else s = 1 for every implementation (the linear
algebra is the same). Agreement: max relative lambda difference and relative epsilon difference vs pg.
Then the kernel table (GFLOP/s; one warm-up call, then the median of >= --repeats calls and >= 0.25 s):
K = X X^T, Z = X W^T, Gamma^T X, kktunlearn vs
numpy's OpenBLAS, at 1 and 2 threads.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

import kktunlearn as kk  # noqa: E402
from kktunlearn import _core  # noqa: E402

SHAPES = {
    "a": (5000, 200, 200),
    "b": (5000, 10_000, 200),
    "c": (2000, 10_000, 200),
    "d": (200, 5000, 1000),
}


def make_data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    rng.shuffle(y)
    return X, y


def timeit(f, repeats):
    ts, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)), out


def timeit_kernel(f, repeats, min_total=0.25):
    """Median time of f after one untimed warm-up call (thread pools woken, buffers allocated), over at least
    `repeats` calls and at least `min_total` seconds: a few-millisecond kernel timed 3 times right after a
    pause reads its threads' wake-up, not its speed."""
    t = time.perf_counter()
    f()
    first = time.perf_counter() - t
    reps = max(repeats, int(min_total / max(first, 1e-6)))
    return timeit(f, reps)[0]


def cert_rows(keys, steps, repeats, nt, skip_as=10**9, skip_chol=10**9):
    from threadpoolctl import threadpool_limits

    rows = []
    for key in keys:
        n, d, m = SHAPES[key]
        X, y = make_data(n, d)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = kk.TwoLayerReLU(width=m, max_iter=steps, random_state=0, n_threads=nt).fit(X, y)
        W, u = np.array(net.W_), np.array(net.u_, dtype=np.float64)
        q = y * (np.maximum(X @ W.T, 0.0) @ u)
        s = float(q.min()) if q.min() > 0 else 1.0

        def ours(solver):
            def f():
                mult = kk.kkt_multipliers(net, X, y, scale=s, solver=solver, n_threads=nt)
                rep = kk.kkt_report(net, X, y, multipliers=mult, scale=s, n_threads=nt)
                return mult, rep
            return f

        t_auto, (mult, _) = timeit(ours("auto"), repeats)
        if n > skip_as:
            t_as, mult_as = float("nan"), None  # the old Lawson-Hanson default: minutes at n = 5000
        else:
            t_as, (mult_as, _) = timeit(ours("active_set"), 1 if n > 1000 else repeats)
        with threadpool_limits(nt):
            t_pg, (lam_pg, eps_pg, it_pg) = timeit(lambda: peers.multipliers_pg(X, y, W, u, s), repeats)
            if n > skip_chol:   # scipy.optimize.nnls on the Cholesky factor: minutes at n = 5000
                t_ch, lam_ch, eps_ch = float("nan"), np.full(n, np.nan), float("nan")
            else:
                t_ch, (lam_ch, eps_ch) = timeit(lambda: peers.multipliers_chol(X, y, W, u, s),
                                                1 if n > 1000 else repeats)
        lam = np.asarray(mult.lambdas)
        scale_l = np.abs(lam_pg).max()
        row = dict(key=key, n=n, d=d, m=m, s=s, fits=bool(q.min() > 0), t_auto=t_auto, t_as=t_as, t_pg=t_pg,
                   t_ch=t_ch, it_pg=it_pg, supp=int((lam > 0).sum()), n_dropped=mult.n_dropped,
                   conv=mult.converged, viol=mult.kkt_violation,
                   dl_pg=float(np.abs(lam - lam_pg).max() / scale_l),
                   dl_ch=float(np.abs(lam - lam_ch).max() / scale_l),
                   dl_as=(float(np.abs(lam - mult_as.lambdas).max() / scale_l) if mult_as is not None
                          else float("nan")),
                   de_pg=abs(mult.epsilon - eps_pg) / eps_pg, de_ch=abs(mult.epsilon - eps_ch) / eps_ch,
                   eps=mult.epsilon)
        rows.append(row)
        print("done", row, flush=True)
    return rows


def kernel_rows(repeats, small):
    """GFLOP/s of the dense kernels, kktunlearn vs numpy (OpenBLAS), 1 and 2 threads."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(1)
    out = []
    dK = 20_000 if small else 100_000
    XK = rng.standard_normal((2000, dK))
    cases = [
        (f"K = X X^T (n=2000, d={dK})", 2000 * 2000 * dK,   # syrk flop count: n^2 d
         lambda nt: _core.kernel_matrix(XK, nt), lambda: XK @ XK.T),
    ]
    X5, W5 = rng.standard_normal((5000, 200)), rng.standard_normal((200, 200))
    G5 = rng.standard_normal((5000, 200))
    o5 = np.zeros((200, 200))
    cases.append(("Z = X W^T (5000 x 200 x 200)", 2 * 5000 * 200 * 200,
                  lambda nt: _core.preactivations(X5, W5, nt), lambda: X5 @ W5.T))
    cases.append(("W += Gamma^T X (200 x 5000 x 200)", 2 * 5000 * 200 * 200,
                  lambda nt: _core.add_gamma_t_x(G5, X5, o5, nt), lambda: G5.T @ X5))
    Xs, Ws = rng.standard_normal((2000, 20_000)), rng.standard_normal((200, 20_000))
    cases.append(("Z0 = X W0^T (2000 x 20000 x 200)", 2 * 2000 * 200 * 20_000,
                  lambda nt: _core.preactivations(Xs, Ws, nt), lambda: Xs @ Ws.T))
    for name, flops, ours, theirs in cases:
        r = {"kernel": name}
        for nt in (1, 2):
            # OpenBLAS's worker threads spin for about 0.1 s after each call (its thread timeout): timed right
            # after a numpy product, our kernel would share the 2 cores with them
            time.sleep(0.5)
            t = timeit_kernel(lambda: ours(nt), repeats)
            with threadpool_limits(nt):
                tn = timeit_kernel(theirs, repeats)
            r[f"ours{nt}"] = flops / t / 1e9
            r[f"blas{nt}"] = flops / tn / 1e9
        out.append(r)
        print("done", r, flush=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="abcd")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--kernels", action="store_true")
    ap.add_argument("--skip-active-set-above", type=int, default=2000,
                    help="time solver='active_set' (the old default) only up to this n")
    ap.add_argument("--skip-chol-above", type=int, default=10**9,
                    help="time the numpy chol peer only up to this n")
    ap.add_argument("--small-kernels", action="store_true")
    args = ap.parse_args()
    from threadpoolctl import threadpool_info

    print("kktunlearn", kk.__version__, "core", kk.cpu_variant, "load", os.getloadavg())
    for p in threadpool_info():
        print("threadpool:", p.get("internal_api"), p.get("num_threads"), "threads,", p.get("architecture"))
    rows = cert_rows([k for k in "abcd" if k in args.only], args.steps, args.repeats, args.threads,
                     args.skip_active_set_above, args.skip_chol_above)
    print("\n| n, d, m | support | kktunlearn auto | kktunlearn active_set | numpy chol | numpy pg (iters) | "
          "auto vs pg | lambda vs pg / chol / active_set | epsilon vs pg / chol |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n']}, {r['d']}, {r['m']} | {r['supp']} ({r['n_dropped']} dropped) | {r['t_auto']:.3f} | "
              f"{r['t_as']:.3f} | {r['t_ch']:.3f} | {r['t_pg']:.3f} ({r['it_pg']}) | {r['t_pg'] / r['t_auto']:.1f}x | "
              f"{r['dl_pg']:.1e} / {r['dl_ch']:.1e} / {r['dl_as']:.1e} | {r['de_pg']:.1e} / {r['de_ch']:.1e} |")
    if args.kernels or args.small_kernels:
        ks = kernel_rows(args.repeats, args.small_kernels)
        print("\n| kernel | kktunlearn 1 thr | OpenBLAS 1 thr | ratio | kktunlearn 2 thr | OpenBLAS 2 thr | ratio |")
        print("|---|---|---|---|---|---|---|")
        for r in ks:
            print(f"| {r['kernel']} | {r['ours1']:.1f} | {r['blas1']:.1f} | {r['ours1'] / r['blas1']:.0%} | "
                  f"{r['ours2']:.1f} | {r['blas2']:.1f} | {r['ours2'] / r['blas2']:.0%} |")


if __name__ == "__main__":
    main()

"""Benchmarks of the one-state pipeline (issue 10): span models certify, unlearn, verify and predict
from W = c W0 + A^T X without forming W.

    python bench/bench_state.py row  [--d 100000] [--base /path/to/0.1.0/python] [--repeat 3] [--warm]
        the default sweep row (kktunlearn.sweep.unlearning_experiment) against 0.1.0 in the same run
        (each row in its own subprocess, interleaved; --warm: the rows in one warm worker process per
        version and pass, as in a sweep), and the share of the row spent in training
    python bench/bench_state.py sweep [--ds 10000 100000 1000000] [--rows 4] [--n_test 500]
        rows per second of a 2-worker sweep (kktunlearn.sweep.sweep, n_jobs=2) at each d
    python bench/bench_state.py cert [--n 100 --d 100000 --m 100]
        kkt_multipliers + kkt_report of a span model against numpy + scipy.nnls on the formed W
    python bench/bench_state.py ga [--d 1000000]
        one GA unlearning step of a span model: time and traced allocation (tracemalloc)
    python bench/bench_state.py newton [--d 1000000] [--method cure_newton|scure_newton|...] [--M auto]
                                       [--train_outer] [--solver auto|dense|krylov]
        one low-rank Newton-family step (M = 1, or the automatic M) of a span model: time, traced allocation,
        and whether the result is still a span model

Timings are wall-clock medians (or best-of, where said) of one run on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "python")
if SRC not in sys.path:
    sys.path.insert(0, SRC)

_ROW_CHILD = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
import kktunlearn, kktunlearn.sweep as sw
d, seed = int(sys.argv[1]), int(sys.argv[2])
t0 = time.perf_counter()
row = sw.unlearning_experiment(d=d, seed=seed, n_threads=1)
total = time.perf_counter() - t0
print(json.dumps({"total": total, "fit": row["fit_time"], "retrain": row["retrain_time"],
                  "version": kktunlearn.__file__}))
"""


# --warm: one worker process per version runs a warm-up row (seed 1000) and then its rows, as a sweep worker
# does; per-process costs (imports, the OpenMP pool, the first allocations) are paid once, outside the rows
_WARM_CHILD = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
import kktunlearn, kktunlearn.sweep as sw
d, seeds = int(sys.argv[1]), [int(s) for s in sys.argv[2].split(",")]
sw.unlearning_experiment(d=d, seed=1000, n_threads=1)
for seed in seeds:
    t0 = time.perf_counter()
    row = sw.unlearning_experiment(d=d, seed=seed, n_threads=1)
    total = time.perf_counter() - t0
    print(json.dumps({"total": total, "fit": row["fit_time"], "retrain": row["retrain_time"],
                      "version": kktunlearn.__file__}))
"""


def _run_child(code: str, pythonpath: str, *args: str) -> list:
    """The JSON lines a child script prints, run with one OpenMP and one BLAS thread."""
    env = dict(os.environ, PYTHONPATH=pythonpath, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True)
    return [json.loads(line) for line in r.stdout.strip().splitlines() if line.startswith("{")]


def _child(pythonpath: str, d: int, seed: int) -> dict:
    return _run_child(_ROW_CHILD, pythonpath, str(d), str(seed))[-1]


def _warm_child(pythonpath: str, d: int, seeds) -> list:
    return _run_child(_WARM_CHILD, pythonpath, str(d), ",".join(map(str, seeds)))


def bench_row(a) -> None:
    here = os.path.abspath(SRC)
    res = {"this": [], "0.1.0": []}
    if a.warm:
        # two passes, each version's worker in turn, seeds 0..repeat-1 split between the passes
        seeds = list(range(a.repeat))
        for part in (seeds[::2], seeds[1::2]):
            for name, path in (("this", here), ("0.1.0", a.base)):
                if part:
                    res[name].extend(_warm_child(path, a.d, part))
        mode = "warm workers (one process per version and pass, after a warm-up row)"
    else:
        for rep in range(a.repeat):
            for name, path in (("this", here), ("0.1.0", a.base)):
                res[name].append(_child(path, a.d, rep))
        mode = "one process per row"
    print(f"default sweep row, d={a.d}, one thread, {a.repeat} rows each (seeds 0..{a.repeat - 1}), interleaved, {mode}")
    print(f"{'version':<10}{'row [s]':>10}{'fit+retrain [s]':>17}{'outside training':>18}")
    med = {}
    for name, rows in res.items():
        tot = statistics.median(r["total"] for r in rows)
        tr = statistics.median(r["fit"] + r["retrain"] for r in rows)
        share = statistics.median(1.0 - (r["fit"] + r["retrain"]) / r["total"] for r in rows)
        med[name] = tot
        print(f"{name:<10}{tot:>10.3f}{tr:>17.3f}{share:>17.0%}")
    print(f"speed-up of the row: {med['0.1.0'] / med['this']:.2f}x")


def bench_sweep(a) -> None:
    import kktunlearn.sweep as sw

    print(f"2-worker sweep (n_jobs=2, n_threads=1 per worker), {a.rows} rows per d (seeds), n_test={a.n_test}")
    print(f"{'d':>10}{'rows':>6}{'wall [s]':>10}{'rows/s':>9}")
    for d in a.ds:
        grid = {"d": [d], "seed": list(range(a.rows)), "n_test": [a.n_test]}
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df = sw.sweep(grid, n_jobs=2, n_threads=1, progress=False)
        wall = time.perf_counter() - t0
        ok = len(df)
        print(f"{d:>10}{ok:>6}{wall:>10.2f}{ok / wall:>9.3f}")


def bench_cert(a) -> None:
    import kktunlearn as kk
    from bench_kkt import numpy_path

    from kktunlearn.datasets import near_orthogonal

    X, y = near_orthogonal(a.n, a.d, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = kk.TwoLayerReLU(width=a.m, max_iter=a.max_iter, random_state=0, n_threads=a.threads).fit(X, y)
    assert net._is_span and net.margins(X, y).min() > 0
    W, u = np.array(net.W_), np.array(net.u_)  # formed once for the numpy path only

    def ours():
        m = kk.kkt_multipliers(net, X, y)
        r = kk.kkt_report(net, X, y, multipliers=m)
        return np.asarray(m.lambdas), r.epsilon

    def theirs():
        return numpy_path(X, y, W, u)

    ours(), theirs()
    to, tn = [], []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        lo, eo = ours()
        to.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ln, en = theirs()
        tn.append(time.perf_counter() - t0)
    # the span path's share that does not depend on d: everything but the one pass over X that checks X
    sp = net._state
    t0 = time.perf_counter()
    for _ in range(a.repeat):
        sp.check_X(a.threads or 0)
    tx = (time.perf_counter() - t0) / a.repeat
    print(f"certificate of a span model, n={a.n} d={a.d} m={a.m}, median of {a.repeat} (interleaved)")
    print(f"{'path':<40}{'time [s]':>10}{'epsilon':>16}")
    print(f"{'numpy + scipy.nnls (W given)':<40}{statistics.median(tn):>10.4f}{en:>16.10g}")
    print(f"{'kktunlearn kkt_multipliers + kkt_report':<40}{statistics.median(to):>10.4f}{eo:>16.10g}")
    print(f"  of which the X pass (in-place check)   {tx:>10.4f}")
    print(f"speed-up: {statistics.median(tn) / statistics.median(to):.1f}x; "
          f"lambda rel. diff {np.linalg.norm(lo - ln) / np.linalg.norm(ln):.2e}")


def bench_ga(a) -> None:
    import kktunlearn as kk

    rng = np.random.default_rng(0)
    dt = np.float32 if a.float32 else np.float64
    X = (rng.standard_normal((a.n, a.d)) / np.sqrt(a.d)).astype(dt)
    y = np.where(np.arange(a.n) % 2 == 0, 1.0, -1.0)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = kk.TwoLayerReLU(width=a.m, max_iter=a.max_iter, random_state=0, dtype=dt).fit(X, y)
    tfit = time.perf_counter() - t0
    mult = kk.kkt_multipliers(net, X, y, subgradient_tol=1e-3)
    times, peaks = [], []
    for rep in range(a.repeat):
        tracemalloc.start()
        tracemalloc.reset_peak()
        t0 = time.perf_counter()
        new = kk.unlearn(net, X, y, [rep], multipliers=mult)
        times.append(time.perf_counter() - t0)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert new._is_span and new._state._W is None
    bound = (a.n * a.n + a.n * a.m) * np.dtype(dt).itemsize
    print(f"GA unlearning step of a span model, n={a.n} d={a.d} m={a.m} {np.dtype(dt).name} (fit {tfit:.1f} s)")
    print(f"time: median {statistics.median(times):.4f} s of {a.repeat}; traced peak allocation "
          f"{max(peaks) / 1e6:.2f} MB (n^2 + n m numbers = {bound / 1e6:.2f} MB; m d would be "
          f"{a.m * a.d * np.dtype(dt).itemsize / 1e6:.0f} MB)")


def bench_newton(a) -> None:
    import kktunlearn as kk

    rng = np.random.default_rng(0)
    dt = np.float32 if a.float32 else np.float64
    X = (rng.standard_normal((a.n, a.d)) / np.sqrt(a.d)).astype(dt)
    y = np.where(np.arange(a.n) % 2 == 0, 1.0, -1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = kk.TwoLayerReLU(width=a.m, max_iter=a.max_iter, random_state=0, dtype=dt,
                              train_outer=a.train_outer).fit(X, y)
    opts = {"M": a.M if a.M == "auto" else float(a.M)} if a.method in ("cure_newton", "scure_newton") else {}
    if a.method != "scure_newton":
        opts["solver"] = a.solver
    times, peaks = [], []
    for rep in range(a.repeat):
        tracemalloc.start()
        tracemalloc.reset_peak()
        t0 = time.perf_counter()
        new = kk.unlearn(net, X, y, [rep], method=a.method, **opts)
        times.append(time.perf_counter() - t0)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    span = bool(getattr(new, "_is_span", False))
    print(f"{a.method} (M={a.M}, solver {new.unlearn_info_['solver']}, train_outer={a.train_outer}) step of a span "
          f"model, n={a.n} d={a.d} m={a.m} {np.dtype(dt).name}: median "
          f"{statistics.median(times):.4f} s of {a.repeat}; traced peak {max(peaks) / 1e6:.2f} MB (m d = "
          f"{a.m * a.d * np.dtype(dt).itemsize / 1e6:.0f} MB); result is a span model: {span}; "
          f"step_norm {new.unlearn_info_['step_norm']:.9g}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("row")
    p.add_argument("--d", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--base", default="/tmp/state_base/python", help="PYTHONPATH of a built 0.1.0 checkout")
    p.add_argument("--warm", action="store_true", help="rows in a warm worker process per version (as in a sweep), "
                   "instead of one fresh process per row")
    p = sub.add_parser("sweep")
    p.add_argument("--ds", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--rows", type=int, default=4)
    p.add_argument("--n_test", type=int, default=500)
    p = sub.add_parser("cert")
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--d", type=int, default=100_000)
    p.add_argument("--m", type=int, default=100)
    p.add_argument("--max_iter", type=int, default=300)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--threads", type=int, default=None)
    p = sub.add_parser("ga")
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--d", type=int, default=1_000_000)
    p.add_argument("--m", type=int, default=100)
    p.add_argument("--max_iter", type=int, default=100)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--float32", action="store_true")
    p = sub.add_parser("newton")
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--d", type=int, default=1_000_000)
    p.add_argument("--m", type=int, default=100)
    p.add_argument("--max_iter", type=int, default=100)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--float32", action="store_true")
    p.add_argument("--method", default="cure_newton")
    p.add_argument("--M", default="1.0", help='the cubic constant: a number, or "auto"')
    p.add_argument("--train_outer", action="store_true", help="train u too (the dense / Krylov solvers)")
    p.add_argument("--solver", default="auto")
    a = ap.parse_args(argv)
    {"row": bench_row, "sweep": bench_sweep, "cert": bench_cert, "ga": bench_ga, "newton": bench_newton}[a.what](a)


if __name__ == "__main__":
    main()

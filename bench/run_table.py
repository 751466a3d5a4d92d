"""One benchmark run, one table: kktunlearn vs plain numpy vs plain PyTorch (CPU), side by side.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_WAIT_POLICY=PASSIVE PYTHONPATH=python python3 bench/run_table.py

Prints the machine, the thread pools, and a markdown table (medians of --repeats runs). Peers are
run for fewer steps than the workload and extrapolated per step where noted (the per-step cost
of full-batch GD is constant). kktunlearn times are end to end: fit (including K = X X^T,
regenerating W0 from the seed, Z0 = X W0^T) plus forming W_ (so that all produce W).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

import kktunlearn  # noqa: E402
from kktunlearn import ConvergenceWarning, TwoLayerReLU, _core  # noqa: E402

WORKLOADS = {
    "a": dict(n=50, d=1000, m=100, steps=2000, peer_steps=200),
    "b": dict(n=100, d=100_000, m=100, steps=2000, peer_steps=10),
    "c": dict(n=200, d=5000, m=1000, steps=500, peer_steps=5),
    "d": dict(n=5000, d=200, m=200, steps=200, peer_steps=20),
}


def make_data(n, d, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, d)) / np.sqrt(d)).astype(dtype)
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    rng.shuffle(y)
    return X, y


def med(ts):
    return float(np.median(ts))


def timeit(f, repeats):
    ts, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - t)
    return med(ts), out


def ours_fit(X, y, m, steps, nt, dtype=np.float64):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        net = TwoLayerReLU(width=m, max_iter=steps, random_state=0, n_threads=nt, dtype=dtype).fit(X, y)
    _ = net.W_
    return net


def gemm_peak(repeats):
    rng = np.random.default_rng(1)
    A = rng.standard_normal((2000, 2000))
    B = rng.standard_normal((2000, 2000))
    t, _ = timeit(lambda: A @ B, repeats + 2)
    return 2 * 2000 ** 3 / t / 1e9


def run_e(repeats):
    """(e) in a subprocess (peak RSS of a fresh process), then K = X X^T ours vs numpy here."""
    code = r"""
import resource, time, warnings, json, numpy as np
from kktunlearn import TwoLayerReLU, ConvergenceWarning
rng = np.random.default_rng(0)
X = (rng.standard_normal((100, 1_000_000), dtype=np.float32) / 1000.0)
y = np.where(np.arange(100) % 2 == 0, 1.0, -1.0)
t = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    net = TwoLayerReLU(width=100, max_iter=500, random_state=0, dtype=np.float32).fit(X, y)
N = net.decision_function(X[:10] * 1.5)
t_fit = time.perf_counter() - t
rss_fit = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
W = net.W_
rss_w = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(dict(t_fit=t_fit, rss_fit=rss_fit, rss_w=rss_w, rep=net.representation_)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy())
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 1_000_000), dtype=np.float32) / 1000.0
    res["K_ours"], K1 = timeit(lambda: _core.kernel_matrix(X, 2), repeats)
    res["K_numpy"], K2 = timeit(lambda: X @ X.T, repeats)
    K64 = X.astype(np.float64) @ X.T.astype(np.float64)
    res["K_err_ours"] = float(np.abs(K1 - K64).max() / np.abs(K64).max())
    res["K_err_numpy"] = float(np.abs(K2 - K64).max() / np.abs(K64).max())
    return res


def dispatch_compare(keys, repeats):
    """kktunlearn fit time (2 threads) per core build, each in its own process (KKTUNLEARN_DISPATCH)."""
    code = r"""
import sys, time, warnings, json, numpy as np
sys.path.insert(0, sys.argv[1])
from run_table import WORKLOADS, make_data, ours_fit, med
import kktunlearn
w = WORKLOADS[sys.argv[2]]
X, y = make_data(w["n"], w["d"])
ts = []
for _ in range(int(sys.argv[3])):
    t = time.perf_counter(); ours_fit(X, y, w["m"], w["steps"], 2); ts.append(time.perf_counter() - t)
print(json.dumps(dict(variant=kktunlearn.cpu_variant, t=med(ts))))
"""
    out = {}
    for key in keys:
        for variant in ("baseline", "avx2", "avx512"):
            env = dict(os.environ, KKTUNLEARN_DISPATCH=variant)
            r = subprocess.run([sys.executable, "-c", code, os.path.dirname(os.path.abspath(__file__)), key,
                                str(repeats)], capture_output=True, text=True, env=env)
            if r.returncode == 0:
                res = json.loads(r.stdout.strip().splitlines()[-1])
                out[(key, res["variant"])] = res["t"]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="abcde")
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()
    R = args.repeats
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(2)
    torch = None
    if not args.no_torch:
        import torch

        torch.set_num_threads(2)
    print("## machine")
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    for line in lscpu.splitlines():
        if line.split(":")[0].strip() in ("Model name", "CPU(s)", "Thread(s) per core", "L2 cache", "L3 cache",
                                          "Flags") and not line.startswith("Flags"):
            print("   ", " ".join(line.split()))
    print("    python", platform.python_version(), "numpy", np.__version__,
          "torch", getattr(torch, "__version__", "-"), "kktunlearn", kktunlearn.__version__,
          "core variant", kktunlearn.cpu_variant, "openmp", _core.have_openmp)
    print("    OPENBLAS_CORETYPE =", os.environ.get("OPENBLAS_CORETYPE"), " OPENBLAS_L2_SIZE =",
          os.environ.get("OPENBLAS_L2_SIZE"), " OMP_WAIT_POLICY =", os.environ.get("OMP_WAIT_POLICY"))
    for p in threadpool_info():
        print("    threadpool:", p.get("internal_api"), p.get("num_threads"), "threads,", p.get("architecture"))
    if torch is not None:
        print("    torch threads:", torch.get_num_threads())
    print("    load average:", os.getloadavg())
    peak = gemm_peak(R)
    print(f"\nnumpy GEMM peak (2000^3 float64, 2 threads): {peak:.1f} GFLOP/s\n")

    rows = []
    info = {}
    for key, w in WORKLOADS.items():
        if key not in args.only:
            continue
        n, d, m, T, Tp = w["n"], w["d"], w["m"], w["steps"], w["peer_steps"]
        X, y = make_data(n, d)
        t2, net = timeit(lambda: ours_fit(X, y, m, T, 2), R)
        t1, _ = timeit(lambda: ours_fit(X, y, m, T, 1), R)
        W0 = 1e-3 * np.random.default_rng(0).standard_normal((m, d))
        u = np.asarray(net.u_, dtype=np.float64)
        # peers: the faster of 1 and 2 BLAS/torch threads (on a shared machine 2 can be slower)
        tn, tt = float("inf"), float("inf")
        for pt in (1, 2):
            with threadpool_limits(pt):
                tnp, Wn = timeit(lambda: peers.numpy_train(X, y, W0, u, Tp), R)
            tn = min(tn, tnp * T / Tp)
            if torch is not None:
                ttp, _ = timeit(lambda: peers.torch_train(X, y, W0, u, Tp, n_threads=pt), R)
                tt = min(tt, ttp * T / Tp)
        if torch is not None:
            torch.set_num_threads(2)
        # same math: compare after the peer's steps with kktunlearn run for the same number of steps
        check = ours_fit(X, y, m, Tp, 2)
        agree = float(np.linalg.norm(check.W_ - Wn) / np.linalg.norm(Wn))
        rows.append((key, f"n={n}, d={d}, m={m}, {T} steps", net.representation_, t2, t1, tn, tt, Tp, agree))
        if key == "d":
            Wd = np.array(net.W_)
            tz, _ = timeit(lambda: _core.preactivations(X, Wd, 2), R + 2)
            G = np.ascontiguousarray(np.random.default_rng(2).standard_normal((n, m)))
            out = np.zeros((m, d))
            tg, _ = timeit(lambda: _core.add_gamma_t_x(G, X, out, 2), R + 2)
            tzn, _ = timeit(lambda: X @ Wd.T, R + 2)
            info["d"] = dict(Z_gflops=2 * n * m * d / tz / 1e9, gx_gflops=2 * n * m * d / tg / 1e9,
                             Z_numpy_gflops=2 * n * m * d / tzn / 1e9,
                             step_gflops=4 * n * m * d * T / t2 / 1e9)
        if key == "b":
            from kktunlearn import kkt_multipliers, kkt_report

            def ours_kkt():
                mult = kkt_multipliers(net, X, y)
                return mult, kkt_report(net, X, y, multipliers=mult)

            tk, (mult, _) = timeit(ours_kkt, R)
            with threadpool_limits(2):
                tm, (lam, eps, _) = timeit(lambda: peers.numpy_multipliers(X, y, np.array(net.W_), u), R)
            info["b_mult_numpy"] = tm
            info["b_mult_ours"] = tk
            info["b_mult_agree"] = (float(np.linalg.norm(mult.lambdas - lam) / np.linalg.norm(lam)),
                                    mult.epsilon, eps)
        print(f"done {key}: {rows[-1]}", flush=True)

    print("\n## results (seconds, medians of %d runs; 'x' = peer time / kktunlearn time at 2 threads)\n" % R)
    print("| workload | shape | rep | kktunlearn 2 thr | kktunlearn 1 thr | 1->2 thr speedup | numpy (best of 1, 2 thr) | "
          "torch (best of 1, 2 thr) | vs numpy | vs torch | peers run for | rel. diff of W vs numpy |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key, shape, rep, t2, t1, tn, tt, Tp, agree in rows:
        print(f"| ({key}) | {shape} | {rep} | {t2:.3f} | {t1:.3f} | {t1 / t2:.2f} | {tn:.2f} | {tt:.2f} | "
              f"{tn / t2:.0f}x | {tt / t2:.0f}x | {Tp} steps, extrapolated | {agree:.1e} |")
    if "d" in info:
        dd = info["d"]
        print(f"\n(d) kernels at 2 threads: Z = X W^T {dd['Z_gflops']:.1f} GFLOP/s ({dd['Z_gflops'] / peak:.0%} of "
              f"the numpy GEMM peak {peak:.1f}), W += Gamma^T X {dd['gx_gflops']:.1f} GFLOP/s "
              f"({dd['gx_gflops'] / peak:.0%}); numpy's own X @ W.T {dd['Z_numpy_gflops']:.1f} GFLOP/s; "
              f"whole training step incl. loss/coefficients {dd['step_gflops']:.1f} GFLOP/s "
              f"({dd['step_gflops'] / peak:.0%}).")
    if "b_mult_numpy" in info:
        ag = info["b_mult_agree"]
        print(f"\n(b) multipliers + KKT report (2 threads): kktunlearn {info['b_mult_ours']:.3f} s, numpy peer "
              f"(NNLS on the Gram, residual formed) {info['b_mult_numpy']:.2f} s: "
              f"{info['b_mult_numpy'] / info['b_mult_ours']:.1f}x; lambdas agree to {ag[0]:.1e} (relative), "
              f"epsilon {ag[1]:.4e} vs {ag[2]:.4e}.")
    dc = dispatch_compare([k for k in "cd" if k in args.only], R)
    if dc:
        print("\nCPU dispatch (kktunlearn fit, 2 threads, one process per core build):",
              "; ".join(f"({k}) {v}: {t:.2f} s" for (k, v), t in dc.items()))
    if "e" in args.only:
        e = run_e(R)
        print(f"\n(e) n=100, d=1e6, m=100, float32, 500 steps, {e['rep']}: fit + one decision_function "
              f"{e['t_fit']:.2f} s, peak RSS {e['rss_fit'] / 2**30:.2f} GiB (X itself is 0.37 GiB; "
              f"{e['rss_w'] / 2**30:.2f} GiB after asking for W_); K = X X^T: kktunlearn {e['K_ours']:.3f} s vs "
              f"numpy X @ X.T {e['K_numpy']:.3f} s (ratio {e['K_ours'] / e['K_numpy']:.2f}); max error vs float64 "
              f"(relative to max|K|): kktunlearn {e['K_err_ours']:.1e}, numpy {e['K_err_numpy']:.1e}.")


if __name__ == "__main__":
    main()

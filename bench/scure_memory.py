"""Peak memory of SCureNewton against full CureNewton at p >= 1e6 parameters (Newton paper, section 4.5:
SCureNewton keeps O(p) vectors; the full step needs the Hessian's action on a subspace).

Each measurement runs in its own child process (a fresh interpreter), which builds the data and the
model, records its resident set (VmRSS) before unlearning, runs one unlearning call and reports its peak
RSS (VmHWM, /proc/self/status). "delta" = peak - before: the memory the unlearning call itself needed.

Full CureNewton at this size: trained outer layer -> the Krylov (Lanczos) solver on Hessian-vector
products with its default basis of min(100, max(10, 5e7 / p)) vectors; fixed outer layer -> the exact
low-rank solver (n_r x n_r). The dense p x p Hessian (8 p^2 bytes = 8 TB at p = 1e6) is out of reach.

    PYTHONPATH=python python bench/scure_memory.py [--d 100000] [--width 10] [--n 200]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, sys, time, warnings
import numpy as np
import kktunlearn as kk

def rss(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    return -1

n, d, m, train_outer, method = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5]
rng = np.random.default_rng(0)
X = rng.standard_normal((n, d)) / np.sqrt(d)
y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    net = kk.TwoLayerReLU(width=m, train_outer=train_outer, loss="logistic", normalized_gd=False, lr=1.0,
                          max_iter=5, weight_decay=5e-4, random_state=0, init_scale=0.1, n_threads=1,
                          representation="primal").fit(X, y)
opts = {"cure_newton": {"M": 5.0}, "scure_newton": {"M": 5.0, "batch_grad": 128, "batch_hess": 64, "n_outer": 10,
                                                      "n_inner": 5, "lr": 1.0}}[method]
before = rss("VmRSS:")
t0 = time.perf_counter()
out = net.unlearn(X, y, list(range(10)), method=method, **opts)
wall = time.perf_counter() - t0
print(json.dumps(dict(method=method, solver=out.unlearn_info_.get("solver"), p=net.n_params(), n=n, d=d,
                      width=m, train_outer=train_outer, rss_before=before, peak=rss("VmHWM:"), wall=wall,
                      step_norm=out.unlearn_info_["step_norm"])))
"""


def measure(n, d, m, train_outer, method):
    r = subprocess.run([sys.executable, "-c", CHILD, str(n), str(d), str(m), "1" if train_outer else "0", method],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--d", type=int, default=100_000)
    ap.add_argument("--width", type=int, default=10)
    args = ap.parse_args()
    print(f"{'outer':>7} {'method':>13} {'solver':>8} {'p':>9} {'RSS before MB':>14} {'peak MB':>9} "
          f"{'delta MB':>9} {'wall s':>7} {'||s||':>9}")
    for to in (True, False):
        for method in ("cure_newton", "scure_newton"):
            r = measure(args.n, args.d, args.width, to, method)
            print(f"{'trained' if to else 'fixed':>7} {method:>13} {r['solver']:>8} {r['p']:>9} "
                  f"{r['rss_before'] / 2**20:>14.1f} {r['peak'] / 2**20:>9.1f} "
                  f"{(r['peak'] - r['rss_before']) / 2**20:>9.1f} {r['wall']:>7.2f} {r['step_norm']:>9.3g}")


if __name__ == "__main__":
    main()

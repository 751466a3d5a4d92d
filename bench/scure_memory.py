"""Peak memory of SCureNewton against full CureNewton at p >= 1e6 parameters (Newton paper, section 4.5:
SCureNewton keeps O(p) vectors; the full step needs the Hessian's action on a subspace).

Each measurement runs in its own child process (a fresh interpreter), which builds the data and the
model, records its resident set (VmRSS) before unlearning, resets the kernel's peak counter
(`echo 5 > /proc/self/clear_refs`, so building the data does not count), runs one unlearning call and
reports its peak RSS (VmHWM, /proc/self/status). "delta" = peak - before: the memory the unlearning call
itself needed. Both methods copy the retained rows X_R (n_r x d) once in Python before the kernel; that
copy is listed separately (column "X_R copy"); SCureNewton's minibatches are read in place.

Full CureNewton at this size: trained outer layer -> the Krylov (Lanczos) solver on Hessian-vector
products with its default basis of min(100, max(10, 5e7 / p)) vectors; fixed outer layer -> the exact
low-rank solver (n_r x n_r). The dense p x p Hessian (8 p^2 bytes = 8 TB at p = 1e6) is out of reach.
Both use M = 5 (the paper's FashionMNIST value; SCureNewton with its automatic rule from M_init = 5 when
--auto is given), SCureNewton with the paper's n1 / n2 = 128 / 64, T_out = 10, T_in = 5.

    PYTHONPATH=python python bench/scure_memory.py [--d 100000] [--width 10] [--n 200] [--dtype float64]
        [--outer trained,fixed] [--auto]
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
dtype, auto = sys.argv[6], sys.argv[7] == "1"
rng = np.random.default_rng(0)
X = rng.standard_normal((n, d), dtype=dtype)
X /= np.sqrt(d)
y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    net = kk.TwoLayerReLU(width=m, train_outer=train_outer, loss="logistic", normalized_gd=False, lr=1.0,
                          max_iter=5, weight_decay=5e-4, random_state=0, init_scale=0.1, n_threads=1,
                          representation="primal", dtype=dtype).fit(X, y)
sc = {"M": "auto", "M_init": 5.0} if auto else {"M": 5.0}
opts = {"cure_newton": {"M": 5.0}, "scure_newton": dict(sc, batch_grad=128, batch_hess=64, n_outer=10, n_inner=5,
                                                         lr=1.0)}[method]
before = rss("VmRSS:")
with open("/proc/self/clear_refs", "w") as fh:  # reset VmHWM to the current RSS
    fh.write("5")
t0 = time.perf_counter()
out = net.unlearn(X, y, list(range(10)), method=method, **opts)
wall = time.perf_counter() - t0
print(json.dumps(dict(method=method, solver=out.unlearn_info_.get("solver"), p=net.n_params(), n=n, d=d,
                      width=m, train_outer=train_outer, rss_before=before, peak=rss("VmHWM:"), wall=wall,
                      step_norm=out.unlearn_info_["step_norm"], dtype=dtype, x_bytes=X.nbytes,
                      xr_bytes=X.nbytes // n * (n - 10), M=str(out.unlearn_info_.get("M"))[:40])))
"""


def measure(n, d, m, train_outer, method, dtype="float64", auto=False):
    r = subprocess.run([sys.executable, "-c", CHILD, str(n), str(d), str(m), "1" if train_outer else "0", method,
                        dtype, "1" if auto else "0"], capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--d", type=int, default=100_000)
    ap.add_argument("--width", type=int, default=10)
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--outer", default="trained,fixed", help="comma-separated: trained, fixed")
    ap.add_argument("--auto", action="store_true", help="SCureNewton with M='auto' (from M_init = 5)")
    args = ap.parse_args()
    print(f"{'outer':>7} {'method':>13} {'solver':>8} {'p':>9} {'dtype':>8} {'X MB':>7} {'X_R copy MB':>12} "
          f"{'RSS before MB':>14} {'peak MB':>9} {'delta MB':>9} {'wall s':>7} {'||s||':>9}")
    for outer in args.outer.split(","):
        to = outer.strip() == "trained"
        for method in ("cure_newton", "scure_newton"):
            r = measure(args.n, args.d, args.width, to, method, args.dtype, args.auto)
            print(f"{'trained' if to else 'fixed':>7} {method:>13} {r['solver']:>8} {r['p']:>9} {r['dtype']:>8} "
                  f"{r['x_bytes'] / 2**20:>7.0f} {r['xr_bytes'] / 2**20:>12.0f} "
                  f"{r['rss_before'] / 2**20:>14.1f} {r['peak'] / 2**20:>9.1f} "
                  f"{(r['peak'] - r['rss_before']) / 2**20:>9.1f} {r['wall']:>7.2f} {r['step_norm']:>9.3g}",
                  flush=True)


if __name__ == "__main__":
    main()

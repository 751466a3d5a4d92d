"""Float32 through the certificate (issue 16): how far the KKT certificate of a float32 model is from float64's.

    for k in d c a; do OMP_NUM_THREADS=1 PYTHONPATH=python python bench/cert_float32.py --repeats 3 --only $k; done

(one shape per process keeps each run under 2 minutes at one thread; --small runs smaller shapes in seconds,
--subgradient-tol 1e-3 measures the literal reading, --no-fit32 skips the float32-trained model.)

For each shape (n, d, m): a float64 TwoLayerReLU trained as in bench/cert_table.py (100 steps, fixed u, seed 0,
cert_table's make_data), and s = q_min^(1/L) of that model (L = 1 with fixed u, so s = q_min as in cert_table;
s = 1 if it does not fit every point). Every certificate below is kkt_multipliers(model, X, y, scale=s) +
kkt_report(model, X, y, multipliers=..., scale=s), solver "auto", one thread, compared with "ref", the float64
model's certificate on X:

  * f32      -- the float32 model holding the SAME parameters rounded to float32
                (TwoLayerReLU(dtype=np.float32).set_parameters(W.astype(float32), u.astype(float32)); a primal
                model) on X.astype(float32). The number this table is about.
  * floor    -- the float64 model on X rounded to float32 and back: what rounding the input alone does.
  * twin     -- a float64 model holding f32's parameters exactly (W32 widened), on X32 widened: the numbers f32
                is given, computed in float64. "twin vs ref" is what rounding the input and the parameters does
                (the floor of "f32 vs ref"); every "vs twin" row is the float32 arithmetic alone.
  * round32  -- the certificate from K = X32 X32^T and Z = X32 W32^T summed in float64 and rounded once to
                float32, through the core's float32 entry, vs twin. That is what the core's float32 kernels return
                for d > 4096 (the row then equals f32 bit for bit, marked "= f32"); for d <= 4096 they sum in
                float32 (common.hpp, Accumulate<float>), and this row is what summing those in double would give.
  * gemm32   -- counterfactual, no code path of the library: the same from K and Z by numpy's float32 GEMM
                (float32 accumulation), vs twin: what a certificate that summed in float32 would lose.
  * fit32    -- TwoLayerReLU(dtype=np.float32) fitted with the same seed on X32 (span-represented where the
                float64 one is), vs ref: its training drift is part of that gap. "fit32 vs its twin": a float64
                model holding fit32's W_ (W = W0 + A^T X formed in float32) widened, on X32 widened.

Metrics: lambda = max|l - l_ref| / max|l_ref|; epsilon, epsilon_rel, delta = relative differences; tau = absolute.
Times: median of --repeats (fit32: one run), kkt_multipliers + kkt_report, one thread.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cert_table import make_data, timeit  # noqa: E402

import kktunlearn as kk  # noqa: E402
from kktunlearn import _core  # noqa: E402

SHAPES = {
    "d": (200, 5000, 1000),
    "c": (2000, 10_000, 200),
    "a": (5000, 200, 200),
}
SMALL = {
    "d": (60, 2000, 300),
    "c": (400, 4000, 100),
    "a": (1000, 100, 100),
}
NT = 1


ST = 0.0   # subgradient_tol of every certificate (--subgradient-tol)


def certificate(model, X, y, s):
    mult = kk.kkt_multipliers(model, X, y, scale=s, n_threads=NT, subgradient_tol=ST)
    rep = kk.kkt_report(model, X, y, multipliers=mult, scale=s, n_threads=NT, subgradient_tol=ST)
    return rep


def with_params(W, u, dtype, m):
    return kk.TwoLayerReLU(width=m, dtype=dtype, n_threads=NT).set_parameters(W, u)


def kz_certificate(K, Z, wsq, y, u32, s, slope):
    """The certificate from given float32 K = X X^T and Z = X W^T through the core's float32 span entry with A = 0
    (then W = W0, Z0 = Z, K_train = K: an exact representation of the primal model; the core widens K and Z to
    float64 and solves, as kkt_solve does after forming them)."""
    n, m = Z.shape
    K, Z = np.ascontiguousarray(K, dtype=np.float32), np.ascontiguousarray(Z, dtype=np.float32)
    opt = _core.KKTOptions()
    opt.method, opt.subgradient_tol, opt.tol, opt.max_iter, opt.scale = "nnls", ST, 1e-10, 0, s
    opt.loss, opt.clarke, opt.solver = "exponential", True, "auto"  # the models here: exponential loss
    y32 = np.ascontiguousarray(y, dtype=np.float32)
    r = _core.kkt_solve_span(Z, K, wsq, K, Z, np.zeros((n, m), dtype=np.float32), list(range(n)), 1.0,
                             float(wsq.sum()), y32, u32, slope, False, opt, NT)
    lam = np.asarray(r.lambdas)
    q = np.asarray(r.margins)
    slack = lam * np.maximum(q - 1.0, 0.0)
    return dict(lambdas=lam, epsilon=float(r.epsilon), epsilon_rel=float(r.epsilon) / float(r.theta_norm),
                delta=float(slack.max()), tau=float(max(0.0, 1.0 - q.min())))


def _get(c, k):
    return c[k] if isinstance(c, dict) else getattr(c, k)


def gap(c, ref):
    """Differences of certificate c from ref."""
    lr, lc = np.asarray(_get(ref, "lambdas")), np.asarray(_get(c, "lambdas"))

    def rel(k):
        a, b = _get(c, k), _get(ref, k)
        return abs(a - b) / abs(b) if b != 0 else abs(a - b)
    return dict(lam=float(np.abs(lc - lr).max() / np.abs(lr).max()), eps=rel("epsilon"), eps_rel=rel("epsilon_rel"),
                delta=rel("delta"), tau=abs(_get(c, "tau") - _get(ref, "tau")),
                supp=int((lc > 0).sum()), supp_ref=int((lr > 0).sum()))


def run_shape(n, d, m, steps, repeats, fit32):
    X, y = make_data(n, d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        net = kk.TwoLayerReLU(width=m, max_iter=steps, random_state=0, n_threads=NT).fit(X, y)
        t_fit = time.perf_counter() - t
    W, u = np.array(net.W_), np.array(net.u_, dtype=np.float64)
    q = y * (np.maximum(X @ W.T, 0.0) @ u)
    # s = q_min^(1/L); L = net.degree_ = 1 for a fixed-u network (cert_table's s = q_min)
    s = float(q.min()) ** (1.0 / net.degree_) if q.min() > 0 else 1.0
    X32 = X.astype(np.float32)
    X32w = X32.astype(np.float64)
    W32, u32 = W.astype(np.float32), u.astype(np.float32)
    m32 = with_params(W32, u32, np.float32, m)
    twin = with_params(W32.astype(np.float64), u32.astype(np.float64), np.float64, m)

    t64, ref = timeit(lambda: certificate(net, X, y, s), repeats)
    t32, c32 = timeit(lambda: certificate(m32, X32, y, s), repeats)
    floor = certificate(net, X32w, y, s)
    ttw, ctwin = timeit(lambda: certificate(twin, X32w, y, s), repeats)
    # counterfactual: K and Z by numpy's float32 GEMM (float32 accumulation), ||w_j||^2 summed in float32 too
    cg = kz_certificate(X32 @ X32.T, X32 @ W32.T, np.einsum("ij,ij->i", W32, W32).astype(np.float64), y, u32, s,
                        net.slope_)
    # K and Z of the float32 data summed in float64 and rounded once to float32: what the core's float32 kernels
    # return for d > 4096 (the sums of d <= 4096 terms run in float32, common.hpp Accumulate<float>)
    W32w = W32.astype(np.float64)
    cr = kz_certificate((X32w @ X32w.T).astype(np.float32), (X32w @ W32w.T).astype(np.float32),
                        np.einsum("ij,ij->i", W32w, W32w), y, u32, s, net.slope_)
    row = dict(n=n, d=d, m=m, s=s, fits=bool(q.min() > 0), rep=net.representation_, t_fit=t_fit, t64=t64, t32=t32,
               t_twin=ttw,
               eps=ref.epsilon, eps_rel=ref.epsilon_rel, delta=ref.delta, n_dropped=ref.multipliers.n_dropped,
               direct=ref.multipliers.direct_residual, direct32=c32.multipliers.direct_residual,
               f32=gap(c32, ref), floor=gap(floor, ref), twin=gap(ctwin, ref), arith=gap(c32, ctwin),
               gemm32=gap(cg, ctwin), round32=gap(cr, ctwin),
               same_as_round32=bool(np.array_equal(np.asarray(c32.lambdas), cr["lambdas"])))
    if fit32:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = kk.TwoLayerReLU(width=m, max_iter=steps, random_state=0, n_threads=NT, dtype=np.float32).fit(X32, y)
        tf, cf = timeit(lambda: certificate(f, X32, y, s), 1)
        ftwin = with_params(np.asarray(f.W_, dtype=np.float64), np.asarray(f.u_, dtype=np.float64), np.float64, m)
        cft = certificate(ftwin, X32w, y, s)
        row.update(rep32=f.representation_, tfit32=tf, fit32=gap(cf, ref), fit32_arith=gap(cf, cft),
                   fit32_params=float(np.linalg.norm(np.asarray(f.W_, dtype=np.float64) - W) / np.linalg.norm(W)))
    return row


def fmt_gap(g):
    return f"{g['lam']:.1e} | {g['eps']:.1e} | {g['eps_rel']:.1e} | {g['delta']:.1e} | {g['tau']:.0e}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="dca", help="shape keys: d = (200, 5e3, 1e3), c = (2000, 1e4, 200), "
                                                  "a = (5000, 200, 200)")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--small", action="store_true", help="smaller shapes (a quick check)")
    ap.add_argument("--no-fit32", action="store_true", help="skip the float32-trained model")
    ap.add_argument("--subgradient-tol", type=float, default=0.0,
                    help="kink tolerance of every certificate (0: cert_table's default; kktunlearn.kkt.LITERAL_TOL "
                         "= 1e-3 makes the pairs near the kink Clarke pairs)")
    args = ap.parse_args()
    global ST
    ST = args.subgradient_tol
    shapes = SMALL if args.small else SHAPES
    print("kktunlearn", kk.__version__, "core", kk.cpu_variant, "load", os.getloadavg(), "subgradient_tol", ST,
          flush=True)
    rows = []
    for key in "dca":
        if key in args.only:
            r = run_shape(*shapes[key], args.steps, args.repeats, not args.no_fit32)
            print("done", r, flush=True)
            rows.append(r)

    print("\n| n, d, m | rep. | epsilon_rel (ref) | compared | lambda | epsilon | epsilon_rel | delta | tau |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        shape = f"{r['n']}, {r['d']}, {r['m']}"
        lines = [("**f32 vs ref**", r["f32"]), ("floor (X rounded) vs ref", r["floor"]),
                 ("twin vs ref (X and parameters rounded)", r["twin"]),
                 ("f32 vs twin (arithmetic)", r["arith"]), ("round32 vs twin (K, Z summed in double, rounded once)"
                  + (", = f32" if r["same_as_round32"] else ""), r["round32"]),
                 ("gemm32 vs twin (counterfactual: float32 GEMM)", r["gemm32"])]
        if "fit32" in r:
            lines += [(f"fit32 ({r['rep32']}) vs ref", r["fit32"]),
                      ("fit32 vs its twin (its W_ widened)", r["fit32_arith"])]
        for i, (name, g) in enumerate(lines):
            head = f"| {shape} | {r['rep']} | {r['eps_rel']:.3g} " if i == 0 else "| | | "
            print(f"{head}| {name} | {fmt_gap(g)} |")
    print("\n| n, d, m | support (ref / f32) | ref (float64, model's rep.) | twin (float64 primal) | "
          "f32 (float32 primal) | twin / f32 | fit32 (float32, model's rep.) | fit32 W vs W |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        ft = f"{r['tfit32']:.3f} s" if "tfit32" in r else "-"
        fp = f"{r['fit32_params']:.1e}" if "fit32_params" in r else "-"
        print(f"| {r['n']}, {r['d']}, {r['m']} | {r['f32']['supp_ref']} / {r['f32']['supp']} | {r['t64']:.3f} s | "
              f"{r['t_twin']:.3f} s | {r['t32']:.3f} s | {r['t_twin'] / r['t32']:.2f}x | {ft} | {fp} |")


if __name__ == "__main__":
    main()

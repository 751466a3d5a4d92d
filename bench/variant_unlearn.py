"""Wall time of every unlearning method (and fit, certificate) under one CPU build, to compare builds.

Only the dense kernels (matrix products, the symmetric K = X X^T, the certificate solver's gemv and
triangular solves, the generator) are compiled per CPU variant (kktunlearn/_dispatch.py); everything
else, the unlearning methods' own loops and eigen-solvers included, is compiled once for the baseline
ISA. Run this once per package copy or per KKTUNLEARN_DISPATCH value and compare medians:

    KKTUNLEARN_DISPATCH=avx512 PYTHONPATH=python python bench/variant_unlearn.py [--repeat 3] [--n 100]
        [--d 20000] [--width 50] [--threads 1]

Prints one JSON object: {"variant", "kernels", "seconds": {phase: median}, ...}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

import kktunlearn as kk
from kktunlearn.datasets import near_orthogonal
from kktunlearn.unlearning import METHODS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--d", type=int, default=20000)
    ap.add_argument("--width", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    X, y = near_orthogonal(args.n, args.d, seed=0)
    forget = [0, 1]
    times: dict = {}

    def timed(name, fn):
        out = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
        times[name] = statistics.median(out)

    model = kk.TwoLayerReLU(width=args.width, random_state=0, max_iter=1000, n_threads=args.threads)
    timed("fit", lambda: model.fit(X, y))
    timed("kkt_multipliers", lambda: kk.kkt_multipliers(model, X, y))
    cert = kk.kkt_multipliers(model, X, y)
    for method in METHODS:
        opts = {"multipliers": cert} if method == "ga" else {}
        if method in ("newton", "damped_newton", "pinv_newton", "cure_newton", "scure_newton"):
            opts["weight_decay"] = 1e-3  # a regular Hessian, so that plain Newton is defined
        try:
            timed(method, lambda: kk.unlearn(model, X, y, forget=forget, method=method, **opts))
        except Exception as exc:  # report, do not stop the table
            times[method] = f"{type(exc).__name__}: {exc}"[:120]
    print(json.dumps({"variant": kk.cpu_variant, "kernels": getattr(kk._core, "kernels", lambda: None)(),
                      "n": args.n, "d": args.d, "width": args.width, "threads": args.threads,
                      "repeat": args.repeat, "seconds": times}))


if __name__ == "__main__":
    main()

"""A billion-parameter network trained, certified, unlearned and verified on a laptop (issue 10).

n = 100 points in d = 10^7 dimensions, a two-layer ReLU network of width m = 100: p = m d = 10^9
parameters, float32. The pipeline, through the public API only:

    generate data      kktunlearn.datasets.gaussian_mixture(n, d, dtype=float32)   (C++, Philox)
    fit                TwoLayerReLU(width=m, dtype=float32, representation="span").fit(X, y)
    certificate        kkt_multipliers + kkt_report on (X, y)
    GA unlearning      unlearn(model, X, y, forget, method="ga")
    retrain oracle     unlearn(model, X, y, forget, method="retrain")   (same initialization)
    verify             verify_unlearning(ga, X, y, forget, retrained=oracle)  (with cosine to retrained)
    predict            ga.predict on 100 fresh points of the mixture (gm.test(100, lazy=True): never materialized)

Each phase is timed (wall clock) and its peak resident memory measured (Linux: the peak is reset
before each phase through /proc/self/clear_refs, then read from VmHWM). The target is a peak of at
most X's size + 2 GiB over the whole run. Long phases show progress bars (fit, retrain).

    python bench/billion.py                     # the full size: n=100, d=1e7, m=100 (needs ~6 GB)
    python bench/billion.py --d 100000          # scaled down (seconds)
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def _rss_peak_reset() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _status(key: str) -> float:
    """VmHWM / VmRSS of this process in bytes (Linux); NaN elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    return float("nan")


class Phases:
    def __init__(self):
        self.rows = []
        self.peak = 0.0

    def run(self, name, fn, *args, **kwargs):
        _rss_peak_reset()
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        dt = time.perf_counter() - t
        peak = _status("VmHWM")
        self.peak = max(self.peak, peak)
        self.rows.append((name, dt, peak, _status("VmRSS")))
        print(f"  {name}: {dt:.2f} s, peak RSS {peak / 2**30:.2f} GiB", flush=True)
        return out

    def table(self):
        lines = ["| phase | wall (s) | peak RSS in phase (GiB) | RSS after (GiB) |", "|---|---|---|---|"]
        for name, dt, peak, rss in self.rows:
            lines.append(f"| {name} | {dt:.2f} | {peak / 2**30:.2f} | {rss / 2**30:.2f} |")
        total = sum(r[1] for r in self.rows)
        lines.append(f"| total | {total:.2f} | {self.peak / 2**30:.2f} | |")
        return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--d", type=float, default=1e7)
    ap.add_argument("--m", type=int, default=100)
    ap.add_argument("--steps", type=int, default=200, help="GD steps of fit and of the retrain oracle")
    ap.add_argument("--forget", type=int, default=1, help="number of points to forget")
    ap.add_argument("--threads", type=int, default=0, help="n_threads (0 = all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eager-fresh", action="store_true", help="the fresh points as 4 materialized arrays of 25 "
                    "(the earlier way) instead of one GeneratedRows")
    a = ap.parse_args(argv)
    n, d, m = a.n, int(a.d), a.m

    import kktunlearn as kk
    from kktunlearn.datasets import gaussian_mixture

    nt = a.threads or None
    x_bytes = n * d * 4
    print(f"kktunlearn {kk.__version__} ({kk.cpu_variant}); n={n}, d={d:.3g}, m={m}: p = {m * d:.3g} parameters, "
          f"float32; X is {x_bytes / 2**30:.2f} GiB; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}", flush=True)
    ph = Phases()
    gm = ph.run("generate data", gaussian_mixture, n, d, seed=a.seed, dtype=np.float32, n_threads=nt)
    X, y = gm.X, gm.y
    net = kk.TwoLayerReLU(width=m, dtype=np.float32, max_iter=a.steps, random_state=a.seed, representation="span",
                          n_threads=nt, progress=True)
    ph.run("fit", net.fit, X, y)
    mult = ph.run("certificate: kkt_multipliers", kk.kkt_multipliers, net, X, y)
    rep = ph.run("certificate: kkt_report", kk.kkt_report, net, X, y, multipliers=mult)
    forget = np.arange(a.forget)
    ga = ph.run("GA unlearning", kk.unlearn, net, X, y, forget, method="ga")
    oracle = ph.run("retrain oracle", kk.unlearn, net, X, y, forget, method="retrain")
    ver = ph.run("verify_unlearning (+ cosine)", kk.verify_unlearning, ga, X, y, forget, retrained=oracle)
    if a.eager_fresh:
        # 100 fresh points as 4 arrays of 25, each generated, predicted and dropped inside the phase: all
        # 100 at once would be another X-sized array (X is n x d), which the memory target leaves no room for
        def predict_fresh(batches=4, size=25):
            hits = 0
            for _ in range(batches):
                Xt, yt = gm.test(size, n_threads=nt)
                hits += int(np.sum(ga.predict(Xt) == yt))
                del Xt
            return hits / (batches * size)

        acc = ph.run("generate + predict 100 fresh points (4 arrays of 25)", predict_fresh)
    else:
        # the 100 fresh points as their generator (datasets.GeneratedRows): the span model predicts them in
        # one pass that generates each sub-block of the points beside W0's, never holding the 100 x d array
        def predict_fresh(size=100):
            G, yt = gm.test(size, lazy=True)
            return float(np.mean(ga.predict(G) == yt))

        acc = ph.run("predict 100 fresh points (lazy, generated in one pass)", predict_fresh)
    print()
    print(ph.table())
    print()
    print(f"fit: {net.n_iter_} steps, status {net.fit_status_}, min margin {net.min_margin_:.4g}; "
          f"certificate: {rep!r}"[:400])
    print(f"GA vs retrained: {ver!r}"[:600])
    print(f"accuracy of the unlearned model on 100 fresh points: {acc:.2f}")
    budget = x_bytes + 2 * 2**30
    print(f"peak RSS {ph.peak / 2**30:.2f} GiB against the target X + 2 GiB = {budget / 2**30:.2f} GiB: "
          f"{'met' if ph.peak <= budget else 'NOT met'}")


if __name__ == "__main__":
    main()

"""Build-time figures: a tiny run of every ``kktunlearn reproduce`` subcommand.

Each run uses the reproduction's quick grid with the overrides below (fewer seeds, a smaller network
and d, fewer iterations), so the whole set takes seconds; the figures therefore show the *shape* of each
result on one or two seeds, not the numbers of ``--quick`` or of the full run (see each page for the
command that makes those). Files: ``_generated/NAME.png`` and ``_generated/NAME.txt`` (the caption the
reproduction writes), plus ``_generated/NAME.checks.txt`` (its PASS/FAIL lines).
"""

from __future__ import annotations

import os
import time

#: overrides of each reproduction's quick grid used for the documentation figures
TINY = {
    "fig1": dict(seed=[0], forget=[0], m=20, d=300, max_iter=1500, step_scale=[0.0, 0.5, 1.0, 1.5, 2.0]),
    "linear": dict(d=[100, 400], seed=[0, 1], max_iter=1000),
    "mixture": dict(seed=[0], n_test=500, m=20, d=300, max_iter=1000),
    "orthogonality": dict(rho=[0.0, 0.3], seed=[0], m=20, d=300, max_iter=1500),
    "newton": dict(n_train=60, max_iter=150, rounds=1,
                   phase=dict(weight_decay=[0.0, 5e-4], max_iter=[150], seed=[0])),
}


def generate(out: str) -> None:
    if os.environ.get("KKTUNLEARN_DOCS_FIGURES", "1") == "0":
        return
    import matplotlib

    matplotlib.use("Agg")
    from kktunlearn import reproduce

    os.makedirs(out, exist_ok=True)
    for name, override in TINY.items():
        t0 = time.perf_counter()
        res = reproduce.run(name, quick=True, out=out, n_jobs=1, verbose=False, **override)
        with open(os.path.join(out, f"{name}.checks.txt"), "w", encoding="utf-8") as fh:
            for check, value, expectation, passed in res.verdicts:
                fh.write(f"{check} = {reproduce._fmt(value)}  (expected: {expectation})  {'PASS' if passed else 'FAIL'}\n")
        print(f"docs figure {name}: {time.perf_counter() - t0:.1f} s", flush=True)

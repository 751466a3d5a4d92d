"""Every unlearning method judged by the same certificate: the method table of bench/README.md.

    PYTHONPATH=python python3 bench/unlearn_table.py [--data mixture --n 100 --d 10000 --width 200 --seed 0
                                                    --forget 0] [--rounds 5] [--threads N] [--markdown FILE]

One command regenerates the whole table (and, with --markdown FILE, writes it as Markdown).

Setting: TwoLayerReLU(width, random_state=seed) with its defaults (fixed u = +-1/sqrt(m), exponential loss,
normalized GD) on `--data` (mixture: x = y mu + N(0, I/d), ||mu|| = d^(-1/4), so test accuracy means something;
near_orthogonal: rows N(0, I/d) with random labels, the GA paper's theory setting), n_test fresh points.

The measure, the same for every row (kktunlearn.metrics.evaluate_unlearning -> kktunlearn.verify_unlearning):
  * scale: the ORIGINAL model's normalization s = (min_{i in S} q_i)^(1/L), so tau = max(0, 1 - min_{i in
    S_retain} q_i(theta^-) / s^L) is the margin the method lost;
  * literal reading (headline): Clarke subdifferential at theta^- itself, kink tolerance LITERAL_TOL = 1e-3;
  * relaxed reading: Goldstein-type, pairs within LITERAL_TOL + r free, ONE radius r for every row:
    r = kktunlearn.kkt.ga_radius, the largest pre-activation change of the alpha = 1 GA step on a retained point
    (or --radius R); the share of (point, neuron) pairs free at r is shown;
  * verdict, per reading: eps/||theta|| <= the original model's own eps/||theta|| on S + 0.05, delta <= the
    original's delta on S + 0.1, tau <= 0.1 (kktunlearn.metrics.SUCCESS_THRESHOLDS, success_verdict);
  * ToW: the Newton paper's Tug-of-War (kktunlearn.metrics.tug_of_war) when available; accuracy gaps
    acc(unlearned) - acc(retrained) on the retained, test and forget sets, in percentage points.
Rows that fail (an exception, a non-finite model) are counted, listed with their full error text, and left out.
With --rounds R > 0 a second table serves R single-point requests in sequence (kktunlearn.unlearn_sequence,
the same measure in every round: original scale, literal tolerance, the same r).
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy as np

import kktunlearn as kk
from kktunlearn import datasets
from kktunlearn.kkt import LITERAL_TOL, ga_radius, kkt_multipliers
from kktunlearn.metrics import SUCCESS_THRESHOLDS, evaluate_unlearning

METHODS = [
    ("retrain", {}),
    ("ga", {}),
    ("ga", {"subgradient": "autograd"}),
    ("neggrad", {}),
    ("neggrad_plus", {}),
    ("finetune", {}),
    ("newton", {}),
    ("newton", {"l2": 1e-3}),
    ("damped_newton", {}),
    ("pinv_newton", {}),
    ("cure_newton", {}),
    ("cure_newton", {"n_steps": 5}),
    ("scure_newton", {}),
]


def fmt(x, spec=".4g"):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    return format(x, spec)


def pp(x):
    """an accuracy gap in percentage points"""
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:+.1f}"


def make_data(a):
    if a.data == "mixture":
        gm = datasets.gaussian_mixture(a.n, a.d, seed=a.seed)
        X, y = gm.X, gm.y
        Xt, yt = gm.test(a.n_test, seed=a.seed + 7919)
    else:
        X, y = datasets.near_orthogonal(a.n, a.d, seed=a.seed)
        Xt, yt = datasets.near_orthogonal(a.n_test, a.d, seed=a.seed + 7919)
    return X, y, Xt, yt


COLUMNS = [("method", None), ("time [s]", "wall_time"), ("step norm", "step_norm"),
           ("eps literal", "literal_epsilon"), ("eps/norm literal", "literal_epsilon_rel"),
           ("eps relaxed", "relaxed_epsilon"), ("eps/norm relaxed", "relaxed_epsilon_rel"),
           ("delta literal", "literal_delta"), ("tau", "tau"), ("cos to retrained", "cos_to_retrained"),
           ("ToW", "tow"), ("gap retained [pp]", "retained_acc_gap"), ("gap test [pp]", "test_acc_gap"),
           ("gap forget [pp]", "forget_acc_gap"), ("success literal", "successful"),
           ("success relaxed", "relaxed_successful")]


def cell(row, key):
    v = row.get(key)
    if key.endswith("_gap"):
        return pp(v)
    if key == "wall_time":
        return fmt(v, ".3f")
    if key == "cos_to_retrained":
        return fmt(v, ".5f")
    if key in ("literal_epsilon_rel", "relaxed_epsilon_rel", "tau", "literal_delta"):
        return fmt(v, ".3g")
    return fmt(v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", choices=("mixture", "near_orthogonal"), nargs="+", default=["near_orthogonal", "mixture"],
                    help="one table per data set (default: both)")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--d", type=int, default=10000)
    ap.add_argument("--width", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--forget", type=int, nargs="+", default=[0])
    ap.add_argument("--n-test", type=int, default=2000)
    ap.add_argument("--radius", type=float, default=None, help="relaxed radius r (default: the alpha = 1 GA step's)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--methods", nargs="*", default=None, help="restrict to these method labels")
    ap.add_argument("--markdown", default=None, help="also write the tables as Markdown to this file")
    a = ap.parse_args()
    sink = open(a.markdown, "w", encoding="utf-8") if a.markdown else None

    def out(line=""):
        print(line, flush=True)
        if sink is not None:
            sink.write(line + "\n")
            sink.flush()

    datas = list(a.data)
    for k, data in enumerate(datas):
        a.data = data
        if k:
            out("")
        out(f"### data = {data}")
        out("")
        one_setting(a, out)
    if sink is not None:
        sink.close()


def one_setting(a, out) -> None:
    X, y, Xt, yt = make_data(a)
    st = datasets.stats(X)
    t0 = time.perf_counter()
    model = kk.TwoLayerReLU(width=a.width, random_state=a.seed, n_threads=a.threads).fit(X, y)
    t_fit = time.perf_counter() - t0
    out(f"setting: data={a.data} n={a.n} d={a.d} m={a.width} seed={a.seed} forget={a.forget} n_test={a.n_test}  "
        f"psi={st.psi:.3f} phi={st.phi:.3f}  p={model.n_params()}  fit {t_fit:.2f}s  "
        f"min margin {model.margins(X, y).min():.3f}  test acc {np.mean(model.margins(Xt, yt) > 0):.3f}")
    t0 = time.perf_counter()
    retrained = model.unlearn(X, y, a.forget, method="retrain")
    t_retrain = time.perf_counter() - t0
    t0 = time.perf_counter()
    mult = kkt_multipliers(model, X, y, subgradient_tol=LITERAL_TOL)
    t_mult = time.perf_counter() - t0
    r = ga_radius(model, X, y, a.forget, multipliers=mult) if a.radius is None else float(a.radius)
    out(f"original model: KKT multipliers (literal reading) in {t_mult:.2f}s, epsilon {mult.epsilon:.4g} "
        f"(rel {mult.epsilon_rel:.3g}), lambda_forget {np.round(mult.lambdas[a.forget], 4).tolist()}, "
        f"pairs at the kink {mult.n_pinned} of {a.n * a.width}")
    out(f"measure (every row): original model's scale; literal kink tolerance {LITERAL_TOL:g}; relaxed radius r = "
        f"{r:.4g} ({'alpha = 1 GA step displacement' if a.radius is None else 'given'}); verdict thresholds (each "
        f"reading): eps/norm <= original's on S + {SUCCESS_THRESHOLDS['epsilon_rel']:g}, delta <= original's on S + "
        f"{SUCCESS_THRESHOLDS['delta']:g}, tau <= {SUCCESS_THRESHOLDS['tau']:g}")

    rows, failed = [], []
    first = {}

    def evaluate(label, unlearned, wall):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            row = evaluate_unlearning(model, unlearned, X, y, a.forget, retrained=retrained, X_test=Xt, y_test=yt,
                                      mia=False, relaxed_radius=r)
        row["label"] = label
        if wall is not None:
            row["wall_time"] = wall
        if "kkt_error" in row:
            failed.append((label, row["kkt_error"]))
        rows.append(row)
        first.setdefault("o", row)

    evaluate("original (no unlearning)", model, None)
    rows[-1]["wall_time"] = float("nan")
    for method, opts in METHODS:
        label = method + "".join(f", {k} = {v}" for k, v in opts.items())
        if a.methods is not None and method not in a.methods and label not in a.methods:
            continue
        if method == "retrain":
            evaluate("retrain (oracle)", retrained, t_retrain)
            continue
        o = dict(opts)
        if method == "ga":
            o["multipliers"] = mult
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = model.unlearn(X, y, a.forget, method=method, **o)
        except (ArithmeticError, ValueError, RuntimeError) as exc:
            failed.append((label, f"{type(exc).__name__}: {exc}"))
            continue
        evaluate(label, res, res.unlearn_info_["time"])

    o = first.get("o", {})
    out(f"original model on S (the verdict's reference): eps/norm literal {fmt(o.get('orig_literal_epsilon_rel'), '.3g')}, "
        f"relaxed {fmt(o.get('orig_relaxed_epsilon_rel'), '.3g')}; delta literal {fmt(o.get('orig_literal_delta'), '.3g')}, "
        f"relaxed {fmt(o.get('orig_relaxed_delta'), '.3g')}")
    head = [c for c, _ in COLUMNS]
    table = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        table.append("| " + " | ".join(row["label"] if k is None else cell(row, k) for _, k in COLUMNS) + " |")
    out("")
    for line in table:
        out(line)
    free = [row.get("relaxed_free_fraction") for row in rows]
    out("")
    out("share of (point, neuron) pairs free at r (relaxed reading): "
        + ", ".join(f"{row['label']}: {fmt(f, '.3f')}" for row, f in zip(rows, free)))
    n_rows = len(rows) + sum(1 for lab, _ in failed if lab not in {row["label"] for row in rows})
    out(f"failed rows: {len(failed)} of {n_rows} (a method that raised has no row; a row whose certificate failed "
        "shows n/a)")
    for label, msg in failed:
        out(f"  {label}: {msg}")

    if a.rounds > 0:
        reqs = [[i] for i in range(a.rounds)]
        out("")
        out(f"sequential unlearning of points {list(range(a.rounds))}, one per round (kktunlearn.unlearn_sequence; "
            f"original scale, literal tolerance {LITERAL_TOL:g}, relaxed r = {r:.4g} in every round):")
        out("")
        out("| method | round | step norm | eps literal | eps/norm literal | eps relaxed | tau | min margin / s | "
            "retained acc |")
        out("|---|---|---|---|---|---|---|---|---|")
        for method, opts in [("pinv_newton", {}), ("damped_newton", {}), ("cure_newton", {}), ("ga", {})]:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    _, recs = kk.unlearn_sequence(model, X, y, reqs, method=method, kkt_relaxed_radius=r, **opts)
            except (ArithmeticError, ValueError, RuntimeError) as exc:
                out(f"| {method} | all | failed: {type(exc).__name__}: {exc} |||||||")
                continue
            for rec in recs:
                err = rec.get("kkt_error")
                if err:
                    out(f"| {method} | {rec['round'] + 1} | {fmt(rec['step_norm'])} | failed: {err} ||||||")
                    continue
                out(f"| {method} | {rec['round'] + 1} | {fmt(rec['step_norm'])} | {fmt(rec['literal_epsilon'])} | "
                    f"{fmt(rec['literal_epsilon_rel'], '.3g')} | {fmt(rec['relaxed_epsilon'])} | {fmt(rec['tau'], '.3g')} | "
                    f"{fmt(rec['kkt_min_margin'], '.3g')} | {fmt(rec['retained_accuracy'], '.3f')} |")


if __name__ == "__main__":
    main()

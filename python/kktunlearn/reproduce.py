"""Reproductions of the papers' experiments: `kktunlearn reproduce NAME [--quick] [--out DIR]`.

Each function runs its experiment (in parallel through kktunlearn.sweep), writes NAME.csv (every row)
and NAME.png (the figure) into `out`, prints a short table and returns a Reproduction (rows, summary
table, file paths and the named checks of the expected shape). quick=True is a reduced version that
runs in well under two minutes on two cores; the full version is the papers' setting (the GA spec's
7.2 / 7.4 protocol for fig1). The settings of both versions are listed in SETTINGS.

  fig1           GA paper, Figure 1: retained-set epsilon (plain, Clarke, Goldstein) against the step
                 scale alpha for a two-layer ReLU network, plus tau and the cosine to the retrained model.
  linear         linear theorem: cosine of the GA-unlearned predictor with the retrained max-margin
                 predictor, and (epsilon, delta, tau), as d grows at fixed n.
  mixture        Gaussian-mixture generalization: test accuracy of the original, GA-unlearned and
                 retrained models (linear and two-layer).
  newton         Newton paper's headline on our models: update norm, retained/test accuracy and epsilon
                 of pinv, damped and cubic Newton against GA, NegGrad+, fine-tuning and retraining, in
                 batch and over 5 sequential rounds.
  orthogonality  stress test: epsilon, tau and cosine as the data's pairwise correlation rho grows.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Any, Callable, Dict, List, Optional

import numpy as np

__all__ = ["fig1", "linear", "mixture", "newton", "orthogonality", "run", "REPRODUCTIONS", "SETTINGS",
           "Reproduction", "newton_task"]

ALPHAS = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0)

#: the settings of each reproduction (quick and full)
SETTINGS: Dict[str, Dict[str, Dict[str, Any]]] = {
    "fig1": {
        "full": dict(n=20, d=1000, m=100, max_iter=4000, seed=list(range(5)), forget=list(range(5)),
                     step_scale=list(ALPHAS), subgradient=["clarke", "autograd"]),
        "quick": dict(n=20, d=1000, m=50, max_iter=4000, seed=[0, 1], forget=[0, 1],
                      step_scale=[0.0, 0.5, 0.9, 1.0, 1.1, 1.5, 2.0], subgradient=["clarke"]),
    },
    "linear": {
        "full": dict(n=20, d=[50, 100, 200, 500, 1000, 2000, 5000, 10000], seed=list(range(10)), max_iter=4000),
        "quick": dict(n=20, d=[100, 400, 2000], seed=[0, 1, 2], max_iter=3000),
    },
    "mixture": {
        "full": dict(n=20, d=1000, mu_norm=math.sqrt(0.02), n_test=5000, seed=list(range(10)), m=50,
                     forget=[0, 1, 2], max_iter=4000),
        "quick": dict(n=20, d=1000, mu_norm=math.sqrt(0.02), n_test=2000, seed=[0, 1], m=50, forget=[0],
                      max_iter=3000),
    },
    "newton": {
        "full": dict(n=100, d=200, m=50, mu_norm=0.15, n_forget=5, rounds=5, seed=[0, 1, 2], max_iter=2000,
                     n_test=5000),
        "quick": dict(n=40, d=100, m=20, mu_norm=0.15, n_forget=4, rounds=5, seed=[0], max_iter=1000, n_test=1000),
    },
    "orthogonality": {
        "full": dict(n=20, d=1000, m=100, rho=[0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7], seed=list(range(5)),
                     forget=[0, 1], max_iter=8000),
        "quick": dict(n=20, d=1000, m=50, rho=[0.0, 0.2, 0.5], seed=[0, 1], forget=[0], max_iter=3000),
    },
}


@dataclasses.dataclass
class Reproduction:
    """Result of a reproduction: every row, the printed summary, the files, the shape checks."""

    name: str
    quick: bool
    rows: Any                 # pandas DataFrame, one row per (configuration, seed, method)
    summary: Any              # pandas DataFrame, the printed table
    checks: Dict[str, Any]    # named numbers / booleans of the expected shape
    csv_path: Optional[str]
    figure_path: Optional[str]
    seconds: float

    def __repr__(self) -> str:
        return (f"Reproduction({self.name!r}, quick={self.quick}, rows={len(self.rows)}, "
                f"csv={self.csv_path!r}, figure={self.figure_path!r}, checks={self.checks})")


def _mean_std(df: Any, by: List[str], cols: List[str]):
    g = df.groupby(by, sort=True)[cols]
    mean = g.mean()
    std = g.std().fillna(0.0)
    out = mean.copy()
    for c in cols:
        out[c] = [f"{m:.4g} ± {s:.2g}" for m, s in zip(mean[c], std[c])]
    return out.reset_index(), mean


def _finish(name: str, quick: bool, rows: Any, summary: Any, checks: Dict[str, Any], fig: Any,
            out: Optional[str], verbose: bool, t0: float) -> Reproduction:
    if "error" in rows.columns:
        failed = rows["error"].notna()
        checks["n_failed"] = int(failed.sum())
        if failed.any() and verbose:
            for msg, cnt in rows.loc[failed, "error"].value_counts().items():
                print(f"[{name}] {cnt} configuration(s) failed: {msg}")
    csv_path = fig_path = None
    if out is not None:
        os.makedirs(out, exist_ok=True)
        csv_path = os.path.join(out, f"{name}.csv")
        rows.to_csv(csv_path, index=False)
        if fig is not None:
            fig_path = os.path.join(out, f"{name}.png")
            fig.savefig(fig_path, dpi=120)
    res = Reproduction(name, quick, rows, summary, checks, csv_path, fig_path, time.perf_counter() - t0)
    if verbose:
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_columns", 30):
            print(f"== {name} ({'quick' if quick else 'full'}; {len(rows)} rows, {res.seconds:.1f} s) ==")
            print(summary.to_string(index=False))
            print("checks: " + ", ".join(f"{k} = {_fmt(v)}" for k, v in checks.items()))
            if csv_path:
                print(f"wrote {csv_path}" + (f" and {fig_path}" if fig_path else ""))
    return res


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _grid(name: str, quick: bool, **override: Any) -> Dict[str, Any]:
    g = dict(SETTINGS[name]["quick" if quick else "full"])
    g.update(override)
    return g


def _sweep(grid: Dict[str, Any], n_jobs: Optional[int], progress: bool, backend: str = "local",
           experiment: Optional[Callable] = None, **kw: Any):
    """The reproduction's rows; a configuration that fails (e.g. a network that did not fit its training
    set) is kept as a row with an `error` column and left out of the summary (counted in n_failed)."""
    from .sweep import sweep

    return sweep(grid, experiment=experiment, backend=backend, n_jobs=n_jobs, progress=progress, errors="record",
                 **kw)


def _ok(rows: Any):
    if "error" not in rows.columns:
        return rows
    return rows[rows["error"].isna()].reset_index(drop=True)


# -------------------------------------------------------------------------------------------------- fig1
def fig1(quick: bool = False, out: Optional[str] = None, n_jobs: Optional[int] = None, progress: bool = False,
         verbose: bool = True, backend: str = "local", **override: Any) -> Reproduction:
    """GA paper, Figure 1 (spec 6.1, protocol 7.2 / 7.4).

    Near-orthogonal data (n = 20, d = 1000), a two-layer ReLU network of width 100 with fixed outer
    weights +-1/sqrt(m), exponential loss, normalized GD (4000 steps) from init scale 1e-3; forget point
    r; theta^-(alpha) = theta - alpha lambda_r y_r grad N(x_r) (Clarke-consistent step, and in the full
    version also the autograd step); epsilon of theta^- on S_retain: plain (sigma'(0) = 0), Clarke
    (tolerance 1e-3) and Goldstein (verifier default: 1e-3 + the step's pre-activation displacement);
    tau and cosine to the retrained network (same init). Mean and spread over seeds and forgotten points.
    Expected shape: the Goldstein curve is a V with its minimum at alpha = 1, equal to about the
    original model's Clarke epsilon; cosine to retrained peaks near alpha = 1; tau grows with alpha.
    """
    t0 = time.perf_counter()
    grid = _grid("fig1", quick, mia=False, n_test=100, **override)
    all_rows = _sweep(grid, n_jobs, progress, backend)
    rows = _ok(all_rows)
    cols = ["plain_epsilon", "clarke_epsilon", "goldstein_epsilon", "tau", "cos_to_retrained"]
    summary, mean = _mean_std(rows, ["subgradient", "step_scale"], cols)
    m = mean.loc["clarke"] if "clarke" in mean.index.get_level_values(0) else mean.xs(mean.index[0][0])
    argmin = float(m["goldstein_epsilon"].idxmin())
    orig = float(rows["orig_epsilon"].mean()) if "orig_epsilon" in rows else float("nan")
    checks = {"argmin_alpha_goldstein": argmin, "min_goldstein_epsilon": float(m["goldstein_epsilon"].min()),
              "original_clarke_epsilon": orig,
              "goldstein_epsilon_at_0": float(m["goldstein_epsilon"].loc[0.0]) if 0.0 in m.index else float("nan"),
              "argmax_alpha_cosine": float(m["cos_to_retrained"].idxmax()),
              "tau_increasing": bool(np.all(np.diff(m["tau"].to_numpy()) >= -1e-12))}
    fig = None
    if out is not None:
        from .plotting import new_figure, plot_fig1, plot_metric

        fig, axes = new_figure(3, 1, width=5.2)
        hue = "subgradient" if rows["subgradient"].nunique() > 1 else None
        plot_fig1(rows, ax=axes[0, 0], hue=hue)
        axes[0, 0].set_title(f"epsilon on S_retain (n={grid['n']}, d={grid['d']}, m={grid['m']})")
        plot_metric(rows, "step_scale", "tau", hue=hue, ax=axes[0, 1])
        plot_metric(rows, "step_scale", "cos_to_retrained", hue=hue, ax=axes[0, 2])
        for a in axes[0, 1:]:
            a.axvline(1.0, color="gray", linestyle=":", linewidth=1)
    return _finish("fig1", quick, all_rows, summary, checks, fig, out, verbose, t0)


# ------------------------------------------------------------------------------------------------ linear
def linear(quick: bool = False, out: Optional[str] = None, n_jobs: Optional[int] = None, progress: bool = False,
           verbose: bool = True, backend: str = "local", **override: Any) -> Reproduction:
    """Linear theorem (GA spec 4.3, Thm 3.1): GA on the linear max-margin predictor as d grows at fixed n.

    Near-orthogonal data, LinearModel (exponential loss, normalized GD from w = 0), forget x_0, GA with
    step_scale 1. Reported per d: cosine of the unlearned and of the original predictor with the
    retrained one, epsilon, delta, tau on S_retain and phi. Expected: cos(unlearned, retrained) -> 1 and
    above cos(original, retrained); tau <= lambda_r phi shrinks like sqrt(log n / d).
    """
    t0 = time.perf_counter()
    grid = _grid("linear", quick, model="linear", method="ga", mia=False, n_test=100, **override)
    all_rows = _sweep(grid, n_jobs, progress, backend)
    rows = _ok(all_rows)
    cols = ["cos_to_retrained", "cos_original_to_retrained", "goldstein_epsilon", "goldstein_delta", "tau", "phi"]
    cols = [c for c in cols if c in rows]
    summary, mean = _mean_std(rows, ["d"], cols)
    ds = mean.index.to_numpy()
    checks = {"cos_at_max_d": float(mean["cos_to_retrained"].iloc[-1]),
              "cos_original_at_max_d": float(mean["cos_original_to_retrained"].iloc[-1]),
              "tau_at_min_d": float(mean["tau"].iloc[0]), "tau_at_max_d": float(mean["tau"].iloc[-1]),
              "d_range": (int(ds[0]), int(ds[-1]))}
    fig = None
    if out is not None:
        from .plotting import new_figure, plot_metric

        fig, axes = new_figure(3, 1)
        plot_metric(rows, "d", "cos_to_retrained", ax=axes[0, 0], logx=True, label_prefix="GA-unlearned ")
        plot_metric(rows, "d", "cos_original_to_retrained", ax=axes[0, 0], logx=True, label_prefix="original ")
        axes[0, 0].set_ylabel(r"$\cos(\cdot, w_{retrain})$")
        plot_metric(rows, "d", "tau", ax=axes[0, 1], logx=True, logy=True)
        if "goldstein_epsilon" in rows:
            plot_metric(rows, "d", "goldstein_epsilon", ax=axes[0, 2], logx=True)
            axes[0, 2].set_ylabel(r"$\varepsilon$ of $w^-$ on $S_{ret}$")
    return _finish("linear", quick, all_rows, summary, checks, fig, out, verbose, t0)


# ----------------------------------------------------------------------------------------------- mixture
def mixture(quick: bool = False, out: Optional[str] = None, n_jobs: Optional[int] = None, progress: bool = False,
            verbose: bool = True, backend: str = "local", **override: Any) -> Reproduction:
    """Gaussian-mixture generalization (GA spec 5.2, 6.2, 7.4 setting C).

    x = y mu + N(0, I/d) with ||mu||^2 = 0.02, n = 20, d = 1000; linear and two-layer (m = 50) models;
    test accuracy on fresh points of the original (method "original"), GA-unlearned and retrained
    models, with epsilon, tau and cosine to retrained. Expected: the unlearned model's test accuracy
    matches the retrained one's, and it is closer to the retrained model than the original is.
    """
    t0 = time.perf_counter()
    grid = _grid("mixture", quick, data="mixture", model=["linear", "relu"], method=["original", "ga", "retrain"],
                 mia=True, **override)
    all_rows = _sweep(grid, n_jobs, progress, backend)
    rows = _ok(all_rows)
    cols = ["test_acc", "retained_acc", "forget_margin_mean", "goldstein_epsilon", "tau", "cos_to_retrained",
            "mia_threshold_auc"]
    cols = [c for c in cols if c in rows]
    summary, mean = _mean_std(rows, ["model", "method"], cols)
    gap = max(abs(mean.loc[(mo, "ga"), "test_acc"] - mean.loc[(mo, "retrain"), "test_acc"])
              for mo in mean.index.get_level_values(0).unique())
    checks = {"max_test_acc_gap_ga_vs_retrain": float(gap),
              "min_test_acc_ga": float(mean.xs("ga", level=1)["test_acc"].min()),
              "ga_closer_than_original": bool(np.all(
                  mean.xs("ga", level=1)["cos_to_retrained"].to_numpy()
                  > mean.xs("original", level=1)["cos_to_retrained"].to_numpy()))}
    fig = None
    if out is not None:
        from .plotting import new_figure, plot_methods

        fig, axes = new_figure(2, 1)
        for k, mo in enumerate(["linear", "relu"]):
            sub = rows[rows["model"] == mo]
            if len(sub):
                plot_methods(sub, "test_acc", ax=axes[0, k], order=["original", "ga", "retrain"])
                axes[0, k].set_title(f"{mo}: ||mu||^2 = {grid['mu_norm'] ** 2:.3g}, n = {grid['n']}, d = {grid['d']}")
                lo = float(sub["test_acc"].min())
                axes[0, k].set_ylim(max(0.0, lo - 0.05), 1.0)
    return _finish("mixture", quick, all_rows, summary, checks, fig, out, verbose, t0)


# -------------------------------------------------------------------------------------------- orthogonality
def orthogonality(quick: bool = False, out: Optional[str] = None, n_jobs: Optional[int] = None,
                  progress: bool = False, verbose: bool = True, backend: str = "local",
                  **override: Any) -> Reproduction:
    """Stress test of the near-orthogonality assumption (GA spec 4.5, open question 4).

    Data `correlated(n, d, rho)`: E <x_i, x_j> = rho. Two-layer network, GA (step_scale 1, Clarke step);
    epsilon (Goldstein), tau and cosine to retrained against rho. Expected: phi grows with rho, and with
    it tau (bounded by lambda_r phi) and epsilon; the cosine to the retrained model degrades.
    """
    t0 = time.perf_counter()
    grid = _grid("orthogonality", quick, data="correlated", method="ga", mia=False, n_test=100, **override)
    all_rows = _sweep(grid, n_jobs, progress, backend)
    rows = _ok(all_rows)
    cols = ["phi", "goldstein_epsilon", "tau", "cos_to_retrained", "cos_original_to_retrained", "retained_acc"]
    cols = [c for c in cols if c in rows]
    summary, mean = _mean_std(rows, ["rho"], cols)
    checks = {"phi_increasing": bool(np.all(np.diff(mean["phi"].to_numpy()) > 0)),
              "tau_at_rho0": float(mean["tau"].iloc[0]), "tau_at_max_rho": float(mean["tau"].iloc[-1]),
              "cos_at_rho0": float(mean["cos_to_retrained"].iloc[0]),
              "cos_at_max_rho": float(mean["cos_to_retrained"].iloc[-1])}
    if "goldstein_epsilon" in mean:
        checks.update({"epsilon_at_rho0": float(mean["goldstein_epsilon"].iloc[0]),
                       "epsilon_at_max_rho": float(mean["goldstein_epsilon"].iloc[-1])})
    fig = None
    if out is not None:
        from .plotting import new_figure, plot_metric

        fig, axes = new_figure(3, 1)
        plot_metric(rows, "rho", "goldstein_epsilon", ax=axes[0, 0])
        plot_metric(rows, "rho", "tau", ax=axes[0, 1])
        plot_metric(rows, "rho", "cos_to_retrained", ax=axes[0, 2], label_prefix="GA-unlearned ")
        plot_metric(rows, "rho", "cos_original_to_retrained", ax=axes[0, 2], label_prefix="original ")
        axes[0, 2].set_ylabel(r"$\cos(\cdot, \theta_{retrain})$")
    return _finish("orthogonality", quick, all_rows, summary, checks, fig, out, verbose, t0)


# ------------------------------------------------------------------------------------------------- newton
#: methods of the newton reproduction and their options (the Newton paper's baselines, spec 2.2, 8.6)
NEWTON_METHODS: Dict[str, Dict[str, Any]] = {
    "retrain": {},
    "ga": {"step_scale": 1.0},
    "neggrad_plus": {},
    "finetune": {},
    "pinv_newton": {},
    "damped_newton": {"damping": 1e-4},
    "cure_newton": {"M": 1.0},
}


def newton_task(seed: int = 0, n: int = 40, d: int = 100, m: int = 20, mu_norm: float = 0.15, n_forget: int = 4,
                rounds: int = 5, max_iter: int = 1000, n_test: int = 1000, loss: str = "logistic", lr: float = 2.0,
                label_noise: float = 0.0, methods: Optional[List[str]] = None, protocol: str = "both",
                n_threads: int = 1) -> List[Dict[str, Any]]:
    """One seed of the newton reproduction: rows per (protocol, method, round).

    Data: Gaussian mixture (so test accuracy is meaningful), a two-layer ReLU network (fixed outer
    weights) trained by plain GD (constant lr) on the mean logistic loss, so that, as in the Newton
    paper, the original model sits near a minimizer of a loss that is not yet ~0. batch: one request forgetting n_forget random points;
    sequential: `rounds` requests of n_forget points each, served one after another on the current model
    and the shrinking retained set (unlearn_sequence); the oracle of round k is retraining on
    S minus the union of the first k requests, from the same initialization.
    """
    from . import datasets
    from .metrics import evaluate_unlearning
    from .models import TwoLayerReLU, clone
    from .unlearning import unlearn, unlearn_sequence

    methods = list(NEWTON_METHODS) if methods is None else list(methods)
    gm = datasets.gaussian_mixture(n, d, mu_norm=mu_norm, label_noise=label_noise, seed=seed)
    X, y = gm.X, gm.y
    Xt, yt = gm.test(n_test, seed=seed + 7919)
    net = TwoLayerReLU(width=m, random_state=seed, max_iter=max_iter, loss=loss, lr=lr, normalized_gd=False,
                       n_threads=n_threads).fit(X, y)
    rng = np.random.default_rng([3, seed])
    perm = rng.permutation(n)
    requests = [sorted(perm[k * n_forget:(k + 1) * n_forget].tolist()) for k in range(rounds)]
    rows: List[Dict[str, Any]] = []
    base = dict(seed=seed, n=n, d=d, m=m, mu_norm=mu_norm, n_forget=n_forget, loss=loss, lr=lr,
                original_test_acc=float(np.mean(net.margins(Xt, yt) > 0)))

    def retrained_on(forgotten):
        keep = np.ones(n, dtype=bool)
        keep[forgotten] = False
        return clone(net).fit(X[keep], y[keep])

    if protocol not in ("both", "batch", "sequential"):
        raise ValueError(f"protocol must be 'both', 'batch' or 'sequential', got {protocol!r}")
    # batch: the first request
    oracle = retrained_on(requests[0])
    for meth in (methods if protocol in ("both", "batch") else []):
        t0 = time.perf_counter()
        try:
            model = oracle if meth == "retrain" else unlearn(net, X, y, requests[0], method=meth,
                                                               **NEWTON_METHODS.get(meth, {}))
            err = None
        except (ValueError, ArithmeticError, RuntimeError) as exc:  # e.g. a singular Hessian
            model, err = None, f"{type(exc).__name__}: {exc}"[:200]
        elapsed = time.perf_counter() - t0
        row = dict(base, protocol="batch", method=meth, round=1)
        if model is not None:
            row.update(evaluate_unlearning(net, model, X, y, requests[0], retrained=oracle, X_test=Xt, y_test=yt,
                                           mia=False))
            row["wall_time"] = oracle.fit_time_ if meth == "retrain" else row.get("wall_time", elapsed)
        row["error"] = err
        rows.append(row)
    # sequential: 5 rounds
    oracles = []
    forgotten: List[int] = []
    for req in requests:
        forgotten = sorted(forgotten + req)
        oracles.append((list(forgotten), retrained_on(forgotten)))
    for meth in (methods if protocol in ("both", "sequential") else []):
        if meth == "retrain":
            models = [o for _, o in oracles]
            err = None
        else:
            try:
                res = unlearn_sequence(net, X, y, requests, method=meth, kkt=False, **NEWTON_METHODS.get(meth, {}))
                models = list(res[0] if isinstance(res, tuple) else getattr(res, "models", res))
                err = None
            except (ValueError, ArithmeticError, RuntimeError) as exc:
                models, err = [], f"{type(exc).__name__}: {exc}"[:200]
        prev = net
        for k, (gone, oracle_k) in enumerate(oracles):
            row = dict(base, protocol="sequential", method=meth, round=k + 1)
            if k < len(models):
                mk = models[k]
                row.update(evaluate_unlearning(net, mk, X, y, gone, retrained=oracle_k, X_test=Xt, y_test=yt,
                                               mia=False))
                row["round_step_norm"] = float(np.sqrt(mk._sqdist_theta(prev)))  # from the states, no W formed
                if meth == "retrain":
                    row["wall_time"] = mk.fit_time_
                prev = mk
            row["error"] = err
            rows.append(row)
    return rows


def newton(quick: bool = False, out: Optional[str] = None, n_jobs: Optional[int] = None, progress: bool = False,
           verbose: bool = True, backend: str = "local", **override: Any) -> Reproduction:
    """Newton paper's headline (Newton spec 2.3, 5, 6.3, 9) on a two-layer ReLU network.

    Methods: retraining (oracle), GA (KKT step), NegGrad+, fine-tuning, pseudo-inverse Newton, damped
    Newton and cubic-regularized Newton (CureNewton) on the retained loss; batch (one request) and
    sequential (5 requests) protocols. Reported: update norm ||theta^- - theta||, retained and test
    accuracy, epsilon on the retained set, cosine to the oracle, wall time. Expected: pinv and damped
    Newton take far larger steps than the cubic one (and lose accuracy); the cubic step stays small
    and keeps retained / test accuracy.
    """
    t0 = time.perf_counter()
    grid = _grid("newton", quick, protocol=["batch", "sequential"], **override)
    all_rows = _sweep(grid, n_jobs, progress, backend, experiment=newton_task)
    rows = all_rows
    cols = ["step_norm", "retained_acc", "test_acc", "goldstein_epsilon", "cos_to_retrained", "wall_time"]
    cols = [c for c in cols if c in rows]
    ok = rows[rows["error"].isna()] if "error" in rows else rows
    last = ok[(ok["protocol"] == "batch") | (ok["round"] == ok["round"].max())]
    summary, mean = _mean_std(last, ["protocol", "method"], cols)
    b = mean.loc["batch"]
    checks = {f"batch_step_norm_{k}": float(b.loc[k, "step_norm"]) for k in b.index}
    if {"pinv_newton", "cure_newton"} <= set(b.index):
        checks["pinv_over_cubic_norm"] = float(b.loc["pinv_newton", "step_norm"] / b.loc["cure_newton", "step_norm"])
    if "damped_newton" in b.index and "cure_newton" in b.index:
        checks["damped_over_cubic_norm"] = float(b.loc["damped_newton", "step_norm"] / b.loc["cure_newton", "step_norm"])
    fig = None
    if out is not None:
        from .plotting import new_figure, plot_methods, plot_metric

        fig, axes = new_figure(4, 1, width=4.6)
        bt = ok[ok["protocol"] == "batch"]
        order = list(NEWTON_METHODS)
        plot_methods(bt, "step_norm", ax=axes[0, 0], logy=True, order=order)
        axes[0, 0].set_title("batch: update norm")
        plot_methods(bt, "test_acc", ax=axes[0, 1], order=order)
        lo = float(bt["test_acc"].min()) if len(bt) else 0.0
        axes[0, 1].set_ylim(max(0.0, lo - 0.1), 1.0)
        axes[0, 1].set_title("batch: test accuracy")
        sq = ok[ok["protocol"] == "sequential"]
        if len(sq):
            plot_metric(sq, "round", "cos_to_retrained", hue="method", ax=axes[0, 2], band=False)
            axes[0, 2].set_title("sequential: closeness to the oracle")
            plot_metric(sq, "round", "test_acc", hue="method", ax=axes[0, 3], band=False, legend=False)
            axes[0, 3].set_title("sequential: test accuracy")
    return _finish("newton", quick, all_rows, summary, checks, fig, out, verbose, t0)


REPRODUCTIONS: Dict[str, Callable[..., Reproduction]] = {
    "fig1": fig1, "linear": linear, "mixture": mixture, "newton": newton, "orthogonality": orthogonality,
}


def run(name: str, quick: bool = False, out: Optional[str] = "kktunlearn-results", **kwargs: Any) -> Reproduction:
    """Run the reproduction `name` (one of REPRODUCTIONS)."""
    if name not in REPRODUCTIONS:
        raise ValueError(f"unknown reproduction {name!r}; choose one of {sorted(REPRODUCTIONS)}")
    return REPRODUCTIONS[name](quick=quick, out=out, **kwargs)

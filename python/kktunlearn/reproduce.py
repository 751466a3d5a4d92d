"""Reproductions of the papers' experiments: `kktunlearn reproduce NAME [--quick] [--out DIR]`.

Each function runs its experiment (in parallel through kktunlearn.sweep), writes NAME.csv (every row)
and NAME.png (the figure) into `out`, prints a short table and returns a Reproduction (rows, summary
table, file paths and the named checks of the expected shape). quick=True is a reduced version that
runs in well under two minutes on two cores; the full version is the papers' setting as far as it is
stated (Figure 1's n, d, m are not; ours are listed in SETTINGS). Every reproduction also writes NAME.txt,
the figure's caption (setting, what each curve measures, seeds and spread), and prints `checks:` lines
that end in PASS or FAIL against a stated expectation. The settings of both versions are listed in SETTINGS.

  fig1           GA paper, Figure 1: retained-set epsilon (literal and relaxed readings) against the step
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
    verdicts: List[Any] = dataclasses.field(default_factory=list)  # (name, value, expectation, passed)
    caption: str = ""
    caption_path: Optional[str] = None

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


def _expect(verdicts: List[Any], name: str, value: Any, expectation: str, passed: Any) -> None:
    """Record one check of the expected shape: its value, the expectation in words, PASS/FAIL."""
    verdicts.append((name, value, expectation, bool(passed)))


def _finish(name: str, quick: bool, rows: Any, summary: Any, checks: Dict[str, Any], fig: Any,
            out: Optional[str], verbose: bool, t0: float, verdicts: Optional[List[Any]] = None,
            caption: str = "") -> Reproduction:
    verdicts = list(verdicts or [])
    failed_msgs: List[Any] = []
    if "error" in rows.columns:
        failed = rows["error"].notna()
        checks["n_failed"] = int(failed.sum())
        failed_msgs = list(rows.loc[failed, "error"].value_counts().items())
    csv_path = fig_path = cap_path = None
    n_rows = len(rows)
    if caption:
        caption = caption.rstrip() + (f"\nRows: {n_rows - checks.get('n_failed', 0)} of {n_rows} succeeded; failed rows "
                                      "are excluded from every mean and band.\n")
    if out is not None:
        os.makedirs(out, exist_ok=True)
        csv_path = os.path.join(out, f"{name}.csv")
        rows.to_csv(csv_path, index=False)
        if fig is not None:
            fig_path = os.path.join(out, f"{name}.png")
            fig.savefig(fig_path, dpi=150, bbox_inches="tight")
        if caption:
            cap_path = os.path.join(out, f"{name}.txt")
            with open(cap_path, "w", encoding="utf-8") as fh:
                fh.write(caption)
    res = Reproduction(name, quick, rows, summary, checks, csv_path, fig_path, time.perf_counter() - t0,
                       verdicts=verdicts, caption=caption, caption_path=cap_path)
    if verbose:
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_columns", 30, "display.max_colwidth", None):
            print(f"== {name} ({'quick' if quick else 'full'}; {len(rows)} rows, {res.seconds:.1f} s) ==")
            print(summary.to_string(index=False))
            if failed_msgs:
                print(f"failed rows: {checks['n_failed']} of {n_rows} (excluded from the table's means):")
                for msg, cnt in failed_msgs:
                    print(f"  {cnt} x {msg}")
            print("checks:")
            for k, v, expect, ok in verdicts:
                print(f"  {k} = {_fmt(v)}  (expected: {expect})  {'PASS' if ok else 'FAIL'}")
            judged = {k for k, *_ in verdicts}
            rest = [k for k in checks if k not in judged and k != "n_failed"]
            if rest:
                print("recorded (no stated expectation): " + ", ".join(f"{k} = {_fmt(checks[k])}" for k in rest))
            if csv_path:
                print(f"wrote {csv_path}" + (f", {fig_path}" if fig_path else "") + (f" and {cap_path}" if cap_path else ""))
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
    """GA paper (arXiv 2510.14844), Figure 1: retained-set epsilon against the step scale alpha.

    Near-orthogonal data (n = 20, d = 1000), a two-layer ReLU network of width 100 with fixed outer
    weights +-1/sqrt(m), exponential loss, normalized GD (4000 steps) from init scale 1e-3; forget point
    r; theta^-(alpha) = theta - alpha lambda_r y_r h_r (the Thm 4.1 step scaled by alpha; Clarke-consistent
    h_r, and in the full version also the autograd h_r with sigma'(0) = 0). epsilon of theta^- on S_retain
    in the original model's scale, in both readings: literal (Clarke subdifferential at theta^-, kink
    tolerance 1e-3) and relaxed (Goldstein-type, radius r = the pre-activation displacement of the alpha = 1
    step, one r per (seed, forgotten point), the same for every alpha); tau and cosine to the retrained
    network (same init). Mean and spread over seeds and forgotten points.
    Expected shape: the relaxed curve is a V with its minimum at alpha = 1, equal to about the original
    model's epsilon; the literal curve does not dip at alpha = 1 (the step moves pairs off the kink);
    cosine to retrained peaks near alpha = 1; tau grows with alpha.
    """
    t0 = time.perf_counter()
    grid = _grid("fig1", quick, mia=False, n_test=100, **override)
    all_rows = _sweep(grid, n_jobs, progress, backend)
    rows = _ok(all_rows)
    cols = ["literal_epsilon", "relaxed_epsilon", "relaxed_free_fraction", "tau", "cos_to_retrained"]
    summary, mean = _mean_std(rows, ["subgradient", "step_scale"], cols)
    m = mean.loc["clarke"] if "clarke" in mean.index.get_level_values(0) else mean.xs(mean.index[0][0])
    argmin = float(m["relaxed_epsilon"].idxmin())
    orig = float(rows["orig_epsilon"].mean()) if "orig_epsilon" in rows else float("nan")
    at0 = float(m["relaxed_epsilon"].loc[0.0]) if 0.0 in m.index else float("nan")
    mn = float(m["relaxed_epsilon"].min())
    lit1 = float(m["literal_epsilon"].loc[1.0]) if 1.0 in m.index else float("nan")
    checks = {"argmin_alpha_relaxed": argmin, "min_relaxed_epsilon": mn, "original_epsilon": orig,
              "relaxed_epsilon_at_0": at0, "literal_epsilon_at_1": lit1,
              "relaxed_radius_mean": float(rows["relaxed_radius"].mean()),
              "argmax_alpha_cosine": float(m["cos_to_retrained"].idxmax()),
              "tau_increasing": bool(np.all(np.diff(m["tau"].to_numpy()) >= -1e-12))}
    v: List[Any] = []
    _expect(v, "argmin_alpha_relaxed", argmin, "in [0.9, 1.1] (the Thm 4.1 step size)", 0.9 <= argmin <= 1.1)
    _expect(v, "min_relaxed_epsilon", mn, f"<= 2 x original epsilon + 0.05 = {2 * orig + 0.05:.4g}",
            mn <= 2 * orig + 0.05)
    _expect(v, "relaxed_epsilon_at_0", at0, "> 3 x the minimum (doing nothing leaves x_r's term)", at0 > 3 * mn)
    _expect(v, "argmax_alpha_cosine", checks["argmax_alpha_cosine"], "in [0.75, 1.25]",
            0.75 <= checks["argmax_alpha_cosine"] <= 1.25)
    _expect(v, "tau_increasing", checks["tau_increasing"], "True (tau grows with alpha)", checks["tau_increasing"])
    n_seeds = rows["seed"].nunique() if "seed" in rows else 0
    n_f = rows["forget"].nunique() if "forget" in rows else 0
    caption = (
        f"Figure 1 (reproduction of Melamed, Yehudai & Vardi 2025, arXiv 2510.14844, Figure 1). Setting: n = {grid['n']} "
        f"near-orthogonal points x ~ N(0, I/d), d = {grid['d']}, random labels; two-layer ReLU network, width "
        f"m = {grid['m']}, fixed outer weights +-1/sqrt(m), exponential loss, normalized GD for {grid['max_iter']} "
        f"steps from init scale 1e-3. One point x_r is forgotten by theta^-(alpha) = theta - alpha lambda_r y_r h_r "
        "(alpha = 1: the step size of Thm 4.1; h_r Clarke-consistent unless marked 'autograd').\n"
        "Left: epsilon = min over lambda >= 0 of ||theta^- - sum_{i != r} lambda_i y_i h_i|| on the retained set, in "
        "the original model's normalization (min margin 1 on S). 'literal': h_i in the Clarke subdifferential at "
        "theta^- itself (a pair is at the ReLU kink when |<w_j, x_i>| <= 1e-3); 'relaxed': Goldstein-type, every "
        "pair within radius r of the kink is free, r = the largest pre-activation change of the alpha = 1 step on "
        f"a retained point (mean r = {checks['relaxed_radius_mean']:.3g}), fixed for all alpha. "
        "Middle: tau = max(0, 1 - min_i y_i N(x_i; theta^-)) (margin lost, original scale). "
        "Right: cos(theta^-, theta_retrain), theta_retrain trained on S without x_r from the same init.\n"
        f"Lines: mean over {n_seeds} seeds x {n_f} forgotten points; bands: +- 1 standard deviation over those runs, "
        "clipped at 0 (at 1 for the cosine). Dotted: alpha = 1.\n")
    fig = None
    if out is not None:
        from .plotting import new_figure, outside_legend, plot_fig1, plot_metric

        fig, axes = new_figure(3, 1, width=5.2)
        hue = "subgradient" if rows["subgradient"].nunique() > 1 else None
        plot_fig1(rows, ax=axes[0, 0], hue=hue)
        axes[0, 0].set_title("retained-set epsilon (both readings)")
        plot_metric(rows, "step_scale", "tau", hue=hue, ax=axes[0, 1], logy=False)
        axes[0, 1].set_title("tau (margin lost)")
        plot_metric(rows, "step_scale", "cos_to_retrained", hue=hue, ax=axes[0, 2], logy=False)
        axes[0, 2].set_title("cosine to the retrained network")
        for a in axes[0, 1:]:
            a.axvline(1.0, color="gray", linestyle=":", linewidth=1)
        fig.suptitle(f"GA unlearning, Figure 1 (n={grid['n']}, d={grid['d']}, m={grid['m']})")
    return _finish("fig1", quick, all_rows, summary, checks, fig, out, verbose, t0, v, caption)


# ------------------------------------------------------------------------------------------------ linear
def linear(quick: bool = False, out: Optional[str] = None, n_jobs: Optional[int] = None, progress: bool = False,
           verbose: bool = True, backend: str = "local", **override: Any) -> Reproduction:
    """GA paper (arXiv 2510.14844), the linear theorem: GA on the linear max-margin predictor as d grows.

    Near-orthogonal data, LinearModel (exponential loss, normalized GD from w = 0), forget x_0, GA with
    step_scale 1. Reported per d: cosine of the unlearned and of the original predictor with the
    retrained one, epsilon, delta, tau on S_retain (linear model: no kinks, so literal = relaxed) and
    phi. Expected: cos(unlearned, retrained) -> 1 and above cos(original, retrained); tau <= lambda_r phi
    shrinks like sqrt(log n / d).
    """
    t0 = time.perf_counter()
    grid = _grid("linear", quick, model="linear", method="ga", mia=False, n_test=100, **override)
    all_rows = _sweep(grid, n_jobs, progress, backend)
    rows = _ok(all_rows)
    cols = ["cos_to_retrained", "cos_original_to_retrained", "literal_epsilon", "literal_delta", "tau", "phi"]
    cols = [c for c in cols if c in rows]
    summary, mean = _mean_std(rows, ["d"], cols)
    ds = mean.index.to_numpy()
    checks = {"cos_at_max_d": float(mean["cos_to_retrained"].iloc[-1]),
              "cos_original_at_max_d": float(mean["cos_original_to_retrained"].iloc[-1]),
              "tau_at_min_d": float(mean["tau"].iloc[0]), "tau_at_max_d": float(mean["tau"].iloc[-1]),
              "d_range": (int(ds[0]), int(ds[-1]))}
    v: List[Any] = []
    _expect(v, "cos_at_max_d", checks["cos_at_max_d"], f"> cos_original_at_max_d = {checks['cos_original_at_max_d']:.4g}",
            checks["cos_at_max_d"] > checks["cos_original_at_max_d"])
    _expect(v, "tau_at_max_d", checks["tau_at_max_d"], f"< tau_at_min_d = {checks['tau_at_min_d']:.4g}",
            checks["tau_at_max_d"] < checks["tau_at_min_d"])
    ns = rows["seed"].nunique()
    caption = (
        f"Linear theorem (arXiv 2510.14844, linear predictors). n = {grid['n']} near-orthogonal points, d from {ds[0]} to "
        f"{ds[-1]}; LinearModel trained by normalized GD on the exponential loss from w = 0; x_0 forgotten by the GA "
        "step w^- = w - lambda_0 y_0 x_0 (normalized model). Left: cos(w^-, w_retrain) and cos(w, w_retrain). Middle: "
        "tau = max(0, 1 - min_i y_i <w^-, x_i>) in the original scale. Right: epsilon / ||w^-|| on S_retain (the linear "
        f"model has no kinks, so the literal and relaxed readings coincide; the exact step keeps stationarity, so "
        f"it is 0 up to rounding: values below 1e-12 are drawn as 0). Mean over {ns} seeds; bands +- 1 standard "
        "deviation, clipped at 0 (at 1 for the cosine); log scales where values span decades.\n")
    fig = None
    if out is not None:
        from .plotting import new_figure, plot_metric

        fig, axes = new_figure(3, 1)
        plot_metric(rows, "d", "cos_to_retrained", ax=axes[0, 0], logx=True, logy=False, name="GA-unlearned")
        plot_metric(rows, "d", "cos_original_to_retrained", ax=axes[0, 0], logx=True, logy=False, name="original")
        axes[0, 0].set_ylabel(r"$\cos(\cdot, w_{retrain})$")
        axes[0, 0].set_title("closeness to the retrained predictor")
        plot_metric(rows, "d", "tau", ax=axes[0, 1], logx=True, logy=True)
        axes[0, 1].set_title("tau (margin lost)")
        if "literal_epsilon_rel" in rows:
            plot_metric(rows, "d", "literal_epsilon_rel", ax=axes[0, 2], logx=True, logy=False, floor=1e-12)
            axes[0, 2].set_ylabel(r"$\varepsilon / \|w^-\|$ on $S_{ret}$ (values $< 10^{-12}$: 0)")
            axes[0, 2].set_title("retained-set epsilon (0 up to rounding)")
    return _finish("linear", quick, all_rows, summary, checks, fig, out, verbose, t0, v, caption)


# ----------------------------------------------------------------------------------------------- mixture
def mixture(quick: bool = False, out: Optional[str] = None, n_jobs: Optional[int] = None, progress: bool = False,
            verbose: bool = True, backend: str = "local", **override: Any) -> Reproduction:
    """GA paper (arXiv 2510.14844), the Gaussian-mixture generalization result.

    x = y mu + N(0, I/d) with ||mu||^2 = 0.02, n = 20, d = 1000; linear and two-layer (m = 50) models;
    test accuracy on fresh points of the original (method "original"), GA-unlearned and retrained
    models, with epsilon (both readings), tau and cosine to retrained. Expected: the unlearned model's
    test accuracy matches the retrained one's, and it is closer to the retrained model than the original is.
    """
    t0 = time.perf_counter()
    grid = _grid("mixture", quick, data="mixture", model=["linear", "relu"], method=["original", "ga", "retrain"],
                 mia=True, **override)
    all_rows = _sweep(grid, n_jobs, progress, backend)
    rows = _ok(all_rows)
    cols = ["test_acc", "retained_acc", "forget_margin_mean", "literal_epsilon", "relaxed_epsilon", "tau",
            "cos_to_retrained", "mia_threshold_auc"]
    cols = [c for c in cols if c in rows]
    summary, mean = _mean_std(rows, ["model", "method"], cols)
    gap = max(abs(mean.loc[(mo, "ga"), "test_acc"] - mean.loc[(mo, "retrain"), "test_acc"])
              for mo in mean.index.get_level_values(0).unique())
    checks = {"max_test_acc_gap_ga_vs_retrain": float(gap),
              "min_test_acc_ga": float(mean.xs("ga", level=1)["test_acc"].min()),
              "ga_closer_than_original": bool(np.all(
                  mean.xs("ga", level=1)["cos_to_retrained"].to_numpy()
                  > mean.xs("original", level=1)["cos_to_retrained"].to_numpy()))}
    v: List[Any] = []
    _expect(v, "max_test_acc_gap_ga_vs_retrain", gap, "<= 0.02", gap <= 0.02)
    _expect(v, "ga_closer_than_original", checks["ga_closer_than_original"], "True", checks["ga_closer_than_original"])
    ns = rows["seed"].nunique()
    caption = (
        f"Gaussian mixture (arXiv 2510.14844, generalization after GA). x = y mu + N(0, I/d), ||mu||^2 = "
        f"{grid['mu_norm'] ** 2:.3g}, n = {grid['n']}, d = {grid['d']}; linear model and two-layer ReLU (m = {grid['m']}). "
        "Bars: test accuracy on fresh points of the original model, the GA-unlearned model (one Thm 4.1 step) and "
        f"the model retrained without the forgotten point (same init). Mean over {ns} seeds x forgotten points, error "
        "bars +- 1 standard deviation.\n")
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
    return _finish("mixture", quick, all_rows, summary, checks, fig, out, verbose, t0, v, caption)


# -------------------------------------------------------------------------------------------- orthogonality
def orthogonality(quick: bool = False, out: Optional[str] = None, n_jobs: Optional[int] = None,
                  progress: bool = False, verbose: bool = True, backend: str = "local",
                  **override: Any) -> Reproduction:
    """Stress test of the near-orthogonality assumption of arXiv 2510.14844 (|<x_i, x_j>| <= phi small).

    Data `correlated(n, d, rho)`: E <x_i, x_j> = rho. Two-layer network, GA (step_scale 1, Clarke step);
    epsilon (both readings), tau and cosine to retrained against rho. Expected: phi grows with rho, and
    with it tau (bounded by lambda_r phi) and epsilon; the cosine to the retrained model degrades.
    """
    t0 = time.perf_counter()
    grid = _grid("orthogonality", quick, data="correlated", method="ga", mia=False, n_test=100, **override)
    all_rows = _sweep(grid, n_jobs, progress, backend)
    rows = _ok(all_rows)
    cols = ["phi", "literal_epsilon", "relaxed_epsilon", "relaxed_radius", "relaxed_free_fraction", "tau",
            "cos_to_retrained", "cos_original_to_retrained", "retained_acc"]
    cols = [c for c in cols if c in rows]
    summary, mean = _mean_std(rows, ["rho"], cols)
    checks = {"phi_increasing": bool(np.all(np.diff(mean["phi"].to_numpy()) > 0)),
              "tau_at_rho0": float(mean["tau"].iloc[0]), "tau_at_max_rho": float(mean["tau"].iloc[-1]),
              "cos_at_rho0": float(mean["cos_to_retrained"].iloc[0]),
              "cos_at_max_rho": float(mean["cos_to_retrained"].iloc[-1])}
    if "relaxed_epsilon" in mean:
        checks.update({"epsilon_at_rho0": float(mean["relaxed_epsilon"].iloc[0]),
                       "epsilon_at_max_rho": float(mean["relaxed_epsilon"].iloc[-1])})
    v: List[Any] = []
    _expect(v, "phi_increasing", checks["phi_increasing"], "True", checks["phi_increasing"])
    _expect(v, "cos_at_max_rho", checks["cos_at_max_rho"], f"< cos_at_rho0 = {checks['cos_at_rho0']:.4g}",
            checks["cos_at_max_rho"] < checks["cos_at_rho0"])
    ns = rows["seed"].nunique()
    caption = (
        f"Near-orthogonality stress test. n = {grid['n']}, d = {grid['d']}, rows with pairwise correlation "
        f"E<x_i, x_j> = rho; two-layer ReLU (m = {grid['m']}), one GA step (Thm 4.1 size, Clarke-consistent). Left: "
        "retained-set epsilon in both readings (literal: Clarke at theta^-; relaxed: radius r = the step's largest "
        "pre-activation change on a retained point, which grows with rho and frees most pairs at large rho: read "
        "the literal curve there), original scale. Middle: tau. Right: cosine to the retrained "
        f"network, and of the original network. Mean over {ns} seeds x forgotten points; bands +- 1 standard "
        "deviation clipped at 0 (and at 1 for the cosine); log scale for epsilon.\n")
    fig = None
    if out is not None:
        from .plotting import new_figure, plot_metric

        fig, axes = new_figure(3, 1)
        plot_metric(rows, "rho", "literal_epsilon", ax=axes[0, 0], name="literal", logy=True)
        plot_metric(rows, "rho", "relaxed_epsilon", ax=axes[0, 0], name="relaxed", logy=True)
        axes[0, 0].set_ylabel(r"$\varepsilon$ on $S_{ret}$")
        axes[0, 0].set_title("retained-set epsilon")
        plot_metric(rows, "rho", "tau", ax=axes[0, 1])
        axes[0, 1].set_title("tau (margin lost)")
        plot_metric(rows, "rho", "cos_to_retrained", ax=axes[0, 2], logy=False, name="GA-unlearned")
        plot_metric(rows, "rho", "cos_original_to_retrained", ax=axes[0, 2], logy=False, name="original")
        axes[0, 2].set_ylabel(r"$\cos(\cdot, \theta_{retrain})$")
        axes[0, 2].set_title("closeness to the retrained network")
    return _finish("orthogonality", quick, all_rows, summary, checks, fig, out, verbose, t0, v, caption)


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
            model, err = None, f"{type(exc).__name__}: {exc}"
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
                models, err = [], f"{type(exc).__name__}: {exc}"
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
    cols = ["step_norm", "retained_acc", "test_acc", "literal_epsilon", "relaxed_epsilon", "tau", "cos_to_retrained",
            "wall_time"]
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

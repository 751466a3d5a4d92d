"""Plots of sweep DataFrames (matplotlib is an optional dependency, imported when a plot is drawn).

Every function takes the tidy DataFrame of kktunlearn.sweep.sweep (or a reproduction's CSV) and an
optional matplotlib Axes, draws on it and returns it. Axis labels name the quantity and its formula
(LABELS). Points are means over the rows sharing an x value (seeds, forgotten points); the band or
error bar is +- one standard deviation.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np

__all__ = ["LABELS", "label", "plot_metric", "plot_fig1", "plot_methods", "new_figure"]

#: axis label of each metric column: the quantity and its formula
LABELS: Dict[str, str] = {
    "step_scale": r"step scale $\alpha = \beta / \beta_{\mathrm{Thm\,4.1}}$,  $\beta_{\mathrm{Thm\,4.1}} = \lambda_r / |\ell'(q_r)|$",
    "epsilon": r"$\varepsilon = \min_{\lambda \geq 0} \|\theta^- - \sum_{i \in S_{ret}} \lambda_i y_i \nabla N(x_i)\|$",
    "plain_epsilon": r"$\varepsilon_{plain}$ ($\sigma'(0) = 0$) $= \min_{\lambda\geq 0}\|\theta^- - \sum_i \lambda_i y_i \nabla N(x_i)\|$",
    "clarke_epsilon": r"$\varepsilon_{Clarke}$: $\sigma'(z) \in [0,1]$ for $|z| \leq$ tol",
    "goldstein_epsilon": r"$\varepsilon_{Goldstein}$: tol $= 10^{-3} +$ step displacement",
    "epsilon_rel": r"$\varepsilon / \|\theta\|$",
    "tau": r"$\tau = \max(0,\ 1 - \min_{i \in S_{ret}} y_i N(x_i; \theta^-) / q_{\min}(\theta))$",
    "delta": r"$\delta = \max_i \lambda_i (y_i N(x_i) - 1)$",
    "cos_to_retrained": r"$\cos(\theta^-, \theta_{retrain}) = \langle\theta^-, \theta_r\rangle / (\|\theta^-\|\|\theta_r\|)$",
    "cos_original_to_retrained": r"$\cos(\theta, \theta_{retrain})$",
    "test_acc": r"test accuracy $= \frac{1}{n_{test}} \sum_i 1[y_i N(x_i) > 0]$",
    "original_test_acc": r"test accuracy of $\theta$",
    "retained_acc": r"retained accuracy $= \frac{1}{|S_{ret}|}\sum_{i \in S_{ret}} 1[q_i > 0]$",
    "forget_acc": r"forget accuracy $= \frac{1}{|F|}\sum_{i \in F} 1[q_i > 0]$",
    "forget_margin_mean": r"forget margin $y_r N(x_r; \theta^-) / q_{\min}(\theta)$",
    "step_norm": r"update norm $\|\theta^- - \theta\|_2$",
    "wall_time": "wall time (s)",
    "mia_threshold_auc": r"MIA AUC (loss threshold) $= P(q_F > q_H)$",
    "mia_lr_auc": r"MIA AUC (logistic regression on $(q, q^2)$)",
    "d": r"input dimension $d$",
    "n": r"training points $n$",
    "m": r"width $m$",
    "rho": r"correlation $\rho = E\langle x_i, x_j\rangle$",
    "phi": r"$\varphi = \max_{i \neq j} |\langle x_i, x_j\rangle|$",
    "psi": r"$\psi = \max_i |1 - \|x_i\|^2|$",
    "round": "sequential round $k$",
}


def label(column: str) -> str:
    """Axis label for a column (its formula when known, else the column name)."""
    return LABELS.get(column, column)


def _plt():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("plotting needs matplotlib: pip install 'kktunlearn[experiments]' "
                          "(or pip install matplotlib)") from exc
    return plt


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 5.0, height: float = 3.8):
    """A matplotlib Figure and its axes that need no display (no pyplot state, any backend)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("plotting needs matplotlib: pip install 'kktunlearn[experiments]'") from exc
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _ax(ax):
    if ax is None:
        _, ax = _plt().subplots()
    return ax


def _check(df: Any, cols: Sequence[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"the DataFrame has no column(s) {missing}; available: {list(df.columns)}")


def plot_metric(df: Any, x: str, y: str, hue: Optional[str] = None, ax: Any = None, logx: bool = False,
                logy: bool = False, band: bool = True, marker: str = "o", legend: bool = True,
                label_prefix: str = "", **line_kw: Any):
    """Mean of `y` against `x` (one line per value of `hue`), +- one standard deviation.

    The mean and standard deviation are over all rows with the same (hue, x), e.g. over seeds and
    forgotten points. band=True draws the spread as a shaded band, else as error bars.
    """
    _check(df, [x, y] + ([hue] if hue else []))
    ax = _ax(ax)
    groups = [(None, df)] if hue is None else list(df.groupby(hue, sort=True))
    for key, g in groups:
        stats = g.groupby(x, sort=True)[y].agg(["mean", "std", "count"])
        xs = np.asarray(stats.index, dtype=float)
        mu = stats["mean"].to_numpy(float)
        sd = np.nan_to_num(stats["std"].to_numpy(float))
        name = label_prefix + (y if key is None else f"{hue} = {key}")
        if band:
            line, = ax.plot(xs, mu, marker=marker, label=name, **line_kw)
            ax.fill_between(xs, mu - sd, mu + sd, alpha=0.2, color=line.get_color())
        else:
            ax.errorbar(xs, mu, yerr=sd, marker=marker, label=name, capsize=3, **line_kw)
    ax.set_xlabel(label(x))
    ax.set_ylabel(label(y))
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if legend and (hue is not None or label_prefix):
        ax.legend(fontsize="small")
    ax.grid(True, alpha=0.3)
    return ax


def plot_fig1(df: Any, ax: Any = None, measures: Sequence[str] = ("plain_epsilon", "clarke_epsilon",
                                                                  "goldstein_epsilon"), hue: Optional[str] = None):
    """The GA paper's Figure 1: retained-set epsilon against the step scale alpha, mean +- std.

    One line per epsilon variant (plain sigma'(0) = 0, Clarke with a fixed tolerance, Goldstein with the
    tolerance covering the step), optionally split by `hue` (e.g. "subgradient"); a dotted line at
    alpha = 1, the step size of Theorem 4.1.
    """
    ax = _ax(ax)
    cols = [m for m in measures if m in df.columns]
    if not cols:
        raise ValueError(f"the DataFrame has none of the columns {list(measures)}")
    for col in cols:
        if hue is None:
            plot_metric(df, "step_scale", col, ax=ax, legend=False, label_prefix="")
            ax.lines[-1].set_label(col.replace("_epsilon", ""))
        else:
            plot_metric(df, "step_scale", col, hue=hue, ax=ax, legend=False, label_prefix=col.replace("_epsilon", "") + ", ")
    ax.axvline(1.0, color="gray", linestyle=":", linewidth=1)
    ax.set_ylabel(r"$\varepsilon$ on $S_{ret}$ $= \min_{\lambda \geq 0} \|\theta^- - \sum_i \lambda_i y_i h_i\|$")
    ax.legend(fontsize="small")
    return ax


def plot_methods(df: Any, metric: str, ax: Any = None, method_col: str = "method", logy: bool = False,
                 order: Optional[Sequence[str]] = None):
    """Bar chart of the mean of `metric` per method, +- one standard deviation."""
    _check(df, [method_col, metric])
    ax = _ax(ax)
    stats = df.groupby(method_col, sort=False)[metric].agg(["mean", "std"])
    if order is not None:
        stats = stats.reindex([o for o in order if o in stats.index])
    xs = np.arange(len(stats))
    ax.bar(xs, stats["mean"].to_numpy(float), yerr=np.nan_to_num(stats["std"].to_numpy(float)), capsize=3,
           color="tab:blue", alpha=0.8)
    ax.set_xticks(xs)
    ax.set_xticklabels([str(i) for i in stats.index], rotation=30, ha="right")
    ax.set_ylabel(label(metric))
    if logy:
        ax.set_yscale("log")
    ax.grid(True, axis="y", alpha=0.3)
    return ax

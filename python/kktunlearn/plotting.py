"""Plots of sweep DataFrames (matplotlib is an optional dependency, imported when a plot is drawn).

Every function takes the tidy DataFrame of :func:`kktunlearn.sweep.sweep` (or a reproduction's CSV)
and an optional matplotlib Axes, draws on it and returns it. Axis labels name the quantity and its
formula (``LABELS``). Points are means over the rows sharing an x value (seeds, forgotten points);
the band or error bar is plus or minus one standard deviation over those rows (their number is
given in the legend / caption), clipped at 0 for nonnegative quantities and at 1 for cosines,
accuracies and fractions. Values below ``NOISE_FLOOR`` times the largest value of a curve are
rounding noise and are drawn as 0 (on a log axis: not drawn), never as a trend. Legends sit outside
the data (below the axes).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np

__all__ = ["LABELS", "label", "plot_metric", "plot_fig1", "plot_methods", "new_figure", "outside_legend",
           "NOISE_FLOOR"]

#: relative floor under which a plotted mean is rounding noise (drawn as 0, or left out on a log axis)
NOISE_FLOOR = 1e-12

#: axis label of each metric column: the quantity and its formula
LABELS: Dict[str, str] = {
    "step_scale": r"step scale $\alpha = \beta / \beta_{\mathrm{Thm\,4.1}}$,  $\beta_{\mathrm{Thm\,4.1}} = \lambda_r / |\ell'(q_r)|$",
    "epsilon": r"$\varepsilon = \min_{\lambda \geq 0} \|\theta^- - \sum_{i \in S_{ret}} \lambda_i y_i \nabla N(x_i)\|$",
    "literal_epsilon": r"$\varepsilon_{literal}$: Clarke subdifferential at $\theta^-$ (kink tol $10^{-3}$)",
    "relaxed_epsilon": r"$\varepsilon_{relaxed}$: Goldstein, pairs within radius $r$ free",
    "relaxed_free_fraction": r"share of (point, neuron) pairs free at $r$",
    "literal_epsilon_rel": r"$\varepsilon_{literal} / \|\theta^-\|$",
    "relaxed_epsilon_rel": r"$\varepsilon_{relaxed} / \|\theta^-\|$",
    "epsilon_rel": r"$\varepsilon / \|\theta\|$",
    "tau": r"$\tau = \max(0,\ 1 - \min_{i \in S_{ret}} y_i N(x_i; \theta^-) / q_{\min}(\theta))$",
    "delta": r"$\delta = \max_i \lambda_i (y_i N(x_i) - 1)$",
    "literal_delta": r"$\delta_{literal} = \max_i \lambda_i (q_i - 1)_+$",
    "tow": "Tug-of-War (ToW)",
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
    """Axis label for a column: its formula when known (``LABELS``), else the column name.

    Parameters
    ----------
    column : str
        The column.

    Returns
    -------
    str
        The label (matplotlib mathtext).
    """
    return LABELS.get(column, column)


def _plt():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("plotting needs matplotlib: pip install 'kktunlearn[experiments]' "
                          "(or pip install matplotlib)") from exc
    return plt


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 5.0, height: float = 3.8):
    """A matplotlib Figure and its axes that need no display (no pyplot state, any backend).

    Parameters
    ----------
    ncols, nrows : int, default 1
        The grid of axes.
    width, height : float, default 5.0 and 3.8
        Size of one panel in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure (constrained layout).
    axes : ndarray of Axes, shape (nrows, ncols)
        Its axes.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    """
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


def outside_legend(ax: Any, where: str = "below", **kw: Any):
    """A legend outside the data: below the axes (``where="below"``, default) or to their right (``"right"``).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes.
    where : {"below", "right"}, default "below"
        Where to put the legend.
    **kw
        Passed to ``ax.legend``.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``.
    """
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        if where == "right":
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize="small", **kw)
        else:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), borderaxespad=0.0, fontsize="small",
                      ncol=kw.pop("ncol", 1), **kw)
    return ax


def plot_metric(df: Any, x: str, y: str, hue: Optional[str] = None, ax: Any = None, logx: bool = False,
                logy: Optional[bool] = None, band: bool = True, marker: str = "o", legend: bool = True,
                label_prefix: str = "", name: Optional[str] = None, floor: float = 0.0, **line_kw: Any):
    """Mean of ``y`` against ``x`` (one line per value of ``hue``), plus or minus one standard deviation.

    The mean and standard deviation are over all rows with the same ``(hue, x)``, e.g. over seeds and
    forgotten points (the row count is appended to the legend label). For a nonnegative column the
    band is clipped at 0. Means below ``NOISE_FLOOR`` times the curve's largest value, or below the
    absolute ``floor``, are drawn as 0 (left out on a log axis). Integer ticks on an x named
    ``"round"``.

    Parameters
    ----------
    df : pandas.DataFrame
        Tidy rows.
    x, y : str
        Columns of the x and y axes.
    hue : str, optional
        Column splitting the rows into lines.
    ax : matplotlib.axes.Axes, optional
        Draw here (default: a new figure).
    logx : bool, default False
        Log x axis.
    logy : bool, optional
        Log y axis; None picks one when the positive means span more than two decades.
    band : bool, default True
        Draw the spread as a shaded band, else as error bars.
    marker : str, default "o"
        Line marker.
    legend : bool, default True
        Draw a legend outside the data.
    label_prefix : str, default ""
        Prefix of the legend labels.
    name : str, optional
        Legend label of a single line (no ``hue``).
    floor : float, default 0.0
        Absolute floor under which a mean is drawn as 0 (e.g. ``1e-12`` for a relative residual).
    **line_kw
        Passed to ``ax.plot``.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Raises
    ------
    ValueError
        If a named column is missing.
    """
    _check(df, [x, y] + ([hue] if hue else []))
    ax = _ax(ax)
    groups = [(None, df)] if hue is None else list(df.groupby(hue, sort=True))
    nonneg = bool((df[y].dropna() >= 0).all())
    curves = []
    for key, g in groups:
        stats = g.groupby(x, sort=True)[y].agg(["mean", "std", "count"])
        xs = np.asarray(stats.index, dtype=float)
        mu = stats["mean"].to_numpy(float)
        sd = np.nan_to_num(stats["std"].to_numpy(float))
        top = np.nanmax(np.abs(mu)) if mu.size and np.isfinite(mu).any() else 0.0
        noise = (np.abs(mu) < NOISE_FLOOR * top) | (np.abs(mu) < floor)
        mu = np.where(noise, 0.0, mu)
        sd = np.where(noise, 0.0, sd)
        cnt = int(stats["count"].max()) if len(stats) else 0
        base = name if name is not None else (y if key is None else f"{hue} = {key}")
        curves.append((label_prefix + base + (f" (n={cnt})" if band else ""), xs, mu, sd))
    if logy is None:
        pos = np.concatenate([c[2][c[2] > 0] for c in curves]) if curves else np.zeros(0)
        logy = bool(nonneg and pos.size >= 2 and pos.max() / pos.min() > 100.0)
    bounded = y.startswith("cos") or y.endswith("_acc") or y.endswith("fraction") or y == "tow"
    for lab, xs, mu, sd in curves:
        lo = mu - sd
        hi = np.minimum(mu + sd, 1.0) if bounded else mu + sd
        if nonneg:
            lo = np.maximum(lo, 0.0)
        if logy:
            keep = mu > 0
            xs, mu, sd, lo, hi = xs[keep], mu[keep], sd[keep], lo[keep], hi[keep]
            lo = np.where(lo > 0, lo, mu * 0.5)
        if band:
            line, = ax.plot(xs, mu, marker=marker, label=lab, **line_kw)
            ax.fill_between(xs, lo, hi, alpha=0.2, color=line.get_color())
        else:
            ax.errorbar(xs, mu, yerr=np.vstack([mu - lo, hi - mu]), marker=marker, label=lab, capsize=3, **line_kw)
    ax.set_xlabel(label(x))
    ax.set_ylabel(label(y))
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if x == "round":
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if legend and (hue is not None or label_prefix or name):
        outside_legend(ax)
    ax.grid(True, alpha=0.3)
    return ax


def plot_fig1(df: Any, ax: Any = None, measures: Sequence[str] = ("literal_epsilon", "relaxed_epsilon"),
              hue: Optional[str] = None):
    """[1]_ Figure 1: retained-set epsilon against the step scale alpha, mean plus or minus std.

    One line per reading (literal: Clarke subdifferential at ``theta^-``; relaxed: Goldstein-type
    radius ``r``, the same ``r`` for every alpha), optionally split by ``hue`` (e.g.
    ``"subgradient"``); a dotted line at ``alpha = 1``, the step size of Theorem 4.1.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows of the ``fig1`` reproduction (columns ``step_scale`` and the measures).
    ax : matplotlib.axes.Axes, optional
        Draw here.
    measures : sequence of str, default ("literal_epsilon", "relaxed_epsilon")
        The columns drawn.
    hue : str, optional
        Column splitting each measure into lines.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Raises
    ------
    ValueError
        If the DataFrame has none of the measures.

    References
    ----------
    .. [1] Melamed, Yehudai & Vardi, arXiv:2510.14844, Figure 1 and Theorem 4.1.
    """
    ax = _ax(ax)
    cols = [m for m in measures if m in df.columns]
    if not cols:
        raise ValueError(f"the DataFrame has none of the columns {list(measures)}")
    names = {"literal_epsilon": r"literal (Clarke at $\theta^-$)", "relaxed_epsilon": r"relaxed (Goldstein, radius $r$)"}
    for col in cols:
        nm = names.get(col, col)
        if hue is None:
            plot_metric(df, "step_scale", col, ax=ax, legend=False, name=nm, logy=False)
        else:
            plot_metric(df, "step_scale", col, hue=hue, ax=ax, legend=False, label_prefix=nm + ", ", logy=False)
    ax.axvline(1.0, color="gray", linestyle=":", linewidth=1, label=r"$\alpha = 1$ (Thm 4.1)")
    ax.set_ylabel(r"$\varepsilon$ on $S_{ret}$ $= \min_{\lambda \geq 0} \|\theta^- - \sum_i \lambda_i y_i h_i\|$")
    outside_legend(ax)
    return ax


def plot_methods(df: Any, metric: str, ax: Any = None, method_col: str = "method", logy: bool = False,
                 order: Optional[Sequence[str]] = None):
    """Bar chart of the mean of ``metric`` per method, plus or minus one standard deviation.

    Parameters
    ----------
    df : pandas.DataFrame
        Tidy rows.
    metric : str
        The column.
    ax : matplotlib.axes.Axes, optional
        Draw here.
    method_col : str, default "method"
        The column naming the method.
    logy : bool, default False
        Log y axis.
    order : sequence of str, optional
        Order of the bars (methods not listed are left out).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
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

"""Each reproduction's quick mode runs, writes its files, and its numbers have the expected shape."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

pytest.importorskip("pandas")
pytest.importorskip("joblib")
pytest.importorskip("matplotlib")

from kktunlearn import reproduce as R  # noqa: E402

needs_unlearning = pytest.mark.skipif(
    importlib.util.find_spec("kktunlearn.unlearning") is None or importlib.util.find_spec("kktunlearn.kkt") is None,
    reason="needs kktunlearn.kkt and kktunlearn.unlearning")


def _run(fn, tmp_path_factory):
    out = tmp_path_factory.mktemp(fn.__name__)
    res = fn(quick=True, out=str(out), n_jobs=2, verbose=True)
    assert os.path.getsize(res.figure_path) > 10_000          # a real PNG with content
    assert res.figure_path.endswith(".png") and res.csv_path.endswith(".csv")
    import pandas as pd

    back = pd.read_csv(res.csv_path)
    assert len(back) == len(res.rows) > 0
    assert res.checks.get("n_failed", 0) == 0
    return res


@needs_unlearning
def test_fig1_quick(tmp_path_factory, capsys):
    res = _run(R.fig1, tmp_path_factory)
    g = R.SETTINGS["fig1"]["quick"]
    assert len(res.rows) == len(g["seed"]) * len(g["forget"]) * len(g["step_scale"]) * len(g["subgradient"])
    c = res.checks
    # the V: minimum of the retained-set epsilon at the step size of Theorem 4.1
    assert c["argmin_alpha_goldstein"] in (0.9, 1.0, 1.1)
    # ... where it is about the original model's own (Clarke) epsilon: the step preserves stationarity
    assert c["min_goldstein_epsilon"] <= 2.0 * c["original_clarke_epsilon"] + 0.05
    assert c["goldstein_epsilon_at_0"] > 3.0 * c["min_goldstein_epsilon"]
    assert 0.75 <= c["argmax_alpha_cosine"] <= 1.25
    assert c["tau_increasing"]
    # tau is zero without a step (the original model has min margin 1 on S) and below lambda_r phi after
    rows = res.rows
    assert np.all(rows.loc[rows["step_scale"] == 0, "tau"] == 0)
    assert "step_scale" in capsys.readouterr().out           # the printed table


@needs_unlearning
def test_linear_quick(tmp_path_factory):
    res = _run(R.linear, tmp_path_factory)
    c = res.checks
    assert c["cos_at_max_d"] > 0.999 and c["cos_at_max_d"] > c["cos_original_at_max_d"]
    assert c["tau_at_max_d"] < c["tau_at_min_d"]
    rows = res.rows
    # linear GA keeps stationarity: epsilon on S_retain is at most the original epsilon (spec 4.3)
    scale = np.maximum(rows["theta_norm"], 1.0)
    assert np.all(rows["plain_epsilon"] <= rows["orig_epsilon"] + 1e-6 * scale)
    # tau <= lambda_r phi with lambda_r ~ 1 / ||x_r||^2: a loose version of the bound
    assert np.all(rows["tau"] <= 2.0 * rows["phi"])


@needs_unlearning
def test_mixture_quick(tmp_path_factory):
    res = _run(R.mixture, tmp_path_factory)
    c = res.checks
    assert c["max_test_acc_gap_ga_vs_retrain"] < 0.02
    assert c["min_test_acc_ga"] > 0.9
    assert c["ga_closer_than_original"]


@needs_unlearning
def test_orthogonality_quick(tmp_path_factory):
    res = _run(R.orthogonality, tmp_path_factory)
    c = res.checks
    assert c["phi_increasing"]
    assert c["tau_at_max_rho"] > c["tau_at_rho0"]
    assert c["cos_at_max_rho"] < c["cos_at_rho0"]


@needs_unlearning
def test_newton_quick(tmp_path_factory):
    res = _run(R.newton, tmp_path_factory)
    c = res.checks
    rows = res.rows
    # the CSV's contract: one row per (setting, seed, method, round) with the named columns
    need = {"setting", "seed", "method", "round", "step_norm", "test_acc", "retained_acc", "forget_acc", "tow",
            "js", "M", "gamma", "wall_time"}
    assert need <= set(rows.columns)
    assert set(rows["setting"]) == {"paper", "kkt"}
    assert not rows.duplicated(["setting", "seed", "method", "round"]).any()
    from kktunlearn.unlearning import METHODS

    assert set(rows["method"]) <= set(METHODS)
    assert rows["round"].max() == R.SETTINGS["newton"]["quick"]["rounds"]
    assert c["n_failed"] == 0
    # expected ordering (the Newton paper's section 9): pinv steps far larger than the cubic ones; the cubic
    # methods stay within 5 points of retraining in the paper's regime
    assert c["paper_pinv_over_cubic_norm"] > 5
    assert c["paper_cubic_within_5pts"]
    ok = rows[rows["error"].isna()]
    assert ok["tow"].between(0, 1).all() and (ok["js"] >= 0).all()
    retrain = ok[ok["method"] == "retrain"]
    np.testing.assert_allclose(retrain["tow"], 1.0)
    cubic = ok[ok["method"].isin(["cure_newton", "scure_newton"])]
    assert (cubic["M"] > 0).all() and (cubic["gamma"] > 0).all()
    cure = ok[ok["method"] == "cure_newton"]  # gamma = (M/2) ||s|| for the full cubic step (one Newton step)
    np.testing.assert_allclose(cure["gamma"], 0.5 * cure["M"] * cure["step_norm"], rtol=1e-6)
    # the KKT regime's explanation: -l'/l'' = 1, so the pinv step raises every linearized margin by 1 where
    # it inverts all n_r directions (rounds 2-5; in round 1 rcond drops some of an ill-conditioned J^T D J)
    assert c["kkt_pinv_margin_raise_frac_median"] >= 0.95
    assert c["kkt_pinv_margin_raise_dev_median"] < 1e-4
    # the phase diagram (>= 3 seeds): without weight decay pinv/damped collapse, the cubic step never does
    assert c["phase_min_seeds"] >= 3
    assert c["phase_cells_collapsed"] >= 2 and c["phase_cells_cubic_collapsed"] == 0
    ph = res.phase
    wd0 = ph[(ph["weight_decay"] == 0) & (ph["method"] == "pinv_newton")]
    assert wd0["collapsed"].mean() >= 0.5


def test_unknown_reproduction():
    with pytest.raises(ValueError, match="unknown reproduction"):
        R.run("fig2")


def test_plotting_functions():
    import pandas as pd

    from kktunlearn import plotting as P

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"step_scale": np.repeat([0.0, 0.5, 1.0, 1.5], 3), "seed": np.tile([0, 1, 2], 4),
                       "goldstein_epsilon": rng.random(12), "plain_epsilon": rng.random(12),
                       "method": np.tile(["ga", "retrain", "pinv_newton"], 4), "step_norm": rng.random(12) + 0.1})
    fig, axes = P.new_figure(3, 1)
    ax = P.plot_metric(df, "step_scale", "goldstein_epsilon", hue="seed", ax=axes[0, 0])
    assert "lambda" in ax.get_xlabel()                      # the label names the formula
    assert len(ax.lines) == 3
    means = df.groupby("step_scale")["goldstein_epsilon"].mean().to_numpy()
    ax2 = P.plot_metric(df, "step_scale", "goldstein_epsilon", ax=axes[0, 1])
    np.testing.assert_allclose(ax2.lines[0].get_ydata(), means)  # plotted points are the means over seeds
    P.plot_fig1(df, ax=axes[0, 1])
    P.plot_methods(df, "step_norm", ax=axes[0, 2], logy=True)
    assert "\\|" in axes[0, 2].get_ylabel()
    assert P.label("unknown_column") == "unknown_column"
    with pytest.raises(ValueError, match="no column"):
        P.plot_metric(df, "step_scale", "nope", ax=axes[0, 0])

"""Fair verdicts: every unlearning method is judged by the same certificate, in the original model's
scale, in both readings of the Clarke subdifferential (literal and relaxed).

Reference numbers are computed here independently (numpy margins, an explicit Clarke NNLS on the
Jacobian for small problems) or come from the papers' properties (the exact GA step preserves
stationarity under the relaxed reading at a fixed radius).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize as sopt

import kktunlearn as kk
import kktunlearn.datasets  # noqa: F401
from kktunlearn.datasets import near_orthogonal
from kktunlearn.kkt import LITERAL_TOL, RELAXED_RADIUS, ga_radius

ALL_METHODS = [("ga", {}), ("neggrad", {}), ("neggrad_plus", {}), ("finetune", {}), ("newton", {"l2": 1e-3}),
               ("damped_newton", {}), ("pinv_newton", {}), ("cure_newton", {}), ("scure_newton", {}),
               ("retrain", {})]


@pytest.fixture(scope="module")
def small():
    X, y = near_orthogonal(16, 300, seed=1)
    net = kk.TwoLayerReLU(width=20, random_state=1, max_iter=1500).fit(X, y)
    return X, y, net


def clarke_eps(W, u, X, y, tol):
    """Independent Clarke-relaxed NNLS on the explicit Jacobian (fixed u, ReLU): columns lambda_i (active
    pairs) and one free column per pinned pair |z_ij| <= tol with coefficient mu_ij in [0, lambda_i]
    relaxed to mu_ij >= 0 (an upper bound on nothing: a lower bound of the exact Clarke epsilon)."""
    Z = X @ W.T
    n, m = Z.shape
    cols = []
    for i in range(n):
        c = ((Z[i] > tol) * u * y[i])[:, None] * X[i][None, :]
        cols.append(c.ravel())
    for i, j in zip(*np.nonzero(np.abs(Z) <= tol)):
        c = np.zeros_like(W)
        c[j] = u[j] * y[i] * X[i]
        cols.append(c.ravel())
    A = np.array(cols).T
    _, res = sopt.nnls(A, W.ravel(), maxiter=50 * A.shape[1])
    return res, int((np.abs(Z) <= tol).sum())


def test_default_measure_is_identical_for_every_method(small):
    X, y, net = small
    s0 = float((y * net.decision_function(X)).min())
    measures = {}
    for method, opts in ALL_METHODS:
        out = net.unlearn(X, y, [2, 5], method=method, **opts)
        assert out.unlearn_info_["reference_scale"] == pytest.approx(s0, rel=1e-12)
        rep = kk.verify_unlearning(out, X, y, [2, 5])  # no original=: the recorded scale is used
        with_orig = kk.verify_unlearning(out, X, y, [2, 5], original=net)
        assert rep.scale_source == "unlearn_info" and with_orig.scale_source == "original"
        assert rep.epsilon == pytest.approx(with_orig.epsilon, rel=1e-9, abs=1e-12)
        assert rep.tau == pytest.approx(with_orig.tau, abs=1e-12)
        m = dict(rep.measure)
        m.pop("scale_source")
        measures[method] = m
        # tau against the ORIGINAL margins, computed independently
        keep = np.setdiff1d(np.arange(len(y)), [2, 5])
        q = y[keep] * out.decision_function(X[keep]) / s0
        assert rep.tau == pytest.approx(max(0.0, 1.0 - q.min()), abs=1e-12)
        assert rep.literal_tol == LITERAL_TOL and rep.relaxed_radius == RELAXED_RADIUS
        assert rep.epsilon == rep.epsilon_literal and rep.reading == "literal"
    ref = measures["ga"]
    for method, m in measures.items():
        assert m == pytest.approx(ref), method


def test_literal_and_relaxed_readings_against_an_independent_nnls(small):
    X, y, net = small
    out = net.unlearn(X, y, [3], method="damped_newton")
    rep = kk.verify_unlearning(out, X, y, [3], original=net, relaxed_radius=0.05)
    s = rep.scale
    keep = np.arange(len(y)) != 3
    W, u = out.W_ / s, out.u_
    lit, n_lit = clarke_eps(W, u, X[keep], y[keep], LITERAL_TOL)
    rel, n_rel = clarke_eps(W, u, X[keep], y[keep], LITERAL_TOL + 0.05)
    assert rep.n_pinned_literal == n_lit and rep.n_free_relaxed == n_rel
    assert rep.n_pairs == keep.sum() * 20
    assert rep.free_fraction_relaxed == pytest.approx(n_rel / rep.n_pairs)
    # mu <= lambda makes the library's exact Clarke problem tighter than the free-column NNLS
    assert rep.epsilon_literal >= lit - 1e-8 and rep.epsilon_relaxed >= rel - 1e-8
    assert rep.epsilon_relaxed <= rep.epsilon_literal * (1 + 1e-10) + 1e-12  # a larger set relaxes the problem
    assert rep.epsilon_rel_relaxed == pytest.approx(rep.epsilon_relaxed / np.linalg.norm(W))
    zero = kk.verify_unlearning(out, X, y, [3], original=net, relaxed_radius=0.0)
    assert zero.epsilon_relaxed == zero.epsilon_literal and zero.n_free_relaxed == zero.n_pinned_literal
    cols = rep.columns()
    for k in ("literal_epsilon", "relaxed_epsilon", "relaxed_free_fraction", "relaxed_radius", "literal_tol",
              "tau", "measure"):
        assert k in cols
    assert "relaxed r 0.05" in cols["measure"] and "scale original" in cols["measure"]


def test_self_scale_warns_that_tau_is_zero(small):
    X, y, net = small
    un = net._with_params(net.W_ * 0.999, net.u_)
    with pytest.warns(UserWarning, match="tau = 0 by construction"):
        rep = kk.verify_unlearning(un, X, y, [2])
    assert rep.scale_source == "self" and rep.tau <= 1e-12


@pytest.fixture(scope="module")
def fig1_setting():
    X, y = near_orthogonal(20, 1000, seed=1)
    net = kk.TwoLayerReLU(width=100, random_state=1, max_iter=4000).fit(X, y)
    cert = kk.kkt_multipliers(net, X, y, subgradient_tol=LITERAL_TOL)
    return X, y, net, cert


def test_relaxed_v_at_fixed_radius_has_its_minimum_at_alpha_one(fig1_setting):
    X, y, net, cert = fig1_setting
    r = ga_radius(net, X, y, [0], multipliers=cert)
    assert r > 0
    lit, rel, free = {}, {}, {}
    for a in (0.5, 0.9, 1.0, 1.1, 1.5):
        out = net.unlearn(X, y, [0], method="ga", multipliers=cert, step_scale=a)
        rep = kk.verify_unlearning(out, X, y, [0], original=net, relaxed_radius=r)
        assert rep.relaxed_radius == r  # the same r for every alpha
        lit[a], rel[a], free[a] = rep.epsilon_literal, rep.epsilon_relaxed, rep.free_fraction_relaxed
    assert min(rel, key=rel.get) == 1.0
    assert rel[1.0] <= cert.epsilon * (1 + 1e-6) + 1e-9  # the exact step keeps the original certificate
    assert rel[0.5] > 3 * rel[1.0] and rel[1.5] > 3 * rel[1.0]
    assert lit[1.0] > rel[1.0]  # the literal reading pays for the pairs the step moved off the kink
    assert all(0.0 < v < 1.0 for v in free.values())


@pytest.fixture(scope="module")
def newton_setting():
    # the Newton paper's regime: logistic loss, plain GD, a model near a minimizer of a loss that is not ~0
    gm = kk.datasets.gaussian_mixture(40, 100, mu_norm=0.15, seed=0)
    net = kk.TwoLayerReLU(width=20, random_state=0, max_iter=1000, loss="logistic", lr=2.0,
                          normalized_gd=False).fit(gm.X, gm.y)
    return gm.X, gm.y, net


@pytest.mark.parametrize("method,opts", [("newton", {"l2": 1e-3}), ("pinv_newton", {}), ("damped_newton", {})])
def test_unlearn_sequence_newton_certificate_in_the_original_scale(newton_setting, method, opts):
    X, y, net = newton_setting
    s0 = float((y * net.decision_function(X)).min())
    reqs = [[0, 1], [2, 3], [4, 5]]
    models, recs = kk.unlearn_sequence(net, X, y, reqs, method=method, **opts)
    alive = np.ones(len(y), dtype=bool)
    for t, (mdl, rec) in enumerate(zip(models, recs)):
        alive[reqs[t]] = False
        assert "kkt_error" not in rec, rec.get("kkt_error")
        q = y[alive] * mdl.decision_function(X[alive]) / s0
        assert rec["kkt_scale"] == pytest.approx(s0, rel=1e-12)
        assert rec["kkt_min_margin"] == pytest.approx(q.min(), rel=1e-9, abs=1e-12)
        assert rec["tau"] == pytest.approx(max(0.0, 1.0 - q.min()), abs=1e-12)
        if q.min() < 1 - 1e-9:
            assert rec["tau"] > 0
        assert math.isfinite(rec["literal_epsilon_rel"]) and rec["literal_epsilon_rel"] > 0
        assert rec["relaxed_epsilon"] <= rec["literal_epsilon"] * (1 + 1e-10) + 1e-12
        assert rec["literal_tol"] == LITERAL_TOL and rec["relaxed_radius"] == RELAXED_RADIUS
    if method == "newton":  # plain Newton (l2 = 1e-3) pushes retained margins far below the original's
        assert all(r["tau"] > 0.1 for r in recs)


def test_unlearn_sequence_records_the_full_error_text(small, monkeypatch):
    X, y, net = small
    import kktunlearn.kkt as K

    long = "x" * 500 + " the end"

    def boom(*a, **k):
        raise ValueError(long)

    monkeypatch.setattr(K, "verify_unlearning", boom)
    _, recs = kk.unlearn_sequence(net, X, y, [[0]], method="finetune")
    assert recs[0]["kkt_error"].endswith("the end") and math.isnan(recs[0]["epsilon"])


def test_method_table_regenerates_from_one_command(tmp_path):
    """bench/unlearn_table.py builds bench/README.md's method table in one command (tiny setting here)."""
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    md = tmp_path / "table.md"
    import kktunlearn

    # the child imports the same kktunlearn as this process (a checkout's python/ or an installed package)
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(kktunlearn.__file__)))
    env = dict(os.environ, PYTHONPATH=pkg_parent + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, os.path.join(root, "bench", "unlearn_table.py"), "--n", "14", "--d", "300", "--width", "12",
           "--n-test", "60", "--rounds", "2", "--markdown", str(md)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    text = md.read_text()
    assert text.count("### data =") == 2  # both data sets
    for label in ("original (no unlearning)", "retrain (oracle)", "| ga |", "neggrad", "finetune", "damped_newton",
                  "pinv_newton", "cure_newton", "scure_newton", "newton, l2 = 0.001"):
        assert label in text, label
    for col in ("eps literal", "eps relaxed", "tau", "ToW", "gap retained [pp]", "gap test [pp]", "gap forget [pp]",
                "success"):
        assert col in text, col
    assert "measure (every row)" in text and "relaxed radius r =" in text and "verdict thresholds" in text
    assert "failed rows:" in text and "sequential unlearning" in text
    # the singular Hessian of plain Newton is a counted failure with its whole message
    assert "newton: NumericalError" in text and "l2 > 0" in text


def test_evaluate_unlearning_tow_and_gaps_against_numpy(small):
    from kktunlearn.metrics import SUCCESS_THRESHOLDS, evaluate_unlearning

    X, y, net = small
    Xt, yt = near_orthogonal(50, 300, seed=9)
    f = [2, 5]
    keep = np.setdiff1d(np.arange(len(y)), f)
    ret = net.unlearn(X, y, f, method="retrain")
    out = net.unlearn(X, y, f, method="pinv_newton")
    row = evaluate_unlearning(net, out, X, y, f, retrained=ret, X_test=Xt, y_test=yt, mia=False, relaxed_radius=0.02)

    def acc(m, A, b):
        return float(np.mean(b * m.decision_function(A) > 0))

    gaps = [acc(out, A, b) - acc(ret, A, b) for A, b in ((X[f], y[f]), (X[keep], y[keep]), (Xt, yt))]
    assert [row["forget_acc_gap"], row["retained_acc_gap"], row["test_acc_gap"]] == pytest.approx(gaps)
    assert row["tow"] == pytest.approx(np.prod([1 - abs(g) for g in gaps]))
    assert row["relaxed_radius"] == 0.02 and row["kkt_scale_source"] == "original"
    o_lit = kk.kkt_report(net, X, y, subgradient_tol=LITERAL_TOL)
    o_rel = kk.kkt_report(net, X, y, subgradient_tol=LITERAL_TOL + 0.02)
    assert row["orig_literal_epsilon_rel"] == pytest.approx(o_lit.epsilon_rel)
    assert row["orig_relaxed_delta"] == pytest.approx(o_rel.delta)
    t = SUCCESS_THRESHOLDS
    for reading, o, col in (("literal", o_lit, "successful"), ("relaxed", o_rel, "relaxed_successful")):
        ok = (row[f"{reading}_epsilon_rel"] <= o.epsilon_rel + t["epsilon_rel"] and row[f"{reading}_delta"] <=
              o.delta + t["delta"] and row["tau"] <= t["tau"])
        assert row[col] is ok
    assert "epsilon_rel <= orig + 0.05" in row["success_thresholds"]
    # doing nothing is not unlearning: the forgotten point's term is missing from the retained-set sum
    same = evaluate_unlearning(net, net, X, y, f, retrained=ret, mia=False)
    assert same["tau"] == 0 and same["literal_epsilon_rel"] > same["orig_literal_epsilon_rel"]

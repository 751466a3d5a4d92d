"""The cubic-regularized Newton subproblem solver against an independent dense reference.

Reference (written here, newton spec 3.2-3.5): numpy eigh of H; the damping gamma is the root of
||s(gamma)|| = 2 gamma / M found by scipy's brentq on (max(0, -lam_1), hi]; the hard case
(g orthogonal to the bottom eigenspace and ||s_perp(-lam_1)|| <= -2 lam_1 / M) is handled in closed form.
"""

import numpy as np
import pytest
from scipy.optimize import brentq, minimize

from kktunlearn.unlearning import solve_cubic, solve_cubic_eig, solve_cubic_lowrank


def model_value(H, g, M, s):
    return g @ s + 0.5 * s @ H @ s + M / 6.0 * np.linalg.norm(s) ** 3


def reference_cubic(H, g, M):
    lam, U = np.linalg.eigh(H)
    b = U.T @ g
    lam1 = lam[0]
    gmin = max(0.0, -lam1)
    bottom = lam - lam1 <= 1e-10 * max(1.0, np.abs(lam).max())
    if lam1 < 0 and np.linalg.norm(b[bottom]) <= 1e-10 * np.linalg.norm(b):
        sp = np.zeros_like(b)
        sp[~bottom] = -b[~bottom] / (lam[~bottom] - lam1)
        r = 2 * gmin / M
        if np.linalg.norm(sp) <= r:
            tau = np.sqrt(r * r - sp @ sp)
            s = U @ sp + tau * U[:, 0]
            return s, gmin, True

    def psi(gam):
        return np.linalg.norm(b / (lam + gam)) - 2 * gam / M

    hi = 0.5 * (-lam1 + np.sqrt(lam1 ** 2 + 2 * M * np.linalg.norm(g)))
    lo = gmin + 1e-14 * max(1.0, gmin)
    while psi(lo) <= 0:  # lo must be left of the root
        lo = gmin + (lo - gmin) * 1e-3
    gam = brentq(psi, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
    return U @ (-b / (lam + gam)), gam, False


def random_sym(rng, p, eigs):
    Q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    return Q @ np.diag(eigs) @ Q.T, Q


def check_optimality(H, g, M, res, atol=1e-9):
    s, gam = res["s"], res["gamma"]
    scale = max(1.0, np.abs(H).max(), np.linalg.norm(g))
    assert np.linalg.norm(g + H @ s + 0.5 * M * np.linalg.norm(s) * s) <= atol * scale
    assert abs(np.linalg.norm(s) - 2 * gam / M) <= atol * max(1.0, np.linalg.norm(s))
    assert np.linalg.eigvalsh(H + gam * np.eye(len(g))).min() >= -atol * scale
    assert res["value"] == pytest.approx(model_value(H, g, M, s), rel=1e-10, abs=1e-12)


CASES = {
    "indefinite": lambda rng, p: rng.standard_normal(p) * 3,
    "psd": lambda rng, p: np.abs(rng.standard_normal(p)),
    "degenerate": lambda rng, p: np.concatenate([np.zeros(p // 2), rng.standard_normal(p - p // 2)]),
    "psd_rank_deficient": lambda rng, p: np.concatenate([np.zeros(p - 3), np.abs(rng.standard_normal(3)) + 1]),
    "repeated_negative": lambda rng, p: np.concatenate([[-1.5, -1.5, -1.5], rng.standard_normal(p - 3)]),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("M", [0.1, 1.0, 25.0])
def test_cubic_matches_dense_reference(case, M):
    rng = np.random.default_rng(sorted(CASES).index(case) * 1000 + int(M * 10))
    p = 30
    H, _ = random_sym(rng, p, CASES[case](rng, p))
    g = rng.standard_normal(p)
    res = solve_cubic(H, g, M)
    s_ref, gam_ref, hard = reference_cubic(H, g, M)
    assert not hard and not res["hard_case"]
    np.testing.assert_allclose(res["s"], s_ref, rtol=1e-8, atol=1e-8 * np.linalg.norm(s_ref))
    assert res["gamma"] == pytest.approx(gam_ref, rel=1e-8)
    check_optimality(H, g, M, res)


@pytest.mark.parametrize("mult", [1, 2])
def test_cubic_hard_case(mult):
    rng = np.random.default_rng(7 + mult)
    p = 12
    eigs = np.concatenate([[-2.0] * mult, rng.uniform(0.5, 3.0, p - mult)])
    H, Q = random_sym(rng, p, eigs)
    # g orthogonal to the bottom eigenspace and small: ||s_perp|| < 2 * 2 / M -> hard case
    g = Q[:, mult:] @ rng.standard_normal(p - mult) * 0.05
    M = 1.0
    res = solve_cubic(H, g, M)
    s_ref, gam_ref, hard = reference_cubic(H, g, M)
    assert hard and res["hard_case"]
    assert res["gamma"] == pytest.approx(2.0, rel=1e-10)
    check_optimality(H, g, M, res)
    # the minimizer is unique only up to the bottom-eigenspace direction: compare the part orthogonal to
    # it, the norm and the value
    P = np.eye(p) - Q[:, :mult] @ Q[:, :mult].T
    np.testing.assert_allclose(P @ res["s"], P @ s_ref, rtol=1e-8, atol=1e-10)
    assert np.linalg.norm(res["s"]) == pytest.approx(np.linalg.norm(s_ref), rel=1e-8)
    assert res["value"] == pytest.approx(model_value(H, g, M, s_ref), rel=1e-8)


def test_cubic_nearly_hard_case_is_continuous():
    # a tiny component on u_1 (not the hard case) gives a step close to the hard-case step with that sign
    rng = np.random.default_rng(3)
    p = 10
    eigs = np.concatenate([[-1.0], rng.uniform(0.5, 2.0, p - 1)])
    H, Q = random_sym(rng, p, eigs)
    g = Q[:, 1:] @ rng.standard_normal(p - 1) * 0.05 + 1e-7 * Q[:, 0]
    res = solve_cubic(H, g, 1.0)
    s_ref, gam_ref, hard = reference_cubic(H, g, 1.0)
    assert not hard
    np.testing.assert_allclose(res["s"], s_ref, rtol=1e-6, atol=1e-8)
    check_optimality(H, g, 1.0, res, atol=1e-8)
    assert Q[:, 0] @ res["s"] < 0  # the escape direction goes against g's component


def test_cubic_global_beats_local_search():
    rng = np.random.default_rng(11)
    p = 8
    H, _ = random_sym(rng, p, rng.standard_normal(p) * 2)
    g = rng.standard_normal(p)
    M = 2.0
    res = solve_cubic(H, g, M)
    best = min(minimize(lambda s: model_value(H, g, M, s), rng.standard_normal(p) * 3, method="BFGS").fun
               for _ in range(10))
    assert res["value"] <= best + 1e-9


def test_cubic_zero_gradient():
    H = np.diag([-3.0, 1.0, 2.0])
    res = solve_cubic(H, np.zeros(3), 2.0)
    # pure negative-curvature escape of norm 2 * 3 / M along e_1
    assert np.linalg.norm(res["s"]) == pytest.approx(3.0)
    assert abs(res["s"][0]) == pytest.approx(3.0)
    check_optimality(H, np.zeros(3), 2.0, res)
    res = solve_cubic(np.diag([0.0, 1.0]), np.zeros(2), 1.0)
    assert np.all(res["s"] == 0) and res["gamma"] == 0


def test_cubic_psd_gamma_positive_no_division_by_zero():
    # lam_min >= 0: the authors' code divides by gamma = 0 here (spec 3.4); ours starts inside the bracket
    H = np.diag([0.0, 0.0, 1.0])
    g = np.array([1e-3, 0.0, 2.0])
    res = solve_cubic(H, g, 1.0)
    s_ref, gam_ref, _ = reference_cubic(H, g, 1.0)
    np.testing.assert_allclose(res["s"], s_ref, rtol=1e-9)
    assert res["gamma"] > 0
    check_optimality(H, g, 1.0, res)


def test_cubic_eig_form_matches_dense():
    rng = np.random.default_rng(5)
    p = 20
    lam = rng.standard_normal(p)
    H, Q = random_sym(rng, p, lam)
    g = rng.standard_normal(p)
    dense = solve_cubic(H, g, 3.0)
    eig = solve_cubic_eig(lam, Q.T @ g, 3.0)
    np.testing.assert_allclose(Q @ eig["s"], dense["s"], rtol=1e-9, atol=1e-12)
    assert eig["gamma"] == pytest.approx(dense["gamma"], rel=1e-10)


def test_cubic_bad_input():
    H = np.eye(3)
    with pytest.raises(ValueError, match="M"):
        solve_cubic(H, np.ones(3), 0.0)
    with pytest.raises(ValueError, match="symmetric"):
        solve_cubic(np.triu(np.ones((3, 3))), np.ones(3), 1.0)
    with pytest.raises(ValueError, match="length"):
        solve_cubic(H, np.ones(4), 1.0)
    with pytest.raises(ValueError, match="finite"):
        solve_cubic(H, np.array([1.0, np.nan, 0.0]), 1.0)
    with pytest.raises(TypeError):
        solve_cubic(H, np.ones(3), "1")
    with pytest.raises(ValueError, match="same length"):
        solve_cubic_eig(np.ones(3), np.ones(2), 1.0)


@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_cubic_lowrank_form_matches_dense(l2):
    rng = np.random.default_rng(21)
    k, p = 6, 50
    J = rng.standard_normal((k, p))
    D = rng.standard_normal(k)  # signed: indefinite inside the span
    g = rng.standard_normal(p)
    H = J.T @ (D[:, None] * J) + l2 * np.eye(p)
    ref = solve_cubic(H, g, 1.5)
    low = solve_cubic_lowrank(J, D, g, 1.5, l2=l2)
    np.testing.assert_allclose(low["s"], ref["s"], rtol=1e-9, atol=1e-12)
    assert low["gamma"] == pytest.approx(ref["gamma"], rel=1e-9)
    assert low["rank"] == k + 1
    check_optimality(H, g, 1.5, low)

"""The benchopt benchmark in benchmarks/unlearning exposes every unlearning method as a solver."""

import importlib.util
import os

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "unlearning")


def _load(rel):
    pytest.importorskip("benchopt")
    spec = importlib.util.spec_from_file_location("kkt_bench_" + rel.replace("/", "_")[:-3], os.path.join(ROOT, rel))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_method_is_a_solver():
    from kktunlearn.unlearning import METHODS

    solver = _load("solvers/kktunlearn_methods.py").Solver
    assert list(solver.parameters["method"]) == list(METHODS)


def test_objective_measures_a_ga_step_like_verify_unlearning():
    import kktunlearn as kk
    from kktunlearn.datasets import near_orthogonal

    obj = _load("objective.py").Objective.get_instance(model="linear", n_forget=1, width=20, max_iter=500)
    X, y = near_orthogonal(12, 150, seed=1)
    Xt, yt = near_orthogonal(50, 150, seed=2)
    obj.set_data(X, y, Xt, yt)
    ga = kk.unlearn(obj.original, X, y, [0], method="ga")
    res = obj.evaluate_result(ga)
    ref = kk.verify_unlearning(ga, X, y, [0], retrained=obj.retrained, original=obj.original)
    assert res["value"] == pytest.approx(ref.epsilon_rel)
    assert res["tau"] == pytest.approx(ref.tau)
    assert res["cosine_to_retrained"] == pytest.approx(ref.cosine_to_retrained)
    # the retrained oracle is measured as a perfect match of itself
    own = obj.evaluate_result(obj.retrained)
    assert own["cosine_to_retrained"] == pytest.approx(1.0) and own["tow"] == pytest.approx(1.0)

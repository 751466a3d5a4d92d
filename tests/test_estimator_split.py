"""The estimator split: the layers' import graph, the model-class registry, and the core kernels on
pre-activations that replaced Python re-implementations (checked against numpy)."""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest

import kktunlearn as kk
from kktunlearn import _core, _estimator

PKG = pathlib.Path(kk.__file__).parent


def _imports(module: str) -> set:
    """Every kktunlearn module `module` imports (at top level or inside functions)."""
    tree = ast.parse((PKG / f"{module}.py").read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(a.name for a in node.names)
    return out


@pytest.mark.parametrize("module", ["io", "unlearning", "kkt", "_estimator", "_training", "_inputs", "_span"])
def test_no_module_below_the_estimators_imports_models(module):
    assert "models" not in _imports(module)


def test_registry_holds_the_public_estimators_only():
    assert _estimator.model_classes() == {"LinearModel": kk.LinearModel, "TwoLayerReLU": kk.TwoLayerReLU}

    class Mine(kk.LinearModel):  # defined outside the library: a model file can never name it
        pass

    assert "Mine" not in _estimator.model_classes()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("slope", [0.0, 0.2, 1.0])
def test_kernels_on_preactivations_match_numpy(dtype, slope):
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(9, 5)).astype(dtype)
    Z[0, 0] = 0.0  # sigma'(0) := slope
    u = rng.normal(size=5).astype(dtype)
    c = rng.normal(size=9)
    Zd, ud = Z.astype(np.float64), u.astype(np.float64)
    act = np.where(Zd > 0, Zd, slope * Zd)
    dact = np.where(Zd > 0, 1.0, slope)
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(_core.outputs_from_preacts(Z, u, slope), act @ ud, rtol=tol, atol=tol)
    S = _core.activation_pattern_from_preacts(Z, slope)
    assert S.dtype == dtype and np.array_equal(S, dact.astype(dtype))
    G, gu = _core.coefficient_matrix(Z, u, c, slope, True)
    np.testing.assert_allclose(G, c[:, None] * ud[None, :] * dact, rtol=tol, atol=tol)
    np.testing.assert_allclose(gu, act.T @ c, rtol=tol, atol=tol)
    assert _core.coefficient_matrix(Z, u, c, slope, False)[1] is None
    with pytest.raises(ValueError):
        _core.outputs_from_preacts(Z, u[:4], slope)


def test_span_and_primal_agree_through_the_kernels():
    from kktunlearn.datasets import near_orthogonal

    X, y = near_orthogonal(15, 200, seed=3)
    kw = dict(width=6, train_outer=True, leaky_slope=0.1, max_iter=50, random_state=2)
    a = kk.TwoLayerReLU(representation="span", **kw).fit(X, y)
    b = kk.TwoLayerReLU(representation="primal", **kw).fit(X, y)
    np.testing.assert_allclose(a.decision_function(X), b.decision_function(X), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.loss_gradient(X, y), b.loss_gradient(X, y), rtol=1e-9, atol=1e-12)
    assert np.array_equal(a.activation_pattern(X), b.activation_pattern(X))

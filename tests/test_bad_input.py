"""A catalogue of bad inputs across the public API.

Every case must end in a clear Python exception (ValueError, TypeError or a kktunlearn error class
deriving from them) whose message names the argument and says what was expected; the cases marked
WORK must succeed (non-contiguous, non-float and otherwise unusual-but-valid inputs are converted
once) and give the same numbers as the plain float64 C-contiguous input.

The cases run in a child Python process (with faulthandler on), so a segfault or abort in one case
fails that case instead of killing the test run; after a crash the child is restarted on the
remaining cases.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import traceback

import numpy as np
import pytest
from conftest import train_options

WORK = None  # expected "exception" of a case that must succeed

CASES = {}


def case(name, exc, match):
    """Register a case: `exc` the exception class(es) expected (WORK = must succeed), `match` a
    regex the message must contain (it names the argument and what was expected)."""

    def deco(fn):
        assert name not in CASES, name
        CASES[name] = (fn, exc, match)
        return fn

    return deco


# ----------------------------------------------------------------------------- helpers (child side)
def _data(n=12, d=20, seed=0):
    from kktunlearn.datasets import near_orthogonal

    return near_orthogonal(n, d, seed=seed)


def _net(**kw):
    import kktunlearn as kk

    kw.setdefault("width", 4)
    kw.setdefault("max_iter", 5)
    return kk.TwoLayerReLU(**kw)


def _fitted_linear():
    import kktunlearn as kk

    X, y = _data()
    return kk.LinearModel(max_iter=200).fit(X, y), X, y


def _fitted_net():
    X, y = _data(12, 60)
    return _net(width=30, max_iter=300, random_state=0).fit(X, y), X, y


def _with(X, i, v):
    X = X.copy()
    X.flat[i] = v
    return X


def _fit_net(X, y, **kw):
    _net(**kw).fit(X, y)


# ----------------------------------------------------------------------------- fit: data
_X, _y = None, None

V, T = ValueError, TypeError


@case("fit_nan_in_X", V, r"X contains NaN")
def _c():
    X, y = _data()
    _fit_net(_with(X, 5, np.nan), y)


@case("fit_inf_in_X", V, r"X contains inf")
def _c():
    X, y = _data()
    _fit_net(_with(X, 7, -np.inf), y)


@case("fit_nan_in_y", V, r"y contains NaN")
def _c():
    X, y = _data()
    _fit_net(X, _with(y, 2, np.nan))


@case("fit_inf_in_y", V, r"y contains NaN or inf")
def _c():
    X, y = _data()
    _fit_net(X, _with(y, 2, np.inf))


@case("fit_empty_X", V, r"X is empty")
def _c():
    _fit_net(np.zeros((0, 5)), np.zeros(0))


@case("fit_zero_features", V, r"X is empty")
def _c():
    _fit_net(np.zeros((4, 0)), np.array([1.0, -1, 1, -1]))


@case("fit_1d_X", V, r"X must be 2-D")
def _c():
    X, y = _data()
    _fit_net(X[0], y)


@case("fit_3d_X", V, r"X must be 2-D")
def _c():
    X, y = _data()
    _fit_net(X[None], y)


@case("fit_2d_y", V, r"y must be 1-D")
def _c():
    # (a column vector y warns and is ravelled, as in scikit-learn: tests/test_sklearn.py)
    X, y = _data()
    _fit_net(X, np.column_stack([y, y]))


@case("fit_mismatched_n", V, r"y has 11 labels but X has 12 rows")
def _c():
    X, y = _data()
    _fit_net(X, y[:-1])


@case("fit_three_classes", V, r"y must hold labels in \{-1, \+1\}.*3 classes")
def _c():
    X, y = _data()
    _fit_net(X, np.arange(12) % 3)


@case("fit_labels_outside_pm1_with_pm1", V, r"y must hold labels.*3 classes")
def _c():
    X, y = _data()
    _fit_net(X, _with(y, 0, 2.0))


@case("fit_single_class", V, r"y contains a single class")
def _c():
    X, y = _data()
    _fit_net(X, np.ones(12))


@case("fit_single_string_class", V, r"y contains a single class")
def _c():
    X, y = _data()
    _fit_net(X, np.array(["a"] * 12))


@case("fit_string_X", T, r"X must be numeric")
def _c():
    X, y = _data()
    _fit_net(X.astype(str), y)


@case("fit_ragged_X", V, r"X could not be converted")
def _c():
    _fit_net([[1.0, 2.0], [3.0]], [1, -1])


@case("fit_complex_X", T, r"X must be real-valued")
def _c():
    X, y = _data()
    _fit_net(X + 1j, y)


@case("fit_None_X", V, r"X must be an array")
def _c():
    _fit_net(None, [1, -1])


@case("fit_None_y", V, r"y must be an array of labels")
def _c():
    X, _ = _data()
    _fit_net(X, None)


@case("fit_object_y", T, r"y must be an array of numeric or string labels")
def _c():
    X, y = _data()
    _fit_net(X, np.array([object()] * 6 + [1] * 6, dtype=object))


@case("fit_huge_virtual_X", V, r"X .*too large")
def _c():
    # a zero-stride view with 2^62 entries (no memory behind it): converting it must not be tried blindly
    # (int8, so that numpy can describe it; as float64 it would need 2^65 bytes)
    X = np.lib.stride_tricks.as_strided(np.zeros(1, dtype=np.int8), shape=(2**31, 2**31), strides=(0, 0))
    y = np.lib.stride_tricks.as_strided(np.ones(1), shape=(2**31,), strides=(0,))
    _fit_net(X, y)


@case("fit_huge_width", V, r"width .*too large")
def _c():
    X, y = _data()
    _fit_net(X, y, width=2**62)


# ----------------------------------------------------------------------------- fit: hyper-parameters
@case("width_zero", V, r"width must be >= 1, got 0")
def _c():
    _fit_net(*_data(), width=0)


@case("width_negative", V, r"width must be >= 1, got -3")
def _c():
    _fit_net(*_data(), width=-3)


@case("width_float", T, r"width must be an integer, got float")
def _c():
    _fit_net(*_data(), width=2.5)


@case("lr_zero", V, r"lr must be > 0, got 0")
def _c():
    _fit_net(*_data(), lr=0.0)


@case("lr_negative", V, r"lr must be > 0, got -0.1")
def _c():
    _fit_net(*_data(), lr=-0.1)


@case("lr_nan", V, r"lr must be a finite number, got nan")
def _c():
    _fit_net(*_data(), lr=float("nan"))


@case("lr_inf", V, r"lr must be a finite number, got inf")
def _c():
    _fit_net(*_data(), lr=np.inf)


@case("lr_string", T, r"lr must be a real number, got str")
def _c():
    _fit_net(*_data(), lr="0.1")


@case("max_iter_negative", V, r"max_iter must be >= 0, got -1")
def _c():
    _fit_net(*_data(), max_iter=-1)


@case("max_iter_float", T, r"max_iter must be an integer, got float")
def _c():
    _fit_net(*_data(), max_iter=10.5)


@case("max_iter_overflow", V, r"max_iter is too large")
def _c():
    _fit_net(*_data(), max_iter=2**70)


@case("loss_unknown", V, r"loss must be one of \['exponential', 'logistic'\], got 'hinge'")
def _c():
    _fit_net(*_data(), loss="hinge")


@case("loss_None", V, r"loss must be one of")
def _c():
    _fit_net(*_data(), loss=None)


@case("representation_unknown", V, r"representation must be one of .*'dual'")
def _c():
    _fit_net(*_data(), representation="dual")


@case("n_threads_zero", V, r"n_threads must be None \(OpenMP default\) or a positive integer, got 0")
def _c():
    _fit_net(*_data(), n_threads=0)


@case("n_threads_negative", V, r"n_threads must be None .* positive integer, got -2")
def _c():
    _fit_net(*_data(), n_threads=-2)


@case("n_threads_string", T, r"n_threads must be None or a positive integer, got '4'")
def _c():
    _fit_net(*_data(), n_threads="4")


@case("n_threads_overflow", V, r"n_threads .*too large")
def _c():
    _fit_net(*_data(), n_threads=2**40)


@case("leaky_slope_above_one", V, r"leaky_slope must be in \[0, 1\)")
def _c():
    _fit_net(*_data(), leaky_slope=1.5)


@case("leaky_slope_negative", V, r"leaky_slope must be >= 0")
def _c():
    _fit_net(*_data(), leaky_slope=-0.1)


@case("init_scale_negative", V, r"init_scale must be >= 0")
def _c():
    _fit_net(*_data(), init_scale=-1e-3)


@case("tol_nan", V, r"tol must be a finite number")
def _c():
    _fit_net(*_data(), tol=float("nan"))


@case("lr_max_zero", V, r"lr_max must be > 0")
def _c():
    _fit_net(*_data(), lr_max=0.0)


@case("margin_tol_negative", V, r"margin_tol must be >= 0")
def _c():
    _fit_net(*_data(), margin_tol=-1.0)


@case("history_every_zero", V, r"history_every must be >= 1")
def _c():
    _fit_net(*_data(), history_every=0)


@case("dtype_int", T, r"dtype must be np.float64 or np.float32, got int64")
def _c():
    _fit_net(*_data(), dtype=np.int64)


@case("dtype_garbage", T, r"dtype must be np.float64 or np.float32")
def _c():
    _fit_net(*_data(), dtype="banana")


@case("outer_weights_wrong_length", V, r"outer_weights has 3 entries but width is 4")
def _c():
    _fit_net(*_data(), outer_weights=[1.0, -1.0, 1.0])


@case("outer_weights_nan", V, r"outer_weights contains NaN")
def _c():
    _fit_net(*_data(), outer_weights=[1.0, -1.0, np.nan, 1.0])


@case("random_state_garbage", (V, T), r"random_state|seed|SeedSequence")
def _c():
    _fit_net(*_data(), random_state="abc")


# ----------------------------------------------------------------------------- fitted-model methods
@case("predict_unfitted", V, r"not fitted yet; call fit")
def _c():
    X, _ = _data()
    _net().predict(X)


@case("params_unfitted", V, r"not fitted yet")
def _c():
    _net().params()


@case("loss_gradient_unfitted", V, r"not fitted yet")
def _c():
    X, y = _data()
    _net().loss_gradient(X, y)


@case("predict_wrong_d", V, r"X has 19 features, but LinearModel is expecting 20 features as input")
def _c():
    m, X, _ = _fitted_linear()
    m.predict(X[:, :19])


@case("predict_nan", V, r"X contains NaN")
def _c():
    m, X, _ = _fitted_linear()
    m.predict(_with(X, 0, np.nan))


@case("predict_1d", V, r"X must be 2-D")
def _c():
    m, X, _ = _fitted_linear()
    m.decision_function(X[0])


@case("score_labels_outside_classes", V, r"y contains labels \[3(\.0)?\] outside the classes \[-1(\.0)?, 1(\.0)?\]")
def _c():
    m, X, y = _fitted_linear()
    m.score(X, _with(y, 0, 3.0))


@case("margins_mismatched_n", V, r"y has 11 labels but X has 12 rows")
def _c():
    m, X, y = _fitted_net()
    m.margins(X, y[:-1])


@case("loss_gradient_string_labels_for_numeric_model", V, r"y contains labels .* outside the classes")
def _c():
    m, X, y = _fitted_net()
    m.loss_gradient(X, np.where(y > 0, "a", "b"))


@case("set_params_unknown", V, r"invalid parameter 'widht'")
def _c():
    _net().set_params(widht=3)


@case("set_parameters_u_mismatch", V, r"u has 2 entries but W has 3 rows")
def _c():
    _net().set_parameters(np.ones((3, 4)), np.ones(2))


@case("set_parameters_linear_two_rows", V, r"a linear model has one weight row")
def _c():
    import kktunlearn as kk

    kk.LinearModel().set_parameters(np.ones((2, 4)))


@case("set_parameters_nan", V, r"W contains NaN")
def _c():
    _net().set_parameters(np.full((3, 4), np.nan))


@case("clone_not_a_model", T, r"clone expects a kktunlearn model")
def _c():
    import kktunlearn as kk

    kk.clone(object())


# ----------------------------------------------------------------------------- verification (kkt.py)
def _kkt_setup():
    import kktunlearn as kk

    X, y = _data(10, 200)
    return kk, kk.LinearModel(max_iter=300).fit(X, y), X, y


@case("kkt_unfitted_model", V, r"not fitted yet")
def _c():
    import kktunlearn as kk

    X, y = _data()
    kk.kkt_multipliers(kk.LinearModel(), X, y)


@case("kkt_not_a_model", T, r"model must be a kktunlearn model")
def _c():
    import kktunlearn as kk

    X, y = _data()
    kk.kkt_multipliers("model", X, y)


@case("kkt_method_unknown", V, r"method must be one of \['nnls', 'dynamics', 'closed_form'\], got 'lsq'")
def _c():
    kk, m, X, y = _kkt_setup()
    kk.kkt_multipliers(m, X, y, method="lsq")


@case("kkt_subgradient_tol_negative", V, r"subgradient_tol must be >= 0")
def _c():
    kk, m, X, y = _kkt_setup()
    kk.kkt_multipliers(m, X, y, subgradient_tol=-1e-3)


@case("kkt_subgradient_tol_nan", V, r"subgradient_tol must be a finite number")
def _c():
    kk, m, X, y = _kkt_setup()
    kk.kkt_multipliers(m, X, y, subgradient_tol=float("nan"))


@case("kkt_tol_zero", V, r"tol must be > 0")
def _c():
    kk, m, X, y = _kkt_setup()
    kk.kkt_multipliers(m, X, y, tol=0.0)


@case("kkt_max_iter_zero", V, r"max_iter must be >= 1")
def _c():
    kk, m, X, y = _kkt_setup()
    kk.kkt_multipliers(m, X, y, max_iter=0)


@case("kkt_scale_negative", V, r"scale must be > 0")
def _c():
    kk, m, X, y = _kkt_setup()
    kk.kkt_multipliers(m, X, y, scale=-2.0)


@case("kkt_n_threads_zero", V, r"n_threads must be None")
def _c():
    kk, m, X, y = _kkt_setup()
    kk.kkt_multipliers(m, X, y, n_threads=0)


@case("kkt_nnls_on_non_fitting_model", V, r"does not fit the data.*cannot be normalized")
def _c():
    kk, m, X, y = _kkt_setup()
    kk.kkt_multipliers(m, X, -y)


@case("kkt_model_fitted_on_other_dimension", V, r"X has 20 features, but \w+ is expecting 200 features")
def _c():
    kk, m, X, y = _kkt_setup()
    X2, y2 = _data()
    kk.kkt_multipliers(m, X2, y2)


@case("kkt_closed_form_for_network", V, r"closed_form' exists for LinearModel only")
def _c():
    import kktunlearn as kk

    m, X, y = _fitted_net()
    kk.kkt_multipliers(m, X, y, method="closed_form")


@case("kkt_nan_in_X", V, r"X contains NaN")
def _c():
    kk, m, X, y = _kkt_setup()
    kk.kkt_multipliers(m, _with(X, 3, np.nan), y)


@case("kkt_report_multipliers_wrong_type", T, r"multipliers must be a KKTMultipliers")
def _c():
    kk, m, X, y = _kkt_setup()
    kk.kkt_report(m, X, y, multipliers=np.ones(10))


@case("kkt_report_multipliers_wrong_n", V, r"multipliers has 5 lambdas but X has 10 rows")
def _c():
    kk, m, X, y = _kkt_setup()
    mult = kk.kkt_multipliers(m, X[:5], y[:5])
    kk.kkt_report(m, X, y, multipliers=mult)


@case("verify_forget_out_of_range", V, r"forget index 10 is out of range for 10 data points")
def _c():
    kk, m, X, y = _kkt_setup()
    kk.verify_unlearning(m, X, y, [1, 10])


@case("verify_forget_negative", V, r"forget index -1 is out of range")
def _c():
    kk, m, X, y = _kkt_setup()
    kk.verify_unlearning(m, X, y, [-1])


@case("verify_forget_repeated", V, r"forget index 3 is repeated")
def _c():
    kk, m, X, y = _kkt_setup()
    kk.verify_unlearning(m, X, y, [3, 1, 3])


@case("verify_forget_all_points", V, r"forget contains every data point")
def _c():
    kk, m, X, y = _kkt_setup()
    kk.verify_unlearning(m, X, y, np.arange(10))


@case("verify_forget_empty", V, r"forget is empty")
def _c():
    kk, m, X, y = _kkt_setup()
    kk.verify_unlearning(m, X, y, [])


@case("verify_forget_float_indices", T, r"forget must hold integer indices")
def _c():
    kk, m, X, y = _kkt_setup()
    kk.verify_unlearning(m, X, y, [0.5])


@case("verify_forget_mask_wrong_shape", V, r"boolean forget mask must have shape \(10,\)")
def _c():
    kk, m, X, y = _kkt_setup()
    kk.verify_unlearning(m, X, y, np.ones(3, dtype=bool))


@case("verify_threshold_negative", V, r"epsilon must be >= 0")
def _c():
    kk, m, X, y = _kkt_setup()
    kk.verify_unlearning(m, X, y, [0], epsilon=-0.1)


@case("verify_threshold_nan", V, r"delta must be a finite number")
def _c():
    kk, m, X, y = _kkt_setup()
    kk.verify_unlearning(m, X, y, [0], delta=float("nan"))


@case("verify_reference_scale_zero", V, r"reference_scale must be > 0")
def _c():
    kk, m, X, y = _kkt_setup()
    kk.verify_unlearning(m, X, y, [0], reference_scale=0.0)


@case("cosine_different_architectures", V, r"different architectures")
def _c():
    import kktunlearn as kk

    a, *_ = _kkt_setup()[1:]
    b, *_ = _fitted_net()
    kk.cosine_similarity(a, b)


@case("work_kkt_on_unusual_inputs", WORK, "")
def _c():
    kk, m, X, y = _kkt_setup()
    ref = kk.kkt_multipliers(m, X, y)
    got = kk.kkt_multipliers(m, np.asfortranarray(X).astype(np.float32).astype(np.float64),
                             list(y.astype(int)))
    np.testing.assert_allclose(got.lambdas, ref.lambdas, rtol=1e-6, atol=1e-9)
    r = kk.verify_unlearning(m, X, y, np.array([False] * 9 + [True]), epsilon=np.inf)
    assert r.forget.tolist() == [9]


# ----------------------------------------------------------------------------- the raw core (backstop)
def _core_args():
    X = np.ones((5, 4))
    W = np.ones((3, 4))
    return X, W, np.ones(3), np.ones(5)


@case("core_preactivations_d_mismatch", V, r"preactivations: the number of columns of W is 6, expected 4")
def _c():
    from kktunlearn import _core

    X, *_ = _core_args()
    _core.preactivations(X, np.ones((3, 6)), 1)


@case("core_outputs_u_short", V, r"outputs: u has 1 entries, expected 3")
def _c():
    from kktunlearn import _core

    X, W, u, y = _core_args()
    _core.outputs(X, W, np.ones(1), 0.0, 1)


@case("core_loss_and_grad_y_short", V, r"loss_and_grad: y has 2 entries, expected 5")
def _c():
    from kktunlearn import _core

    X, W, u, y = _core_args()
    _core.loss_and_grad(X, np.ones(2), W, u, 0.0, False, "exponential", 1)


@case("core_loss_unknown", V, r"unknown loss 'hinge'")
def _c():
    from kktunlearn import _core

    X, W, u, y = _core_args()
    _core.loss_and_grad(X, y, W, u, 0.0, False, "hinge", 1)


@case("core_jvp_V_shape", V, r"jvp: V has shape \(1, 2\), expected \(3, 4\)")
def _c():
    from kktunlearn import _core

    X, W, u, y = _core_args()
    _core.jvp(X, W, u, 0.0, False, np.ones((1, 2)), None, 1)


@case("core_vjp_c_short", V, r"vjp: c .* has 2 entries, expected 5")
def _c():
    from kktunlearn import _core

    X, W, u, y = _core_args()
    _core.vjp(X, W, u, 0.0, False, np.ones(2), 1)


@case("core_gradient_gram_K_shape", V, r"gradient_gram: K has shape \(2, 2\), expected \(5, 5\)")
def _c():
    from kktunlearn import _core

    X, W, u, y = _core_args()
    _core.gradient_gram(np.ones((2, 2)), np.ones((5, 3)), u, y, 0.0, False, 1)


@case("core_train_primal_u_short", V, r"train_primal: u0 has 2 entries, expected 3")
def _c():
    from kktunlearn import _core

    X, W, u, y = _core_args()
    _core.train_primal(X, y, W, np.ones(2), 0.0, False, train_options(lr_max=1e9))


@case("core_train_span_Z0_shape", V, r"train_span: Z0 has shape \(5, 2\), expected \(5, 3\)")
def _c():
    from kktunlearn import _core

    X, W, u, y = _core_args()
    _core.train_span(np.eye(5), np.ones((5, 2)), 1.0, y, np.zeros((5, 3)), u, 0.0, False, train_options(lr_max=1e9))


@case("core_train_negative_max_iter", V, r"max_iter must be >= 0")
def _c():
    from kktunlearn import _core

    X, W, u, y = _core_args()
    _core.train_primal(X, y, W, u, 0.0, False, train_options(lr_max=1e9, max_iter=-5))


@case("core_int_array_is_refused", T, r"incompatible function arguments")
def _c():
    from kktunlearn import _core

    X, W, *_ = _core_args()
    _core.preactivations(X.astype(np.int64), W, 1)


@case("core_strided_array_is_refused", T, r"incompatible function arguments")
def _c():
    from kktunlearn import _core

    X, W, *_ = _core_args()
    _core.preactivations(np.ones((10, 4))[::2], W, 1)


# ----------------------------------------------------------------------------- unusual but valid: must WORK
def _same_as_plain(transform, model="net"):
    m, X, y = _fitted_net() if model == "net" else _fitted_linear()
    ref = m.decision_function(X)
    got = m.decision_function(transform(X))
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-12)
    ref_fit = type(m)(**m.get_params()).fit(X, y).W_
    got_fit = type(m)(**m.get_params()).fit(transform(X), y).W_
    np.testing.assert_allclose(got_fit, ref_fit, rtol=1e-6, atol=1e-12)


@case("work_fortran_order", WORK, "")
def _c():
    _same_as_plain(np.asfortranarray)


@case("work_strided_view", WORK, "")
def _c():
    _same_as_plain(lambda X: np.repeat(X, 2, axis=1).copy()[:, ::2])


@case("work_negative_strides", WORK, "")
def _c():
    _same_as_plain(lambda X: X[::-1].copy()[::-1])


@case("work_read_only", WORK, "")
def _c():
    def ro(X):
        X = X.copy()
        X.setflags(write=False)
        return X

    _same_as_plain(ro)


@case("work_big_endian", WORK, "")
def _c():
    _same_as_plain(lambda X: X.astype(">f8"), model="linear")


@case("work_float32_input_for_float64_model", WORK, "")
def _c():
    m, X, y = _fitted_linear()
    np.testing.assert_allclose(m.decision_function(X.astype(np.float32)),
                               m.decision_function(X.astype(np.float32).astype(np.float64)), rtol=1e-15)


@case("work_int_and_bool_X", WORK, "")
def _c():
    import kktunlearn as kk

    Xi = np.array([[2, 0, 0], [0, 3, 0], [0, 0, 1], [1, 0, 0]], dtype=np.int64)
    y = np.array([1, -1, 1, 1])
    a = kk.LinearModel(max_iter=30).fit(Xi, y)
    b = kk.LinearModel(max_iter=30).fit(Xi.astype(float), y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    Xb = Xi.astype(bool)
    np.testing.assert_array_equal(kk.LinearModel(max_iter=30).fit(Xb, y).coef_,
                                  kk.LinearModel(max_iter=30).fit(Xb.astype(float), y).coef_)


@case("work_lists_and_string_labels", WORK, "")
def _c():
    import kktunlearn as kk

    X = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    m = kk.LinearModel(max_iter=50).fit(X, ["spam", "ham", "spam"])
    assert list(m.predict(X)) == ["spam", "ham", "spam"]


@case("work_int8_pm1_labels", WORK, "")
def _c():
    import kktunlearn as kk

    X, y = _data()
    m = kk.LinearModel(max_iter=50).fit(X, y.astype(np.int8))
    np.testing.assert_array_equal(m.predict(X), y.astype(np.int8))


@case("work_float32_model_with_float64_input", WORK, "")
def _c():
    X, y = _data(12, 60)
    m = _net(width=30, max_iter=100, random_state=0, dtype=np.float32).fit(X, y)
    assert m.W_.dtype == np.float32 and m.decision_function(np.asfortranarray(X)).dtype == np.float64


@case("work_max_iter_zero", WORK, "")
def _c():
    X, y = _data()
    m = _net(max_iter=0, random_state=1).fit(X, y)
    assert m.n_iter_ == 0


@case("work_absurd_thread_count_is_clamped", WORK, "")
def _c():
    # libgomp aborts the process when it cannot create the threads asked for; the core clamps
    # the team to max(256, 4 x CPUs) (results do not depend on the team size)
    from kktunlearn import _core

    assert 1 <= _core.max_threads(60000) <= max(256, 4 * os.cpu_count())
    assert _core._testing.throw_in_parallel(200000, 1, [], "runtime", False, 60000) == 200000
    X, y = _data()
    m = _net(width=20, max_iter=20, random_state=0, n_threads=60000).fit(X, y)
    r = _net(width=20, max_iter=20, random_state=0, n_threads=1).fit(X, y)
    np.testing.assert_array_equal(m.W_, r.W_)


# ----------------------------------------------------------------------------- issue 14: limits and messages
@case("fit_width_beyond_memory", V, r"width is too large: fitting TwoLayerReLU .*needs about .* but only .* available")
def _c():
    import kktunlearn as kk

    try:
        _fit_net(*_data(), width=10**9)
    except MemoryError as e:  # InsufficientMemoryError is a MemoryError and a ValueError, raised before allocating
        assert isinstance(e, kk.InsufficientMemoryError)
        raise


@case("near_orthogonal_beyond_memory", V, r"d is too large: near_orthogonal \(n=10, d=1000000000000.*available")
def _c():
    from kktunlearn.datasets import near_orthogonal

    near_orthogonal(10, 10**12)


@case("fit_sparse_X", T, r"sparse input is not supported; use X\.toarray\(\)")
def _c():
    import scipy.sparse

    X, y = _data()
    _fit_net(scipy.sparse.csr_matrix(X), y)


@case("fit_mixed_object_labels", T, r"y must be an array of numeric or string labels \(all numbers or all strings\)")
def _c():
    X, y = _data()
    _fit_net(X, np.array(["a"] * 6 + [1] * 6, dtype=object))


@case("predict_after_set_params_dtype", V, r"dtype was set to float32 after fit.*refit")
def _c():
    m, X, y = _fitted_linear()
    m.set_params(dtype=np.float32)
    m.predict(X)


@case("predict_after_set_params_width", V, r"width was set to 9 after fit.*30 neurons")
def _c():
    m, X, y = _fitted_net()
    m.set_params(width=9)
    m.predict(X)


@case("save_after_set_params_width", V, r"cannot save.*width=9 but the fitted W has 30 rows")
def _c():
    import io

    m, X, y = _fitted_net()
    m.set_params(width=9)
    m.save(io.BytesIO())


@case("normalized_gd_string", T, r"normalized_gd must be True or False, got 'no'")
def _c():
    _fit_net(*_data(), normalized_gd="no")


@case("train_outer_string", T, r"train_outer must be True or False, got 'yes'")
def _c():
    _fit_net(*_data(), train_outer="yes")


@case("random_state_negative", V, r"random_state must be a non-negative integer seed, got -1")
def _c():
    _fit_net(*_data(), random_state=-1)


@case("unlearn_forget_beyond_int64", V, r"forget index 1180591620717411303424 is out of range for 12 data points")
def _c():
    import kktunlearn as kk

    m, X, y = _fitted_linear()
    kk.unlearn(m, X, y, 2**70)


@case("unlearn_forget_uint64_max", V, r"forget index 18446744073709551615 is out of range")
def _c():
    import kktunlearn as kk

    m, X, y = _fitted_linear()
    kk.unlearn(m, X, y, np.array([2**64 - 1], np.uint64))


@case("unlearn_forget_float_zero", T, r"forget must hold integer indices.*float indices such as 0\.0")
def _c():
    import kktunlearn as kk

    m, X, y = _fitted_linear()
    kk.unlearn(m, X, y, [0.0])


@case("verify_forget_float_zero", T, r"forget must hold integer indices.*float indices such as 0\.0")
def _c():
    kk, m, X, y = _kkt_setup()
    kk.verify_unlearning(m, X, y, [0.0])   # accepted before: one rule for unlearn and verify now


@case("evaluate_unlearning_forget_out_of_range", V, r"forget index 99 is out of range for 12 data points")
def _c():
    from kktunlearn import metrics

    m, X, y = _fitted_linear()
    metrics.evaluate_unlearning(m, m, X, y, forget=[99])


@case("unlearn_sequence_forget_mask_wrong_shape", V, r"boolean forget mask must have shape \(12,\)")
def _c():
    import kktunlearn as kk

    m, X, y = _fitted_linear()
    kk.unlearn_sequence(m, X, y, [np.zeros(5, dtype=bool)], method="retrain", kkt=False)


@case("work_pandas_object_string_labels", WORK, None)
def _c():
    import pandas as pd

    X, y = _data()
    ys = pd.Series(np.where(y > 0, "yes", "no"), dtype=object)
    m = _net(max_iter=20, random_state=0).fit(X, ys)
    ref = _net(max_iter=20, random_state=0).fit(X, np.where(y > 0, "yes", "no"))
    assert list(m.classes_) == ["no", "yes"] and m.W_.tobytes() == ref.W_.tobytes()


@case("work_boolean_mask_same_as_indices", WORK, None)
def _c():
    import kktunlearn as kk

    m, X, y = _fitted_linear()
    mask = np.zeros(12, dtype=bool)
    mask[[2, 5]] = True
    a = kk.unlearn(m, X, y, mask, method="retrain")
    b = kk.unlearn(m, X, y, [5, 2], method="retrain")
    assert a.W_.tobytes() == b.W_.tobytes()
    ra = kk.verify_unlearning(a, X, y, mask)
    rb = kk.verify_unlearning(a, X, y, np.array([2, 5], dtype=np.uint8))
    assert ra.epsilon == rb.epsilon


# ----------------------------------------------------------------------------- running (parent side)
def _run_child(names):
    """Run cases in a child process; yields (name, result dict)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    here = os.path.dirname(os.path.abspath(__file__))
    code = ("import sys; sys.path.insert(0, %r); import test_bad_input as t; t._child(sys.argv[1:])" % here)
    proc = subprocess.run([sys.executable, "-X", "faulthandler", "-c", code, *names], capture_output=True,
                          text=True, env=env, timeout=600)
    return proc


def _child(names):
    import warnings

    warnings.simplefilter("ignore")  # warnings are not the subject here (ConvergenceWarning on tiny runs)
    for name in names:
        fn, exc, match = CASES[name]
        print("START " + name, flush=True)
        res = {"ok": False}
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - we classify everything
            res["exc"] = type(e).__name__
            res["mro"] = [c.__name__ for c in type(e).__mro__]
            res["msg"] = str(e)
            if exc is WORK:
                res["why"] = "raised although it must work:\n" + traceback.format_exc()
            elif not isinstance(e, exc):
                res["why"] = f"expected {exc}, got {type(e).__name__}"
            elif not re.search(match, str(e)):
                res["why"] = f"message does not match {match!r}"
            else:
                res["ok"] = True
        else:
            if exc is WORK:
                res["ok"] = True
            else:
                res["why"] = "no exception raised"
        print("RESULT " + name + " " + json.dumps(res), flush=True)


@pytest.fixture(scope="module")
def results():
    out = {}
    todo = list(CASES)
    while todo:
        proc = _run_child(todo)
        started = None
        for line in proc.stdout.splitlines():
            if line.startswith("START "):
                started = line[6:]
            elif line.startswith("RESULT "):
                name, payload = line[7:].split(" ", 1)
                out[name] = json.loads(payload)
                started = None
        done = [n for n in todo if n in out]
        if proc.returncode != 0 or started is not None:
            crashed = started if started is not None else todo[len(done)] if len(done) < len(todo) else None
            if crashed is None:
                break
            out[crashed] = {"ok": False, "why": f"CRASHED the process (exit code {proc.returncode}):\n"
                                                f"{proc.stderr[-3000:]}"}
        todo = [n for n in todo if n not in out]
    return out


def test_catalogue_is_large_enough():
    bad = [n for n, (_, e, _) in CASES.items() if e is not WORK]
    assert len(bad) >= 40
    assert len(CASES) - len(bad) >= 8


@pytest.mark.parametrize("name", list(CASES))
def test_case(results, name):
    r = results.get(name)
    assert r is not None, "the case was not run"
    assert r["ok"], f"{name}: {r.get('why')}\n  exception: {r.get('exc')} {r.get('msg', '')[:500]}"
    _, exc, _ = CASES[name]
    if exc is not WORK:  # every error is a ValueError or TypeError (library classes derive from them)
        assert {"ValueError", "TypeError"} & set(r["mro"]), r["mro"]

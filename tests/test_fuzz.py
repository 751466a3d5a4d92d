"""Property-based tests (hypothesis) driving the bindings with random shapes, dtypes, strides and
values: no crash, a clear exception for inconsistent input, and agreement with an independent numpy
reference where one is defined.

Examples per test are fixed (derandomized, so CI is reproducible); set KKT_FUZZ_SCALE=10 to run ten
times as many locally.
"""

from __future__ import annotations

import io as pyio
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import kktunlearn as kk
from kktunlearn import _core

from conftest import nnls, np_act, np_dact, np_loss, train_options

SCALE = float(os.environ.get("KKT_FUZZ_SCALE", "1"))


def fuzz(n):
    return settings(max_examples=max(1, int(n * SCALE)), deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


DTYPES = [np.float64, np.float32]
EPS = {np.float64: np.finfo(np.float64).eps, np.float32: np.finfo(np.float32).eps}


def _arr(draw, dtype, shape, lo=-4.0, hi=4.0):
    width = 32 if dtype == np.float32 else 64
    if width == 32:
        lo, hi = float(np.float32(lo)), float(np.float32(hi))
    return draw(hnp.arrays(dtype, shape, elements=st.floats(lo, hi, width=width, allow_subnormal=True)))


@st.composite
def net_case(draw, max_n=6, max_d=6, max_m=5):
    dtype = draw(st.sampled_from(DTYPES))
    n = draw(st.integers(1, max_n))
    d = draw(st.integers(1, max_d))
    m = draw(st.integers(1, max_m))
    X = _arr(draw, dtype, (n, d))
    W = _arr(draw, dtype, (m, d))
    u = _arr(draw, dtype, (m,), -1.0, 1.0)
    y = np.asarray(draw(hnp.arrays(np.int8, (n,), elements=st.sampled_from([-1, 1])))).astype(dtype)
    slope = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
    return dtype, X, W, u, y, slope


def _bound(dtype, k, mag):
    """Rounding bound of a length-k dot product with |terms| summing to mag."""
    return 4.0 * (k + 2) * EPS[dtype] * mag + 4.0 * (k + 2) * np.finfo(dtype).tiny  # (subnormals may flush)


# ----------------------------------------------------------------------------- model kernels vs numpy
@fuzz(300)
@given(net_case())
def test_forward_kernels_match_numpy(case):
    dtype, X, W, u, y, slope = case
    X64, W64, u64 = (a.astype(np.float64) for a in (X, W, u))
    d = X.shape[1]
    Z = _core.preactivations(X, W, 1)
    assert Z.dtype == dtype and Z.shape == (X.shape[0], W.shape[0])
    Zref = X64 @ W64.T
    bZ = _bound(dtype, d, np.abs(X64) @ np.abs(W64).T)
    assert np.all(np.abs(Z - Zref) <= bZ)
    N = _core.outputs(X, W, u, slope, 2)
    Nref = np_act(Zref, slope) @ u64
    assert np.all(np.abs(N - Nref) <= bZ @ np.abs(u64) + _bound(np.float64, W.shape[0], np.abs(np_act(Zref, slope)) @ np.abs(u64)))
    S = _core.activation_pattern(X, W, slope, 1)
    clear = np.abs(Zref) > bZ  # away from the kink the pattern is determined
    np.testing.assert_array_equal(S[clear], np_dact(Zref, slope).astype(dtype)[clear])
    assert set(np.unique(S)) <= {dtype(1.0), dtype(slope)}
    K = _core.kernel_matrix(X, 2)
    np.testing.assert_array_equal(K, K.T)
    assert np.all(np.abs(K - X64 @ X64.T) <= _bound(dtype, d, np.abs(X64) @ np.abs(X64).T))


@fuzz(200)
@given(net_case(), st.booleans(), st.sampled_from(["exponential", "logistic"]))
def test_gradient_kernels_match_numpy(case, train_outer, loss):
    dtype, X, W, u, y, slope = case
    n, d = X.shape
    X64, W64, u64, y64 = (a.astype(np.float64) for a in (X, W, u, y))
    Zlib = _core.preactivations(X, W, 1).astype(np.float64)  # the kink side is taken from the library
    Zref = X64 @ W64.T
    q = y64 * (np_act(Zref, slope) @ u64)
    lv, ld = np_loss(q, loss)
    L, gW, gu = _core.loss_and_grad(X, y, W, u, slope, train_outer, loss, 2)
    scale_q = np.abs(np_act(np.abs(X64) @ np.abs(W64).T, 1.0)) @ np.abs(u64)
    tol_q = _bound(dtype, d, scale_q)
    assert abs(L - lv.mean()) <= np.mean(np.exp(np.abs(q) + tol_q) * tol_q) + 1e-12 * abs(lv.mean())
    c = ld * y64 / n
    gW_ref = (c[:, None] * np_dact(Zlib, slope) * u64[None, :]).T @ X64
    mag = (np.abs(c)[:, None] * np.abs(u64)[None, :]).T @ np.abs(X64)
    assert gW.dtype == dtype
    # c itself carries the margin's rounding (relative tol_q through l'), plus the product rounding
    floor = 8 * (n + 2) * np.finfo(dtype).tiny  # float32 subnormals may flush to zero
    bound = mag * (4 * (n + 2) * EPS[dtype] + 2 * np.max(tol_q) + 1e-12) + floor
    # an entry beyond the dtype's range rounds to +-inf (IEEE overflow), e.g. float32 at margins ~ -90
    over = np.abs(gW_ref) - bound > np.finfo(dtype).max
    assert np.all(np.isinf(gW[over]) & (np.sign(gW[over]) == np.sign(gW_ref[over])))
    if over.any():
        return
    assert np.all(np.abs(gW - gW_ref) <= bound)
    if train_outer:
        gu_ref = np_act(Zlib, slope).T @ c
        magu = np.abs(np_act(Zlib, slope)).T @ np.abs(c)
        assert np.all(np.abs(gu - gu_ref) <= magu * (4 * (n + 2) * EPS[dtype] + 2 * np.max(tol_q) + 1e-12) + floor)
    else:
        assert gu is None
    # vjp with the same coefficients gives the same gradient; jvp is its adjoint
    vW, vu = _core.vjp(X, W, u, slope, train_outer, c, 1)
    np.testing.assert_allclose(vW, gW_ref, atol=float(np.max(mag, initial=0)) * 1e-4 + floor, rtol=0)
    V = np.ones_like(W)
    jv = _core.jvp(X, W, u, slope, train_outer, V, np.ones(W.shape[0]) if train_outer else None, 1)
    lhs = float(jv @ c)
    rhs = float(np.sum(vW.astype(np.float64))) + (float(np.sum(vu)) if train_outer else 0.0)
    scale = np.sum(np.abs(mag)) + np.abs(jv) @ np.abs(c) + np.sum(np.abs(vW)) + (np.sum(np.abs(vu)) if train_outer else 0)
    assert abs(lhs - rhs) <= 1e-4 * scale + 1e-200


@fuzz(150)
@given(net_case(max_n=5), st.booleans())
def test_gradient_gram_matches_explicit_jacobian(case, train_outer):
    dtype, X, W, u, y, slope = case
    n, d = X.shape
    m = W.shape[0]
    X64, u64, y64 = X.astype(np.float64), u.astype(np.float64), y.astype(np.float64)
    Z = _core.preactivations(X, W, 1)
    K = _core.kernel_matrix(X, 1)
    G = _core.gradient_gram(K, Z, u, y, slope, train_outer, 2)
    Z64 = Z.astype(np.float64)
    J = np.concatenate([(u64[None, :, None] * np_dact(Z64, slope)[:, :, None] * X64[:, None, :]).reshape(n, m * d)]
                       + ([np_act(Z64, slope)] if train_outer else []), axis=1)
    Gref = (y64[:, None] * J) @ (y64[:, None] * J).T
    mag = np.abs(J) @ np.abs(J).T
    floor = 8 * (m * d + 4) * np.finfo(dtype).tiny * (1.0 + float(np.sum(u64 ** 2)))  # K in float32 may flush
    assert np.all(np.abs(G - Gref) <= mag * 8 * (m * d + 4) * EPS[dtype] + floor)


# ----------------------------------------------------------------------------- losses at any margin
@fuzz(300)
@given(hnp.arrays(np.float64, st.integers(1, 8),
                  elements=st.floats(-700.0, 1e6, allow_nan=False, allow_infinity=False)),
       st.sampled_from(["exponential", "logistic"]))
def test_losses_and_margin_stats(q, loss):
    lv, ld = _core.losses(q, loss)
    if loss == "exponential":
        ref, dref = np.exp(-q), -np.exp(-q)
    else:
        ref, dref = np.logaddexp(0.0, -q), -np.exp(-np.logaddexp(0.0, q))
    np.testing.assert_allclose(lv, ref, rtol=1e-12, atol=0)
    np.testing.assert_allclose(ld, dref, rtol=1e-12, atol=0)
    ms = _core.margin_stats(q, loss)
    assert ms.min_margin == q.min() and ms.n_misfit == int(np.sum(q <= 0))
    # log of the mean loss, computed stably in the test: logsumexp of log l(q_i) minus log n
    logl = -q if loss == "exponential" else np.log(np.logaddexp(0.0, -q)) if np.all(q < 30) else None
    if logl is not None:
        mx = logl.max()
        ref_log = mx + np.log(np.sum(np.exp(logl - mx))) - np.log(q.size)
        assert abs(ms.log_loss - ref_log) <= 1e-9 * max(1.0, abs(ref_log))
    assert np.isfinite(ms.log_loss)


# ----------------------------------------------------------------------------- public API: dtypes, strides
_MODELS = {}


def _model(kind, d):
    key = (kind, d)
    if key not in _MODELS:
        rng = np.random.default_rng(d)
        if kind == "linear":
            m = kk.LinearModel().set_parameters(rng.standard_normal((1, d)))
        elif kind == "net":
            m = kk.TwoLayerReLU(width=3, leaky_slope=0.2).set_parameters(rng.standard_normal((3, d)))
        else:
            m = kk.TwoLayerReLU(width=3, train_outer=True, dtype=np.float32).set_parameters(
                rng.standard_normal((3, d)), rng.standard_normal(3))
        _MODELS[key] = m
    return _MODELS[key]


@st.composite
def any_X(draw, d):
    """X of any dtype, possibly a non-contiguous view (strided, transposed, reversed)."""
    n = draw(st.integers(1, 6))
    dtype = draw(st.sampled_from(["f8", "f4", "i8", "i1", "u1", "bool", ">f8", "f2"]))
    sr, sc = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    layout = draw(st.sampled_from(["C", "F", "T", "rev"]))
    if dtype == "bool":
        base = draw(hnp.arrays(np.bool_, (n * sr, d * sc)))
    elif dtype[-2] in "iu":
        base = draw(hnp.arrays(np.dtype(dtype), (n * sr, d * sc), elements=st.integers(-5 if "i" in dtype else 0, 5)))
    else:
        base = draw(hnp.arrays(np.dtype(dtype), (n * sr, d * sc), elements=st.floats(-8, 8, width=16 if dtype == "f2" else 32)))
    X = base[::sr, ::sc]
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "T":
        X = np.ascontiguousarray(X.T).T
    elif layout == "rev":
        X = X[::-1].copy()[::-1]
    return X


@fuzz(400)
@given(st.sampled_from(["linear", "net", "net32"]), st.integers(1, 5), st.data())
def test_public_api_converts_any_numeric_input_once(kind, d, data):
    m = _model(kind, d)
    X = data.draw(any_X(d))
    ref_X = np.asarray(X, dtype=np.float64).astype(m.dtype_).astype(np.float64)
    W, u = m.W_.astype(np.float64), m.u_.astype(np.float64)
    N = m.decision_function(X)
    Zref = ref_X @ W.T
    bound = _bound(m.dtype_, d, np.abs(ref_X) @ np.abs(W).T) @ np.abs(u) + 1e-12
    assert np.all(np.abs(N - np_act(Zref, m.slope_) @ u) <= bound)
    y = data.draw(hnp.arrays(np.int64, (X.shape[0],), elements=st.sampled_from([-1, 1])))
    q = m.margins(X, y)
    np.testing.assert_array_equal(q, y * N)
    pred = m.predict(X)
    np.testing.assert_array_equal(pred, np.where(N > 0, 1, -1))


@fuzz(200)
@given(st.data())
def test_fit_on_random_labels_and_data_never_crashes(data):
    n = data.draw(st.integers(1, 6))
    d = data.draw(st.integers(1, 5))
    X = data.draw(any_X(d).filter(lambda a: True))
    X = X[:n] if X.shape[0] >= n else X
    n = X.shape[0]
    kind = data.draw(st.sampled_from(["pm1", "01", "str", "float", "three", "one"]))
    if kind == "pm1":
        y = data.draw(hnp.arrays(np.int64, (n,), elements=st.sampled_from([-1, 1])))
    elif kind == "01":
        y = data.draw(hnp.arrays(np.int64, (n,), elements=st.sampled_from([0, 1])))
    elif kind == "str":
        y = np.array(data.draw(st.lists(st.sampled_from(["a", "b"]), min_size=n, max_size=n)))
    elif kind == "float":
        y = data.draw(hnp.arrays(np.float64, (n,), elements=st.one_of(st.sampled_from([-1.0, 1.0, 0.5, np.nan]),
                                                                      st.floats(-2, 2))))
    elif kind == "three":
        y = np.arange(n) % 3
    else:
        y = np.zeros(n)
    model = data.draw(st.sampled_from([
        lambda: kk.LinearModel(max_iter=5),
        lambda: kk.TwoLayerReLU(width=2, max_iter=5, random_state=0),
        lambda: kk.TwoLayerReLU(width=3, max_iter=5, random_state=1, train_outer=True, dtype=np.float32),
    ]))()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kk.ConvergenceWarning)
        try:
            model.fit(X, y)
        except (ValueError, TypeError, kk.TrainingDivergedError) as exc:
            assert str(exc)  # a message
            uniq = np.unique(y[~np.isnan(y)] if y.dtype.kind == "f" else y)
            if isinstance(exc, ValueError) and "label" not in str(exc) and "class" not in str(exc):
                assert "y" in str(exc) or "X" in str(exc)
            assert not (len(uniq) == 2 and (y.dtype.kind != "f" or np.isfinite(y).all())
                        and isinstance(exc, ValueError) and "class" in str(exc) and "single" in str(exc))
            return
    assert np.isfinite(model.W_).all() and set(np.unique(model.predict(X))) <= set(model.classes_.tolist())


@fuzz(100)
@given(st.sampled_from(DTYPES), st.integers(1, 4), st.integers(1, 5), st.booleans(), st.data())
def test_model_files_round_trip_exactly(dtype, m, d, train_outer, data):
    W = _arr(data.draw, dtype, (m, d), -1e30, 1e30)
    u = _arr(data.draw, dtype, (m,), -10, 10)
    model = kk.TwoLayerReLU(width=m, train_outer=train_outer, dtype=dtype).set_parameters(W, u)
    model.classes_ = np.array(data.draw(st.sampled_from([["no", "yes"], [0, 7], [-1.5, 2.5]])))
    buf = pyio.BytesIO()
    model.save(buf)
    buf.seek(0)
    r = kk.load(buf)
    assert r.W_.tobytes() == model.W_.tobytes() and r.u_.tobytes() == model.u_.tobytes()
    assert r.W_.dtype == dtype and r.classes_.dtype == model.classes_.dtype
    np.testing.assert_array_equal(r.classes_, model.classes_)


# ----------------------------------------------------------------------------- the raw core: inconsistent shapes
def _mk(dtype, shape, rng):
    return np.ascontiguousarray(rng.uniform(-1, 1, size=shape).astype(dtype))


def _newton_options():
    o = _core.NewtonOptions()
    o.method, o.n_steps, o.krylov_dim, o.n_threads = "cubic", 1, 10, 1
    return o


def _ga_options(c):
    o = _core.GAOptions()
    o.lam_forget, o.alpha, o.w_scale, o.n_threads = c.astype(np.float64), 0.5, 1.0, 1
    return o


def _kkt_options():
    o = _core.KKTOptions()
    o.scale = 1.0
    return o


def _scubic_options():
    o = _core.SCubicOptions()
    o.M, o.lr, o.sigma, o.batch_grad, o.batch_hess, o.n_outer, o.n_inner, o.seed = 1.0, 1e-3, 0.0, 2, 2, 1, 1, 0
    return o


CORE_CALLS = {
    # name: (consistency rule over the drawn dims, call)
    "preactivations": lambda A: _core.preactivations(A["X"], A["W"], 1),
    "outputs": lambda A: _core.outputs(A["X"], A["W"], A["u"], 0.0, 1),
    "activation_pattern": lambda A: _core.activation_pattern(A["X"], A["W"], 0.0, 1),
    "loss_and_grad": lambda A: _core.loss_and_grad(A["X"], A["y"], A["W"], A["u"], 0.0, True, "logistic", 1),
    "jvp": lambda A: _core.jvp(A["X"], A["W"], A["u"], 0.1, True, A["V"], A["vu"].astype(np.float64), 1),
    "vjp": lambda A: _core.vjp(A["X"], A["W"], A["u"], 0.1, True, A["c"].astype(np.float64), 1),
    "gradient_gram": lambda A: _core.gradient_gram(A["K"], A["Z"], A["u"], A["y"], 0.0, True, 1),
    "train_primal": lambda A: _core.train_primal(A["X"], A["y"], A["W"], A["u"], 0.0, False,
                                                 train_options(max_iter=3)),
    "train_span": lambda A: _core.train_span(A["K"], A["Z"], 1.0, A["y"], A["Z0"], A["u"], 0.0, False,
                                             train_options(max_iter=3)),
    "kkt_solve": lambda A: _core.kkt_solve(A["X"], A["y"], A["W"], A["u"], 0.0, False, _kkt_options(), 1),
    "retained_hvp": lambda A: _core.retained_hvp(A["X"], A["y"], A["W"], A["u"], 0.0, False, "exponential", 0.0,
                                                 np.ones(A["W"].size), 1),
    "newton_net": lambda A: _core.newton_net(A["X"], A["y"], A["W"], A["u"], 0.0, False, "dense",
                                             _newton_options()),
    "newton_lowrank": lambda A: _core.newton_lowrank(A["X"], A["y"], A["W"], A["u"], 0.0, _newton_options()),
    "scure_newton": lambda A: _core.scure_newton(A["X"], A["y"], A["W"], A["u"], 0.0, False, "exponential", 0.0,
                                                 _scubic_options(), 1),
    "ga_step": lambda A: _core.ga_step(A["X"], A["y"], A["XR"], A["W"], A["u"], _ga_options(A["c"])),
    "gd_weighted": lambda A: _core.gd_weighted(A["X"], A["y"], A["c"].astype(np.float64), A["W"], A["u"], 0.0,
                                               False, train_options(lr=0.1, normalized=False, max_iter=2)),
}


def _consistent(name, dims):
    n, d, m = dims["n"], dims["d"], dims["m"]
    ok = dims["Xd"] == d and dims["Wd"] == d and dims["um"] == m and dims["yn"] == n
    if name in ("preactivations", "activation_pattern"):
        return dims["Xd"] == dims["Wd"]
    if name == "outputs":
        return dims["Xd"] == dims["Wd"] and dims["um"] == dims["Wm"]
    ok = dims["Xd"] == dims["Wd"] and dims["um"] == dims["Wm"] and dims["yn"] == dims["Xn"]
    if name == "jvp":
        return dims["Xd"] == dims["Wd"] and dims["um"] == dims["Wm"] and dims["V"] == (dims["Wm"], dims["Wd"]) \
            and dims["vum"] == dims["Wm"]
    if name == "vjp":
        return dims["Xd"] == dims["Wd"] and dims["um"] == dims["Wm"] and dims["cn"] == dims["Xn"]
    if name == "gradient_gram":
        return dims["K"] == (dims["Zn"], dims["Zn"]) and dims["um"] == dims["Zm"] and dims["yn"] == dims["Zn"]
    if name == "train_span":
        return dims["K"] == (dims["yn"], dims["yn"]) and dims["Zn"] == dims["yn"] and dims["Zm"] == dims["um"] \
            and dims["Z0"] == (dims["yn"], dims["um"])
    if name == "ga_step":
        return ok and dims["XRd"] == dims["Wd"] and dims["cn"] == dims["Xn"]
    if name == "gd_weighted":
        return ok and dims["cn"] == dims["Xn"]
    return ok


@fuzz(600)
@given(st.sampled_from(sorted(CORE_CALLS)), st.sampled_from(DTYPES), st.data())
def test_core_rejects_inconsistent_shapes(name, dtype, data):
    """Every _core kernel either raises ValueError for inconsistent shapes or (when they agree)
    returns finite-or-reported results; an out-of-bounds read would be a silent wrong number (and an
    AddressSanitizer report in the sanitizer stage of CI)."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    base = {k: data.draw(st.integers(1, 4), label=k) for k in ("n", "d", "m")}

    def dim(key, nominal):  # usually the consistent size, sometimes another one (0 included)
        return data.draw(st.sampled_from([nominal, nominal, nominal, 0, 1, nominal + 1, max(nominal - 1, 0)]),
                         label=key)

    n, d, m = base["n"], base["d"], base["m"]
    dims = dict(base)
    dims.update(Xn=dim("Xn", n), Xd=dim("Xd", d), Wm=dim("Wm", m), Wd=dim("Wd", d), um=dim("um", m),
                yn=dim("yn", n), cn=dim("cn", n), vum=dim("vum", m), XRd=dim("XRd", d), Zn=dim("Zn", n),
                Zm=dim("Zm", m))
    dims["V"] = (dim("Vm", m), dim("Vd", d))
    dims["K"] = (dim("Kr", n), dim("Kc", n))
    dims["Z0"] = (dim("Z0n", n), dim("Z0m", m))
    A = {"X": _mk(dtype, (dims["Xn"], dims["Xd"]), rng), "W": _mk(dtype, (dims["Wm"], dims["Wd"]), rng),
         "u": _mk(dtype, (dims["um"],), rng), "y": np.where(rng.random(dims["yn"]) < 0.5, -1, 1).astype(dtype),
         "c": _mk(dtype, (dims["cn"],), rng), "vu": _mk(dtype, (dims["vum"],), rng),
         "V": _mk(dtype, dims["V"], rng), "K": _mk(dtype, dims["K"], rng), "Z": _mk(dtype, (dims["Zn"], dims["Zm"]), rng),
         "Z0": _mk(dtype, dims["Z0"], rng), "XR": _mk(dtype, (3, dims["XRd"]), rng)}
    consistent = _consistent(name, dims)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            CORE_CALLS[name](A)
        except (ValueError, _core.NumericalError, ArithmeticError) as exc:
            assert str(exc)
            return
        except TypeError as exc:  # e.g. pybind11 refusing an argument
            assert "incompatible function arguments" in str(exc) or str(exc)
            return
    assert consistent, f"{name} accepted inconsistent shapes {dims}"


@fuzz(150)
@given(st.sampled_from(["preactivations", "outputs", "kernel_matrix"]), st.sampled_from(["f4", "f8", "i8", "bool"]),
       st.sampled_from(["C", "F", "strided"]))
def test_core_refuses_silent_conversion(name, dtype, layout):
    X = np.arange(12, dtype=np.float64).reshape(3, 4).astype(dtype)
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "strided":
        X = np.repeat(X, 2, axis=1)[:, ::2]
    W = np.ones((2, 4))
    call = {"preactivations": lambda: _core.preactivations(X, W.astype(X.dtype) if X.dtype.kind == "f" else W, 1),
            "outputs": lambda: _core.outputs(X, W.astype(X.dtype) if X.dtype.kind == "f" else W,
                                             np.ones(2, dtype=X.dtype if X.dtype.kind == "f" else np.float64), 0.0, 1),
            "kernel_matrix": lambda: _core.kernel_matrix(X, 1)}[name]
    if dtype in ("f4", "f8") and X.flags.c_contiguous:
        call()
    else:  # zero-copy inputs: a non-float or non-contiguous array is refused, never read wrongly
        with pytest.raises(TypeError, match="incompatible function arguments"):
            call()


# ----------------------------------------------------------------------------- solvers vs scipy / optimality
@fuzz(150)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_nnls_gram_matches_scipy(k, n, seed):
    from scipy.optimize import nnls as scipy_nnls

    rng = np.random.default_rng(seed)
    A = rng.standard_normal((k, n))
    t = rng.standard_normal(k)
    r = nnls(A.T @ A, A.T @ t)
    x = r.x
    assert np.all(x >= 0)
    xs, _ = scipy_nnls(A, t)
    f = lambda v: 0.5 * np.sum((A @ v - t) ** 2)  # noqa: E731
    assert f(x) <= f(xs) + 1e-9 * (1 + f(xs))


@fuzz(150)
@given(hnp.arrays(np.float64, st.integers(1, 6), elements=st.floats(-5, 5)), st.data(),
       st.floats(1e-3, 10.0))
def test_cubic_subproblem_is_a_global_minimizer(lam, data, M):
    # tiny |b_i| on a negative eigenvalue is the nearly-hard case (regression: it used to overflow)
    b = data.draw(hnp.arrays(np.float64, lam.shape,
                             elements=st.one_of(st.just(0.0), st.floats(1e-300, 5), st.floats(-5, -1e-300))))
    r = _core.cubic_solve_eig(lam, b, M)
    s = np.asarray(r.s)
    val = lambda v: b @ v + 0.5 * np.sum(lam * v * v) + M / 6 * np.linalg.norm(v) ** 3  # noqa: E731
    rng = np.random.default_rng(0)
    v0 = val(s)
    for _ in range(20):
        p = s + rng.standard_normal(s.shape) * rng.choice([1e-3, 1e-1, 1.0])
        assert v0 <= val(p) + 1e-9 * (1 + abs(v0))
    assert v0 <= val(np.zeros_like(s)) + 1e-12


@pytest.mark.parametrize("b", [1e-30, 1.37803321e-76, -1e-20, 1e-16])
def test_cubic_near_hard_case(b):
    lam = np.array([-1.0])
    r = _core.cubic_solve_eig(lam, np.array([b]), 1.0)
    s = np.asarray(r.s)
    assert abs(abs(s[0]) - 2.0) < 1e-6  # minimizer of b s - s^2/2 + |s|^3/6: |s| -> 2 as b -> 0
    assert np.sign(s[0]) == -np.sign(b)  # on the side that decreases b s

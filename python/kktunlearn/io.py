"""Model files: ``model.save(path)`` and ``kktunlearn.load(path)``.

Loading a file never unpickles and never imports or calls anything named in the file, so a model
file from someone else is safe to open (unlike ``pickle``).

File format (format version 1)
-------------------------------
A ``.npz`` archive (a zip file of ``.npy`` members, written by ``numpy.savez``; read back member by
member with ``allow_pickle=False``) holding

* ``__meta__``: a ``uint8`` array, the UTF-8 bytes of a JSON object::

      {"format": "kktunlearn-model", "format_version": 1, "library_version": "0.1.0",
       "class": "TwoLayerReLU",                    # LinearModel or TwoLayerReLU (a fixed list)
       "params": {...},                            # get_params(): constructor parameters
       "state": {"W": <array W_>, "u": <array u_>} # null for an unfitted model
       "attributes": {...},                        # public fitted attributes (trailing underscore):
                                                   # classes_, n_iter_, history_, unlearn_info_, ...
       "arrays": {name: {"dtype": "<f8", "shape": [m, d]}, ...},
       "dropped": [...],                           # attributes that could not be stored (see below)
       "rng": {"name": "philox4x32-10+box-muller", "version": 1},
                                                   # the generator of W0 (kktunlearn._random) of the
                                                   # library that wrote the file; absent in files of
                                                   # kktunlearn 0.1.0, whose W0 came from numpy's PCG64
       "sha256": "..."}

* one ``.npy`` member per array (numeric, boolean or fixed-width string dtype; never ``object``).

Span-represented models (format version 2) store their state instead of W, so that a loaded model
computes bit-for-bit what the saved one did (W = c W0 + A^T X is never formed on save or load)::

       "state": {"kind": "span", "u": <array>, "X": <array n x d>, "K": <array n x n>,
                 "Z0": <array n x m>, "A": <array n x m>, "w0_coef": c, "w0_rowsq": <array m, float64>,
                 "w0_sqnorm": ||W0||_F^2, "init": {"kind": "seed", "generator": {"name":
                 "philox4x32-10+box-muller", "version": 1}, "seed": <int in [0, 2^64)>, "scale": s, "m": m,
                 "d": d} | {"kind": "zero", "m": m, "d": d} | {"kind": "array", "W0": <array>}}

(W0 = scale * z(seed, stream 0, j, k), the counter-based generator of kktunlearn._random. An init
{"kind": "seed", "bit_generator_state": {...}, ...} instead is numpy's PCG64 draw of a span model
pickled by kktunlearn 0.1.0; it is still read.)

X is the training matrix the model refers to (stored, so the file is self-contained); K = X X^T and
Z0 = X W0^T are the cached products, stored bit-exact rather than recomputed. W0 itself is not stored:
it is regenerated from the seed when needed. Files of primal models keep format version 1.

Values are encoded in JSON as themselves (None, bool, int, float including NaN/inf, str) or as a
one-key object: ``{"__array__": name}`` (an array member), ``{"__dict__": {...}}``,
``{"__tuple__": [...]}``, ``{"__dtype__": "float64"}``; lists are JSON lists. NumPy scalars are
stored as the equal Python scalar. Anything else (e.g. an arbitrary object inside
``unlearn_info_``) is not stored: it is listed under ``"dropped"`` and ``save`` warns.

``sha256`` is the SHA-256 of, for every array in sorted name order, ``name \\0 dtype.str \\0 shape
\\0`` followed by the array's C-order bytes, then the canonical JSON of the metadata without the
``sha256`` key (``json.dumps(meta, sort_keys=True)``). A changed byte anywhere in the arrays or the
metadata fails the check.

Round trips are exact: arrays keep dtype, shape and every bit; label mappings (``classes_``,
strings included), ``history_`` and JSON-able ``unlearn_info_`` come back equal.

Errors: any unreadable, truncated or corrupted file, an unknown class, a newer format version or
inconsistent contents raise :class:`kktunlearn.exceptions.ModelFileError` (a ``ValueError``), with a
message that names the field or member and says what is wrong.

Safety: the checksum detects corruption, not tampering (anyone who edits a file can recompute it).
What protects a reader from a crafted file is the schema (META_FIELDS, PARAM_FIELDS, STATE_FIELDS,
ATTRIBUTE_FIELDS, UNLEARN_INFO_FIELDS below: the one table of everything a file may hold, checked on
every load) and the bounded reading: regular files and seekable file objects only, every member's
size checked against its header and the metadata before any data is read, and the checksum
streamed first (1 MB at a time) when the members would expand beyond the file's size.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
import re
import tempfile
import warnings
import zipfile
from typing import Any, Dict, List, Tuple, Union

import numpy as np

from . import _random
from .exceptions import ModelFileError

FORMAT_NAME = "kktunlearn-model"
FORMAT_VERSION = 2
_PRIMAL_FORMAT_VERSION = 1
# The W0 generator of files without an "rng" entry (kktunlearn 0.1.0).
LEGACY_RNG = {"name": "numpy-pcg64-standard_normal", "version": 0}
_META = "__meta__"
_ATTR_RE = re.compile(r"^[a-z][a-z0-9_]*_$")
_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,200}$")
_MAX_META_BYTES = 16 << 20

PathLike = Union[str, "os.PathLike[str]"]


def _model_classes() -> Dict[str, type]:
    # A fixed registry (the estimator classes, registered by kktunlearn._estimator): a file can only name
    # one of these, nothing is imported by name.
    from ._estimator import model_classes

    return model_classes()


# ----------------------------------------------------------------------------- encoding
class _Encoder:
    def __init__(self) -> None:
        self.arrays: Dict[str, np.ndarray] = {}
        self.dropped: List[str] = []

    def add_array(self, name: str, a: np.ndarray) -> Dict[str, str]:
        if a.dtype.kind not in "biufcUS" or a.dtype.hasobject:
            raise TypeError(f"array of dtype {a.dtype}")
        key = name
        k = 1
        while key in self.arrays or key == _META:
            k += 1
            key = f"{name}.{k}"
        if not _NAME_RE.match(key):
            key = f"a{len(self.arrays)}"
        self.arrays[key] = np.ascontiguousarray(a)
        return {"__array__": key}

    def encode(self, value: Any, path: str) -> Any:
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real):
            return float(value)
        if isinstance(value, np.ndarray):
            return self.add_array(path, value)
        if isinstance(value, np.generic):  # other numpy scalars (complex, str_, ...)
            return self.add_array(path, np.asarray(value))
        if isinstance(value, type) and issubclass(value, np.generic) or isinstance(value, np.dtype):
            return {"__dtype__": np.dtype(value).name}
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if not isinstance(k, str):
                    raise TypeError(f"dict key {k!r} is not a string")
                out[k] = self.encode_or_drop(v, f"{path}.{k}")
            return {"__dict__": {k: v for k, v in out.items() if v is not _DROP}}
        if isinstance(value, list):
            return [self.encode(v, f"{path}.{i}") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v, f"{path}.{i}") for i, v in enumerate(value)]}
        raise TypeError(f"value of type {type(value).__name__}")

    def encode_or_drop(self, value: Any, path: str) -> Any:
        n_arrays = dict(self.arrays)
        try:
            return self.encode(value, path)
        except TypeError as exc:
            self.arrays = n_arrays  # undo partial additions
            self.dropped.append(f"{path} ({exc})")
            return _DROP


_DROP = object()


def _digest(arrays: Dict[str, np.ndarray], meta: Dict[str, Any]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode("utf-8") + b"\0" + a.dtype.str.encode() + b"\0" + repr(tuple(a.shape)).encode() + b"\0")
        h.update(a.tobytes(order="C"))
    body = {k: v for k, v in meta.items() if k != "sha256"}
    h.update(json.dumps(body, sort_keys=True, allow_nan=True).encode("utf-8"))
    return h.hexdigest()


def _check_fitted_matches_params(model: Any) -> None:
    """Refuse to write a file whose parameters disagree with the fitted state (set_params after fit)."""
    m, d = model._W_shape()
    problems = []
    if not model._linear and int(model.width) != m:
        problems.append(f"width={model.width!r} but the fitted W has {m} rows")
    try:
        dt = np.dtype(model.dtype_)
    except (TypeError, ValueError):
        dt = None
    if dt is not None and np.asarray(model._u).dtype != dt:
        problems.append(f"dtype={np.dtype(model.dtype).name} but the fitted weights are {np.asarray(model._u).dtype}")
    ow = getattr(model, "outer_weights", None)
    if ow is not None and np.asarray(ow).shape != (m,):
        problems.append(f"outer_weights has shape {np.asarray(ow).shape} but the fitted model has {m} neurons")
    if problems:
        raise ValueError("cannot save: the parameters were changed by set_params after fit and no longer describe "
                         f"the fitted model ({'; '.join(problems)}). Refit (fit(X, y)) or set the parameters back "
                         "before saving.")


def save(model: Any, path: Union[PathLike, Any]) -> None:
    """Write ``model`` (fitted or not) to ``path`` in the format described in this module.

    Parameters
    ----------
    model : LinearModel or TwoLayerReLU
        The model.
    path : str, os.PathLike or binary file object
        A file name (written atomically: a temporary file in the same folder, then renamed; the name
        is used as given, no ``.npz`` suffix is added) or a binary file object opened for writing.

    Raises
    ------
    TypeError
        If ``model`` is not a kktunlearn model.
    ValueError
        If a parameter cannot be stored, or the parameters were changed by ``set_params`` after
        ``fit``.

    Warns
    -----
    UserWarning
        Fitted attributes that cannot be stored exactly (arbitrary Python objects) are left out, with a
        warning naming them.
    """
    classes = _model_classes()
    cls_name = type(model).__name__
    if cls_name not in classes or type(model) is not classes[cls_name]:
        raise TypeError(f"save expects a kktunlearn LinearModel or TwoLayerReLU, got {type(model).__name__}")
    from . import __version__

    enc = _Encoder()
    params = {}
    for k, v in model.get_params().items():
        try:
            params[k] = enc.encode(v, f"params.{k}")
        except TypeError as exc:
            raise ValueError(f"cannot save parameter {k}={v!r}: {exc}; only numbers, strings, None, "
                             "dtypes and arrays can be stored") from exc
    fitted = bool(getattr(model, "is_fitted_", False))
    if fitted:
        _check_fitted_matches_params(model)
    state = None
    attributes: Dict[str, Any] = {}
    if fitted and model._is_span:
        state = _encode_span_state(enc, model._state, np.asarray(model.u_))
    elif fitted:
        state = {"W": enc.encode(np.asarray(model.W_), "W"), "u": enc.encode(np.asarray(model.u_), "u")}
    if fitted:
        cls = type(model)
        for name in sorted(vars(model)):
            if not _ATTR_RE.match(name) or isinstance(getattr(cls, name, None), property):
                continue
            val = getattr(model, name)
            if name == "feature_names_in_":
                val = np.asarray(val, dtype=str)  # scikit-learn's object array of str, stored as a str array
            v = enc.encode_or_drop(val, name)
            if v is not _DROP:
                attributes[name] = v
    meta: Dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION if (state is not None and "kind" in state) else _PRIMAL_FORMAT_VERSION,
        "library_version": __version__,
        "class": cls_name,
        "params": params,
        "state": state,
        "attributes": attributes,
        "arrays": {k: {"dtype": a.dtype.str, "shape": list(a.shape)} for k, a in enc.arrays.items()},
        "dropped": enc.dropped,
        "rng": dict(_random.GENERATOR),
    }
    meta["sha256"] = _digest(enc.arrays, meta)
    if enc.dropped:
        warnings.warn(f"save: these attributes cannot be stored in a model file and were left out: "
                      f"{enc.dropped}", UserWarning, stacklevel=3)
    meta_bytes = np.frombuffer(json.dumps(meta, sort_keys=True, allow_nan=True).encode("utf-8"), dtype=np.uint8)
    members = dict(enc.arrays)
    members[_META] = meta_bytes
    if hasattr(path, "write"):
        np.savez(path, **members)
        return
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".kktunlearn-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **members)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _encode_span_state(enc: "_Encoder", sp: Any, u: np.ndarray) -> Dict[str, Any]:
    """The span state of a model (format version 2; see the module docstring)."""
    from . import _span

    init = sp.init
    if isinstance(init, _span.SeededInit):
        ini = {"kind": "seed", "generator": dict(_random.GENERATOR), "seed": int(init.seed), "scale": init.scale,
               "m": init.m, "d": init.d}
    elif isinstance(init, _span.PCG64Init):  # a span model unpickled from kktunlearn 0.1.0
        ini = {"kind": "seed", "bit_generator_state": enc.encode(init.state, "init.state"), "scale": init.scale,
               "m": init.m, "d": init.d}
    elif isinstance(init, _span.ZeroInit):
        ini = {"kind": "zero", "m": init.m, "d": init.d}
    elif isinstance(init, _span.ArrayInit):
        ini = {"kind": "array", "W0": enc.encode(np.asarray(init.W0), "W0")}
    else:  # pragma: no cover - every init kind is listed above
        raise TypeError(f"cannot save a span model initialized by {type(init).__name__}")
    return {"kind": "span", "u": enc.encode(u, "u"), "X": enc.encode(np.asarray(sp.X), "X"),
            "K": enc.encode(np.asarray(sp.K), "K"), "Z0": enc.encode(np.asarray(sp.Z0), "Z0"),
            "A": enc.encode(np.asarray(sp.A), "A"), "w0_coef": float(sp.w0_coef),
            "w0_rowsq": enc.encode(np.asarray(sp.rowsq0(), dtype=np.float64), "w0_rowsq"),
            "w0_sqnorm": float(sp.w0_sqnorm), "init": ini}


def _decode_span_state(state: Dict[str, Any], arrays: Dict[str, np.ndarray], dt: Any, where: str):
    """(SpanState, u) from a format-version-2 span state, checked for consistent shapes and dtypes."""
    from . import _span

    keys = {"kind", "u", "X", "K", "Z0", "A", "w0_coef", "w0_rowsq", "w0_sqnorm", "init"}
    if set(state) != keys:
        raise ModelFileError(f"{where}: malformed span state (keys {sorted(state)})")
    get = {k: _decode(state[k], arrays, where) for k in ("u", "X", "K", "Z0", "A", "w0_rowsq")}
    for k in ("u", "X", "K", "Z0", "A"):
        a = get[k]
        if not isinstance(a, np.ndarray) or a.dtype != dt or a.ndim != (1 if k == "u" else 2):
            raise ModelFileError(f"{where}: span state {k} must be a {np.dtype(dt).name} array")
        if not np.isfinite(a).all():
            raise ModelFileError(f"{where}: span state {k} must be finite")
    X, K, Z0, A, u = get["X"], get["K"], get["Z0"], get["A"], get["u"]
    n, d = X.shape
    m = u.shape[0]
    if n == 0 or d == 0 or m == 0 or K.shape != (n, n) or Z0.shape != (n, m) or A.shape != (n, m):
        raise ModelFileError(f"{where}: span state shapes disagree (X {X.shape}, K {K.shape}, Z0 {Z0.shape}, "
                             f"A {A.shape}, u {u.shape})")
    rowsq = get["w0_rowsq"]
    if not isinstance(rowsq, np.ndarray) or rowsq.dtype != np.float64 or rowsq.shape != (m,):
        raise ModelFileError(f"{where}: span state w0_rowsq must be a float64 array of {m} entries")
    c, sq = state["w0_coef"], state["w0_sqnorm"]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in (c, sq)):
        raise ModelFileError(f"{where}: span state w0_coef and w0_sqnorm must be finite numbers")
    ini = state["init"]
    if not isinstance(ini, dict) or ini.get("kind") not in ("seed", "zero", "array"):
        raise ModelFileError(f"{where}: malformed span initialization")
    if ini["kind"] == "array":
        W0 = _decode(ini.get("W0"), arrays, where)
        if not isinstance(W0, np.ndarray) or W0.shape != (m, d):
            raise ModelFileError(f"{where}: span initialization W0 must be {m} x {d}")
        init = _span.ArrayInit(W0)
    else:
        if ini.get("m") != m or ini.get("d") != d:
            raise ModelFileError(f"{where}: span initialization is for {ini.get('m')} x {ini.get('d')}, the state "
                                 f"is {m} x {d}")
        if ini["kind"] == "zero":
            init = _span.ZeroInit(m, d)
        else:
            scale = ini.get("scale")
            if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not scale > 0:
                raise ModelFileError(f"{where}: span initialization scale must be > 0")
            if set(ini) not in ({"kind", "generator", "seed", "scale", "m", "d"},
                                {"kind", "bit_generator_state", "scale", "m", "d"}):
                raise ModelFileError(f"{where}: malformed seeded span initialization (keys {sorted(ini)}): it must "
                                     "hold either a generator and a seed or a numpy bit_generator_state")
            if "generator" in ini:  # the counter-based generator (kktunlearn._random)
                gen, seed = ini.get("generator"), ini.get("seed")
                if gen != _random.GENERATOR:
                    raise ModelFileError(f"{where}: the span initialization was drawn by generator {gen!r}; this "
                                         f"kktunlearn has {_random.GENERATOR!r}")
                if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**64:
                    raise ModelFileError(f"{where}: span initialization seed must be an integer in [0, 2**64)")
                init = _span.SeededInit(seed, float(scale), m, d)
            else:  # a numpy bit-generator state (a span model of kktunlearn 0.1.0's PCG64 draw)
                gs = _decode(ini.get("bit_generator_state"), arrays, where)
                if not isinstance(gs, dict) or not isinstance(gs.get("bit_generator"), str) or \
                        gs["bit_generator"] not in ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"):
                    raise ModelFileError(f"{where}: unknown generator in the span initialization")
                init = _span.PCG64Init(gs, float(scale), m, d)
                try:
                    init._generator()
                except (TypeError, ValueError, KeyError) as exc:
                    raise ModelFileError(f"{where}: invalid generator state in the span initialization ({exc})") \
                        from exc
    st = _span.SpanState(X, K, Z0, A, init, float(sq), w0_coef=float(c), w0_rowsq=rowsq)
    return st, u


# ----------------------------------------------------------------------------- the schema
# Every field a model file may hold, with its check: the top-level metadata fields, the model's
# parameters, the fitted-state members and the fitted attributes, and the known unlearn_info_ keys.
# This is the ONE place that says what a valid file contains; a new member or field of the format
# is a new row here. Each check gets the decoded value and a _Ctx and raises _Bad(problem).
# Checks run twice: first on "stub" arrays (right dtype and shape, no data: np.broadcast_to of a
# zero) before any array data is read, so shapes inconsistent with the parameters are refused
# before allocating; then on the real arrays, when `ctx.stub` is False (value checks: finite,
# distinct classes, ...).
class _Bad(Exception):
    pass


class _Ctx:
    def __init__(self, model_cls: type, params: Dict[str, Any], stub: bool):
        self.cls = model_cls
        self.params = params
        self.stub = stub
        self.linear = bool(getattr(model_cls, "_linear", False))
        self.m: Any = None   # rows of W (set by the state check)
        self.d: Any = None   # columns of W
        self.n: Any = None   # rows of X (span state)
        self.dtype: Any = None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _c_str(v, ctx):
    if not isinstance(v, str):
        raise _Bad(f"must be a string, got {type(v).__name__}")


def _c_bool(v, ctx):
    if not isinstance(v, bool):
        raise _Bad(f"must be true or false, got {v!r}"[:120])


def _c_int(v, ctx, lo=0):
    if not _is_int(v) or v < lo:
        raise _Bad(f"must be an integer >= {lo}, got {v!r}"[:120])


def _c_real(v, ctx):
    if not _is_real(v):
        raise _Bad(f"must be a number, got {type(v).__name__}")


def _c_nonneg_finite(v, ctx):
    if not _is_real(v) or not np.isfinite(v) or v < 0:
        raise _Bad(f"must be a finite number >= 0, got {v!r}"[:120])


def _c_pos_finite_or_none(v, ctx):
    if v is not None and (not _is_real(v) or not np.isfinite(v) or v <= 0):
        raise _Bad(f"must be a finite number > 0 (or null), got {v!r}"[:120])


def _c_none_or_int(v, ctx):
    if v is not None and not _is_int(v):
        raise _Bad(f"must be null or an integer, got {v!r}"[:120])


def _c_dtype(v, ctx):
    if not (isinstance(v, type) and v in (np.float64, np.float32)):
        raise _Bad(f"must be float64 or float32, got {v!r}"[:120])


def _c_plain(v, ctx):
    """A JSON-like value without arrays (parameters added to the models later than this table)."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return
    if isinstance(v, (list, tuple)):
        for x in v:
            _c_plain(x, ctx)
        return
    raise _Bad(f"must be a plain value (number, string, null or a list of them), got {type(v).__name__}")


def _c_any(v, ctx):
    """Anything the decoder produces (JSON values, tuples, dicts with string keys, arrays, dtypes)."""


def _array(ndim=None, kinds="biufcUS", model_dtype=False, shape=None, finite=False):
    """Check of an array: dimensions, dtype kinds, the model's dtype, a shape given as a function of
    the context (None entries are free), all entries finite."""
    def check(v, ctx):
        if not isinstance(v, np.ndarray):
            raise _Bad(f"must be an array, got {type(v).__name__}")
        if ndim is not None and v.ndim != ndim:
            raise _Bad(f"must be a {ndim}-D array, got shape {list(v.shape)}")
        if v.dtype.kind not in kinds:
            raise _Bad(f"has dtype {v.dtype}, expected kind {kinds!r}")
        if model_dtype and ctx.dtype is not None and v.dtype != ctx.dtype:
            raise _Bad(f"must be a {np.dtype(ctx.dtype).name} array (the model's dtype), got {v.dtype}")
        if shape is not None:
            want = shape(ctx)
            if len(want) != v.ndim or any(w is not None and w != g for w, g in zip(want, v.shape)):
                raise _Bad(f"has shape {list(v.shape)}, but the parameters and the other members imply "
                           f"{[('any' if w is None else w) for w in want]} (shapes disagree)")
        if finite and not ctx.stub and v.dtype.kind in "fc" and not np.isfinite(v).all():
            raise _Bad("must be finite (it holds NaN or inf)")
    return check


def _c_none_or(check):
    def c(v, ctx):
        if v is not None:
            check(v, ctx)
    return c


def _rows(ctx):
    return 1 if ctx.linear else ctx.params.get("width")


def _c_W(v, ctx):
    _array(ndim=2, kinds="f", model_dtype=True, finite=True)(v, ctx)
    if v.size == 0:
        raise _Bad("must be non-empty")
    if v.shape[0] != _rows(ctx):
        what = "a LinearModel has one weight row" if ctx.linear else f"width is {_rows(ctx)}"
        raise _Bad(f"has {v.shape[0]} rows but {what}")
    ctx.m, ctx.d = int(v.shape[0]), int(v.shape[1])


def _c_classes(v, ctx):
    _array(ndim=1, kinds="biufUS", shape=lambda c: (2,))(v, ctx)
    if not ctx.stub:
        if v.dtype.kind in "fc" and not np.isfinite(v).all():
            raise _Bad("must be finite")
        if v[0] == v[1]:
            raise _Bad(f"must be two distinct class labels, got {v.tolist()}")


def _c_history(v, ctx):
    if not isinstance(v, dict):
        raise _Bad(f"must be a dict of 1-D arrays, got {type(v).__name__}")
    lengths = set()
    for k, a in v.items():
        try:
            _array(ndim=1, kinds="biuf")(a, ctx)
        except _Bad as exc:
            raise _Bad(f"entry {k!r} {exc}") from None
        lengths.add(a.shape[0])
    if len(lengths) > 1:
        raise _Bad(f"entries must have equal lengths, got {sorted(lengths)}")


def _c_features(v, ctx):
    _c_int(v, ctx, 1)
    if ctx.d is not None and v != ctx.d:
        raise _Bad(f"is {v} but W has {ctx.d} columns")


def _c_fitted_flag(v, ctx):
    if v is not True:
        raise _Bad(f"must be true in a file with a fitted state, got {v!r}")


def _c_unlearn_info(v, ctx):
    if not isinstance(v, dict):
        raise _Bad(f"must be a dict, got {type(v).__name__}")
    for key, check in UNLEARN_INFO_FIELDS.items():
        if key in v:
            try:
                check(v[key], ctx)
            except _Bad as exc:
                raise _Bad(f"[{key!r}] {exc}") from None


#: top-level metadata fields: name -> (required, check). "format" and "format_version" are
#: checked first, with their own messages (not a model file / newer version).
META_FIELDS: Dict[str, Tuple[bool, Any]] = {
    "format": (True, _c_str),
    "format_version": (True, lambda v, c: _c_int(v, c, 1)),
    "library_version": (False, _c_str),
    "class": (True, _c_str),
    "params": (True, lambda v, c: None if isinstance(v, dict) else (_ for _ in ()).throw(_Bad("must be an object"))),
    "state": (True, lambda v, c: None if v is None or isinstance(v, dict) else (_ for _ in ()).throw(
        _Bad("must be an object or null"))),
    "attributes": (True, lambda v, c: None if isinstance(v, dict) else (_ for _ in ()).throw(_Bad("must be an object"))),
    "arrays": (True, lambda v, c: None if isinstance(v, dict) else (_ for _ in ()).throw(_Bad("must be an object"))),
    "dropped": (False, lambda v, c: None if isinstance(v, list) and all(isinstance(x, str) for x in v) else
                (_ for _ in ()).throw(_Bad("must be a list of strings"))),
    "rng": (False, lambda v, c: None if isinstance(v, dict) and set(v) == {"name", "version"} and isinstance(
        v["name"], str) and _is_int(v["version"]) else (_ for _ in ()).throw(
        _Bad("must be {'name': str, 'version': int} (the generator of W(0))"))),
    "sha256": (True, lambda v, c: None if isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v) else
               (_ for _ in ()).throw(_Bad("must be 64 lowercase hex digits"))),
}

#: constructor parameters: name -> check of the decoded value (then the model's own _check_hyper).
#: A parameter of the class missing here gets _c_plain.
PARAM_FIELDS: Dict[str, Any] = {
    "loss": _c_str, "lr": _c_real, "max_iter": _c_int, "normalized_gd": _c_bool, "tol": _c_real,
    "random_state": _c_none_or_int, "n_threads": _c_none_or_int, "lr_max": _c_real, "margin_tol": _c_real,
    "history_every": _c_int, "representation": _c_str, "dtype": _c_dtype, "progress": _c_bool,
    "width": lambda v, c: _c_int(v, c, 1), "train_outer": _c_bool, "leaky_slope": _c_real, "init_scale": _c_real,
    "outer_weights": _c_none_or(_array(ndim=1, kinds="biuf", shape=lambda c: (c.params.get("width"),),
                                       finite=True)),
}

def _c_span_u(v, ctx):
    _array(ndim=1, kinds="f", model_dtype=True, finite=True)(v, ctx)
    if v.shape[0] != _rows(ctx):
        what = "a LinearModel has one neuron" if ctx.linear else f"width is {_rows(ctx)}"
        raise _Bad(f"has {v.shape[0]} entries but {what}")
    ctx.m = int(v.shape[0])


def _c_span_X(v, ctx):
    _array(ndim=2, kinds="f", model_dtype=True, finite=True)(v, ctx)
    if v.size == 0:
        raise _Bad("must be non-empty")
    ctx.n, ctx.d = int(v.shape[0]), int(v.shape[1])


def _c_finite_real(v, ctx):
    if not _is_real(v) or not np.isfinite(v):
        raise _Bad(f"must be a finite number, got {v!r}"[:120])


_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def _c_span_init(v, ctx):
    if not isinstance(v, dict) or v.get("kind") not in ("seed", "zero", "array"):
        raise _Bad("must be an object with kind 'seed', 'zero' or 'array'")
    allowed = {"seed": [{"kind", "generator", "seed", "scale", "m", "d"},        # kktunlearn's own generator
                        {"kind", "bit_generator_state", "scale", "m", "d"}],     # numpy PCG64 (0.1.0 files)
               "zero": [{"kind", "m", "d"}], "array": [{"kind", "W0"}]}[v["kind"]]
    if set(v) not in allowed:
        raise _Bad(f"of kind {v['kind']!r} must have exactly the keys {' or '.join(str(sorted(a)) for a in allowed)}, "
                   f"got {sorted(v)}")
    if v["kind"] == "array":
        _array(ndim=2, kinds="f", shape=lambda c: (c.m, c.d), finite=True)(v["W0"], ctx)
        return
    if v["m"] != ctx.m or v["d"] != ctx.d:
        raise _Bad(f"is for {v['m']} x {v['d']} weights, the state is {ctx.m} x {ctx.d}")
    if v["kind"] == "seed" and "generator" in v:
        g, seed = v["generator"], v["seed"]
        if not (isinstance(g, dict) and set(g) == {"name", "version"} and isinstance(g["name"], str)
                and _is_int(g["version"])):
            raise _Bad(f"generator must be {{'name': str, 'version': int}}, got {g!r}"[:160])
        if not _is_int(seed) or not 0 <= seed < 2**64:
            raise _Bad(f"seed must be an integer in [0, 2**64), got {seed!r}"[:120])
    elif v["kind"] == "seed":
        gs = v["bit_generator_state"]
        if not isinstance(gs, dict) or gs.get("bit_generator") not in _GENERATORS:
            raise _Bad(f"bit_generator_state must name one of {list(_GENERATORS)}")
    if v["kind"] == "seed":
        if not _is_real(v["scale"]) or not np.isfinite(v["scale"]) or not v["scale"] > 0:
            raise _Bad(f"scale must be a finite number > 0, got {v['scale']!r}"[:120])


#: fitted-state members ("state" object), one table per kind of state: name -> (required, check),
#: checked in this order. "primal": W and u (format version 1); "span": the span state
#: W = c W0 + A^T X of a span-represented model (format version 2, see the module docstring).
STATE_FIELDS: Dict[str, Dict[str, Tuple[bool, Any]]] = {
    "primal": {
        "W": (True, _c_W),
        "u": (True, lambda v, c: _array(ndim=1, kinds="f", model_dtype=True, shape=lambda c: (c.m,),
                                        finite=True)(v, c)),
    },
    "span": {
        "kind": (True, lambda v, c: None),
        "u": (True, _c_span_u),
        "X": (True, _c_span_X),
        "K": (True, _array(ndim=2, kinds="f", model_dtype=True, shape=lambda c: (c.n, c.n), finite=True)),
        "Z0": (True, _array(ndim=2, kinds="f", model_dtype=True, shape=lambda c: (c.n, c.m), finite=True)),
        "A": (True, _array(ndim=2, kinds="f", model_dtype=True, shape=lambda c: (c.n, c.m), finite=True)),
        "w0_coef": (True, _c_finite_real),
        "w0_rowsq": (True, _array(ndim=1, kinds="f", shape=lambda c: (c.m,), finite=True)),
        "w0_sqnorm": (True, _c_finite_real),
        "init": (True, _c_span_init),
    },
}

#: fitted attributes (trailing underscore): name -> (required, check). No other name is accepted.
ATTRIBUTE_FIELDS: Dict[str, Tuple[bool, Any]] = {
    "classes_": (True, _c_classes),
    "is_fitted_": (False, _c_fitted_flag),
    "n_features_in_": (False, _c_features),
    "n_iter_": (False, _c_int),
    "fit_status_": (False, _c_str),
    "loss_": (False, _c_real),
    "log_loss_": (False, _c_real),
    "min_margin_": (False, _c_real),
    "fit_time_": (False, _c_real),
    "history_": (False, _c_history),
    "representation_": (False, lambda v, c: None if v in ("primal", "span") else (_ for _ in ()).throw(
        _Bad(f"must be 'primal' or 'span', got {v!r}"[:120]))),
    "unlearn_info_": (False, _c_unlearn_info),
    # the estimator layer (models.fit): input-scale factor of the step, weighted fit, DataFrame column names
    "lr_scale_": (False, _c_real),
    "weighted_fit_": (False, _c_bool),
    "feature_names_in_": (False, _array(ndim=1, kinds="U")),
}

#: ``unlearn_info_`` keys the library reads back (others are kept as stored, any decodable value).
UNLEARN_INFO_FIELDS: Dict[str, Any] = {
    "method": _c_str,
    "preact_shift": _c_nonneg_finite,
    "reference_scale": _c_pos_finite_or_none,
    "scale": _c_pos_finite_or_none,
    "step_norm": _c_real,
    "n_iter": _c_int,
    "n_retained": _c_int,
    "forget": lambda v, c: _array(ndim=1, kinds="iu")(v, c),
}


def _schema_check(meta: Dict[str, Any], arrays: Dict[str, np.ndarray], where: str, stub: bool) -> Tuple[Any, ...]:
    """Decode and check every field against the tables above; returns (cls, params, state, attributes)."""
    def bad(field: str, exc: Exception) -> ModelFileError:
        return ModelFileError(f"{where}: field {field} {exc}")

    for key in meta:
        if key not in META_FIELDS:
            raise ModelFileError(f"{where}: field {key!r} is not part of the model-file format")
    for key, (required, check) in META_FIELDS.items():
        if key not in meta:
            if required:
                raise ModelFileError(f"{where}: field {key!r} is missing")
            continue
        try:
            check(meta[key], None)
        except _Bad as exc:
            raise bad(key, exc) from None
    classes = _model_classes()
    cls_name = meta["class"]
    if cls_name not in classes:
        raise ModelFileError(f"{where}: unknown model class {cls_name!r} (expected one of {sorted(classes)})")
    cls = classes[cls_name]
    valid = set(cls._get_param_names())
    unknown = set(meta["params"]) - valid
    if unknown:
        raise ModelFileError(f"{where}: unknown parameters {sorted(unknown)} for {cls_name}")
    params = {k: _decode(v, arrays, where) for k, v in meta["params"].items()}
    ctx = _Ctx(cls, params, stub)
    for k, v in params.items():
        try:
            PARAM_FIELDS.get(k, _c_plain)(v, ctx)
        except _Bad as exc:
            raise bad(f"params.{k}", exc) from None
    ctx.dtype = params.get("dtype", np.float64)
    state = meta["state"]
    if state is None:
        if meta["attributes"]:
            raise ModelFileError(f"{where}: field attributes must be empty for an unfitted model (state is null)")
        return cls, params, None, {}
    kind = "span" if state.get("kind") == "span" else "primal"
    fields = STATE_FIELDS[kind]
    extra = set(state) - set(fields)
    missing = {k for k, (req, _) in fields.items() if req} - set(state)
    if extra or missing:
        raise ModelFileError(f"{where}: malformed fitted state (members {sorted(state)}; expected "
                             f"{sorted(fields)})")
    dstate = {}
    for k, (_req, check) in fields.items():
        if k in state:
            dstate[k] = _decode_state_member(k, state[k], arrays, where)
            try:
                check(dstate[k], ctx)
            except _Bad as exc:
                raise bad(f"state.{k}", exc) from None
    attrs = {}
    for name, v in meta["attributes"].items():
        if name not in ATTRIBUTE_FIELDS or not _ATTR_RE.match(name) or hasattr(cls, name):
            raise ModelFileError(f"{where}: attribute name {name!r} is not allowed (a model file holds only "
                                 f"{sorted(ATTRIBUTE_FIELDS)})")
        attrs[name] = _decode(v, arrays, where)
    for name, (required, check) in ATTRIBUTE_FIELDS.items():
        if name not in attrs:
            if required:
                raise ModelFileError(f"{where}: field attributes.{name} is missing from a fitted model")
            continue
        try:
            check(attrs[name], ctx)
        except _Bad as exc:
            raise bad(f"attributes.{name}", exc) from None
    return cls, params, dstate, attrs


def _decode_state_member(key: str, value: Any, arrays: Dict[str, np.ndarray], where: str) -> Any:
    """State members are encoded values, except the span state's plain JSON fields ("kind", the
    numbers, and "init", whose W0 and bit_generator_state are encoded values)."""
    if key == "init" and isinstance(value, dict):
        return {k: (_decode(v, arrays, where) if k in ("W0", "bit_generator_state") else v) for k, v in value.items()}
    if key in ("kind", "w0_coef", "w0_sqnorm"):
        return value
    return _decode(value, arrays, where)


def _array_refs(value: Any, out: List[str]) -> None:
    if isinstance(value, list):
        for v in value:
            _array_refs(v, out)
    elif isinstance(value, dict):
        if len(value) == 1 and "__array__" in value and isinstance(value["__array__"], str):
            out.append(value["__array__"])
        else:
            for v in value.values():
                _array_refs(v, out)


# ----------------------------------------------------------------------------- decoding
_CHUNK = 1 << 20


def _read_header(f: Any, info: zipfile.ZipInfo, where: str) -> Tuple[Tuple[int, ...], bool, np.dtype, int]:
    """The .npy header of an open member: (shape, fortran_order, dtype, data bytes), checked against
    the member's declared size before any data is read."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except Exception as exc:
        raise ModelFileError(f"{where}: member {info.filename!r} is not a valid .npy array ({exc})") from exc
    if dtype.hasobject or dtype.kind not in "biufcUS":
        raise ModelFileError(f"{where}: member {info.filename!r} has dtype {dtype}; model files hold only "
                             "numeric, boolean or string arrays (object arrays would need pickle)")
    count = 1
    for s in shape:
        count *= int(s)
    nbytes = count * dtype.itemsize
    header_len = f.tell()
    if nbytes != info.file_size - header_len:
        raise ModelFileError(f"{where}: member {info.filename!r} declares shape {shape} of {dtype} "
                             f"({nbytes} bytes) but holds {info.file_size - header_len} bytes")
    if fortran and len(shape) > 1:
        raise ModelFileError(f"{where}: member {info.filename!r} is stored in Fortran order; model files hold "
                             "C-order arrays")
    return tuple(int(s) for s in shape), bool(fortran), dtype, nbytes


def _stream(f: Any, nbytes: int, sink: Any, where: str, name: str) -> None:
    """Feed exactly `nbytes` of member data to `sink(chunk)` in chunks of at most 1 MB."""
    left = nbytes
    while left:
        chunk = f.read(min(left, _CHUNK))
        if not chunk:
            raise ModelFileError(f"{where}: member {name!r} ends early ({nbytes - left} of {nbytes} bytes)")
        sink(chunk)
        left -= len(chunk)
    if f.read(1):
        raise ModelFileError(f"{where}: member {name!r} holds more data than its header declares")


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> np.ndarray:
    """Read one .npy member without pickle, checking its header against the member size first."""
    with zf.open(info) as f:
        shape, _fortran, dtype, nbytes = _read_header(f, info, where)
        buf = bytearray(nbytes)
        view = memoryview(buf)
        pos = [0]

        def sink(chunk):
            view[pos[0]:pos[0] + len(chunk)] = chunk
            pos[0] += len(chunk)

        _stream(f, nbytes, sink, where, info.filename)
    return np.frombuffer(buf, dtype=dtype).reshape(shape)


def _decode(value: Any, arrays: Dict[str, np.ndarray], where: str) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode(v, arrays, where) for v in value]
    if isinstance(value, dict) and len(value) == 1:
        (tag, body), = value.items()
        if tag == "__array__" and isinstance(body, str):
            if body not in arrays:
                raise ModelFileError(f"{where}: the metadata refers to array {body!r}, which the file does not hold")
            return arrays[body]
        if tag == "__dict__" and isinstance(body, dict):
            return {k: _decode(v, arrays, where) for k, v in body.items()}
        if tag == "__tuple__" and isinstance(body, list):
            return tuple(_decode(v, arrays, where) for v in body)
        if tag == "__dtype__" and isinstance(body, str):
            try:
                dt = np.dtype(body)
            except TypeError as exc:
                raise ModelFileError(f"{where}: unknown dtype {body!r}") from exc
            if dt.hasobject:
                raise ModelFileError(f"{where}: dtype {body!r} is not allowed")
            return dt.type
    raise ModelFileError(f"{where}: unrecognized value in the metadata: {str(value)[:80]}")


def _open_source(path: Any, where: str) -> Tuple[Any, Any, int]:
    """(file object, handle to close or None, size in bytes). Regular files and seekable binary file
    objects only: a device (/dev/zero), a FIFO or a socket would read forever or block."""
    import stat as _stat

    if hasattr(path, "read"):
        try:
            seekable = bool(path.seekable()) if hasattr(path, "seekable") else False
        except Exception:
            seekable = False
        if not seekable:
            raise ModelFileError(f"{where} is not seekable; load() reads model files from regular files or "
                                 "seekable binary file objects (read a stream into io.BytesIO first)")
        try:
            fd = path.fileno()
        except Exception:
            fd = None
        if fd is not None and not _stat.S_ISREG(os.fstat(fd).st_mode):
            raise ModelFileError(f"{where} is not a regular file (a device, FIFO or socket); model files are "
                                 "regular files")
        pos = path.tell()
        size = path.seek(0, os.SEEK_END) - pos
        path.seek(pos)
        return path, None, size
    p = os.fspath(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise FileNotFoundError(f"model file {p!r} does not exist") from None
    if not _stat.S_ISREG(st.st_mode):
        kind = ("a directory" if _stat.S_ISDIR(st.st_mode) else "a FIFO" if _stat.S_ISFIFO(st.st_mode) else
                "a device" if _stat.S_ISCHR(st.st_mode) or _stat.S_ISBLK(st.st_mode) else
                "a socket" if _stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise ModelFileError(f"{where} is {kind}, not a regular file; model files are regular files")
    # O_NONBLOCK: should the name be swapped for a FIFO after the check, open() must not block
    fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    fh = os.fdopen(fd, "rb")
    st = os.fstat(fh.fileno())
    if not _stat.S_ISREG(st.st_mode):
        fh.close()
        raise ModelFileError(f"{where} is not a regular file; model files are regular files")
    return fh, fh, int(st.st_size)


def load(path: Union[PathLike, Any]) -> Any:
    """Read a model written by :func:`kktunlearn.io.save` (or ``model.save``).

    Never unpickles and never imports anything named in the file. Reads regular files and seekable
    binary file objects only. Before any array data is read, every member's declared size is checked
    against its ``.npy`` header and against the metadata's array table, and every metadata field
    against the schema (names from a fixed set, types, shapes consistent with the parameters). When
    the declared data are larger than the file itself (compressed members), the SHA-256 is verified in
    a first streaming pass (1 MB at a time) before anything is allocated, so a rejected file costs no
    more memory than a few MB.

    The SHA-256 detects corruption, not tampering: anyone can recompute it. The schema check keeps a
    crafted file from building an inconsistent model, but load only models from sources you trust to
    give you the numbers they claim.

    Parameters
    ----------
    path : str, os.PathLike or binary file object
        The model file, or a seekable binary file object.

    Returns
    -------
    LinearModel or TwoLayerReLU
        A new model object, bit-identical to the saved one.

    Raises
    ------
    ModelFileError
        (a ValueError) naming the field or member, for a file that is not a model file, is truncated
        or corrupted, fails its SHA-256 check, was written by a newer format version, or holds
        inconsistent contents.
    """
    where = f"model file {os.fspath(path)!r}" if not hasattr(path, "read") else "model file object"
    src, fh, file_size = _open_source(path, where)
    try:
        try:
            zf = zipfile.ZipFile(src, "r")
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise ModelFileError(f"{where} is not a kktunlearn model file (not a readable .npz archive: {exc}); "
                                 "it may be truncated or corrupted") from exc
        try:
            meta, arrays = _load_members(zf, where, file_size)
        except ModelFileError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, KeyError,
                NotImplementedError, RuntimeError) as exc:
            # zipfile raises BadZipFile on a CRC mismatch (a flipped byte) and EOFError / OSError on
            # truncated data; zlib errors arrive as zlib.error (an Exception) through zipfile.
            raise ModelFileError(f"{where} is corrupted or truncated ({type(exc).__name__}: {exc})") from exc
        except MemoryError:
            raise
        except Exception as exc:  # zlib.error and friends
            raise ModelFileError(f"{where} is corrupted or truncated ({type(exc).__name__}: {exc})") from exc
        finally:
            zf.close()
    finally:
        if fh is not None:
            fh.close()
    return _build_model(meta, arrays, where)


def _load_members(zf: zipfile.ZipFile, where: str, file_size: int) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    names: Dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        if not info.filename.endswith(".npy"):
            raise ModelFileError(f"{where}: unexpected member {info.filename!r} (a model file holds only "
                                 ".npy members)")
        stem = info.filename[:-4]
        if stem != _META and not _NAME_RE.match(stem) or stem.startswith("."):
            raise ModelFileError(f"{where}: member name {info.filename!r} is not allowed (letters, digits, _ . -)")
        if stem in names:
            raise ModelFileError(f"{where}: member {info.filename!r} appears twice")
        names[stem] = info
    if _META not in names:
        raise ModelFileError(f"{where} is not a kktunlearn model file (no {_META} member)")
    if names[_META].file_size > _MAX_META_BYTES:
        raise ModelFileError(f"{where}: metadata too large ({names[_META].file_size} bytes; at most "
                             f"{_MAX_META_BYTES})")
    raw = _read_member(zf, names[_META], where)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(f"{where}: malformed metadata member")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{where}: the metadata is not valid JSON ({exc})") from exc
    del raw
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{where} is not a kktunlearn model file (format tag "
                             f"{meta.get('format') if isinstance(meta, dict) else None!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{where}: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{where} uses model-file format version {version} (written by kktunlearn "
            f"{meta.get('library_version', '?')}); this kktunlearn reads format versions up to "
            f"{FORMAT_VERSION}. Upgrade kktunlearn to load it.")
    declared = meta.get("arrays")
    if not isinstance(declared, dict):
        raise ModelFileError(f"{where}: malformed metadata (no array table)")
    extra = set(names) - set(declared) - {_META}
    missing = set(declared) - set(names)
    if extra or missing:
        raise ModelFileError(f"{where}: the archive members do not match the metadata "
                             f"(missing {sorted(missing)}, unexpected {sorted(extra)})")
    # every member's header against the array table: sizes known before any data is read
    headers = {}
    for name, spec in declared.items():
        with zf.open(names[name]) as f:
            shape, _fortran, dtype, nbytes = _read_header(f, names[name], where)
        if not isinstance(spec, dict) or spec.get("dtype") != dtype.str or spec.get("shape") != list(shape):
            raise ModelFileError(f"{where}: array {name!r} has dtype {dtype.str} and shape {list(shape)}, "
                                 f"the metadata says {spec}")
        headers[name] = (shape, dtype, nbytes)
    # the schema on stub arrays (dtype and shape, no data): inconsistent shapes refused before reading
    stubs = {k: np.broadcast_to(np.zeros((), dtype=dt), shape) for k, (shape, dt, _n) in headers.items()}
    _schema_check(meta, stubs, where, stub=True)
    refs: List[str] = []
    for key in ("params", "state", "attributes"):
        _array_refs(meta.get(key), refs)
    counts = {r: refs.count(r) for r in set(refs)}
    orphans = sorted(set(declared) - set(counts))
    twice = sorted(r for r, c in counts.items() if c > 1)
    if orphans or twice:
        raise ModelFileError(f"{where}: field arrays: every array must be referenced once (unreferenced "
                             f"{orphans}, referenced more than once {twice})")
    total = sum(n for _s, _d, n in headers.values())
    from ._validation import check_memory

    check_memory(total, "the model file's arrays", f"arrays declared by {where}", error=ModelFileError)
    h = hashlib.sha256()
    if total > file_size + (8 << 20):
        # compressed members that expand beyond the file: verify the checksum first, streaming
        for name in sorted(declared):
            shape, dtype, nbytes = headers[name]
            h.update(name.encode("utf-8") + b"\0" + dtype.str.encode() + b"\0" + repr(tuple(shape)).encode() + b"\0")
            with zf.open(names[name]) as f:
                _read_header(f, names[name], where)
                _stream(f, nbytes, h.update, where, names[name].filename)
        h.update(json.dumps({k: v for k, v in meta.items() if k != "sha256"}, sort_keys=True,
                            allow_nan=True).encode("utf-8"))
        if meta.get("sha256") != h.hexdigest():
            raise ModelFileError(_CHECKSUM_MSG.format(where=where))
        arrays = {name: _read_member(zf, names[name], where) for name in declared}
        return meta, arrays
    arrays = {}
    for name in sorted(declared):
        a = _read_member(zf, names[name], where)
        h.update(name.encode("utf-8") + b"\0" + a.dtype.str.encode() + b"\0" + repr(tuple(a.shape)).encode() + b"\0")
        h.update(a.data if a.flags.c_contiguous and a.size else a.tobytes())
        arrays[name] = a
    h.update(json.dumps({k: v for k, v in meta.items() if k != "sha256"}, sort_keys=True,
                        allow_nan=True).encode("utf-8"))
    if meta.get("sha256") != h.hexdigest():
        raise ModelFileError(_CHECKSUM_MSG.format(where=where))
    return meta, arrays


_CHECKSUM_MSG = ("{where} fails its SHA-256 checksum: the arrays or the metadata were changed after the file was "
                 "written (corrupted, or edited)")


def _build_model(meta: Dict[str, Any], arrays: Dict[str, np.ndarray], where: str) -> Any:
    cls, params, state, attrs = _schema_check(meta, arrays, where, stub=False)
    model = cls(**params)
    try:
        model._check_hyper()
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{where}: invalid parameters for {cls.__name__}: {exc}") from exc
    rng = meta.get("rng", LEGACY_RNG)  # absent: a file of kktunlearn 0.1.0 (numpy PCG64 draws)
    if not (isinstance(rng, dict) and set(rng) == {"name", "version"} and isinstance(rng["name"], str)
            and isinstance(rng["version"], int) and not isinstance(rng["version"], bool)):
        raise ModelFileError(f"{where}: malformed rng entry {rng!r}")
    if state is None:
        return model
    if state.get("kind") == "span":
        st, u = _decode_span_state(meta["state"], arrays, model.dtype_, where)
        model._set_span_state(st, u)
    else:
        W = np.array(state["W"], copy=True)   # writable copies, independent of the read buffers
        u = np.array(state["u"], copy=True)
        model._set_state(W, u)
    for name, v in attrs.items():
        if name == "feature_names_in_":
            v = np.asarray(v, dtype=object)  # scikit-learn's convention: an object array of str
        setattr(model, name, np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
    model.is_fitted_ = True
    return model

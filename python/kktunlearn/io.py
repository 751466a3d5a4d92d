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

Errors: any unreadable, truncated, corrupted or tampered file, an unknown class, a newer format
version or inconsistent contents raise :class:`kktunlearn.exceptions.ModelFileError` (a
``ValueError``), with a message that says what is wrong.
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
_MAX_META_BYTES = 64 << 20

PathLike = Union[str, "os.PathLike[str]"]


def _model_classes() -> Dict[str, type]:
    # A fixed registry: a file can only name one of these, nothing is imported by name.
    from .models import LinearModel, TwoLayerReLU

    return {"LinearModel": LinearModel, "TwoLayerReLU": TwoLayerReLU}


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


def save(model: Any, path: Union[PathLike, Any]) -> None:
    """Write `model` (fitted or not) to `path` in the format described in this module.

    `path` is a file name (written atomically: a temporary file in the same folder, then renamed;
    the name is used as given, no ``.npz`` suffix is added) or a binary file object opened for
    writing. Fitted attributes that cannot be stored exactly (arbitrary Python objects) are left
    out with a UserWarning naming them.
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
            v = enc.encode_or_drop(getattr(model, name), name)
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


# ----------------------------------------------------------------------------- decoding
def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> np.ndarray:
    """Read one .npy member without pickle, checking its header against the member size first."""
    fmt = np.lib.format
    with zf.open(info) as f:
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
        header_len = f.tell()
        if count * dtype.itemsize != info.file_size - header_len:
            raise ModelFileError(f"{where}: member {info.filename!r} declares shape {shape} of {dtype} "
                                 f"({count * dtype.itemsize} bytes) but holds {info.file_size - header_len} bytes")
        data = f.read(count * dtype.itemsize)
    arr = np.frombuffer(data, dtype=dtype, count=count).copy()
    return arr.reshape(shape, order="F" if fortran else "C")


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


def _open_zip(path: Any, where: str) -> Tuple[zipfile.ZipFile, Any]:
    if hasattr(path, "read"):
        try:
            return zipfile.ZipFile(path, "r"), None
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise ModelFileError(f"{where} is not a kktunlearn model file (not a readable .npz archive: "
                                 f"{exc}); it may be truncated or corrupted") from exc
    p = os.fspath(path)
    if not os.path.exists(p):
        raise FileNotFoundError(f"model file {p!r} does not exist")
    try:
        fh = open(p, "rb")
    except OSError:
        raise
    try:
        return zipfile.ZipFile(fh, "r"), fh
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        fh.close()
        raise ModelFileError(f"{where} is not a kktunlearn model file (not a readable .npz archive: {exc}); "
                             "it may be truncated or corrupted") from exc


def load(path: Union[PathLike, Any]) -> Any:
    """Read a model written by :func:`save` (or ``model.save``); returns a new model object.

    Never unpickles and never imports anything named in the file. Raises ModelFileError (a
    ValueError) for a file that is not a model file, is truncated or corrupted, fails its SHA-256
    check, was written by a newer format version, or holds inconsistent contents.
    """
    where = f"model file {os.fspath(path)!r}" if not hasattr(path, "read") else "model file object"
    zf, fh = _open_zip(path, where)
    try:
        try:
            infos = zf.infolist()
            names = {}
            for info in infos:
                if not info.filename.endswith(".npy"):
                    raise ModelFileError(f"{where}: unexpected member {info.filename!r} (a model file holds only "
                                         ".npy members)")
                names[info.filename[:-4]] = info
            if _META not in names:
                raise ModelFileError(f"{where} is not a kktunlearn model file (no {_META} member)")
            if names[_META].file_size > _MAX_META_BYTES:
                raise ModelFileError(f"{where}: metadata too large ({names[_META].file_size} bytes)")
            raw = _read_member(zf, names[_META], where)
            if raw.dtype != np.uint8 or raw.ndim != 1:
                raise ModelFileError(f"{where}: malformed metadata member")
            try:
                meta = json.loads(raw.tobytes().decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ModelFileError(f"{where}: the metadata is not valid JSON ({exc})") from exc
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
            arrays = {}
            for name, spec in declared.items():
                a = _read_member(zf, names[name], where)
                if not isinstance(spec, dict) or spec.get("dtype") != a.dtype.str or spec.get("shape") != list(a.shape):
                    raise ModelFileError(f"{where}: array {name!r} has dtype {a.dtype.str} and shape {list(a.shape)}, "
                                         f"the metadata says {spec}")
                arrays[name] = a
        except ModelFileError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, KeyError,
                NotImplementedError, RuntimeError) as exc:
            # zipfile raises BadZipFile on a CRC mismatch (a flipped byte) and EOFError / OSError on
            # truncated data; zlib errors arrive as zlib.error (an Exception) through zipfile.
            raise ModelFileError(f"{where} is corrupted or truncated ({type(exc).__name__}: {exc})") from exc
        except Exception as exc:  # zlib.error and friends
            raise ModelFileError(f"{where} is corrupted or truncated ({type(exc).__name__}: {exc})") from exc
    finally:
        zf.close()
        if fh is not None:
            fh.close()

    if meta.get("sha256") != _digest(arrays, meta):
        raise ModelFileError(f"{where} fails its SHA-256 checksum: the arrays or the metadata were changed after "
                             "the file was written (corrupted or tampered with)")
    return _build_model(meta, arrays, where)


def _build_model(meta: Dict[str, Any], arrays: Dict[str, np.ndarray], where: str) -> Any:
    classes = _model_classes()
    cls_name = meta.get("class")
    if cls_name not in classes:
        raise ModelFileError(f"{where}: unknown model class {cls_name!r} (expected one of {sorted(classes)})")
    cls = classes[cls_name]
    params = meta.get("params")
    if not isinstance(params, dict):
        raise ModelFileError(f"{where}: malformed parameters")
    valid = set(cls._get_param_names())
    unknown = set(params) - valid
    if unknown:
        raise ModelFileError(f"{where}: unknown parameters {sorted(unknown)} for {cls_name}")
    kwargs = {k: _decode(v, arrays, where) for k, v in params.items()}
    model = cls(**kwargs)
    try:
        model._check_hyper()
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{where}: invalid parameters for {cls_name}: {exc}") from exc
    rng = meta.get("rng", LEGACY_RNG)  # absent: a file of kktunlearn 0.1.0 (numpy PCG64 draws)
    if not (isinstance(rng, dict) and set(rng) == {"name", "version"} and isinstance(rng["name"], str)
            and isinstance(rng["version"], int) and not isinstance(rng["version"], bool)):
        raise ModelFileError(f"{where}: malformed rng entry {rng!r}")
    state = meta.get("state")
    if state is None:
        return model
    if isinstance(state, dict) and state.get("kind") == "span":
        return _build_span_model(model, meta, state, arrays, where)
    if not isinstance(state, dict) or set(state) != {"W", "u"}:
        raise ModelFileError(f"{where}: malformed fitted state")
    W = _decode(state["W"], arrays, where)
    u = _decode(state["u"], arrays, where)
    dt = model.dtype_
    if not isinstance(W, np.ndarray) or W.ndim != 2 or W.dtype != dt:
        raise ModelFileError(f"{where}: W must be a 2-D {np.dtype(dt).name} array")
    if not isinstance(u, np.ndarray) or u.ndim != 1 or u.dtype != dt or u.shape[0] != W.shape[0]:
        raise ModelFileError(f"{where}: u must be a 1-D {np.dtype(dt).name} array with one entry per row of W")
    if W.size == 0 or not (np.isfinite(W).all() and np.isfinite(u).all()):
        raise ModelFileError(f"{where}: W and u must be non-empty and finite")
    if model._linear and W.shape[0] != 1:
        raise ModelFileError(f"{where}: a LinearModel has one weight row, the file holds {W.shape[0]}")
    attributes = meta.get("attributes")
    if not isinstance(attributes, dict):
        raise ModelFileError(f"{where}: malformed attributes")
    decoded = {}
    for name, v in attributes.items():
        if not isinstance(name, str) or not _ATTR_RE.match(name) or hasattr(cls, name):
            raise ModelFileError(f"{where}: attribute name {name!r} is not allowed")
        decoded[name] = _decode(v, arrays, where)
    model._set_state(W, u)
    return _finish_model(model, cls, attributes, arrays, W.shape[1], where)


def _finish_model(model: Any, cls: type, attributes: Any, arrays: Dict[str, np.ndarray], d: int, where: str) -> Any:
    if not isinstance(attributes, dict):
        raise ModelFileError(f"{where}: malformed attributes")
    decoded = {}
    for name, v in attributes.items():
        if not isinstance(name, str) or not _ATTR_RE.match(name) or hasattr(cls, name):
            raise ModelFileError(f"{where}: attribute name {name!r} is not allowed")
        decoded[name] = _decode(v, arrays, where)
    for name, v in decoded.items():
        setattr(model, name, v)
    model.is_fitted_ = True
    if getattr(model, "n_features_in_", d) != d:
        raise ModelFileError(f"{where}: n_features_in_ does not match W")
    cl = getattr(model, "classes_", None)
    if not isinstance(cl, np.ndarray) or cl.shape != (2,):
        raise ModelFileError(f"{where}: classes_ must be an array of the two class labels")
    return model


def _build_span_model(model: Any, meta: Dict[str, Any], state: Dict[str, Any], arrays: Dict[str, np.ndarray],
                      where: str) -> Any:
    """A span model from a format-version-2 file: the same state, bit for bit (W is not formed)."""
    st, u = _decode_span_state(state, arrays, model.dtype_, where)
    if model._linear and u.shape[0] != 1:
        raise ModelFileError(f"{where}: a LinearModel has one weight row, the file holds {u.shape[0]}")
    model._set_span_state(st, u)
    return _finish_model(model, type(model), meta.get("attributes"), arrays, st.X.shape[1], where)

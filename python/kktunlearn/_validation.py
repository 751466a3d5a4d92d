"""Validation of user input. Done once here, in Python; the C++ core trusts its inputs."""

from __future__ import annotations

import numbers
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from .exceptions import InsufficientMemoryError, not_fitted_error

_DTYPES = (np.float64, np.float32)


def check_dtype(dtype: Any) -> type:
    """Normalize a dtype argument to np.float64 or np.float32."""
    try:
        dt = np.dtype(dtype).type
    except TypeError as exc:
        raise TypeError(f"dtype must be np.float64 or np.float32, got {dtype!r}") from exc
    if dt not in _DTYPES:
        raise TypeError(f"dtype must be np.float64 or np.float32, got {np.dtype(dtype).name}")
    return dt


def check_array(X: Any, name: str = "X", dtype: type = np.float64, ndim: int = 2,
                allow_empty: bool = False) -> np.ndarray:
    """Convert once to a C-contiguous array of `dtype`; reject what cannot be converted.

    Raises ValueError (naming the argument) on wrong dimensionality, empty input, NaN or inf,
    and TypeError on non-numeric input.
    """
    if X is None:
        raise ValueError(f"{name} must be an array, got None")
    if _is_sparse(X):
        raise TypeError(f"{name}: sparse input is not supported; use {name}.toarray() (the kernels need a dense "
                        f"array; got {type(X).__name__})")
    if isinstance(X, np.ndarray) and X.dtype == dtype and X.flags.c_contiguous and X.ndim == ndim:
        arr = X
    else:
        try:
            raw = np.asarray(X)
        except Exception as exc:  # ragged lists etc.
            raise ValueError(f"{name} could not be converted to a numeric array: {exc}") from exc
        if raw.dtype == object or not (np.issubdtype(raw.dtype, np.number) or raw.dtype == np.bool_):
            raise TypeError(f"{name} must be numeric, got an array of dtype {raw.dtype}")
        if np.issubdtype(raw.dtype, np.complexfloating):
            raise TypeError(f"{name} must be real-valued, got complex dtype {raw.dtype}")
        if raw.ndim != ndim:
            shape_word = "2-D (n_samples, n_features)" if ndim == 2 else "1-D"
            raise ValueError(f"{name} must be {shape_word}, got an array of shape {raw.shape}")
        _check_alloc(raw.shape, np.dtype(dtype).itemsize, name)
        try:
            arr = np.ascontiguousarray(raw, dtype=dtype)
        except MemoryError as exc:
            raise ValueError(f"{name} is too large: converting shape {raw.shape} to {np.dtype(dtype).name} "
                             "needs more memory than is available") from exc
    if arr.strides != _canonical_strides(arr.shape, arr.itemsize):
        # numpy calls an array with a length-1 axis "C-contiguous" whatever that axis' stride is
        # (e.g. a negative one after X[::-1]); the zero-copy bindings need the canonical strides
        arr = np.array(arr, dtype=dtype, order="C", copy=True)
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); at least one sample and one feature are needed")
    # one pass without a temporary: a NaN or inf entry makes the sum non-finite; only then (or when a sum
    # of finite entries overflows) is the entrywise check run
    if not np.isfinite(np.add.reduce(arr, axis=None, dtype=np.float64)) and not np.isfinite(arr).all():
        bad = "NaN" if np.isnan(arr).any() else "inf"
        raise ValueError(f"{name} contains {bad}; all entries must be finite")
    return arr


_MAX_BYTES = 2**62  # beyond this numpy cannot even describe the array ("array is too big")


def _check_alloc(shape: Sequence[int], itemsize: int, name: str) -> None:
    """ValueError naming `name` when an array of `shape` could not possibly be allocated."""
    total = itemsize
    for s in shape:
        total *= int(s)
    if total > _MAX_BYTES:
        raise ValueError(f"{name} is too large: shape {tuple(int(s) for s in shape)} needs {total:.3e} bytes")


def available_memory() -> Optional[int]:
    """Bytes this process can still allocate: MemAvailable of /proc/meminfo, capped by a cgroup
    (v2 memory.max minus memory.current, or v1 limit minus usage) and by RLIMIT_AS; None if unknown."""
    import os

    best: Optional[int] = None

    def cap(v: Optional[int]) -> None:
        nonlocal best
        if v is not None and v >= 0:
            best = v if best is None else min(best, v)

    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    cap(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        try:
            cap(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            pass
    for lim, cur in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                     ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(lim) as fh:
                t = fh.read().strip()
            if t != "max" and int(t) < 2**60:
                with open(cur) as fh:
                    cap(int(t) - int(fh.read().strip()))
        except (OSError, ValueError):
            pass
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            cap(int(soft))
    except (ImportError, OSError, ValueError):
        pass
    return best


def _fmt_bytes(n: float) -> str:
    for unit, k in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= k:
            return f"{n / k:.3g} {unit}"
    return f"{int(n)} bytes"


_SMALL_BYTES = 64 << 20


def check_memory(nbytes: float, name: str, what: str, error: type = InsufficientMemoryError) -> None:
    """Raise `error` (InsufficientMemoryError: a MemoryError and a ValueError, by default) naming the parameter `name`, what needs the memory, the
    estimate and the available memory, when an allocation of `nbytes` cannot succeed. Called before
    allocating, so nothing is written to memory first."""
    if nbytes > _MAX_BYTES:
        raise ValueError(f"{name} is too large: {what} would need {_fmt_bytes(nbytes)}, beyond what any machine "
                         "can address")
    if nbytes < _SMALL_BYTES:  # below 64 MiB the allocation itself is the check (reading /proc costs ~0.1 ms)
        return
    avail = available_memory()
    if avail is not None and nbytes > avail:
        raise error(f"{name} is too large: {what} needs about {_fmt_bytes(nbytes)} but only {_fmt_bytes(avail)} "
                    "of memory is available on this machine")


def _is_sparse(X: Any) -> bool:
    """A scipy.sparse matrix or array (or anything of that interface), without importing scipy."""
    mod = type(X).__module__ or ""
    return mod.startswith("scipy.sparse") or (hasattr(X, "tocsr") and hasattr(X, "nnz"))


def _canonical_strides(shape: Sequence[int], itemsize: int) -> Tuple[int, ...]:
    out = []
    step = itemsize
    for s in reversed(shape):
        out.append(step)
        step *= max(int(s), 1)
    return tuple(reversed(out))


def encode_labels(y: Any, n: int, classes: Optional[np.ndarray] = None,
                  dtype: type = np.float64, name: str = "y") -> Tuple[np.ndarray, np.ndarray]:
    """Map labels to {-1, +1}.

    Labels already in {-1, +1} are kept. Otherwise exactly two distinct classes are required;
    the smaller is mapped to -1 and the larger to +1 (the mapping is returned as `classes`).
    When `classes` is given (a fitted model), labels must belong to it.
    """
    if y is None:
        raise ValueError(f"{name} must be an array of labels, got None")
    yr = np.asarray(y)
    if yr.ndim != 1:
        if yr.ndim == 2 and 1 in yr.shape:
            raise ValueError(f"{name} must be 1-D, got shape {yr.shape}; use y.ravel()")
        raise ValueError(f"{name} must be 1-D, got shape {yr.shape}")
    if yr.shape[0] != n:
        raise ValueError(f"{name} has {yr.shape[0]} labels but X has {n} rows")
    if yr.dtype.kind in "fc" and not np.isfinite(yr).all():
        raise ValueError(f"{name} contains NaN or inf; labels must be -1/+1 or two classes")
    if yr.dtype == object:  # e.g. a pandas Series of strings: all strings or all numbers is fine
        vals = yr.tolist()
        if all(isinstance(v, str) for v in vals):
            yr = np.array(vals, dtype=str)
        elif all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in vals):
            yr = np.array(vals, dtype=np.float64 if any(isinstance(v, float) for v in vals) else np.int64)
            if not np.isfinite(yr).all():
                raise ValueError(f"{name} contains NaN or inf; labels must be -1/+1 or two classes")
        else:
            kinds = sorted({type(v).__name__ for v in vals})
            raise TypeError(f"{name} must be an array of numeric or string labels (all numbers or all strings), "
                            f"got values of types {kinds}")
    if classes is None:
        uniq = np.unique(yr)
        if yr.dtype.kind in "iufb" and set(uniq.tolist()) <= {-1, 1}:
            classes = np.array([-1, 1], dtype=yr.dtype if yr.dtype.kind in "iuf" else np.int64)
            if len(uniq) < 2:
                raise ValueError(f"{name} contains a single class ({uniq[0]!r}); both -1 and +1 are needed")
        elif len(uniq) == 2:
            classes = uniq
        elif len(uniq) < 2:
            raise ValueError(f"{name} contains a single class ({uniq[0]!r}); two classes are needed")
        else:
            raise ValueError(
                f"{name} must hold labels in {{-1, +1}} (or exactly two classes), got {len(uniq)} classes: "
                f"{uniq[:5].tolist()}{'...' if len(uniq) > 5 else ''}")
    enc = np.empty(n, dtype=dtype)
    lo, hi = classes[0], classes[1]
    is_lo = yr == lo
    is_hi = yr == hi
    if not np.all(is_lo | is_hi):
        bad = yr[~(is_lo | is_hi)][:3].tolist()
        raise ValueError(f"{name} contains labels {bad} outside the classes {np.asarray(classes).tolist()} "
                         "(labels must be -1/+1, or the two classes the model was fitted on)")
    enc[is_lo] = -1.0
    enc[is_hi] = 1.0
    return enc, classes


def check_forget(forget: Any, n: int, name: str = "forget") -> np.ndarray:
    """The one rule for a forget set, used by unlearn, unlearn_sequence, verify_unlearning and
    metrics.evaluate_unlearning. Returns the sorted indices (int64).

    Accepted: an integer index (Python or NumPy integer, not a bool); a 1-D list/array of integer
    indices (any integer dtype); a boolean mask of shape (n,) (True = forget). Every index lies in
    [0, n) (negative indices do not wrap around), no index is repeated, the set is not empty and
    leaves at least one point. Refused with TypeError: float indices (even 0.0), bools as indices,
    strings, None; with ValueError: everything else above (the message names the offending index).
    """
    what = f"{name} must be an integer index, a list of integer indices or a boolean mask of length {n}"
    if forget is None or isinstance(forget, (str, bytes)):
        raise TypeError(f"{what}, got {forget!r}")
    if isinstance(forget, (bool, np.bool_)):
        raise TypeError(f"{what}, got a bool ({forget!r}); a boolean mask must be an array of shape ({n},)")
    if isinstance(forget, numbers.Integral):
        vals = [int(forget)]
        arr = None
    else:
        try:
            raw = np.asarray(forget)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{what}; could not convert it to an array: {exc}") from exc
        if raw.ndim == 0:
            raise TypeError(f"{name} must hold integer indices, got {forget!r} ({raw.dtype})")
        if raw.ndim != 1:
            raise ValueError(f"{name} must be 1-D (an index list or a boolean mask), got shape {raw.shape}")
        if raw.dtype == np.bool_:
            if raw.shape != (n,):
                raise ValueError(f"a boolean {name} mask must have shape ({n},), got {raw.shape}")
            arr = np.flatnonzero(raw).astype(np.int64)
            if arr.size == 0:
                raise ValueError(f"{name} is empty: the boolean mask selects no point")
            vals = None
        elif raw.size == 0:
            raise ValueError(f"{name} is empty: give at least one index to forget")
        elif raw.dtype.kind in "iu":
            vals = None
            lo, hi = raw.min(), raw.max()  # compared in the array's own dtype: no wrap-around of uint64
            if lo < 0:
                raise ValueError(f"{name} index {int(lo)} is out of range for {n} data points (negative indices "
                                 f"are not accepted; valid: 0..{n - 1})")
            if hi >= n:
                raise ValueError(f"{name} index {int(hi)} is out of range for {n} data points (valid: 0..{n - 1})")
            arr = raw.astype(np.int64)
        elif raw.dtype == object and all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))
                                         for v in raw):
            vals = [int(v) for v in raw]  # Python ints beyond int64
            arr = None
        else:
            kind = " (float indices such as 0.0 are not accepted: use integers)" if raw.dtype.kind == "f" else ""
            raise TypeError(f"{name} must hold integer indices, got dtype {raw.dtype} "
                            f"({raw[:3].tolist()}{'...' if raw.size > 3 else ''}){kind}")
    if arr is None:
        for v in vals:
            if v < 0:
                raise ValueError(f"{name} index {v} is out of range for {n} data points (negative indices are not "
                                 f"accepted; valid: 0..{n - 1})")
            if v >= n:
                raise ValueError(f"{name} index {v} is out of range for {n} data points (valid: 0..{n - 1})")
        arr = np.array(vals, dtype=np.int64)
    uniq, counts = np.unique(arr, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{name} index {int(uniq[counts > 1][0])} is repeated (duplicate indices are not accepted); "
                         "each point can be forgotten once")
    if uniq.size >= n:
        raise ValueError(f"{name} contains every data point (all {n}); the retained set would be empty")
    return uniq


def check_bool(value: Any, name: str) -> bool:
    """True/False (Python or NumPy bool) only: "no", 0 or None are not silently truthy or falsy."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_random_state(value: Any, name: str = "random_state") -> Any:
    """None, an integer seed in [0, 2**63), or a numpy Generator / SeedSequence."""
    if value is None or isinstance(value, (np.random.Generator, np.random.SeedSequence, np.random.BitGenerator)):
        return value
    if isinstance(value, (bool, np.bool_, str, bytes, float, np.floating)):
        raise TypeError(f"{name} must be None, a non-negative integer seed or a numpy.random.Generator, "
                        f"got {value!r}")
    if isinstance(value, numbers.Integral):
        if value < 0:
            raise ValueError(f"{name} must be a non-negative integer seed, got {value}")
        return value
    try:  # a sequence of seeds, as numpy.random.default_rng accepts
        np.random.SeedSequence(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be None, a non-negative integer seed (or a sequence of them) or a "
                        f"numpy.random.Generator, got {value!r}: {exc}") from exc
    return value


def check_positive(value: Any, name: str, allow_zero: bool = False, allow_inf: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if np.isnan(v) or (np.isinf(v) and not allow_inf):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return v


def check_int(value: Any, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    v = int(value)
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    if v > np.iinfo(np.int64).max:
        raise ValueError(f"{name} is too large ({v})")
    return v


def check_n_threads(n_threads: Any) -> int:
    """None -> 0 (the OpenMP default, which threadpoolctl / OMP_NUM_THREADS control)."""
    if n_threads is None:
        return 0
    if isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral):
        raise TypeError(f"n_threads must be None or a positive integer, got {n_threads!r}")
    if n_threads <= 0:
        raise ValueError(f"n_threads must be None (OpenMP default) or a positive integer, got {n_threads}")
    if n_threads > 2**31 - 1:
        raise ValueError(f"n_threads is too large ({n_threads}); kernels use at most max(256, 4 x the CPUs) threads")
    return int(n_threads)


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def check_is_fitted(model: Any) -> None:
    if not getattr(model, "is_fitted_", False):
        raise not_fitted_error(
            f"this {type(model).__name__} instance is not fitted yet; call fit(X, y) before using it")


def check_fitted_params(model: Any) -> None:
    """A fitted model whose structural parameters were changed by set_params after fit (dtype, width)
    no longer matches its weights: say so instead of failing inside a kernel."""
    u = model.__dict__.get("_u")
    if u is None:
        return
    want = np.dtype(check_dtype(model.dtype))
    if u.dtype != want:
        raise ValueError(f"dtype was set to {want.name} after fit, but the fitted weights are {u.dtype.name}; "
                         f"refit (fit(X, y)) or set_params(dtype=np.{u.dtype.name})")
    if not getattr(model, "_linear", True) and hasattr(model, "width") and int(model.width) != u.shape[0]:
        raise ValueError(f"width was set to {model.width} after fit, but the fitted model has {u.shape[0]} neurons; "
                         f"refit (fit(X, y)) or set_params(width={u.shape[0]})")


def check_features(model: Any, X: np.ndarray, name: str = "X") -> None:
    d = model.n_features_in_
    if X.shape[1] != d:
        raise ValueError(f"{name} has {X.shape[1]} features but the model was fitted with {d} features")

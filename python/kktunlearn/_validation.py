"""Validation of user input. Done once here, in Python; the C++ core trusts its inputs."""

from __future__ import annotations

import numbers
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from .exceptions import NotFittedError

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
    if not np.isfinite(arr).all():
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


def check_memory(nbytes: float, name: str, what: str, error: type = MemoryError) -> None:
    """Raise `error` (MemoryError by default) naming the parameter `name`, what needs the memory, the
    estimate and the available memory, when an allocation of `nbytes` cannot succeed. Called before
    allocating, so nothing is written to memory first."""
    if nbytes > _MAX_BYTES:
        raise ValueError(f"{name} is too large: {what} would need {_fmt_bytes(nbytes)}, beyond what any machine "
                         "can address")
    avail = available_memory()
    if avail is not None and nbytes > avail:
        raise error(f"{name} is too large: {what} needs about {_fmt_bytes(nbytes)} but only {_fmt_bytes(avail)} "
                    "of memory is available on this machine")


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
    if yr.dtype == object:
        raise TypeError(f"{name} must be an array of numeric or string labels, got dtype object")
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
        raise NotFittedError(
            f"this {type(model).__name__} is not fitted yet; call fit(X, y) before using it")


def check_features(model: Any, X: np.ndarray, name: str = "X") -> None:
    d = model.n_features_in_
    if X.shape[1] != d:
        raise ValueError(f"{name} has {X.shape[1]} features but the model was fitted with {d} features")

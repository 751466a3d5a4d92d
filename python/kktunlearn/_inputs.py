"""Input checks of the estimators in scikit-learn's conventions (numpy only).

The checks that scikit-learn's estimators make, with their error types and the gist of their
messages, so that kktunlearn models behave like any other classifier inside a Pipeline or a
GridSearchCV: 1-D or empty X, a wrong number of features, feature names of DataFrames
(``feature_names_in_``), y = None, continuous or multi-class targets, column-vector y (warns and is
ravelled), and sample weights. The numerical checks (finite, numeric, dense) are those of
:mod:`kktunlearn._validation`.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any, List, Optional, cast

import numpy as np


def _sklearn_warning(name: str, fallback: type) -> type:
    """scikit-learn's warning class `name` when scikit-learn is imported, else `fallback`."""
    if "sklearn" in sys.modules:
        try:
            from sklearn import exceptions

            return cast(type, getattr(exceptions, name))
        except (ImportError, AttributeError):  # pragma: no cover
            pass
    return fallback


def feature_names(X: Any) -> Optional[np.ndarray]:
    """The column names of a DataFrame-like X when they are all strings (object array), else None."""
    cols = getattr(X, "columns", None)
    if cols is None or not hasattr(X, "shape") or isinstance(X, np.ndarray):
        return None
    names = np.asarray(list(cols), dtype=object)
    if names.size == 0 or not all(isinstance(c, str) for c in names):
        return None
    return names


def set_feature_names(model: Any, X: Any) -> None:
    """At fit: record ``feature_names_in_`` (string column names of a DataFrame), or remove it."""
    names = feature_names(X)
    if names is not None:
        model.feature_names_in_ = names
    elif "feature_names_in_" in model.__dict__:
        del model.feature_names_in_


def check_feature_names(model: Any, X: Any) -> None:
    """After fit: X's column names must be the fitted ones, in the same order (ValueError); a warning
    when only one of the two has names."""
    fitted = model.__dict__.get("feature_names_in_")
    names = feature_names(X)
    if fitted is None and names is None:
        return
    cls = type(model).__name__
    if fitted is None:
        warnings.warn(f"X has feature names, but {cls} was fitted without feature names", UserWarning, stacklevel=4)
        return
    if names is None:
        warnings.warn(f"X does not have valid feature names, but {cls} was fitted with feature names", UserWarning,
                      stacklevel=4)
        return
    if len(fitted) == len(names) and np.all(fitted == names):
        return
    unseen = sorted(set(names) - set(fitted))
    missing = sorted(set(fitted) - set(names))
    msg = "The feature names should match those that were passed during fit.\n"

    def listing(vals: List[str]) -> str:
        out = "".join(f"- {v}\n" for v in vals[:5])
        return out + ("- ...\n" if len(vals) > 5 else "")

    if unseen:
        msg += "Feature names unseen at fit time:\n" + listing(unseen)
    if missing:
        msg += "Feature names seen at fit time, yet now missing:\n" + listing(missing)
    if not unseen and not missing:
        msg += "Feature names must be in the same order as they were in fit.\n"
    raise ValueError(msg)


class ComplexInputError(TypeError, ValueError):
    """Complex X: a TypeError (kktunlearn's convention for a wrong kind of input) and a ValueError
    (scikit-learn's)."""


def convert_object_X(X: Any, name: str = "X") -> Any:
    """X as float64 when it is a numpy object array of numbers (scikit-learn treats such arrays as numeric);
    TypeError when its entries are not numbers; ComplexInputError for complex X; other X unchanged."""
    if isinstance(X, np.ndarray):
        if X.dtype.kind == "c":
            raise ComplexInputError(f"{name} must be real-valued: Complex data not supported, got dtype {X.dtype}")
        if X.dtype == object:
            try:
                conv = X.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"{name} must be numeric: argument must be a string or a real number "
                                f"convertible to float, and an entry is not ({exc})") from exc
            return conv
    elif isinstance(X, (list, tuple)):
        try:
            arr = np.asarray(X)
        except (ValueError, TypeError):
            return X  # ragged: check_array reports it
        if arr.dtype.kind == "c":
            raise ComplexInputError(f"{name} must be real-valued: Complex data not supported, got dtype {arr.dtype}")
    return X


def check_X_shape(X: Any, model: Any, fitted: bool) -> None:
    """1-D, 0-D and empty X, and (after fit) the feature count, with scikit-learn's messages.

    Only arrays whose shape is known without conversion are looked at here (numpy arrays,
    DataFrames, lists are converted first); the conversion and the finiteness checks follow in
    kktunlearn._validation.check_array."""
    if X is None:
        raise ValueError("X must be an array, got None (expected a 2-D array of shape (n_samples, n_features))")
    shape = getattr(X, "shape", None)
    if shape is None:
        try:
            shape = np.shape(X)
        except Exception:  # ragged input: check_array reports it
            return
    shape = tuple(shape)
    if len(shape) == 0:
        raise ValueError(f"X must be 2-D (n_samples, n_features): Expected 2D array, got scalar array instead: "
                         f"X={X!r}. Reshape your data either using array.reshape(-1, 1) if your data has a single "
                         "feature or array.reshape(1, -1) if it contains a single sample.")
    if len(shape) == 1:
        raise ValueError(f"X must be 2-D (n_samples, n_features): Expected 2D array, got 1D array instead (shape "
                         f"{shape}). Reshape your data either using array.reshape(-1, 1) if your data has a single "
                         "feature or array.reshape(1, -1) if it contains a single sample.")
    if len(shape) != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features): Found array with dim {len(shape)}. "
                         f"{type(model).__name__} expected <= 2.")
    if shape[0] == 0:
        raise ValueError(f"X is empty: Found array with 0 sample(s) (shape={shape}) while a minimum of 1 is "
                         f"required by {type(model).__name__}.")
    if shape[1] == 0:
        raise ValueError(f"X is empty: Found array with 0 feature(s) (shape={shape}) while a minimum of 1 is "
                         f"required by {type(model).__name__}.")
    if fitted:
        d = getattr(model, "n_features_in_", None)
        if d is not None and shape[1] != d:
            raise ValueError(f"X has {shape[1]} features, but {type(model).__name__} is expecting {d} features "
                             "as input.")


def check_target(y: Any, model: Any) -> Any:
    """y for fit: None refused, a column vector warned about (DataConversionWarning) and ravelled,
    continuous and multi-class targets refused (ValueError) with scikit-learn's wording. Returns y
    (ravelled when it was a column vector); the label encoding is kktunlearn._validation.encode_labels."""
    cls = type(model).__name__
    if y is None:
        raise ValueError(f"y must be an array of labels: {cls} requires y to be passed, but the target y is None.")
    yr = np.asarray(y)
    if yr.ndim == 2 and yr.shape[1] == 1:
        warnings.warn("A column-vector y was passed when a 1d array was expected. Please change the shape of y "
                      "to (n_samples,), for example using ravel().",
                      _sklearn_warning("DataConversionWarning", UserWarning), stacklevel=3)
        y = yr = yr.ravel()
    if yr.ndim != 1:
        return y  # encode_labels reports the shape
    if yr.dtype.kind == "f" and yr.size and np.isfinite(yr).all() and np.any(yr != np.round(yr)):
        raise ValueError("Unknown label type: continuous. kktunlearn models are binary classifiers: y must hold "
                         "two classes (e.g. -1/+1), not continuous values.")
    if yr.dtype.kind == "f" and not np.isfinite(yr).all():
        return y  # encode_labels reports NaN / inf
    if yr.dtype.kind in "iufUSOb" and yr.size:
        try:
            k = np.unique(yr).size
        except TypeError:
            return y  # mixed types: encode_labels reports it
        if k == 1:
            raise ValueError(f"y contains a single class ({yr.ravel()[0]!r}): 1 class, but {cls} is a binary "
                             "classifier and needs both classes in the training data")
        if k > 2:
            vals = np.unique(yr)
            raise ValueError(f"Only binary classification is supported. The type of the target is multiclass: y must "
                             f"hold labels in {{-1, +1}} (or exactly two classes), got {k} classes: "
                             f"{vals[:5].tolist()}{'...' if k > 5 else ''}")
    return y


def check_sample_weight(sample_weight: Any, n: int) -> Optional[np.ndarray]:
    """The per-sample weights omega_i = n w_i / sum_k w_k (mean 1) that the core's training loop
    multiplies into each example's loss and loss derivative, or None when all weights are equal (the
    plain mean, the same arithmetic as without weights).

    Raises ValueError for a wrong shape or length, negative, NaN or inf weights, or weights summing to 0."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight)
    if w.ndim == 0:
        w = np.full(n, float(w))
    if w.dtype == object or not (np.issubdtype(w.dtype, np.number) or w.dtype == np.bool_):
        raise ValueError(f"sample_weight must be numeric, got dtype {w.dtype}")
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 1:
        raise ValueError(f"Sample weights must be 1D array or scalar, got shape {w.shape}")
    if w.shape[0] != n:
        raise ValueError(f"sample_weight.shape == {w.shape}, expected ({n},)!")
    if not np.isfinite(w).all():
        raise ValueError("sample_weight contains NaN or inf; weights must be finite and >= 0")
    if (w < 0).any():
        raise ValueError("Negative values in data passed to sample_weight; weights must be >= 0")
    tot = float(w.sum())
    if not tot > 0:
        raise ValueError("sample_weight sums to 0 (all weights are zero); at least one point needs a positive "
                         "weight")
    if np.all(w == w[0]):
        return None
    return np.ascontiguousarray(w * (n / tot))

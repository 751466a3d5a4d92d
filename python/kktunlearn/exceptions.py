"""Exception and warning classes of kktunlearn. Each derives from the standard class a user would
catch anyway (ValueError, ArithmeticError, UserWarning)."""

from __future__ import annotations

import sys
from typing import Optional
from typing import cast as _cast


class KKTUnlearnError(Exception):
    """Base class of every kktunlearn-specific error."""


class NotFittedError(KKTUnlearnError, ValueError, AttributeError):
    """A method that needs a fitted model was called on an unfitted one.

    When scikit-learn is imported, the error raised is also an instance of
    ``sklearn.exceptions.NotFittedError`` (see `not_fitted_error`): ``except NotFittedError`` with
    either class catches it. kktunlearn never imports scikit-learn itself (numpy is its only required
    dependency), so without scikit-learn loaded the error is this class alone."""


_SKLEARN_NOT_FITTED: Optional[type] = None


def not_fitted_error(message: str) -> NotFittedError:
    """A NotFittedError with `message`; also a ``sklearn.exceptions.NotFittedError`` when scikit-learn
    is imported (a subclass of both, created once).

    Parameters
    ----------
    message : str

    Returns
    -------
    NotFittedError
    """
    global _SKLEARN_NOT_FITTED
    if "sklearn" in sys.modules:
        if _SKLEARN_NOT_FITTED is None:
            try:
                from sklearn.exceptions import NotFittedError as _Sk
            except ImportError:  # pragma: no cover - a partly imported scikit-learn
                return NotFittedError(message)
            _SKLEARN_NOT_FITTED = type("SklearnNotFittedError", (NotFittedError, _Sk),
                                       {"__module__": __name__, "__doc__": NotFittedError.__doc__})
            globals()["SklearnNotFittedError"] = _SKLEARN_NOT_FITTED  # picklable by name
        return _cast(NotFittedError, _SKLEARN_NOT_FITTED(message))
    return NotFittedError(message)


class TrainingDivergedError(KKTUnlearnError, ArithmeticError):
    """The loss became NaN or inf during training; the model keeps the last finite state."""


class NotSeparableError(KKTUnlearnError, ValueError):
    """The model does not fit the data (some margin <= 0), so it cannot be normalized to margin 1."""


class ModelFileError(KKTUnlearnError, ValueError):
    """A model file cannot be loaded: not a model file, truncated or corrupted, failed checksum,
    newer format version, or inconsistent contents."""


class InsufficientMemoryError(KKTUnlearnError, MemoryError, ValueError):
    """A call would need more memory than the machine has available; raised from an estimate made
    before allocating anything (the message names the parameter, the estimate and what is available).
    Both a MemoryError and a ValueError."""


class ConvergenceWarning(UserWarning):
    """Training or a solver stopped before it met its target."""

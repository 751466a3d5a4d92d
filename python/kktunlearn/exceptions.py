"""Exception and warning classes of kktunlearn. Each derives from the standard class a user would
catch anyway (ValueError, ArithmeticError, UserWarning)."""

from __future__ import annotations


class KKTUnlearnError(Exception):
    """Base class of every kktunlearn-specific error."""


class NotFittedError(KKTUnlearnError, ValueError, AttributeError):
    """A method that needs a fitted model was called on an unfitted one."""


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

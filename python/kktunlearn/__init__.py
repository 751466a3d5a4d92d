"""kktunlearn: train, unlearn and verify unlearning on linear predictors and two-layer ReLU networks.

Reference implementation of
  * Melamed, Yehudai, Vardi, "Provable Unlearning with Gradient Ascent on Two-Layer ReLU Neural
    Networks" (arXiv 2510.14844): KKT-scaled gradient ascent and (epsilon, delta, tau) certificates;
  * Bui, Lu, Sim, Ng, Low, "On Newton's Method to Unlearn Neural Networks" (arXiv 2406.14507):
    Newton unlearning and its cubic-regularized cure (CureNewton).
"""

from __future__ import annotations

import sys as _sys
import types as _types

from . import _dispatch

# the best build of the C++ core for this CPU (see _dispatch.py); every module imports it as _core
_core, cpu_variant = _dispatch.load(__name__)
_sys.modules[__name__ + "._core"] = _core
from .exceptions import (ConvergenceWarning, InsufficientMemoryError, KKTUnlearnError, ModelFileError,
                         NotFittedError, NotSeparableError, TrainingDivergedError)
from .io import load
from .models import LinearModel, TwoLayerReLU, choose_representation, clone
from .kkt import (KKTMultipliers, KKTReport, UnlearningReport, cosine_similarity, kkt_multipliers, kkt_report,
                  verify_unlearning)
from .unlearning import unlearn, unlearn_sequence

# One version source: [project].version in pyproject.toml. scikit-build-core passes it to CMake,
# which compiles it into the extension (a plain dev/build.sh reads pyproject.toml), so the version
# is the one of the compiled core actually loaded; importlib.metadata.version("kktunlearn") agrees
# for an installed wheel (checked by the wheel smoke test in .ci/run).
__version__: str = _core.__version__

__all__ = [
    "LinearModel", "TwoLayerReLU", "clone", "choose_representation", "load",
    "kkt_multipliers", "kkt_report", "verify_unlearning", "cosine_similarity", "KKTMultipliers", "KKTReport",
    "UnlearningReport", "unlearn", "unlearn_sequence",
    "ConvergenceWarning", "KKTUnlearnError", "ModelFileError", "NotFittedError", "NotSeparableError",
    "TrainingDivergedError", "InsufficientMemoryError",
    "load_results", "save_results",
    "__version__",
]

from . import datasets  # noqa: E402  (numpy only)

_LAZY_SUBMODULES = ("metrics", "sweep", "plotting", "reproduce", "cli")


#: functions of the experiment modules, importable from the top level (loaded on first use)
_LAZY_FUNCTIONS = {"load_results": "sweep", "save_results": "sweep"}


def __getattr__(name: str) -> object:  # PEP 562: experiment modules (pandas, joblib, matplotlib) load on first use
    if name in _LAZY_SUBMODULES or name in _LAZY_FUNCTIONS:
        import importlib

        if name in _LAZY_FUNCTIONS:
            return getattr(importlib.import_module(f"{__name__}.{_LAZY_FUNCTIONS[name]}"), name)
        return importlib.import_module(f"{__name__}.{name}")  # kktunlearn.sweep is callable: kk.sweep(grid)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

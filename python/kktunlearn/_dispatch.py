"""Runtime CPU dispatch between the builds of the C++ core.

The extension is compiled three times from the same sources (CMakeLists.txt): `_core` for the
baseline ISA (x86-64: SSE2; runs everywhere), `_core_avx2` (x86-64-v3: AVX2 + FMA) and
`_core_avx512` (x86-64-v4). At import the best variant that the CPU and the OS support is
loaded and used as `kktunlearn._core`. The environment variable KKTUNLEARN_DISPATCH
(`baseline`, `avx2`, `avx512`, `auto` = default) forces a choice (for benchmarks and debugging);
a forced variant that is missing or unsupported falls back to the best supported one below it.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Tuple

_ORDER = ("avx512", "avx2", "baseline")
_MODULE = {"baseline": "_core", "avx2": "_core_avx2", "avx512": "_core_avx512"}
_NEEDS = {
    "baseline": (),
    "avx2": ("avx2", "fma", "bmi2", "f16c"),
    "avx512": ("avx2", "fma", "bmi2", "f16c", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"),
}


def load(package: str) -> Tuple[ModuleType, str]:
    """Import and return the best supported core module of `package` (and its variant name)."""
    base = importlib.import_module(f"{package}._core")
    feats = base.cpu_features() if hasattr(base, "cpu_features") else {}
    want = os.environ.get("KKTUNLEARN_DISPATCH", "auto").strip().lower() or "auto"
    order = _ORDER if want not in _ORDER else _ORDER[_ORDER.index(want):]
    for name in order:
        if not all(feats.get(f, False) for f in _NEEDS[name]):
            continue
        if name == "baseline":
            return base, name
        try:
            return importlib.import_module(f"{package}.{_MODULE[name]}"), name
        except ImportError:
            continue
    return base, "baseline"

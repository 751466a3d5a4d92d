"""Runtime CPU dispatch between the builds of the C++ core.

`_core` is compiled for the baseline ISA (x86-64: SSE2; runs everywhere) with every binding. On
x86-64 the hot kernels (the d-sized products, training, the counter-based generator, the KKT
certificate: bind_model/bind_training/bind_random/bind_kkt) are compiled twice more, as
`_core_avx2` (x86-64-v3: AVX2 + FMA) and `_core_avx512` (x86-64-v4); the unlearning methods,
which work on n x n matrices after the span reduction, exist only in the baseline build. At import
the best variant that the CPU and the OS support is chosen, and `kktunlearn._core` is a module
that holds the baseline's functions with the variant's laid over them (`variant` names the chosen
build). Each build is its own shared object with hidden visibility, so code compiled for different
ISAs never mixes inside one object; only the baseline registers exception translators globally.

The environment variable KKTUNLEARN_DISPATCH (`baseline`, `avx2`, `avx512`, `auto` = default)
forces a choice (for benchmarks and debugging); a forced variant that is missing or unsupported
falls back to the best supported one below it. Any other value makes `import kktunlearn` fail with
an ImportError naming the valid ones. `report()` tells which build was loaded and why the others
were skipped.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any, Dict, Tuple

_ORDER = ("avx512", "avx2", "baseline")
_MODULE = {"baseline": "_core", "avx2": "_core_avx2", "avx512": "_core_avx512"}
_NEEDS = {
    "baseline": (),
    "avx2": ("avx2", "fma", "bmi2", "f16c"),
    "avx512": ("avx2", "fma", "bmi2", "f16c", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"),
}


#: what the last load() did: {"requested", "loaded", "skipped": {variant: reason}}; see report()
_REPORT: Dict[str, Any] = {}


def report() -> Dict[str, Any]:
    """Which CPU build was loaded and why the others were skipped (for `kktunlearn info`):
    {"requested": the KKTUNLEARN_DISPATCH value ("auto" if unset), "loaded": the variant,
    "skipped": {variant: reason}}."""
    return {"requested": _REPORT.get("requested"), "loaded": _REPORT.get("loaded"),
            "skipped": dict(_REPORT.get("skipped", {}))}


def load(package: str) -> Tuple[ModuleType, str]:
    """Import and return the best supported core module of `package` (and its variant name)."""
    raw = os.environ.get("KKTUNLEARN_DISPATCH", "auto")
    want = raw.strip().lower() or "auto"
    if want != "auto" and want not in _ORDER:
        raise ImportError(f"KKTUNLEARN_DISPATCH={raw!r} is not a CPU build; use one of "
                          f"{['auto'] + list(reversed(_ORDER))} (or unset it)")
    base = importlib.import_module(f"{package}._core")
    feats = base.cpu_features() if hasattr(base, "cpu_features") else {}
    order = _ORDER if want == "auto" else _ORDER[_ORDER.index(want):]
    skipped = {v: f"above the requested KKTUNLEARN_DISPATCH={want}" for v in _ORDER if v not in order}
    _REPORT.clear()
    _REPORT.update(requested=want, skipped=skipped)
    for name in order:
        missing = [f for f in _NEEDS[name] if not feats.get(f, False)]
        if missing:
            skipped[name] = f"CPU/OS lacks {', '.join(missing)}"
            continue
        if name == "baseline":
            _REPORT["loaded"] = name
            return base, name
        try:
            mod = importlib.import_module(f"{package}.{_MODULE[name]}")
        except ImportError as exc:
            skipped[name] = f"module {_MODULE[name]} not built/importable ({exc})"
            continue
        _REPORT["loaded"] = name
        return (_merge(base, mod) if getattr(mod, "hot_only", False) else mod), name
    _REPORT["loaded"] = "baseline"
    return base, "baseline"


def _merge(base: ModuleType, fast: ModuleType) -> ModuleType:
    """A module with every attribute of the baseline build and the hot-kernel variant's functions
    laid over them (same names, same signatures; the variant has no exception classes of its own:
    it raises the baseline's). Its `variant` and `hot_only` come from the variant; `with_testing`,
    `_testing` and the exception classes from the baseline."""
    merged = ModuleType(base.__name__, base.__doc__)
    merged.__dict__.update({k: v for k, v in vars(base).items() if k not in ("__name__", "__doc__")})
    merged.__dict__.update({k: v for k, v in vars(fast).items()
                            if not k.startswith("_") and (k in ("variant", "hot_only")
                                                          or (callable(v) and not isinstance(v, type)))})
    merged.__dict__["hot_variant"] = fast
    return merged

"""Runtime CPU dispatch of the C++ core's dense kernels.

`_core` (every binding) is compiled once, for the baseline ISA of the target (x86-64: SSE2; runs
everywhere). Everything d-sized or O(n^3) in it goes through a small table of dense kernels
(``cpp/include/kktunlearn/dense.hpp``: the matrix products ``gemm``, the symmetric products ``syrk`` of
``K = X X^T``, and the counter-based generator's rows). On x86-64 those kernels alone are compiled
twice more, as the modules `_kernels_avx2` (x86-64-v3: AVX2 + FMA) and `_kernels_avx512` (x86-64-v4).
At import the best variant that the CPU and the OS support is chosen and its table is installed into
`_core` (``_core._set_kernels``); `kktunlearn.cpu_variant` names it and ``_core.kernels()`` says which
table is in use. Each variant is its own shared object with hidden visibility, so code compiled for
different ISAs never mixes inside one object.

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
#: the module holding each variant's dense kernels (the baseline's are inside _core)
_MODULE = {"baseline": "_core", "avx2": "_kernels_avx2", "avx512": "_kernels_avx512"}
_NEEDS = {
    "baseline": (),
    "avx2": ("avx2", "fma", "bmi2", "f16c"),
    "avx512": ("avx2", "fma", "bmi2", "f16c", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"),
}


#: what the last load() did: {"requested", "loaded", "skipped": {variant: reason}}; see report()
_REPORT: Dict[str, Any] = {}
#: the imported kernel modules (kept referenced: _core holds a pointer into their tables)
_KERNEL_MODULES: Dict[str, ModuleType] = {}


def report() -> Dict[str, Any]:
    """Which CPU build was loaded and why the others were skipped (for `kktunlearn info`):
    {"requested": the KKTUNLEARN_DISPATCH value ("auto" if unset), "loaded": the variant,
    "skipped": {variant: reason}}."""
    return {"requested": _REPORT.get("requested"), "loaded": _REPORT.get("loaded"),
            "skipped": dict(_REPORT.get("skipped", {}))}


def kernel_module(package: str, name: str) -> ModuleType:
    """Import the dense-kernel module of variant `name` (not `baseline`), checking its ABI."""
    mod = importlib.import_module(f"{package}.{_MODULE[name]}")
    base = importlib.import_module(f"{package}._core")
    if getattr(mod, "abi", None) != getattr(base, "kernel_abi", None):
        raise ImportError(f"{mod.__name__} has kernel ABI {getattr(mod, 'abi', None)}, _core expects "
                          f"{getattr(base, 'kernel_abi', None)} (a stale module from another build)")
    _KERNEL_MODULES[name] = mod
    return mod


def install(package: str, name: str) -> None:
    """Install variant `name`'s dense kernels into `package._core` (`baseline`: the built-in ones).
    For tests and benchmarks; not while kernels run in other threads."""
    base = importlib.import_module(f"{package}._core")
    base._set_kernels(None if name == "baseline" else kernel_module(package, name).table())


def load(package: str) -> Tuple[ModuleType, str]:
    """Import `package._core`, install the best supported dense kernels, return (module, variant name)."""
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
        try:
            install(package, name)
        except ImportError as exc:
            skipped[name] = f"module {_MODULE[name]} not built/importable ({exc})"
            continue
        _REPORT["loaded"] = name
        return base, name
    install(package, "baseline")
    _REPORT["loaded"] = "baseline"
    return base, "baseline"

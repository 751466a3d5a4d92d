"""Smoke test of an installed kktunlearn (a release wheel): import, fit, certify, unlearn, verify,
save/load, and what a release build must not contain. Run from outside the source tree, e.g.

    cd /tmp && python /path/to/tests/wheel/smoke.py

Used by .ci/run (the auditwheel-repaired wheel in a fresh venv without a compiler) and by
cibuildwheel's test-command. Needs only numpy. Exits non-zero on any failure.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import pathlib
import sys
import tempfile

import numpy as np

import kktunlearn as kk
from kktunlearn import _dispatch
from kktunlearn.datasets import near_orthogonal


def check(cond: bool, what: str) -> None:
    if not cond:
        raise SystemExit(f"smoke: FAILED: {what}")
    print(f"smoke: ok: {what}")


pkg = pathlib.Path(kk.__file__).resolve().parent
here = pathlib.Path(__file__).resolve().parents[2]
check(here not in pkg.parents, f"kktunlearn imported from the installed package ({pkg}), not the checkout")
check(importlib.metadata.version("kktunlearn") == kk.__version__,
      f"one version: metadata {importlib.metadata.version('kktunlearn')} == kk.__version__ {kk.__version__}")
check((pkg / "py.typed").is_file(), "py.typed shipped")
check((pkg / "_core.pyi").is_file(), "_core.pyi shipped")

# no test-only code: every shipped build of the core, imported where this CPU runs it, has no
# _testing submodule; builds this CPU cannot run are checked by their bytes
mods = sorted(p.name.split(".")[0] for p in pkg.glob("_*") if p.suffix in (".so", ".pyd"))
check("_core" in mods, f"the baseline core is shipped ({mods})")
check(not kk._core.with_testing and not hasattr(kk._core, "_testing"), "_core: no test-only bindings (_testing absent)")
feats = kk._core.cpu_features()
for name in mods:
    variant = {v: k for k, v in _dispatch._MODULE.items()}.get(name)
    runnable = variant not in (None, "baseline") and all(feats.get(f, False) for f in _dispatch._NEEDS[variant])
    if runnable:
        m = importlib.import_module(f"kktunlearn.{name}")
        public = sorted(k for k in dir(m) if not k.startswith("_"))
        check(public == ["abi", "name", "table"] and m.abi == kk._core.kernel_abi,
              f"{name}: the dense kernels only ({public}), ABI {m.abi}")
    data = next(pkg.glob(f"{name}.*")).read_bytes()
    check(b"read_heap" not in data and b"throw_in_parallel" not in data,
          f"{name}: no test-only symbols in the binary")
check(not (pkg / "tests").exists() and not list(pkg.rglob("test_*.py")), "no test modules in the package")

# the workflow
X, y = near_orthogonal(n=16, d=300, seed=0)
net = kk.TwoLayerReLU(width=40, random_state=0, max_iter=1500).fit(X, y)
acc = float(np.mean(net.predict(X) == y))
check(acc == 1.0, f"fit: training accuracy {acc}")
cert = kk.kkt_multipliers(net, X, y, subgradient_tol=1e-3)
check(np.isfinite(cert.epsilon), f"certify: KKT epsilon {cert.epsilon:.3g}")
ga = kk.unlearn(net, X, y, forget=[0], method="ga", multipliers=cert)
oracle = kk.unlearn(net, X, y, forget=[0], method="retrain")
rep = kk.verify_unlearning(ga, X, y, forget=[0], retrained=oracle, original=net, epsilon=0.5, tau=0.1)
check(np.isfinite(rep.epsilon) and np.isfinite(rep.cosine_to_retrained),
      f"unlearn + verify: retained epsilon {rep.epsilon:.3g}, cos to retrained {rep.cosine_to_retrained:.4f}")
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "net.kktu")
    ga.save(path)
    back = kk.load(path)
    check(np.array_equal(back.decision_function(X), ga.decision_function(X)), "save/load round trip is bit-exact")

# every CPU build of the dense kernels this machine runs, installed in turn into this process's core:
# the products agree with numpy; then the whole workflow under each forced build gives the same verdict
rng = np.random.default_rng(0)
Wt = rng.standard_normal((24, X.shape[1]))
runnable = []
for name in mods:
    variant = {v: k for k, v in _dispatch._MODULE.items()}.get(name)
    if variant in (None, "baseline") or not all(feats.get(f, False) for f in _dispatch._NEEDS[variant]):
        continue
    runnable.append(variant)
    _dispatch.install("kktunlearn", variant)
    check(kk._core.kernels() == variant, f"{name}: installed")
    check(np.allclose(kk._core.preactivations(X, Wt, 0), X @ Wt.T, rtol=1e-12, atol=1e-13)
          and np.allclose(kk._core.kernel_matrix(X, 0), X @ X.T, rtol=1e-12, atol=1e-13),
          f"{name}: products agree with numpy")
_dispatch.install("kktunlearn", kk.cpu_variant)
if runnable or kk.cpu_variant != "baseline":
    import subprocess

    code = ("import numpy as np, kktunlearn as kk\n"
            "from kktunlearn.datasets import near_orthogonal\n"
            "X, y = near_orthogonal(n=16, d=300, seed=0)\n"
            "net = kk.TwoLayerReLU(width=40, random_state=0, max_iter=1500).fit(X, y)\n"
            "c = kk.kkt_multipliers(net, X, y, subgradient_tol=1e-3)\n"
            "g = kk.unlearn(net, X, y, forget=[0], method='ga', multipliers=c)\n"
            "print(kk.cpu_variant, repr(float(c.epsilon)), repr(float(np.linalg.norm(g.W_))))\n")
    outs = {}
    for variant in ["baseline"] + runnable:
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=dict(os.environ, KKTUNLEARN_DISPATCH=variant), timeout=300)
        check(r.returncode == 0, f"workflow under KKTUNLEARN_DISPATCH={variant}: {r.stderr[-300:]}")
        got, eps, nrm = r.stdout.split()
        check(got == variant, f"KKTUNLEARN_DISPATCH={variant} loads {got}")
        outs[variant] = (float(eps), float(nrm))
    for variant, (eps, nrm) in outs.items():
        e0, n0 = outs["baseline"]
        check(abs(nrm - n0) <= 1e-8 * n0 and abs(eps - e0) <= 1e-6 * max(1.0, abs(e0)),
              f"{variant} agrees with baseline: epsilon {eps:.6g} vs {e0:.6g}, ||W|| {nrm:.10g} vs {n0:.10g}")
print(f"smoke: passed (kktunlearn {kk.__version__}, CPU build {kk.cpu_variant}, python {sys.version.split()[0]})")

"""Packaging facts checkable from the test build: one version source, `kktunlearn info`, typing files.
(The release wheel itself is checked by tests/wheel/, run by .ci/run on the built artifacts.)"""

from __future__ import annotations

import pathlib
import re

import pytest

import kktunlearn as kk
from kktunlearn import _core, cli

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _pyproject_version():
    text = (ROOT / "pyproject.toml").read_text()
    return re.search(r'^version = "([^"]+)"', text, re.M).group(1)


def test_one_version_source():
    # pyproject.toml -> CMake -> the compiled core -> kk.__version__ (no second copy in Python)
    assert kk.__version__ == _core.__version__ == _pyproject_version()
    init = (pathlib.Path(kk.__file__).parent / "__init__.py").read_text()
    assert not re.search(r'__version__\s*(:\s*str\s*)?=\s*["\']', init), "a hard-coded version string is back"


def test_core_and_kernel_modules_belong_to_one_build():
    # one version source for the core; each CPU variant of the dense kernels has the core's kernel ABI
    import importlib

    assert _core.__version__ == kk.__version__
    for name in ("_kernels_avx2", "_kernels_avx512"):
        try:
            m = importlib.import_module("kktunlearn." + name)
        except ImportError:
            continue
        assert m.abi == _core.kernel_abi, name


def test_info_reports_build(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"kktunlearn {kk.__version__} (git " in out
    assert f"CPU build: {kk.cpu_variant}" in out
    assert re.search(r"^OpenMP: (on|off)", out, re.M)
    assert re.search(rf"^threads: n_threads=None uses {_core.max_threads(0)} \(OMP_NUM_THREADS=", out, re.M)


def test_testing_hooks_match_the_build_flag():
    # the test-suite's build has them (KKTUNLEARN_TESTING=ON); a release build must not
    assert _core.with_testing == hasattr(_core, "_testing")
    if not _core.with_testing:
        pytest.skip("release build (KKTUNLEARN_TESTING=OFF): the fault-injection tests need the test build")


def test_typing_files_present():
    pkg = pathlib.Path(kk.__file__).parent
    assert (pkg / "py.typed").is_file()
    assert (pkg / "_core.pyi").is_file()  # kept current by dev/stubs.sh; .ci/run checks it with --check

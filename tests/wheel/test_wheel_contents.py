"""What a release wheel and sdist contain: licences (PEP 639), py.typed and the stub, no test code.

Runs on built artifacts named by environment variables (skipped without them):
    KKT_WHEEL=dist/kktunlearn-...whl KKT_SDIST=dist/kktunlearn-....tar.gz python -m pytest tests/wheel
.ci/run sets both after `pip wheel` + `auditwheel repair` and `python -m build --sdist`.
"""

from __future__ import annotations

import email.parser
import os
import re
import tarfile
import zipfile

import pytest

WHEEL = os.environ.get("KKT_WHEEL")
SDIST = os.environ.get("KKT_SDIST")

LICENCES = ["LICENSE", "third_party/eigen/LICENSE", "third_party/eigen/COPYING.MPL2",
            "third_party/eigen/COPYING.README", "third_party/eigen/VENDORED.md"]


@pytest.fixture(scope="module")
def wheel():
    if not WHEEL:
        pytest.skip("set KKT_WHEEL to a built wheel (.ci/run does)")
    with zipfile.ZipFile(WHEEL) as z:
        yield z


def _metadata(text: str):
    return email.parser.Parser().parsestr(text)


def test_wheel_licences(wheel):
    names = wheel.namelist()
    dist_info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
    for lic in LICENCES:
        assert f"{dist_info}/licenses/{lic}" in names, f"{lic} missing from the wheel"
    meta = _metadata(wheel.read(f"{dist_info}/METADATA").decode())
    assert meta["License-Expression"] == "MIT AND MPL-2.0"
    assert set(LICENCES) <= set(meta.get_all("License-File"))
    assert float(meta["Metadata-Version"]) >= 2.4
    assert "MIT License" in wheel.read(f"{dist_info}/licenses/LICENSE").decode()
    assert "Mozilla Public License Version 2.0" in wheel.read(
        f"{dist_info}/licenses/third_party/eigen/COPYING.MPL2").decode()


def test_wheel_typing(wheel):
    names = wheel.namelist()
    assert "kktunlearn/py.typed" in names
    assert "kktunlearn/_core.pyi" in names


def test_wheel_has_no_test_code(wheel):
    names = wheel.namelist()
    assert not [n for n in names if re.search(r"(^|/)(tests?|conftest\.py|test_[^/]*\.py)($|/)", n)], names
    cores = [n for n in names if re.match(r"kktunlearn/_core[^/]*\.(so|pyd)$", n)]
    assert cores, "no compiled core in the wheel"
    for n in cores:
        data = wheel.read(n)
        assert b"read_heap" not in data and b"throw_in_parallel" not in data, f"test-only bindings in {n}"
    # nothing from a developer's tree besides the package (no stray build outputs or caches)
    assert not [n for n in names if "__pycache__" in n or n.endswith((".o", ".a"))]


def test_wheel_is_repaired(wheel):
    tag = os.path.basename(WHEEL)
    if "linux" in tag:
        assert "manylinux" in tag or "musllinux" in tag, f"{tag}: not repaired by auditwheel"


def test_sdist_contents():
    if not SDIST:
        pytest.skip("set KKT_SDIST to a built sdist (.ci/run does)")
    with tarfile.open(SDIST) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
        root = t.getnames()[0].split("/")[0]
        meta = _metadata(t.extractfile(f"{root}/PKG-INFO").read().decode())
    for lic in LICENCES:
        assert lic in names, f"{lic} missing from the sdist"
    assert {"pyproject.toml", "CMakeLists.txt", "cpp/bindings/module.cpp", "third_party/eigen/Eigen/Core",
            "python/kktunlearn/py.typed", "python/kktunlearn/_core.pyi"} <= names
    assert meta["License-Expression"] == "MIT AND MPL-2.0"
    assert not [n for n in names if n.startswith("build/") or n.endswith((".so", ".o"))]

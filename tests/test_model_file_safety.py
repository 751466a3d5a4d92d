"""Model files that cannot exhaust memory or build inconsistent models (issue 14): a zip bomb, devices
and FIFOs, crafted files with a recomputed checksum, set_params after fit. Loads that could hang or
grow without bound run in a child process, which reports its own peak RSS."""

from __future__ import annotations

import io as pyio
import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import kktunlearn as kk
from kktunlearn import io as kio

pytestmark = pytest.mark.filterwarnings("ignore::kktunlearn.exceptions.ConvergenceWarning")

PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(kk.__file__)))

# The child measures the peak RSS that load() adds: ru_maxrss after the imports (and after touching a
# few MB, so allocator slack is not counted), then after the failed load.
CHILD = """
    import json, resource, sys
    import numpy as np
    import kktunlearn as kk
    np.ones(1 << 20).sum()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    target = sys.argv[1]
    try:
        if sys.argv[2] == "object":
            with open(target, "rb") as fh:
                kk.load(fh)
        else:
            kk.load(target)
        out = {"exc": None}
    except Exception as exc:
        out = {"exc": type(exc).__name__, "msg": str(exc), "value_error": isinstance(exc, ValueError)}
    out["extra_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    print("RESULT " + json.dumps(out))
"""


def _child_load(target, how="path", timeout=120):
    env = dict(os.environ)
    env["PYTHONPATH"] = PKG_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD), str(target), how], capture_output=True,
                       text=True, env=env, timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(next(x for x in r.stdout.splitlines() if x.startswith("RESULT "))[7:])


@pytest.fixture(scope="module")
def small():
    X, y = kk.datasets.near_orthogonal(8, 16, seed=0)
    m = kk.LinearModel(max_iter=50, representation="primal").fit(X, y)  # its file holds W
    buf = pyio.BytesIO()
    m.save(buf)
    with np.load(pyio.BytesIO(buf.getvalue()), allow_pickle=False) as z:
        meta = json.loads(z["__meta__"].tobytes().decode())
        arrays = {k: z[k] for k in z.files if k != "__meta__"}
    return m, meta, arrays


def _write(path, meta, arrays, rehash=True, extra_members=None):
    if rehash:
        meta["sha256"] = kio._digest(arrays, meta)
    buf = pyio.BytesIO()
    np.savez(buf, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    blob = buf.getvalue()
    if extra_members:
        out = pyio.BytesIO()
        with zipfile.ZipFile(pyio.BytesIO(blob)) as zin, zipfile.ZipFile(out, "w") as zout:
            for info in zin.infolist():
                zout.writestr(info.filename, zin.read(info))
            for name, data in extra_members.items():
                zout.writestr(name, data)
        blob = out.getvalue()
    with open(path, "wb") as fh:
        fh.write(blob)
    return path


# ---------------------------------------------------------------------------------------------- zip bomb
def test_zip_bomb_is_rejected_with_bounded_memory(tmp_path, small):
    """A ~1 MB file whose W.npy honestly declares (1, 2^27) float64 (1 GiB of deflated zeros), with a
    consistent array table but the original checksum: rejected, at a peak of a few MB."""
    _, meta, arrays = small
    d = 1 << 27
    meta = json.loads(json.dumps(meta))
    meta["arrays"]["W"] = {"dtype": "<f8", "shape": [1, d]}
    meta["attributes"]["n_features_in_"] = d
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, a in arrays.items():
            if name == "W":
                with z.open("W.npy", "w", force_zip64=True) as f:
                    np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False,
                                                             "shape": (1, d)})
                    zeros = bytes(1 << 22)
                    for _ in range((8 * d) // len(zeros)):
                        f.write(zeros)
            else:
                b = pyio.BytesIO()
                np.save(b, a)
                z.writestr(name + ".npy", b.getvalue())
        z.writestr("__meta__.npy", _npy(np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)))
    size = path.stat().st_size
    assert size < 2 << 20
    r = _child_load(path)
    assert r["exc"] == "ModelFileError" and r["value_error"], r
    assert "SHA-256" in r["msg"] or "available" in r["msg"], r["msg"]
    print(f"zip bomb: file {size} bytes, extra peak RSS {r['extra_rss']} bytes")
    assert r["extra_rss"] < size + (8 << 20), r        # not 1 GiB: a few MB over the file size


def _npy(a):
    b = pyio.BytesIO()
    np.save(b, a)
    return b.getvalue()


def test_honest_compressed_file_still_loads(tmp_path, small):
    """The checksum-first pass is only taken for members that expand; a savez_compressed copy of a
    genuine model (small) loads identically."""
    m, meta, arrays = small
    buf = pyio.BytesIO()
    np.savez_compressed(buf, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    p = tmp_path / "c.npz"
    p.write_bytes(buf.getvalue())
    r = kk.load(p)
    assert r.W_.tobytes() == m.W_.tobytes()


# ---------------------------------------------------------------------------------- not a regular file
def test_dev_zero_is_refused_without_reading(tmp_path):
    r = _child_load("/dev/zero")
    assert r["exc"] == "ModelFileError" and "device" in r["msg"] and "regular file" in r["msg"], r
    assert r["extra_rss"] < 8 << 20, r
    r = _child_load("/dev/zero", how="object")
    assert r["exc"] == "ModelFileError" and "regular file" in r["msg"], r
    assert r["extra_rss"] < 8 << 20, r


def test_fifo_does_not_block(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    r = _child_load(fifo, timeout=60)   # would block forever before
    assert r["exc"] == "ModelFileError" and "FIFO" in r["msg"], r


def test_directory_and_unseekable_object(tmp_path):
    with pytest.raises(kk.ModelFileError, match="directory"):
        kk.load(tmp_path)

    class Stream:
        def read(self, n=-1):
            return b""

        def seekable(self):
            return False

    with pytest.raises(kk.ModelFileError, match="not seekable"):
        kk.load(Stream())


# --------------------------------------------------------------------------- crafted, checksum recomputed
def _net_file(tmp_path):
    X, y = kk.datasets.near_orthogonal(8, 16, seed=1)
    m = kk.TwoLayerReLU(width=6, max_iter=400, random_state=0, representation="primal").fit(X, y)
    m.unlearn_info_ = {"method": "ga", "preact_shift": 0.5, "step_norm": 0.1}
    buf = pyio.BytesIO()
    m.save(buf)
    with np.load(pyio.BytesIO(buf.getvalue()), allow_pickle=False) as z:
        meta = json.loads(z["__meta__"].tobytes().decode())
        arrays = {k: z[k] for k in z.files if k != "__meta__"}
    return m, meta, arrays


def _edit_classes(meta, a):
    name = meta["attributes"]["classes_"]["__array__"]
    a[name] = np.array([1, 1])
    meta["arrays"][name] = {"dtype": a[name].dtype.str, "shape": [2]}


def _edit_W_rows(meta, a):
    for key in ("W", "u"):
        name = meta["state"][key]["__array__"]
        a[name] = a[name][:3].copy()
        meta["arrays"][name] = {"dtype": a[name].dtype.str, "shape": list(a[name].shape)}


def _edit_outer(meta, a):
    meta["params"]["outer_weights"] = {"__dict__": {"__class__": "os.system"}}


def _edit_shift(meta, a):
    meta["attributes"]["unlearn_info_"]["__dict__"]["preact_shift"] = "big"


def _edit_extra_top(meta, a):
    meta["callback"] = "os.system"


def _edit_width_type(meta, a):
    meta["params"]["normalized_gd"] = "no"


def _edit_n_features(meta, a):
    meta["attributes"]["n_features_in_"] = 99


def _edit_history(meta, a):
    name = meta["attributes"]["history_"]["__dict__"]["loss"]["__array__"]
    a[name] = a[name][:-1].copy()
    meta["arrays"][name] = {"dtype": a[name].dtype.str, "shape": list(a[name].shape)}


@pytest.mark.parametrize("edit, field, match", [
    (_edit_classes, "attributes.classes_", "distinct"),
    (_edit_W_rows, "state.W", "3 rows but width is 6"),
    (_edit_outer, "params.outer_weights", "must be an array"),
    (_edit_shift, "attributes.unlearn_info_", "preact_shift.*finite number"),
    (_edit_extra_top, "'callback'", "not part of the model-file format"),
    (_edit_width_type, "params.normalized_gd", "true or false"),
    (_edit_n_features, "attributes.n_features_in_", "W has 16 columns"),
    (_edit_history, "attributes.history_", "equal lengths"),
])
def test_crafted_files_with_recomputed_checksum_name_the_field(tmp_path, edit, field, match):
    _, meta, arrays = _net_file(tmp_path)
    edit(meta, arrays)
    p = _write(tmp_path / "crafted.npz", meta, arrays)
    with pytest.raises(kk.ModelFileError) as ei:
        kk.load(p)
    assert field in str(ei.value) and __import__("re").search(match, str(ei.value)), str(ei.value)


def test_array_member_path_traversal_is_refused(tmp_path):
    _, meta, arrays = _net_file(tmp_path)
    meta["arrays"]["../evil"] = {"dtype": "<f8", "shape": [1]}
    meta["attributes"]["evil_"] = {"__array__": "../evil"}
    meta["sha256"] = kio._digest(dict(arrays, **{"../evil": np.zeros(1)}), meta)
    p = _write(tmp_path / "evil.npz", meta, arrays, rehash=False, extra_members={"../evil.npy": _npy(np.zeros(1))})
    with pytest.raises(kk.ModelFileError, match="member name '../evil.npy' is not allowed"):
        kk.load(p)
    # the same attribute under a harmless member name: the attribute name is not in the fixed set
    _, meta, arrays = _net_file(tmp_path)
    arrays["evil"] = np.zeros(1)
    meta["arrays"]["evil"] = {"dtype": "<f8", "shape": [1]}
    meta["attributes"]["evil_"] = {"__array__": "evil"}
    with pytest.raises(kk.ModelFileError, match="attribute name 'evil_' is not allowed"):
        kk.load(_write(tmp_path / "evil2.npz", meta, arrays))


def test_unreferenced_array_is_refused(tmp_path):
    _, meta, arrays = _net_file(tmp_path)
    arrays["spare"] = np.zeros(3)
    meta["arrays"]["spare"] = {"dtype": "<f8", "shape": [3]}
    with pytest.raises(kk.ModelFileError, match="unreferenced \\['spare'\\]"):
        kk.load(_write(tmp_path / "spare.npz", meta, arrays))


def test_genuine_files_still_round_trip(tmp_path):
    m, meta, arrays = _net_file(tmp_path)
    p = _write(tmp_path / "ok.npz", meta, arrays)
    r = kk.load(p)
    assert r.W_.tobytes() == m.W_.tobytes() and r.unlearn_info_ == m.unlearn_info_
    assert r.W_.flags.writeable and r.history_["loss"].tobytes() == m.history_["loss"].tobytes()


# ------------------------------------------------------------------------------------- set_params + save
def test_set_params_after_fit_refuses_an_inconsistent_save(tmp_path):
    X, y = kk.datasets.near_orthogonal(8, 16, seed=0)
    m = kk.TwoLayerReLU(width=6, max_iter=400, random_state=0).fit(X, y)   # a span model
    m.set_params(width=9)
    with pytest.raises(ValueError, match="width=9 but the fitted W has 6 rows"):
        m.save(tmp_path / "w.npz")
    assert not (tmp_path / "w.npz").exists()
    m.set_params(width=6, dtype=np.float32)
    with pytest.raises(ValueError, match="dtype=float32 but the fitted weights are float64"):
        m.save(tmp_path / "w.npz")
    m.set_params(dtype=np.float64, lr=0.25)   # a training-only parameter: saved as it is
    m.save(tmp_path / "w.npz")
    assert kk.load(tmp_path / "w.npz").lr == 0.25

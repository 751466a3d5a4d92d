"""Sweeps: grid expansion, the local (loky) and Dask backends, retries, streaming, save/load."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("joblib")

from kktunlearn import sweep as S  # noqa: E402

HAS_UNLEARNING = importlib.util.find_spec("kktunlearn.unlearning") is not None \
    and importlib.util.find_spec("kktunlearn.kkt") is not None


def test_expand_grid():
    pts = S.expand_grid({"a": [1, 2], "b": "x", "c": (3, 4, 5)})
    assert len(pts) == 6
    assert pts[0] == {"a": 1, "b": "x", "c": 3} and pts[1] == {"a": 1, "b": "x", "c": 4}
    assert pts[-1] == {"a": 2, "b": "x", "c": 5}
    both = S.expand_grid([{"a": [1, 2]}, {"b": [0]}])
    assert both == [{"a": 1}, {"a": 2}, {"b": 0}]
    with pytest.raises(ValueError, match="no values"):
        S.expand_grid({"a": []})
    with pytest.raises(TypeError):
        S.expand_grid([1, 2])


def test_local_sweep_rows_and_provenance():
    grid = {"a": [1.0, 2.0, 3.0], "b": [0.5, -1.0], "seed": [0, 1]}
    seen = []
    df = S.sweep(grid, experiment=S.toy_experiment, n_jobs=2, progress=False, on_result=seen.append)
    assert len(df) == 12 and len(seen) == 12
    assert list(df["task_id"]) == list(range(12))
    for _, r in df.iterrows():
        ref = S.toy_experiment(a=r["a"], b=r["b"], seed=int(r["seed"]))
        assert r["value"] == ref["value"]
    for col in ("n_threads", "omp_num_threads", "kktunlearn_version", "numpy_version", "python_version",
                "kktunlearn_git_revision", "project_git_revision", "backend", "pid", "task_time", "attempt"):
        assert col in df.columns
    assert (df["n_threads"] == 1).all() and (df["omp_num_threads"].astype(str) == "1").all()
    assert (df["numpy_version"] == np.__version__).all()
    assert set(df["pid"]) and os.getpid() not in set(df["pid"])  # ran in worker processes


def test_killed_worker_is_retried_without_losing_or_duplicating_rows(tmp_path):
    marker = tmp_path / "crashed"
    grid = [{"a": [1.0], "crash_once": [str(marker)]}, {"a": [2.0, 3.0, 4.0]}]
    df = S.sweep(grid, experiment=S.toy_experiment, n_jobs=2, progress=False)
    assert marker.exists()                       # the worker really died once
    assert sorted(df["task_id"]) == [0, 1, 2, 3]  # one row per task, none lost, none twice
    assert df.loc[df["task_id"] == 0, "attempt"].item() == 2


def test_dask_counts_the_attempts_of_a_killed_worker(tmp_path):
    """attempt = 1 + the deaths of the workers that ran the task, on Dask as on the local backend."""
    pytest.importorskip("distributed")
    grid = [{"a": [1.0], "crash_once": [str(tmp_path / "crashed")]}, {"a": [2.0, 3.0, 4.0]}]
    df = S.sweep(grid, experiment=S.toy_experiment, backend="dask", n_jobs=2, progress=False)
    assert (tmp_path / "crashed").exists()
    assert list(df["task_id"]) == [0, 1, 2, 3] and list(df["attempt"]) == [2, 1, 1, 1]
    rec = S.sweep({"fail": [False, True]}, experiment=S.toy_experiment, backend="dask", n_jobs=1, progress=False,
                  errors="record")
    assert list(rec["attempt"]) == [1, 1] and "asked to fail" in rec["error"].iloc[1]  # user errors: not retried


def test_experiment_errors_raise_or_record():
    with pytest.raises(S.SweepError, match="asked to fail"):
        S.sweep({"fail": [True]}, experiment=S.toy_experiment, n_jobs=1, progress=False)
    df = S.sweep({"fail": [False, True]}, experiment=S.toy_experiment, n_jobs=1, progress=False, errors="record")
    assert df["error"].isna().iloc[0] and "asked to fail" in df["error"].iloc[1]


def test_bad_arguments():
    with pytest.raises(ValueError, match="backend"):
        S.sweep({"a": [1]}, experiment=S.toy_experiment, backend="spark")
    with pytest.raises(ValueError, match="n_jobs"):
        S.sweep({"a": [1]}, experiment=S.toy_experiment, n_jobs=0)
    with pytest.raises(ValueError, match="unknown parameters"):
        S.unlearning_experiment(nonsense=1)


def test_ray_backend_clear_error_when_missing():
    if importlib.util.find_spec("ray") is not None:
        pytest.skip("ray is installed")
    with pytest.raises(ImportError, match="pip install"):
        S.sweep({"a": [1]}, experiment=S.toy_experiment, backend="ray", progress=False)


@pytest.mark.parametrize("ext", [".parquet", ".csv", ".json", ".jsonl"])
def test_save_and_load_results_follow_the_extension(tmp_path, ext):
    import json

    import kktunlearn as kk

    df = S.sweep({"a": [1.0, 2.0], "b": [3.0]}, experiment=S.toy_experiment, n_jobs=1, progress=False)
    p = kk.save_results(df, tmp_path / f"r{ext}")
    assert p == str(tmp_path / f"r{ext}")
    with open(p, "rb") as fh:
        raw = fh.read()
    if ext == ".parquet":
        assert raw[:4] == b"PAR1"
    elif ext == ".json":
        recs = json.loads(raw)
        assert isinstance(recs, list) and [r["a"] for r in recs] == [1.0, 2.0]
    elif ext == ".jsonl":
        recs = [json.loads(line) for line in raw.splitlines()]
        assert [r["a"] for r in recs] == [1.0, 2.0]
    else:
        assert raw.startswith(b"task_id,")
    back = kk.load_results(p)
    assert list(back.columns) == list(df.columns)
    def norm(v):  # None / NaN: missing; a CSV reads the string "1" back as the number 1: compare the text
        if v is None or (isinstance(v, (float, np.floating)) and np.isnan(v)):
            return None
        if isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and float(v).is_integer():
            return str(int(v))
        return str(v)

    for c in df.columns:
        assert [norm(v) for v in back[c]] == [norm(v) for v in df[c]], c
    assert back["value"].tolist() == df["value"].tolist()          # floats exactly


def test_unknown_result_format_and_missing_parquet_engine(tmp_path, monkeypatch):
    import kktunlearn as kk

    df = pd.DataFrame({"a": [1.0]})
    for bad in ("r.xlsx", "r", "r.parquet.gz"):
        with pytest.raises(ValueError, match="unknown result format"):
            kk.save_results(df, tmp_path / bad)
        with pytest.raises(ValueError, match="unknown result format"):
            kk.load_results(tmp_path / bad)
    assert not list(tmp_path.iterdir())                       # nothing written
    monkeypatch.setattr(S, "_parquet_engine", lambda: None)
    with pytest.raises(ImportError, match="pyarrow"):
        kk.save_results(df, tmp_path / "r.parquet")
    assert not list(tmp_path.iterdir())                       # and no silent CSV instead
    df.to_csv(tmp_path / "old.csv", index=False)              # files of older versions: .parquet -> .csv
    assert kk.load_results(tmp_path / "old.parquet")["a"].tolist() == [1.0]


def _uses_the_module(a):
    return S.toy_experiment(a=a)


def test_sweep_is_callable_and_the_old_names_warn(tmp_path):
    import warnings

    import kktunlearn as kk
    from kktunlearn import sweep

    grid = {"a": [1.0, 2.0], "b": [3.0]}
    df = sweep(grid, experiment=kk.sweep.toy_experiment, n_jobs=1, progress=False)
    ref = kk.sweep.sweep(grid, experiment=S.toy_experiment, n_jobs=1, progress=False)
    cols = [c for c in df.columns if c not in S.NONDETERMINISTIC_COLUMNS]
    pd.testing.assert_frame_equal(df[cols], ref[cols])
    assert kk.sweep(grid, S.toy_experiment, n_jobs=1, progress=False)["value"].tolist() == ref["value"].tolist()
    assert kk.sweep.__call__.__doc__ == kk.sweep.sweep.__doc__
    with warnings.catch_warnings():
        warnings.simplefilter("error")                        # module attributes: no warning
        assert kk.sweep.expand_grid({"a": [1, 2]}) == [{"a": 1}, {"a": 2}]
        from kktunlearn.sweep import iter_sweep, load_results  # noqa: F401
    with pytest.warns(DeprecationWarning, match="kktunlearn.save_results"):
        p = kk.sweep.save(ref, tmp_path / "r.csv")
    with pytest.warns(DeprecationWarning, match="kktunlearn.load_results"):
        back = kk.sweep.load(p)
    with pytest.warns(DeprecationWarning):
        from kktunlearn.sweep import load  # noqa: F401
    assert back["value"].tolist() == ref["value"].tolist()
    assert kk.load is not kk.load_results                     # kk.load stays the model loader
    with pytest.raises(AttributeError):
        kk.sweep.nonsense
    import pickle

    import cloudpickle

    assert pickle.loads(pickle.dumps(kk.sweep)) is kk.sweep   # by name, like a module
    # a script's experiment that refers to the (callable) module travels by value
    import sys

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        blob = cloudpickle.dumps(_uses_the_module)
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    fn = cloudpickle.loads(blob)
    assert fn(2.0)["value"] == S.toy_experiment(a=2.0)["value"]


SMALL = {"n": [10], "m": [20], "max_iter": [400], "n_test": [50]}


def _grid():
    if HAS_UNLEARNING:
        return dict(SMALL, d=[200, 400], method=["ga", "retrain"], step_scale=[0.5, 1.0])
    return dict(SMALL, d=[200, 400], method=["retrain", "original"], kkt=[False])


def test_default_experiment_row():
    g = S.expand_grid(_grid())[0]
    row = S.unlearning_experiment(**g)
    for k, v in S.DEFAULTS.items():
        assert k in row
    assert row["n_train"] == 10 and row["n_features"] == g["d"]
    assert 0 <= row["test_acc"] <= 1 and row["phi"] > 0
    if g["method"] == "retrain":
        assert row["cos_to_retrained"] == pytest.approx(1.0)


def test_dask_and_local_give_identical_rows():
    pytest.importorskip("distributed")
    grid = _grid()
    local = S.sweep(grid, n_jobs=2, progress=False)
    dask = S.sweep(grid, backend="dask", n_jobs=2, progress=False)
    assert len(local) == len(S.expand_grid(grid)) == len(dask)
    assert set(dask["backend"]) == {"dask"} and set(local["backend"]) == {"local"}
    cols = [c for c in local.columns if c not in S.NONDETERMINISTIC_COLUMNS]
    assert cols == [c for c in dask.columns if c not in S.NONDETERMINISTIC_COLUMNS]
    pd.testing.assert_frame_equal(local[cols], dask[cols], check_exact=True)
    # the rows are genuinely different experiments
    assert local["phi"].nunique() == 2


def test_dask_scheduler_address_and_client():
    distributed = pytest.importorskip("distributed")
    grid = {"a": [1.0, 2.0], "b": [3.0], "seed": [0, 1, 2]}
    ref = S.sweep(grid, experiment=S.toy_experiment, n_jobs=1, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster:
        by_addr = S.sweep(grid, experiment=S.toy_experiment, backend="dask", scheduler=cluster.scheduler_address,
                          progress=False)
        with distributed.Client(cluster) as client:
            by_client = S.sweep(grid, experiment=S.toy_experiment, backend="dask", client=client, progress=False)
            assert client.status == "running"                  # a user's client is left open
    for df in (by_addr, by_client):
        assert list(df["value"]) == list(ref["value"])
        assert df["pid"].nunique() >= 1 and os.getpid() not in set(df["pid"])


def test_issue_example_runs_as_written():
    """sweep({"d": [200, 400], "method": ["ga", "retrain"]}) with every other key at its default."""
    if not HAS_UNLEARNING:
        pytest.skip("needs kktunlearn.unlearning")
    df = S.sweep({"d": [200, 400], "method": ["ga", "retrain"]}, n_jobs=2, progress=False)
    assert len(df) == 4 and list(df["method"]) == ["ga", "retrain", "ga", "retrain"]
    assert (df["n"] == S.DEFAULTS["n"]).all() and (df["m"] == S.DEFAULTS["m"]).all()
    ga = df[df["method"] == "ga"]
    # GA lands next to the retrained network: closer than the original model was (GA spec 7.4)
    assert (ga["cos_to_retrained"] > ga["cos_original_to_retrained"]).all()
    # the oracle against itself (retraining reuses K restricted to the retained rows: equal up to rounding)
    np.testing.assert_allclose(df.loc[df["method"] == "retrain", "cos_to_retrained"], 1.0, rtol=0, atol=1e-12)
    for col in ("epsilon", "literal_epsilon", "relaxed_epsilon", "relaxed_free_fraction", "relaxed_radius", "tau",
                "test_acc", "mia_threshold_auc", "mia_lr_auc", "step_norm", "wall_time", "phi", "psi", "orig_epsilon",
                "retained_acc_gap", "test_acc_gap", "forget_acc_gap", "measure"):
        assert col in df.columns and df[col].notna().all(), col
    # one measure for both methods of a configuration: the same r (from the alpha = 1 GA step), scale, tolerance
    for d, g in df.groupby("d"):
        assert g["relaxed_radius"].nunique() == 1 and g["measure"].nunique() == 1 and g["literal_tol"].nunique() == 1


# ------------------------------------------------------------------------------------------ provenance
README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
_TYPES = {"int": int, "str": str, "float": float}


def documented_provenance():
    """The README's provenance table: column -> type."""
    with open(README, encoding="utf-8") as fh:
        section = fh.read().split("**Provenance.**", 1)[1]
    out = {}
    for line in section.splitlines()[1:]:
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            out[cells[0].strip("`")] = cells[1]
        elif out and not line.strip():
            break
    return out


def check_provenance(rows, backend):
    """Every documented provenance column present in every row, with its documented type."""
    import datetime

    import kktunlearn as kk

    doc = documented_provenance()
    assert doc == {k: t for k, (t, _m) in S.PROVENANCE_COLUMNS.items()}   # the README is the schema
    assert rows
    for r in rows:
        for col, typ in doc.items():
            assert col in r, col
            base, _, none = typ.partition(" or ")
            v = r[col]
            if v is None:
                assert none == "None", (col, v)
                continue
            assert isinstance(v, _TYPES[base]) and not isinstance(v, bool), (col, v, typ)
        assert r["backend"] == backend and r["attempt"] >= 1 and r["n_threads"] == 1
        assert r["kktunlearn_version"] == kk.__version__ and r["numpy_version"] == np.__version__
        assert r["cpu_variant"] == kk.cpu_variant and r["cpu_variant"] in ("baseline", "avx2", "avx512")
        assert r["python_version"].count(".") == 2 and r["cpu_model"]
        if r["pid"] != os.getpid():                         # worker processes get OMP_NUM_THREADS = n_threads
            assert r["omp_num_threads"] == "1"
        ts = datetime.datetime.fromisoformat(r["timestamp"])
        assert ts.utcoffset() == datetime.timedelta(0)
        assert abs((datetime.datetime.now(datetime.timezone.utc) - ts).total_seconds()) < 3600
        if r["blas_internal_api"] is not None:
            assert r["blas_version"] and r["blas_num_threads"] >= 1
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        pass
    else:
        assert all(r["blas_internal_api"] for r in rows)      # numpy's BLAS is always there to see


PROV_GRID = {"a": [1.0, 2.0], "seed": [0, 1]}


def test_provenance_schema_local():
    rows = []
    df = S.sweep(PROV_GRID, experiment=S.toy_experiment, n_jobs=2, progress=False, on_result=rows.append)
    check_provenance(rows, "local")
    assert (df["n_workers"] == 2).all() and os.getpid() not in set(df["pid"])
    one = []
    S.sweep(PROV_GRID, experiment=S.toy_experiment, n_jobs=1, progress=False, on_result=one.append)
    check_provenance(one, "local")                              # n_jobs=1 runs in this process
    assert {r["pid"] for r in one} == {os.getpid()}


def test_provenance_schema_dask():
    pytest.importorskip("distributed")
    rows = []
    S.sweep(PROV_GRID, experiment=S.toy_experiment, backend="dask", n_jobs=2, progress=False, on_result=rows.append)
    check_provenance(rows, "dask")


def test_provenance_of_an_error_row_from_a_dead_worker():
    rows = []
    S.sweep({"a": [1.0, 2.0]}, experiment=_segfault_on_one, n_jobs=2, max_retries=0, errors="record",
            progress=False, on_result=rows.append)   # two tasks: n_jobs=2 really starts worker processes
    (r,) = [r for r in rows if r["a"] == 1.0]
    assert r["attempt"] == 1 and "SIGSEGV" in r["worker_exit"] and r["task_time"] != r["task_time"]  # NaN
    for col, typ in documented_provenance().items():
        assert col in r and (r[col] is None or isinstance(r[col], _TYPES[typ.partition(" or ")[0]]))


def _segfault_on_one(a):
    import signal

    if a == 1.0:
        os.kill(os.getpid(), signal.SIGSEGV)
    return {"value": a}


def test_project_git_revision_is_the_callers_repository(tmp_path, monkeypatch):
    import shutil
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("needs git")
    outside = tmp_path / "plain"
    outside.mkdir()
    repo = tmp_path / "project"
    repo.mkdir()
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t", GIT_CEILING_DIRECTORIES=str(tmp_path))
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # /tmp's parents are nobody's project
    for cmd in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "x"]):
        subprocess.run(["git", "-C", str(repo), *cmd], check=True, env=env, capture_output=True)
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, env=env, capture_output=True,
                          text=True).stdout.strip()
    monkeypatch.chdir(repo)
    df = S.sweep({"a": [1.0]}, experiment=S.toy_experiment, n_jobs=1, progress=False)
    assert df["project_git_revision"].iloc[0] == head
    (repo / "f.txt").write_text("x")
    subprocess.run(["git", "-C", str(repo), "add", "f.txt"], check=True, env=env)
    df = S.sweep({"a": [1.0]}, experiment=S.toy_experiment, n_jobs=1, progress=False)
    assert df["project_git_revision"].iloc[0] == head + "+dirty"
    monkeypatch.chdir(outside)
    df = S.sweep({"a": [1.0]}, experiment=S.toy_experiment, n_jobs=1, progress=False)
    assert df["project_git_revision"].isna().all()
    # the library's own revision: its checkout when imported from one, never the caller's project
    assert df["kktunlearn_git_revision"].iloc[0] != head

"""The Ray backend (plain ray.remote tasks on a local ray.init()): the same rows and attempt counts as
the local and Dask backends, survival of killed workers, programming errors reported at once.
Skipped when Ray is not installed; CI runs this file in its own stage, which installs Ray."""

from __future__ import annotations

import os
import signal
import sys
import textwrap

import pytest

pd = pytest.importorskip("pandas")
ray = pytest.importorskip("ray")

from kktunlearn import sweep as S  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_sweep import PROV_GRID, _grid, check_provenance  # noqa: E402

# Ray's workers cannot import this test module: its functions travel by value (as a script's would)
import ray.cloudpickle  # noqa: E402

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _same_rows(a, b):
    cols = [c for c in a.columns if c not in S.NONDETERMINISTIC_COLUMNS]
    assert cols == [c for c in b.columns if c not in S.NONDETERMINISTIC_COLUMNS]
    pd.testing.assert_frame_equal(a[cols].reset_index(drop=True), b[cols].reset_index(drop=True), check_exact=True)


def test_own_local_ray_instance_gives_the_local_rows():
    """No Ray running: the sweep starts a local ray.init() (num_cpus = n_jobs), and shuts it down."""
    assert not ray.is_initialized()
    grid = _grid()
    local = S.sweep(grid, n_jobs=2, progress=False)
    on_ray = S.sweep(grid, experiment=_default_and_ray_cpus, backend="ray", n_jobs=2, progress=False)
    assert not ray.is_initialized()                       # the instance it started is gone
    assert (on_ray["ray_cpus"] == 2).all()                # num_cpus = n_jobs * n_threads
    on_ray = on_ray.drop(columns=["ray_cpus"])
    assert len(on_ray) == len(S.expand_grid(grid)) == len(local)
    assert set(on_ray["backend"]) == {"ray"} and (on_ray["n_workers"] == 2).all()
    assert (on_ray["attempt"] == 1).all() and (on_ray["omp_num_threads"].astype(str) == "1").all()
    assert os.getpid() not in set(on_ray["pid"])          # ran in Ray's worker processes
    _same_rows(local, on_ray)


def _default_and_ray_cpus(**params):
    """The default experiment's row, plus the CPUs of the Ray instance it runs on."""
    row = S.unlearning_experiment(**params)
    row["ray_cpus"] = ray.cluster_resources().get("CPU")
    return row


@pytest.fixture(scope="module")
def ray_session():
    """One Ray instance for the remaining tests (starting one costs ~10 s); the sweep uses it."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


def test_provenance_schema_ray(ray_session):
    rows = []
    S.sweep(PROV_GRID, experiment=S.toy_experiment, backend="ray", progress=False, on_result=rows.append)
    check_provenance(rows, "ray")
    assert {r["n_workers"] for r in rows} == {None}            # the Ray instance of the fixture


@pytest.mark.parametrize("how", ["exit", "sigkill"])
def test_killed_worker_same_rows_and_attempts_as_local_and_dask(ray_session, tmp_path, how):
    sig = None if how == "exit" else int(signal.SIGKILL)

    def grid(tag):
        return [{"a": [1.0], "crash_once": [str(tmp_path / f"crashed-{tag}")], "crash_signal": [sig]},
                {"a": [2.0, 3.0, 4.0]}]

    out = {}
    backends = ["local", "ray"]
    try:
        import distributed  # noqa: F401
        backends.append("dask")
    except ImportError:
        pass
    for b in backends:
        df = S.sweep(grid(b), experiment=S.toy_experiment, backend=b, n_jobs=2, progress=False)
        assert (tmp_path / f"crashed-{b}").exists()          # the worker really died once
        assert list(df["task_id"]) == [0, 1, 2, 3]            # no row lost, none twice
        assert list(df["attempt"]) == [2, 1, 1, 1], b          # only the task that was running is charged
        out[b] = df.drop(columns=["crash_once", "n_workers"])
        if b == "ray":
            assert df["n_workers"].isna().all()                  # a Ray instance the sweep did not start
    for b in backends[1:]:
        _same_rows(out["local"], out[b])


def test_worker_that_always_dies_gives_an_error_row_after_max_retries(ray_session):
    # SIGKILL on every attempt: the experiment below kills its worker each time it runs
    rec = S.sweep({"a": [1.0, 2.0]}, experiment=_always_die_on_one, backend="ray", max_retries=2, progress=False,
                  errors="record")
    assert list(rec["attempt"]) == [3, 1]
    assert "died 3 times" in rec["error"].iloc[0] and rec["worker_exit"].iloc[0] == "WorkerCrashedError"
    assert pd.isna(rec["error"].iloc[1]) and rec["value"].iloc[1] == 2.0
    with pytest.raises(S.SweepError, match="died 3 times"):
        S.sweep({"a": [1.0]}, experiment=_always_die_on_one, backend="ray", max_retries=2, progress=False)


def _always_die_on_one(a: float):
    if a == 1.0:
        os.kill(os.getpid(), signal.SIGKILL)
    return {"value": a}


def test_user_errors_are_reported_at_once_not_retried(ray_session):
    with pytest.raises(S.SweepError, match="ValueError: toy_experiment asked to fail"):
        S.sweep({"fail": [True]}, experiment=S.toy_experiment, backend="ray", progress=False)
    rec = S.sweep({"fail": [False, True]}, experiment=S.toy_experiment, backend="ray", progress=False,
                  errors="record", max_retries=3)
    assert list(rec["attempt"]) == [1, 1]                    # the failing task ran once
    assert "asked to fail" in rec["error"].iloc[1]


@pytest.mark.parametrize("backend", ["local", "ray"])
def test_experiment_that_cannot_be_loaded_in_the_worker_raises_as_itself(ray_session, tmp_path, backend,
                                                                        monkeypatch):
    mod = tmp_path / "vanishing_experiment.py"
    mod.write_text(textwrap.dedent("""
        def exp(a):
            return {"value": a}
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    m = importlib.import_module("vanishing_experiment")
    mod.unlink()                                              # the workers cannot import it any more
    try:
        with pytest.raises(ModuleNotFoundError, match="vanishing_experiment"):
            S.sweep({"a": [1, 2, 3]}, experiment=m.exp, backend=backend, n_jobs=2, progress=False)
    finally:
        sys.modules.pop("vanishing_experiment", None)

"""Sweeps that never lose results (issue 14): crash attribution, Ctrl-C, streamed rows, resume, the
CLI's output checks, Dask's spawn re-import. Everything that could crash or hang runs in a child
Python process with a timeout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

pd = pytest.importorskip("pandas")

from kktunlearn import cli  # noqa: E402
from kktunlearn import sweep as S  # noqa: E402

PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(S.__file__)))


def _run_py(code, timeout=180, **kw):
    env = dict(os.environ)
    env["PYTHONPATH"] = PKG_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          timeout=timeout, **kw)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


# ------------------------------------------------------------------------------------ crash attribution
CRASH = """
    import json, os, signal
    from kktunlearn.sweep import sweep, SweepError

    def exp(a):                       # defined in a script without a main guard, on purpose
        if a == 4:
            os.kill(os.getpid(), signal.SIGSEGV)
        return {"value": a * 10}

    df = sweep({"a": [0, 1, 4, 5]}, experiment=exp, n_jobs=2, errors="record", max_retries=1, progress=False)
    print("DF " + df.to_json(orient="records"))
    try:
        sweep({"a": [0, 1, 4, 5]}, experiment=exp, n_jobs=2, errors="raise", max_retries=1, progress=False)
    except SweepError as exc:
        print("RAISED " + json.dumps(str(exc)))
"""


def test_crashing_worker_charges_only_its_own_task():
    r = _run_py(CRASH)
    assert r.returncode == 0, r.stderr[-3000:]
    line = next(x for x in r.stdout.splitlines() if x.startswith("DF "))
    df = pd.DataFrame(json.loads(line[3:]))
    assert list(df["a"]) == [0, 1, 4, 5]                         # every row comes back
    assert list(df["attempt"]) == [1, 1, 2, 1]                   # true counts: only a == 4 was retried
    assert df["error"].isna().tolist() == [True, True, False, True]
    assert list(df.loc[df["a"] != 4, "value"]) == [0, 10, 50]
    crashed = df[df["a"] == 4].iloc[0]
    assert "SIGSEGV" in crashed["error"] and "2 times" in crashed["error"]
    assert crashed["worker_exit"] == "signal SIGSEGV (11)"
    raised = json.loads(next(x for x in r.stdout.splitlines() if x.startswith("RAISED "))[7:])
    assert "task 2" in raised and "{'a': 4}" in raised and "SIGSEGV" in raised


def test_retry_after_one_crash_gives_the_row(tmp_path):
    marker = tmp_path / "crashed"
    grid = [{"a": [1.0], "crash_once": [str(marker)]}, {"a": [2.0, 3.0, 4.0]}]
    df = S.sweep(grid, experiment=S.toy_experiment, n_jobs=2, progress=False, max_retries=1)
    assert marker.exists() and sorted(df["task_id"]) == [0, 1, 2, 3]
    assert list(df["attempt"]) == [2, 1, 1, 1]
    assert "error" not in df.columns


# ---------------------------------------------------------------------------------------------- Ctrl-C
CTRL_C = """
    import os, sys, time
    from kktunlearn.sweep import sweep

    def slow(k, folder):
        open(os.path.join(folder, f"{k}.pid"), "w").write(str(os.getpid()))
        time.sleep(30)
        return {"k": k}

    try:
        sweep({"k": [0, 1], "folder": [sys.argv[1]]}, experiment=slow, n_jobs=2, progress=False)
    except KeyboardInterrupt:
        print("INTERRUPTED", time.time(), flush=True)
        sys.exit(7)
"""


def test_ctrl_c_stops_and_reaps_the_workers(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = PKG_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(CTRL_C), str(tmp_path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("*.pid"))) < 2:
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        time.sleep(0.2)
        pids = [int(p.read_text()) for p in tmp_path.glob("*.pid")]
        assert all(_alive(p) for p in pids)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 7 and "INTERRUPTED" in out, err[-2000:]
    assert elapsed < 10, elapsed            # generous for a loaded machine; the workers' deadline is below
    assert not any(_alive(p) for p in pids)  # the 30 s tasks do not go on running
    assert "leaked" not in err and "semaphore" not in err.lower(), err[-2000:]


def test_workers_are_gone_within_two_seconds_of_the_interrupt(tmp_path):
    """The same, timing the workers' death from the parent's side: SIGTERM, then SIGKILL after 1 s."""
    env = dict(os.environ)
    env["PYTHONPATH"] = PKG_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(CTRL_C), str(tmp_path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("*.pid"))) < 2:
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        time.sleep(0.2)
        pids = [int(p.read_text()) for p in tmp_path.glob("*.pid")]
        t_sig = time.time()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    t_int = float(out.split("INTERRUPTED")[1].split()[0])
    # the KeyboardInterrupt reaches the caller only after every worker was reaped
    assert t_int - t_sig < 2.0 or not any(_alive(p) for p in pids)
    assert not any(_alive(p) for p in pids)


# ------------------------------------------------------------------------------------ streamed results
def flaky(a, marker):
    """Fails for a == 2 until `marker` exists (it creates it), so a second run succeeds."""
    if a == 2 and not os.path.exists(marker):
        open(marker, "w").close()
        raise ValueError("flaky failure")
    return {"value": a * 1.5}


def never(a):
    raise AssertionError("must not run")


def test_rows_are_on_disk_when_raise_fails_and_resume_skips_them(tmp_path):
    out = tmp_path / "r.jsonl"
    grid = {"a": [0, 1, 2, 3], "marker": [str(tmp_path / "m")]}
    with pytest.raises(S.SweepError, match="flaky failure"):
        S.sweep(grid, experiment=flaky, n_jobs=1, progress=False, out=out)
    stored = S.load_results(out)
    assert list(stored["a"]) == [0, 1]                    # the finished rows survived the failure
    assert stored["config_hash"].nunique() == 2
    with pytest.raises(FileExistsError, match="resume=True"):
        S.sweep(grid, experiment=flaky, n_jobs=1, progress=False, out=out)
    seen = []
    df = S.sweep(grid, experiment=flaky, n_jobs=1, progress=False, out=out, resume=True, on_result=seen.append)
    assert sorted(r["a"] for r in seen) == [2, 3]          # only the missing configurations ran
    assert list(df["a"]) == [0, 1, 2, 3] and list(df["task_id"]) == [0, 1, 2, 3]
    assert list(df["value"]) == [0.0, 1.5, 3.0, 4.5]
    assert list(S.load_results(out)["a"]) == [0, 1, 2, 3]
    # everything done: a third run runs nothing and returns the same table
    df3 = S.sweep(grid, experiment=flaky, n_jobs=2, progress=False, out=out, resume=True)
    assert list(df3["value"]) == [0.0, 1.5, 3.0, 4.5]


def test_config_hash_is_the_key():
    h = S.config_hash({"a": 1, "b": "x"}, "m.f")
    assert h == S.config_hash({"b": "x", "a": 1}, "m.f") and len(h) == 16
    assert h != S.config_hash({"a": 2, "b": "x"}, "m.f") and h != S.config_hash({"a": 1, "b": "x"}, "m.g")


def test_recorded_errors_are_rerun_on_resume_and_a_torn_line_is_skipped(tmp_path):
    out = tmp_path / "r.jsonl"
    grid = {"a": [1, 2], "marker": [str(tmp_path / "m")]}
    df = S.sweep(grid, experiment=flaky, n_jobs=2, progress=False, out=out, errors="record")
    assert "flaky failure" in df.loc[df["a"] == 2, "error"].item()
    with open(out, "ab") as fh:
        fh.write(b'{"task_id": 7, "a": 9')              # a row cut short by a crash
    with pytest.warns(UserWarning, match="incomplete line"):
        df = S.sweep(grid, experiment=flaky, n_jobs=1, progress=False, out=out, resume=True, errors="record")
    assert list(df["a"]) == [1, 2] and ("error" not in df or df["error"].isna().all())
    with pytest.warns(UserWarning, match="incomplete line"):
        back = S.load_results(out)
    assert sorted(back["a"]) == [1, 2] and ("error" not in back or back["error"].isna().all())


def test_out_is_checked_before_any_work(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        S.sweep({"a": [1]}, experiment=never, n_jobs=1, progress=False, out=tmp_path / "no" / "r.jsonl")
    with pytest.raises(ValueError, match="JSON lines"):
        S.sweep({"a": [1]}, experiment=never, n_jobs=1, progress=False, out=tmp_path / "r.parquet")
    with pytest.raises(IsADirectoryError):
        S.sweep({"a": [1]}, experiment=never, n_jobs=1, progress=False, out=tmp_path)
    with pytest.raises(ValueError, match="resume=True needs out"):
        S.sweep({"a": [1]}, experiment=never, n_jobs=1, progress=False, resume=True)
    with pytest.raises(TypeError, match="resume must be True or False"):
        S.sweep({"a": [1]}, experiment=never, n_jobs=1, progress=False, out=tmp_path / "x.jsonl", resume="yes")


# ------------------------------------------------------------------------------------------------- CLI
def test_cli_checks_out_before_running(tmp_path, capsys):
    t0 = time.monotonic()
    grid = {"n": [10], "d": [20], "m": [5], "max_iter": [100], "kkt": [False], "mia": [False]}
    rc = cli.main(["sweep", "--grid", json.dumps(grid), "--out", "/nonexistent/r.csv", "--n-jobs", "1",
                   "--no-progress"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "/nonexistent" in err and "does not exist" in err and "Traceback" not in err
    assert time.monotonic() - t0 < 5


def test_cli_resume(tmp_path, capsys):
    grid = {"n": [10], "d": [50, 80], "m": [10], "max_iter": [200], "n_test": [20], "method": ["original"],
            "kkt": [False], "mia": [False]}
    out = tmp_path / "s.csv"
    args = ["sweep", "--grid", json.dumps(grid), "--out", str(out), "--n-jobs", "1", "--no-progress"]
    assert cli.main(args) == 0
    first = pd.read_csv(out)
    journal = tmp_path / "s.rows.jsonl"
    assert journal.exists() and len(S.load_results(journal)) == 2
    assert cli.main(args) == 1                                     # exists: refuses without --resume
    assert "--resume" in capsys.readouterr().err
    assert cli.main(args + ["--resume"]) == 0
    again = pd.read_csv(out)
    pd.testing.assert_frame_equal(first, again)
    grid["d"] = [50, 80, 120]                                      # a grown grid runs only the new point
    args[2] = json.dumps(grid)
    assert cli.main(args + ["--resume"]) == 0
    assert list(pd.read_csv(out)["d"]) == [50, 80, 120]
    assert len(S.load_results(journal)) == 3


# ------------------------------------------------------------------------------------------------ Dask
DASK_NO_GUARD = """
    from kktunlearn.sweep import sweep, toy_experiment, SweepError
    try:
        sweep({"a": [1.0]}, experiment=toy_experiment, backend="dask", n_jobs=1, progress=False)
        print("RAN")
    except SweepError as exc:
        if __name__ != "__main__":   # the re-imported copy in a spawned worker: fail as a user's script would
            raise
        print("SWEEPERROR " + str(exc))
"""


def test_dask_spawn_reimport_gets_a_clear_message(tmp_path):
    pytest.importorskip("distributed")
    script = tmp_path / "no_guard.py"
    script.write_text(textwrap.dedent(DASK_NO_GUARD))
    env = dict(os.environ)
    env["PYTHONPATH"] = PKG_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=240,
                       cwd=tmp_path)
    assert "SWEEPERROR" in r.stdout, (r.stdout[-2000:], r.stderr[-3000:])
    msg = r.stdout.split("SWEEPERROR", 1)[1]
    assert 'if __name__ == "__main__":' in msg and "no_guard.py" in msg

"""Command-line smoke tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("pandas")
pytest.importorskip("joblib")

from kktunlearn import cli  # noqa: E402


def test_info(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "kktunlearn" in out and "numpy" in out


def test_sweep_command(tmp_path, capsys):
    grid = {"n": [10], "d": [50, 80], "m": [10], "max_iter": [200], "n_test": [20], "method": ["retrain", "original"],
            "kkt": [False]}
    out = tmp_path / "s.csv"
    assert cli.main(["sweep", "--grid", json.dumps(grid), "--out", str(out), "--n-jobs", "1", "--no-progress"]) == 0
    import pandas as pd

    df = pd.read_csv(out)
    assert len(df) == 4 and set(df["method"]) == {"retrain", "original"}
    assert "4 rows" in capsys.readouterr().out
    gfile = tmp_path / "g.json"
    gfile.write_text(json.dumps(grid))
    assert cli.main(["sweep", "--grid", str(gfile), "--out", str(tmp_path / "t.parquet"), "--n-jobs", "1",
                     "--no-progress"]) == 0
    assert cli.main(["sweep", "--grid", "{not json", "--out", str(out)]) == 2


def test_reproduce_command(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    import importlib.util

    if importlib.util.find_spec("kktunlearn.unlearning") is None:
        pytest.skip("needs kktunlearn.unlearning")
    assert cli.main(["reproduce", "linear", "--quick", "--out", str(tmp_path), "--n-jobs", "1", "--format", "pdf"]) == 0
    assert (tmp_path / "linear.pdf").exists() and (tmp_path / "linear.csv").exists()
    assert not (tmp_path / "linear.png").exists()
    with open(tmp_path / "linear.pdf", "rb") as fh:
        assert fh.read(4) == b"%PDF"
    assert "figure:" in capsys.readouterr().out


def test_bad_arguments():
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "nope"])
    with pytest.raises(SystemExit):
        cli.main([])


def test_python_dash_m(tmp_path):
    env = dict(os.environ)
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(cli.__file__)))
    env["PYTHONPATH"] = pkg_root + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-m", "kktunlearn", "--help"], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0 and "reproduce" in r.stdout


def test_failing_sweep_exits_with_1(tmp_path, capsys):
    # a valid grid whose task fails at run time (one step of training cannot fit S)
    grid = {"n": [10], "d": [20], "m": [5], "max_iter": [1], "kkt": [False], "mia": [False], "n_test": [5]}
    assert cli.main(["sweep", "--grid", json.dumps(grid), "--out", str(tmp_path / "x.csv"), "--n-jobs", "1",
                     "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "does not fit its training set" in err


# ------------------------------------------------------------------------------- the CLI's conventions
TINY = {"n": [10], "d": [50], "m": [10], "max_iter": [200], "n_test": [20], "method": ["retrain", "original"],
        "kkt": [False], "mia": [False]}


def _cli(*args, timeout=180):
    env = dict(os.environ)
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(cli.__file__)))
    env["PYTHONPATH"] = pkg_root + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "kktunlearn", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def test_version():
    import kktunlearn as kk

    r = _cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"kktunlearn {kk.__version__}"


@pytest.mark.parametrize("ext", [".parquet", ".csv", ".json", ".jsonl"])
def test_out_format_follows_the_extension(tmp_path, capsys, ext):
    import kktunlearn as kk

    out = tmp_path / f"s{ext}"
    assert cli.main(["sweep", "--grid", json.dumps(TINY), "--out", str(out), "--n-jobs", "1", "--no-progress"]) == 0
    with open(out, "rb") as fh:
        raw = fh.read()
    if ext == ".parquet":
        assert raw[:4] == b"PAR1"
    elif ext == ".json":
        assert [r["method"] for r in json.loads(raw)] == ["retrain", "original"]
    elif ext == ".jsonl":
        assert [json.loads(x)["method"] for x in raw.splitlines()] == ["retrain", "original"]
    else:
        assert raw.startswith(b"task_id,")
    assert kk.load_results(out)["method"].tolist() == ["retrain", "original"]
    assert f"2 rows -> {out}" in capsys.readouterr().out


def _no_workers(monkeypatch):
    """Make starting any sweep work an error: what is checked first must fail before it."""
    from kktunlearn import sweep as S

    def boom(*a, **k):
        raise AssertionError("a worker was started")

    for name in ("_iter_local", "_iter_dask", "_iter_ray", "_run_task"):
        monkeypatch.setattr(S, name, boom)


@pytest.mark.parametrize("out", ["s.xlsx", "s", "s.txt"])
def test_unknown_extension_is_an_error_before_any_work(tmp_path, capsys, monkeypatch, out):
    _no_workers(monkeypatch)
    assert cli.main(["sweep", "--grid", json.dumps(TINY), "--out", str(tmp_path / out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "unknown result format" in err and ".parquet" in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())                        # nothing written, not even the row stream


@pytest.mark.parametrize("grid, message", [
    ({"n": [10], "nonsense": [1]}, "unknown grid key(s) ['nonsense']"),
    ({"loss": ["hinge"]}, "grid key 'loss': 'hinge' is not 'exponential' or 'logistic'"),
    ({"n": [10.5]}, "grid key 'n': 10.5 is not an integer >= 2"),
    ({"method": ["ga", "magic"]}, "grid key 'method': 'magic' is not one of"),
    ({"n": [10], "forget": [10]}, "grid key 'forget': 10 is not an index of the n = 10 training points"),
    ({"kkt": ["yes"]}, "grid key 'kkt': 'yes' is not true or false"),
])
def test_bad_grid_is_one_line_exit_2_before_any_worker(tmp_path, capsys, monkeypatch, grid, message):
    _no_workers(monkeypatch)
    assert cli.main(["sweep", "--grid", json.dumps(grid), "--out", str(tmp_path / "s.csv")]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_bad_grid_in_a_subprocess_has_no_traceback(tmp_path):
    r = _cli("sweep", "--grid", json.dumps({"nonsense": [1]}), "--out", str(tmp_path / "s.csv"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "unknown grid key(s) ['nonsense']" in r.stderr
    r = _cli("sweep", "--grid", "{not json", "--out", str(tmp_path / "s.csv"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "JSON" in r.stderr


def test_the_same_flags_on_every_subcommand():
    p = cli.build_parser()
    required = {"reproduce": ["linear"], "sweep": ["--grid", "{}", "--out", "x.csv"], "info": []}
    sub = next(a for a in p._actions if isinstance(a, __import__("argparse")._SubParsersAction))
    assert set(sub.choices) == set(required)
    for cmd, extra in required.items():
        opts = {o for a in sub.choices[cmd]._actions for o in a.option_strings}
        assert {"--progress", "--no-progress", "-v", "--verbose", "-q", "--quiet"} <= opts, cmd
        assert p.parse_args([cmd, *extra]).progress is None                    # default: auto
        assert p.parse_args([cmd, *extra, "--progress"]).progress is True
        assert p.parse_args([cmd, *extra, "--no-progress"]).progress is False
        assert p.parse_args([cmd, *extra, "-vv"]).verbose == 2 and p.parse_args([cmd, *extra, "-q"]).quiet
        with pytest.raises(SystemExit):
            p.parse_args([cmd, *extra, "-v", "-q"])                             # one or the other


def test_progress_bar_only_on_a_terminal_unless_forced(tmp_path, monkeypatch):
    import argparse

    ns = argparse.Namespace
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert cli._progress(ns(progress=None)) is True and cli._progress(ns(progress=False)) is False
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    if "ipykernel" not in sys.modules:
        assert cli._progress(ns(progress=None)) is False
    assert cli._progress(ns(progress=True)) is True
    # a real run with stderr on a pipe: no bar (no carriage returns) unless --progress
    grid = json.dumps(TINY)
    quiet = _cli("sweep", "--grid", grid, "--out", str(tmp_path / "a.csv"), "--n-jobs", "1")
    assert quiet.returncode == 0 and "\r" not in quiet.stderr and "task/s" not in quiet.stderr, quiet.stderr
    forced = _cli("sweep", "--grid", grid, "--out", str(tmp_path / "b.csv"), "--n-jobs", "1", "--progress")
    assert forced.returncode == 0 and "2/2" in forced.stderr


def test_logging_levels(tmp_path, capsys):
    args = ["sweep", "--grid", json.dumps(TINY), "--n-jobs", "2", "--no-progress"]
    assert cli.main(args + ["--out", str(tmp_path / "a.csv")]) == 0
    assert "INFO" not in capsys.readouterr().err                               # default: warnings and errors
    assert cli.main(args + ["--out", str(tmp_path / "b.csv"), "-v"]) == 0
    cap = capsys.readouterr()
    assert "kktunlearn: INFO: sweep: 2 grid points on backend local" in cap.err
    assert "starting 2 local worker processes" in cap.err and "2 rows ->" in cap.out  # results stay on stdout
    assert cli.main(["sweep", "--grid", json.dumps({"n": ["x"]}), "--out", str(tmp_path / "c.csv"), "-q"]) == 2
    assert "error:" in capsys.readouterr().err                                 # -q still shows errors


def test_reproduce_figure_format(tmp_path, monkeypatch):
    """run(..., fig_format=) / --format: the figure file is NAME.<format>, in that format."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from kktunlearn import reproduce as R

    def fake(quick=False, out=None, n_jobs=None, progress=False, verbose=False, backend="local"):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        rows = pd.DataFrame({"x": [0, 1]})
        return R._finish("fake", quick, rows, rows, {}, fig, out, verbose, 0.0)

    monkeypatch.setitem(R.REPRODUCTIONS, "fake", fake)
    magic = {"png": b"\x89PNG", "pdf": b"%PDF", "svg": b"<?xml"}
    for fmt, head in magic.items():
        res = R.run("fake", out=str(tmp_path / fmt), fig_format=fmt, verbose=False)
        assert res.figure_path == str(tmp_path / fmt / f"fake.{fmt}")
        with open(res.figure_path, "rb") as fh:
            assert fh.read(5).startswith(head)
    assert R._FIG_FORMAT.get() == "png"                                        # reset after the run
    with pytest.raises(ValueError, match="fig_format"):
        R.run("fake", out=str(tmp_path), fig_format="jpg")
    monkeypatch.setattr(cli, "_progress", lambda args: False)
    import argparse
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["reproduce", "linear", "--format", "jpg"])
    assert isinstance(cli.build_parser().parse_args(["reproduce", "linear", "--format", "svg"]), argparse.Namespace)


def test_progress_bar_on_a_real_terminal(tmp_path):
    """stderr on a pseudo-terminal: the bar is drawn by default, and --no-progress removes it."""
    pty = pytest.importorskip("pty")
    import select

    def run_on_pty(*extra):
        master, slave = pty.openpty()
        import fcntl
        import struct
        import termios

        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 0 x 0 one gets no bar
        env = dict(os.environ)
        pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(cli.__file__)))
        env["PYTHONPATH"] = pkg_root + os.pathsep + env.get("PYTHONPATH", "")
        proc = subprocess.Popen([sys.executable, "-m", "kktunlearn", "sweep", "--grid", json.dumps(TINY), "--out",
                                 str(tmp_path / f"p{len(extra)}.csv"), "--n-jobs", "1", *extra],
                                stdout=subprocess.DEVNULL, stderr=slave, env=env)
        os.close(slave)
        chunks = []
        while True:
            r, _, _ = select.select([master], [], [], 120)
            if not r:
                break
            try:
                b = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not b:
                break
            chunks.append(b)
        os.close(master)
        assert proc.wait(timeout=120) == 0
        return b"".join(chunks).decode("utf-8", "replace")

    assert "2/2" in run_on_pty()                                 # auto: a terminal gets the bar
    assert "2/2" not in run_on_pty("--no-progress")

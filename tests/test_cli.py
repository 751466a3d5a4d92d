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
    with pytest.raises(SystemExit):
        cli.main(["sweep", "--grid", "{not json", "--out", str(out)])


def test_reproduce_command(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    import importlib.util

    if importlib.util.find_spec("kktunlearn.unlearning") is None:
        pytest.skip("needs kktunlearn.unlearning")
    assert cli.main(["reproduce", "linear", "--quick", "--out", str(tmp_path), "--n-jobs", "1"]) == 0
    assert (tmp_path / "linear.png").exists() and (tmp_path / "linear.csv").exists()
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


def test_failing_sweep_exits_nonzero(tmp_path, capsys):
    grid = {"n": [10], "d": [20], "m": [5], "max_iter": [100], "model": ["nonsense"], "kkt": [False]}
    assert cli.main(["sweep", "--grid", json.dumps(grid), "--out", str(tmp_path / "x.csv"), "--n-jobs", "1",
                     "--no-progress"]) == 1
    assert "'nonsense' is not 'relu' or 'linear'" in capsys.readouterr().err

"""Command line: `kktunlearn reproduce NAME [--quick] [--out DIR]`, `kktunlearn sweep`, `kktunlearn info`.

    kktunlearn reproduce fig1 --quick              # GA paper's Figure 1 in ~30 s, into ./kktunlearn-results
    kktunlearn reproduce all --quick --out results
    kktunlearn sweep --grid '{"d": [200, 400], "method": ["ga", "retrain"]}' --out sweep.parquet
    kktunlearn sweep --grid grid.json --backend dask --scheduler tcp://10.0.0.1:8786 --out big.parquet
    kktunlearn sweep --grid grid.json --out big.parquet --resume   # after a crash: only what is missing
    kktunlearn info                                # versions, threads, optional dependencies
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    from .reproduce import REPRODUCTIONS

    p = argparse.ArgumentParser(prog="kktunlearn", description="Train, unlearn and verify unlearning; "
                                "reproduce the papers' experiments; run parameter sweeps.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("reproduce", help="reproduce a paper's figure: writes NAME.png and NAME.csv, prints a table")
    r.add_argument("name", choices=sorted(REPRODUCTIONS) + ["all"], help="which reproduction (or all)")
    r.add_argument("--quick", action="store_true", help="reduced version (well under 2 minutes on 2 cores)")
    r.add_argument("--out", default="kktunlearn-results", help="output folder (default: ./kktunlearn-results)")
    r.add_argument("--n-jobs", type=int, default=None, help="worker processes (default: all cores)")
    r.add_argument("--backend", choices=["local", "dask", "ray"], default="local", help="sweep backend")
    r.add_argument("--progress", action="store_true", help="show a progress bar")

    s = sub.add_parser("sweep", help="sweep the default unlearning experiment over a parameter grid")
    s.add_argument("--grid", required=True,
                   help='JSON object of parameter -> list of values, or the path of a JSON file')
    s.add_argument("--out", required=True,
                   help="result file (.parquet, .csv or .jsonl); rows stream into OUT-STEM.rows.jsonl as they "
                        "finish (OUT itself for .jsonl), so an interrupted sweep keeps its finished rows")
    s.add_argument("--resume", action="store_true",
                   help="continue the sweep whose rows are in the .rows.jsonl file: configurations already "
                        "finished are not run again")
    s.add_argument("--max-retries", type=int, default=3,
                   help="reruns of a task whose worker process died (default 3)")
    s.add_argument("--backend", choices=["local", "dask", "ray"], default="local")
    s.add_argument("--scheduler", default=None, help="Dask scheduler address tcp://host:port (backend dask)")
    s.add_argument("--n-jobs", type=int, default=None, help="worker processes (default: all cores)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.add_argument("--errors", choices=["raise", "record"], default="raise")

    sub.add_parser("info", help="versions, thread settings and optional dependencies")
    return p


def _load_grid(text: str) -> Any:
    if os.path.exists(text):
        with open(text) as fh:
            text = fh.read()
    try:
        grid = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"kktunlearn sweep: --grid is neither a JSON object nor a JSON file: {exc}")
    if not isinstance(grid, (dict, list)):
        raise SystemExit("kktunlearn sweep: --grid must be a JSON object (or a list of objects)")
    return grid


def _check_out(out: str) -> str:
    """The JSON-lines file the rows stream into, after checking that `out` can be written."""
    out = os.fspath(out)
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"--out {out}: the folder {folder} does not exist")
    if os.path.isdir(out):
        raise IsADirectoryError(f"--out {out} is a directory; give a file name such as results.parquet")
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"--out {out}: the folder {folder} is not writable")
    if out.endswith((".jsonl", ".ndjson")):
        return out
    return os.path.splitext(out)[0] + ".rows.jsonl"

def _dispatch_report() -> List[str]:
    """Lines of _dispatch's report of the CPU build choice (which one was loaded, why the others were
    skipped), when this version of _dispatch provides one."""
    from . import _dispatch

    rep = getattr(_dispatch, "report", None)
    if callable(rep):
        rep = rep()
    if rep is None:
        return []
    if isinstance(rep, str):
        return rep.splitlines()
    if isinstance(rep, dict):
        return [f"{k}: {v}" for k, v in rep.items()]
    return [str(x) for x in rep]


def _info() -> int:
    import importlib
    import platform

    import numpy as np

    from . import __version__, _core, cpu_variant
    from .sweep import git_revision

    try:  # written by CMakeLists.txt into installed builds (absent in a dev build)
        BUILD_INFO: Dict[str, Any] = importlib.import_module(f"{__package__}._build_info").BUILD_INFO
    except ImportError:
        BUILD_INFO = {}
    checkout = git_revision()
    built = BUILD_INFO.get("git_revision")
    rev = checkout or built or "n/a"
    extra = f", built from {built}" if checkout and built and built != checkout else ""
    print(f"kktunlearn {__version__} (git {rev}{extra})")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()} "
          f"{platform.system()}, cores {os.cpu_count()}")
    print(f"CPU build: {cpu_variant} (module {getattr(_core, 'variant', _core.__name__)}; override with "
          f"KKTUNLEARN_DISPATCH=baseline|avx2|avx512)")
    for line in _dispatch_report():
        print(f"  {line}")
    if BUILD_INFO:
        print(f"  built with {BUILD_INFO.get('compiler', '?')}, variants {BUILD_INFO.get('variants', '?')}, "
              f"LTO {BUILD_INFO.get('lto', '?')}")
    print(f"OpenMP: {'on' if getattr(_core, 'have_openmp', False) else 'off (serial build)'}")
    print(f"threads: n_threads=None uses {_core.max_threads(0)} (OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}, OMP_WAIT_POLICY="
          f"{os.environ.get('OMP_WAIT_POLICY', 'unset')})")
    if getattr(_core, "with_testing", False):
        print("test-only bindings: compiled in (_core._testing; a test build, not a release wheel)")
    for mod in ("scipy", "pandas", "pyarrow", "joblib", "matplotlib", "tqdm", "distributed", "ray", "sklearn"):
        try:
            m = importlib.import_module(mod)
            print(f"  {mod:<11} {getattr(m, '__version__', 'installed')}")
        except ImportError:
            print(f"  {mod:<11} not installed")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from .sweep import SweepError

    try:
        return _run(args)
    except (SweepError, ValueError, TypeError, ImportError, OSError) as exc:
        msg = str(exc)
        if isinstance(exc, FileExistsError):
            msg += " (on the command line: --resume)"
        print(f"kktunlearn {args.command}: error: {msg}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "info":
        return _info()
    if args.command == "reproduce":
        from .reproduce import REPRODUCTIONS

        names = sorted(REPRODUCTIONS) if args.name == "all" else [args.name]
        for name in names:
            res = REPRODUCTIONS[name](quick=args.quick, out=args.out, n_jobs=args.n_jobs, backend=args.backend,
                                      progress=args.progress)
            if res.figure_path:
                print(f"figure: {os.path.abspath(res.figure_path)}")
        return 0
    if args.command == "sweep":
        from .sweep import save, sweep

        grid = _load_grid(args.grid)
        journal = _check_out(args.out)  # before any work: a bad path must not cost a whole sweep
        df = sweep(grid, backend=args.backend, n_jobs=args.n_jobs, progress=not args.no_progress,
                   scheduler=args.scheduler, errors=args.errors, max_retries=args.max_retries, out=journal,
                   resume=args.resume)
        if journal == os.fspath(args.out):
            print(f"{len(df)} rows -> {journal}")
            return 0
        path = save(df, args.out)
        print(f"{len(df)} rows -> {path} (streamed rows: {journal})")
        return 0
    return 2  # pragma: no cover - argparse enforces the choices


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

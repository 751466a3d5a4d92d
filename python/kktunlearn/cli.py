"""The ``kktunlearn`` command: ``reproduce``, ``sweep`` and ``info``.

    kktunlearn --version
    kktunlearn reproduce fig1 --quick              # GA paper's Figure 1 in ~30 s, into ./kktunlearn-results
    kktunlearn reproduce all --quick --out results --format pdf
    kktunlearn sweep --grid '{"d": [200, 400], "method": ["ga", "retrain"]}' --out sweep.parquet
    kktunlearn sweep --grid grid.json --backend dask --scheduler tcp://10.0.0.1:8786 --out big.parquet
    kktunlearn sweep --grid grid.json --out big.parquet --resume   # after a crash: only what is missing
    kktunlearn info                                # versions, threads, optional dependencies

Conventions, the same on every subcommand: ``--progress`` / ``--no-progress`` (default: a bar only
when stderr is a terminal); ``-v`` / ``-vv`` / ``-q`` set the level of the diagnostics, which go to
stderr through `logging` (results go to stdout). ``sweep --out`` writes the format of its extension
(``.parquet``, ``.csv``, ``.json``, ``.jsonl``). Exit codes: 0 success, 1 a failure while running
(e.g. a task failed), 2 a usage error found before any work (bad arguments, a grid with an unknown
key or a bad value, an unknown output format), reported in one line without a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any, Dict, List, Optional

__all__ = ["main", "build_parser"]

_log = logging.getLogger("kktunlearn")


class _UsageError(Exception):
    """A bad command line found before any work: one line on stderr, exit code 2."""


def _common_options() -> argparse.ArgumentParser:
    """The options every subcommand has, with the same names and meaning."""
    c = argparse.ArgumentParser(add_help=False)
    c.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show (--progress) or hide (--no-progress) the progress bar; default: shown only when "
                        "stderr is a terminal")
    v = c.add_mutually_exclusive_group()
    v.add_argument("-v", "--verbose", action="count", default=0,
                   help="more diagnostics on stderr (-v: INFO, -vv: DEBUG)")
    v.add_argument("-q", "--quiet", action="store_true", help="errors only on stderr")
    return c


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``kktunlearn`` command.

    Returns
    -------
    argparse.ArgumentParser
        With the subcommands ``reproduce``, ``sweep`` and ``info`` and the global ``--version``.
    """
    from . import __version__
    from .reproduce import FIG_FORMATS, REPRODUCTIONS
    from .sweep import RESULT_FORMATS

    common = _common_options()
    p = argparse.ArgumentParser(prog="kktunlearn", description="Train, unlearn and verify unlearning; "
                                "reproduce the papers' experiments; run parameter sweeps.")
    p.add_argument("--version", action="version", version=f"kktunlearn {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("reproduce", parents=[common],
                       help="reproduce a paper's figure: writes NAME.png (or --format), NAME.csv, NAME.txt, "
                            "prints a table")
    r.add_argument("name", choices=sorted(REPRODUCTIONS) + ["all"], help="which reproduction (or all)")
    r.add_argument("--quick", action="store_true", help="reduced version (well under 2 minutes on 2 cores)")
    r.add_argument("--out", default="kktunlearn-results", help="output folder (default: ./kktunlearn-results)")
    r.add_argument("--format", choices=list(FIG_FORMATS), default="png", dest="fig_format",
                   help="figure file format (default: png)")
    r.add_argument("--n-jobs", type=int, default=None, help="worker processes (default: all cores)")
    r.add_argument("--backend", choices=["local", "dask", "ray"], default="local", help="sweep backend")

    s = sub.add_parser("sweep", parents=[common], help="sweep the default unlearning experiment over a parameter grid")
    s.add_argument("--grid", required=True,
                   help='JSON object of parameter -> list of values, or the path of a JSON file')
    s.add_argument("--out", required=True,
                   help=f"result file; its extension chooses the format ({', '.join(sorted(RESULT_FORMATS))}). "
                        "Rows stream into OUT-STEM.rows.jsonl as they finish (OUT itself for .jsonl), so an "
                        "interrupted sweep keeps its finished rows")
    s.add_argument("--resume", action="store_true",
                   help="continue the sweep whose rows are in the .rows.jsonl file: configurations already "
                        "finished are not run again")
    s.add_argument("--max-retries", type=int, default=3,
                   help="reruns of a task whose worker process died (default 3)")
    s.add_argument("--backend", choices=["local", "dask", "ray"], default="local")
    s.add_argument("--scheduler", default=None,
                   help="address of a running cluster: Dask's tcp://host:port, or Ray's address")
    s.add_argument("--n-jobs", type=int, default=None, help="worker processes (default: all cores)")
    s.add_argument("--errors", choices=["raise", "record"], default="raise",
                   help="a failing task stops the sweep (raise) or becomes a row with an error column (record)")

    sub.add_parser("info", parents=[common], help="versions, thread settings and optional dependencies")
    return p


def _load_grid(text: str) -> Any:
    if os.path.exists(text):
        with open(text) as fh:
            text = fh.read()
    try:
        grid = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _UsageError(f"--grid is neither a JSON object nor a JSON file: {exc}") from None
    if not isinstance(grid, (dict, list)):
        raise _UsageError("--grid must be a JSON object (or a list of objects)")
    return grid


def _check_out(out: str) -> str:
    """The JSON-lines file the rows stream into, after checking that `out` can be written in the
    format of its extension."""
    from .sweep import _parquet_engine, result_format

    out = os.fspath(out)
    try:
        fmt = result_format(out)
    except ValueError as exc:
        raise _UsageError(f"--out {exc}") from None
    if fmt == "parquet" and _parquet_engine() is None:
        raise _UsageError(f"--out {out}: writing Parquet needs pyarrow (pip install pyarrow); or choose a .csv, "
                          ".json or .jsonl file")
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"--out {out}: the folder {folder} does not exist")
    if os.path.isdir(out):
        raise IsADirectoryError(f"--out {out} is a directory; give a file name such as results.parquet")
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"--out {out}: the folder {folder} is not writable")
    if fmt == "jsonl":
        return out
    return os.path.splitext(out)[0] + ".rows.jsonl"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time of each record (it may be replaced after setup)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _setup_logging(verbose: int, quiet: bool) -> None:
    """The ``kktunlearn`` logger's level (-q: ERROR, default WARNING, -v: INFO, -vv: DEBUG), to stderr."""
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    _log.setLevel(level)
    if not any(isinstance(h, _StderrHandler) for h in _log.handlers):
        h = _StderrHandler()
        h.setFormatter(logging.Formatter("kktunlearn: %(levelname)s: %(message)s"))
        _log.addHandler(h)
    _log.propagate = False


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
    print(f"CPU build: {cpu_variant} (dense kernels {_core.kernels()}; override with "
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
    """Run the ``kktunlearn`` command.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code: 0 success, 1 a failure while running, 2 a usage error found before any
        work (argparse's own errors exit with 2 through SystemExit, as usual).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose, args.quiet)
    from .sweep import GridError, SweepError

    try:
        return _run(args)
    except (_UsageError, GridError) as exc:
        print(f"kktunlearn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (SweepError, ValueError, TypeError, ImportError, OSError) as exc:
        msg = str(exc)
        if isinstance(exc, FileExistsError):
            msg += " (on the command line: --resume)"
        _log.debug("traceback of the error below", exc_info=True)
        print(f"kktunlearn {args.command}: error: {msg}", file=sys.stderr)
        return 1


def _progress(args: argparse.Namespace) -> bool:
    from .sweep import auto_progress

    return auto_progress() if args.progress is None else bool(args.progress)


def _run(args: argparse.Namespace) -> int:
    if args.command == "info":
        return _info()
    if args.command == "reproduce":
        from .reproduce import REPRODUCTIONS, run

        names = sorted(REPRODUCTIONS) if args.name == "all" else [args.name]
        for name in names:
            _log.info("reproduce %s (%s) into %s", name, "quick" if args.quick else "full", args.out)
            res = run(name, quick=args.quick, out=args.out, fig_format=args.fig_format, n_jobs=args.n_jobs,
                      backend=args.backend, progress=_progress(args))
            if res.figure_path:
                print(f"figure: {os.path.abspath(res.figure_path)}")
        return 0
    if args.command == "sweep":
        from .sweep import save_results, sweep, validate_grid

        grid = _load_grid(args.grid)
        journal = _check_out(args.out)  # before any work: a bad path must not cost a whole sweep
        n_points = len(validate_grid(grid))  # before any worker starts
        _log.info("sweep: %d grid points on backend %s", n_points, args.backend)
        df = sweep(grid, backend=args.backend, n_jobs=args.n_jobs, progress=_progress(args),
                   scheduler=args.scheduler, errors=args.errors, max_retries=args.max_retries, out=journal,
                   resume=args.resume)
        if journal == os.fspath(args.out):
            print(f"{len(df)} rows -> {journal}")
            return 0
        path = save_results(df, args.out)
        print(f"{len(df)} rows -> {path} (streamed rows: {journal})")
        return 0
    return 2  # pragma: no cover - argparse enforces the choices


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

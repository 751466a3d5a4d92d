"""Parameter sweeps: the Cartesian product of a grid, run in parallel, one tidy DataFrame.

    >>> from kktunlearn.sweep import sweep
    >>> df = sweep({"d": [200, 400], "method": ["ga", "retrain"]})          # doctest: +SKIP

Each grid point is a *task*: `experiment(**params)` returns one row (a dict) or several (a list of
dicts, e.g. one per method). Every row gets every parameter of its task, every metric the experiment
returned, and the provenance columns

    task_id, n_threads (OpenMP threads the kernels were told to use), omp_num_threads (the worker's
    OMP_NUM_THREADS), n_workers (worker processes started for the sweep; None on an external cluster), kktunlearn_version, numpy_version, python_version, git_revision, backend,
    attempt (times the task was started: 1 + deaths of the workers that ran it), pid, hostname,
    task_time (seconds); with out=PATH also config_hash, and a task whose worker died more than
    max_retries times (errors="record") gets error and worker_exit (e.g. "signal SIGSEGV (11)")

Backends (chosen with `backend=`):
  "local"  n_jobs worker processes (default: all cores), each a fresh interpreter (fork + exec, so no
           process forks after OpenMP has started, and the caller's script is never re-imported), one
           OpenMP thread per worker (OMP_NUM_THREADS=1 in the workers and n_threads=1 passed to the
           kernels); n_jobs=1 runs the tasks in this process. The parent knows which task each worker
           runs: a worker that dies (segfault, OOM kill) charges only that task, which is run again on a
           fresh worker up to max_retries times and then fails with the signal that killed it. Ctrl-C
           (or any error) terminates and reaps every worker before the exception propagates.
  "dask"   dask.distributed: a LocalCluster with n_jobs single-threaded worker processes when neither
           `scheduler` ("tcp://host:port") nor `client` is given, else that cluster. At most one task per
           worker thread is out at a time; a task whose worker died is rerun by the scheduler and its
           attempt count read from the scheduler.
  "ray"    plain `ray.remote` tasks (ray.wait gives completion order) on the running Ray instance, on
           the cluster at `scheduler` (Ray's address), or on a local ray.init() with n_jobs * n_threads
           CPUs that the sweep starts and shuts down. Imported only when asked for.

On every backend only infrastructure failures (the worker process or node died) are retried, up to
max_retries times, and counted in `attempt`; an exception of the experiment is reported at once (a
SweepError with its traceback, or an error row with errors="record"), and an exception outside it
(e.g. a task that cannot be unpickled in the worker) is raised as itself.
Results stream back as tasks finish (`iter_sweep` yields them; `sweep(on_result=...)` sees them); a
task whose worker process died is resubmitted (up to `max_retries` times) and every task gives its rows
exactly once. The returned DataFrame is sorted by task_id, so it does not depend on completion order.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import numbers
import os
import pickle
import platform
import socket
import struct
import subprocess
import sys
import time
import traceback
import types
import warnings
from collections import Counter, deque
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["sweep", "iter_sweep", "expand_grid", "validate_grid", "unlearning_experiment", "toy_experiment",
           "save_results", "load_results", "result_format", "DEFAULTS", "NONDETERMINISTIC_COLUMNS",
           "PROVENANCE_COLUMNS", "RESULT_FORMATS", "SweepError", "GridError", "git_revision", "config_hash"]

#: columns that legitimately differ between two runs of the same sweep (timings, processes, backend)
NONDETERMINISTIC_COLUMNS = ("pid", "hostname", "task_time", "wall_time", "fit_time", "retrain_time", "backend",
                            "attempt", "timestamp")

_BACKENDS = ("local", "dask", "ray")

_log = logging.getLogger(__name__)
_log.addHandler(logging.NullHandler())


class SweepError(RuntimeError):
    """A sweep task failed: its experiment raised (the message carries the worker's traceback), or its
    worker process died more than max_retries times, or the cluster could not start."""


# ------------------------------------------------------------------------------------------------ grid
def expand_grid(grid: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]]) -> List[Dict[str, Any]]:
    """The Cartesian product of a grid, as a list of parameter dicts (deterministic order).

    Parameters
    ----------
    grid : dict or list of dict
        ``{"d": [200, 400], "method": ["ga", "retrain"], "n": 20}`` (a scalar or a string counts as
        one value), or a list of such dicts (their products are concatenated, like scikit-learn's
        ParameterGrid). The last key varies fastest.

    Returns
    -------
    list of dict
        One dict per grid point.

    Raises
    ------
    TypeError
        When `grid` is not a dict or a list of dicts, or a key is not a string.
    ValueError
        When a key has no values.
    """
    if isinstance(grid, Mapping):
        grids = [grid]
    elif isinstance(grid, (list, tuple)) and all(isinstance(g, Mapping) for g in grid):
        grids = list(grid)
    else:
        raise TypeError(f"grid must be a dict of parameter -> values (or a list of such dicts), got "
                        f"{type(grid).__name__}")
    out: List[Dict[str, Any]] = []
    for g in grids:
        keys = list(g.keys())
        values = []
        for k in keys:
            if not isinstance(k, str):
                raise TypeError(f"grid keys must be strings, got {k!r}")
            v = g[k]
            if isinstance(v, (str, bytes)) or not isinstance(v, Iterable) or isinstance(v, Mapping):
                v = [v]
            v = list(v)
            if not v:
                raise ValueError(f"grid key {k!r} has no values")
            values.append(v)
        for combo in itertools.product(*values):
            out.append(dict(zip(keys, combo)))
    return out


class GridError(ValueError):
    """A grid that cannot be run: an unknown key or a bad value, found before any worker starts."""


def _is_int(v: Any) -> bool:
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_real(v: Any) -> bool:
    return isinstance(v, (numbers.Real, np.floating, np.integer)) and not isinstance(v, (bool, np.bool_)) \
        and bool(np.isfinite(float(v)))


def _is_bool(v: Any) -> bool:
    return isinstance(v, (bool, np.bool_))


#: the values each key of the default experiment accepts: (test, what it must be)
_DEFAULT_CHECKS: Dict[str, Tuple[Callable[[Any], bool], str]] = {
    "data": (lambda v: v in ("near_orthogonal", "mixture", "correlated", "digits", "breast_cancer"),
             "one of 'near_orthogonal', 'mixture', 'correlated', 'digits', 'breast_cancer'"),
    "n": (lambda v: _is_int(v) and v >= 2, "an integer >= 2"),
    "d": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "seed": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "model": (lambda v: v in ("relu", "linear"), "'relu' or 'linear'"),
    "m": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "train_outer": (_is_bool, "true or false"),
    "leaky_slope": (lambda v: _is_real(v) and 0 <= v < 1, "a number in [0, 1)"),
    "init_scale": (lambda v: _is_real(v) and v >= 0, "a number >= 0"),
    "loss": (lambda v: v in ("exponential", "logistic"), "'exponential' or 'logistic'"),
    "lr": (lambda v: _is_real(v) and v > 0, "a number > 0"),
    "max_iter": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "method": (lambda v: isinstance(v, str) and v in _method_names(), "a method name"),
    "forget": (lambda v: _is_int(v) and v >= 0, "an integer >= 0 (index of a training point)"),
    "n_forget": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "step_scale": (_is_real, "a finite number"),
    "subgradient": (lambda v: v in ("clarke", "autograd"), "'clarke' or 'autograd'"),
    "rho": (lambda v: _is_real(v) and 0 <= v < 1, "a number in [0, 1)"),
    "mu_norm": (lambda v: v is None or (_is_real(v) and v > 0), "null or a number > 0"),
    "label_noise": (lambda v: _is_real(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "n_test": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "clarke_tol": (lambda v: _is_real(v) and v >= 0, "a number >= 0"),
    "relaxed_radius": (lambda v: v == "ga" or (_is_real(v) and v >= 0), "'ga' or a number >= 0"),
    "kkt": (_is_bool, "true or false"),
    "mia": (_is_bool, "true or false"),
}


def _method_names() -> Tuple[str, ...]:
    try:
        from .unlearning import METHODS
    except ImportError:  # pragma: no cover - a build without the unlearning module
        return ("retrain", "original")
    return tuple(METHODS) + ("original",)


def validate_grid(grid: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]],
                  experiment: Optional[Callable] = None) -> List[Dict[str, Any]]:
    """Check a grid before any work starts and return its points (as `expand_grid`).

    For the default experiment (`unlearning_experiment`) every key must be one of `DEFAULTS` (or
    ``opt_<name>``, passed to `unlearn`) and every value of the type and range that key accepts
    (e.g. ``"loss"`` is ``"exponential"`` or ``"logistic"``, ``"n"`` an integer >= 2, ``"method"`` a
    name in `kktunlearn.unlearning.METHODS` or ``"original"``; with ``n_forget == 1``, ``forget``
    must index one of the ``n`` points). For any other experiment the keys must be parameters of its
    signature (unless it takes ``**kwargs``).

    Parameters
    ----------
    grid : dict or list of dict
        Parameter name -> list of values (see `expand_grid`).
    experiment : callable, optional
        The experiment the grid is for; default `unlearning_experiment`.

    Returns
    -------
    list of dict
        The grid's points, in the order `expand_grid` gives.

    Raises
    ------
    GridError
        (a ValueError) naming the first unknown key or bad value, and what it must be.
    TypeError
        When `grid` is not a dict or a list of dicts.
    """
    points = expand_grid(grid)
    if experiment is None or experiment is unlearning_experiment:
        for p in points:
            unknown = sorted(k for k in p if k not in DEFAULTS and not k.startswith("opt_"))
            if unknown:
                raise GridError(f"unknown grid key(s) {unknown} for the default experiment; valid keys: "
                                f"{sorted(DEFAULTS)} (and opt_<name> for method options)")
            for k, v in p.items():
                if k in _DEFAULT_CHECKS:
                    ok, must = _DEFAULT_CHECKS[k]
                    try:
                        good = bool(ok(v))
                    except (TypeError, ValueError):
                        good = False
                    if not good:
                        if k == "method":
                            must = f"one of {sorted(_method_names())}"
                        raise GridError(f"grid key {k!r}: {v!r} is not {must}")
            q = dict(DEFAULTS)
            q.update(p)
            if q["n_forget"] == 1 and not q["forget"] < q["n"]:
                raise GridError(f"grid key 'forget': {q['forget']!r} is not an index of the n = {q['n']} training "
                                "points")
            if q["n_forget"] >= q["n"]:
                raise GridError(f"grid key 'n_forget': {q['n_forget']!r} must be smaller than n = {q['n']}")
        return points
    try:
        sig = inspect.signature(experiment)
    except (TypeError, ValueError):
        return points
    params = sig.parameters
    if any(pp.kind == pp.VAR_KEYWORD for pp in params.values()):
        return points
    names = {n for n, pp in params.items() if pp.kind in (pp.POSITIONAL_OR_KEYWORD, pp.KEYWORD_ONLY)}
    for p in points:
        unknown = sorted(k for k in p if k not in names)
        if unknown:
            raise GridError(f"unknown grid key(s) {unknown}: {_experiment_name(experiment)} takes {sorted(names)}")
    return points


# ------------------------------------------------------------------------------------------ provenance
#: The provenance columns of every sweep row: name -> (type, meaning). "W" marks columns measured in
#: the worker process that ran the task (None on the error row of a task whose worker died, where
#: the parent cannot know them); the others are set by the parent. The README's provenance table is
#: this dict (a test checks that they agree).
PROVENANCE_COLUMNS: Dict[str, Tuple[str, str]] = {
    "task_id": ("int", "index of the grid point, in expand_grid order"),
    "backend": ("str", "local, dask or ray"),
    "n_workers": ("int or None", "worker processes the sweep started; None on a cluster it did not start"),
    "attempt": ("int", "times the task was started: 1 + deaths of the worker processes that ran it"),
    "n_threads": ("int", "OpenMP threads the kernels were told to use (the sweep's n_threads)"),
    "project_git_revision": ("str or None", "HEAD commit of the git repository holding the caller's working "
                             "directory, '+dirty' if tracked files are modified; None outside a repository"),
    "kktunlearn_version": ("str or None", "W: kktunlearn.__version__"),
    "kktunlearn_git_revision": ("str or None", "W: commit of the kktunlearn checkout imported ('+dirty' if "
                                "modified), else the commit an installed build was made from; None if unknown"),
    "python_version": ("str or None", "W: platform.python_version()"),
    "numpy_version": ("str or None", "W: numpy.__version__"),
    "scipy_version": ("str or None", "W: scipy.__version__; None when scipy is not installed"),
    "blas_internal_api": ("str or None", "W: numpy's BLAS as threadpoolctl names it (openblas, mkl, blis, ...); "
                          "None without threadpoolctl"),
    "blas_version": ("str or None", "W: that BLAS's version (threadpoolctl)"),
    "blas_num_threads": ("int or None", "W: that BLAS's thread count when the task ran (threadpoolctl)"),
    "cpu_model": ("str or None", "W: the CPU's model name (/proc/cpuinfo, sysctl on macOS, else "
                  "platform.processor() or platform.machine())"),
    "cpu_variant": ("str or None", "W: the build of the C++ core loaded: baseline, avx2 or avx512 "
                    "(kktunlearn.cpu_variant)"),
    "omp_num_threads": ("str or None", "W: the worker's OMP_NUM_THREADS environment variable"),
    "pid": ("int or None", "W: process id of the worker"),
    "hostname": ("str or None", "W: socket.gethostname() of the worker"),
    "task_time": ("float", "W: seconds the experiment took (NaN when its worker died)"),
    "timestamp": ("str", "UTC time the task finished, ISO 8601 (e.g. 2026-12-02T00:31:05.123+00:00)"),
}

#: provenance measured in the worker (columns marked "W" in PROVENANCE_COLUMNS)
_WORKER_COLUMNS = tuple(k for k, (_t, m) in PROVENANCE_COLUMNS.items() if m.startswith("W: "))


def git_revision(path: Optional[str] = None, timeout: float = 5.0) -> Optional[str]:
    """The HEAD commit of the git repository holding a folder.

    Parameters
    ----------
    path : str, optional
        A folder. Default: this package's folder, and then only when this package's files are
        tracked by that repository (an installed copy inside a user's repository, e.g. in a
        virtual environment there, is not the library's checkout).
    timeout : float
        Seconds allowed for each git call.

    Returns
    -------
    str or None
        The 40-hex-digit commit, with ``"+dirty"`` appended when tracked files are modified; None
        outside a repository, without git, or when git takes longer than `timeout`.
    """
    own = path is None
    path = path or os.path.dirname(os.path.abspath(__file__))
    try:
        if own:
            tracked = subprocess.run(["git", "-C", path, "ls-files", "--error-unmatch", "sweep.py"],
                                     capture_output=True, text=True, timeout=timeout)
            if tracked.returncode != 0:
                return None
        rev = subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=timeout)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", path, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=timeout)
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _library_git_revision() -> Optional[str]:
    rev = git_revision()
    if rev is None:
        try:  # written by CMakeLists.txt into installed builds
            from ._build_info import BUILD_INFO  # type: ignore[import-not-found]
        except ImportError:
            return None
        rev = BUILD_INFO.get("git_revision") or None
    return rev


def _cpu_model() -> Optional[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            fields = dict(line.split(":", 1) for line in fh if ":" in line)
        fields = {k.strip().lower(): v.strip() for k, v in fields.items()}
        for key in ("model name", "hardware", "cpu model", "uarch", "cpu", "model"):
            if fields.get(key):
                return fields[key]
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            r = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                               timeout=2)
            if r.returncode == 0 and r.stdout.strip():
                return r.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or None


_STATIC: Dict[str, Any] = {}


def _static_provenance() -> Dict[str, Any]:
    """What does not change during a worker process's life (computed once per process)."""
    if not _STATIC:
        from . import __version__

        scipy_version: Optional[str] = getattr(sys.modules.get("scipy"), "__version__", None)
        if scipy_version is None:  # without importing scipy into every worker
            try:
                from importlib.metadata import PackageNotFoundError, version
                scipy_version = version("scipy")
            except (ImportError, PackageNotFoundError):
                scipy_version = None
        pkg = sys.modules.get(__package__ or "kktunlearn")
        _STATIC.update(kktunlearn_version=__version__, kktunlearn_git_revision=_library_git_revision(),
                       python_version=platform.python_version(), numpy_version=np.__version__,
                       scipy_version=scipy_version, cpu_model=_cpu_model(),
                       cpu_variant=getattr(pkg, "cpu_variant", None), hostname=socket.gethostname())
    return dict(_STATIC)


def _blas() -> Dict[str, Any]:
    """numpy's BLAS as threadpoolctl sees it (the first BLAS loaded from numpy's folder, else the first)."""
    out: Dict[str, Any] = {"blas_internal_api": None, "blas_version": None, "blas_num_threads": None}
    try:
        from threadpoolctl import threadpool_info
        infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    except Exception:  # not installed, or a library it cannot inspect
        return out
    if infos:
        mine = [i for i in infos if "numpy" in str(i.get("filepath", ""))] or infos
        i = mine[0]
        nt = i.get("num_threads")
        out.update(blas_internal_api=i.get("internal_api"), blas_version=i.get("version"),
                   blas_num_threads=int(nt) if isinstance(nt, numbers.Integral) else None)
    return out


def _worker_provenance() -> Dict[str, Any]:
    info = _static_provenance()
    info.update(_blas())
    info.update(pid=os.getpid(), omp_num_threads=os.environ.get("OMP_NUM_THREADS"))
    return info


def _utc_now() -> str:
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def _sanitize(v: Any) -> Any:
    """Cell values that parquet and CSV both keep: scalars as they are, anything else as its repr."""
    if v is None or isinstance(v, (str, bool, np.bool_)):
        return bool(v) if isinstance(v, np.bool_) else v
    if isinstance(v, (numbers.Integral, np.integer)):
        return int(v)
    if isinstance(v, (numbers.Real, np.floating)):
        return float(v)
    if isinstance(v, (list, tuple, np.ndarray)):
        return repr(np.asarray(v).tolist())
    return repr(v)


# ------------------------------------------------------------------------------------------- execution
def _accepts(fn: Callable, name: str) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return name in sig.parameters or any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())


def _run_task(task: Tuple[int, Dict[str, Any], Callable, int, int]) -> Dict[str, Any]:
    """Executed in a worker: run one grid point and return its rows (never raises for experiment
    errors: they come back as a traceback string so the pool stays healthy)."""
    task_id, params, experiment, n_threads, attempt = task
    t0 = time.perf_counter()
    kwargs = dict(params)
    if _accepts(experiment, "n_threads") and "n_threads" not in kwargs:
        kwargs["n_threads"] = n_threads
    info = _worker_provenance()
    try:
        res = experiment(**kwargs)
    except Exception as exc:  # reported to the parent
        info["timestamp"] = _utc_now()
        return {"task_id": task_id, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(),
                "info": info, "task_time": time.perf_counter() - t0}
    info["timestamp"] = _utc_now()
    rows = [res] if isinstance(res, Mapping) else list(res)
    for r in rows:
        if not isinstance(r, Mapping):
            return {"task_id": task_id, "error": f"TypeError: experiment must return a dict or a list of dicts, "
                    f"got {type(r).__name__}", "traceback": "", "info": info, "task_time": 0.0}
    return {"task_id": task_id, "rows": [dict(r) for r in rows], "info": info,
            "task_time": time.perf_counter() - t0, "n_threads": kwargs.get("n_threads", n_threads)}


def _make_rows(result: Dict[str, Any], params: Dict[str, Any], meta: Dict[str, Any], attempt: int,
               errors: str) -> List[Dict[str, Any]]:
    base = {"task_id": result["task_id"]}
    base.update(params)
    info = result.get("info") or {}
    given = dict(meta)
    given.update({k: info.get(k) for k in _WORKER_COLUMNS})
    given.update({"task_id": result["task_id"], "n_threads": result.get("n_threads", meta.get("n_threads")),
                  "task_time": result["task_time"], "attempt": attempt,
                  "timestamp": info.get("timestamp") or _utc_now()})
    prov = {k: given.get(k) for k in PROVENANCE_COLUMNS if k != "task_id"}
    if "error" in result:
        if errors == "raise":
            raise SweepError(f"task {result['task_id']} with parameters {params} failed: {result['error']}\n"
                             f"--- worker traceback ---\n{result['traceback']}")
        row = dict(base)
        row["error"] = result["error"]
        if "worker_died" in result:
            row["worker_exit"] = result["worker_died"]
        row.update(prov)
        return [{k: _sanitize(v) for k, v in row.items()}]
    rows = []
    for r in result["rows"]:
        row = dict(base)
        row.update(r)
        row.update(prov)
        rows.append({k: _sanitize(v) for k, v in row.items()})
    return rows


# ------------------------------------------------------------------------------ the local process pool
# Each worker is a fresh interpreter (fork + exec: `python -c _BOOT`, so nothing forks after OpenMP has
# started and a script without `if __name__ == "__main__":` is never re-imported). The parent talks to
# it over its stdin/stdout pipes in length-prefixed pickle frames; the worker's own prints go to stderr.
# The parent knows which task each worker runs, so a worker that dies charges exactly that task, with
# its exit code or signal; every other task keeps its attempt count.
_BOOT = (
    "import os, pickle, signal, struct, sys\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"          # Ctrl-C is the parent's to handle
    "fin = os.fdopen(os.dup(0), 'rb', buffering=0); fout = os.fdopen(os.dup(1), 'wb', buffering=0)\n"
    "os.dup2(2, 1); devnull = os.open(os.devnull, os.O_RDONLY); os.dup2(devnull, 0)\n"
    "def rd(n):\n"
    "    b = b''\n"
    "    while len(b) < n:\n"
    "        c = fin.read(n - len(b))\n"
    "        if not c: sys.exit(0)\n"
    "        b += c\n"
    "    return b\n"
    "sys.path[:] = pickle.loads(rd(struct.unpack('<Q', rd(8))[0]))\n"
    "from kktunlearn.sweep import _worker_loop\n"
    "_worker_loop(rd, fout)\n"
)


def _frame(obj: Any) -> bytes:
    b = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return struct.pack("<Q", len(b)) + b


def _worker_loop(rd: Callable[[int], bytes], fout: Any) -> None:
    """Worker side: read a cloudpickled task, run it, write its result; until stdin closes."""
    while True:
        raw = rd(struct.unpack("<Q", rd(8))[0])
        try:
            task = pickle.loads(raw)
        except Exception as exc:  # the task cannot be loaded here (e.g. its experiment's module is missing)
            tb = traceback.format_exc()
            try:
                fout.write(_frame({"fatal": exc, "traceback": tb}))
            except Exception:  # the exception itself does not pickle
                fout.write(_frame({"fatal": None, "error": f"{type(exc).__name__}: {exc}", "traceback": tb}))
            continue
        res = _run_task(task)
        try:
            out = _frame(res)
        except Exception as exc:  # an experiment returned something pickle cannot carry
            out = _frame({"task_id": res["task_id"], "error": f"TypeError: the result cannot be sent back to "
                          f"the parent ({type(exc).__name__}: {exc})", "traceback": "", "info": res["info"],
                          "task_time": res.get("task_time", 0.0)})
        fout.write(out)


def _exit_reason(code: Optional[int]) -> str:
    import signal as _signal

    if code is None:
        return "an unknown cause"
    if code < 0:
        try:
            name = _signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"signal {name} ({-code})"
    return f"exit code {code}"


class _Worker:
    def __init__(self, env: Dict[str, str]):
        self.proc = subprocess.Popen([sys.executable, "-c", _BOOT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     bufsize=0, env=env, close_fds=True)
        self.task: Optional[int] = None
        self.send(list(sys.path))

    def send(self, obj: Any) -> None:
        self.send_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))

    def send_bytes(self, b: bytes) -> None:
        self.proc.stdin.write(struct.pack("<Q", len(b)) + b)

    def read(self) -> Any:
        """The next frame, or None at EOF (the worker died)."""
        def rd(n):
            b = b""
            while len(b) < n:
                c = self.proc.stdout.read(n - len(b))
                if not c:
                    return None
                b += c
            return b

        head = rd(8)
        if head is None:
            return None
        body = rd(struct.unpack("<Q", head)[0])
        return None if body is None else pickle.loads(body)

    def stop(self) -> None:
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


def _stop_workers(workers: List["_Worker"], grace: float = 1.0) -> None:
    """Terminate every worker (SIGTERM, then SIGKILL after `grace` s) and reap it: nothing keeps running."""
    for w in workers:
        if w.proc.poll() is None:
            try:
                w.proc.terminate()
            except OSError:
                pass
    deadline = time.monotonic() + grace
    for w in workers:
        try:
            w.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait()
        w.stop()


def _iter_local(tasks, n_jobs, n_threads, max_retries):
    if n_jobs == 1:  # one worker: run in this process, in order (no pool to start)
        for tid, p, e, nt, _a in tasks:
            yield _run_task((tid, p, e, nt, 1)), 1
        return
    import selectors

    try:  # functions defined in a script or a notebook travel by value
        import cloudpickle as _pickler
    except ImportError:  # pragma: no cover - cloudpickle comes with joblib/dask; else module-level only
        _pickler = pickle

    env = dict(os.environ, OMP_NUM_THREADS=str(n_threads), MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    queue = deque(t[0] for t in tasks)
    by_id = {t[0]: t for t in tasks}
    starts: Counter = Counter()   # times each task was handed to a worker
    idle_deaths = 0
    workers: List[_Worker] = []
    sel = selectors.DefaultSelector()

    _log.info("starting %d local worker processes (OMP_NUM_THREADS=%d)", min(n_jobs, len(queue)), n_threads)

    def spawn() -> _Worker:
        w = _Worker(env)
        workers.append(w)
        sel.register(w.proc.stdout, selectors.EVENT_READ, w)
        return w

    def assign(w: _Worker) -> None:
        tid = queue.popleft()
        t_id, p, e, nt, _a = by_id[tid]
        starts[tid] += 1
        w.task = tid
        try:
            w.send_bytes(_pickler.dumps((t_id, p, e, nt, starts[tid])))
        except (BrokenPipeError, OSError):
            pass  # the worker is gone; its EOF is handled below

    try:
        for _ in range(min(n_jobs, len(queue))):
            spawn()
        for w in list(workers):
            if queue:
                assign(w)
        remaining = len(tasks)
        while remaining:
            for key, _ev in sel.select():
                w = key.data
                msg = w.read()
                if isinstance(msg, dict) and "fatal" in msg:  # a programming error: reported as itself, at once
                    exc = msg["fatal"]
                    if not isinstance(exc, BaseException):
                        exc = SweepError(msg.get("error", "a worker could not load its task"))
                    if hasattr(exc, "add_note"):  # Python >= 3.11
                        exc.add_note(f"(raised in a sweep worker while loading task {w.task}; its traceback:)\n"
                                     f"{msg['traceback']}")
                    raise exc
                if msg is not None:
                    tid, w.task = w.task, None
                    remaining -= 1
                    yield msg, starts[tid]
                    if queue:
                        assign(w)
                    continue
                # EOF: the worker died; charge only the task it was running
                sel.unregister(w.proc.stdout)
                code = w.proc.wait()
                w.stop()
                workers.remove(w)
                tid, w.task = w.task, None
                reason = _exit_reason(code)
                if tid is None:
                    idle_deaths += 1
                    if idle_deaths > max(3, 2 * n_jobs):
                        raise SweepError(f"sweep workers keep dying before running a task ({reason}); "
                                         "see their messages on stderr above")
                elif starts[tid] > max_retries:
                    remaining -= 1
                    yield ({"task_id": tid, "error": f"WorkerDied: the worker process running this task died "
                            f"{starts[tid]} times, last by {reason} (max_retries={max_retries})",
                            "traceback": "", "info": {"pid": w.proc.pid, "hostname": socket.gethostname(),
                                                      "omp_num_threads": str(n_threads)},
                            "task_time": float("nan"), "worker_died": reason}, starts[tid])
                else:
                    _log.warning("task %d: its worker process died (%s); running it again on a fresh worker "
                                 "(attempt %d of %d)", tid, reason, starts[tid] + 1, max_retries + 1)
                    queue.appendleft(tid)  # retried first, on a fresh worker
                if queue:
                    assign(spawn())
    finally:
        sel.close()
        _stop_workers(workers)


def _dask_start_message(exc: BaseException) -> str:
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None)
    where = f" ({script})" if script else ""
    return (f"the Dask LocalCluster could not start its workers ({type(exc).__name__}: {exc or 'no message'}). "
            "Dask starts worker processes with the 'spawn' method, which re-imports the main script"
            f"{where} in every worker; a script that calls sweep(..., backend='dask') at top level then starts "
            "a sweep inside each worker. Put the call under `if __name__ == \"__main__\":`, or use "
            "backend='local' (its workers never re-import the script), or pass scheduler=/client= of a running "
            "cluster.")


def _dask_suspicious(client: Any, keys: List[Any]) -> Dict[Any, int]:
    """How many workers died while running each of `keys` (the scheduler's TaskState.suspicious);
    empty when the scheduler cannot be asked."""
    def probe(dask_scheduler=None, keys=keys):  # travels by value (cloudpickle): the scheduler needs no kktunlearn
        out = {}
        for k in keys:
            ts = dask_scheduler.tasks.get(k)
            if ts is not None:
                out[k] = int(getattr(ts, "suspicious", 0))
        return out

    try:
        return dict(client.run_on_scheduler(probe))
    except Exception as exc:  # pragma: no cover - a scheduler that refuses run_on_scheduler
        _log.debug("could not read the Dask scheduler's death counts: %s", exc)
        return {}


def _iter_dask(tasks, n_jobs, n_threads, max_retries, scheduler, client, errors="raise"):
    """Dask backend: one future per grid point, results in completion order (as_completed).

    A worker that dies while running a task makes the scheduler run it again on another worker (up to
    its `distributed.scheduler.allowed-failures`, set to max_retries on the LocalCluster started
    here); the attempt count is 1 + the deaths the scheduler recorded for the task (plus those of
    earlier submissions when a KilledWorker made us resubmit it). At most one task per worker thread
    is out at a time, so that a worker's death charges only the task it was running (a queued task
    would be charged too). Dask's own `retries` (which rerun tasks that *raise*) are off: an exception
    from outside the experiment is raised as itself."""
    try:
        import dask
        from distributed import Client, LocalCluster, as_completed
        from distributed.scheduler import KilledWorker
    except ImportError as exc:
        raise ImportError("backend='dask' needs dask.distributed: pip install 'kktunlearn[dask]' "
                          "(or pip install 'dask[distributed]')") from exc
    own_cluster = own_client = None
    if client is None:
        if scheduler is not None:
            _log.info("connecting to the Dask scheduler at %s", scheduler)
            client = own_client = Client(scheduler)
        else:
            _log.info("starting a Dask LocalCluster with %d single-threaded workers", n_jobs)
            try:
                # one task at a time per worker (a death then charges only the task that was running)
                with dask.config.set({"distributed.scheduler.allowed-failures": int(max_retries),
                                      "distributed.scheduler.worker-saturation": 1.0}):
                    own_cluster = LocalCluster(n_workers=n_jobs, threads_per_worker=1, processes=True,
                                               dashboard_address=None, silence_logs=40,
                                               env={"OMP_NUM_THREADS": str(n_threads)})
            except Exception as exc:
                raise SweepError(_dask_start_message(exc)) from exc
            client = own_client = Client(own_cluster)
    by_id = {t[0]: t for t in tasks}
    earlier: Counter = Counter()  # deaths charged to a task in its earlier (KilledWorker) submissions
    futs: Dict[Any, int] = {}
    try:
        ac = as_completed()

        def submit(tid: int, attempt: int) -> None:
            t_id, p, e, nt, _a = by_id[tid]
            fut = client.submit(_run_task, (t_id, p, e, nt, attempt), pure=False, retries=0)
            futs[fut] = tid
            ac.add(fut)

        def slots() -> int:  # worker threads of the cluster: at most that many tasks are out at once
            try:
                return max(1, sum(client.nthreads().values()))
            except Exception:  # pragma: no cover - a scheduler that cannot be asked
                return n_jobs

        queue = deque(by_id)
        while queue and len(futs) < slots():
            submit(queue.popleft(), 1)
        for fut in ac:
            tid = futs.pop(fut)
            if queue:  # keep every worker busy with exactly one task
                for _ in range(max(1, slots() - len(futs))):
                    if queue:
                        submit(queue.popleft(), 1)
            died = _dask_suspicious(client, [fut.key]).get(fut.key, 0)
            try:
                res = fut.result()
            except KilledWorker as exc:
                earlier[tid] += int(getattr(exc, "allowed_failures", died)) + 1
                if earlier[tid] <= max_retries:
                    _log.warning("task %d: %d Dask workers died running it; submitting it again", tid, earlier[tid])
                    submit(tid, earlier[tid] + 1)
                    continue
                res = {"task_id": tid, "error": f"WorkerDied: the worker process running this task died "
                       f"{earlier[tid]} times (max_retries={max_retries}): {exc}", "traceback": "",
                       "info": {"pid": None, "hostname": None, "omp_num_threads": None},
                       "task_time": float("nan"), "worker_died": "KilledWorker"}
                yield res, earlier[tid]
                continue
            if died:
                _log.warning("task %d: %d Dask worker(s) died running it before it finished", tid, died)
            yield res, 1 + earlier[tid] + died
    finally:
        for fut in list(futs):
            fut.cancel()
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()


#: Ray exceptions that mean the infrastructure lost the task (its worker process or node died, its
#: result was lost): only these are retried; anything else is a programming error, raised at once
_RAY_DEATHS = ("WorkerCrashedError", "NodeDiedError", "LocalRayletDiedError", "ObjectLostError", "OwnerDiedError",
               "ObjectReconstructionFailedError", "OutOfMemoryError")


def _ray_running() -> bool:
    ray = sys.modules.get("ray")
    return bool(ray is not None and getattr(ray, "is_initialized", lambda: False)())


def _iter_ray(tasks, n_jobs, n_threads, max_retries, address, errors="raise"):
    """Ray backend: one plain `ray.remote` task per grid point (ray.wait for completion order).

    Starts a local Ray instance (ray.init with num_cpus = n_jobs * n_threads) unless Ray is already
    initialized or `address` names a cluster. Ray's own task retries are off (max_retries=0): a task
    whose worker died (WorkerCrashedError and the other exceptions in _RAY_DEATHS) is resubmitted here,
    so the attempt count is exact; any other exception is raised as itself."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError("backend='ray' needs Ray: pip install 'kktunlearn[ray]' (or pip install 'ray>=2.9')"
                          ) from exc
    import ray.exceptions as rex

    deaths = tuple(getattr(rex, n) for n in _RAY_DEATHS if hasattr(rex, n))
    own = False
    if not ray.is_initialized():
        env = {"OMP_NUM_THREADS": str(n_threads), "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        if address is not None:
            _log.info("connecting to the Ray cluster at %s", address)
            ray.init(address=address, runtime_env={"env_vars": env}, logging_level="WARNING")
        else:
            _log.info("starting a local Ray instance with %d CPUs", n_jobs * n_threads)
            ray.init(num_cpus=n_jobs * n_threads, include_dashboard=False, runtime_env={"env_vars": env},
                     logging_level="WARNING")
        own = True
    remote = ray.remote(_run_task).options(num_cpus=n_threads, max_retries=0, retry_exceptions=False)
    by_id = {t[0]: t for t in tasks}
    starts: Counter = Counter()
    refs: Dict[Any, int] = {}

    def submit(tid: int) -> None:
        t_id, p, e, nt, _a = by_id[tid]
        starts[tid] += 1
        refs[remote.remote((t_id, p, e, nt, starts[tid]))] = tid

    try:
        for tid in by_id:
            submit(tid)
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            ref = ready[0]
            tid = refs.pop(ref)
            try:
                res = ray.get(ref)
            except deaths as exc:
                reason = f"{type(exc).__name__} ({str(exc).splitlines()[0] if str(exc) else 'no message'})"
                if starts[tid] > max_retries:
                    yield ({"task_id": tid, "error": f"WorkerDied: the worker process running this task died "
                            f"{starts[tid]} times, last: {reason} (max_retries={max_retries})", "traceback": "",
                            "info": {"pid": None, "hostname": None, "omp_num_threads": str(n_threads)},
                            "task_time": float("nan"), "worker_died": type(exc).__name__}, starts[tid])
                else:
                    _log.warning("task %d: its Ray worker died (%s); running it again (attempt %d of %d)", tid,
                                 reason, starts[tid] + 1, max_retries + 1)
                    submit(tid)
                continue
            except rex.RayTaskError as exc:  # raised outside the experiment (e.g. unpickling it): as itself
                cause = getattr(exc, "cause", None)
                if isinstance(getattr(cause, "client_exc", None), BaseException):  # RaySystemError's own cause
                    cause = cause.client_exc
                if not isinstance(cause, BaseException):
                    raise
                raise cause from exc
            yield res, starts[tid]
    finally:
        for ref in refs:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # pragma: no cover - already finished or Ray shutting down
                pass
        if own:
            ray.shutdown()


def auto_progress() -> bool:
    """Whether a progress bar is wanted when none was asked for or refused: stderr is a terminal, or
    the code runs in a Jupyter kernel (where tqdm draws a widget).

    Returns
    -------
    bool
        True on a terminal or in Jupyter; False when stderr is a file, a pipe or a CI log (a bar
        would fill it with carriage-return lines).
    """
    try:
        if sys.stderr is not None and sys.stderr.isatty():
            return True
    except (AttributeError, ValueError):  # a closed or replaced stream
        pass
    return "ipykernel" in sys.modules


def iter_sweep(grid: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]], experiment: Optional[Callable] = None,
               backend: str = "local", n_jobs: Optional[int] = None, progress: Optional[bool] = None,
               scheduler: Optional[str] = None, client: Any = None, n_threads: int = 1, max_retries: int = 3,
               errors: str = "raise", out: Optional[Any] = None, resume: bool = False,
               _skip: Optional[set] = None) -> Iterator[Dict[str, Any]]:
    """The rows of a sweep, one at a time, in completion order.

    Parameters
    ----------
    grid, experiment, backend, n_jobs, progress, scheduler, client, n_threads, max_retries, errors, out, resume
        As for `sweep`. With `out`, each row is appended to that JSON-lines file before it is
        yielded; with ``resume=True`` configurations whose rows the file already holds are neither
        run nor yielded.

    Yields
    ------
    dict
        One row (parameters, metrics, provenance columns) as soon as its task finished.

    Raises
    ------
    GridError, SweepError, FileExistsError, ValueError, TypeError, ImportError
        As for `sweep`. Closing the generator early stops every worker.
    """
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {list(_BACKENDS)}, got {backend!r}")
    if errors not in ("raise", "record"):
        raise ValueError(f"errors must be 'raise' or 'record', got {errors!r}")
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs < 1):
        raise ValueError(f"n_jobs must be None (all cores) or a positive integer, got {n_jobs!r}")
    if isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral) or n_threads < 1:
        raise ValueError(f"n_threads must be a positive integer, got {n_threads!r}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, numbers.Integral) or max_retries < 0:
        raise ValueError(f"max_retries must be an integer >= 0, got {max_retries!r}")
    if not isinstance(resume, (bool, np.bool_)):
        raise TypeError(f"resume must be True or False, got {resume!r}")
    if resume and out is None:
        raise ValueError("resume=True needs out=PATH (the JSON-lines file of the sweep to continue)")
    if experiment is None:
        experiment = unlearning_experiment
    if not callable(experiment):
        raise TypeError(f"experiment must be callable, got {type(experiment).__name__}")
    points = validate_grid(grid, experiment)  # before any worker starts
    journal = _Journal(out, resume) if out is not None else None  # checked before any work starts
    if journal is not None:
        exp_name = _experiment_name(experiment)
        hashes = [config_hash(p, exp_name) for p in points]
        done_hashes = journal.done_hashes()
        if _skip is not None:
            _skip.update(done_hashes)
    n_jobs = int(n_jobs) if n_jobs is not None else (os.cpu_count() or 1)
    n_jobs = max(1, min(n_jobs, len(points))) if points else 1
    meta: Dict[str, Any] = {"project_git_revision": git_revision(os.getcwd(), timeout=2.0)}
    meta["backend"] = backend
    meta["n_threads"] = int(n_threads)
    external = (backend == "dask" and (client is not None or scheduler is not None)) or (
        backend == "ray" and (scheduler is not None or _ray_running()))
    meta["n_workers"] = None if external else n_jobs
    tasks = [(i, p, experiment, int(n_threads), 1) for i, p in enumerate(points)]
    if journal is not None:
        tasks = [t for t in tasks if hashes[t[0]] not in done_hashes]
    if not tasks:
        if journal is not None:
            journal.close()
        return
    bar = None
    if progress is None:
        progress = auto_progress()
    if progress:
        try:
            from tqdm.auto import tqdm
        except ImportError:  # pragma: no cover - tqdm ships with the experiments extra
            bar = None
        else:
            bar = tqdm(total=len(tasks), desc=f"sweep ({backend})", unit="task")
    if backend == "local":
        it = _iter_local(tasks, n_jobs, n_threads, max_retries)
    elif backend == "dask":
        it = _iter_dask(tasks, n_jobs, n_threads, max_retries, scheduler, client, errors)
    else:
        it = _iter_ray(tasks, n_jobs, n_threads, max_retries, scheduler, errors)
    done = set()
    try:
        for res, attempt in it:
            tid = res["task_id"]
            if tid in done:
                continue
            done.add(tid)
            rows = _make_rows(res, points[tid], meta, attempt, errors)
            if journal is not None:
                for row in rows:
                    row["config_hash"] = hashes[tid]
                journal.write(rows)  # on disk before anyone sees them
            for row in rows:
                yield row
            if bar is not None:
                bar.update(1)
    finally:
        it.close()  # stops the workers at once (Ctrl-C, errors="raise", an abandoned generator)
        if bar is not None:
            bar.close()
        if journal is not None:
            journal.close()
    missing = {t[0] for t in tasks} - done
    if missing:  # pragma: no cover - guarded by the backends
        raise SweepError(f"{len(missing)} tasks returned no result: {sorted(missing)[:10]}")


def sweep(grid: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]], experiment: Optional[Callable] = None,
          backend: str = "local", n_jobs: Optional[int] = None, progress: Optional[bool] = None,
          scheduler: Optional[str] = None, client: Any = None, n_threads: int = 1, max_retries: int = 3,
          errors: str = "raise", on_result: Optional[Callable[[Dict[str, Any]], None]] = None,
          out: Optional[Any] = None, resume: bool = False):
    """Run `experiment` on every point of the Cartesian product of `grid`; one tidy DataFrame.

    Also reachable as ``kktunlearn.sweep(grid, ...)`` (the module is callable).

    Parameters
    ----------
    grid : dict or list of dict
        Parameter -> list of values (see `expand_grid`). For the default experiment
        (`unlearning_experiment`) every key has a default (`DEFAULTS`), e.g.
        ``sweep({"d": [200, 400], "method": ["ga", "retrain"]})``. Checked by `validate_grid`
        before any worker starts.
    experiment : callable, optional
        ``f(**params) -> dict`` or list of dicts (one row each), picklable (a function of a module,
        or of the calling script: those travel by value). If it takes `n_threads` it receives the
        per-worker thread count. Default: `unlearning_experiment`.
    backend : {"local", "dask", "ray"}
        Where the tasks run (see the module docstring).
    n_jobs : int, optional
        Worker processes (default: all cores; the size of the LocalCluster or local Ray instance
        started for the sweep). n_jobs=1 with backend="local" runs in this process.
    progress : bool, optional
        A tqdm bar over tasks. None (default): only when stderr is a terminal or in Jupyter
        (`auto_progress`).
    scheduler : str, optional
        Address of a running cluster: ``"tcp://host:port"`` of a Dask scheduler, or Ray's address
        (``"auto"``, ``"ray://host:10001"``).
    client : distributed.Client, optional
        An existing Dask client to use (left open).
    n_threads : int
        OpenMP threads per task (default 1: the parallelism comes from the processes).
    max_retries : int
        Reruns of a task whose worker process died (segfault, OOM kill, SIGKILL, lost node). Only
        the task that was running in the dead worker is charged; an exception of the experiment is
        never retried.
    errors : {"raise", "record"}
        "raise": the first failing task stops the sweep with a `SweepError` carrying its
        traceback. "record": it becomes a row with the parameters and an ``error`` column (and
        ``worker_exit``, the signal or exit code, when its worker died more than max_retries times).
    on_result : callable, optional
        Called with each row as it arrives (completion order).
    out : str or os.PathLike, optional
        A JSON-lines file (``.jsonl``): each row is appended, flushed and fsync'ed as its task
        finishes, so a crash, a Ctrl-C or a failure under errors="raise" keeps every finished row
        on disk. Rows then get a ``config_hash`` column (`config_hash`). Checked before any work
        (the folder exists, the file is writable and holds no rows unless resume=True). Read it
        back with `load_results`.
    resume : bool
        With `out`: skip every configuration that already has a finished row in the file (rows
        recorded as errors are run again) and return the stored rows with the new ones.

    Returns
    -------
    pandas.DataFrame
        One row per row the experiment returned (per configuration, seed and method for the
        default experiment), sorted by ``task_id``; the parameters, the metrics and the provenance
        columns `PROVENANCE_COLUMNS` (versions, BLAS, CPU model and build, threads, revisions,
        attempt, timestamp).

    Raises
    ------
    GridError
        For an unknown grid key or a bad value (before any work).
    SweepError
        When a task fails under errors="raise" (its experiment raised, or its worker died more
        than max_retries times).
    FileExistsError
        When `out` already holds rows and resume is False.
    ValueError, TypeError
        For bad arguments (backend, n_jobs, n_threads, max_retries, errors, experiment).
    ImportError
        For backend="dask" or "ray" when that package is not installed.

    Examples
    --------
    >>> import kktunlearn as kk
    >>> df = kk.sweep({"d": [200, 400], "method": ["ga", "retrain"]})  # doctest: +SKIP
    >>> df[["d", "method", "epsilon", "cos_to_retrained", "cpu_variant"]]  # doctest: +SKIP
    """
    import pandas as pd

    rows = []
    skipped: set = set()
    for row in iter_sweep(grid, experiment=experiment, backend=backend, n_jobs=n_jobs, progress=progress,
                          scheduler=scheduler, client=client, n_threads=n_threads, max_retries=max_retries,
                          errors=errors, out=out, resume=resume, _skip=skipped):
        rows.append(row)
        if on_result is not None:
            on_result(row)
    if out is not None and resume and skipped:
        # the rows of the configurations done in earlier runs, renumbered by this grid's task ids
        exp_name = _experiment_name(experiment if experiment is not None else unlearning_experiment)
        ids = {config_hash(p, exp_name): i for i, p in enumerate(expand_grid(grid))}
        for r in _Journal.read(out):
            h = r.get("config_hash")
            if h in skipped and h in ids and not _is_error_row(r):
                r = dict(r)
                r["task_id"] = ids[h]
                rows.append(r)
    order = sorted(range(len(rows)), key=lambda i: (rows[i]["task_id"], i))
    # keep the row order inside a task (experiments returning several rows)
    rows = [rows[i] for i in order]
    df = pd.DataFrame(rows)
    if len(df):
        df = df.reset_index(drop=True)
    return df


# ------------------------------------------------------------------------------------ streamed results
def _experiment_name(experiment: Callable) -> str:
    return f"{getattr(experiment, '__module__', '?')}.{getattr(experiment, '__qualname__', repr(experiment))}"


def config_hash(params: Mapping[str, Any], experiment: str = "") -> str:
    """The key of one configuration in a resumable sweep.

    Parameters
    ----------
    params : mapping
        The task's parameters.
    experiment : str
        The experiment's name (module and qualified name).

    Returns
    -------
    str
        The first 16 hex digits of the SHA-256 of ``json.dumps({"experiment": experiment,
        "params": params}, sort_keys=True)`` (values as the sweep's DataFrame stores them).
    """
    import hashlib
    import json

    body = {"experiment": experiment, "params": {str(k): _sanitize(v) for k, v in params.items()}}
    return hashlib.sha256(json.dumps(body, sort_keys=True, allow_nan=True).encode("utf-8")).hexdigest()[:16]


def _is_error_row(r: Mapping[str, Any]) -> bool:
    e = r.get("error")
    return e is not None and not (isinstance(e, float) and e != e)


class _Journal:
    """The append-only JSON-lines file of `sweep(out=...)`: one JSON object per row, each line
    written whole and flushed (and the file fsync'ed after every task)."""

    def __init__(self, path: Any, resume: bool):
        if hasattr(path, "write"):
            raise TypeError("out must be a file path (the JSON-lines file is reopened on resume), not a file object")
        self.path = os.fspath(path)
        if self.path.lower().endswith((".parquet", ".pq", ".csv")):
            raise ValueError(f"out={self.path!r}: sweep(out=...) streams rows as JSON lines; give a .jsonl path and "
                             "write the final table with kktunlearn.save_results(df, 'results.parquet')")
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"out={self.path!r}: the folder {folder!r} does not exist")
        if os.path.isdir(self.path):
            raise IsADirectoryError(f"out={self.path!r} is a directory; give a file name such as results.jsonl")
        exists = os.path.exists(self.path) and os.path.getsize(self.path) > 0
        if exists and not resume:
            raise FileExistsError(f"out={self.path!r} already holds rows; pass resume=True to continue that sweep "
                                  "(finished configurations are skipped) or choose another file")
        try:
            self.fh = open(self.path, "a+b")
        except OSError as exc:
            raise OSError(f"out={self.path!r} cannot be opened for writing: {exc}") from exc
        if exists:  # a line cut short by a crash must not swallow the next row
            self.fh.seek(0, os.SEEK_END)
            if self.fh.tell():
                self.fh.seek(-1, os.SEEK_END)
                if self.fh.read(1) != b"\n":
                    self.fh.write(b"\n")
        self.resume = resume

    def done_hashes(self) -> set:
        if not self.resume:
            return set()
        return {r["config_hash"] for r in self.read(self.path) if "config_hash" in r and not _is_error_row(r)}

    def write(self, rows: List[Dict[str, Any]]) -> None:
        import json

        data = b"".join(json.dumps(r, allow_nan=True, default=repr).encode("utf-8") + b"\n" for r in rows)
        self.fh.write(data)
        self.fh.flush()
        try:
            os.fsync(self.fh.fileno())
        except OSError:  # pragma: no cover - file systems without fsync
            pass

    def close(self) -> None:
        if not self.fh.closed:
            self.fh.close()

    @staticmethod
    def read(path: Any) -> List[Dict[str, Any]]:
        """Every complete row of a JSON-lines sweep file (a line cut short by a crash is skipped with a
        warning)."""
        import json

        rows = []
        bad = 0
        with open(os.fspath(path), "rb") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    r = json.loads(line)
                except ValueError:
                    bad += 1
                    continue
                if isinstance(r, dict):
                    rows.append(r)
                else:
                    bad += 1
        if bad:
            warnings.warn(f"{os.fspath(path)}: skipped {bad} incomplete line(s) (a row being written when the sweep "
                          "was killed); their configurations are run again on resume", UserWarning, stacklevel=3)
        return rows


# ------------------------------------------------------------------------------------------ save / load
#: result file formats by extension (save_results / load_results / `kktunlearn sweep --out`)
RESULT_FORMATS: Dict[str, str] = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".json": "json",
                                  ".jsonl": "jsonl", ".ndjson": "jsonl"}


def result_format(path: Any) -> str:
    """The format a sweep result file is written in, from its extension.

    Parameters
    ----------
    path : str or os.PathLike
        A file name.

    Returns
    -------
    str
        ``"parquet"`` (``.parquet``, ``.pq``), ``"csv"``, ``"json"`` (one JSON array of records) or
        ``"jsonl"`` (``.jsonl``, ``.ndjson``: one JSON object per line).

    Raises
    ------
    ValueError
        For any other extension (nothing is guessed).
    """
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in RESULT_FORMATS:
        raise ValueError(f"{os.fspath(path)!r}: unknown result format {ext or '(no extension)'!r}; use one of "
                         f"{', '.join(sorted(RESULT_FORMATS))}")
    return RESULT_FORMATS[ext]


def _parquet_engine() -> Optional[str]:
    import importlib.util

    for mod in ("pyarrow", "fastparquet"):
        if importlib.util.find_spec(mod) is not None:
            return mod
    return None


def save_results(df: Any, path: Any) -> str:
    """Write a sweep's DataFrame in the format of the file's extension.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows of `sweep` (or any DataFrame).
    path : str or os.PathLike
        Destination; its extension chooses the format (see `result_format`): ``.parquet`` / ``.pq``
        (needs pyarrow or fastparquet), ``.csv``, ``.json`` (an array of records, NaN as null) or
        ``.jsonl`` / ``.ndjson`` (one record per line).

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ValueError
        For an unknown extension.
    ImportError
        For Parquet without a Parquet engine (nothing is written in another format instead).
    """
    path = os.fspath(path)
    fmt = result_format(path)
    if fmt == "parquet":
        if _parquet_engine() is None:
            raise ImportError(f"{path!r}: writing Parquet needs pyarrow (pip install pyarrow) or fastparquet; or "
                              "choose a .csv, .json or .jsonl file")
        df.to_parquet(path, index=False)
    elif fmt == "csv":
        df.to_csv(path, index=False)
    else:  # JSON by the json module: every float round-trips exactly (pandas' to_json keeps 10 digits)
        import json

        def cell(v: Any) -> Any:
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float) and v != v:
                return None
            return v

        recs = [{str(k): cell(v) for k, v in r.items()} for r in df.to_dict(orient="records")]
        with open(path, "w", encoding="utf-8") as fh:
            if fmt == "json":
                json.dump(recs, fh, indent=1, default=repr, allow_nan=True)
                fh.write("\n")
            else:
                for r in recs:
                    fh.write(json.dumps(r, default=repr, allow_nan=True) + "\n")
    return path


def load_results(path: Any):
    """Read a sweep's results: a file of `save_results`, or the JSON-lines file of ``sweep(out=...)``.

    Parameters
    ----------
    path : str or os.PathLike
        ``.parquet`` / ``.pq``, ``.csv``, ``.json`` or ``.jsonl`` / ``.ndjson``. In a JSON-lines file
        a line cut short by a crash is skipped with a warning, and a configuration recorded both as
        an error and, after a resume, as finished keeps only its finished rows. A ``.parquet`` path
        that does not exist is read from the ``.csv`` next to it, if any (files of older versions).

    Returns
    -------
    pandas.DataFrame
        One row per stored row.

    Raises
    ------
    ValueError
        For an unknown extension.
    FileNotFoundError
        When the file does not exist.
    """
    import json

    import pandas as pd

    path = os.fspath(path)
    fmt = result_format(path)
    if fmt == "jsonl":
        rows = _Journal.read(path)
        ok = {r.get("config_hash") for r in rows if not _is_error_row(r)}
        rows = [r for r in rows if not (_is_error_row(r) and r.get("config_hash") in ok)]
        return pd.DataFrame(rows)
    if fmt == "csv":
        return pd.read_csv(path)
    if fmt == "json":
        with open(path, encoding="utf-8") as fh:
            return pd.DataFrame(json.load(fh))  # no dtype guessing on strings (unlike read_json)
    if not os.path.exists(path):
        alt = os.path.splitext(path)[0] + ".csv"
        if os.path.exists(alt):
            return pd.read_csv(alt)
        raise FileNotFoundError(path)
    return pd.read_parquet(path)


_RENAMED = {"load": "load_results", "save": "save_results"}


def __getattr__(name: str) -> Any:  # PEP 562: the old spellings, with a DeprecationWarning
    if name in _RENAMED:
        new = _RENAMED[name]
        warnings.warn(f"kktunlearn.sweep.{name} is deprecated and will be removed; use kktunlearn.{new} "
                      "(kktunlearn.load reads model files)", DeprecationWarning, stacklevel=2)
        return globals()[new]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ------------------------------------------------------------------------------------------- experiments
def toy_experiment(a: float = 1.0, b: float = 0.0, seed: int = 0, crash_once: Optional[str] = None,
                   fail: bool = False, n_threads: int = 1, crash_signal: Optional[int] = None) -> Dict[str, Any]:
    """A cheap deterministic experiment for testing sweeps: ``value = a * b + noise(seed)``.

    Parameters
    ----------
    a, b : float
        The two factors.
    seed : int
        Seeds the noise, a standard normal draw of ``numpy.random.default_rng(seed)``.
    crash_once : str, optional
        Path of a marker file; if it does not exist the worker creates it and dies (``os._exit(3)``,
        or the signal `crash_signal`), so the task is run again once.
    fail : bool
        Raise ValueError (a deterministic error of user code).
    n_threads : int
        Accepted (and ignored) like the default experiment's.
    crash_signal : int, optional
        With `crash_once`: the signal the worker sends itself (e.g. ``signal.SIGKILL``) instead of
        exiting.

    Returns
    -------
    dict
        ``{"value": a * b + noise, "noise": noise}``.

    Raises
    ------
    ValueError
        When `fail` is true.
    """
    if crash_once is not None and not os.path.exists(crash_once):
        with open(crash_once, "w") as fh:
            fh.write(str(os.getpid()))
        if crash_signal is not None:
            os.kill(os.getpid(), int(crash_signal))
        os._exit(3)
    if fail:
        raise ValueError("toy_experiment asked to fail")
    rng = np.random.default_rng(seed)
    noise = float(rng.standard_normal())
    return {"value": a * b + noise, "noise": noise}


#: defaults of every key of the default experiment (unlearning_experiment)
DEFAULTS: Dict[str, Any] = {
    "data": "near_orthogonal",   # near_orthogonal | mixture | correlated | digits | breast_cancer
    "n": 20,                     # training points
    "d": 1000,                   # input dimension (ignored by the real data sets)
    "seed": 0,                   # seeds data, initialization and the held-out points
    "model": "relu",             # relu (TwoLayerReLU) | linear (LinearModel)
    "m": 100,                    # width of the network
    "train_outer": False,        # train the output layer too (homogeneity degree 2)
    "leaky_slope": 0.0,          # 0 = ReLU
    "init_scale": 1e-3,          # W(0) ~ N(0, init_scale^2) (linear model: 0, w(0) = 0)
    "loss": "exponential",       # exponential | logistic
    "lr": 0.5,                   # normalized GD: lr_t = lr / L(theta_t)
    "max_iter": 4000,            # training steps (original and retrained model)
    "method": "ga",              # any kktunlearn.unlearn method, or "retrain" / "original"
    "forget": 0,                 # index of the forgotten point (n_forget == 1)
    "n_forget": 1,               # size of the forget set (> 1: random indices from the seed)
    "step_scale": 1.0,           # alpha of Figure 1 (method "ga")
    "subgradient": "clarke",     # GA step: clarke | autograd
    "rho": 0.0,                  # data="correlated": E <x_i, x_j>
    "mu_norm": None,             # data="mixture": ||mu|| (None: d^(-1/4))
    "label_noise": 0.0,          # data="mixture"
    "n_test": 500,               # fresh points: test accuracy and membership-inference held-out set
    "clarke_tol": 1e-3,          # kink tolerance of the literal reading (kktunlearn.kkt.LITERAL_TOL)
    "relaxed_radius": "ga",      # r of the relaxed reading: "ga" = the alpha = 1 GA step's displacement, or a float
    "kkt": True,                 # compute the KKT numbers (three NNLS solves per row)
    "mia": True,                 # membership-inference attacks
}

#: options of the default experiment that go to `unlearn` for the named methods only
_METHOD_KEYS = {"ga": ("step_scale", "subgradient")}

_CACHE: Dict[Any, Any] = {}


def _nbytes(obj: Any) -> int:
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, (tuple, list)):
        return sum(_nbytes(o) for o in obj)
    st = obj.__dict__.get("_span") if hasattr(obj, "__dict__") else None
    if st is None and hasattr(obj, "__dict__"):
        W = obj.__dict__.get("_W_dense")
        return W.nbytes if isinstance(W, np.ndarray) else 0
    return st.nbytes() if st is not None else 0


def _cached(key: Any, build: Callable[[], Any], size: int = 8, max_bytes: int = 256 << 20) -> Any:
    """Per-process memo of data sets, trained models and multipliers shared by consecutive tasks of a
    worker (e.g. a step_scale grid on one model). At most `size` entries; large objects are not kept."""
    if key in _CACHE:
        return _CACHE[key]
    val = build()
    if _nbytes(val) > max_bytes:
        return val
    while len(_CACHE) >= size:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = val
    return val


def _make_model(p: Dict[str, Any], n_threads: int):
    from .models import LinearModel, TwoLayerReLU

    common = dict(loss=p["loss"], lr=p["lr"], max_iter=p["max_iter"], random_state=p["seed"], n_threads=n_threads)
    if p["model"] == "linear":
        return LinearModel(**common)
    if p["model"] == "relu":
        return TwoLayerReLU(width=p["m"], train_outer=p["train_outer"], leaky_slope=p["leaky_slope"],
                            init_scale=p["init_scale"], **common)
    raise ValueError(f"model must be 'relu' or 'linear', got {p['model']!r}")


def unlearning_experiment(n_threads: int = 1, **params: Any) -> Dict[str, Any]:
    """The GA paper's unlearning experiment, one row: train, forget, measure.

    1. data: `data` of size n x d from `seed` (near-orthogonal rows N(0, I/d) by default), plus n_test
       fresh points of the same distribution (held-out set);
    2. the original model (`model`, width m, `loss`, normalized GD for max_iter steps, init from seed);
    3. the retrained model: the same hyper-parameters and initialization, trained on S minus the
       forget set;
    4. the unlearned model: `method` applied with its options (step_scale, subgradient for "ga"; keys
       starting with ``opt_`` go to `kktunlearn.unlearn` without the prefix, for any method).
       method="retrain" is the retrained model itself, method="original" the untouched model (the
       do-nothing baseline). "ga" uses the original model's multipliers
       ``kkt_multipliers(original, X, y, subgradient_tol=clarke_tol)``, computed once per model
       (unless ``opt_multipliers`` or ``opt_multiplier_method`` is given);
    5. every metric of `kktunlearn.metrics.evaluate_unlearning`, plus psi and phi of the data
       (`kktunlearn.datasets.stats`) and the original model's KKT numbers on S (orig_*, literal
       reading).

    The certificate is the same for every method and every step scale: the original model's scale,
    the literal kink tolerance clarke_tol, and ONE relaxed radius r per (original model, forget
    set): relaxed_radius="ga" takes r = `kktunlearn.kkt.ga_radius` (the pre-activation displacement
    of the GA step at alpha = 1, Clarke-consistent, from the original model's multipliers), a float
    fixes it.

    Parameters
    ----------
    n_threads : int
        OpenMP threads of the kernels.
    **params
        Keys of `DEFAULTS` (their defaults fill the rest) and ``opt_<name>`` options of `unlearn`.

    Returns
    -------
    dict
        One row: every parameter, the data's psi and phi, fit/retrain times and warnings, the
        original model's test accuracy and orig_* KKT numbers, and the metrics of
        `kktunlearn.metrics.evaluate_unlearning` (epsilon, delta, tau of the retained set's
        approximate KKT conditions in both Clarke readings, cosine to the retrained model,
        accuracies, membership-inference AUCs, step norm, wall time).

    Raises
    ------
    ValueError
        For an unknown key, an index `forget` outside the training set, or an original model that
        does not fit its training set (raise max_iter or the width m).

    References
    ----------
    Melamed, Yehudai, Vardi, "Provable Unlearning with Gradient Ascent on Two-Layer ReLU Neural
    Networks", arXiv 2510.14844: the one-step gradient ascent of Theorem 4.1 (scaled by the KKT
    multiplier of the forgotten point), the (epsilon, delta, tau)-successful unlearning it
    certifies, and the experiment of Figure 1 (epsilon against the step scale alpha).
    """
    from . import datasets
    from .metrics import evaluate_unlearning, kkt_numbers

    unknown = [k for k in params if k not in DEFAULTS and not k.startswith("opt_")]
    if unknown:
        raise ValueError(f"unknown parameters {unknown} for the default experiment; valid keys: {sorted(DEFAULTS)} "
                         "(and opt_<name> for method options)")
    p = dict(DEFAULTS)
    p.update(params)
    if p["model"] == "linear":
        p["init_scale"] = params.get("init_scale", 0.0)
    method = p["method"]
    data_kw = {k: p[k] for k in ("rho", "mu_norm", "label_noise")}
    data_key = (p["data"], p["n"], p["d"], p["seed"], tuple(sorted(data_kw.items())))

    def build_data():
        X, y, sampler = datasets.make_data(p["data"], n=p["n"], d=p["d"], seed=p["seed"], **data_kw)
        # the held-out set as its generator (a GeneratedRows where the data set has one): span models predict
        # it without materializing it (the same numbers); a primal model gets the array, made once below
        Xt, yt = sampler(p["n_test"], p["seed"] + 1_000_003, lazy=True)
        return X, y, Xt, yt

    X, y, Xt, yt = _cached(("data",) + data_key, build_data)
    n = X.shape[0]
    if p["n_forget"] == 1:
        if not 0 <= int(p["forget"]) < n:
            raise ValueError(f"forget = {p['forget']} is not an index of the {n} training points")
        forget = np.array([int(p["forget"])])
    else:
        forget = np.sort(np.random.default_rng([2, int(p["seed"])]).choice(n, size=int(p["n_forget"]),
                                                                           replace=False))
    model_keys = ("model", "m", "train_outer", "leaky_slope", "init_scale", "loss", "lr", "max_iter")
    model_key = data_key + tuple(p[k] for k in model_keys)

    def fit(Xf, yf):
        mdl = _make_model(p, n_threads)
        if p["model"] == "linear":
            mdl.set_params(init_scale=p["init_scale"])
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            mdl.fit(Xf, yf)
        msg = "; ".join(str(w.message) for w in caught) or None
        return mdl, time.perf_counter() - t0, msg

    original, fit_time, fit_warning = _cached(("orig",) + model_key, lambda: fit(X, y))
    if not float(original.margins(X, y).min()) > 0:
        raise ValueError(f"the original model does not fit its training set ({fit_warning}); unlearning metrics "
                         "need a model that fits S: raise max_iter or the width m")
    if isinstance(Xt, datasets.GeneratedRows) and not original._is_span:
        Xt = np.asarray(Xt)
    keep = np.ones(n, dtype=bool)
    keep[forget] = False

    def multipliers():
        # the original model's KKT multipliers on S (literal Clarke reading, kink tolerance clarke_tol),
        # computed once per model and shared by every GA step and the orig_* numbers
        from .kkt import kkt_multipliers

        return _cached(("mult",) + model_key + (p["clarke_tol"],),
                       lambda: kkt_multipliers(original, X, y, subgradient_tol=p["clarke_tol"], n_threads=n_threads))

    def retrain():
        # a span model retrains in its span: K[keep][:, keep], Z0[keep] and the same W0 (no d per step)
        if not original._is_span:
            return fit(X[keep], y[keep])
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            mdl = original._train_rows(X, y, np.flatnonzero(keep), start="init")
        msg = "; ".join(str(w.message) for w in caught) or None
        return mdl, time.perf_counter() - t0, msg

    retrained, retrain_time, retrain_warning = _cached(("retrain",) + model_key + (tuple(forget.tolist()),),
                                                       retrain)
    if method == "retrain":
        unlearned = retrained
    elif method == "original":
        unlearned = original
    else:
        from .unlearning import unlearn

        opts = {k: p[k] for k in _METHOD_KEYS.get(method, ())}
        opts.update({k[4:]: v for k, v in p.items() if k.startswith("opt_")})
        if method == "ga" and "multipliers" not in opts and "multiplier_method" not in opts:
            opts["multipliers"] = multipliers()
        unlearned = unlearn(original, X, y, forget.tolist(), method=method, **opts)
    row: Dict[str, Any] = dict(p)
    row["forget"] = forget.tolist() if forget.size > 1 else int(forget[0])
    st = datasets.stats(X, n_threads=n_threads)
    row.update({"psi": st.psi, "phi": st.phi, "n_features": X.shape[1], "n_train": n})
    row["fit_time"] = fit_time
    row["retrain_time"] = retrain_time
    row["fit_warning"] = fit_warning
    row["retrain_warning"] = retrain_warning
    row["original_test_acc"] = float(np.mean(original.margins(Xt, yt) > 0))
    if p["kkt"]:
        row.update(_cached(("origkkt",) + model_key + (p["clarke_tol"],),
                           lambda: kkt_numbers(original, X, y, subgradient_tol=p["clarke_tol"], prefix="orig_",
                                               multipliers=multipliers())))
    radius = None
    if p["kkt"]:
        if isinstance(p["relaxed_radius"], str):
            if p["relaxed_radius"] != "ga":
                raise ValueError(f"relaxed_radius must be 'ga' or a number >= 0, got {p['relaxed_radius']!r}")
            from .kkt import ga_radius

            radius = _cached(("radius",) + model_key + (p["clarke_tol"], tuple(forget.tolist())),
                             lambda: ga_radius(original, X, y, forget.tolist(), multipliers=multipliers()))
        else:
            radius = float(p["relaxed_radius"])
    metrics = evaluate_unlearning(original, unlearned, X, y, forget, retrained=retrained, X_test=Xt, y_test=yt,
                                  kkt=p["kkt"], clarke_tol=p["clarke_tol"], mia=p["mia"], seed=p["seed"],
                                  relaxed_radius=radius)
    if method == "retrain":
        metrics["wall_time"] = retrain_time
    row.update(metrics)
    return row


class _CallableModule(types.ModuleType):
    """This module, callable: ``kktunlearn.sweep(grid, ...)`` is ``kktunlearn.sweep.sweep(grid, ...)``."""

    def __call__(self, grid: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]], *args: Any, **kwargs: Any) -> Any:
        return sweep(grid, *args, **kwargs)

    def __reduce__(self) -> Tuple[Any, Tuple[str]]:
        # pickled by name, like a plain module (an experiment of a script that uses kk.sweep travels by value)
        import importlib

        return importlib.import_module, (self.__name__,)


_CallableModule.__call__.__doc__ = sweep.__doc__
sys.modules[__name__].__class__ = _CallableModule

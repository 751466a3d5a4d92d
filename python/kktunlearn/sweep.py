"""Parameter sweeps: the Cartesian product of a grid, run in parallel, one tidy DataFrame.

    >>> from kktunlearn.sweep import sweep
    >>> df = sweep({"d": [200, 400], "method": ["ga", "retrain"]})          # doctest: +SKIP

Each grid point is a *task*: `experiment(**params)` returns one row (a dict) or several (a list of
dicts, e.g. one per method). Every row gets every parameter of its task, every metric the experiment
returned, and the provenance columns

    task_id, n_threads (OpenMP threads the kernels were told to use), omp_num_threads (the worker's
    OMP_NUM_THREADS), n_workers (worker processes started for the sweep; None on an external cluster), kktunlearn_version, numpy_version, python_version, git_revision, backend,
    attempt (1 + number of retries), pid, hostname, task_time (seconds)

Backends (chosen with `backend=`):
  "local"  joblib's loky process pool (fork + exec, so no process forks after OpenMP has started), one
           OpenMP thread per worker (OMP_NUM_THREADS=1 in the workers and n_threads=1 passed to the
           kernels), n_jobs workers (default: all cores); n_jobs=1 runs the tasks in this process.
  "dask"   dask.distributed: a LocalCluster with n_jobs single-threaded worker processes when neither
           `scheduler` ("tcp://host:port") nor `client` is given, else that cluster.
  "ray"    Ray through its joblib backend (ray.util.joblib), imported only when asked for.
Results stream back as tasks finish (`iter_sweep` yields them; `sweep(on_result=...)` sees them); a
task whose worker process died is resubmitted (up to `max_retries` times) and every task gives its rows
exactly once. The returned DataFrame is sorted by task_id, so it does not depend on completion order.
"""

from __future__ import annotations

import inspect
import itertools
import numbers
import os
import platform
import socket
import subprocess
import time
import traceback
import warnings
from collections import Counter
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["sweep", "iter_sweep", "expand_grid", "unlearning_experiment", "toy_experiment", "save", "load",
           "DEFAULTS", "NONDETERMINISTIC_COLUMNS", "SweepError", "git_revision"]

#: columns that legitimately differ between two runs of the same sweep (timings, processes, backend)
NONDETERMINISTIC_COLUMNS = ("pid", "hostname", "task_time", "wall_time", "fit_time", "retrain_time", "backend",
                            "attempt")

_BACKENDS = ("local", "dask", "ray")


class SweepError(RuntimeError):
    """A task failed (its experiment raised, or its worker died more than max_retries times)."""


# ------------------------------------------------------------------------------------------------ grid
def expand_grid(grid: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]]) -> List[Dict[str, Any]]:
    """The Cartesian product of a grid, as a list of parameter dicts (deterministic order).

    grid: {"d": [200, 400], "method": ["ga", "retrain"], "n": 20} (a scalar or a string counts as one
    value) or a list of such dicts (their products are concatenated, like scikit-learn's ParameterGrid).
    The last key varies fastest.
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


# ------------------------------------------------------------------------------------------ provenance
def git_revision(path: Optional[str] = None) -> Optional[str]:
    """HEAD's commit of the git checkout holding `path` (default: this package), '+dirty' if modified;
    None outside a checkout or without git."""
    path = path or os.path.dirname(os.path.abspath(__file__))
    try:
        rev = subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", path, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _versions() -> Dict[str, Any]:
    from . import __version__

    return {"kktunlearn_version": __version__, "numpy_version": np.__version__,
            "python_version": platform.python_version()}


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
    info = {"pid": os.getpid(), "hostname": socket.gethostname(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}
    try:
        res = experiment(**kwargs)
    except Exception as exc:  # reported to the parent
        return {"task_id": task_id, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(),
                "info": info, "task_time": time.perf_counter() - t0}
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
    prov = dict(meta)
    prov.update({"n_threads": result.get("n_threads", meta.get("n_threads")),
                 "omp_num_threads": result["info"].get("omp_num_threads"),
                 "pid": result["info"]["pid"], "hostname": result["info"]["hostname"],
                 "task_time": result["task_time"], "attempt": attempt})
    if "error" in result:
        if errors == "raise":
            raise SweepError(f"task {result['task_id']} with parameters {params} failed: {result['error']}\n"
                             f"--- worker traceback ---\n{result['traceback']}")
        row = dict(base)
        row["error"] = result["error"]
        row.update(prov)
        return [{k: _sanitize(v) for k, v in row.items()}]
    rows = []
    for r in result["rows"]:
        row = dict(base)
        row.update(r)
        row.update(prov)
        rows.append({k: _sanitize(v) for k, v in row.items()})
    return rows


def _iter_local(tasks, n_jobs, n_threads, max_retries):
    from joblib.externals.loky import get_reusable_executor
    from joblib.externals.loky.process_executor import BrokenProcessPool, TerminatedWorkerError
    from concurrent.futures import as_completed

    def executor():
        return get_reusable_executor(max_workers=n_jobs, timeout=30,
                                     env={"OMP_NUM_THREADS": str(n_threads), "MKL_NUM_THREADS": "1",
                                          "OPENBLAS_NUM_THREADS": "1"})

    if n_jobs == 1:  # one worker: run in this process, in order (no pool to start)
        for tid, p, e, nt, _a in tasks:
            yield _run_task((tid, p, e, nt, 1)), 1
        return
    pending = {t[0]: t for t in tasks}
    failures: Counter = Counter()
    while pending:
        ex = executor()
        futs = {ex.submit(_run_task, (tid, p, e, nt, failures[tid] + 1)): tid
                for tid, (tid_, p, e, nt, _a) in pending.items()}
        try:
            for fut in as_completed(futs):
                tid = futs[fut]
                try:
                    res = fut.result()
                except (TerminatedWorkerError, BrokenProcessPool) as exc:
                    failures[tid] += 1
                    if failures[tid] > max_retries:
                        raise SweepError(f"task {tid} with parameters {pending[tid][1]} lost its worker "
                                         f"{failures[tid]} times (max_retries={max_retries}): {exc}") from exc
                    continue
                del pending[tid]
                yield res, failures[tid] + 1
        except BaseException:
            for f in futs:
                f.cancel()
            raise


def _iter_dask(tasks, n_jobs, n_threads, max_retries, scheduler, client):
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise ImportError("backend='dask' needs dask.distributed: pip install 'kktunlearn[dask]' "
                          "(or pip install 'dask[distributed]')") from exc
    own_cluster = own_client = None
    if client is None:
        if scheduler is not None:
            client = own_client = Client(scheduler)
        else:
            own_cluster = LocalCluster(n_workers=n_jobs, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40,
                                       env={"OMP_NUM_THREADS": str(n_threads)})
            client = own_client = Client(own_cluster)
    try:
        futs = {}
        for t in tasks:
            fut = client.submit(_run_task, t, pure=False, retries=max_retries)
            futs[fut] = t[0]
        seen = set()
        for fut in as_completed(list(futs)):
            tid = futs[fut]
            try:
                res = fut.result()
            except Exception as exc:  # KilledWorker after the scheduler's own retries
                raise SweepError(f"task {tid} failed on the Dask cluster: {type(exc).__name__}: {exc}") from exc
            if tid in seen:  # never hand a row twice
                continue
            seen.add(tid)
            yield res, 1
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()


def _iter_ray(tasks, n_jobs, n_threads, max_retries, address):
    try:
        import ray
        from ray.util.joblib import register_ray
    except ImportError as exc:
        raise ImportError("backend='ray' needs Ray: pip install 'kktunlearn[ray]' (or pip install 'ray[default]')"
                          ) from exc
    import joblib

    if address is not None and not ray.is_initialized():
        ray.init(address=address)
    register_ray()
    pending = {t[0]: t for t in tasks}
    failures: Counter = Counter()
    while pending:
        try:
            with joblib.parallel_backend("ray", n_jobs=n_jobs or -1):
                gen = joblib.Parallel(return_as="generator_unordered")(
                    joblib.delayed(_run_task)((tid, p, e, nt, failures[tid] + 1))
                    for tid, (_t, p, e, nt, _a) in list(pending.items()))
                for res in gen:
                    tid = res["task_id"]
                    if tid in pending:
                        del pending[tid]
                        yield res, failures[tid] + 1
        except SweepError:
            raise
        except Exception as exc:  # a lost worker aborts the joblib call: resubmit what is left
            for tid in pending:
                failures[tid] += 1
                if failures[tid] > max_retries:
                    raise SweepError(f"task {tid} failed {failures[tid]} times on Ray: {exc}") from exc


def iter_sweep(grid: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]], experiment: Optional[Callable] = None,
               backend: str = "local", n_jobs: Optional[int] = None, progress: bool = True,
               scheduler: Optional[str] = None, client: Any = None, n_threads: int = 1, max_retries: int = 3,
               errors: str = "raise") -> Iterator[Dict[str, Any]]:
    """Generator of sweep rows in completion order (see `sweep` for the arguments)."""
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
    if experiment is None:
        experiment = unlearning_experiment
    if not callable(experiment):
        raise TypeError(f"experiment must be callable, got {type(experiment).__name__}")
    points = expand_grid(grid)
    n_jobs = int(n_jobs) if n_jobs is not None else (os.cpu_count() or 1)
    n_jobs = max(1, min(n_jobs, len(points))) if points else 1
    meta = dict(_versions())
    meta["git_revision"] = git_revision()
    meta["backend"] = backend
    meta["n_threads"] = int(n_threads)
    meta["n_workers"] = n_jobs if backend != "dask" or (client is None and scheduler is None) else None
    tasks = [(i, p, experiment, int(n_threads), 1) for i, p in enumerate(points)]
    if not tasks:
        return
    bar = None
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
        it = _iter_dask(tasks, n_jobs, n_threads, max_retries, scheduler, client)
    else:
        it = _iter_ray(tasks, n_jobs, n_threads, max_retries, scheduler)
    done = set()
    try:
        for res, attempt in it:
            tid = res["task_id"]
            if tid in done:
                continue
            done.add(tid)
            for row in _make_rows(res, points[tid], meta, attempt, errors):
                yield row
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    missing = set(range(len(tasks))) - done
    if missing:  # pragma: no cover - guarded by the backends
        raise SweepError(f"{len(missing)} tasks returned no result: {sorted(missing)[:10]}")


def sweep(grid: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]], experiment: Optional[Callable] = None,
          backend: str = "local", n_jobs: Optional[int] = None, progress: bool = True,
          scheduler: Optional[str] = None, client: Any = None, n_threads: int = 1, max_retries: int = 3,
          errors: str = "raise", on_result: Optional[Callable[[Dict[str, Any]], None]] = None):
    """Run `experiment` on every point of the Cartesian product of `grid`; a tidy pandas DataFrame.

    grid: dict (or list of dicts) of parameter -> list of values, see expand_grid. For the default
        experiment (unlearning_experiment) every key has a default (see DEFAULTS), e.g.
        sweep({"d": [200, 400], "method": ["ga", "retrain"]}).
    experiment: a picklable (module-level) function f(**params) -> dict or list of dicts. If it has an
        `n_threads` parameter it receives the per-worker thread count.
    backend: "local" (loky processes), "dask" (dask.distributed) or "ray".
    n_jobs: worker processes (default: all cores; for "dask" the LocalCluster size).
    progress: tqdm bar over tasks.
    scheduler: "tcp://host:port" of a running Dask scheduler (backend="dask"), or Ray's address.
    client: an existing dask.distributed.Client to use (not closed afterwards).
    n_threads: OpenMP threads per worker (default 1: parallelism comes from the processes).
    max_retries: resubmissions of a task whose worker died (segfault, OOM kill, lost node).
    errors: "raise" (default: the first failing experiment stops the sweep with its traceback) or
        "record" (a row with the parameters and an `error` column).
    on_result: called with each row as it arrives (streaming, completion order).

    Returns a DataFrame with one row per returned row (per (configuration, seed, method) for the default
    experiment), sorted by task_id, with the provenance columns listed in the module docstring.
    """
    import pandas as pd

    rows = []
    for row in iter_sweep(grid, experiment=experiment, backend=backend, n_jobs=n_jobs, progress=progress,
                          scheduler=scheduler, client=client, n_threads=n_threads, max_retries=max_retries,
                          errors=errors):
        rows.append(row)
        if on_result is not None:
            on_result(row)
    order = sorted(range(len(rows)), key=lambda i: (rows[i]["task_id"], i))
    # keep the row order inside a task (experiments returning several rows)
    rows = [rows[i] for i in order]
    df = pd.DataFrame(rows)
    if len(df):
        df = df.reset_index(drop=True)
    return df


# ------------------------------------------------------------------------------------------ save / load
def save(df: Any, path: str) -> str:
    """Write a sweep DataFrame: parquet (pyarrow or fastparquet) unless `path` ends in .csv or no parquet
    engine is installed, in which case CSV next to it (".csv" suffix). Returns the path written."""
    path = os.fspath(path)
    if not path.endswith(".csv"):
        try:
            df.to_parquet(path, index=False)
            return path
        except ImportError:
            path = os.path.splitext(path)[0] + ".csv"
    df.to_csv(path, index=False)
    return path


def load(path: str):
    """Read a DataFrame written by `save` (parquet, or the CSV fallback when the parquet file is absent)."""
    import pandas as pd

    path = os.fspath(path)
    if path.endswith(".csv"):
        return pd.read_csv(path)
    if not os.path.exists(path):
        alt = os.path.splitext(path)[0] + ".csv"
        if os.path.exists(alt):
            return pd.read_csv(alt)
        raise FileNotFoundError(path)
    return pd.read_parquet(path)


# ------------------------------------------------------------------------------------------- experiments
def toy_experiment(a: float = 1.0, b: float = 0.0, seed: int = 0, crash_once: Optional[str] = None,
                   fail: bool = False, n_threads: int = 1) -> Dict[str, Any]:
    """A cheap deterministic experiment for testing sweeps: value = a * b + noise(seed).

    crash_once: path of a marker file; if it does not exist the worker creates it and dies
    (os._exit), so the task is retried once. fail=True raises ValueError.
    """
    if crash_once is not None and not os.path.exists(crash_once):
        with open(crash_once, "w") as fh:
            fh.write(str(os.getpid()))
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
    3. the retrained model: the same hyper-parameters and initialization, trained on S minus the forget set;
    4. the unlearned model: `method` applied with its options (step_scale, subgradient for "ga"; keys
       starting with "opt_" go to unlearn() without the prefix, for any method). method="retrain" is the
       retrained model itself, method="original" the untouched model (the do-nothing baseline). "ga" uses
       the original model's multipliers kkt_multipliers(original, X, y, subgradient_tol=clarke_tol),
       computed once per model (unless opt_multipliers or opt_multiplier_method is given);
    5. every metric of kktunlearn.metrics.evaluate_unlearning, plus psi and phi of the data
       (kktunlearn.datasets.stats) and the original model's KKT numbers on S (orig_*, literal reading).
    The certificate is the same for every method and every step scale: the original model's scale, the
    literal kink tolerance clarke_tol, and ONE relaxed radius r per (original model, forget set):
    relaxed_radius="ga" takes r = kktunlearn.kkt.ga_radius (the pre-activation displacement of the GA
    step at alpha = 1, Clarke-consistent, from the original model's multipliers), a float fixes it.
    Keys and defaults: DEFAULTS. Unknown keys raise ValueError.
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
        Xt, yt = sampler(p["n_test"], p["seed"] + 1_000_003)
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

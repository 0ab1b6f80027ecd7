"""Local parallel trials: ``KerasNAC(workers=N)`` runs N trials at once in worker processes.

The user's process becomes keras-tuner's gRPC chief on a free loopback port (it serves the
ParetoOracle and runs no trials); N processes ``python -m kerasnac._worker RUN_DIR`` are its
workers, each with ``os.cpu_count() // N`` TensorFlow threads. What a worker needs is written once
into ``RUN_DIR/workers/``: the prepared arrays (``local_data.npz``), a JSON description of the
search (``local_search.json``) and, only when there are any, the pickled callable objectives,
per-trial Keras callbacks and screening/fidelity options (``local_objects.pkl``). That pickle is
signed with HMAC-SHA256 under a random key that only the chief and its workers know (it travels in
the workers' environment, never on disk), and a worker unpickles nothing whose signature does not
match: a file planted or changed in the run folder is refused, never executed. The chief
stops and reaps its workers on every exit path (done, an error, Ctrl-C); a worker whose process
dies has its trial re-queued at once, and the search fails with the workers' log tail when no
worker is left. A worker also exits by itself when the chief's process is gone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pickle  # only for the signed objects blob, see the module docstring
import secrets
import subprocess
import sys
import threading
import time
import types

from . import distributed
from ._io import atomic_write, atomic_write_text, save_npz_atomic
from .errors import ConfigError, KerasNACError

SPEC, DATA, OBJECTS = "local_search.json", "local_data.npz", "local_objects.pkl"
ENV_PARENT = "KERASNAC_PARENT_PID"
ENV_KEY = "KERASNAC_WORKER_KEY"  # hex HMAC key of this run's objects blob (environment only, never on disk)
HOST = "127.0.0.1"  # loopback only: the gRPC channel is not encrypted
STOP_WAIT = 30.0  # s a worker gets to exit by itself after the search is over, before it is terminated


def threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // workers)


# ---------------------------------------------------------------------------------- chief side: checks
def check_workers(workers, strategy: str) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be an integer >= 1 (trials run at once on this machine), got {workers!r}.")
    if workers > 1 and strategy != "evolution":
        raise ConfigError(f"workers={workers} runs evolution trials in parallel; strategy={strategy!r} trains one "
                          "supernet. Use workers=1 with it.")
    if workers > 1 and distributed.role() != "single":
        raise ConfigError(f"workers={workers} starts its own local workers, but {distributed.ENV_IP} is set (a chief/"
                          f"worker search you launch yourself). Unset the KERASTUNER_* variables, or use workers=1.")
    return workers


class _MainRefusingPickler(pickle.Pickler):
    """Refuses what a worker cannot unpickle: functions and classes of ``__main__`` (a notebook or a
    script) and lambdas/local functions (plain pickle refuses those itself)."""

    def reducer_override(self, obj):
        if isinstance(obj, (types.FunctionType, type)) and getattr(obj, "__module__", None) == "__main__":
            raise pickle.PicklingError(f"{getattr(obj, '__qualname__', obj)} is defined in __main__")
        return NotImplemented


def _portable(obj, what: str, workers: int) -> bytes:
    import io

    buf = io.BytesIO()
    try:
        _MainRefusingPickler(buf).dump(obj)
    except Exception as e:  # noqa: BLE001 - pickle raises PicklingError, AttributeError, TypeError
        raise ConfigError(
            f"{what} cannot be sent to the worker processes of workers={workers} ({type(e).__name__}: {e}). Define it "
            "with `def`/`class` at the top level of a .py module the workers can import (not a lambda, a local "
            "function or a notebook cell), or use workers=1.") from None
    return buf.getvalue()


def sign(payload: bytes, key_hex: str) -> bytes:
    """``payload`` prefixed with its HMAC-SHA256 under ``key_hex``."""
    return hmac.new(bytes.fromhex(key_hex), payload, hashlib.sha256).digest() + payload


def verified(blob: bytes, key_hex: str | None) -> bytes:
    """The payload of a :func:`sign`-ed blob, or a ConfigError when the key is missing or the signature differs."""
    if not key_hex:
        raise ConfigError(f"kerasnac._worker: no {ENV_KEY} in the environment; workers are started by "
                          "KerasNAC(workers=N), not by hand (use `kerasnac search` with KERASTUNER_* variables for that).")
    tag, payload = blob[:32], blob[32:]
    if len(blob) < 32 or not hmac.compare_digest(tag, hmac.new(bytes.fromhex(key_hex), payload, hashlib.sha256).digest()):
        raise ConfigError(f"kerasnac._worker: {OBJECTS} was not written by this search's chief (bad signature); "
                          "refusing to load it.")
    return payload


def check_search(nac) -> None:
    """Raise a ConfigError, before any work, for what of ``nac`` cannot cross a process boundary."""
    from . import costs

    n = nac.workers
    for o in nac.objectives:
        if o.fn is not None:
            _portable(o.fn, f"objective {o.name!r} ({getattr(o.fn, '__qualname__', type(o.fn).__name__)})", n)
    used_costs = {o.name for o in nac.objectives} | {c.metric for c in nac.constraints}
    for name in sorted(used_costs & set(costs.available_costs())):
        fn = costs.get_cost(name).fn
        if getattr(fn, "__module__", None) == "__main__":
            raise ConfigError(f"cost {name!r} is registered in __main__ (a notebook cell or a script), which the worker "
                              f"processes of workers={n} do not run. Register it in a .py module (import it before "
                              "KerasNAC), or use workers=1.")
    for btype, module in _block_modules(nac).items():
        if module == "__main__":
            raise ConfigError(f"block {btype!r} is defined in __main__, which the worker processes of workers={n} do not "
                              "run. Define and register it in a .py module, or use workers=1.")
    try:
        json.dumps(nac.cost_options)
    except TypeError as e:
        raise ConfigError(f"cost_options must hold plain values (numbers, strings, lists) with workers={n}: {e}.") from None


def check_search_args(nac, x) -> None:
    """Refuse, before the data are checked, a tf.data input and callbacks that cannot reach the workers."""
    if hasattr(x, "element_spec"):
        raise ConfigError(f"workers={nac.workers} needs numpy arrays (x, y): a tf.data.Dataset cannot be sent to "
                          "worker processes. Pass arrays, or use workers=1.")
    for cb in nac.fit_callbacks:
        _portable(cb, f"the Keras callback {type(cb).__name__} of search(callbacks=...)", nac.workers)


def _block_modules(nac) -> dict:
    """``{block type: module of its class}`` of the blocks of the search space."""
    from .space import get_block

    return {b: type(get_block(b)).__module__ for b in sorted({b for st in nac.space.stages for b in st["blocks"]})}


def _plugin_modules(nac) -> list[str]:
    """Modules outside kerasnac that registered the costs and blocks of this search (a worker imports them)."""
    from . import costs

    mods = {getattr(costs.get_cost(c).fn, "__module__", None) for c in costs.available_costs()}
    mods |= set(_block_modules(nac).values())
    return sorted(m for m in mods if m and m != "__main__" and m.split(".")[0] != "kerasnac")


def write_inputs(nac, data, epochs: int, batch_size: int) -> tuple[str, str]:
    """Write what the workers need into ``RUN_DIR/workers/``; return that folder and the objects' signing key."""
    if not data.has_arrays:
        raise ConfigError(f"workers={nac.workers} needs numpy arrays (x, y): a tf.data.Dataset cannot be sent to "
                          "worker processes. Pass arrays, or use workers=1.")
    folder = os.path.join(nac.run_dir.path, nac.run_dir.WORKERS)
    os.makedirs(folder, exist_ok=True)
    objects = {"objective_fns": {o.name: o.fn for o in nac.objectives if o.fn is not None},
               "callbacks": list(nac.fit_callbacks), "screening": nac.oracle.screening, "fidelity": nac.fidelity}
    blob = _portable(objects, "search(callbacks=...) or an option", nac.workers)
    key = secrets.token_hex(32)  # a new key per search: the workers get it in their environment
    blob = sign(blob, key)
    spec = {"space": nac.space.to_dict(), "objectives": [[o.name, o.direction] for o in nac.objectives],
            "constraints": [str(c) for c in nac.constraints], "cost_options": nac.cost_options, "seed": nac.seed,
            "max_trials": nac.max_trials, "population_size": nac.population_size,
            "max_consecutive_failed_trials": nac.oracle.max_consecutive_failed_trials,
            "directory": os.path.abspath(os.path.dirname(nac.run_dir.path)),
            "project_name": os.path.basename(nac.run_dir.path), "epochs": epochs, "batch_size": batch_size,
            "modules": _plugin_modules(nac), "callbacks": [type(c).__name__ for c in nac.fit_callbacks]}
    save_npz_atomic(os.path.join(folder, DATA), compress=False, x=data.x, y=data.y, x_val=data.x_val, y_val=data.y_val)
    def write_blob(path):
        with open(path, "wb") as f:
            f.write(blob)

    atomic_write(os.path.join(folder, OBJECTS), write_blob)
    atomic_write_text(os.path.join(folder, SPEC), json.dumps(spec, indent=1))
    return folder, key


# ---------------------------------------------------------------------------------- chief side: processes
class LocalWorkers:
    """N worker processes of one run on ``127.0.0.1:port``; :meth:`stop` terminates and reaps them."""

    def __init__(self, nac, folder: str, key: str):
        self.nac, self.folder, self.key, self.n = nac, folder, key, nac.workers
        self.procs: dict[str, subprocess.Popen] = {}
        self._gone: set[str] = set()

    def start(self, port: int) -> None:
        threads = str(threads_per_worker(self.n))
        path = [p for p in sys.path if p and os.path.isdir(p)]  # whatever this process imports, a worker imports
        base = dict(os.environ, KERASTUNER_ORACLE_IP=HOST, KERASTUNER_ORACLE_PORT=str(port),
                    TF_NUM_INTRAOP_THREADS=threads, TF_NUM_INTEROP_THREADS=threads, OMP_NUM_THREADS=threads,
                    PYTHONPATH=os.pathsep.join(path), **{ENV_PARENT: str(os.getpid()), ENV_KEY: self.key})
        base.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        base.setdefault(distributed.ENV_CONNECT, "600")
        for i in range(self.n):
            tid = f"worker{i}"
            log = open(os.path.join(self.folder, f"{tid}.log"), "w")
            try:
                self.procs[tid] = subprocess.Popen([sys.executable, "-m", "kerasnac._worker", self.nac.run_dir.path],
                                                   env=dict(base, KERASTUNER_TUNER_ID=tid), stdout=log,
                                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            finally:
                log.close()  # the child holds its own copy

    def watch(self) -> None:
        """At every chief poll: re-queue at once the trial of a worker whose process died; fail when none is left."""
        for tid, p in self.procs.items():
            if tid not in self._gone and p.poll() is not None:
                self._gone.add(tid)
                if p.returncode != 0:
                    print(f"kerasnac: {tid} (pid {p.pid}) exited with code {p.returncode}; its trial goes back to the "
                          f"queue. Log: {self.log_path(tid)}", file=sys.stderr, flush=True)
                self.nac.oracle.liveness.mark_lost(tid)
        if len(self._gone) == len(self.procs):
            codes = ", ".join(f"{t}: {p.returncode}" for t, p in self.procs.items())
            raise KerasNACError(f"all {self.n} worker processes exited ({codes}) before the search was over. The end of "
                                f"{self.log_path('worker0')}:\n{self.tail('worker0')}")

    def log_path(self, tid: str) -> str:
        return os.path.join(self.folder, f"{tid}.log")

    def tail(self, tid: str, n: int = 3000) -> str:
        try:
            with open(self.log_path(tid), errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return "(no log)"

    def stop(self, wait: float = STOP_WAIT) -> None:
        """Give each worker ``wait`` s to exit, then terminate (SIGTERM) and at last kill it; reap every one."""
        deadline = time.monotonic() + wait
        for p in self.procs.values():
            try:
                p.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def run_chief(nac, data, epochs: int, batch_size: int) -> None:
    """Serve the search on loopback to ``nac.workers`` local worker processes until it is over."""
    pool = LocalWorkers(nac, *write_inputs(nac, data, epochs, batch_size))
    done = False
    try:
        def start(port):  # the first population's exact costs are computed while the workers import TensorFlow
            pool.start(port)
            nac.oracle.prepare_first_population()

        nac.tuner.serve(f"{HOST}:0", on_start=start, watch=pool.watch)
        done = True
    finally:
        pool.stop(STOP_WAIT if done else 0.0)


# ---------------------------------------------------------------------------------- worker side
def _exit_with_parent(parent: int) -> None:
    """A daemon thread: end this worker when the chief's process is gone (no orphan after a kill -9)."""
    def run():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(3)

    threading.Thread(target=run, name="kerasnac-parent-watch", daemon=True).start()


def main(argv=None) -> int:
    """``python -m kerasnac._worker RUN_DIR``: run trials for the chief of that run until it stops."""
    import importlib

    run_dir = (argv if argv is not None else sys.argv[1:])[0]
    if os.environ.get(ENV_PARENT):
        _exit_with_parent(int(os.environ[ENV_PARENT]))
    import numpy as np

    from ._keras import tf

    threads = int(os.environ.get("TF_NUM_INTRAOP_THREADS", "0") or 0)
    if threads:  # before the first op (the variables are read only by TensorFlow's C++ side)
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    folder = os.path.join(run_dir, "workers")
    with open(os.path.join(folder, SPEC)) as f:
        spec = json.load(f)
    for mod in spec["modules"]:
        importlib.import_module(mod)
    with open(os.path.join(folder, OBJECTS), "rb") as f:
        objects = pickle.loads(verified(f.read(), os.environ.get(ENV_KEY)))  # signed by this search's chief
    from .nac import KerasNAC
    from .objectives import Objective
    from .space import SearchSpace

    fns = objects["objective_fns"]
    nac = KerasNAC(SearchSpace.from_dict(spec["space"]), [Objective(n, d, fns.get(n)) for n, d in spec["objectives"]],
                   spec["max_trials"], population_size=spec["population_size"], constraints=spec["constraints"],
                   directory=spec["directory"], project_name=spec["project_name"], seed=spec["seed"],
                   cost_options=spec["cost_options"], max_consecutive_failed_trials=spec["max_consecutive_failed_trials"],
                   screening=objects["screening"] or False, fidelity=objects["fidelity"], baselines=False, verbose=0)
    with np.load(os.path.join(folder, DATA), allow_pickle=False) as d:
        x, y, xv, yv = d["x"], d["y"], d["x_val"], d["y_val"]
    nac.search(x, y, validation_data=(xv, yv), epochs=spec["epochs"], batch_size=spec["batch_size"],
               callbacks=objects["callbacks"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

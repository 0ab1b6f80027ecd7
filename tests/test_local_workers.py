"""``KerasNAC(workers=N)``: N local worker processes on loopback, the user's process as the chief.

The end-to-end runs start real worker processes (TensorFlow start-up is most of their time) and are
marked slow; the refusals of what cannot cross a process boundary run before any process starts.
"""

import json
import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import psutil
import pytest

import kerasnac as kn
from kerasnac import _runconfig
from kerasnac._keras import keras, tf
from kerasnac.errors import ConfigError, KerasNACError

from _search_proc import Crash, Sleep, n_params, small_search, small_space


def children():
    return psutil.Process().children(recursive=True)


def worker_records(project):
    """[(tuner id, record)] of the workers' trial logs."""
    out = []
    folder = os.path.join(project, "workers")
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if name.endswith(".jsonl"):
            with open(os.path.join(folder, name)) as f:
                out += [(name[:-6], json.loads(line)) for line in f if line.strip()]
    return out


def assert_gone(pids):
    alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"worker processes still alive: {alive}"
    assert not children(), children()


@pytest.fixture
def xy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 16)).astype("float32")
    return x, (x[:, 0] + x[:, 1] > 0).astype("int64")


# ---------------------------------------------------------------------------------- refused up front
def test_lambda_objective_is_refused_before_any_process_starts(tmp_path):
    before = children()
    with pytest.raises(ConfigError, match=r"objective 'width'.*<lambda>.*workers=2.*top level of a \.py module"):
        kn.KerasNAC(small_space(), ["val_accuracy", kn.Objective("width", "min", fn=lambda m: m.count_params())],
                    max_trials=4, workers=2, directory=str(tmp_path), verbose=0)
    assert children() == before
    assert not os.path.exists(tmp_path / "kerasnac")  # refused before the run folder was made


def test_notebook_function_and_local_callback_are_refused(tmp_path, xy):
    def params(model):
        return float(model.count_params())

    params.__module__ = "__main__"  # as if defined in a notebook cell
    with pytest.raises(ConfigError, match="objective 'params'.*__main__"):
        kn.KerasNAC(small_space(), ["val_accuracy", params], workers=2, directory=str(tmp_path), verbose=0)

    class Local(keras.callbacks.Callback):
        pass

    nac = kn.KerasNAC(small_space(), ["val_accuracy", "bops"], max_trials=2, workers=2, directory=str(tmp_path),
                      verbose=0, baselines=False)
    with pytest.raises(ConfigError, match="Keras callback Local of search"):
        nac.search(*xy, epochs=1, callbacks=[Local()])
    assert not children()
    assert not os.path.exists(tmp_path / "kerasnac" / "workers")


def test_bad_workers_values_and_tf_data_are_refused(tmp_path, xy):
    for bad in (0, -1, True, 1.5, "2"):
        with pytest.raises(ConfigError, match="workers must be an integer >= 1"):
            kn.KerasNAC(small_space(), workers=bad, directory=str(tmp_path), verbose=0)
    with pytest.raises(ConfigError, match="strategy='gradient'"):
        kn.KerasNAC(small_space(), workers=2, strategy="gradient", directory=str(tmp_path), verbose=0)
    nac = kn.KerasNAC(small_space(), ["val_accuracy", "bops"], max_trials=2, workers=2, directory=str(tmp_path),
                      project_name="tfdata", verbose=0, baselines=False)
    ds = tf.data.Dataset.from_tensor_slices(xy).batch(32)
    with pytest.raises(ConfigError, match="workers=2 needs numpy arrays"):
        nac.search(ds, validation_data=ds, epochs=1)
    assert not children()
    assert not os.path.exists(tmp_path / "tfdata" / "kerasnac.json")  # refused before the run started


def test_workers_is_a_run_config_key():
    assert _runconfig.search_keys()["workers"] == 1


def test_ctrl_c_stops_and_reaps_the_workers(tmp_path, xy):
    """A KeyboardInterrupt in the chief (the user's Ctrl-C) terminates and reaps every worker."""
    # 40 trials: the search is still running when both workers are up (it stops at the Ctrl-C)
    nac = kn.KerasNAC(small_space(), ["val_accuracy", "bops"], max_trials=40, workers=2, directory=str(tmp_path),
                      verbose=0, baselines=False)
    seen = []

    def cmdline(p):  # a child can end between children() and cmdline(): that must not end this thread
        try:
            return " ".join(p.cmdline())
        except psutil.Error:
            return ""

    def interrupt():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(seen) < 2:
            seen[:] = [p.pid for p in children() if "kerasnac._worker" in cmdline(p)]
            time.sleep(0.1)
        import _thread

        _thread.interrupt_main()

    # A user's Ctrl-C reaches Python's own SIGINT handler. A suite started in the background by a
    # non-interactive shell (`bash .ci/run &`) inherits SIGINT ignored, Python then keeps it ignored, and
    # interrupt_main() does nothing: so the test installs the handler a terminal or a notebook has.
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    t = threading.Thread(target=interrupt, daemon=True)
    t.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            nac.search(*xy, epochs=1, batch_size=64)
    finally:
        signal.signal(signal.SIGINT, before)
    t.join()
    assert len(seen) == 2
    assert_gone(seen)


# ---------------------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_two_local_workers_complete_the_search(tmp_path):
    """4 trials on 2 workers, with a callable objective and a Keras callback that cross the process boundary."""
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=5)
    nac = small_search(tmp_path, 4, 3, 1, n=200, workers=2, callbacks=[stop],
                       objectives=("val_accuracy", "bops", kn.Objective("n_params", "min", fn=n_params)))
    project = os.path.join(str(tmp_path), "kerasnac")
    table = pd.read_csv(os.path.join(project, "trials.csv"), dtype={"trial_id": str})
    assert len(table) == 4 and (table["status"] == "COMPLETED").all()
    for col in ("val_accuracy", "bops", "params", "train_seconds", "n_params"):
        assert table[col].notna().all(), col
    assert (table["n_params"] == table["params"]).all()  # the callable objective ran in the workers
    assert list(nac.pareto_front()["trial_id"]) and set(nac.pareto_front()["trial_id"]) <= set(table["trial_id"])
    records = worker_records(project)
    pids = {r["pid"] for _, r in records}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2  # the trials ran in the worker processes
    assert sorted(r["trial_id"] for _, r in records if r["event"] == "ended") == sorted(table["trial_id"])
    with open(os.path.join(project, "workers", "local_search.json")) as f:
        spec = json.load(f)
    assert spec["max_trials"] == 4 and spec["seed"] == 0 and spec["space"] == small_space().to_dict()
    assert spec["callbacks"] == ["EarlyStopping"] and ["n_params", "min"] in spec["objectives"]
    assert_gone(pids)


@pytest.mark.slow
def test_killed_worker_trial_is_rerun_without_waiting_for_the_timeout(tmp_path):
    """A worker killed mid-trial: its trial goes back to the queue at once (not after the 300 s
    worker timeout) and the other worker completes every trial."""
    project = os.path.join(str(tmp_path), "kerasnac")
    killed = []

    def kill_first():
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            started = [(w, r) for w, r in worker_records(project) if r["event"] == "started"]
            if started:
                killed.append(started[0])
                os.kill(started[0][1]["pid"], 9)  # during its trial's 6 s sleep
                return
            time.sleep(0.2)

    t = threading.Thread(target=kill_first, daemon=True)
    t.start()
    start = time.monotonic()
    small_search(tmp_path, 4, 3, 1, n=200, workers=2, callbacks=[Sleep(6)])
    took = time.monotonic() - start
    t.join()
    assert killed, "no worker started a trial"
    (victim, rec) = killed[0]
    table = pd.read_csv(os.path.join(project, "trials.csv"), dtype={"trial_id": str})
    assert len(table) == 4 and (table["status"] == "COMPLETED").all()
    events = [(w, r["trial_id"], r["event"]) for w, r in worker_records(project)]
    assert (victim, rec["trial_id"], "ended") not in events
    assert any(w != victim and t == rec["trial_id"] and e == "ended" for w, t, e in events)  # re-ran elsewhere
    assert took < 300, took
    assert_gone({r["pid"] for _, r in worker_records(project)})


@pytest.mark.slow
def test_search_fails_instead_of_hanging_when_every_worker_dies(tmp_path):
    with pytest.raises(KerasNACError, match=r"all 2 worker processes exited \(worker0: 7, worker1: 7\)"):
        small_search(tmp_path, 4, 3, 1, n=200, workers=2, callbacks=[Crash()])
    assert not children()


CHIEF = """
import sys
sys.path.insert(0, {tests!r})
from _search_proc import small_search
small_search({directory!r}, 4, 3, 1, n=200, workers=2)
"""


@pytest.mark.slow
def test_workers_exit_when_the_chief_is_killed(tmp_path):
    """kill -9 of the user's process (no finally runs): its workers notice and exit by themselves."""
    import subprocess
    import sys

    script = CHIEF.format(tests=os.path.dirname(os.path.abspath(__file__)), directory=str(tmp_path))
    chief = subprocess.Popen([sys.executable, "-c", script], env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, workers = time.monotonic() + 180, []
        while time.monotonic() < deadline and len(workers) < 2 and chief.poll() is None:
            workers = [p for p in psutil.Process(chief.pid).children() if "kerasnac._worker" in " ".join(p.cmdline())]
            time.sleep(0.2)
        assert len(workers) == 2
    finally:
        chief.kill()
        chief.wait()
    gone, alive = psutil.wait_procs(workers, timeout=120)
    for p in alive:
        p.kill()
    assert not alive, f"orphaned workers: {[p.pid for p in alive]}"


def test_tampered_objects_are_refused(tmp_path, monkeypatch):
    """The workers' pickle is signed with a key kept in the environment: a changed or planted file, or a
    worker started without the key, is refused before anything is unpickled."""
    from kerasnac import _worker

    key = "ab" * 32
    blob = _worker.sign(b"payload", key)
    assert _worker.verified(blob, key) == b"payload"
    with pytest.raises(ConfigError, match="bad signature"):
        _worker.verified(blob[:-1] + b"X", key)
    with pytest.raises(ConfigError, match="bad signature"):
        _worker.verified(_worker.sign(b"payload", "cd" * 32), key)
    with pytest.raises(ConfigError, match=_worker.ENV_KEY):
        _worker.verified(blob, None)
    # a worker pointed at a run folder with a planted objects file unpickles nothing
    folder = tmp_path / "run" / "workers"
    folder.mkdir(parents=True)
    (folder / _worker.SPEC).write_text(json.dumps({"modules": []}))
    import pickle

    class Boom:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "executed"),))

    (folder / _worker.OBJECTS).write_bytes(b"\0" * 32 + pickle.dumps(Boom()))
    monkeypatch.setenv(_worker.ENV_KEY, key)
    monkeypatch.delenv(_worker.ENV_PARENT, raising=False)
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    with pytest.raises(ConfigError, match="bad signature"):
        _worker.main([str(tmp_path / "run")])
    assert not (tmp_path / "executed").exists()

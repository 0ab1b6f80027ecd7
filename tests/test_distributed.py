"""Distributed search on keras-tuner's gRPC chief/worker engine, on loopback (127.0.0.1) only.

One chief (holds the ParetoOracle, runs no trials) and two worker processes, each running
``tests/_search_proc.py``. Every process is bounded by a timeout.
"""

import glob
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from kerasnac import _pareto

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "_search_proc.py")
TIMEOUT = 300  # s, for the whole search


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(role_id, directory, max_trials, port, log_dir, **env):
    full = dict(os.environ, KERASTUNER_TUNER_ID=role_id, KERASTUNER_ORACLE_IP="127.0.0.1",
                KERASTUNER_ORACLE_PORT=str(port), KERASNAC_CONNECT_TIMEOUT="120", KERASNAC_HEARTBEAT="1",
                TF_CPP_MIN_LOG_LEVEL="3", **{k: str(v) for k, v in env.items()})
    out = open(os.path.join(log_dir, f"{role_id}.log"), "w")
    return subprocess.Popen([sys.executable, SCRIPT, str(directory), str(max_trials)], env=full, stdout=out,
                            stderr=subprocess.STDOUT, cwd=HERE)


def wait_all(procs, deadline):
    for p in procs:
        p.wait(timeout=max(1, deadline - time.monotonic()))


def stop_all(procs):
    for p in procs:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()


def log_text(log_dir, role_id):
    with open(os.path.join(log_dir, f"{role_id}.log")) as f:
        return f.read()


def trial_files(project):
    """{trial_id: state} read from every trial_*/trial.json (the oracle's own record)."""
    out = {}
    for path in glob.glob(os.path.join(project, "trial_*", "trial.json")):
        with open(path) as f:
            state = json.load(f)
        out[state["trial_id"]] = state
    return out


def last_metric(state, name):
    hist = state["metrics"]["metrics"][name]["observations"]
    value = hist[-1]["value"]
    return float(value[0] if isinstance(value, list) else value)


def front_from_files(states):
    ids = sorted(t for t, s in states.items() if s["status"] == "COMPLETED")
    F = np.array([[-last_metric(states[t], "val_accuracy"), last_metric(states[t], "bops")] for t in ids])
    ranks = _pareto.nondominated_sort(F)
    return {t for t, r in zip(ids, ranks) if r == 0}


def worker_events(project):
    """[(tuner_id, trial_id, event)] from the workers' logs (a killed worker may leave half a line)."""
    events = []
    for path in sorted(glob.glob(os.path.join(project, "workers", "*.jsonl"))):
        tid = os.path.basename(path)[: -len(".jsonl")]
        with open(path) as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                events.append((tid, rec["trial_id"], rec["event"]))
    return events


def test_chief_and_two_workers_complete_every_trial_once(tmp_path):
    max_trials, port, logs = 5, free_port(), tmp_path / "logs"
    logs.mkdir()
    directory = tmp_path / "runs"
    deadline = time.monotonic() + TIMEOUT
    procs = [start("chief", directory, max_trials, port, logs, KERASNAC_WORKER_TIMEOUT=120)]
    procs += [start(w, directory, max_trials, port, logs) for w in ("worker0", "worker1")]
    try:
        wait_all(procs, deadline)
    finally:
        stop_all(procs)
    for p, name in zip(procs, ("chief", "worker0", "worker1")):
        assert p.returncode == 0, log_text(logs, name)[-3000:]
    assert "DONE chief" in log_text(logs, "chief")
    project = str(directory / "p")
    states = trial_files(project)
    assert len(states) == max_trials
    assert all(s["status"] == "COMPLETED" for s in states.values()), {t: s["status"] for t, s in states.items()}
    # the chief's front (its CSV, written from the oracle) equals the front recomputed from the trial files
    chief_front = set(pd.read_csv(os.path.join(project, "pareto_front.csv"), dtype={"trial_id": str})["trial_id"])
    assert chief_front == front_from_files(states)
    table = pd.read_csv(os.path.join(project, "trials.csv"), dtype={"trial_id": str})
    assert len(table) == max_trials and (table["status"] == "COMPLETED").all()
    for col in ("val_accuracy", "bops", "lut", "params", "train_seconds"):  # every objective and cost crossed the wire
        assert table[col].notna().all(), col
    # no trial ran twice; both workers took part; the weights are in the shared directory
    started = [(w, t) for w, t, e in worker_events(project) if e == "started"]
    assert sorted(t for _, t in started) == sorted(states)
    assert {w for w, _ in started} == {"worker0", "worker1"}
    assert all(os.path.isfile(os.path.join(project, f"trial_{t}", "model_weights.h5")) for t in states)


def test_killed_worker_trial_is_rerun(tmp_path):
    max_trials, port, logs = 4, free_port(), tmp_path / "logs"
    logs.mkdir()
    directory = tmp_path / "runs"
    project = str(directory / "p")
    deadline = time.monotonic() + TIMEOUT
    # 20 s: a healthy worker's 1-s heartbeats can stall for several seconds on a loaded 2-core machine
    chief = start("chief", directory, max_trials, port, logs, KERASNAC_WORKER_TIMEOUT=20)
    survivor = start("worker0", directory, max_trials, port, logs)
    victim = start("worker1", directory, max_trials, port, logs, KERASNAC_TEST_SLEEP=60)  # its trial never ends
    procs = [chief, survivor, victim]
    try:
        lost = None
        while lost is None and time.monotonic() < deadline and victim.poll() is None:
            lost = next((t for w, t, e in worker_events(project) if w == "worker1" and e == "started"), None)
            time.sleep(0.2)
        assert lost is not None, log_text(logs, "worker1")[-3000:]
        os.kill(victim.pid, signal.SIGKILL)  # mid-trial: it sleeps 60 s at the end of its training
        victim.wait()
        wait_all([chief, survivor], deadline)
    finally:
        stop_all(procs)
    assert chief.returncode == 0, log_text(logs, "chief")[-3000:]
    assert survivor.returncode == 0, log_text(logs, "worker0")[-3000:]
    states = trial_files(project)
    assert len(states) == max_trials
    assert all(s["status"] == "COMPLETED" for s in states.values()), {t: s["status"] for t, s in states.items()}
    events = worker_events(project)
    assert ("worker1", lost, "ended") not in events
    assert ("worker0", lost, "started") in events and ("worker0", lost, "ended") in events  # the lost trial re-ran
    started = [t for w, t, e in events if e == "started"]
    assert sorted(started) == sorted(list(states) + [lost])  # only the lost trial ran twice
    chief_front = set(pd.read_csv(os.path.join(project, "pareto_front.csv"), dtype={"trial_id": str})["trial_id"])
    assert chief_front == front_from_files(states)

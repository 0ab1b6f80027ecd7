"""Resume after kill -9, atomic result files, state repair, and refusing an incompatible resume.

The loop of >= 5 kills at random points is ``benchmarks/resume_kill_loop.py`` (and the slow test
at the end of this file); the default suite kills one search once, mid-trial.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import kerasnac as kn
from kerasnac import results
from kerasnac._keras import kt
from kerasnac.errors import ConfigError
from kerasnac.oracle import ParetoOracle

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TrialStatus = kt.engine.trial.TrialStatus


def read_states(project):
    out = {}
    for name in os.listdir(project):
        path = os.path.join(project, name, "trial.json")
        if name.startswith("trial_") and os.path.isfile(path):
            with open(path) as f:
                state = json.load(f)
            out[state["trial_id"]] = state
    return out


def metric(state, name):
    value = state["metrics"]["metrics"][name]["observations"][-1]["value"]
    return float(value[0] if isinstance(value, list) else value)


def test_kill9_mid_trial_then_resume(tmp_path):
    """kill -9 while trial 1 trains; the same call resumes, keeps trial 0, re-runs trial 1, ends at max_trials."""
    import _search_proc

    project = str(tmp_path / "p")
    env = dict(os.environ, KERASNAC_TEST_SLEEP="30", TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("KERASTUNER_ORACLE_IP", None)
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "_search_proc.py"), str(tmp_path), "3"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            states = read_states(project) if os.path.isdir(project) else {}
            if states.get("1", {}).get("status") == "RUNNING":
                break
            time.sleep(0.2)
        assert proc.poll() is None and read_states(project)["1"]["status"] == "RUNNING"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    before = read_states(project)
    assert before["0"]["status"] == "COMPLETED" and before["1"]["status"] == "RUNNING"
    acc0 = metric(before["0"], "val_accuracy")

    _search_proc.main(str(tmp_path), 3)  # the same call, overwrite=False
    after = read_states(project)
    assert sorted(after) == ["0", "1", "2"]
    assert all(s["status"] == "COMPLETED" for s in after.values())
    assert metric(after["0"], "val_accuracy") == acc0  # the completed trial was kept, not re-run
    with open(os.path.join(project, "oracle.json")) as f:
        state = json.load(f)
    assert {"n_offspring", "generation", "parent_ids", "baseline_queue", "baselines"} <= set(state)
    assert state["baselines"] == {"0": "tiny"}
    table = pd.read_csv(os.path.join(project, "trials.csv"))
    assert len(table) == 3 and (table["status"] == "COMPLETED").all()


# ----------------------------------------------------------------------------- atomic writes
def test_csv_write_is_atomic(tmp_path, monkeypatch):
    path = str(tmp_path / "trials.csv")
    results.write_csv_atomic(pd.DataFrame({"a": [1, 2]}), path)

    def boom(self, f, **kw):
        f.write("a\n1\n")  # half written, then the process "dies"
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(KeyboardInterrupt):
        results.write_csv_atomic(pd.DataFrame({"a": [7, 8, 9]}), path)
    monkeypatch.undo()
    assert pd.read_csv(path)["a"].tolist() == [1, 2]
    assert os.listdir(tmp_path) == ["trials.csv"]  # no temp file left


def make_oracle(tmp_path, **kw):
    hp = kt.HyperParameters()
    hp.Int("width", 1, 64)
    oracle = ParetoOracle([kt.Objective("f1", "min"), kt.Objective("f2", "min")], hyperparameters=hp,
                          population_size=2, seed=1, **kw)
    oracle._set_project_dir(str(tmp_path), "p")
    oracle.verbose = 0
    return oracle


def finish(oracle, trial, f1=1.0, f2=2.0):
    oracle.update_trial(trial.trial_id, {"f1": f1, "f2": f2})
    trial.status = TrialStatus.COMPLETED
    oracle.end_trial(trial)


def test_oracle_json_write_is_atomic(tmp_path, monkeypatch):
    oracle = make_oracle(tmp_path, max_trials=5)
    finish(oracle, oracle.create_trial("t"))
    path = oracle._get_oracle_fname()
    good = open(path).read()
    monkeypatch.setattr("kerasnac.evolution.robust.json.dumps", lambda obj: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        oracle.save()
    monkeypatch.undo()
    assert open(path).read() == good
    assert not [f for f in os.listdir(os.path.dirname(path)) if f.startswith(".tmp_")]


def test_reload_repairs_kill_between_trial_file_and_oracle_json(tmp_path):
    oracle = make_oracle(tmp_path, max_trials=6)
    finish(oracle, oracle.create_trial("t"))
    t1 = oracle.create_trial("t")
    saved = json.load(open(oracle._get_oracle_fname()))  # oracle.json as of "trial 1 running"
    finish(oracle, t1)
    t2 = oracle.create_trial("t")
    # kill 1: trial 1's file says COMPLETED, oracle.json still lists it as running;
    # kill 2: trial 2's file exists (RUNNING), oracle.json was never written after it was created.
    with open(oracle._get_oracle_fname(), "w") as f:
        json.dump(saved, f)
    again = make_oracle(tmp_path, max_trials=6)
    again.reload()
    assert again.trials["1"].status == TrialStatus.COMPLETED
    assert "1" not in again._retry_queue and "1" in again.end_order  # not re-run
    assert again._retry_queue == [t2.trial_id]  # the orphan runs again
    assert again.create_trial("t").trial_id == t2.trial_id
    assert again._duplicate(t2.hyperparameters.values)


# ----------------------------------------------------------------------------- incompatible resume
def small_space(units=(4, 8, 16)):
    return kn.SearchSpace((16,), [{"mlp": {"units": list(units)}}], num_classes=5)


@pytest.mark.parametrize("change,match", [
    (dict(space=small_space((4, 8, 32))), r"different search space \(its entries \['stages'\] differ\)"),
    (dict(objectives=["val_accuracy", "lut"]), "different objectives"),
    (dict(population_size=7), "different population_size"),
    (dict(seed=3), "different seed"),
])
def test_incompatible_resume_is_refused(tmp_path, change, match):
    base = dict(space=small_space(), objectives=["val_accuracy", "bops"], population_size=4, seed=0)
    x, y = kn.datasets.toy_jets_hlf(200, seed=0)
    # a search exists once it has started (kerasnac.json is written by fit, after the data checks)
    kn.KerasNAC(base.pop("space"), directory=str(tmp_path), project_name="p", verbose=0, max_trials=1,
                baselines=False, **base).fit(x, y, epochs=1, batch_size=64)
    kw = dict(space=small_space(), objectives=["val_accuracy", "bops"], population_size=4, seed=0)
    kw.update(change)
    with pytest.raises(ConfigError, match=match) as err:
        kn.KerasNAC(kw.pop("space"), directory=str(tmp_path), project_name="p", verbose=0, **kw)
    assert "overwrite=True" in str(err.value) and "another project_name" in str(err.value)
    # the same settings, or overwrite=True, are fine
    kn.KerasNAC(small_space(), directory=str(tmp_path), project_name="p", verbose=0, population_size=4)
    kw2 = dict(space=small_space(), objectives=["val_accuracy", "bops"], population_size=4, seed=0)
    kw2.update(change)
    kn.KerasNAC(kw2.pop("space"), directory=str(tmp_path), project_name="p", verbose=0, overwrite=True, **kw2)


def test_default_population_follows_max_trials_and_a_resume_keeps_the_started_one(tmp_path):
    space = small_space()
    pops = {t: kn.KerasNAC(space, max_trials=t, directory=str(tmp_path), project_name=f"t{t}", verbose=0).population_size
            for t in (3, 40, 60, 200)}
    assert pops == {3: 10, 40: 10, 60: 15, 200: 20}
    x, y = kn.datasets.toy_jets_hlf(200, seed=0)
    # a search begun with an explicit population of 4 (say, under an older default) resumes without one
    kn.KerasNAC(space, directory=str(tmp_path), project_name="p", verbose=0, max_trials=1, baselines=False,
                population_size=4).fit(x, y, epochs=1, batch_size=64)
    resumed = kn.KerasNAC(small_space(), directory=str(tmp_path), project_name="p", verbose=0, max_trials=40)
    assert resumed.population_size == resumed.oracle.population_size == 4
    fresh = kn.KerasNAC(small_space(), directory=str(tmp_path), project_name="p", verbose=0, max_trials=40,
                        overwrite=True)
    assert fresh.population_size == 10
    # (an explicit other population is still refused: test_incompatible_resume_is_refused)


def test_search_started_single_is_resumed_as_chief_not_restarted(tmp_path, monkeypatch):
    """keras-tuner reloads only from <tuner id>.json; kerasnac reloads oracle.json whatever the id."""
    nac = kn.KerasNAC(small_space(), directory=str(tmp_path), project_name="p", verbose=0, population_size=4)
    nac.oracle.verbose = 0
    first = nac.oracle.create_trial("tuner0").trial_id
    nac.oracle.save()
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "1")
    chief = kn.KerasNAC(small_space(), directory=str(tmp_path), project_name="p", verbose=0, population_size=4)
    assert chief.role == "chief" and list(chief.oracle.trials) == [first]
    assert chief.oracle._retry_queue == [first]


# ----------------------------------------------------------------------------- >= 5 kills (slow)
@pytest.mark.slow
def test_kill9_loop_loses_no_trial(tmp_path):
    out = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "resume_kill_loop.py"), "--kills", "5",
                          "--max-trials", "10", "--directory", str(tmp_path)], capture_output=True, text=True,
                         timeout=1800)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["kills"] >= 5 and summary["trials_lost"] == 0 and summary["completed"] == 10


# ----------------------------------------------------------------------------- the local stage
@pytest.mark.slow  # test_kill9_mid_trial_then_resume keeps a kill -9 in the default suite
def test_kill9_during_local_stage_then_resume(tmp_path):
    """kill -9 once the local stage has finished its HPO and first QAT variant; the rerun loads the
    finished variants (their files untouched), runs only the missing ones, and the final table is complete."""
    import _search_proc

    final = tmp_path / "p" / "final"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("KERASTUNER_ORACLE_IP", None)
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "_search_proc.py"), str(tmp_path), "local"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = final / "t0_q8-3" / "row.json"
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline and proc.poll() is None and not marker.exists():
            time.sleep(0.02)
        running = proc.poll() is None
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert running and marker.exists(), "the local stage ended before the kill (or kept no row.json)"
    rows = sorted(final.glob("*/row.json"))
    finished = {p.parent.name: (p.stat().st_mtime_ns, (p.parent / "model.keras").stat().st_mtime_ns) for p in rows}
    assert {"t0_global", "t0_hpo", "t0_q8-3"} <= set(finished)
    assert "t0_q4-1" not in finished  # something was still to do
    assert not (tmp_path / "p" / "final.csv").exists() or len(pd.read_csv(tmp_path / "p" / "final.csv")) < 9
    hpo_trials = sorted((final / "t0_hpo").glob("trial_*"))

    nac = _search_proc.local_main(str(tmp_path))  # the same call, overwrite=False
    df = nac.final_front()
    assert (df["status"] == "COMPLETED").all()
    assert sorted(df["candidate_id"]) == sorted(["t0_global", "t0_hpo", "t0_q8-3", "t0_q8-3_p1", "t0_q8-3_p2",
                                                 "t0_q4-1", "t0_q4-1_p1", "t0_q4-1_p2"])
    for cid, mtimes in finished.items():  # not retrained, not rewritten
        row = final / cid / "row.json"
        assert (row.stat().st_mtime_ns, (row.parent / "model.keras").stat().st_mtime_ns) == mtimes, cid
        assert json.loads(row.read_text())["val_accuracy"] == df.set_index("candidate_id").loc[cid, "val_accuracy"]
    assert sorted((final / "t0_hpo").glob("trial_*")) == hpo_trials  # the HPO was neither rerun nor deleted
    assert len(pd.read_csv(tmp_path / "p" / "final.csv")) == 8
    assert not list(final.glob("*/.tmp_*"))

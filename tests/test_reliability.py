"""No user file is ever deleted, a resume never mixes incomparable trials, run state round-trips.

Issue 11's cases 1, 2, 3, 5, 11 and 14; each test failed before its fix.
"""

import json
import os

import numpy as np
import pytest

import kerasnac as kn
from kerasnac import _rundir
from kerasnac.errors import ConfigError, DataError

from _search_proc import small_search, small_space


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 16)).astype("float32")
    return x, (x[:, 0] + x[:, 1] > 0).astype("int64")


def _nac(directory, **kw):
    kw.setdefault("max_trials", 1)
    return kn.KerasNAC(small_space(), ["val_accuracy", "bops"], population_size=2, directory=str(directory),
                       seed=0, baselines=False, verbose=0, **kw)


# ---------------------------------------------------------------------------------- 1. data loss
@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../x", "  "])
def test_project_name_must_be_one_plain_folder_name(tmp_path, name):
    runs = tmp_path / "runs"
    (runs / "other_search").mkdir(parents=True)
    (runs / "other_search" / "keep.txt").write_text("x")
    (tmp_path / "sibling.txt").write_text("x")
    with pytest.raises(ConfigError, match="not a plain folder name"):
        _nac(runs, project_name=name, overwrite=True)
    assert (runs / "other_search" / "keep.txt").exists() and (tmp_path / "sibling.txt").exists()


def test_overwrite_refuses_a_folder_kerasnac_did_not_make(tmp_path):
    user = tmp_path / "runs" / "mine"
    user.mkdir(parents=True)
    (user / "thesis.tex").write_text("x")
    with pytest.raises(ConfigError, match=r"refusing to delete .*mine.*thesis\.tex"):
        _nac(tmp_path / "runs", project_name="mine", overwrite=True)
    assert (user / "thesis.tex").exists()
    # without overwrite it is not written into either
    with pytest.raises(ConfigError, match="holds files kerasnac did not make"):
        _nac(tmp_path / "runs", project_name="mine")
    assert sorted(os.listdir(user)) == ["thesis.tex"]


def test_overwrite_replaces_an_empty_folder_or_a_kerasnac_search(tmp_path):
    (tmp_path / "runs" / "empty").mkdir(parents=True)
    _nac(tmp_path / "runs", project_name="empty", overwrite=True)
    assert os.path.isfile(tmp_path / "runs" / "empty" / _rundir.MARKER)
    small_search(tmp_path, 1, 2, 1, project_name="s")
    assert (tmp_path / "s" / "trial_0").is_dir()
    nac = _nac(tmp_path, project_name="s", overwrite=True)
    assert len(nac.oracle.trials) == 0 and not (tmp_path / "s" / "trial_0").exists()


def test_remove_only_inside_the_named_root(tmp_path):
    inside = _rundir.claim(tmp_path / "root" / "a", "test")
    with pytest.raises(ConfigError, match="not inside"):
        _rundir.remove(inside, tmp_path / "elsewhere")
    with pytest.raises(ConfigError, match="not inside"):
        _rundir.remove(tmp_path / "root", tmp_path / "root")
    assert os.path.isdir(inside)
    assert _rundir.remove(inside, tmp_path / "root") and not os.path.exists(inside)


def test_claim_waits_for_another_process_s_marker_write(tmp_path):
    """A chief and a worker claim one project at once: the second sees only the first's marker being
    written (its temporary file), waits for the rename, and then claims the folder as ours."""
    import threading

    folder = tmp_path / "runs" / "p"
    folder.mkdir(parents=True)
    tmp = folder / ".tmp_.kerasnac_abc123"  # the name atomic_write gives the marker before its rename
    tmp.write_text('{"kind": "search"}\n')
    threading.Timer(0.3, os.replace, (tmp, folder / _rundir.MARKER)).start()
    assert _rundir.claim(folder, "search") == str(folder)
    assert json.loads((folder / _rundir.MARKER).read_text())["kind"] == "search"


def test_claim_still_refuses_a_marker_write_that_never_lands(tmp_path, monkeypatch):
    monkeypatch.setattr(_rundir, "MARKER_WAIT", 0.2)
    folder = tmp_path / "runs" / "p"
    folder.mkdir(parents=True)
    (folder / ".tmp_.kerasnac_stale").write_text("x")
    with pytest.raises(ConfigError, match="did not make"):
        _rundir.claim(folder, "search")
    (folder / "notes.txt").write_text("mine")  # a user's file beside it: refused at once, no wait
    monkeypatch.setattr(_rundir, "MARKER_WAIT", 60.0)
    with pytest.raises(ConfigError, match="did not make"):
        _rundir.claim(folder, "search")
    assert (folder / "notes.txt").read_text() == "mine"


def test_hls_project_dir_of_the_user_is_never_deleted(tmp_path):
    """An hls4ml output folder that kerasnac did not make (a user's hls4ml project) stays untouched."""
    from kerasnac.callbacks import Candidate, HLS4MLExport

    prj = tmp_path / "hls" / "t0"
    prj.mkdir(parents=True)
    (prj / "hls4ml_config.yml").write_text("user's project\n")
    (prj / "notes.txt").write_text("x")
    model = small_space().model_from_values({})
    cb = HLS4MLExport(output_dir=str(tmp_path / "hls"), on_error="record")
    row = cb.on_candidate(Candidate(model=model, candidate_id="t0", lineage={}, task="classification",
                                    output_dir=str(tmp_path / "cand")))
    assert "refusing to delete" in json.dumps(row)
    assert sorted(os.listdir(prj)) == ["hls4ml_config.yml", "notes.txt"]


# ---------------------------------------------------------------------------------- 2. comparability
@pytest.mark.parametrize("change", ["epochs", "data", "batch_size", "cost_options"])
def test_resume_with_other_settings_is_refused(tmp_path, change):
    x, y = _data()
    nac = _nac(tmp_path, project_name="p")
    nac.fit(x, y, epochs=1, batch_size=64)
    assert len(nac.oracle.trials) == 1
    kw = dict(epochs=1, batch_size=64)
    extra = {}
    if change == "epochs":
        kw["epochs"] = 2
    elif change == "batch_size":
        kw["batch_size"] = 32
    elif change == "cost_options":
        extra["cost_options"] = {"input_bits": 8}
    else:
        x, y = _data(600)
    again = _nac(tmp_path, project_name="p", max_trials=2, **extra)
    expected = {"epochs": "epochs: 1 -> 2", "batch_size": "batch_size: 64 -> 32",
                "cost_options": "cost_options", "data": "training data"}[change]
    with pytest.raises(ConfigError, match=rf"holds 1 trials made with other settings \(.*{expected}.*another project_name"):
        again.fit(x, y, **kw)
    assert len(again.oracle.trials) == 1  # nothing was added
    # the same settings resume
    _nac(tmp_path, project_name="p", max_trials=2).fit(*_data(), epochs=1, batch_size=64)


# ---------------------------------------------------------------------------------- 3. constraints
def test_constraint_added_on_resume_applies_to_old_trials(tmp_path):
    nac = small_search(tmp_path, 2, 2, 1, project_name="c")
    assert nac.oracle.pareto_front_ids()
    bops = {t: nac.oracle.trials[t].metrics.get_last_value("bops") for t in nac.oracle.trials}
    bound = float(min(bops.values()) - 1)  # no old trial satisfies it
    again = _nac(tmp_path, project_name="c", max_trials=2, constraints=[f"bops <= {bound}"])
    assert [str(c) for c in again.oracle.constraints] == [str(kn.Constraint.parse(f"bops <= {bound}"))]
    ranks = again.oracle.rank_trials()
    assert ranks and all(v[2] > 0 for v in ranks.values())  # every old trial is now infeasible
    assert again.oracle.pareto_front_ids() == []
    again.fit(*_data(), epochs=1, batch_size=64)  # the run records the constraints it searched with
    with open(tmp_path / "c" / "kerasnac.json") as f:
        assert json.load(f)["constraints"] == [str(kn.Constraint.parse(f"bops <= {bound}"))]


# ---------------------------------------------------------------------------------- 5. label_mode
def test_integer_labels_survive_a_new_process(tmp_path):
    x, y = _data()
    small_search(tmp_path, 1, 2, 1, project_name="l")
    again = _nac(tmp_path, project_name="l")  # no fit(): as in a new process
    model = again.best_models(1)[0]
    assert model.loss == "sparse_categorical_crossentropy"
    model.evaluate(x[:64], y[:64], verbose=0)
    from kerasnac.cli import load_trial_model

    _, _, m2 = load_trial_model(str(tmp_path / "l"), "0")
    m2.evaluate(x[:64], y[:64], verbose=0)
    with open(tmp_path / "l" / "kerasnac.json") as f:
        assert json.load(f)["label_mode"] == "sparse"


# ---------------------------------------------------------------------------------- 11. failed start
def test_failed_start_leaves_no_search_record(tmp_path):
    x, _ = _data()
    nac = _nac(tmp_path, project_name="f")
    with pytest.raises(DataError):
        nac.fit(x, np.full(len(x), 9), epochs=1)
    assert not (tmp_path / "f" / "kerasnac.json").exists()
    # other objectives are fine now: nothing was searched
    kn.KerasNAC(small_space(), ["val_accuracy", "params"], max_trials=1, population_size=2, directory=str(tmp_path),
                project_name="f", seed=0, baselines=False, verbose=0)


# ---------------------------------------------------------------------------------- 14. results_summary
def test_tuner_results_summary_is_pareto_aware(tmp_path, capsys):
    nac = small_search(tmp_path, 2, 2, 1, project_name="r")
    nac.tuner.results_summary()
    out = capsys.readouterr().out
    assert "Pareto rank 0" in out and "val_accuracy" in out and "bops" in out
    assert "Score" not in out

"""The command line: search (one-file run config), report, export; --help and exit codes."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from kerasnac import cli
from kerasnac._keras import kt

CONFIG = """
space:
  input_shape: [16]
  num_classes: 5
  stages:
    - mlp: {layers: {min: 1, max: 2}, units: [4, 8, 16]}
  quant: {weight_bits: [3, 6], activation_bits: [4, 8], activation_integer: 0}
data: {source: toy_jets, n: 600, seed: 0}
objectives: [val_accuracy, {name: bops, direction: min}]
search: {max_trials: 3, population_size: 2, epochs: 1, batch_size: 64, directory: runs, project_name: t, verbose: 0}
"""


def write(tmp_path, text, name="run.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    code = cli.main(["search", write(d, CONFIG), "--quiet"])
    assert code == 0
    return str(d / "runs" / "t")


@pytest.mark.parametrize("argv,text", [
    (["--help"], "exit codes"), (["search", "--help"], "CONFIG.yaml"), (["report", "--help"], "while the search"),
    (["export", "--help"], "--trial"),
])
def test_help(argv, text, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 0
    assert text.lower() in capsys.readouterr().out.lower()


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["export", "somewhere"])  # --trial missing
    assert e.value.code == 2


def test_search_writes_results_and_resumes(searched, capsys):
    df = pd.read_csv(os.path.join(searched, "trials.csv"))
    assert len(df) == 3 and (df["status"] == "COMPLETED").all()
    meta = json.load(open(os.path.join(searched, "kerasnac.json")))
    assert meta["objectives"] == [["val_accuracy", "max"], ["bops", "min"]]
    # the same command with a larger budget continues the search
    cfg = os.path.join(os.path.dirname(os.path.dirname(searched)), "run.yaml")
    assert cli.main(["search", cfg, "--quiet", "--max-trials", "4"]) == 0
    assert len(pd.read_csv(os.path.join(searched, "trials.csv"))) == 4


def test_report_table_plot_csv(searched, capsys, tmp_path):
    capsys.readouterr()
    assert cli.main(["report", searched, "--plot", str(tmp_path / "f.png")]) == 0
    out = capsys.readouterr().out
    assert "Pareto front" in out and "val_accuracy (max)" in out
    assert os.path.getsize(tmp_path / "f.png") > 1000
    assert cli.main(["report", os.path.dirname(searched), "--format", "csv", "--no-plot"]) == 0  # parent dir works
    front = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert len(front) >= 1 and front["on_front"].all()


def test_report_while_running(searched, tmp_path, capsys):
    """A search in progress: trials.csv holds RUNNING rows (it is replaced atomically after each trial)."""
    import shutil

    live = tmp_path / "live"
    shutil.copytree(searched, live)
    df = pd.read_csv(live / "trials.csv")
    df.loc[len(df) - 1, ["status", "on_front"]] = ["RUNNING", False]
    df.to_csv(live / "trials.csv", index=False)
    assert cli.main(["report", str(live), "--no-plot"]) == 0
    assert "1 running or queued" in capsys.readouterr().out


@pytest.mark.parametrize("argv,code,text", [
    (["report", "/nonexistent/dir"], 4, "is not a directory"),
    (["export", "{search}", "--trial", "99"], 4, "no trial '99'"),
])
def test_not_found_exits_4(searched, argv, code, text, capsys):
    argv = [a.replace("{search}", searched) for a in argv]
    assert cli.main(argv) == code
    assert text in capsys.readouterr().err


def test_report_before_first_trial_exits_4(tmp_path, capsys):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "kerasnac.json").write_text(json.dumps({"objectives": [["val_accuracy", "max"]]}))
    assert cli.main(["report", str(tmp_path / "p")]) == 4
    assert "no finished trial yet" in capsys.readouterr().err


def test_export_rebuilds_the_trained_trial(searched, monkeypatch, tmp_path, capsys):
    """export hands hls4ml the trial's own trained model (same predictions as the tuner's)."""
    from kerasnac.callbacks import hls4ml_export

    seen = {}

    def fake(self, cand):
        seen["cand"], seen["self"] = cand, self
        return {"hls_dir": cand.output_dir, "lut": 1.0, "resource_source": "estimated"}

    monkeypatch.setattr(hls4ml_export.HLS4MLExport, "on_candidate", fake)
    assert cli.main(["export", searched, "--trial", "1", "--output", str(tmp_path / "o"), "--reuse-factor", "2"]) == 0
    cand = seen["cand"]
    assert cand.candidate_id.startswith("trial_") and seen["self"].reuse_factor == 2
    _, _, model = cli.load_trial_model(searched, "1")
    x = np.random.default_rng(0).normal(size=(8, 16)).astype("float32")
    np.testing.assert_allclose(cand.model.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    w = cand.model.get_weights()
    assert any(np.abs(a).sum() > 0 for a in w)
    assert "hls4ml project of trial" in capsys.readouterr().out


def test_export_failure_exits_5(searched, monkeypatch, capsys):
    from kerasnac.callbacks import hls4ml_export

    def boom(self, cand):
        raise hls4ml_export.HLS4MLExportError("hls4ml compile failed: synthetic", "compile")

    monkeypatch.setattr(hls4ml_export.HLS4MLExport, "on_candidate", boom)
    assert cli.main(["export", searched, "--trial", "0"]) == 5
    assert "synthetic" in capsys.readouterr().err


@pytest.mark.parametrize("text,match", [
    ("space: jets_mlp\ndata: {source: toy_jets\n", "not valid YAML at line"),
    ("space: jets_mlp\ndata: {source: toy_jets}\nserach: {}\n", r"unknown top-level keys \['serach'\]"),
    ("data: {source: toy_jets}\n", "missing the required key 'space'"),
    ("space: jets_mlp\ndata: {source: toy_jets}\nsearch: {max_trial: 3}\n", r"search: unknown keys \['max_trial'\]"),
    ("space: jets_mlp\ndata: {source: mnist}\n", "data.source: 'mnist' is not a data source"),
    ("space: jets_mlp\ndata: {source: toy_jets}\nobjectives: [val_acc]\n", "unknown objective 'val_acc'"),
    ("space: jets_mlp\ndata: {source: toy_jets}\ncallbacks: [hls5ml]\n", "unknown callback 'hls5ml'"),
    ("space: jets_mlp\ndata: {source: toy_jets}\nsearch: {max_trials: 0}\n", "max_trials must be an integer >= 1"),
    ("space: !!python/object/apply:os.system [echo pwned]\ndata: {source: toy_jets}\n", "not valid YAML"),
    ("space: jets_mlp\ndata: {source: npz, path: run.yaml}\n", "cannot read .*run.yaml' as a numpy .npz file"),
    ("space: jets_mlp\ndata: {source: npz, path: nothere.npz}\n", r"data.path: 'nothere.npz' does not exist"),
    ("space: jets_mlp\ndata: {source: jets, path: nojets.npz}\n", r"data.path: 'nojets.npz' does not exist \(looked for"),
    ("space: jets_mlp\ndata: {source: toy_jets}\nspace: jets_mlp\n", r"run.yaml: duplicate key 'space' at line 3 \(first at line 1\)"),
    ("space: jets_mlp\ndata: {source: toy_jets}\nsearch: {screening: {candidate: 8}}\n",
     r"search.screening: .*unexpected keyword argument 'candidate'"),
    ("space: jets_mlp\ndata: {source: toy_jets}\nsearch: {fidelity: {eta: 1}}\n",
     r"search.fidelity: SuccessiveHalving.eta must be an integer >= 2"),
])
def test_bad_config_exits_2(tmp_path, text, match, capsys):
    assert cli.main(["search", write(tmp_path, text), "--directory", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert __import__("re").search(match, err), err
    assert "Traceback" not in err


def test_screening_and_fidelity_from_the_run_config(tmp_path):
    import kerasnac as kn
    from kerasnac._runconfig import RunConfig

    text = CONFIG.replace("verbose: 0}", "verbose: 0, screening: {candidates: 5}, fidelity: true}")
    nac, _ = RunConfig.load(write(tmp_path, text)).build()
    assert nac.oracle.screening == kn.Screening(candidates=5)
    assert nac.fidelity == kn.SuccessiveHalving() and nac.oracle.fidelity == kn.SuccessiveHalving()


def test_npz_data_is_loaded_without_pickles(tmp_path):
    from kerasnac._runconfig import RunConfig

    x = np.zeros((10, 16), "float32")
    np.savez(tmp_path / "d.npz", x_train=x, y_train=np.zeros(10, "int64"), x_val=x[:4], y_val=np.zeros(4, "int64"))
    cfg = RunConfig.load(write(tmp_path, "space: jets_mlp\ndata: {source: npz, path: d.npz}\n"))
    (xt, yt), (xv, yv) = cfg.data()
    assert xt.shape == (10, 16) and xv.shape == (4, 16)
    np.savez(tmp_path / "o.npz", x_train=np.array([{"a": 1}], dtype=object), y_train=np.zeros(1))
    cfg = RunConfig.load(write(tmp_path, "space: jets_mlp\ndata: {source: npz, path: o.npz}\n"))
    with pytest.raises(Exception, match="without pickles"):
        cfg.data()


def test_consecutive_failures_exit_3_naming_the_cause(tmp_path, monkeypatch, capsys):
    from kerasnac._tuner import NACTuner

    def fail(self, trial, *a, **k):
        raise kt.errors.FailedTrialError("synthetic: the learning rate is too high")

    monkeypatch.setattr(NACTuner, "run_trial", fail)
    cfg = CONFIG.replace("verbose: 0}", "verbose: 0, max_consecutive_failed_trials: 2}")
    assert cli.main(["search", write(tmp_path, cfg), "--quiet"]) == 3
    err = capsys.readouterr().err
    assert "2 trials failed in a row" in err and "the learning rate is too high" in err


def test_module_entry_point_exit_code(tmp_path):
    out = subprocess.run([sys.executable, "-m", "kerasnac", "report", str(tmp_path)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 4 and "no kerasnac search" in out.stderr


def test_report_counts_failures_by_cause(tmp_path, capsys):
    p = tmp_path / "p"
    p.mkdir()
    (p / "kerasnac.json").write_text(json.dumps({"objectives": [["val_accuracy", "max"]]}))
    same = [f"Incompatible shapes [[{{{{node model_{i}/dense_{i}/BiasAdd}}}}]] [Op:__inference_train_function_{9 * i}]"
            for i in range(3)]
    pd.DataFrame({"trial_id": list("01234"), "status": ["FAILED"] * 5, "on_front": [False] * 5,
                  "val_accuracy": [np.nan] * 5, "baseline": [""] * 5,
                  "reason": same + ["out of LUTs"] * 2}).to_csv(p / "trials.csv", index=False)
    assert cli.main(["report", str(p), "--no-plot"]) == 0
    assert "failures: 5; most common (3x): Incompatible shapes" in capsys.readouterr().out


def test_exponent_numbers_in_yaml_are_numbers(tmp_path):
    """PyYAML reads ``1e-3`` as a string (YAML 1.1); kerasnac's YAML files read it as a number."""
    import kerasnac as kn
    from kerasnac._runconfig import RunConfig

    text = CONFIG.replace("activation_integer: 0}", "activation_integer: 0}\n  training: {learning_rate: 3e-3}")
    text = text.replace("verbose: 0}", "verbose: 0, screening: {candidates: 5, long_trials: 1.2e4}}")
    cfg = RunConfig.load(write(tmp_path, text))
    nac, _ = cfg.build()
    assert nac.oracle.screening.long_trials == 12_000.0 and nac.oracle.screening.candidates == 5
    model = nac.space.build(nac.space.hyperparameters())
    assert abs(float(model.optimizer.learning_rate.numpy()) - 3e-3) < 1e-9
    space = tmp_path / "s.yaml"
    space.write_text("input_shape: [16]\nnum_classes: 5\nstages:\n  - mlp: {layers: 1, units: [4]}\n"
                     "training: {learning_rate: 1E-2}\n")
    assert abs(float(kn.SearchSpace.from_yaml(str(space)).build(kt.HyperParameters()).optimizer.learning_rate.numpy())
               - 1e-2) < 1e-9

"""The facade speaks keras-tuner's names, old names still work with a warning, data are prepared once,
the run config takes every option of the class, and ``import kerasnac`` does not load TensorFlow."""

import inspect
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import kerasnac as kn
from kerasnac import _data
from kerasnac._keras import keras
from kerasnac.errors import ConfigError

from _search_proc import small_space

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _nac(tmp_path, **kw):
    kw.setdefault("max_trials", 4)
    return kn.KerasNAC(small_space(), ["val_accuracy", "bops"], population_size=3, directory=str(tmp_path),
                       project_name="p", seed=0, verbose=0, **kw)


class _CountEpochs(keras.callbacks.Callback):
    epochs = 0

    def on_epoch_end(self, epoch, logs=None):
        type(self).epochs += 1


class _Record(kn.callbacks.Callback):
    name = "record"

    def __init__(self):
        self.seen = []

    def on_candidate(self, candidate):
        self.seen.append(candidate.candidate_id)
        return {"recorded": 1}


@pytest.fixture(scope="module")
def searched(tmp_path_factory, jets):
    (xt, yt), (xv, yv) = jets
    rec = _Record()
    nac = _nac(tmp_path_factory.mktemp("api"), post_search=[rec], post_search_on="all")
    _CountEpochs.epochs = 0
    nac.search(xt, yt, validation_data=(xv, yv), epochs=1, batch_size=64, callbacks=[_CountEpochs()])
    return nac, rec


def test_search_runs_trial_callbacks_and_post_search(searched):
    nac, rec = searched
    assert _CountEpochs.epochs == 4  # one epoch in each of the 4 trials
    assert rec.seen and len(rec.seen) == len(nac.final_front())  # "all": every final model
    assert (nac.final_front()["recorded"] == 1).all()


def test_get_best_models_and_hyperparameters_follow_the_pareto_order(searched, jets):
    nac, _ = searched
    best = nac.best_trials(2)
    hps = nac.get_best_hyperparameters(2)
    assert [h.values for h in hps] == [t.hyperparameters.values for t in best]
    models = nac.get_best_models(2)
    assert len(models) == 2
    (_, _), (xv, yv) = jets
    for model, trial in zip(models, best):
        acc = model.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"]
        assert acc == pytest.approx(trial.metrics.get_last_value("val_accuracy"), abs=1e-4)


def test_results_summary_is_a_pareto_view(searched):
    nac, _ = searched
    text = nac.results_summary(num_trials=1, print_fn=None)
    assert "Pareto front" in text and "val_accuracy (max)" in text and "bops (min)" in text
    assert "score" not in text.lower()
    front = nac.pareto_front()
    assert (f", 1 shown" in text) == (len(front) > 1)


def test_search_space_summary_lists_every_hyperparameter(searched):
    nac, _ = searched
    text = nac.search_space_summary(print_fn=None)
    names = [hp.name for hp in nac.space.hyperparameters().space]
    assert f"{len(names)} hyperparameters" in text
    for n in names:
        assert n in text


def test_old_names_warn_and_still_work(tmp_path, jets):
    (xt, yt), (xv, yv) = jets
    rec = _Record()
    with pytest.warns(DeprecationWarning, match="use post_search"):
        nac = _nac(tmp_path, max_trials=1, callbacks=[rec], callbacks_on="all")
    assert nac.post_search == [rec] and nac.post_search_on == "all"
    with pytest.warns(DeprecationWarning, match=r"search\(callbacks=...\)"):
        nac2 = _nac(tmp_path / "b", max_trials=1, fit_callbacks=[_CountEpochs()])
    assert len(nac2.fit_callbacks) == 1
    nac.fit(xt, yt, validation_data=(xv, yv), epochs=1, batch_size=64)  # fit is search
    assert len(nac.trials_dataframe()) == 1 and rec.seen


def test_callbacks_in_the_wrong_place_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"search\(callbacks="):
        _nac(tmp_path, post_search=[keras.callbacks.EarlyStopping()])
    nac = _nac(tmp_path)
    with pytest.raises(ConfigError, match=r"post_search"):
        nac.search(np.zeros((10, 16)), np.zeros(10), callbacks=[_Record()])


def test_data_are_checked_once(tmp_path, jets, monkeypatch):
    """One search with a local stage checks x and x_val once each and never splits them again."""
    (xt, yt), (xv, yv) = jets
    calls = []
    real = _data.check_arrays
    monkeypatch.setattr(_data, "check_arrays", lambda *a, **k: calls.append(k.get("what", "x")) or real(*a, **k))
    nac = _nac(tmp_path, max_trials=1, local_search=kn.LocalSearch(top_k=1, hpo_trials=0, bits=[(6, 2)]))
    nac.search(xt[:200], yt[:200], validation_data=(xv[:100], yv[:100]), epochs=1, batch_size=64)
    assert sorted(calls) == ["x", "x_val"]
    assert len(nac.final_front()) >= 2  # the global candidate and its QAT variant


def test_prepared_data_split_once_and_reused():
    space = small_space()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 16)).astype("float32"), rng.integers(0, 5, 50)
    data = _data.prepare(space, x, y, validation_split=0.2, batch_size=8, seed=1)
    assert len(data.x) == 40 and len(data.x_val) == 10 and data.mode == "sparse"
    assert _data.prepare(space, data) is data  # a prepared Data passes through unchanged
    assert data.train() is data.train() and data.val() is data.val()  # pipelines are built once
    assert data.train(16) is not data.train()


def test_run_config_takes_every_option_of_the_class():
    from kerasnac._runconfig import _NOT_SEARCH_KEYS, search_keys

    keys = search_keys()
    for fn in (kn.KerasNAC.__init__, kn.KerasNAC.search):
        for name, p in inspect.signature(fn).parameters.items():
            if name not in _NOT_SEARCH_KEYS:
                assert name in keys, name
                if p.default is not inspect.Parameter.empty:
                    assert keys[name] == p.default
    assert {"strategy", "gradient", "post_search_on", "epochs", "batch_size"} <= set(keys)


def test_run_config_passes_strategy_and_gradient(tmp_path):
    from kerasnac._runconfig import RunConfig

    cfg = tmp_path / "run.yaml"
    cfg.write_text("space: jets_mlp\ndata: {source: toy_jets, n: 300}\n"
                   f"search: {{max_trials: 1, directory: {tmp_path}, strategy: gradient, gradient: {{epochs: 1}}, "
                   "verbose: 0}\n")
    nac, fit = RunConfig.load(cfg).build()
    assert nac.strategy == "gradient" and nac.gradient_options == {"epochs": 1}
    assert fit["epochs"] == 5 and fit["batch_size"] == 256


def _run_python(code):
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("TF_USE_LEGACY_KERAS", None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)


def test_import_and_help_do_not_load_tensorflow():
    out = _run_python("import sys, contextlib, io\nimport kerasnac\nfrom kerasnac import cli\n"
                      "with contextlib.redirect_stdout(io.StringIO()) as f:\n"
                      "    try:\n        cli.main(['--help'])\n    except SystemExit:\n        pass\n"
                      "print('usage' in f.getvalue(), 'tensorflow' in sys.modules, kerasnac.ConfigError.__name__)")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-3:] == ["True", "False", "ConfigError"]


def test_keras_tuner_imported_after_kerasnac_sees_tf_keras():
    out = _run_python("import kerasnac as kn\nimport keras_tuner\n"
                      "from keras_tuner.src.backend.config import multi_backend\n"
                      "import tensorflow as tf\n"
                      "print(bool(multi_backend()), tf.keras.Model.__module__.split('.')[0], kn.SearchSpace.__name__)")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-3:] == ["False", "tf_keras", "SearchSpace"]

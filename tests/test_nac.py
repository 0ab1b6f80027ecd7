import os

import numpy as np
import pandas as pd
import pytest

import kerasnac as kn
from kerasnac._keras import keras
from kerasnac.errors import ConfigError, DataError

from _search_proc import small_space  # the same small space the subprocess searches use


def run(tmp_path, jets, max_trials=6, **kw):
    (xt, yt), (xv, yv) = jets
    nac = kn.KerasNAC(small_space(), objectives=kw.pop("objectives", ["val_accuracy", "bops"]), max_trials=max_trials,
                      population_size=3, directory=str(tmp_path), project_name="p", seed=0, verbose=0, **kw)
    nac.fit(xt, yt, validation_data=(xv, yv), epochs=1, batch_size=64)
    return nac


@pytest.fixture(scope="module")
def searched(tmp_path_factory, jets):
    return run(tmp_path_factory.mktemp("nac"), jets)


def test_search_results_table(searched):
    df = searched.trials_dataframe()
    assert len(df) == 6 and (df["status"] == "COMPLETED").all()
    for col in ["val_accuracy", "bops", "lut", "dsp", "params", "macs", "pareto_rank", "on_front", "architecture",
                "hp:s0/mlp/layers", "hp:s1/block", "train_seconds"]:
        assert col in df, col
    assert df.loc[df["trial_id"] == df["trial_id"].min(), "baseline"].item() == "tiny"
    assert (df["architecture"].str.len() > 0).all()
    on_disk = pd.read_csv(os.path.join(searched.project_dir, "trials.csv"))
    assert len(on_disk) == 6


def test_front_is_nondominated(searched):
    df = searched.trials_dataframe()
    front = searched.pareto_front()
    assert 1 <= len(front) <= len(df)
    for _, f in front.iterrows():
        dominated = ((df["val_accuracy"] >= f["val_accuracy"]) & (df["bops"] <= f["bops"])
                     & ((df["val_accuracy"] > f["val_accuracy"]) | (df["bops"] < f["bops"])))
        assert not dominated.any()
    rest = df[~df["on_front"]]
    for _, r in rest.iterrows():  # everything off the front is dominated by something
        assert (((df["val_accuracy"] >= r["val_accuracy"]) & (df["bops"] <= r["bops"])
                 & ((df["val_accuracy"] > r["val_accuracy"]) | (df["bops"] < r["bops"]))).any())


def test_best_models_have_trained_weights(searched, jets):
    (_, _), (xv, yv) = jets
    models = searched.best_models(2)
    best = searched.best_trials(2)
    assert len(models) == 2
    for model, trial in zip(models, best):
        assert any(type(l).__name__ == "QDense" for l in model.layers)
        _, acc = model.evaluate(xv, yv, verbose=0)
        assert acc == pytest.approx(trial.metrics.get_last_value("val_accuracy"), abs=1e-4)


def test_plot_and_summary(searched, tmp_path):
    fig = searched.plot_pareto(str(tmp_path / "p.png"))
    assert os.path.getsize(tmp_path / "p.png") > 1000
    assert fig.axes[0].get_xlabel().startswith("bops")
    text = searched.summary(print_fn=None)
    assert "Pareto front" in text and "tiny" not in text or "mlp" in text


def test_resume_keeps_trials_and_reaches_max(tmp_path, jets):
    first = run(tmp_path, jets, max_trials=3)
    before = first.trials_dataframe()[["trial_id", "val_accuracy"]]
    second = run(tmp_path, jets, max_trials=5)
    after = second.trials_dataframe()
    assert len(after) == 5 and (after["status"] == "COMPLETED").all()
    merged = before.merge(after, on="trial_id", suffixes=("_a", "_b"))
    np.testing.assert_allclose(merged["val_accuracy_a"], merged["val_accuracy_b"])
    with pytest.raises(ConfigError, match="different objectives"):
        run(tmp_path, jets, max_trials=6, objectives=["val_accuracy", "lut"])


def test_failing_trials_are_recorded_and_search_goes_on(tmp_path, jets):
    calls = {"n": 0}

    def flaky(model):
        calls["n"] += 1  # call 1 is the check before training; calls 3 and 5 are trials 1 and 3
        if calls["n"] in (3, 5):
            raise RuntimeError("synthetic failure in objective")
        return float(model.count_params())

    nac = run(tmp_path, jets, max_trials=5, objectives=["val_accuracy", kn.Objective("n_params", "min", fn=flaky)])
    df = nac.trials_dataframe()
    assert len(df) == 5
    failed = df[df["status"] != "COMPLETED"]
    assert len(failed) == 2
    assert failed["reason"].str.contains("synthetic failure").all()


class _NaNAfterFirstBatch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        logs["loss"] = float("nan")


def test_nan_loss_fails_trial_with_reason(tmp_path, jets):
    nac = run(tmp_path, jets, max_trials=2, fit_callbacks=[_NaNAfterFirstBatch()], max_consecutive_failed_trials=5)
    df = nac.trials_dataframe()
    assert (df["status"] == "FAILED").all()
    assert df["reason"].str.contains("NaN").all()


def test_callable_objective_and_custom_direction(tmp_path, jets):
    def n_weights(model):
        return float(model.count_params())

    nac = run(tmp_path, jets, max_trials=2, objectives=["val_loss", n_weights])
    df = nac.trials_dataframe()
    assert (df["n_weights"] > 0).all()
    assert [o.direction for o in nac.objectives] == ["min", "min"]


def test_broken_callable_objective_fails_before_any_training(tmp_path, jets):
    import time

    trained = []

    class Spy(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            trained.append(1)

    def broken(model, validation_data):
        return model.count_params() / len(validation_data[0]) / 0

    start = time.perf_counter()
    with pytest.raises(ConfigError, match=r"objective 'broken' raised ZeroDivisionError: .*division by zero.*before training"):
        run(tmp_path, jets, max_trials=3, objectives=["val_accuracy", kn.Objective("broken", "min", fn=broken)],
            fit_callbacks=[Spy()])
    assert trained == []  # no trial trained
    assert not [d for d in os.listdir(os.path.join(tmp_path, "p")) if d.startswith("trial_")]
    assert time.perf_counter() - start < 20


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("objectives,match", [
    (["val_acc", "bops"], "unknown objective 'val_acc'.*val_accuracy.*bops"),
    ([kn.Objective("val_f1")], "unknown objective 'val_f1'"),
    ([kn.Objective("my_metric", fn=lambda m: 0.0)], "has no direction"),
    ([], "objectives is empty"),
    (["bops", "bops"], "duplicate"),
])
def test_objective_errors(objectives, match, tmp_path):
    with pytest.raises(ConfigError, match=match):
        kn.KerasNAC(small_space(), objectives, directory=str(tmp_path))


@pytest.mark.parametrize("kwargs,match", [
    ({"max_trials": 0}, "max_trials must be an integer >= 1"),
    ({"max_trials": 2.5}, "max_trials must be an integer >= 1"),
    ({"constraints": ["lutz <= 5"]}, "unknown metric 'lutz'"),
])
def test_config_errors(kwargs, match, tmp_path):
    with pytest.raises(ConfigError, match=match):
        kn.KerasNAC(small_space(), directory=str(tmp_path), **kwargs)


def test_unwritable_directory(tmp_path):
    ro = tmp_path / "ro"
    ro.write_text("a file, not a directory")
    with pytest.raises(ConfigError, match="not writable"):
        kn.KerasNAC(small_space(), directory=str(ro / "sub"))


@pytest.mark.parametrize("make,match", [
    (lambda x, y: (x[:, :15], y), r"sample shape \(15,\).*input_shape \(16,\)"),
    (lambda x, y: (x, y[:, :4]), r"num_classes=5"),
    (lambda x, y: (x, np.argmax(y, 1) + 3), r"labels in \[3, 7\].*num_classes=5"),
    (lambda x, y: (np.where(np.arange(x.size).reshape(x.shape) == 7, np.nan, x), y), r"x contains 1 NaN/inf"),
    (lambda x, y: (x, np.where(y == 1, np.inf, y)), r"y contains .* NaN/inf"),
    (lambda x, y: (x[:0], y[:0]), "x is empty"),
    (lambda x, y: (x[:10], y), "10 samples but y has"),
])
def test_data_errors_before_training(make, match, tmp_path, jets):
    (xt, yt), (xv, yv) = jets
    nac = kn.KerasNAC(small_space(), directory=str(tmp_path), verbose=0)
    x, y = make(xt, yt)
    with pytest.raises(DataError, match=match):
        nac.fit(x, y, validation_data=(xv, yv))
    assert nac.trials_dataframe().empty  # nothing ran


def test_tf_dataset_input(tmp_path, jets):
    import tensorflow as tf

    (xt, yt), (xv, yv) = jets
    nac = kn.KerasNAC(small_space(), max_trials=2, population_size=2, directory=str(tmp_path), verbose=0)
    nac.fit(tf.data.Dataset.from_tensor_slices((xt, yt)).batch(64),
            validation_data=tf.data.Dataset.from_tensor_slices((xv, yv)).batch(64), epochs=1)
    assert (nac.trials_dataframe()["status"] == "COMPLETED").all()

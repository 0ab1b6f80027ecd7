"""Export: .h5/.keras round trips of QKeras models, architecture.yaml, load_model."""

import os

import numpy as np
import pytest
import yaml

import kerasnac as kn
from kerasnac._keras import qkeras
from kerasnac.callbacks import Candidate, Export, get_callback, load_model

Q = {"weight_bits": 6, "activation_bits": 6, "activation_integer": 1}


@pytest.fixture
def model(seed):
    space = kn.SearchSpace((6, 6, 1), [{"conv_attn": {"filters": 4, "kernel_size": 3, "padding": "valid",
                                                      "activation": "leaky_relu", "batchnorm": True}},
                                       {"mlp": {"layers": 1, "units": 8}}], num_classes=3, quant=Q)
    m = space.model_from_values(space.complete_values({}))
    x = np.random.default_rng(0).normal(size=(32, 6, 6, 1)).astype("float32")
    m.fit(x, np.eye(3)[np.arange(32) % 3], epochs=1, verbose=0)
    return m


def _candidate(model, tmp_path):
    return Candidate(model, "t05_q6", {"trial_id": "05", "stage": "global", "bits": "6,1"},
                     output_dir=str(tmp_path / "t05_q6"), metrics={"accuracy": 0.5, "bops": 1.2e4, "curve": [1, 2]})


def test_round_trip_both_formats(model, tmp_path):
    row = Export().on_candidate(_candidate(model, tmp_path))
    assert row["model_path"] == row["model_h5_path"] and row["model_path"].endswith("model.h5")
    x = np.random.default_rng(1).normal(size=(16, 6, 6, 1)).astype("float32")
    ref = model.predict(x, verbose=0)
    for key in ("model_h5_path", "model_keras_path"):
        loaded = load_model(row[key])
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), ref)
        dense = loaded.get_layer("s1_dense0")
        assert isinstance(dense, qkeras.QDense) and str(dense.kernel_quantizer_internal) == "quantized_bits(6,0,0,alpha=1)"
        assert loaded.optimizer is not None
    # a directory loads model.keras
    np.testing.assert_array_equal(load_model(os.path.dirname(row["model_path"])).predict(x, verbose=0), ref)


def test_architecture_yaml(model, tmp_path):
    row = Export().on_candidate(_candidate(model, tmp_path))
    with open(row["architecture_path"]) as f:
        arch = yaml.safe_load(f)
    assert arch["candidate_id"] == "t05_q6" and arch["lineage"]["bits"] == "6,1"
    assert arch["metrics"] == {"accuracy": 0.5, "bops": 1.2e4}  # non-scalars are left out
    assert arch["input_shape"] == [6, 6, 1] and arch["output_shape"] == [3]
    assert arch["n_params"] == model.count_params()
    layers = {layer["name"]: layer for layer in arch["layers"]}
    assert layers["s0_conv"]["filters"] == 4 and layers["s0_conv"]["kernel_size"] == [3, 3]
    assert layers["s0_conv"]["kernel_quantizer"] == "quantized_bits(6,0,0,alpha=1)"
    assert layers["s0_conv_act"]["activation"] == "quantized_relu(6,1,negative_slope=0.125)"
    assert layers["s0_scores"]["inputs"] == ["s0_theta_flat", "s0_phi_flat"]
    assert layers["s1_dense0"]["units"] == 8 and layers["head_softmax"]["activation"] == "softmax"
    assert sum(layer["params"] for layer in arch["layers"]) == model.count_params()
    from kerasnac.callbacks.export import architecture

    assert architecture(load_model(row["model_path"]))["layers"] == arch["layers"]  # same description after loading


def test_options_and_errors(model, tmp_path):
    exp = get_callback("export", output_dir=str(tmp_path / "models"), formats="keras")
    row = exp.on_candidate(_candidate(model, tmp_path))
    assert row["model_path"] == str(tmp_path / "models" / "t05_q6" / "model.keras")
    assert "model_h5_path" not in row
    with pytest.raises(ValueError, match="formats"):
        Export(formats=("onnx",))
    with pytest.raises(FileNotFoundError):
        load_model(str(tmp_path / "nothing_here"))
    os.makedirs(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="model.keras or model.h5"):
        load_model(str(tmp_path / "empty"))


def test_export_in_the_pipeline_on_reloaded_models(tmp_path):
    """The pipeline reloads each final model from model.keras (variables named without their layer,
    so the optimizer's slots collide in .h5): Export must still write every file and the same model."""
    from _search_proc import small_space

    x, y = kn.datasets.toy_jets_hlf(300, seed=0)
    (xt, yt), (xv, yv), _ = kn.datasets.split_and_scale(x, y, val_fraction=0.25, test_fraction=0.0, seed=0)
    nac = kn.KerasNAC(small_space(), ["val_accuracy", "bops"], max_trials=2, population_size=2, directory=str(tmp_path),
                      project_name="p", seed=0, verbose=0, baselines=False, callbacks=[Export()], callbacks_on="all")
    nac.fit(xt, yt, validation_data=(xv, yv), epochs=1, batch_size=64)
    df = nac.final_front()
    assert len(df) >= 1 and (df["status"] == "COMPLETED").all()  # the global front
    assert "export_error" not in df and "callback_failed" not in df
    best = {t.trial_id: m for t, m in zip(nac.best_trials(2), nac.best_models(2))}
    for _, row in df.iterrows():
        folder = os.path.dirname(row["model_path"])
        assert row["model_path"].endswith("model.h5")
        for key in ("model_h5_path", "model_keras_path", "architecture_path"):
            assert os.path.isfile(row[key]), key
        assert not [f for f in os.listdir(folder) if f.startswith(".tmp_")]
        ref = best[str(row["trial_id"])].predict(xv, verbose=0)
        for key in ("model_h5_path", "model_keras_path"):
            loaded = load_model(row[key])
            np.testing.assert_allclose(loaded.predict(xv, verbose=0), ref, rtol=1e-6, atol=1e-6)
        h5 = load_model(row["model_h5_path"])
        keras_model = load_model(row["model_keras_path"])
        assert len(h5.optimizer.variables) == len(keras_model.optimizer.variables) > 0
        for a, b in zip(h5.optimizer.variables, keras_model.optimizer.variables):  # the optimizer state too
            np.testing.assert_array_equal(a.numpy(), b.numpy())
        with open(row["architecture_path"]) as f:
            assert yaml.safe_load(f)["candidate_id"] == row["candidate_id"]


def test_h5_of_a_model_loaded_from_keras_keeps_optimizer_state(model, tmp_path):
    model.save(str(tmp_path / "m.keras"))
    reloaded = load_model(str(tmp_path / "m.keras"))
    row = Export(formats="h5").on_candidate(_candidate(reloaded, tmp_path))
    h5 = load_model(row["model_path"])
    assert int(h5.optimizer.iterations.numpy()) == int(reloaded.optimizer.iterations.numpy()) > 0
    for a, b in zip(h5.optimizer.variables, reloaded.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    x = np.random.default_rng(1).normal(size=(8, 6, 6, 1)).astype("float32")
    np.testing.assert_array_equal(h5.predict(x, verbose=0), model.predict(x, verbose=0))
    assert sorted(os.listdir(tmp_path / "t05_q6")) == ["architecture.yaml", "model.h5"]

"""kerasnac.hardware (da4ml tracing, da_lut cost, RTL, yosys, verilator) and the Synthesis callback."""

import math
import os
import shutil

import numpy as np
import pytest

import kerasnac as kn
from kerasnac import costs, hardware
from kerasnac._keras import keras, qkeras
from kerasnac.callbacks import Candidate, Synthesis

pytest.importorskip("da4ml", reason="da4ml is not installed (pip install 'kerasnac[da]')")

L = keras.layers
NO_YOSYS = shutil.which("yosys") is None
NO_VERILATOR = shutil.which("verilator") is None


def q(bits):
    return f"quantized_bits({bits},0,alpha=1)"


def mlp(units=(8,), bits=4, bn=False, seed=0, n_in=16):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((n_in,))
    x = inp
    for i, u in enumerate(units):
        x = qkeras.QDense(u, kernel_quantizer=q(bits), bias_quantizer=q(bits), name=f"d{i}")(x)
        if bn:
            x = L.BatchNormalization(name=f"bn{i}")(x)
        x = qkeras.QActivation(f"quantized_relu({bits},0)", name=f"a{i}")(x)
    x = qkeras.QDense(5, kernel_quantizer=q(bits), bias_quantizer=q(bits), name="head")(x)
    return keras.Model(inp, L.Activation("softmax", name="sm")(x))


def inputs(shape, n=50, seed=1):
    return hardware.quantize_inputs(np.random.default_rng(seed).normal(0, 1.5, (n, *shape)))


def keras_logits(model, traced, x):
    probe = keras.Model(model.inputs, model.get_layer(traced.output_layer).output)
    return np.asarray(probe.predict(x, verbose=0), np.float64).reshape(len(x), -1)


def exact_fraction(model, x):
    t = hardware.trace(model)
    y_da = t.comb.predict(x.reshape(len(x), -1))
    return float(np.mean(np.all(y_da == keras_logits(model, t, x), axis=1))), t


def test_mlp_trace_is_bit_exact_and_cost_grows():
    x = inputs((16,))
    exact, small = exact_fraction(mlp((8,), 4), x)
    assert exact == 1.0 and small.output_layer == "head"  # the softmax is not in the hardware
    assert small.cost > 0 and small.depth > 0
    assert exact_fraction(mlp((16,), 4), x)[1].cost > small.cost          # wider
    assert exact_fraction(mlp((8,), 6), x)[1].cost > small.cost            # more bits


def test_deepsets_and_conv_traces_are_bit_exact():
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 3))
    x = qkeras.QDense(8, kernel_quantizer=q(5), bias_quantizer=q(5))(inp)
    x = qkeras.QActivation("quantized_relu(5,1)")(x)
    x = L.GlobalAveragePooling1D()(x)
    x = qkeras.QDense(4, kernel_quantizer=q(5), bias_quantizer=q(5))(x)
    x = qkeras.QActivation("quantized_relu(5,1)")(x)
    ds = keras.Model(inp, qkeras.QDense(5, kernel_quantizer=q(5))(x))
    assert exact_fraction(ds, inputs((8, 3)))[0] == 1.0

    inp = keras.Input((6, 6, 1))
    x = qkeras.QConv2D(3, 3, padding="same", kernel_quantizer=q(4), bias_quantizer=q(4))(inp)
    x = qkeras.QActivation("quantized_relu(4,0)")(x)
    x = L.MaxPooling2D(2)(x)
    x = qkeras.QConv2D(2, 3, padding="valid", kernel_quantizer=q(4), bias_quantizer=q(4))(x)
    x = qkeras.QActivation("quantized_relu(4,0)")(x)
    x = L.Flatten()(x)
    conv = keras.Model(inp, qkeras.QDense(2, kernel_quantizer=q(4))(x))
    assert exact_fraction(conv, inputs((6, 6, 1)))[0] == 1.0


def test_batchnorm_traces_close_to_keras():
    m = mlp((8,), 6, bn=True)
    m.get_layer("bn0").set_weights([np.full(8, 1.5), np.full(8, 0.1), np.full(8, 0.2), np.full(8, 0.8)])
    x = inputs((16,))
    t = hardware.trace(m)
    diff = np.abs(t.comb.predict(x) - keras_logits(m, t, x))
    assert diff.max() < 0.1  # BN scale/shift on hls4ml's 10-fractional-bit grid: not bit exact


def test_unsupported_layer_names_layer_and_what_is_supported():
    inp = keras.Input((16,))
    x = qkeras.QDense(8, kernel_quantizer=q(4))(inp)
    x = L.Activation("tanh", name="my_tanh")(x)
    m = keras.Model(inp, qkeras.QDense(5, kernel_quantizer=q(4))(x))
    with pytest.raises(hardware.UnsupportedLayerError, match="my_tanh") as err:
        hardware.trace(m)
    assert "Supported:" in str(err.value) and "QDense" in str(err.value)


def test_da_cost_is_registered_optional_and_usable(tmp_path, jets):
    assert costs.is_cost("da_lut") and costs.is_cost("da_depth")
    assert "da_lut" in costs.available_costs() and "da_lut" not in costs.default_costs()
    m = mlp((8,), 4)
    assert "da_lut" not in costs.evaluate(m)
    ev = costs.evaluate(m, extra=["da_lut"])
    assert ev["da_lut"] == hardware.trace(m, solver_options=hardware.COST_SOLVER_OPTIONS).cost > 0 and "bops" in ev
    assert costs.get_cost("da_depth")(m) == hardware.trace(m, solver_options=hardware.COST_SOLVER_OPTIONS).depth

    from _search_proc import small_space

    (xt, yt), (xv, yv) = jets
    nac = kn.KerasNAC(small_space(), objectives=["val_accuracy", "da_lut"], max_trials=2, population_size=2,
                      directory=str(tmp_path), seed=0, verbose=0)
    assert nac.cost_names == ["da_lut"]
    nac.fit(xt, yt, validation_data=(xv, yv), epochs=1, batch_size=64)
    df = nac.trials_dataframe()
    done = df[df["status"] == "COMPLETED"]
    assert len(done) == 2 and (done["da_lut"] > 0).all() and done["da_lut"].map(math.isfinite).all()


def test_da_syn_lut_is_da_lut_at_the_fitted_scale():
    from kerasnac.hardware import DA_LUT_TO_SYN_LUT

    m = mlp((8,), 4)
    ev = costs.evaluate(m, extra=["da_lut", "da_syn_lut"])
    assert 0 < DA_LUT_TO_SYN_LUT < 1 and ev["da_syn_lut"] == pytest.approx(DA_LUT_TO_SYN_LUT * ev["da_lut"])
    assert "da_syn_lut" not in costs.default_costs() and costs.cost_direction("da_syn_lut") == "min"


def test_parse_stat_counts_cells():
    log = ("=== design hierarchy ===\n   Number of cells:                 9\n     CARRY4   2\n"
           "     LUT2                            4\n     LUT6   1\n     FDRE  5\n     DSP48E2 1\n\nEnd\n")
    assert hardware._rtl.parse_stat(log) == {"syn_lut": 5, "syn_ff": 5, "syn_carry": 2, "syn_dsp": 1,
                                             "syn_cells": {"CARRY4": 2, "LUT2": 4, "LUT6": 1, "FDRE": 5,
                                                           "DSP48E2": 1}}


def test_synthesis_without_yosys_records_skip(tmp_path, monkeypatch):
    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name in ("yosys", "verilator") else
                        real(name, *a, **k))
    m = mlp((8,), 4)
    x = np.random.default_rng(0).normal(size=(60, 16)).astype("float32")
    row = Synthesis().on_candidate(Candidate(m, "c0", {}, validation_data=(x, None), output_dir=str(tmp_path)))
    assert "yosys not on PATH" in row["syn_skipped"] and "syn_lut" not in row and "syn_error" not in row
    # HLS4MLExport's columns (resource_source for lut/ff/dsp/bram/latency_cycles) are not touched
    assert not {"resource_source", "lut", "ff", "dsp", "syn_source"} & set(row)
    assert row["rtl_agreement"] == 1.0 and row["rtl_n"] == 50 and "interpreter" in row["rtl_check"]
    assert row["da_lut"] > 0 and os.path.isfile(os.path.join(row["rtl_dir"], ".kerasnac"))


def test_synthesis_failure_is_recorded_and_foreign_folder_kept(tmp_path):
    inp = keras.Input((4,))
    bad = keras.Model(inp, L.Activation("tanh", name="t")(qkeras.QDense(2, kernel_quantizer=q(4))(inp)))
    row = Synthesis(synth=False).on_candidate(Candidate(bad, "bad", {}, output_dir=str(tmp_path)))
    assert "trace failed" in row["syn_error"] and "'t'" in row["syn_error"]
    foreign = tmp_path / "mine" / "c1"
    foreign.mkdir(parents=True)
    (foreign / "notes.txt").write_text("keep")
    row = Synthesis(output_dir=str(tmp_path / "mine"), synth=False).on_candidate(
        Candidate(mlp((8,), 4), "c1", {}, output_dir=str(tmp_path)))
    assert "rtl failed" in row["syn_error"] and (foreign / "notes.txt").read_text() == "keep"


@pytest.mark.skipif(NO_YOSYS, reason="needs yosys on PATH (apt-get install yosys)")
def test_synthesis_callback_yosys(tmp_path):
    m = mlp((8,), 4)
    x = np.random.default_rng(0).normal(size=(50, 16)).astype("float32")
    row = Synthesis(simulate=False).on_candidate(
        Candidate(m, "c0", {}, validation_data=(x, None), output_dir=str(tmp_path)))
    assert "syn_error" not in row, row.get("syn_error")
    assert row["syn_lut"] > 0 and row["syn_ff"] > 0 and row["syn_carry"] > 0 and row["syn_dsp"] == 0
    assert "not place and route" in row["syn_source"] and "resource_source" not in row and row["rtl_agreement"] == 1.0


@pytest.mark.slow
@pytest.mark.skipif(NO_VERILATOR, reason="needs verilator on PATH (apt-get install verilator)")
def test_verilator_rtl_is_bit_exact_with_keras(tmp_path):
    m = mlp((8,), 4)
    x = np.random.default_rng(0).normal(size=(50, 16)).astype("float32")
    row = Synthesis(synth=False).on_candidate(
        Candidate(m, "c0", {}, validation_data=(x, None), output_dir=str(tmp_path)))
    assert "syn_error" not in row, row.get("syn_error")
    assert row["rtl_check"] == "verilator" and row["rtl_agreement"] == 1.0 and row["rtl_n"] == 50
    assert row["rtl_max_abs_diff"] == 0.0

"""Tests of kerasnac.costs against hand-computed numbers."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

try:
    import kerasnac._keras  # noqa: F401
except ImportError:  # running the bare `pytest` entry point without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kerasnac import costs  # noqa: E402
from kerasnac._keras import keras, qkeras  # noqa: E402
from kerasnac.costs import (UnknownCostError, available_costs, cost_direction, evaluate, get_cost,  # noqa: E402
                            is_cost, layer_table, register_cost, unregister_cost, weighted)

L = keras.layers
BUILTINS = ["params", "nonzero_params", "macs", "bops", "lut", "ff", "dsp", "bram", "latency_cycles", "ebops"]


@pytest.fixture(autouse=True)
def seed():
    keras.utils.set_random_seed(0)
    yield


def qbits(bits):
    return qkeras.quantized_bits(bits, 0, alpha=1)


def qdense_model(w_bits=6, n_in=16, units=64, name="d"):
    inp = keras.Input((n_in,))
    out = qkeras.QDense(units, kernel_quantizer=qbits(w_bits), bias_quantizer=qbits(w_bits), name=name)(inp)
    return keras.Model(inp, out)


def row(table, name):
    return table.set_index("layer").loc[name]


# ---------------------------------------------------------------------------------------------- Dense


def test_qdense_6bit_hand_computed():
    t = layer_table(qdense_model(6))
    r = row(t, "d")
    assert list(t.columns[:15]) == ["layer", "class", "params", "nonzero_params", "macs", "fan_in", "w_bits",
                                    "a_bits", "sparsity", "bops", "dsp", "lut", "ff", "bram", "latency_cycles"]
    assert r["class"] == "QDense"
    assert r.params == 16 * 64 + 64 and r.nonzero_params == r.params
    assert r.macs == 1024 and r.fan_in == 16
    assert r.w_bits == 6 and r.a_bits == 16 and r.sparsity == 0.0
    assert r.bops == pytest.approx(1024 * (6 * 16 + 6 + 16 + math.log2(16)))
    acc = 6 + 16 + 4
    assert r.dsp == 0  # 6-bit weights -> LUT multipliers
    assert r.lut == 1024 * 6 * 16 + 1024 * acc
    assert r.ff == 16 * 16 + 64 * acc  # RF=1: input and output registers, none per product
    assert r.bram == 0
    assert r.latency_cycles == 1 + 4 + 1
    assert r.out_bits == 16  # no activation quantizer: accumulator ~ hls4ml default 16 bits


def test_qdense_12bit_goes_to_dsp_and_reuse_factor():
    r = row(layer_table(qdense_model(12)), "d")
    assert r.dsp == 1024 and r.lut == 1024 * (12 + 16 + 4)
    r4 = row(layer_table(qdense_model(12), reuse_factor=4), "d")
    assert r4.dsp == 256 and r4.latency_cycles == 4 + 4 + 1 and r4.bram == 0
    rr = row(layer_table(qdense_model(12), reuse_factor=4, strategy="resource"), "d")
    assert rr.bram == math.ceil(1024 * 12 / (4 * 36))  # BRAM36, 36-bit words, depth RF <= 1024
    assert rr.dsp == 256


def test_input_bits_option():
    r = row(layer_table(qdense_model(6), input_bits=8), "d")
    assert r.a_bits == 8 and r.bops == pytest.approx(1024 * (6 * 8 + 6 + 8 + 4))


def test_dense_on_sets_counts_positions():
    inp = keras.Input((8, 3))  # 8 set elements with 3 features
    out = qkeras.QDense(5, kernel_quantizer=qbits(6), name="phi")(inp)
    r = row(layer_table(keras.Model(inp, out)), "phi")
    assert r.macs == 8 * 3 * 5 and r.fan_in == 3
    assert r.latency_cycles == 8 * 1 + 2 + 1  # kernel shared over the 8 positions


# ----------------------------------------------------------------------------------------------- Conv


def conv_model(padding, strides):
    inp = keras.Input((11, 11, 8))
    out = qkeras.QConv2D(16, (3, 3), strides=strides, padding=padding, kernel_quantizer=qbits(6),
                         bias_quantizer=qbits(6), name="c")(inp)
    return keras.Model(inp, out)


@pytest.mark.parametrize("padding,strides,side", [("same", 2, 6), ("valid", 2, 5), ("valid", 1, 9), ("same", 1, 11)])
def test_qconv2d_macs(padding, strides, side):
    m = conv_model(padding, strides)
    assert m.output_shape == (None, side, side, 16)
    r = row(layer_table(m), "c")
    assert r.macs == side * side * 16 * 9 * 8
    assert r.fan_in == 72 and r.params == 9 * 8 * 16 + 16
    assert r.bops == pytest.approx(r.macs * (6 * 16 + 6 + 16 + math.log2(72)))
    assert r.latency_cycles == side * side + 7 + 1
    assert r.lut == 9 * 8 * 16 * (6 * 16 + 6 + 16 + 7)  # multipliers shared over output pixels


def test_conv_same_stride2_exact_number():
    assert row(layer_table(conv_model("same", 2)), "c").macs == 6 * 6 * 16 * 9 * 8 == 41472


def test_conv1d():
    inp = keras.Input((20, 4))
    out = qkeras.QConv1D(6, 5, strides=1, padding="valid", kernel_quantizer=qbits(4), name="c")(inp)
    r = row(layer_table(keras.Model(inp, out)), "c")
    assert r.macs == 16 * 6 * 5 * 4 and r.fan_in == 20 and r.w_bits == 4


# --------------------------------------------------------------------------------------------- Sparsity


def test_pruned_half_measured():
    m = qdense_model(6)
    k, b = m.get_layer("d").get_weights()
    k[:8, :] = 0.0
    m.get_layer("d").set_weights([k, b])
    dense = row(layer_table(qdense_model(6)), "d")
    r = row(layer_table(m), "d")
    assert r.sparsity == 0.5
    assert r.nonzero_params == 1088 - 512
    assert r.bops == pytest.approx(1024 * (0.5 * 6 * 16 + 6 + 16 + 4))
    assert r.bops < dense.bops and r.lut == dense.lut // 2 and r.ff == dense.ff  # RF=1: FF = in/out registers
    assert row(layer_table(m, reuse_factor=4), "d").ff < row(layer_table(qdense_model(6), reuse_factor=4), "d").ff


def test_sparsity_overrides():
    m = qdense_model(6)
    assert row(layer_table(m, sparsity=0.25), "d").sparsity == 0.25
    assert row(layer_table(m, sparsity={"d": 0.75}), "d").nonzero_params == 1088 - 768
    with pytest.raises(ValueError, match="not in the model"):
        layer_table(m, sparsity={"nope": 0.5})
    with pytest.raises(ValueError):
        layer_table(m, sparsity=1.5)


# -------------------------------------------------------------------------------------------- Bit widths


def test_bits_propagation():
    inp = keras.Input((16,))
    x = qkeras.QDense(32, kernel_quantizer=qbits(6), name="d1")(inp)
    x = qkeras.QActivation(qkeras.quantized_relu(4), name="a1")(x)
    x = L.Dropout(0.1, name="drop")(x)
    y = qkeras.QDense(32, kernel_quantizer=qbits(8), activation=qkeras.quantized_relu(3), name="d2")(x)
    z = qkeras.QDense(32, kernel_quantizer=qbits(8), name="d3")(y)
    w = L.Add(name="add")([qkeras.QActivation("quantized_bits(8,2)", name="a2")(z), x])
    v = L.Activation("relu", name="relu")(w)
    out = L.Dense(4, name="d4")(v)
    t = layer_table(keras.Model(inp, out)).set_index("layer")
    assert t.loc["d1", "a_bits"] == 16 and t.loc["d1", "out_bits"] == 16
    assert t.loc["a1", "out_bits"] == 4
    assert t.loc["drop", "a_bits"] == 4 and t.loc["drop", "out_bits"] == 4
    assert t.loc["d2", "a_bits"] == 4 and t.loc["d2", "w_bits"] == 8 and t.loc["d2", "out_bits"] == 3
    assert t.loc["d3", "a_bits"] == 3
    assert t.loc["add", "a_bits"] == 8 and t.loc["add", "out_bits"] == 8  # max(8, 4)
    assert t.loc["relu", "out_bits"] == 16  # float activation: hls4ml default precision
    assert t.loc["d4", "a_bits"] == 16 and t.loc["d4", "w_bits"] == 32


def test_float_model():
    m = keras.Sequential([keras.Input((10,)), L.Dense(20, activation="relu", name="d1"), L.Dense(3, name="d2")])
    t = layer_table(m).set_index("layer")
    assert (t["w_bits"] == 32).all()
    assert t.loc["d1", "bops"] == pytest.approx(200 * (32 * 16 + 32 + 16 + math.log2(10)))
    assert t.loc["d1", "dsp"] == 200 * 2  # 32 x 16 bits: two DSP48E2 (27 x 18) per product


def test_dot_activation_products():
    inp = keras.Input((8, 4))
    a = qkeras.QActivation(qkeras.quantized_bits(6, 2), name="qa")(inp)
    b = qkeras.QActivation(qkeras.quantized_bits(4, 1), name="qb")(inp)
    d = L.Dot(axes=2, name="dot")([a, b])  # (8, 8), contracted over 4
    r = row(layer_table(keras.Model(inp, d)), "dot")
    assert r.macs == 8 * 8 * 4 and r.fan_in == 4
    assert r.a_bits == 6 and r.w_bits == 4 and r.sparsity == 0 and r.out_bits == 6
    assert r.bops == pytest.approx(256 * (6 * 4 + 6 + 4 + 2))
    assert r.params == 0


def test_batchnorm_fused_only_after_float_dense():
    inp = keras.Input((8,))
    x = L.Dense(4, name="d")(inp)
    x = L.BatchNormalization(name="bn_fused")(x)
    x = qkeras.QDense(4, kernel_quantizer=qbits(6), name="q")(x)
    x = L.BatchNormalization(name="bn")(x)
    t = layer_table(keras.Model(inp, x)).set_index("layer")
    assert t.loc["bn_fused", "macs"] == 0 and t.loc["bn_fused", "params"] == 16
    assert t.loc["bn", "macs"] == 4 and t.loc["bn", "fan_in"] == 1


def test_pooling_and_passthrough_layers():
    inp = keras.Input((8, 8, 3))
    x = qkeras.QConv2D(4, 3, padding="same", kernel_quantizer=qbits(6), name="c")(inp)
    x = qkeras.QActivation("quantized_relu(5)", name="r")(x)
    x = L.MaxPooling2D(name="mp")(x)
    g = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Flatten(name="f")(x)
    t = layer_table(keras.Model(inp, [x, g])).set_index("layer")
    assert t.loc["mp", "macs"] == 0 and t.loc["mp", "out_bits"] == 5 and t.loc["mp", "lut"] == 4 * 4 * 4 * 3 * 5
    assert t.loc["gap", "lut"] == 4 * 15 * 5
    assert (t.loc["f", ["macs", "bops", "lut", "ff", "dsp", "latency_cycles"]] == 0).all()


def test_nested_model_and_unknown_layer():
    inner = keras.Sequential([keras.Input((6,)), qkeras.QDense(5, kernel_quantizer=qbits(6), name="qd")],
                             name="inner")
    inp = keras.Input((6,))
    x = inner(inp)
    x = L.LayerNormalization(name="ln")(x)
    costs._layers._WARNED.discard("LayerNormalization")
    with pytest.warns(RuntimeWarning, match="LayerNormalization"):
        t = layer_table(keras.Model(inp, x)).set_index("layer")
    assert t.loc["inner/qd", "macs"] == 30
    assert t.loc["ln", "params"] == 10 and t.loc["ln", "macs"] == 0


def test_bad_options():
    m = qdense_model()
    for bad in ({"reuse_factor": 0}, {"reuse_factor": 1.5}, {"strategy": "fast"}, {"io_type": "io_serial"}):
        with pytest.raises(ValueError):
            layer_table(m, **bad)


# -------------------------------------------------------------------------------------- evaluate/registry


def chain_model():
    inp = keras.Input((11, 11, 1))
    x = qkeras.QConv2D(8, 3, kernel_quantizer=qbits(8), name="c1")(inp)
    x = qkeras.QActivation("quantized_relu(6)")(x)
    x = qkeras.QConv2D(4, 3, strides=2, kernel_quantizer=qbits(10), name="c2")(x)
    x = qkeras.QActivation("quantized_relu(6)")(x)
    x = L.Flatten()(x)
    x = qkeras.QDense(16, kernel_quantizer=qbits(12), name="d1")(x)
    x = qkeras.QActivation("quantized_relu(6)")(x)
    x = qkeras.QDense(2, kernel_quantizer=qbits(6), name="d2")(x)
    return keras.Model(inp, L.Softmax()(x))


def test_evaluate_equals_table_sums():
    m = chain_model()
    for opts in ({}, {"reuse_factor": 2, "strategy": "resource"}):
        t = layer_table(m, **opts)
        ev = evaluate(m, **opts)
        assert set(BUILTINS) <= set(ev)
        for k in ["params", "nonzero_params", "macs", "bops", "lut", "ff", "dsp", "bram", "latency_cycles"]:
            assert ev[k] == pytest.approx(float(t[k].sum())), k
        assert ev["ebops"] == pytest.approx(t["lut"].sum() + 55 * t["dsp"].sum())
        assert all(isinstance(v, float) for v in ev.values())
    assert ev["bram"] > 0
    assert evaluate(m, "macs") == {"macs": float(layer_table(m)["macs"].sum())}
    assert get_cost("bops")(m) == evaluate(m)["bops"]


def test_latency_is_longest_path_on_branches():
    inp = keras.Input((16,))
    a = qkeras.QDense(16, kernel_quantizer=qbits(6), name="a")(inp)
    b = qkeras.QDense(16, kernel_quantizer=qbits(6), name="b")(inp)
    s = L.Add(name="s")([a, b])
    t = layer_table(keras.Model(inp, s))
    assert evaluate(keras.Model(inp, s))["latency_cycles"] == 6 + 1 < t["latency_cycles"].sum()


def test_registry_builtins_and_errors():
    assert available_costs()[: len(BUILTINS)] == ["params", "nonzero_params", "macs", "bops", "lut", "ff", "dsp",
                                                  "bram", "latency_cycles", "ebops"]
    assert all(is_cost(n) and cost_direction(n) == "min" for n in BUILTINS)
    assert not is_cost("nope")
    with pytest.raises(UnknownCostError, match="bops") as err:
        get_cost("nope")
    assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)
    assert "'nope'" in str(err.value) and "latency_cycles" in str(err.value)
    with pytest.raises(ValueError, match="built-in"):
        register_cost("bops", lambda m: 0.0)
    with pytest.raises(ValueError, match="direction"):
        register_cost("x", lambda m: 0.0, direction="up")


def test_register_custom_cost_decorator_and_evaluate():
    @register_cost("n_layers_test", direction="max", description="number of layers")
    def n_layers(model):
        return len(model.layers)

    try:
        assert is_cost("n_layers_test") and cost_direction("n_layers_test") == "max"
        assert get_cost("n_layers_test").description == "number of layers"
        m = qdense_model()
        assert n_layers(m) == 2  # the decorator returns the function unchanged
        ev = evaluate(m, ["macs", "n_layers_test"])
        assert ev == {"macs": 1024.0, "n_layers_test": 2.0}
        assert "n_layers_test" in evaluate(m)
        register_cost("n_layers_test", lambda model: 7, direction="max")  # re-registering replaces
        assert evaluate(m, "n_layers_test")["n_layers_test"] == 7.0
    finally:
        unregister_cost("n_layers_test")
    assert not is_cost("n_layers_test")


def test_weighted():
    m = chain_model()
    f = weighted(lut=1.0, ff=0.5, dsp=2.0, bram=1.0)
    assert f.__name__ == "weighted_cost" and callable(f)
    ev = evaluate(m)
    assert f(m) == pytest.approx(ev["lut"] + 0.5 * ev["ff"] + 2.0 * ev["dsp"] + ev["bram"])
    ev4 = evaluate(m, reuse_factor=4)
    assert f(m, reuse_factor=4) == pytest.approx(ev4["lut"] + 0.5 * ev4["ff"] + 2.0 * ev4["dsp"] + ev4["bram"])
    with pytest.raises(UnknownCostError, match="registered costs: .*bops"):
        weighted(lut=1.0, luts=2.0)
    with pytest.raises(ValueError):
        weighted()


def test_twenty_layers_chain():
    inp = keras.Input((64,))
    x = inp
    for i in range(10):
        x = qkeras.QDense(64, kernel_quantizer=qbits(6), name=f"d{i}")(x)
        x = qkeras.QActivation("quantized_relu(6)")(x)
    m = keras.Model(inp, x)
    assert np.isclose(evaluate(m)["macs"], 10 * 64 * 64)


def test_depthwise_separable_and_wrapped_layers():
    inp = keras.Input((11, 11, 4))
    x = qkeras.QDepthwiseConv2D(3, depthwise_quantizer=qbits(6), name="dw")(inp)  # -> 9x9x4
    x = qkeras.QSeparableConv2D(8, 3, depthwise_quantizer=qbits(6), pointwise_quantizer=qbits(6), name="sep")(x)
    x = L.TimeDistributed(L.Dense(3), name="td")(x)  # Dense over 7 rows x 7 cols of 8 features
    t = layer_table(keras.Model(inp, x)).set_index("layer")
    assert t.loc["dw", "macs"] == 81 * 4 * 9 and t.loc["dw", "fan_in"] == 9 and t.loc["dw", "w_bits"] == 6
    assert t.loc["sep", "macs"] == 49 * (9 * 4 + 4 * 8)
    assert t.loc["td", "macs"] == 49 * 8 * 3 and t.loc["td", "params"] == 8 * 3 + 3


def test_distributed_arithmetic_estimate_has_no_dsp_and_grows_with_bits_and_width():
    from kerasnac._keras import keras, qkeras

    def m(units, bits):
        inp = keras.Input((16,))
        x = qkeras.QDense(units, kernel_quantizer=f"quantized_bits({bits},0,alpha=1)", name="d")(inp)
        return keras.Model(inp, qkeras.QActivation(f"quantized_relu({bits},0)")(x))

    da = lambda model: evaluate(model, ["lut", "dsp"], strategy="distributed_arithmetic")  # noqa: E731
    small = da(m(8, 4))
    assert small["dsp"] == 0 and evaluate(m(8, 12), ["dsp"])["dsp"] > 0 == da(m(8, 12))["dsp"]
    assert 0 < small["lut"] < da(m(16, 4))["lut"] and small["lut"] < da(m(8, 8))["lut"]


def _bn_model(scale: float, shift: float = 0.0):
    from kerasnac._keras import keras, qkeras

    inp = keras.Input((6, 3))
    x = qkeras.QDense(4, kernel_quantizer="quantized_bits(6,0,alpha=1)", name="d")(inp)
    x = qkeras.QActivation("quantized_relu(6,0)", name="a")(x)
    bn = L.BatchNormalization(name="bn")
    m = keras.Model(inp, bn(x))
    # scale = gamma / sqrt(var + eps): set var so that the scale is exact, and beta for the shift
    bn.moving_variance.assign(np.full(4, 1.0 / scale ** 2 - bn.epsilon, np.float32))
    bn.beta.assign(np.full(4, shift, np.float32))
    return m


def test_batchnorm_under_distributed_arithmetic_counts_the_digits_of_its_scale():
    from kerasnac.costs import _fpga
    from kerasnac.costs._layers import batchnorm_adders, naf_digits

    assert list(naf_digits([0, 1, 3, 7, 1023, -5])) == [0, 1, 2, 2, 2, 2]  # 7 = 8 - 1, 1023 = 1024 - 1
    da = {s: layer_table(_bn_model(s), strategy="distributed_arithmetic").set_index("layer").loc["bn"]
          for s in (1.0, 0.75, 0.6)}
    assert da[1.0]["lut"] == 0  # x * 1: no adder
    assert batchnorm_adders(_bn_model(0.75).get_layer("bn")) == 4  # 0.75 = 1 - 1/4: one adder per channel
    per_adder = _fpga.DA_LUT_PER_ADDER_BIT * (6 + 16 * _fpga.DA_ADDER_WEIGHT_BITS + _fpga.DA_ADDER_EXTRA_BITS)
    assert da[0.75]["lut"] == pytest.approx(math.ceil(6 * 4 * per_adder), abs=1)  # 6 set elements x 4 channels
    assert da[0.6]["lut"] > da[0.75]["lut"]  # 0.6 has more signed digits on the 2**-10 grid
    shifted = layer_table(_bn_model(1.0, shift=0.5), strategy="distributed_arithmetic").set_index("layer").loc["bn"]
    assert shifted["lut"] > 0
    # the Latency estimate does not depend on the values (16-bit multiplications by the scale)
    lat = [layer_table(_bn_model(s)).set_index("layer").loc["bn", "lut"] for s in (1.0, 0.6)]
    assert lat[0] == lat[1] > 0


def test_distributed_arithmetic_scales_only_the_element_wise_luts(monkeypatch):
    from kerasnac.costs import _fpga

    m = _bn_model(1.0)
    lat = layer_table(m).set_index("layer")
    monkeypatch.setattr(_fpga, "DA_ELEMENTWISE_SCALE", {"activation": 0.5, "reduction": 0.0})
    da = layer_table(m, strategy="distributed_arithmetic").set_index("layer")
    assert da.loc["a", "lut"] == math.ceil(0.5 * lat.loc["a", "lut"]) and da.loc["a", "ff"] == lat.loc["a", "ff"]
    assert layer_table(m).set_index("layer").loc["a", "lut"] == lat.loc["a", "lut"]  # Latency untouched


def test_conv_under_distributed_arithmetic_skips_taps_on_padding():
    from kerasnac.costs._handlers import valid_tap_fraction

    assert valid_tap_fraction((4, 4), (4, 4), (3, 3), (1, 1), "same") == pytest.approx((10 / 12) ** 2)
    assert valid_tap_fraction((2,), (2,), (3,), (1,), "same") == pytest.approx(4 / 6)
    assert valid_tap_fraction((5, 5), (3, 3), (3, 3), (1, 1), "valid") == 1.0

    def conv(padding):
        keras.utils.set_random_seed(0)
        inp = keras.Input((4, 4, 1))
        out = qkeras.QConv2D(4, 3, padding=padding, kernel_quantizer=qbits(6), name="c")(inp)
        return keras.Model(inp, out)

    same, valid = conv("same"), conv("valid")
    da = lambda m: layer_table(m, strategy="distributed_arithmetic").set_index("layer").loc["c", "lut"]  # noqa: E731
    lat = lambda m: layer_table(m).set_index("layer").loc["c", "lut"]  # noqa: E731
    # 16 positions with 100 of 144 taps on inputs, against 4 positions with all 9
    assert da(same) == pytest.approx(da(valid) * 16 / 4 * (10 / 12) ** 2, rel=0.05)
    assert lat(same) == lat(valid)  # Latency: the kernel's multipliers are shared by the positions, as before

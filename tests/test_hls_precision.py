"""hls4ml precisions that must reproduce QKeras where hls4ml 1.3's own passes would not.

* A QDense on a set (Deep Sets phi) followed by BatchNormalization: hls4ml rebuilds the Dense as a
  1x1 convolution without quantizers and fuses the BN into it; the fused weights must equal
  ``scale * Q(w)`` in a type that holds them (they saturated in the QDense's ``ap_fixed<b,1>``).
* ``quantized_relu(b, i, negative_slope=s)``: QKeras clips the negative side at ``-s * 2^i``,
  hls4ml's ``leaky_relu`` does not.

The fast tests emulate the C++ casts in numpy on the converted hls4ml graph (no g++); the ``gxx``
tests compile the C simulation and compare it with Keras.
"""

import shutil

import numpy as np
import pytest

import kerasnac as kn
from kerasnac._keras import keras, qkeras
from kerasnac.callbacks import Candidate, HLS4MLExport
from kerasnac.callbacks import _hls_config, _hls_layers

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="hls4ml's C simulation needs g++")
Q8 = {"weight_bits": 8, "activation_bits": 8, "activation_integer": 2}


def ap_cast(x, p):
    """numpy emulation of casting float ``x`` to the ap_fixed type ``p`` (an hls4ml FixedPrecisionType)."""
    frac = p.width - p.integer
    q = np.asarray(x, dtype=np.float64) * 2.0 ** frac
    mode = str(p.rounding_mode)
    q = {"TRN": np.floor, "RND_CONV": np.round}.get(mode, lambda v: np.floor(v + 0.5))(q)
    lo = -(2 ** (p.width - 1)) if p.signed else 0
    hi = (2 ** (p.width - 1) if p.signed else 2 ** p.width) - 1
    if "SAT" in str(p.saturation_mode):
        q = np.clip(q, lo, hi)
    else:
        q = (q - lo) % (2 ** p.width) + lo
    return q / 2.0 ** frac


def deepsets_with_strong_batchnorm(seed=0):
    """A tiny 8-bit Deep Sets model whose phi BatchNormalization scales by about 3."""
    keras.utils.set_random_seed(seed)
    space = kn.SearchSpace((8, 3), [{"deepsets": {"phi_layers": 1, "phi_units": 8, "aggregation": "mean",
                                                  "rho_layers": 1, "rho_units": 8, "batchnorm": True}}],
                           num_classes=5, quant=Q8)
    model = space.model_from_values(space.complete_values({}))
    rng = np.random.default_rng(seed)
    bn = model.get_layer("s0_phi0_bn")
    # trained BNs of the 12-bit jets model scaled by up to 2.7; the fused weights then exceed 1
    bn.set_weights([np.full(8, 3.0), rng.normal(0, 0.3, 8), rng.normal(0, 0.1, 8), np.ones(8)])
    x = rng.normal(size=(300, 8, 3)).astype("float32")
    return model, x


def test_batchnorm_fused_into_a_set_dense_keeps_qkeras_weights(tmp_path):
    model, x = deepsets_with_strong_batchnorm()
    hls_model, _ = HLS4MLExport().convert(model, str(tmp_path / "prj"), x)
    names = {layer.name for layer in hls_model.get_layers()}
    assert "s0_phi0_bn" not in names  # hls4ml fused it into the 1x1 convolution (the case under test)
    conv, bn = model.get_layer("s0_phi0"), model.get_layer("s0_phi0_bn")
    gamma, beta, mean, var = (np.asarray(w, dtype=np.float64) for w in bn.get_weights())
    scale = gamma / np.sqrt(var + bn.epsilon)
    q_w = conv.kernel_quantizer_internal(conv.kernel).numpy()
    q_b = conv.bias_quantizer_internal(conv.bias).numpy()
    want_w, want_b = q_w * scale, q_b * scale + beta - mean * scale
    assert np.abs(want_w).max() > 1.5  # beyond the QDense's own ap_fixed<8,1>
    node = hls_model.graph["s0_phi0"]
    for key, want in (("weight", want_w), ("bias", want_b)):
        var_ = node.weights[key]
        got = ap_cast(var_.data, var_.type.precision).reshape(want.shape)
        assert np.abs(got - want).max() <= 2e-4, (key, str(var_.type.precision))
    # the layer trace compares the fused node with the BatchNormalization's output
    assert _hls_layers.keras_counterparts(model, hls_model)["s0_phi0"] == "s0_phi0_bn"


def test_deepsets_mean_keeps_the_fraction_bits_of_the_division(tmp_path):
    model, x = deepsets_with_strong_batchnorm()
    hls_model, _ = HLS4MLExport().convert(model, str(tmp_path / "prj"), x)
    probe = keras.Model(model.inputs, [model.get_layer("s0_phi0_act").output, model.get_layer("s0_mean").output])
    phi, mean = (np.asarray(o, dtype=np.float64) for o in probe.predict(x, verbose=0))
    node = hls_model.graph["s0_mean"]
    acc_t, res_t = node.get_attr("accum_t").precision, node.get_output_variable().type.precision
    # nnet::avg: y = sum in accum_t, then y /= n in accum_t, then the cast to the result type
    y = ap_cast(ap_cast(phi.sum(axis=1), acc_t) / phi.shape[1], acc_t)
    assert np.abs(ap_cast(y, res_t) - mean).max() <= 1e-6  # the mean of 8 values on a 2^-F grid is exact


def leaky_mlp(seed=0):
    """Dense -> quantized_relu(8,0,negative_slope=0.125) whose inputs reach below -1."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((4,), name="inputs")
    h = qkeras.QDense(8, kernel_quantizer="quantized_bits(8,0,alpha=1)", bias_quantizer="quantized_bits(8,0,alpha=1)",
                      name="d0")(inp)
    h = qkeras.QActivation("quantized_relu(8,0,negative_slope=0.125)", name="d0_act")(h)
    out = qkeras.QDense(2, kernel_quantizer="quantized_bits(8,0,alpha=1)",
                        bias_quantizer="quantized_bits(8,0,alpha=1)", name="head")(h)
    model = keras.Model(inp, out)
    x = np.random.default_rng(seed).normal(0, 1.5, size=(300, 4)).astype("float32")
    return model, x


def test_leaky_quantized_relu_clips_its_negative_side_like_qkeras(tmp_path):
    model, x = leaky_mlp()
    hls_model, _ = HLS4MLExport().convert(model, str(tmp_path / "prj"), x)
    probe = keras.Model(model.inputs, [model.get_layer("d0").output, model.get_layer("d0_act").output])
    d, act = (np.asarray(o, dtype=np.float64) for o in probe.predict(x, verbose=0))
    assert np.mean(d < -1) > 0.05  # QKeras's clip at -0.125 matters for these inputs
    # hls4ml: the Dense result is cast to its result type, then leaky_relu, then the activation's type
    dense_t = hls_model.graph["d0"].get_output_variable().type.precision
    act_node = hls_model.graph["d0_act"]
    h = ap_cast(d, dense_t)
    h = ap_cast(np.where(h > 0, h, act_node.get_attr("activ_param") * h), act_node.get_output_variable().type.precision)
    assert np.abs(h - act).max() <= 1e-6
    # and nothing is rounded on the way: the clipped Dense result keeps the accumulator's fraction bits
    acc_t = hls_model.graph["d0"].get_attr("accum_t").precision
    assert dense_t.width - dense_t.integer == acc_t.width - acc_t.integer


@needs_gxx
@pytest.mark.slow  # g++ build, 45-90 s here
def test_csim_of_deepsets_with_fused_batchnorm_agrees(tmp_path):
    model, x = deepsets_with_strong_batchnorm()
    cand = Candidate(model, "c0", {}, task="classification", validation_data=(x, None), output_dir=str(tmp_path))
    row = HLS4MLExport(synth=False, on_error="raise").on_candidate(cand)
    assert row["csim_agreement"] >= 0.99 and row["csim_ok"], row


@needs_gxx
@pytest.mark.slow
def test_csim_of_leaky_quantized_relu_matches_keras(tmp_path):
    model, x = leaky_mlp()
    cand = Candidate(model, "c0", {}, task="regression", validation_data=(x, None), output_dir=str(tmp_path))
    row = HLS4MLExport(synth=False, on_error="raise").on_candidate(cand)
    assert row["csim_max_abs_diff"] <= 1e-2 and row["csim_ok"], row


def test_leaky_relu_whose_input_feeds_other_layers_is_reported(tmp_path):
    keras.utils.set_random_seed(0)
    inp = keras.Input((4,), name="inputs")
    d = qkeras.QDense(4, kernel_quantizer="quantized_bits(8,0,alpha=1)", bias_quantizer="quantized_bits(8,0,alpha=1)",
                      name="d0")(inp)
    act = qkeras.QActivation("quantized_relu(8,0,negative_slope=0.125)", name="d0_act")(d)
    out = keras.layers.Add(name="skip")([act, d])  # d0 also feeds the Add: it cannot be clipped
    model = keras.Model(inp, out)
    x = np.random.default_rng(0).normal(0, 1.5, size=(64, 4)).astype("float32")
    hls_model, _ = HLS4MLExport().convert(model, str(tmp_path / "prj"), x)
    notes = _hls_config.known_mismatches(hls_model)
    assert len(notes) == 1 and notes[0].startswith("d0_act:") and "'d0'" in notes[0]
    leaky_model, x = leaky_mlp()  # a sole consumer is clipped instead: nothing to report
    assert _hls_config.known_mismatches(HLS4MLExport().convert(leaky_model, str(tmp_path / "p2"), x)[0]) == []

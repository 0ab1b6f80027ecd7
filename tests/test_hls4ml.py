"""HLS4MLExport: block conversion matrix (hls4ml + g++ C simulation vs Keras), config choices,
failure handling and synthesis-report parsing.

The matrix cases compile a C simulation each (g++, ~7-15 s on one core); they print their compile
time (``pytest -s``). Run only the fast tests with ``-k "not matrix"``.
"""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import kerasnac as kn
from kerasnac._keras import keras
from kerasnac.callbacks import Candidate, HLS4MLExport, HLS4MLExportError, get_callback
from kerasnac.callbacks import _hls_config, _hls_layers, _hls_report

DATA = os.path.join(os.path.dirname(__file__), "data")
needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="hls4ml's C simulation needs g++")
Q8 = {"weight_bits": 8, "activation_bits": 8, "activation_integer": 2}

# name -> (input shape, stages, task, marks)
CASES = {
    "mlp": ((16,), [{"mlp": {"layers": 2, "units": 16, "batchnorm": False}}], "classification", ()),
    "mlp_batchnorm": ((16,), [{"mlp": {"layers": 1, "units": 16, "batchnorm": True}}], "classification", ("slow",)),
    "deepsets_mean": ((8, 3), [{"deepsets": {"phi_layers": 1, "phi_units": 8, "aggregation": "mean",
                                             "rho_layers": 1, "rho_units": 8}}], "classification", ()),
    "deepsets_max": ((8, 3), [{"deepsets": {"phi_layers": 1, "phi_units": 8, "aggregation": "max",
                                            "rho_layers": 0}}], "classification", ("slow",)),
    "conv1d_bn_maxpool": ((12, 2), [{"conv": {"layers": 1, "filters": 4, "kernel_size": 3, "batchnorm": True,
                                              "pooling": "max"}}], "classification", ()),
    "conv2d_bn_avgpool": ((8, 8, 1), [{"conv": {"layers": 1, "filters": 4, "kernel_size": 3, "batchnorm": True,
                                                "pooling": "avg"}}], "classification", ("slow",)),
    "conv_attn_2d": ((6, 6, 1), [{"conv_attn": {"filters": 4, "kernel_size": 3, "padding": "valid",
                                                "activation": "leaky_relu"}}], "regression", ()),
    "conv_attn_1d": ((8, 2), [{"conv_attn": {"filters": 4, "kernel_size": 3}}], "classification", ("slow",)),
    "skip_mlp_regression": ((16,), [{"skip": {}}, {"mlp": {"layers": 1, "units": 8}}], "regression", ()),
}


def build_trained(shape, stages, task, seed=0, n=512):
    """A small 8-bit model from the search space, trained one epoch on seeded random data."""
    keras.utils.set_random_seed(seed)
    kw = {"num_classes": 5} if task == "classification" else {"task": "regression", "n_outputs": 2}
    space = kn.SearchSpace(shape, stages, quant=Q8, **kw)
    model = space.model_from_values(space.complete_values({}))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n,) + tuple(shape)).astype("float32")
    y = keras.utils.to_categorical(rng.integers(0, 5, n), 5) if task == "classification" else rng.normal(size=(n, 2))
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    x_val = rng.normal(size=(500,) + tuple(shape)).astype("float32")
    return model, x_val


def candidate(model, x_val, task, tmp_path, cid="c0", y_val=None):
    return Candidate(model, cid, {"trial_id": "00"}, task=task, validation_data=(x_val, y_val),
                     output_dir=str(tmp_path / cid))


@needs_gxx
@pytest.mark.parametrize("case", [pytest.param(k, marks=[getattr(pytest.mark, m) for m in v[3]]) for k, v in CASES.items()])
def test_matrix_block_converts_and_csim_agrees(case, tmp_path):
    shape, stages, task, _ = CASES[case]
    model, x_val = build_trained(shape, stages, task)
    labels = np.arange(len(x_val)) % 5 if task == "classification" else None  # sparse labels
    row = HLS4MLExport(synth=False, on_error="raise").on_candidate(candidate(model, x_val, task, tmp_path, y_val=labels))
    print(f"\n[hls4ml matrix] {case}: compile {row['hls_compile_s']:.1f} s, convert {row['hls_convert_s']:.2f} s, "
          + (f"agreement {row['csim_agreement']:.3f} (strict {row['csim_strict_agreement']:.3f}, "
             f"ties {row['csim_ties']:.3f})" if task == "classification" else
             f"mean |diff| {row['csim_mean_abs_diff']:.2e}, max |diff| {row['csim_max_abs_diff']:.2e} "
             f"(tolerance {row['csim_tolerance']:.2e})"))
    assert row["csim_ok"], row
    assert os.path.isfile(os.path.join(row["hls_dir"], "firmware", "myproject.cpp"))
    if task == "classification":
        assert row["csim_agreement"] >= 0.99
        assert abs(row["csim_accuracy"] - row["keras_accuracy"]) <= 0.01
    else:
        assert row["csim_mean_abs_diff"] <= row["csim_tolerance"]
    assert row["resource_source"] == "estimated"
    for col in ("lut", "ff", "dsp", "bram", "latency_cycles"):
        assert col in row and row[col] >= 0


@needs_gxx
def test_trace_finds_first_deviating_layer(tmp_path):
    shape, stages, task, _ = CASES["mlp"]
    model, x_val = build_trained(shape, stages, task)
    # a result type that truncates and wraps the hidden layer: the firmware is wrong from there on
    cb = HLS4MLExport(synth=False, n_samples=200, layer_config={"s0_dense1": {"Precision": {"result": "fixed<6,1>"}}})
    row = cb.on_candidate(candidate(model, x_val, task, tmp_path))
    assert row["csim_ok"] is False and "hls_error" not in row
    assert row["csim_first_bad_layer"] == "s0_dense1"
    assert row["csim_first_bad_err"] > cb.trace_tolerance
    assert os.path.isfile(os.path.join(row["hls_dir"], "csim_trace.json"))


def test_unconvertible_model_gives_clear_row_or_error(tmp_path):
    inp = keras.Input((4, 4, 4, 1))
    out = keras.layers.Dense(2)(keras.layers.Flatten()(keras.layers.Conv3D(2, 2, name="vol")(inp)))
    model = keras.Model(inp, out)
    x = np.random.default_rng(0).normal(size=(8, 4, 4, 4, 1)).astype("float32")
    cand = candidate(model, x, "regression", tmp_path)
    row = HLS4MLExport(synth=False).on_candidate(cand)
    assert row["csim_ok"] is False
    assert row["hls_stage"] in ("config", "convert")
    assert "Conv3D" in row["hls_error"] and "'c0'" in row["hls_error"]
    assert row["resource_source"] == "estimated"  # the row still carries the estimates
    with pytest.raises(HLS4MLExportError, match="Conv3D") as info:
        HLS4MLExport(synth=False, on_error="raise").on_candidate(cand)
    assert info.value.stage in ("config", "convert")


@needs_gxx
@pytest.mark.slow
def test_softmax_layer_compiles_and_gxx_errors_are_reported(tmp_path):
    """A keras.layers.Softmax *layer* trips an hls4ml 1.3 naming bug that kerasnac's config fixes;
    putting the bug back (layer_config) gives a g++ error, reported in the row with its lines."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d"), keras.layers.Softmax(name="sm")])
    x = np.random.default_rng(0).normal(size=(200, 4)).astype("float32")
    # synth=True without Vitis: the synthesis step fails, the passed C-simulation check stays
    row = HLS4MLExport(synth=True).on_candidate(candidate(model, x, "classification", tmp_path, "ok"))
    assert row["csim_ok"] and row["csim_agreement"] >= 0.99, row
    if shutil.which("vitis-run") is None:
        assert row["hls_stage"] == "synth" and "vitis-run" in row["hls_error"]
        assert row["resource_source"] == "estimated"
    bad = HLS4MLExport(synth=False, layer_config={"sm": {"activation": "Softmax"}})
    row = bad.on_candidate(candidate(model, x, "classification", tmp_path, "bad"))
    assert row["csim_ok"] is False and row["hls_stage"] == "compile"
    assert "[g++: " in row["hls_error"] and "Softmax_config" in row["hls_error"]


@needs_gxx
@pytest.mark.slow
def test_csim_crash_does_not_kill_the_process(tmp_path):
    shape, stages, task, _ = CASES["mlp"]
    model, x_val = build_trained(shape, stages, task)
    # ap_fixed wider than 1024 bits compiles, then exit(1)s when the library runs
    cb = HLS4MLExport(synth=False, layer_config={"head_dense": {"Precision": {"result": "fixed<2048,10>"}}})
    row = cb.on_candidate(candidate(model, x_val, task, tmp_path))
    assert row["csim_ok"] is False and row["hls_stage"] == "predict", row
    assert "C simulation crashed (exit code 1)" in row["hls_error"] and "1024" in row["hls_error"]


def test_csim_worker_raises_its_own_stack_limit_before_numpy(tmp_path):
    # the parent runs TensorFlow's threads, so the C-simulation worker is started without preexec_fn
    # (gRPC's fork handler aborted such children now and then); the worker raises its limit and re-execs
    from kerasnac.callbacks import _csim

    script = tmp_path / "probe.py"
    script.write_text("import importlib.util, resource, sys\n"
                      f"spec = importlib.util.spec_from_file_location('w', {_csim.WORKER!r})\n"
                      "w = importlib.util.module_from_spec(spec); spec.loader.exec_module(w)\n"
                      "w.raise_stack_limit()\n"
                      "print(resource.getrlimit(resource.RLIMIT_STACK)[0])\n")
    proc = subprocess.run(["bash", "-c", f"ulimit -S -s 8192 && exec {sys.executable} {script}"],
                          capture_output=True, text=True, check=True, env={**os.environ, "KERASNAC_CSIM_STACK_RAISED": ""})
    soft = proc.stdout.strip()
    import resource

    hard = resource.getrlimit(resource.RLIMIT_STACK)[1]
    if hard != resource.RLIM_INFINITY and hard <= 8192 * 1024:
        pytest.skip("the hard stack limit leaves nothing to raise")
    want = 1 << 30 if hard == resource.RLIM_INFINITY else hard
    assert int(soft) == want
    worker = open(_csim.WORKER).read()  # run as a script it raises the limit before numpy starts its threads
    assert worker.index("    raise_stack_limit()") < worker.index("import numpy")
    assert "preexec_fn=" not in open(_csim.__file__).read()


# ---------------------------------------------------------------------------- config choices
def test_input_precision_from_data():
    assert _hls_config.input_precision_from_data(np.array([0.3, -3.2])) == "fixed<16,4,RND_CONV,SAT>"
    assert _hls_config.input_precision_from_data(np.array([0.0, 0.4])) == "fixed<16,1,RND_CONV,SAT>"
    assert _hls_config.input_precision_from_data(np.array([1000.0])) == "fixed<20,12,RND_CONV,SAT>"
    assert _hls_config.input_precision_from_data(np.array([np.nan, 1.0])) == "fixed<16,2,RND_CONV,SAT>"


def test_round_like_qkeras_and_value_precision():
    assert _hls_config.round_like_qkeras("fixed<8,1,TRN,WRAP,0>") == "fixed<8,1,RND_CONV,SAT>"
    assert _hls_config.round_like_qkeras("ufixed<6,0>") == "ufixed<6,0,RND_CONV,SAT>"
    assert _hls_config.round_like_qkeras("auto") == "auto"
    assert _hls_config.value_precision([0.9, -0.2]) == "fixed<16,1,RND_CONV,SAT>"
    assert _hls_config.value_precision([1.0]) == "fixed<16,2,RND_CONV,SAT>"
    assert _hls_config.value_precision([37.0]) == "fixed<16,7,RND_CONV,SAT>"


def test_config_from_quantizers_softmax_and_attention(seed):
    space = kn.SearchSpace((6, 6, 1), [{"conv_attn": {"filters": 4, "kernel_size": 3, "padding": "valid"}}],
                           num_classes=3, quant=Q8)
    model = space.model_from_values(space.complete_values({}))
    x = np.random.default_rng(0).uniform(-2.5, 2.5, size=(16, 6, 6, 1))
    cfg = HLS4MLExport(reuse_factor=2, strategy="resource").hls_config(model, x)
    layers = cfg["LayerName"]
    assert cfg["Model"]["Strategy"] == "Resource" and cfg["Model"]["ReuseFactor"] == 2
    assert layers["inputs"]["Precision"]["result"] == "fixed<16,4,RND_CONV,SAT>"
    assert layers["s0_conv"]["Precision"]["weight"] == "fixed<8,1,RND_CONV,SAT>"
    assert layers["s0_conv"]["ReuseFactor"] == 2
    assert layers["s0_conv_act"]["Precision"]["result"].startswith("ufixed<8,2")
    head = layers["head_softmax"]
    assert head["exp_table_t"] == "ufixed<18,1,RND,SAT>" and head["inp_norm_t"] == "ufixed<10,3,RND,SAT>"
    assert head["Precision"]["accum"] == "ufixed<20,3,RND,SAT>"  # a sum of 3 exponentials lies in [1, 3]
    attention = layers["s0_softmax"]  # softmax over the rows of a 16 x 16 attention map
    assert (attention["n_outer"], attention["n_inner"], attention["activation"]) == (16, 1, "softmax")
    assert attention["Precision"]["accum"] == "ufixed<22,5,RND,SAT>"
    with pytest.raises(ValueError, match="not in the model"):
        HLS4MLExport(layer_config={"nope": {}}).hls_config(model, x)


def test_rank2_dot_becomes_einsum_with_keras_semantics():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 5, 3))
    for axes, (x, y) in ((2, (a, b)), ((1, 1), (a, b)), ((2, 1), (rng.normal(size=(2, 5, 5)), a))):
        eq, shape = _hls_layers._dot_equation(list(x.shape[1:]), list(y.shape[1:]), axes)
        ref = keras.layers.Dot(axes=axes)([x, y]).numpy()
        lhs, out = eq.split("->")
        got = np.einsum(f"z{lhs.split(',')[0]},z{lhs.split(',')[1]}->z{out}", x, y)
        assert list(ref.shape[1:]) == shape
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_arguments_are_checked_and_registered():
    assert isinstance(get_callback("hls4ml"), HLS4MLExport)
    for kw in ({"io_type": "io_serial"}, {"strategy": "fast"}, {"backend": "Quartus"}, {"reuse_factor": 0},
               {"on_error": "ignore"}, {"n_samples": 0}, {"output_dir": "."}):
        with pytest.raises(ValueError):
            HLS4MLExport(**kw)


def test_output_dir_relative_or_absolute(tmp_path):
    cand = Candidate(None, "t3", {}, output_dir=str(tmp_path / "t3"))
    assert HLS4MLExport().project_dir(cand) == str(tmp_path / "t3" / "hls")
    assert HLS4MLExport(output_dir=str(tmp_path / "all")).project_dir(cand) == str(tmp_path / "all" / "t3")


# ---------------------------------------------------------------------------- synthesis reports
def test_parse_vitis_csynth_report():
    path = _hls_report.find_csynth_xml(os.path.join(DATA, "hls_vitis_prj"))
    rep = _hls_report.parse_csynth_xml(path)
    assert (rep["lut"], rep["ff"], rep["dsp"], rep["bram_18k"], rep["uram"]) == (24587, 6112, 21, 4, 0)
    assert (rep["latency_best"], rep["latency_worst"], rep["interval_min"], rep["interval_max"]) == (9, 9, 1, 1)
    assert rep["available_dsp"] == 12288 and rep["part"] == "xcvu13p-flga2577-2-e"
    assert rep["clock_target_ns"] == 5.0 and rep["clock_estimated_ns"] == pytest.approx(3.387)
    cols = _hls_report.synthesis_columns(rep)
    assert cols["bram"] == 2 and cols["latency_cycles"] == 9 and cols["lut"] == 24587


def test_parse_vivado_hls_report_with_dsp48e_and_ranges():
    rep = _hls_report.parse_csynth_xml(_hls_report.find_csynth_xml(os.path.join(DATA, "hls_vivado_prj")))
    assert (rep["lut"], rep["ff"], rep["dsp"], rep["bram_18k"]) == (30764, 18329, 96, 13)
    assert (rep["latency_best"], rep["latency_worst"], rep["interval_min"], rep["interval_max"]) == (187, 219, 145, 161)
    assert rep["tool_version"] == "2019.2"


@pytest.mark.parametrize("prj", ["hls_vitis_prj", "hls_vivado_prj"])
def test_report_parsing_agrees_with_hls4ml(prj):
    from kerasnac._keras import hls4ml

    theirs = hls4ml().report.parse_vivado_report(os.path.join(DATA, prj))["CSynthesisReport"]
    ours = _hls_report.parse_csynth_xml(_hls_report.find_csynth_xml(os.path.join(DATA, prj)))
    for k_theirs, k_ours in (("LUT", "lut"), ("FF", "ff"), ("DSP", "dsp"), ("BRAM_18K", "bram_18k"),
                             ("BestLatency", "latency_best"), ("WorstLatency", "latency_worst"),
                             ("IntervalMin", "interval_min"), ("IntervalMax", "interval_max")):
        assert int(theirs[k_theirs]) == ours[k_ours], k_theirs


def test_report_undef_latency_and_missing(tmp_path):
    text = open(os.path.join(DATA, "hls_vitis_prj", "myproject_prj", "solution1", "syn", "report",
                             "myproject_csynth.xml")).read()
    path = tmp_path / "r.xml"
    path.write_text(text.replace("<Worst-caseLatency>9</Worst-caseLatency>", "<Worst-caseLatency>undef</Worst-caseLatency>"))
    assert _hls_report.parse_csynth_xml(str(path))["latency_worst"] is None
    assert _hls_report.find_csynth_xml(str(tmp_path)) is None


def test_synthesis_columns_replace_estimates(tmp_path):
    """The synthesis path with hls4ml's build() stubbed: it writes the report where Vitis would."""
    src = os.path.join(DATA, "hls_vitis_prj", "myproject_prj")

    class FakeGraph:
        def build(self, **kwargs):
            assert kwargs["synth"] and not kwargs["csim"]
            shutil.copytree(src, tmp_path / "myproject_prj")

    cols = HLS4MLExport(synth=True).synthesize(FakeGraph(), str(tmp_path))
    assert cols["resource_source"] == "synthesis"
    assert (cols["lut"], cols["ff"], cols["dsp"], cols["bram"], cols["latency_cycles"]) == (24587, 6112, 21, 2, 9)


def test_synth_none_follows_tool_on_path(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: "/opt/x/" + name if name == "vitis-run" else None)
    assert HLS4MLExport().synth_enabled()
    assert not HLS4MLExport(backend="Vivado").synth_enabled()
    assert not HLS4MLExport(synth=False).synth_enabled()


def test_distributed_arithmetic_errors_before_any_work(tmp_path):
    pytest.importorskip("da4ml", reason="da4ml is not installed (pip install 'kerasnac[da]')")
    with pytest.raises(ValueError, match="reuse_factor=1"):
        HLS4MLExport(strategy="distributed_arithmetic", reuse_factor=2)
    assert HLS4MLExport(strategy="da").strategy == "distributed_arithmetic"
    inp = keras.Input((6, 6, 2))
    x = keras.layers.DepthwiseConv2D(3, name="dw")(inp)
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    with pytest.raises(HLS4MLExportError, match=r"dw \(DepthwiseConv2D\).*Latency") as err:
        HLS4MLExport(strategy="distributed_arithmetic").on_candidate(
            candidate(model, np.zeros((4, 6, 6, 2), "float32"), "classification", tmp_path))
    assert err.value.stage == "config" and not (tmp_path / "c0" / "hls").exists()


def test_distributed_arithmetic_estimates_use_the_da_formulas():
    pytest.importorskip("da4ml", reason="da4ml is not installed (pip install 'kerasnac[da]')")
    from kerasnac._keras import qkeras

    inp = keras.Input((16,))
    x = qkeras.QDense(8, kernel_quantizer="quantized_bits(12,0,alpha=1)", name="d")(inp)
    model = keras.Model(inp, qkeras.QActivation("quantized_relu(6,0)", name="a")(x))
    got = HLS4MLExport(strategy="distributed_arithmetic").estimate(model, "fixed<16,6>")
    want = kn.costs.evaluate(model, ["lut", "ff", "dsp"], strategy="distributed_arithmetic")
    latency = kn.costs.evaluate(model, ["lut", "dsp"])
    assert got["resource_source"] == "estimated" and got["lut"] == want["lut"] and got["dsp"] == 0
    assert latency["dsp"] > 0  # 12-bit weights: the Latency estimate would have put them in DSPs


@needs_gxx
@pytest.mark.slow
def test_distributed_arithmetic_csim_agrees(tmp_path):
    pytest.importorskip("da4ml", reason="da4ml is not installed (pip install 'kerasnac[da]')")
    shape, stages, task, _ = CASES["mlp"]
    model, x_val = build_trained(shape, stages, task)
    row = HLS4MLExport(synth=False, strategy="distributed_arithmetic", on_error="raise").on_candidate(
        candidate(model, x_val, task, tmp_path))
    assert row["csim_ok"] and row["csim_agreement"] >= 0.99
    with open(os.path.join(row["hls_dir"], "firmware", "myproject.cpp")) as f:
        assert "dense_da" in f.read()  # the layers went through da4ml

"""benchmarks/_yosys_reference.py and _yosys_report.py: seeded draws, reuse of the committed CSV,
held-out split (no yosys needed: nothing here synthesizes)."""

import json
import os
import sys

import pandas as pd
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import _yosys_reference as yref  # noqa: E402
import _yosys_report as yrep  # noqa: E402

CSV = os.path.join(ROOT, "benchmarks", "results", "cost_fidelity_yosys.csv")


def test_draws_are_deterministic_and_streams_separate():
    a, b = yref.draw_models(4), yref.draw_models(4)
    assert [(m, yref.values_key(v), f, s) for m, v, _, f, s in a] == \
        [(m, yref.values_key(v), f, s) for m, v, _, f, s in b]
    assert [m for m, *_ in a] == ["m000_jets_mlp", "m001_jets_deepsets", "m002_small_cnn", "m003_jets_mlp"]
    assert a[3][3] > 0 and a[0][3] == 0  # every other round of the stream is pruned
    conv = yref.draw_conv(3)
    assert [m for m, *_ in conv] == ["c000_small_cnn", "c001_small_cnn", "c002_small_cnn"]
    assert conv[0][2].input_shape == yref.CONV_SHAPE and conv[1][3] > 0
    assert set(yref.draw(["c001_small_cnn", "m003_jets_mlp"])) == {"c001_small_cnn", "m003_jets_mlp"}


def test_committed_csv_rows_are_the_models_drawn_again():
    seeds = yref.read_seed_csv(CSV)
    assert len(seeds) >= 50 and all(r["status"] == "ok" for r in seeds.values())
    mid = sorted(k for k in seeds if k.startswith("m"))[0]
    _, values, sp, frac, wseed = yref.draw([mid])[mid]
    model = yref._build(sp, values, frac, wseed)
    assert yref.same_model(seeds[mid], values, int(model.count_params()), frac)
    assert not yref.same_model(seeds[mid], values, int(model.count_params()) + 1, frac)
    assert not yref.same_model(dict(seeds[mid], values="{}"), values, int(model.count_params()), frac)


def test_a_model_in_the_seed_csv_is_not_synthesized_again(tmp_path, monkeypatch):
    from kerasnac import hardware

    item = yref.draw(["m021_jets_mlp"])["m021_jets_mlp"]  # a draw within the size limits
    mid, values, sp, frac, wseed = item
    params = int(yref._build(sp, values, frac, wseed).count_params())
    assert params <= yref.MAX_PARAMS
    row = {"model": mid, "space": sp.name, "params": params, "pruned_fraction": frac,
           "values": yref.values_key(values), "da_lut": 100.0, "syn_lut": 80, "syn_ff": 10, "syn_seconds": 1.0,
           "resource_source": "yosys", "status": "ok", "est_lut_da": 5.0}
    pd.DataFrame([row]).to_csv(tmp_path / "seed.csv", index=False)
    seeds = yref.read_seed_csv(str(tmp_path / "seed.csv"))
    assert "est_lut_da" not in seeds[mid] and seeds[mid]["syn_source"] == "yosys"  # old column name mapped

    def no_trace(*a, **k):
        raise AssertionError("a seeded model was traced again")

    monkeypatch.setattr(hardware, "trace", no_trace)
    cache = tmp_path / "cache"
    cache.mkdir()
    assert yref._one(item, str(cache), seeds, log=print) == "ok"
    cached = json.loads((cache / f"{mid}.json").read_text())
    assert cached["syn_lut"] == 80 and cached["from_csv"] is True
    assert [r["model"] for r in yref.load_cache(str(cache))] == [mid]
    # a seed row of another model is not taken: the model is synthesized (here: trace raises, recorded)
    (cache / f"{mid}.json").unlink()
    seeds[mid]["params"] = params + 1
    assert yref._one(item, str(cache), seeds, log=print) == "failed"
    assert "seeded model was traced" in json.loads((cache / f"{mid}.json").read_text())["error"]


def test_split_is_stable_and_about_half():
    ids = [f"m{i:03d}_jets_mlp" for i in range(200)]
    halves = [yrep.split_of(m) for m in ids]
    assert halves == [yrep.split_of(m) for m in ids]
    assert 70 < halves.count("fit") < 130 and set(halves) == {"fit", "held_out"}


def test_summary_ratios_and_rank_correlation():
    df = pd.DataFrame({"est_lut": [2.0, 4.0, 8.0, 1.0], "syn_lut": [1.0, 2.0, 4.0, 0.0],
                       "da_lut": [1.0, 3.0, 2.0, 5.0]})
    s = yrep.summarize(df).set_index("estimate")
    assert s.loc["est_lut", "n"] == 3 and s.loc["est_lut", "n_ref_zero"] == 1
    assert s.loc["est_lut", "median_ratio"] == pytest.approx(2.0)
    assert s.loc["est_lut", "median_abs_log2"] == pytest.approx(1.0)
    assert s.loc["est_lut", "spearman"] == pytest.approx(1.0)
    assert s.loc["da_lut", "spearman"] == pytest.approx(0.5)
    assert yrep.fit_scale(df, "est_lut") == pytest.approx(0.5)


def test_estimates_are_of_the_logits_network():
    from kerasnac._keras import keras, qkeras

    inp = keras.Input((4,))
    x = qkeras.QDense(3, kernel_quantizer="quantized_bits(4,0,alpha=1)", name="d")(inp)
    m = keras.Model(inp, keras.layers.Activation("softmax", name="sm")(x))
    cut = yrep.logits_model(m)
    assert [layer.name for layer in cut.layers][-1] == "d" and yrep.logits_model(cut) is cut


def test_fit_da_constants_recovers_known_constants():
    import numpy as np

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"adders": rng.uniform(10, 300, 40), "act1": rng.uniform(50, 2000, 40),
                       "red1": rng.uniform(0, 800, 40)})
    df["adder_bits"] = df["adders"] * rng.choice([4, 8, 16], 40)
    df["adder_wbits"] = df["adders"] * rng.choice([3, 6, 12], 40)
    df["syn_lut"] = 0.7 * (df["adder_bits"] + 0.5 * df["adder_wbits"] + 1 * df["adders"]) + 0.2 * df["act1"]
    got = yrep.fit_da_constants(df)
    assert got["DA_ADDER_EXTRA_BITS"] == 1 and got["DA_ADDER_WEIGHT_BITS"] == 0.5
    assert got["activation"] == 0.2 and got["reduction"] == 0.0
    assert got["DA_LUT_PER_ADDER_BIT"] == pytest.approx(0.7, abs=0.002) and got["spearman_fit"] == 1.0

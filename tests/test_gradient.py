"""Gradient-based supernet search: supernet construction, exact expected costs, training, derive."""

import numpy as np
import pytest

import kerasnac as kn
from kerasnac._keras import keras, qkeras, tf
from kerasnac.gradient import GradientSearch, NotRelaxableError, Supernet
from kerasnac.gradient._probes import Prober, resolve_cost

QUANT = {"weight_bits": [4, 16], "activation_bits": 8, "activation_integer": 0}


def tiny_space(**kw):
    """Two stages: an mlp with 1-2 layers of 4 or 32 units and 4- or 16-bit weights, then mlp or skip."""
    stages = [{"name": "s0", "blocks": {"mlp": {"layers": [1, 2], "units": [4, 32], "batchnorm": False,
                                                "activation": "relu"}}},
              {"name": "s1", "blocks": {"mlp": {"layers": 1, "units": [4, 16], "batchnorm": False,
                                                "activation": "relu"}, "skip": {}}}]
    return kn.SearchSpace((16,), stages, num_classes=5, quant=QUANT, head={"quant": {"weight_bits": 8}},
                          training={"learning_rate": 0.01}, **kw)


def _agreement(space, n=3, seed=0, fixed=None):
    """One-hot expected costs equal costs.evaluate on the model space.assemble builds."""
    sn = Supernet(space, fixed)
    metrics = ["lut", "ff", "dsp", "bops", "params"]
    pr = Prober({m: resolve_cost(m) for m in metrics})
    sn.plan_cost(pr)
    x = tf.zeros([2, *space.input_shape])
    assert sn(x, P=sn.choices.probs("soft"), training=False).shape[0] == 2
    rng = np.random.default_rng(seed)
    xr = tf.random.uniform([3, *space.input_shape], seed=1)
    for _ in range(n):
        vals = {k: c.values[rng.integers(len(c))] for k, c in sn.choices.choices.items()}
        model = space.model_from_values(sn.hp_values(vals))
        expected = sn.expected_cost(sn.choices.onehot(vals)).numpy()
        actual = kn.costs.evaluate(model, metrics)
        np.testing.assert_allclose(expected, [actual[m] for m in metrics], rtol=1e-5)
        # the derived model with the supernet's weights computes what the one-hot supernet computes
        sn.export(model, vals)
        np.testing.assert_allclose(model.predict(xr.numpy(), verbose=0),
                                   sn(xr, P=sn.choices.onehot(vals), training=False).numpy(), atol=1e-5)
    return sn


def test_supernet_jets_mlp_exact_costs(seed):
    sn = _agreement(kn.SearchSpace.from_yaml("jets_mlp"), n=4)
    assert "s1/block" in sn.choices.choices and "s0/mlp/units_2" in sn.choices.choices


def test_supernet_jets_deepsets_exact_costs(seed):
    _agreement(kn.SearchSpace.from_yaml("jets_deepsets"), n=3)


def _pin(space, pattern, base=None):
    """Pin every choice whose name contains one of ``pattern`` to its first value (smaller tests)."""
    names = Supernet(space, base).choices.choices
    return {**(base or {}), **{k: c.values[0] for k, c in names.items() if any(p in k for p in pattern)}}


def test_supernet_braggnn_exact_costs(seed):
    """conv_attn / conv ('valid', kernel 1 or 3) / skip / mlp; bit widths pinned to keep the test short."""
    space = kn.SearchSpace.from_yaml("braggnn")
    sn = _agreement(space, n=3, fixed=_pin(space, ("/q/", "activation", "s3/mlp/units")))
    assert {"s0/block", "s0/conv_attn/kernel_size", "s1/block", "s3/mlp/layers"} <= set(sn.choices.choices)


@pytest.mark.slow
def test_supernet_braggnn_full_exact_costs(seed):
    _agreement(kn.SearchSpace.from_yaml("braggnn"), n=4)


def test_small_cnn_pooling_choice_must_be_pinned(seed):
    space = kn.SearchSpace.from_yaml("small_cnn")
    with pytest.raises(NotRelaxableError, match="s1/conv/pooling"):
        Supernet(space)
    with pytest.raises(NotRelaxableError, match="s2/block"):  # a flattening mlp next to a skip of a 3-D map
        Supernet(space, fixed={"s1/conv/pooling": "none"})
    # "max" pooling next to skip would change the shape too, hence "none"
    _agreement(space, n=2, fixed=_pin(space, ("/q/",), base={"s1/conv/pooling": "none", "s2/block": "mlp"}))


def test_not_relaxable_choices_are_named():
    space = kn.SearchSpace((16,), [{"mlp": {"layers": 1, "units": [4, 8], "dropout": [0.0, 0.2]}}], num_classes=2,
                           quant=QUANT)
    with pytest.raises(NotRelaxableError, match="s0/mlp/dropout"):
        Supernet(space)
    Supernet(space, fixed={"s0/mlp/dropout": 0.2})  # pinned: fine
    with pytest.raises(kn.SpaceError, match="unknown"):
        Supernet(space, fixed={"s0/mlp/dropout": 0.0, "s0/mlp/nope": 1})


@pytest.fixture(scope="module")
def data():
    x, y = kn.datasets.toy_jets_hlf(500, seed=0)
    tr, va, _ = kn.datasets.split_and_scale(x, y, val_fraction=0.3, test_fraction=0.1, seed=0)
    return tr, va


@pytest.fixture(scope="module")
def searched(data):
    """A 4-epoch search on the tiny space with a weighted cost (shared by several tests)."""
    keras.utils.set_random_seed(0)
    gs = GradientSearch(tiny_space(), cost=kn.costs.weighted(lut=1.0, ff=0.5), lam=0.5, epochs=4, warmup_epochs=1,
                        batch_size=64, verbose=0)
    gs.fit(*data[0], validation_data=data[1])
    return gs


def test_search_runs_in_graph_mode(searched):
    gs = searched
    for fn in (gs._weight_step, gs._arch_step):
        assert isinstance(fn, tf.types.experimental.GenericFunction)
        assert fn.experimental_get_tracing_count() == 1  # traced once, then graph calls only
    df = gs.history_dataframe()
    assert list(df["phase"]) == ["warmup", "search", "search", "search"]
    assert {"loss", "expected_cost", "temperature", "lambda", "p[s1/block=skip]"} <= set(df.columns)
    assert df["temperature"].iloc[-1] < df["temperature"].iloc[0]
    probs = df[[c for c in df.columns if c.startswith("p[s0/mlp/units_0=")]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_derive_inherits_weights_and_reports_gap(searched, data, tmp_path):
    gs = searched
    model = gs.derive(finetune_epochs=0)
    assert isinstance(model, keras.Model) and any(isinstance(l, qkeras.QDense) for l in model.layers)
    xv = data[1][0][:32].astype("float32")
    sn_out = gs.supernet(tf.constant(xv), P=gs.choices.probs("argmax"), training=False).numpy()
    np.testing.assert_allclose(model.predict(xv, verbose=0), sn_out, atol=1e-5)
    summary = gs.summary()
    row = summary.iloc[0]
    assert row["argmax_model"] == pytest.approx(row["derived_model"], rel=1e-6)  # exact for the argmax
    assert abs(row["gap_percent"]) < 25
    # trains, saves and loads
    model = gs.derive(finetune_epochs=1)
    path = str(tmp_path / "derived.h5")
    model.save(path)
    loaded = keras.models.load_model(path, custom_objects=kn._keras.custom_objects())
    np.testing.assert_allclose(loaded.predict(xv, verbose=0), model.predict(xv, verbose=0), atol=1e-6)
    fig = gs.plot()
    assert len(fig.axes) >= 2


def test_strong_cost_weight_picks_the_cheap_options(data):
    keras.utils.set_random_seed(0)
    costs = {}
    for lam in (0.0, 20.0):
        gs = GradientSearch(tiny_space(), cost="bops", lam=lam, epochs=4, warmup_epochs=1, batch_size=64,
                            verbose=0, seed=0)
        gs.fit(*data[0], validation_data=data[1])
        gs.derive(finetune_epochs=0)
        costs[lam] = gs.derived_costs["cost"]
        if lam:
            v = gs.values
            # (with cost="lut" 16-bit weights would win: from 9 bits on, multiplications go to DSPs)
            assert v["s0/mlp/units_0"] == 4 and v["s0/mlp/q/w_bits"] == 4 and v["s1/block"] == "skip"
            assert v["s0/mlp/layers"] == 1
    assert costs[20.0] < costs[0.0]


def test_budget_mode_meets_the_budget(data):
    keras.utils.set_random_seed(0)
    # a budget at the cost of a mid-sized architecture (the tiny space has only 80 architectures)
    mid = {"s0/mlp/layers": 1, "s0/mlp/units_0": 32, "s0/mlp/q/w_bits": 4, "s1/block": "skip"}
    space = tiny_space()
    budget = kn.costs.evaluate(space.model_from_values(space.complete_values(mid)), ["lut"])["lut"] * 1.05
    gs = GradientSearch(tiny_space(), cost=None, budget={"lut": budget}, epochs=6, warmup_epochs=1, batch_size=32,
                        arch_learning_rate=0.05, verbose=0)
    gs.fit(*data[0], validation_data=data[1])
    gs.derive(finetune_epochs=0)
    derived = gs.derived_costs["budget:lut"]
    assert abs(derived / budget - 1) <= 0.1, (derived, budget, gs.repair_log)
    # the relaxed search alone: the expected cost at the end and the argmax architecture stay near it
    s = gs.summary().iloc[0]
    assert 0.5 * budget <= s["argmax_model"] <= 1.5 * budget, s
    assert abs(s["searched_vs_budget_percent"]) <= 10, s  # before any repair
    assert gs.history_dataframe()["lambda_lut"].notna().all()
    assert len(gs.plot().axes) >= 3


def test_sparse_labels_and_validation_split(data):
    (x, y), _ = data
    gs = GradientSearch(tiny_space(), cost="ebops", epochs=2, warmup_epochs=1, batch_size=64, verbose=0)
    gs.fit(x, y.argmax(1), validation_split=0.3)
    assert gs.space.label_mode == "sparse"
    model = gs.derive(finetune_epochs=1)
    assert model.predict(x[:4], verbose=0).shape == (4, 5)


@pytest.mark.slow
def test_derived_model_converts_with_hls4ml(searched, data, tmp_path):
    model = searched.derive(finetune_epochs=0)
    hls4ml = kn._keras.hls4ml()
    with kn._keras.keras2_as_keras():
        cfg = hls4ml.utils.config_from_keras_model(model, granularity="name")
        hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, output_dir=str(tmp_path / "hls"),
                                                        backend="Vivado", io_type="io_parallel")
    hm.compile()
    xv = np.ascontiguousarray(data[1][0][:64].astype("float32"))
    y_hls, y_keras = hm.predict(xv), model.predict(xv, verbose=0)
    assert y_hls.shape == y_keras.shape
    assert np.mean(y_hls.argmax(1) == y_keras.argmax(1)) > 0.8


def test_kerasnac_gradient_strategy_runs_the_final_stage(tmp_path):
    import kerasnac as kn

    x, y = kn.datasets.toy_jets_hlf(900, seed=0)
    (xt, yt), (xv, yv), _ = kn.datasets.split_and_scale(x, y)
    space = kn.SearchSpace.from_yaml("jets_mlp")
    nac = kn.KerasNAC(space, ["val_accuracy", "bops"], directory=str(tmp_path), verbose=0, strategy="gradient",
                      gradient={"epochs": 2, "finetune_epochs": 1},
                      local_search=kn.LocalSearch(top_k=1, hpo_trials=0, bits=[(6, 2)]))
    nac.fit(xt, yt, validation_data=(xv, yv), epochs=1)
    df = nac.final_front()
    assert set(df["stage"]) == {"global", "qat"} and (df["trial_id"] == "gradient").all()
    assert nac.gradient_search.cost_name == "bops"
    assert df["on_front"].any()

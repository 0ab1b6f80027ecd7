import numpy as np
import pytest

import kerasnac as kn
from kerasnac._keras import custom_objects, keras, kt
from kerasnac.errors import SpaceError

ALL_BLOCKS_SPACES = {
    "mlp": ((16,), [{"mlp": {"layers": {"min": 1, "max": 3}, "units": [4, 8], "batchnorm": [False, True],
                              "dropout": [0.0, 0.1], "activation": ["relu", "tanh", "leaky_relu"]}},
                    {"mlp": {}, "skip": {}}]),
    "deepsets": ((8, 3), [{"deepsets": {"phi_units": [4, 8], "rho_units": [4, 8]}}, {"mlp": {"units": [4]}, "skip": {}}]),
    "conv1d": ((12, 2), [{"conv": {"filters": [2, 4], "pooling": ["none", "max", "avg"]}}, {"conv_attn": {"filters": [4]}, "skip": {}}]),
    "conv2d": ((8, 8, 1), [{"conv": {"filters": [2, 4], "batchnorm": [True]}}, {"conv_attn": {"filters": [4, 8]}, "skip": {}},
                           {"mlp": {"units": [4]}, "skip": {}}]),
}


def random_values(space, seed):
    """A random draw that respects the conditions (like keras-tuner's RandomSearch)."""
    hp = kt.HyperParameters()
    rng = np.random.default_rng(seed)
    for h in space.hyperparameters().space:
        hp.merge([h])
        if hp.is_active(h):
            hp.values[h.name] = h.random_sample(int(rng.integers(1 << 30)))
    return dict(hp.values)


@pytest.mark.parametrize("key", sorted(ALL_BLOCKS_SPACES))
@pytest.mark.parametrize("draw", [0, 1, 2])
def test_every_block_builds_trains_saves_reloads(key, draw, tmp_path, seed):
    shape, stages = ALL_BLOCKS_SPACES[key]
    space = kn.SearchSpace(shape, stages, num_classes=3)
    values = random_values(space, 100 * draw + len(key))
    model = space.model_from_values(values)
    x = np.random.default_rng(draw).normal(size=(32,) + shape).astype("float32")
    y = keras.utils.to_categorical(np.arange(32) % 3, 3)
    hist = model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert np.isfinite(hist.history["loss"][0])
    path = str(tmp_path / "m.h5")
    model.save(path)
    again = keras.models.load_model(path, custom_objects=custom_objects())
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_blocks_emit_qkeras_layers_with_requested_bits():
    space = kn.SearchSpace((16,), [{"mlp": {"layers": 1, "units": [8], "quant": {"weight_bits": [5], "activation_bits": [7]}}}],
                           num_classes=2, quant={"activation_integer": 0})
    model = space.build(space.hyperparameters())
    dense = model.get_layer("s0_dense0")
    assert type(dense).__name__ == "QDense"
    assert dense.kernel_quantizer_internal.bits == 5
    assert model.get_layer("s0_dense0_act").quantizer.bits == 7


def test_float_width_means_unquantized():
    space = kn.SearchSpace((4,), [{"mlp": {"layers": 1, "units": [3], "quant": {"weight_bits": [32], "activation_bits": [32]}}}],
                           num_classes=2)
    model = space.build(space.hyperparameters())
    assert model.get_layer("s0_dense0").kernel_quantizer_internal is None
    assert type(model.get_layer("s0_dense0_act")).__name__ == "Activation"


def test_conditional_hyperparameters_only_active_in_config():
    space = kn.SearchSpace((16,), [{"mlp": {"layers": {"min": 1, "max": 3}, "units": [4, 8]}}, {"mlp": {}, "skip": {}}],
                           num_classes=2)
    values = space.complete_values({"s0/mlp/layers": 1, "s1/block": "skip"})
    assert "s0/mlp/units_1" not in values and "s0/mlp/units_2" not in values
    assert not any(k.startswith("s1/mlp/") for k in values)
    values = space.complete_values({"s0/mlp/layers": 3, "s1/block": "mlp"})
    assert {"s0/mlp/units_2", "s1/mlp/layers", "s1/mlp/q/w_bits"} <= set(values)
    hp = space.hyperparameters()
    names = {h.name: h for h in hp.space}
    assert names["s0/mlp/units_2"].conditions and names["s1/mlp/units_0"].conditions


@pytest.mark.parametrize("name", ["jets_mlp", "jets_deepsets", "braggnn", "small_cnn", "calorimeter"])
def test_shipped_spaces_load_and_build(name):
    assert name in kn.space.shipped_spaces()
    space = kn.SearchSpace.from_yaml(name)
    for bname, values in space.baselines.items():
        model = space.model_from_values(values)
        assert model.output_shape[-1] == (space.num_classes or space.n_outputs)
    model = space.model_from_values(random_values(space, 3))
    assert model.optimizer is not None  # compiled


def test_jets_baseline_is_the_hls4ml_mlp():
    space = kn.SearchSpace.from_yaml("jets_mlp", input_shape=(16,), num_classes=5)
    model = space.model_from_values(space.baselines["hls4ml_mlp_64_32_32_6bit"])
    dense = [l for l in model.layers if type(l).__name__ == "QDense"]
    assert [l.units for l in dense] == [64, 32, 32, 5]
    assert all(l.kernel_quantizer_internal.bits == 6 for l in dense)
    assert model.count_params() == 16 * 64 + 64 + 64 * 32 + 32 + 32 * 32 + 32 + 32 * 5 + 5


def test_braggnn_baseline_structure():
    space = kn.SearchSpace.from_yaml("braggnn")
    model = space.model_from_values(space.baselines["braggnn_float"])
    assert model.get_layer("s0_conv").output_shape == (None, 9, 9, 64)
    assert model.get_layer("s2_conv0").output_shape == (None, 5, 5, 8)
    assert model.output_shape == (None, 2)
    assert any(type(l).__name__ == "Dot" for l in model.layers)


def test_python_and_yaml_schema_are_the_same(tmp_path):
    import yaml

    data = {"task": "classification", "num_classes": 3, "input_shape": [6],
            "stages": [{"name": "a", "blocks": {"mlp": {"units": [4, 8]}}}, {"mlp": {}, "skip": {}}]}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    a = kn.SearchSpace.from_yaml(str(path))
    b = kn.SearchSpace((6,), data["stages"], num_classes=3)
    assert [h.name for h in a.hyperparameters().space] == [h.name for h in b.hyperparameters().space]


def test_custom_block_registration():
    @kn.register_block("tiny_test_block")
    class Tiny(kn.Block):
        params = {"units": [3, 5]}

        def build(self, x, cfg, quant, name):
            return quant.dense(cfg["units"], name=f"{name}_d")(x)

    space = kn.SearchSpace((4,), [{"tiny_test_block": {}}], num_classes=2)
    model = space.model_from_values({"s0/tiny_test_block/units": 5})
    assert model.get_layer("s0_d").units == 5


# ----------------------------------------------------------------------------- bad input
def _yaml(tmp_path, text):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("stages,kwargs,match", [
    ([{"transformer": {}}], {}, "unknown block type 'transformer'.*Known blocks"),
    ([{"mlp": {"activation": ["gelu"]}}], {}, "gelu.*not supported.*relu"),
    ([{"mlp": {"units": []}}], {}, "empty choice list"),
    ([{"mlp": {"layers": {"min": 3, "max": 1}}}], {}, r"min \(3\) > max \(1\)"),
    ([{"mlp": {"widht": [4]}}], {}, "unknown parameter 'widht'"),
    ([{"conv": {}}], {}, "needs inputs of rank"),
    ([{}], {}, "empty choice of blocks"),
    ([], {}, "non-empty list of stages"),
    ([{"mlp": {}}], {"num_classes": 1}, "num_classes >= 2"),
    ([{"mlp": {"quant": {"weight_bits": [0]}}}], {}, "bit widths must be integers in 1..32"),
])
def test_space_errors(stages, kwargs, match):
    kwargs = {"num_classes": 3, **kwargs}
    with pytest.raises(SpaceError, match=match):
        kn.SearchSpace((16,), stages, **kwargs)


def test_yaml_missing_file_names_shipped_spaces():
    with pytest.raises(SpaceError, match="does not exist.*jets_mlp"):
        kn.SearchSpace.from_yaml("no/such/space.yaml")
    with pytest.raises(SpaceError, match="unknown search space 'jets_mpl'.*jets_mlp"):
        kn.SearchSpace.from_yaml("jets_mpl")


def test_yaml_parse_error_names_file_and_line(tmp_path):
    path = _yaml(tmp_path, "stages:\n  - mlp: {units: [4, 8}\n")
    with pytest.raises(SpaceError, match=r"bad.yaml: not valid YAML at line 2"):
        kn.SearchSpace.from_yaml(path, input_shape=(4,), num_classes=2)


def test_yaml_unknown_keys(tmp_path):
    path = _yaml(tmp_path, "stages: [{mlp: {}}]\nnum_clases: 3\n")
    with pytest.raises(SpaceError, match=r"bad.yaml: unknown top-level keys \['num_clases'\]"):
        kn.SearchSpace.from_yaml(path, input_shape=(4,))
    path = _yaml(tmp_path, "stages: [{mlp: {units: [4], quant: {weight_bit: [4]}}}]\nnum_classes: 3\n")
    with pytest.raises(SpaceError, match=r"bad.yaml: stages\[0\].mlp.quant: unknown key 'weight_bit'"):
        kn.SearchSpace.from_yaml(path, input_shape=(4,))


def test_yaml_is_loaded_safely(tmp_path):
    path = _yaml(tmp_path, "stages: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(SpaceError, match="not valid YAML"):
        kn.SearchSpace.from_yaml(path, input_shape=(4,), num_classes=2)


def test_bad_baseline_value_is_named():
    with pytest.raises(SpaceError, match=r"baselines.b.s0.units\[0\]: 7 is not one of the allowed values"):
        kn.SearchSpace((4,), [{"mlp": {"layers": 1, "units": [4, 8]}}], num_classes=2,
                       baselines={"b": {"s0": {"block": "mlp", "units": [7]}}})


@pytest.mark.parametrize("quant,head,match", [
    ({"weight_bits": 4, "weight_integer": 6}, None,
     r"stages\[0\].mlp.quant: weight_integer=6 does not fit in weight_bits=4.*weight_bits >= 7.*weight_integer <= 3"),
    ({"weight_bits": [4, 8], "weight_integer": 6}, None,  # the choice 4 would be drawn with 6
     r"stages\[0\].mlp.quant: weight_integer=6 does not fit in weight_bits=4.*drawn independently"),
    ({"weight_bits": 8, "weight_integer": 3, "bias_bits": 3}, None, r"weight_integer=3 does not fit in bias_bits=3"),
    ({"activation_bits": [4, 6], "activation_integer": [0, 4]}, None,
     r"stages\[0\].mlp.quant: activation_integer=4 does not fit in activation_bits=4"),
    ({"weight_bits": 8}, {"quant": {"weight_bits": 2, "weight_integer": 2}}, r"head.quant: weight_integer=2 does not fit"),
])
def test_integer_bits_must_fit_in_the_total_bits(quant, head, match):
    with pytest.raises(SpaceError, match=match):
        kn.SearchSpace((4,), [{"mlp": {"layers": 1, "units": [4], "quant": quant}}], num_classes=2, head=head)


def test_integer_bits_fit_when_every_choice_fits():
    # 32 bits = float ignores the integer bits; a space-level integer may be fixed by a block's bits
    space = kn.SearchSpace((4,), [{"mlp": {"layers": 1, "units": [4], "quant": {"weight_bits": [7, 32]}}}],
                           num_classes=2, quant={"weight_integer": 6, "activation_bits": 4, "activation_integer": 3},
                           head={"quant": {"weight_bits": 8}})
    model = space.build(space.hyperparameters())
    assert model.get_layer("s0_dense0").kernel_quantizer_internal.integer == 6
    with pytest.raises(SpaceError, match="weight_integer=6 does not fit in weight_bits=4"):
        kn.space.Quant(weight_bits=4, weight_integer=6)  # what a build would have clamped to quantized_bits(4,3)


@pytest.mark.parametrize("stage,match", [
    ({"name": "dense", "blok": {"mlp": {}}}, r"stages\[0\]: unknown key 'blok' \(did you mean 'blocks'\?\).*allowed keys: name, blocks"),
    ({"blok": {"mlp": {}}}, r"stages\[0\]: unknown key 'blok' \(did you mean 'blocks'\?\)"),
    ({"nmae": "dense", "blocks": {"mlp": {}}}, r"unknown key 'nmae' \(did you mean 'name'\?\)"),
    ({"name": "dense", "mlp": {}}, r"unknown key 'mlp' \(block types go under 'blocks:'"),
    ({"mlpp": {}}, r"unknown block type 'mlpp'.*Known blocks"),
])
def test_misspelt_stage_key_is_named(stage, match):
    with pytest.raises(SpaceError, match=match):
        kn.SearchSpace((4,), [stage], num_classes=2)


def test_yaml_stage_key_misspelt_and_duplicate_keys(tmp_path):
    path = _yaml(tmp_path, "num_classes: 3\nstages:\n  - name: dense\n    blok: {mlp: {}}\n")
    with pytest.raises(SpaceError, match=r"bad.yaml: stages\[0\]: unknown key 'blok' \(did you mean 'blocks'\?\)"):
        kn.SearchSpace.from_yaml(path, input_shape=(4,))
    path = _yaml(tmp_path, "num_classes: 3\nstages: [{mlp: {}}]\nnum_classes: 5\n")
    with pytest.raises(SpaceError, match=r"bad.yaml: duplicate key 'num_classes' at line 3 \(first at line 1\)"):
        kn.SearchSpace.from_yaml(path, input_shape=(4,))
    path = _yaml(tmp_path, "num_classes: 3\nstages:\n  - mlp: {units: [4], units: [8]}\n")  # nested mappings too
    with pytest.raises(SpaceError, match=r"duplicate key 'units' at line 3 \(first at line 3\)"):
        kn.SearchSpace.from_yaml(path, input_shape=(4,))
    # anchors and merge keys stay allowed
    path = _yaml(tmp_path, "num_classes: 3\nq: &q {weight_bits: 8}\nstages:\n  - mlp: {units: [4], quant: {<<: *q, weight_bits: 6}}\n")
    with pytest.raises(SpaceError, match=r"unknown top-level keys \['q'\]"):
        kn.SearchSpace.from_yaml(path, input_shape=(4,))

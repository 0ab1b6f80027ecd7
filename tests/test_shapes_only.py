"""Models assembled from output shapes only (the search's exact costs) cost what normal builds cost."""

import random

import pytest

import kerasnac as kn
from kerasnac import costs
from kerasnac._keras import keras, qkeras
from kerasnac._shapes_only import shapes_only


def draws(space, n, seed):
    hps = space.hyperparameters().space
    return [{p.name: p.random_sample(random.Random(seed * 1000 + i).randint(0, 10**6)) for p in hps} for i in range(n)]


@pytest.mark.parametrize("name", ["jets_mlp", "jets_deepsets", "small_cnn", "braggnn"])
def test_costs_of_a_shapes_only_build_equal_those_of_a_normal_build(name):
    space = kn.SearchSpace.from_yaml(name)
    for values in draws(space, 3, seed=len(name)):
        normal = space.model_from_values(values)
        with shapes_only():
            fast = space.model_from_values(values)
        assert [l.output_shape for l in fast.layers] == [l.output_shape for l in normal.layers]
        assert costs.evaluate(fast) == costs.evaluate(normal)


def test_shapes_only_does_not_call_the_layers_and_is_off_outside_the_block():
    calls = []

    class Counting(qkeras.QActivation):
        def call(self, inputs):
            calls.append(1)
            return super().call(inputs)

    def build():
        x = keras.Input(shape=(6,))
        y = qkeras.QDense(4, kernel_quantizer="quantized_bits(4,0,1)")(x)
        return keras.Model(x, Counting("quantized_relu(4)")(y))

    with shapes_only():
        model = build()
    assert calls == [] and model.output_shape == (None, 4) and model.layers[1].kernel.shape == (6, 4)
    build()
    assert calls == [1]


def test_the_search_computes_its_exact_costs_from_a_shapes_only_build(tmp_path, monkeypatch):
    from kerasnac import _shapes_only

    seen = []
    space = kn.SearchSpace.from_yaml("jets_mlp")
    original = space.model_from_values
    monkeypatch.setattr(space, "model_from_values",
                        lambda v: seen.append(getattr(_shapes_only._state, "on", False)) or original(v))
    nac = kn.KerasNAC(space, ["val_accuracy", "bops"], max_trials=2, directory=str(tmp_path), verbose=0, baselines=False)
    values = draws(space, 1, seed=0)[0]
    assert nac._exact_costs(values) == costs.evaluate(original(values))
    assert seen == [True]

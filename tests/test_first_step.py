"""kerasnac._compile.prepare_first_step: a trial's model traces its training function once, validates
eagerly when that is cheaper, and trains exactly as without the preparation."""

import numpy as np
import pytest

import kerasnac as kn
from kerasnac import _compile, _data
from kerasnac._keras import keras, tf


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 16)).astype("float32")
    y = (x[:, :5] @ rng.normal(size=(5,)) > 0).astype("int64") + 2 * (x[:, 5] > 0.5)
    space = kn.SearchSpace.from_yaml("jets_mlp", input_shape=(16,), num_classes=5)
    data = _data.prepare(space, x[:240], y[:240], (x[240:], y[240:]), 0.2, 64, 0)
    space.label_mode = data.mode
    return space, data, space.complete_values({})


def train(space, data, values, prepare, epochs=2, val=None):
    keras.backend.clear_session()
    keras.utils.set_random_seed(3)
    model = space.build(_hp(space, values))
    ds, val = data.train_for_seed(3), val if val is not None else data.val()
    if prepare:
        _compile.prepare_first_step(model, ds, val, epochs)
    h = model.fit(ds, validation_data=val, epochs=epochs, verbose=0)
    return model, h


def _hp(space, values):
    from kerasnac._keras import kt

    hp = kt.HyperParameters()
    for h in space.hyperparameters().space:
        hp.merge([h])
        if hp.is_active(h):
            hp.values[h.name] = values.get(h.name, h.default)
    return hp


def test_one_training_trace_and_the_same_training(setup):
    space, data, values = setup
    plain, h0 = train(space, data, values, prepare=False)
    ready, h1 = train(space, data, values, prepare=True)
    assert plain.train_function.experimental_get_tracing_count() == 2  # variables created on the first call
    assert ready.train_function.experimental_get_tracing_count() == 1
    assert sorted(h0.history) == sorted(h1.history)
    for k in h0.history:
        np.testing.assert_allclose(h0.history[k], h1.history[k], rtol=1e-5, atol=1e-6)


def test_short_validation_runs_eagerly_and_long_validation_is_traced(setup):
    space, data, values = setup
    short, _ = train(space, data, values, prepare=True)  # 1 validation batch x 2 epochs
    assert not isinstance(short.test_function, tf.types.experimental.GenericFunction)
    many = data.val().unbatch().batch(4)  # 15 batches x 2 epochs: a trace pays off
    long, _ = train(space, data, values, prepare=True, val=many)
    assert isinstance(long.test_function, tf.types.experimental.GenericFunction)


def test_models_it_does_not_understand_are_left_alone():
    model = keras.Sequential([keras.layers.Input((3,)), keras.layers.Dense(2)])  # not compiled
    assert _compile.create_variables(model, np.zeros((2, 3), "float32"), np.zeros((2,), "int64")) is False
    _compile.prepare_first_step(model, object(), None, 2)  # neither samples nor batches known: nothing done


def test_a_trial_trains_with_the_fused_twin_of_its_optimizer(setup):
    space, data, values = setup
    model, _ = train(space, data, values, prepare=True)
    assert isinstance(model.optimizer, keras.optimizers.legacy.Adam)
    assert float(keras.backend.get_value(model.optimizer.learning_rate)) == pytest.approx(0.003)
    kept = space.build(_hp(space, values))  # what users get from the space keeps the new optimizer (.keras state)
    assert not isinstance(kept.optimizer, keras.optimizers.legacy.Optimizer)
    decayed = space.build(_hp(space, values))
    decayed.compile(keras.optimizers.Adam(1e-3, weight_decay=1e-4), loss=decayed.loss)
    assert _compile.fused_optimizer(decayed) is False  # no legacy twin with weight decay: left alone

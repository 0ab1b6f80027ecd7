"""Heads start at the training targets' mean (``output_bias="mean"``, the default): a regression's mean
target, a classifier's class frequencies (the log priors as the softmax's bias)."""

import json
import os

import numpy as np
import pytest

import kerasnac as kn
from kerasnac import _data
from kerasnac._keras import tf
from kerasnac.errors import ConfigError, SpaceError
from kerasnac.gradient import GradientSearch
from kerasnac.space import names


def regression_space(weight_bits=(4, 8), n_outputs=2, head_bits=None):
    return kn.SearchSpace((8,), [{"name": "s0", "blocks": {"mlp": {"layers": [1], "units": [4, 8]}}}],
                          task="regression", n_outputs=n_outputs,
                          quant={"weight_bits": list(weight_bits), "activation_bits": [8], "activation_integer": 2},
                          head=None if head_bits is None else {"quant": {"weight_bits": [head_bits]}})


def offset_data(n=400, seed=0, offsets=(0.6, -0.4)):
    """Targets far from zero (``offsets`` on average) with a small learnable part."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype("float32")
    y = np.column_stack([offsets[0] + 0.05 * x[:, 0], offsets[1] + 0.05 * x[:, 1]]).astype("float32")
    return x, y


def head_bias(model):
    return model.get_layer(names.HEAD_DENSE).get_weights()[1]


def test_the_head_starts_at_the_output_bias_clipped_to_its_quantizer():
    space = regression_space(weight_bits=(4,))
    assert np.allclose(head_bias(space.model_from_values({})), 0.0)  # no bias given: Keras' zeros
    space.output_bias = [0.45, 3.0]
    # quantized_bits(4, 0) represents [-1, 1]: 3.0 would be saturated anyway, so it starts at the edge
    assert np.allclose(head_bias(space.model_from_values({})), [0.45, 1.0])
    floating = regression_space(weight_bits=(32,))
    floating.output_bias = [0.45, 3.0]
    assert np.allclose(head_bias(floating.model_from_values({})), [0.45, 3.0])
    space.output_bias = [0.1, 0.2, 0.3]
    with pytest.raises(SpaceError, match="output_bias has 3 values but the space has n_outputs=2"):
        space.model_from_values({})


def test_a_classification_head_starts_at_the_log_priors():
    space = kn.SearchSpace((8,), [{"mlp": {"units": [4]}}], num_classes=3, quant={"weight_bits": [32]})
    space.output_bias = _data.log_prior_bias([0.1, 0.3, 0.6])
    bias = head_bias(space.model_from_values({}))
    assert np.allclose(np.exp(bias) / np.exp(bias).sum(), [0.1, 0.3, 0.6], atol=1e-6)
    assert abs(bias.sum()) < 1e-6  # centred: a narrow quantizer clips the least
    space.output_bias = [0.0, 0.0]
    with pytest.raises(SpaceError, match="output_bias has 2 values but the space has num_classes=3"):
        space.model_from_values({})


def test_log_prior_bias_of_an_absent_class_is_finite():
    bias = _data.log_prior_bias([0.5, 0.5, 0.0])
    assert np.all(np.isfinite(bias)) and bias[2] < bias[0] - 8  # about log(1e-4 / 0.5)
    assert np.allclose(_data.log_prior_bias([0.25] * 4), 0.0)  # balanced classes: Keras' zeros


def test_target_mean_of_arrays_and_of_a_dataset():
    space = regression_space()
    x, y = offset_data()
    data = _data.prepare(space, x, y, None, 0.25, 64, seed=0)
    assert np.allclose(data.target_mean(), data.y.mean(axis=0), atol=1e-6)
    assert data.target_mean()[0] == pytest.approx(0.6, abs=0.02) and data.target_mean()[1] == pytest.approx(-0.4, abs=0.02)
    train = tf.data.Dataset.from_tensor_slices((data.x, data.y)).batch(64)
    val = tf.data.Dataset.from_tensor_slices((data.x_val, data.y_val)).batch(64)
    from_ds = _data.prepare(space, train, validation_data=val, batch_size=64)
    assert np.allclose(from_ds.target_mean(), data.target_mean(), atol=1e-6)
    endless = _data.prepare(space, train.repeat(), validation_data=val, batch_size=64)
    assert endless.target_mean() is None  # its length is unknown: no pass over it, heads start at zero

def test_class_frequencies_of_integer_and_one_hot_labels_and_of_a_dataset():
    x, _ = offset_data()
    labels = np.where(x[:, 0] > 1.0, 1, 0).astype("int64")  # about 16% of class 1
    labels[:5] = 2
    cls = kn.SearchSpace((8,), [{"mlp": {"units": [4]}}], num_classes=4)
    sparse = _data.prepare(cls, x, labels, None, 0.25, 64, seed=0)
    want = np.bincount(sparse.y, minlength=4) / len(sparse.y)
    assert np.allclose(sparse.target_mean(4), want) and want[3] == 0 and len(sparse.target_mean(4)) == 4
    onehot = _data.prepare(cls, x, np.eye(4)[labels], None, 0.25, 64, seed=0)
    assert np.allclose(onehot.target_mean(4), want)
    train = tf.data.Dataset.from_tensor_slices((sparse.x, sparse.y)).batch(64)
    val = tf.data.Dataset.from_tensor_slices((sparse.x_val, sparse.y_val)).batch(64)
    assert np.allclose(_data.prepare(cls, train, validation_data=val, batch_size=64).target_mean(4), want)
    with pytest.raises(ValueError, match="needs num_classes"):
        sparse.target_mean()


def test_configure_space_sets_the_bias_and_the_label_mode():
    space = regression_space()
    x, y = offset_data()
    data = _data.prepare(space, x, y, None, 0.25, 64)
    _data.configure_space(space, data, "mean")
    assert space.output_bias == data.target_mean()
    _data.configure_space(space, data, None)
    assert space.output_bias is None
    cls = kn.SearchSpace((8,), [{"mlp": {"units": [4]}}], num_classes=2)
    cls_data = _data.prepare(cls, x, (x[:, 0] > 1.0).astype("int64"), None, 0.25, 64)
    _data.configure_space(cls, cls_data, "mean")
    assert cls.label_mode == "sparse" and cls.output_bias == _data.log_prior_bias(cls_data.target_mean(2))
    _data.configure_space(cls, cls_data, None)
    assert cls.output_bias is None


@pytest.mark.parametrize("bad", ["median", 0.5, True])
def test_a_bad_output_bias_is_refused_before_any_work(bad, tmp_path):
    with pytest.raises(ConfigError, match="output_bias must be 'mean'"):
        kn.KerasNAC(regression_space(), ["val_mae", "bops"], directory=str(tmp_path), output_bias=bad)
    with pytest.raises(ConfigError, match="output_bias must be 'mean'"):
        GradientSearch(regression_space(), budget={"bops": 1e3}, output_bias=bad)


def search(tmp_path, output_bias, project):
    x, y = offset_data(offsets=(3.0, -2.0))  # a float head (32 bits) can start at offsets beyond +-1
    nac = kn.KerasNAC(regression_space(head_bits=32), ["val_mae", "bops"], max_trials=3, population_size=3, baselines=False,
                      directory=str(tmp_path), project_name=project, seed=0, verbose=0, output_bias=output_bias)
    nac.search(x[:300], y[:300], validation_data=(x[300:], y[300:]), epochs=1, batch_size=64)
    return nac


def test_trials_start_at_the_mean_and_the_resume_check_knows_it(tmp_path):
    mean, zero = search(tmp_path, "mean", "mean"), search(tmp_path, None, "zero")
    a, b = (n.trials_dataframe().sort_values("trial_id") for n in (mean, zero))
    assert list(a["architecture"]) == list(b["architecture"])  # the same architectures, trained from two heads
    # 5 steps from a zero head leave the 3 / -2 offsets unlearned (MAE about 2.5); from the mean they are
    # there at once, and what is left is the untrained hidden layer's output
    assert (a["val_mae"].to_numpy() < 1.2).all() and (b["val_mae"].to_numpy() > 1.8).all()
    with open(os.path.join(mean.project_dir, "kerasnac.json")) as f:
        assert json.load(f)["fingerprint"]["output_bias"] == "mean"
    with pytest.raises(ConfigError, match="output_bias: 'mean' -> None"):
        search(tmp_path, None, "mean")


def test_the_supernet_head_starts_at_the_mean():
    x, y = offset_data()
    mean = y[:300].mean(axis=0)
    gs = GradientSearch(regression_space(), budget={"bops": 2e3}, epochs=1, warmup_epochs=0, batch_size=64,
                        verbose=0)
    assert np.allclose(gs.supernet.head.bias.numpy(), 0.0)  # before the data is known: Keras' zeros
    gs.fit(x[:300], y[:300], validation_data=(x[300:], y[300:]))
    # 5 weight steps move a bias by about 5 learning rates (1e-3 each) from where it started (one search: the
    # start at zero with output_bias=None is init_bias(None), which leaves the zeros above)
    assert np.allclose(gs.supernet.head.bias.numpy(), mean, atol=0.05)


def rare_signal(n=700, seed=0, rate=0.08):
    """A trigger-like task: class 1 in ``rate`` of the samples, told apart by a shift of two features."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rate).astype("int64")
    x = rng.normal(size=(n, 8)).astype("float32")
    x[:, :2] += 1.5 * y[:, None]
    return x, y


def test_classifier_trials_start_at_the_class_priors_and_the_resume_check_knows_it(tmp_path):
    x, y = rare_signal()
    runs = {}
    for bias in ("mean", None):
        space = kn.SearchSpace((8,), [{"name": "s0", "blocks": {"mlp": {"layers": [1], "units": [4, 8]}}}], num_classes=2,
                               quant={"weight_bits": [32], "activation_bits": [8], "activation_integer": 2})
        nac = kn.KerasNAC(space, ["val_loss", "bops"], max_trials=3, population_size=3, baselines=False,
                          directory=str(tmp_path), project_name=str(bias), seed=0, verbose=0, output_bias=bias)
        nac.search(x[:400], y[:400], validation_data=(x[400:], y[400:]), epochs=1, batch_size=64)
        runs[bias] = nac.trials_dataframe().sort_values("trial_id")
    a, b = runs["mean"], runs[None]
    assert list(a["architecture"]) == list(b["architecture"])
    # 7 steps from a softmax at zero leave a validation loss of 0.45-1.05 (log 2 = 0.69 at the start); from the
    # priors (8% signal) it starts near their entropy, 0.28, and stays there (0.23-0.29 measured)
    la, lb = a["val_loss"].to_numpy(), b["val_loss"].to_numpy()
    assert (la < 0.35).all() and (lb > 0.4).all() and (la < lb).all()
    with open(os.path.join(str(tmp_path), "mean", "kerasnac.json")) as f:
        assert json.load(f)["fingerprint"]["output_bias"] == "mean"

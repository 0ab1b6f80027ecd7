"""A block declares its own gradient relaxation: a user-registered block opts in, one without it is refused."""

import numpy as np
import pytest

import kerasnac as kn
from kerasnac._keras import tf
from kerasnac.gradient import GradientSearch, NotRelaxableError, Supernet
from kerasnac.gradient._probes import Prober, resolve_cost
from kerasnac.space import Quant, names, relax

QUANT = {"weight_bits": [4, 16], "activation_bits": 8, "activation_integer": 0}


class TinyDenseRelax(relax.Relaxed):
    """One QDense at the largest width, masked to the candidate widths; bits and activation mixed."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.units, self.act = self.declare("units"), self.declare("activation")
        self.qm = relax.QuantMix(self.choice_set, self.prefix, self.spec["quant"], self.where)
        self.width = max(self.units.values)
        self.kernel = self.add_weight("kernel", (self.in_shape[-1], self.width), initializer="lecun_uniform")
        self.bias = self.add_weight("bias", (self.width,), initializer="zeros")
        self.out_shape = (self.width,)

    def call(self, x, P, training=None, region=None):
        z = tf.matmul(x, self.qm.kernel(self.kernel, P)) + self.qm.bias(self.bias, P)
        return self.qm.activation(z, self.act, P) * relax.width_mask(self.units, P, self.width)

    def plan(self, keys, prober):
        # every bit width and the activation are enumerated jointly (modes); the width is the unit's own choice
        self.modes = relax.Modes([self.act, *self.qm.c.values()])

        def fn(m, key, own):
            (shape, bits), (u,) = key, own
            act = relax.mode_value(self.modes, m, self.act)
            q = {k: relax.mode_value(self.modes, m, c) for k, c in self.qm.c.items()}
            q = {k: v for k, v in q.items() if v is not None}

            def build(x, name):
                return TinyDense().build(x, {"units": u, "activation": act}, Quant(**q), name)

            cost, out_bits = prober.layers(f"tiny-{u}-{act}-{sorted(q.items())}", shape, bits, build)
            return cost, ((u,), out_bits)

        self.unit = relax.Unit(self.modes, keys, np.ones((len(self.modes), len(keys)), bool), [self.units], fn,
                               prober)
        return self

    def cost(self, dist, P):
        c, p = self.unit(relax.broadcast(self.modes, dist), P)
        return relax.marginal(self.modes, P, c, relax.Dist(self.unit.keys_out, p))

    def export(self, model, values, in_shape):
        layer = self.derived_layer(model, "dense")
        n_in, u = (int(s) for s in layer.kernel.shape)
        layer.set_weights([self.kernel.numpy()[:n_in, :u], self.bias.numpy()[:u]])


@kn.register_block("test_tiny_dense")
class TinyDense(kn.Block):
    params = {"units": [4, 8], "activation": "relu"}
    input_ranks = (1,)
    relaxation = TinyDenseRelax

    def output_rank(self, rank):
        return 1

    def build(self, x, cfg, quant, name):
        x = quant.dense(cfg["units"], name=names.layer_name(name, "dense"))(x)
        return quant.activation(cfg["activation"], name=names.layer_name(name, "act"))(x)


@kn.register_block("test_plain_dense")
class PlainDense(kn.Block):
    params = {"units": [4, 8]}

    def build(self, x, cfg, quant, name):
        return quant.dense(cfg["units"], name=names.layer_name(name, "dense"))(x)


def _space(block):
    stages = [{"name": "s0", "blocks": {block: {}}},
              {"name": "s1", "blocks": {"mlp": {"layers": 1, "units": [4, 8], "batchnorm": False, "activation": "relu"},
                                        "skip": {}}}]
    return kn.SearchSpace((16,), stages, num_classes=5, quant=QUANT, head={"quant": {"weight_bits": 8}},
                          training={"learning_rate": 0.01})


@pytest.fixture(scope="module")
def data():
    x, y = kn.datasets.toy_jets_hlf(400, seed=0)
    tr, va, _ = kn.datasets.split_and_scale(x, y, val_fraction=0.3, test_fraction=0.1, seed=0)
    return tr, va


def test_builtin_blocks_declare_their_relaxation():
    assert set(kn.space.relaxable_blocks()) >= {"mlp", "deepsets", "conv", "conv_attn", "skip", "test_tiny_dense"}
    assert "test_plain_dense" not in kn.space.relaxable_blocks()
    for name in ("mlp", "deepsets", "conv", "conv_attn", "skip"):
        block = kn.space.get_block(name)
        assert issubclass(block.relaxation, relax.Relaxed)
        assert block.relaxation.__module__ == type(block).__module__  # declared in the block's own file


def test_user_block_relaxation_costs_and_weights_agree():
    """One-hot expected costs equal costs.evaluate on the built model; exported weights give the same outputs."""
    space = _space("test_tiny_dense")
    sn = Supernet(space)
    assert {"s0/test_tiny_dense/units", "s0/test_tiny_dense/q/w_bits", "s1/block"} <= set(sn.choices.choices)
    metrics = ["bops", "lut", "params"]
    sn.plan_cost(Prober({m: resolve_cost(m) for m in metrics}))
    xr = tf.random.uniform([3, 16], seed=1)
    for vals in ({"s0/test_tiny_dense/units": 4, "s0/test_tiny_dense/q/w_bits": 4, "s1/mlp/units_0": 8,
                  "s1/mlp/q/w_bits": 16, "s1/block": "mlp"},
                 {"s0/test_tiny_dense/units": 8, "s0/test_tiny_dense/q/w_bits": 16, "s1/mlp/units_0": 4,
                  "s1/mlp/q/w_bits": 4, "s1/block": "skip"}):
        model = space.model_from_values(sn.hp_values(vals))
        expected = sn.expected_cost(sn.choices.onehot(vals)).numpy()
        actual = kn.costs.evaluate(model, metrics)
        np.testing.assert_allclose(expected, [actual[m] for m in metrics], rtol=1e-5)
        sn.export(model, vals)
        np.testing.assert_allclose(model.predict(xr.numpy(), verbose=0),
                                   sn(xr, P=sn.choices.onehot(vals), training=False).numpy(), atol=1e-5)


def test_user_block_with_relaxation_is_searched(data):
    gs = GradientSearch(_space("test_tiny_dense"), cost="bops", epochs=1, warmup_epochs=0, batch_size=64,
                        verbose=0, seed=0)
    gs.fit(*data[0], validation_data=data[1])
    assert list(gs.history_dataframe()["phase"]) == ["search"]
    model = gs.derive(finetune_epochs=0)
    units = gs.values["s0/test_tiny_dense/units"]
    assert units in (4, 8) and model.get_layer("s0_dense").units == units
    assert gs.summary().iloc[0]["argmax_model"] == pytest.approx(gs.derived_costs["cost"], rel=1e-6)


def test_user_block_without_relaxation_is_refused_before_training(data):
    space = _space("test_plain_dense")
    with pytest.raises(NotRelaxableError, match=r"block 'test_plain_dense' has no gradient relaxation; "
                                                r"implement Block\.relax\(\.\.\.\).*strategy='evolution'"):
        GradientSearch(space, cost="bops", epochs=1, warmup_epochs=0, verbose=0)
    # the space itself is fine for the evolutionary search
    assert space.model_from_values({"s0/test_plain_dense/units": 8}).get_layer("s0_dense").units == 8


def test_names_module_spells_the_space_hyperparameters():
    space = kn.SearchSpace.from_yaml("jets_mlp", training={"learning_rate": [0.003, 0.001]})
    hp = {h.name for h in space.hyperparameters().space}
    prefix = names.block_prefix("s0", "mlp")
    assert {names.block_hp("s1"), names.param_hp(prefix, "layers"), names.param_hp(prefix, names.per_layer("units", 0)),
            names.quant_hp(prefix, "weight_bits"), names.train_hp("learning_rate")} <= hp
    model = space.model_from_values({})
    assert {names.INPUT_LAYER, names.HEAD_DENSE, names.HEAD_SOFTMAX} <= {l.name for l in model.layers}

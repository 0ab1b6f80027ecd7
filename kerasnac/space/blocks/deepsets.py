"""Deep Sets (Zaheer et al. 2017) for particle sets of shape (N, features), and its relaxation.

phi: a QDense stack applied to every element (Dense acts on the last axis), then a permutation-
invariant mean or max over the N elements, then rho: a QDense stack on the pooled vector.
Zero-padded elements take part in the mean/max like any other element.
"""

import numpy as np

from ..._keras import keras, tf
from .. import names
from ..relax import Modes, Relaxed, Unit, block_choices, broadcast, marginal, p_of, scatter
from ._base import Block, register_block
from .mlp import DenseStack, dense_stack

_POOLS = {"mean": keras.layers.GlobalAveragePooling1D, "max": keras.layers.GlobalMaxPooling1D}


def _stack_cfg(cfg, part):
    """The ``dense_stack`` config of the ``phi`` or ``rho`` part of a Deep Sets config."""
    n = cfg[f"{part}_layers"]
    out = {**cfg, "layers": n}
    out.update({names.per_layer("units", i): cfg[names.per_layer(f"{part}_units", i)] for i in range(n)})
    return out


class DeepSetsRelax(Relaxed):
    """Relaxed :class:`DeepSets`: phi stack → mixed mean/max pooling → rho stack."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        cs = self.choice_set
        self.act, self.bn, self.qm = block_choices(self)
        self.phi = DenseStack(cs, self.prefix, self.spec, "phi_layers", "phi_units", self.qm, self.act, self.bn,
                              self.in_shape, "phi", self.where, name="phi")
        self.agg = self.declare("aggregation")
        self.rho = DenseStack(cs, self.prefix, self.spec, "rho_layers", "rho_units", self.qm, self.act, self.bn,
                              self.phi.out_shape[1:], "rho", self.where, name="rho")
        self.out_shape = self.rho.out_shape

    def call(self, x, P, training=None, region=None):
        h = self.phi(x, P=P, training=training)
        p = p_of(self.agg, P)
        pooled = tf.add_n([p[i] * (tf.reduce_mean(h, axis=1) if a == "mean" else tf.reduce_max(h, axis=1))
                           for i, a in enumerate(self.agg.values)])
        return self.rho(pooled, P=P, training=training)

    def plan(self, keys, prober):
        self.modes = Modes([self.bn, self.act, self.qm.wb, self.qm.ab])
        M = len(self.modes)
        self.phi.plan(self.modes, keys, np.ones((M, len(keys)), bool), prober)
        phi_keys = list(dict.fromkeys(
            ([k for k in keys] if 0 in self.phi.layers_c.values else [])
            + [k for _, u in self.phi.units for k in u.keys_out]))
        self._phi_keys = phi_keys
        support = np.ones((M, len(phi_keys)), bool)

        def fn(m, key, own):
            shape, bits = key
            (agg,) = own
            cost, out_bits = prober.layers(f"gpool_{agg}", shape, bits,
                                           lambda x, n: _POOLS[agg](name=names.layer_name(n, agg))(x))
            return cost, ((shape[-1],), out_bits)

        self.pool = Unit(self.modes, phi_keys, support, [self.agg], fn, prober)
        self.rho.plan(self.modes, self.pool.keys_out, self.pool.support_out, prober)
        return self

    def cost(self, dist, P):
        c1, d1 = self.phi.cost(broadcast(self.modes, dist), P)
        p = scatter(d1.p, [self._phi_keys.index(k) for k in d1.keys], len(self._phi_keys))
        c2, p2 = self.pool(p, P)
        c3, d3 = self.rho.cost(p2, P)
        return marginal(self.modes, P, c1 + c2 + c3, d3)

    def export(self, model, values, in_shape):
        self.phi.export(model, self.stage, values, lambda n_in: np.arange(n_in))
        self.rho.export(model, self.stage, values, lambda n_in: np.arange(n_in))


@register_block("deepsets")
class DeepSets(Block):
    params = {
        "phi_layers": {"min": 1, "max": 3},
        "phi_units": [8, 16, 32, 64],
        "aggregation": ["mean", "max"],
        "rho_layers": {"min": 0, "max": 2},
        "rho_units": [8, 16, 32],
        "activation": ["relu"],
        "batchnorm": False,
        "dropout": 0.0,
    }
    per_layer = {"phi_units": "phi_layers", "rho_units": "rho_layers"}
    input_ranks = (2,)
    relaxation = DeepSetsRelax

    def output_rank(self, rank):
        return 1

    def build(self, x, cfg, quant, name):
        x = dense_stack(x, _stack_cfg(cfg, "phi"), quant, name, prefix="phi")
        x = _POOLS[cfg["aggregation"]](name=names.layer_name(name, cfg["aggregation"]))(x)
        return dense_stack(x, _stack_cfg(cfg, "rho"), quant, name, prefix="rho")

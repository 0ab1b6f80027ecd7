"""MLP: a stack of QDense layers (flattens a spatial input first), and its relaxation."""

import numpy as np

from ..._keras import keras, tf
from .. import _params, names
from .._quant import Quant
from ..relax import (Dist, Modes, QuantMix, Relaxed, Unit, block_choices, broadcast, canvas_rows, marginal,
                     mode_value, p_of, p_true, pad_channels, scatter, stack_cost, width_mask)
from ._base import Block, register_block


def _dense_name(name, prefix, i, suffix=""):
    """``<name>_<prefix><i>[_<suffix>]``: the i-th layer of a dense stack (and its bn/act/drop)."""
    return names.layer_name(name, f"{prefix}{i}" + (f"_{suffix}" if suffix else ""))


def dense_stack(x, cfg, quant, name, prefix="dense"):
    """QDense -> [BatchNorm] -> QActivation -> [Dropout], ``cfg['layers']`` times."""
    for i in range(cfg["layers"]):
        x = quant.dense(cfg[names.per_layer("units", i)], name=_dense_name(name, prefix, i))(x)
        if cfg.get("batchnorm"):
            x = keras.layers.BatchNormalization(name=_dense_name(name, prefix, i, "bn"))(x)
        x = quant.activation(cfg["activation"], name=_dense_name(name, prefix, i, "act"))(x)
        if cfg.get("dropout"):
            x = keras.layers.Dropout(cfg["dropout"], name=_dense_name(name, prefix, i, "drop"))(x)
    return x


def probe_dense(prober, shape, bits, units, wb):
    """The cost of the QDense row of :func:`dense_stack` (float build, weight bits ``wb`` swapped in)."""
    def build(x, name):
        cfg = {"layers": 1, names.per_layer("units", 0): int(units), "batchnorm": False, "activation": "linear"}
        return dense_stack(x, cfg, Quant(), name)

    return prober.layers(("dense", int(units)), shape, bits, build, wb=wb, rows=slice(0, 1))


def probe_post(prober, shape, bits, bn, act, ab, wb, layer_fn):
    """The cost of the [BatchNorm] → activation rows after a QDense or QConv of width ``shape[-1]`` and
    weight bits ``wb`` (which decide whether hls4ml fuses the BatchNorm), as ``layer_fn`` (a one-layer
    :func:`dense_stack` or ``conv.conv_layer``: ``layer_fn(x, width, batchnorm, activation, quant, name)``)
    builds them."""
    a_float = ab >= 32

    def build(x, name):
        return layer_fn(x, int(shape[-1]), bool(bn), act, Quant(activation_bits=32 if a_float else 8), name)

    kind = ("post", layer_fn.__module__, layer_fn.__name__, bool(bn), act, a_float)
    return prober.layers(kind, shape, bits, build, wb=wb, act=act, ab=ab, rows=slice(1, None))


def _one_dense(x, width, batchnorm, activation, quant, name):
    cfg = {"layers": 1, names.per_layer("units", 0): width, "batchnorm": batchnorm, "activation": activation}
    return dense_stack(x, cfg, quant, name)


class DenseStack(keras.layers.Layer):
    """Relaxed :func:`dense_stack`: ``<layers_key>`` layers of QDense → [BN] → activation."""

    def __init__(self, cs, prefix: str, spec: dict, layers_key: str, units_key: str, qm: QuantMix,
                 act, bn, in_shape: tuple, layer_prefix: str, where: str, **kw):
        super().__init__(**kw)
        self.layers_c = cs.declare(names.param_hp(prefix, layers_key), spec[layers_key], where)
        self.n = max(self.layers_c.values)
        self.units_c = [cs.declare(names.param_hp(prefix, names.per_layer(units_key, i)), spec[units_key], where)
                        for i in range(self.n)]
        self.qm, self.act, self.bn, self.layer_prefix = qm, act, bn, layer_prefix
        self.dropout = spec.get("dropout") or 0.0
        if _params.is_searched(spec.get("dropout")):
            cs.declare(names.param_hp(prefix, "dropout"), spec["dropout"], where, relaxable=False,
                       why="a dropout rate is not a hardware choice")
        self.in_shape = tuple(in_shape)
        self.widths = [max(c.values) for c in self.units_c]
        out_w = max([self.in_shape[-1]] * (0 in self.layers_c.values) + [self.widths[i - 1] for i in self.layers_c.values if i > 0])
        self.out_shape = self.in_shape[:-1] + (out_w,)
        w_in = self.in_shape[-1]
        self.kernels, self.biases, self.bns = [], [], []
        for i, w in enumerate(self.widths):
            self.kernels.append(self.add_weight(f"kernel{i}", (w_in, w), initializer="lecun_uniform"))
            self.biases.append(self.add_weight(f"bias{i}", (w,), initializer="zeros"))
            self.bns.append(keras.layers.BatchNormalization(name=f"bn{i}") if any(self.bn.values) else None)
            w_in = w
        self.drop = keras.layers.Dropout(self.dropout) if self.dropout else None

    def call(self, x, P, training=None):
        p_l = p_of(self.layers_c, P)
        vals = self.layers_c.values
        out_w = self.out_shape[-1]
        out = 0.0
        if 0 in vals:
            out = p_l[vals.index(0)] * pad_channels(x, out_w)
        h = x
        for i in range(self.n):
            z = tf.einsum("...i,ij->...j", h, self.qm.kernel(self.kernels[i], P)) + self.qm.bias(self.biases[i], P)
            if self.bns[i] is not None:
                pb = p_true(self.bn, P)
                z = pb * self.bns[i](z, training=training) + (1.0 - pb) * z
            h = self.qm.activation(z, self.act, P) * width_mask(self.units_c[i], P, self.widths[i])
            if self.drop is not None:
                h = self.drop(h, training=training)
            if i + 1 in vals:
                out = out + p_l[vals.index(i + 1)] * pad_channels(h, out_w)
        return out

    # ------------------------------------------------------------------ expected cost
    def plan(self, modes: Modes, keys: list, support, prober):
        self.modes, self.units, self.keys0 = modes, [], keys
        for i in range(self.n):
            def dense(m, key, own):
                (shape, bits), (u,) = key, own
                cost, out_bits = probe_dense(prober, shape, bits, u, mode_value(modes, m, self.qm.wb))
                return cost, (tuple(shape[:-1]) + (u,), out_bits)

            def post(m, key, own):
                shape, bits = key
                cost, out_bits = probe_post(prober, shape, bits, mode_value(modes, m, self.bn),
                                            mode_value(modes, m, self.act), mode_value(modes, m, self.qm.ab),
                                            mode_value(modes, m, self.qm.wb), _one_dense)
                return cost, (shape, out_bits)

            u1 = Unit(modes, keys, support, [self.units_c[i]], dense, prober)
            u2 = Unit(modes, u1.keys_out, u1.support_out, [], post, prober)
            self.units.append((u1, u2))
            keys, support = u2.keys_out, u2.support_out
        return self

    def cost(self, p, P):
        """``p [M, K]`` → (expected cost ``[M, Z]``, output ``Dist`` with ``[M, K]`` probabilities)."""
        return stack_cost(self.layers_c, self.units, self.keys0, p, P)

    # ------------------------------------------------------------------ derive
    def export(self, model, stage: str, values: dict, first_rows):
        n = values.get(self.layers_c.name, self.layers_c.values[0])
        for i in range(n):
            layer = model.get_layer(_dense_name(stage, self.layer_prefix, i))
            n_in, u = (int(s) for s in layer.kernel.shape)
            rows = first_rows(n_in) if i == 0 else np.arange(n_in)
            k = tf.gather(self.kernels[i], rows)[:, :u]
            layer.set_weights([k.numpy(), self.biases[i][:u].numpy()])
            if self.bns[i] is not None and values.get(self.bn.name, self.bn.values[0]):
                bn = model.get_layer(_dense_name(stage, self.layer_prefix, i, "bn"))
                bn.set_weights([w[:u].numpy() for w in self.bns[i].weights])


class MLPRelax(Relaxed):
    """Relaxed :class:`MLP`: a flattened input through a :class:`DenseStack`."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        cs = self.choice_set
        self.act, self.bn, self.qm = block_choices(self)
        flat = (int(np.prod(self.in_shape)),)
        self.stack = DenseStack(cs, self.prefix, self.spec, "layers", "units", self.qm, self.act, self.bn,
                                flat, "dense", self.where, name="stack")
        self.out_shape = self.stack.out_shape

    def call(self, x, P, training=None, region=None):
        if len(x.shape) > 2:
            x = tf.reshape(x, [-1, int(np.prod(x.shape[1:]))])
        return self.stack(x, P=P, training=training)

    def plan(self, keys, prober):
        self.modes = Modes([self.bn, self.act, self.qm.wb, self.qm.ab])
        flat = [((int(np.prod(s)),), b) for s, b in keys]
        self.flat_keys = flat
        uniq = list(dict.fromkeys(flat))
        self.stack.plan(self.modes, uniq, np.ones((len(self.modes), len(uniq)), bool), prober)
        self._flat_index = [uniq.index(k) for k in flat]
        return self

    def cost(self, dist, P):
        p = scatter(dist.p, self._flat_index, len(self.stack.keys0))
        c, out = self.stack.cost(broadcast(self.modes, Dist(self.stack.keys0, p)), P)
        return marginal(self.modes, P, c, out)

    def export(self, model, values, in_shape):
        def first_rows(n_in):
            if len(self.in_shape) > 1:
                derived = self.derived_layer(model, "flatten").input_shape[1:]
                return canvas_rows(derived, self.in_shape)
            return np.arange(n_in)

        self.stack.export(model, self.stage, values, first_rows)


@register_block("mlp")
class MLP(Block):
    params = {
        "layers": {"min": 1, "max": 3},
        "units": [8, 16, 32, 64],
        "activation": ["relu"],
        "batchnorm": [False, True],
        "dropout": 0.0,
    }
    per_layer = {"units": "layers"}
    relaxation = MLPRelax

    def output_rank(self, rank):
        return 1

    def build(self, x, cfg, quant, name):
        if len(x.shape) > 2:
            x = keras.layers.Flatten(name=names.layer_name(name, "flatten"))(x)
        return dense_stack(x, cfg, quant, name)

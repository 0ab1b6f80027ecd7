"""Relaxed blocks: supernet counterparts of the space's block types (mlp, deepsets, skip, conv).

Each relaxed block is a Keras layer with

* ``call(x, P, training)``: the mixed forward pass for probabilities ``P`` (``{choice: vector}``);
* ``plan(keys, prober)`` / ``cost(p_in, P)``: the expected cost (see ``_expected``);
* ``export(model, values)``: copy its weights into the derived model's layers (same names as
  ``space.assemble`` gives them), sliced to the chosen widths.

Tensors in the supernet live on a *canvas*: the maximum width of every candidate (channels beyond a
candidate's width are masked to zero) and, for convolutions, the input's spatial size (a 'valid'
convolution's smaller output is the centre of the canvas, the border is masked to zero).
"""

from __future__ import annotations

import numpy as np

from .._keras import keras, tf
from ..space import _params
from ._choices import ChoiceSet, NotRelaxableError, p_of
from ._expected import Dist, Modes, Unit, mix
from ._ops import QuantMix, canvas_rows, pad_channels, width_mask

_RELAXERS: dict = {}


def relaxer(name):
    def deco(cls):
        _RELAXERS[name] = cls
        return cls

    return deco


def get_relaxer(btype, where):
    if btype not in _RELAXERS:
        raise NotRelaxableError(f"{where}: block type {btype!r} has no supernet counterpart (relaxable blocks: "
                                f"{', '.join(sorted(_RELAXERS))}). Fix the stage's block, e.g. "
                                f"fixed={{'<stage>/block': ...}}, or use the evolutionary KerasNAC.")
    return _RELAXERS[btype]


def stack_cost(layers_c, units, keys0, p, P):
    """Expected cost of a stack whose depth is the choice ``layers_c``: each ``(u1, u2)`` unit pair
    (e.g. a layer and its activation) counts with the probability that the stack is that deep; returns
    the cost and the mixture of the output distributions over the possible depths."""
    p_l, vals = p_of(layers_c, P), layers_c.values
    total, parts = 0.0, []
    if 0 in vals:
        parts.append((p_l[vals.index(0)], Dist(keys0, p)))
    for i, (u1, u2) in enumerate(units):
        gate = tf.add_n([p_l[j] for j, v in enumerate(vals) if v > i])
        c1, p = u1(p, P)
        c2, p = u2(p, P)
        total = total + gate * (c1 + c2)
        if i + 1 in vals:
            parts.append((p_l[vals.index(i + 1)], Dist(u2.keys_out, p)))
    return total, mix(parts)


def p_true(choice, P):
    """Probability that a boolean choice is True."""
    p = p_of(choice, P)
    return tf.add_n([p[i] for i, v in enumerate(choice.values) if v]) if any(choice.values) else tf.zeros([])


def _val(modes: Modes, m: int, choice):
    return modes.value(m, choice.name) if choice in modes.choices else choice.values[0]


class DenseStack(keras.layers.Layer):
    """Relaxed ``blocks.mlp.dense_stack``: ``<layers_key>`` layers of QDense → [BN] → activation."""

    def __init__(self, cs: ChoiceSet, prefix: str, spec: dict, layers_key: str, units_key: str, qm: QuantMix,
                 act, bn, in_shape: tuple, layer_prefix: str, where: str, **kw):
        super().__init__(**kw)
        self.layers_c = cs.declare(f"{prefix}/{layers_key}", spec[layers_key], where)
        self.n = max(self.layers_c.values)
        self.units_c = [cs.declare(f"{prefix}/{units_key}_{i}", spec[units_key], where) for i in range(self.n)]
        self.qm, self.act, self.bn, self.layer_prefix = qm, act, bn, layer_prefix
        self.dropout = spec.get("dropout") or 0.0
        if _params.is_searched(spec.get("dropout")):
            cs.declare(f"{prefix}/dropout", spec["dropout"], where, relaxable=False, why="a dropout rate is not a hardware choice")
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
                cost, out_bits = prober.dense(shape, bits, u, _val(modes, m, self.qm.wb))
                return cost, (tuple(shape[:-1]) + (u,), out_bits)

            def post(m, key, own):
                shape, bits = key
                cost, out_bits = prober.post("dense", shape, bits, _val(modes, m, self.bn), _val(modes, m, self.act),
                                             _val(modes, m, self.qm.ab), _val(modes, m, self.qm.wb))
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
            layer = model.get_layer(f"{stage}_{self.layer_prefix}{i}")
            n_in, u = (int(s) for s in layer.kernel.shape)
            rows = first_rows(n_in) if i == 0 else np.arange(n_in)
            k = tf.gather(self.kernels[i], rows)[:, :u]
            layer.set_weights([k.numpy(), self.biases[i][:u].numpy()])
            if self.bns[i] is not None and values.get(self.bn.name, self.bn.values[0]):
                bn = model.get_layer(f"{stage}_{self.layer_prefix}{i}_bn")
                bn.set_weights([w[:u].numpy() for w in self.bns[i].weights])


class Relaxed(keras.layers.Layer):
    """Base of relaxed blocks: ``in_shape``/``out_shape`` are canvas shapes (without batch)."""

    #: whether the output's valid region is the whole canvas (False after searched 'valid' convolutions)
    exact_out = True

    def __init__(self, stage: str, btype: str, spec: dict, cs: ChoiceSet, in_shape: tuple, where: str,
                 exact_in: bool = True, **kw):
        super().__init__(**kw)
        self._exact_in = exact_in
        self.stage, self.btype, self.spec, self.in_shape, self.where = stage, btype, spec, tuple(in_shape), where
        self.prefix = f"{stage}/{btype}"
        self.choice_set = cs

    def out_region(self, region, P):
        """Soft mask of the output's valid positions (``None``: a flat output or the whole canvas)."""
        return None

    def cost(self, dist: Dist, P):  # pragma: no cover - abstract
        raise NotImplementedError


@relaxer("skip")
class SkipRelax(Relaxed):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.out_shape = self.in_shape
        self.exact_out = self._exact_in

    def out_region(self, region, P):
        return region

    def call(self, x, P, training=None, region=None):
        return x

    def plan(self, keys, prober):
        return self

    def cost(self, dist, P):
        return 0.0, dist

    def export(self, model, values, in_shape):
        pass


def _block_choices(cs, prefix, spec, where):
    act = cs.declare(f"{prefix}/activation", spec["activation"], where)
    bn = cs.declare(f"{prefix}/batchnorm", spec.get("batchnorm", False), where)
    qm = QuantMix(cs, prefix, spec["quant"], where)
    return act, bn, qm


def _broadcast(modes, dist):
    return tf.broadcast_to(dist.p[None, :], [len(modes), len(dist.keys)])


def _marginal(modes, P, cost, dist):
    pm = modes.probs(P)
    return tf.linalg.matvec(cost, pm, transpose_a=True), Dist(dist.keys, tf.linalg.matvec(dist.p, pm, transpose_a=True))


@relaxer("mlp")
class MLPRelax(Relaxed):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        cs = self.choice_set
        self.act, self.bn, self.qm = _block_choices(cs, self.prefix, self.spec, self.where)
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
        from ._expected import scatter

        p = scatter(dist.p, self._flat_index, len(self.stack.keys0))
        c, out = self.stack.cost(_broadcast(self.modes, Dist(self.stack.keys0, p)), P)
        return _marginal(self.modes, P, c, out)

    def export(self, model, values, in_shape):
        def first_rows(n_in):
            if len(self.in_shape) > 1:
                derived = model.get_layer(f"{self.stage}_flatten").input_shape[1:]
                return canvas_rows(derived, self.in_shape)
            return np.arange(n_in)

        self.stack.export(model, self.stage, values, first_rows)


@relaxer("deepsets")
class DeepSetsRelax(Relaxed):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        cs = self.choice_set
        self.act, self.bn, self.qm = _block_choices(cs, self.prefix, self.spec, self.where)
        self.phi = DenseStack(cs, self.prefix, self.spec, "phi_layers", "phi_units", self.qm, self.act, self.bn,
                              self.in_shape, "phi", self.where, name="phi")
        self.agg = cs.declare(f"{self.prefix}/aggregation", self.spec["aggregation"], self.where)
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
        layers = {"mean": keras.layers.GlobalAveragePooling1D, "max": keras.layers.GlobalMaxPooling1D}

        def fn(m, key, own):
            shape, bits = key
            (agg,) = own
            cost, out_bits = prober.layers(f"gpool_{agg}", shape, bits, lambda x, n: layers[agg](name=f"{n}_{agg}")(x))
            return cost, ((shape[-1],), out_bits)

        self.pool = Unit(self.modes, phi_keys, support, [self.agg], fn, prober)
        self.rho.plan(self.modes, self.pool.keys_out, self.pool.support_out, prober)
        return self

    def cost(self, dist, P):
        from ._expected import scatter

        c1, d1 = self.phi.cost(_broadcast(self.modes, dist), P)
        p = scatter(d1.p, [self._phi_keys.index(k) for k in d1.keys], len(self._phi_keys))
        c2, p2 = self.pool(p, P)
        c3, d3 = self.rho.cost(p2, P)
        return _marginal(self.modes, P, c1 + c2 + c3, d3)

    def export(self, model, values, in_shape):
        self.phi.export(model, self.stage, values, lambda n_in: np.arange(n_in))
        self.rho.export(model, self.stage, values, lambda n_in: np.arange(n_in))

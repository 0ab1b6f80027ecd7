"""Base class of relaxed blocks and the helpers the built-in relaxations share."""

from __future__ import annotations

from ..._keras import keras, tf
from .. import names
from ._choices import ChoiceSet, p_of
from ._expected import Dist, Modes, mix
from ._ops import QuantMix


class Relaxed(keras.layers.Layer):
    """Base of relaxed blocks: a Keras layer whose ``in_shape``/``out_shape`` are canvas shapes
    (without batch). A subclass implements

    * ``__init__(*args, **kw)``: call ``super().__init__(*args, **kw)``, then declare the block's
      choices with :meth:`declare` (or on ``self.choice_set``, hp names from
      :mod:`kerasnac.space.names` under ``self.prefix``), create the weights at the maximum width and
      set ``self.out_shape``;
    * ``call(x, P, training=None, region=None)``: the mixed forward pass for probabilities ``P``
      (``{choice name: probability vector}``);
    * ``plan(keys, prober)`` and ``cost(dist, P)``: the expected cost over the input contexts
      ``keys`` (``(shape, bits)`` pairs), from the ``prober``'s probes of the cost model;
      ``cost`` returns ``(cost vector, output Dist)``;
    * ``export(model, values, in_shape)``: copy the weights into the layers that ``Block.build``
      made in the derived ``model`` (sliced to the chosen widths);
    * optionally ``out_region(region, P)`` / ``exact_out`` for spatial outputs with a smaller valid part.
    """

    #: whether the output's valid region is the whole canvas (False after searched 'valid' convolutions)
    exact_out = True

    def __init__(self, stage: str, btype: str, spec: dict, cs: ChoiceSet, in_shape: tuple, where: str,
                 exact_in: bool = True, **kw):
        super().__init__(**kw)
        self._exact_in = exact_in
        self.stage, self.btype, self.spec, self.in_shape, self.where = stage, btype, spec, tuple(in_shape), where
        self.prefix = names.block_prefix(stage, btype)
        self.choice_set = cs

    def declare(self, key: str, spec=None, **kw):
        """The :class:`Choice` of the block parameter ``key`` (its spec: ``self.spec[key]`` unless given)."""
        return self.choice_set.declare(names.param_hp(self.prefix, key), self.spec[key] if spec is None else spec,
                                       self.where, **kw)

    def derived_layer(self, model, part: str):
        """The derived model's layer ``part`` of this stage (named as ``Block.build`` names it)."""
        return model.get_layer(names.layer_name(self.stage, part))

    def out_region(self, region, P):
        """Soft mask of the output's valid positions (``None``: a flat output or the whole canvas)."""
        return None

    def cost(self, dist: Dist, P):  # pragma: no cover - abstract
        raise NotImplementedError


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


def mode_value(modes: Modes, m: int, choice):
    """The value of ``choice`` in mode ``m`` (its only value if it is not part of the modes)."""
    return modes.value(m, choice.name) if choice in modes.choices else choice.values[0]


def block_choices(block: Relaxed):
    """The activation, batchnorm and quantization choices that the built-in blocks share."""
    cs, prefix, spec, where = block.choice_set, block.prefix, block.spec, block.where
    act = cs.declare(names.param_hp(prefix, "activation"), spec["activation"], where)
    bn = cs.declare(names.param_hp(prefix, "batchnorm"), spec.get("batchnorm", False), where)
    qm = QuantMix(cs, prefix, spec["quant"], where)
    return act, bn, qm


def broadcast(modes, dist):
    """The input distribution repeated for every mode (``[M, K]``)."""
    return tf.broadcast_to(dist.p[None, :], [len(modes), len(dist.keys)])


def marginal(modes, P, cost, dist):
    """Sum a per-mode cost ``[M, Z]`` and output ``Dist`` over the modes' probabilities."""
    pm = modes.probs(P)
    return tf.linalg.matvec(cost, pm, transpose_a=True), Dist(dist.keys, tf.linalg.matvec(dist.p, pm, transpose_a=True))

"""Mixed operations of the supernet: quantizer mixtures, activation mixtures and width masks.

* bits (weights, bias, activations, integer bits) and the activation function: the layer's tensor is
  passed through every candidate QKeras quantizer (the same ones ``Quant`` gives the derived model)
  and the results are summed, weighted by the candidates' probabilities (a DARTS/FBNet mixed op with
  shared weights, as in mixed-precision DNAS);
* widths (units, filters): FBNetV2 channel masking. The layer has the maximum width and its output
  is multiplied by ``sum_u p_u * [channel < u]``.
"""

from __future__ import annotations

import functools

import numpy as np

from ..._keras import tf, qkeras
from .. import names
from .._quant import QUANT_KEYS, Quant
from ._choices import Choice, ChoiceSet, joint, p_of

_FLOAT_ACT = {
    "relu": tf.nn.relu,
    "tanh": tf.math.tanh,
    "sigmoid": tf.math.sigmoid,
    "linear": tf.identity,
    "leaky_relu": lambda z: tf.nn.leaky_relu(z, alpha=0.125),
}


@functools.lru_cache(maxsize=None)
def quantizer(spec: str | None):
    """QKeras quantizer object for a quantizer string (``None``: identity)."""
    return (lambda t: t) if spec is None else qkeras.quantizers.get_quantizer(spec)


def _grouped(p, funcs):
    """Sum the probabilities of candidates that share one function (e.g. float bits with any int bits)."""
    groups: dict = {}
    for i, f in enumerate(funcs):
        groups.setdefault(f, []).append(i)
    return [(f, tf.add_n([p[i] for i in ix]) if len(ix) > 1 else p[ix[0]]) for f, ix in groups.items()]


class QuantMix:
    """The mixed quantization of one block (its ``quant`` spec, hp names ``names.quant_hp(prefix, key)``)."""

    def __init__(self, cs: ChoiceSet, prefix: str, qspec: dict, where: str, keys=QUANT_KEYS):
        self.c = {}
        for key in QUANT_KEYS:
            spec = qspec.get(key) if key in keys else None
            if spec is None:
                self.c[key] = Choice(names.quant_hp(prefix, key), [None], searched=False)
            else:
                self.c[key] = cs.declare(names.quant_hp(prefix, key), spec, where + ".quant")

    @property
    def wb(self) -> Choice:
        return self.c["weight_bits"]

    @property
    def ab(self) -> Choice:
        return self.c["activation_bits"]

    def quant(self, **values) -> Quant:
        return Quant(**{k: v for k, v in values.items() if v is not None})

    def kernel(self, w, P):
        p, combos = joint([self.c["weight_bits"], self.c["weight_integer"]], P)
        funcs = [self.quant(weight_bits=b, weight_integer=i).kernel_quantizer() for b, i in combos]
        return tf.add_n([pi * quantizer(f)(w) for f, pi in _grouped(p, funcs)])

    def bias(self, b, P):
        cs = [self.c["weight_bits"], self.c["weight_integer"], self.c["bias_bits"]]
        p, combos = joint(cs, P)
        funcs = [self.quant(weight_bits=w, weight_integer=i, bias_bits=bb).bias_quantizer() for w, i, bb in combos]
        return tf.add_n([pi * quantizer(f)(b) for f, pi in _grouped(p, funcs)])

    def activation(self, z, act: Choice, P):
        p, combos = joint([act, self.c["activation_bits"], self.c["activation_integer"]], P)
        funcs = []
        for a, bits, i in combos:
            q = self.quant(activation_bits=bits, activation_integer=i).activation_quantizer(a)
            funcs.append(("q", q) if q is not None else ("f", a))
        out = []
        for (kind, f), pi in _grouped(p, funcs):
            out.append(pi * (quantizer(f)(z) if kind == "q" else _FLOAT_ACT[f](z)))
        return tf.add_n(out)


def width_mask(choice: Choice, P, width: int):
    """FBNetV2 mask ``sum_u p_u [j < u]`` over ``width`` channels (``[width]`` tensor)."""
    m = np.zeros((len(choice), width), dtype="float32")
    for i, u in enumerate(choice.values):
        m[i, :u] = 1.0
    return tf.linalg.matvec(tf.constant(m), p_of(choice, P), transpose_a=True)


def pad_channels(x, width: int):
    """Zero-pad the last axis of ``x`` to ``width`` (the other candidates' widths are masked zeros)."""
    c = int(x.shape[-1])
    if c == width:
        return x
    pad = [[0, 0]] * (len(x.shape) - 1) + [[0, width - c]]
    return tf.pad(x, pad)


def canvas_rows(derived_shape, canvas_shape) -> np.ndarray:
    """Flat canvas indices of each element of a derived tensor (channels first ``c`` of ``C``, spatial
    positions centred in the canvas), i.e. the rows of a supernet kernel that a derived Dense keeps."""
    d, c = tuple(int(s) for s in derived_shape), tuple(int(s) for s in canvas_shape)
    idx = np.arange(int(np.prod(c))).reshape(c)
    sl = tuple(slice((cs - ds) // 2, (cs - ds) // 2 + ds) for cs, ds in zip(c[:-1], d[:-1])) + (slice(0, d[-1]),)
    return idx[sl].reshape(-1)

"""ConvAttn: a QConv layer followed by BraggNN-style non-local self-attention, and its relaxation.

Non-local block (Wang et al. 2018, as used by BraggNN, Liu et al. IUCrJ 2022): 1x1 convolutions
theta, phi and g reduce the channels to C/2; the attention map softmax(theta . phi^T) over all
positions weighs g; a 1x1 convolution restores C channels and the result is added to the input.
The relaxation masks the attention to the valid region of the relaxed convolution's output.
"""

import numpy as np

from ..._keras import keras, tf
from .. import names
from .._quant import Quant
from ..relax import Dist, Unit, marginal, mode_value, p_of, width_mask
from ._base import Block, register_block, spatial_rank
from .conv import ConvLayer, ConvRelaxBase, conv_cost_units, conv_layer


class ConvAttnRelax(ConvRelaxBase):
    """Relaxed :class:`ConvAttn`: conv_layer → non-local attention (masked to the region)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._common()
        cs, spec, where = self.choice_set, self.spec, self.where
        self.conv = ConvLayer(cs, names.param_hp(self.prefix, "filters"), spec["filters"], self.ks, self.padding, self.qm,
                              self.act, self.bn, self.in_shape[-1], self.rank, where, name="conv")
        self.filters_c = self.conv.filters_c
        C = self.conv.width
        self.inner = max(1, C // 2)
        init = "lecun_uniform"
        self.proj = {t: (self.add_weight(f"{t}_kernel", (1,) * self.rank + (C, self.inner), initializer=init),
                         self.add_weight(f"{t}_bias", (self.inner,), initializer="zeros")) for t in ("theta", "phi", "g")}
        self.out_k = self.add_weight("out_kernel", (1,) * self.rank + (self.inner, C), initializer=init)
        self.out_b = self.add_weight("out_bias", (C,), initializer="zeros")
        self.out_shape = self.in_shape[:-1] + (C,)
        self.exact_out = self.exact_after

    def out_region(self, region, P):
        return self.conv.out_region(region, P)

    def _inner_mask(self, P):
        m = np.zeros((len(self.filters_c), self.inner), dtype="float32")
        for i, f in enumerate(self.filters_c.values):
            m[i, :max(1, f // 2)] = 1.0
        return tf.linalg.matvec(tf.constant(m), p_of(self.filters_c, P), transpose_a=True)

    def call(self, x, P, training=None, region=None):
        region = tf.ones(self.in_shape[:-1]) if region is None else region
        h, r = self.conv(x, P=P, training=training, region=region)
        inner_mask = self._inner_mask(P)
        positions = int(np.prod(self.in_shape[:-1]))

        def proj(t):
            k, b = self.proj[t]
            y = tf.nn.convolution(h, self.qm.kernel(k, P), padding="SAME") + self.qm.bias(b, P)
            return tf.reshape(y * inner_mask, [-1, positions, self.inner])

        theta, phi, g = proj("theta"), proj("phi"), proj("g")
        scores = tf.matmul(theta, phi, transpose_b=True) + tf.math.log(tf.reshape(r, [1, 1, positions]) + 1e-9)
        y = tf.matmul(tf.nn.softmax(scores, axis=-1), g)
        y = tf.reshape(y, [-1, *self.in_shape[:-1], self.inner])
        y = tf.nn.convolution(y, self.qm.kernel(self.out_k, P), padding="SAME") + self.qm.bias(self.out_b, P)
        y = y * width_mask(self.filters_c, P, self.conv.width) * r[..., None]
        return h + y

    def plan(self, keys, prober):
        modes = self.modes = self._modes()
        u1, u2 = conv_cost_units(self, modes, keys, np.ones((len(modes), len(keys)), bool), prober, self.filters_c)

        def attention(m, key, own):
            shape, bits = key
            act, ab, wb = mode_value(modes, m, self.act), mode_value(modes, m, self.qm.ab), mode_value(modes, m, self.qm.wb)

            def build(x, name):
                q = Quant(activation_bits=32 if ab >= 32 else 8)  # float weights build fast; bits are swapped in
                cfg = {"filters": int(shape[-1]), "kernel_size": 1, "padding": "same", "activation": act,
                       "batchnorm": False}
                return ConvAttn().build(x, cfg, q, name)

            # the first two rows (a 1x1 conv and its activation) only set the attention's input width
            cost, out_bits = prober.layers(f"attn_{act}_{ab >= 32}", shape, bits, build, wb=wb, act=act, ab=ab,
                                           rows=slice(2, None))
            return cost, (shape, out_bits)

        u3 = Unit(modes, u2.keys_out, u2.support_out, [], attention, prober)
        self.units = (u1, u2, u3)
        return self

    def cost(self, dist, P):
        p = tf.broadcast_to(dist.p[None, :], [len(self.modes), len(dist.keys)])
        total = 0.0
        for u in self.units:
            c, p = u(p, P)
            total = total + c
        return marginal(self.modes, P, total, Dist(self.units[-1].keys_out, p))

    def export(self, model, values, in_shape):
        conv = self.derived_layer(model, "conv")
        bn = names.layer_name(conv.name, "bn")
        bn = model.get_layer(bn) if bn in [l.name for l in model.layers] else None
        self.conv.export(conv, bn, int(conv.kernel.shape[-2]))
        c = int(conv.kernel.shape[-1])
        inner = max(1, c // 2)
        for t in ("theta", "phi", "g"):
            k, b = self.proj[t]
            self.derived_layer(model, t).set_weights([k.numpy()[..., :c, :inner], b.numpy()[:inner]])
        self.derived_layer(model, "out").set_weights([self.out_k.numpy()[..., :inner, :c], self.out_b.numpy()[:c]])


@register_block("conv_attn")
class ConvAttn(Block):
    params = {
        "filters": [8, 16, 32, 64],
        "kernel_size": [1, 3],
        "padding": "same",
        "activation": ["relu"],
        "batchnorm": False,
    }
    input_ranks = (2, 3)
    relaxation = ConvAttnRelax

    def build(self, x, cfg, quant, name):
        def part(tag):
            return names.layer_name(name, tag)

        x = conv_layer(x, cfg["filters"], cfg, quant, part("conv"))
        rank = spatial_rank(x) - 1
        shape = tuple(x.shape[1:-1])
        channels = int(x.shape[-1])
        inner = max(1, channels // 2)
        positions = 1
        for s in shape:
            positions *= int(s)

        def proj(tag):
            t = quant.conv(rank, inner, 1, name=part(tag))(x)
            return keras.layers.Reshape((positions, inner), name=part(f"{tag}_flat"))(t)

        theta, phi, g = proj("theta"), proj("phi"), proj("g")
        att = keras.layers.Dot(axes=2, name=part("scores"))([theta, phi])
        att = keras.layers.Softmax(name=part("softmax"))(att)
        y = keras.layers.Dot(axes=(2, 1), name=part("attend"))([att, g])
        y = keras.layers.Reshape(shape + (inner,), name=part("unflat"))(y)
        y = quant.conv(rank, channels, 1, name=part("out"))(y)
        return keras.layers.Add(name=part("residual"))([x, y])

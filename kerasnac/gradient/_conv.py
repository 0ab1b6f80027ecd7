"""Relaxed convolutional blocks: ``conv`` and ``conv_attn`` (BraggNN's non-local attention).

* kernel size: one shared kernel at the largest size; a candidate ``k`` uses its centre ``k x k``
  (Single-Path NAS). The mixed op convolves once with ``sum_k p_k * centre_k(W)``.
* filters: FBNetV2 channel masking.
* 'valid' padding: the supernet convolves with 'same' padding on a fixed-size canvas and masks the
  border that a valid convolution would drop; the mask (the *region*) is eroded by ``(k-1)/2`` per
  side for each candidate ``k`` and mixed with the candidates' probabilities. For a one-hot choice this
  reproduces the valid convolution exactly on the centre of the canvas.
* pooling ('max'/'avg'): a mixed op when every candidate pools. Mixing 'none' with pooling changes the
  shape and is not relaxable (pin it with ``fixed``), nor is pooling after a shrinking 'valid' conv.
"""

from __future__ import annotations

import numpy as np

from .._keras import keras, tf
from ..space import Quant, _params
from ..space.blocks import get_block
from ..space.blocks.conv import pool as pool_layer
from ._blocks import Relaxed, _block_choices, _marginal, _val, p_true, relaxer, stack_cost
from ._choices import NotRelaxableError, p_of
from ._expected import Dist, Modes, Unit, scatter
from ._ops import pad_channels, width_mask


def _centre_masks(ks, kmax, rank):
    out = []
    for k in ks:
        m = np.zeros((kmax,) * rank, dtype="float32")
        lo = (kmax - k) // 2
        m[(slice(lo, lo + k),) * rank] = 1.0
        out.append(m[(...,) + (None, None)])
    return out


def erode(region, k):
    """Positions whose whole ``k``-window lies inside ``region`` (soft: the window minimum)."""
    if k == 1:
        return region
    r = (k - 1) // 2
    m = tf.pad(region, [[r, r]] * len(region.shape))[None, ..., None]
    out = -tf.nn.pool(-m, [k] * len(region.shape), "MAX", padding="VALID")
    return out[0, ..., 0]


def _out_spatial(shape, k, padding):
    sp = tuple(shape[:-1])
    return tuple(s - k + 1 for s in sp) if padding == "valid" else sp


class ConvLayer(keras.layers.Layer):
    """One relaxed ``conv_layer``: conv (mixed kernel size, masked filters) → [BN] → activation."""

    def __init__(self, cs, name_hp, filters_spec, ks, padding, qm, act, bn, in_channels, rank, where, **kw):
        super().__init__(**kw)
        self.filters_c = cs.declare(name_hp, filters_spec, where) if name_hp else filters_spec
        self.ks, self.padding, self.qm, self.act, self.bn, self.rank = ks, padding, qm, act, bn, rank
        self.kmax, self.width = max(ks.values), max(self.filters_c.values)
        self.kernel = self.add_weight("kernel", (self.kmax,) * rank + (in_channels, self.width),
                                      initializer="lecun_uniform")
        self.bias = self.add_weight("bias", (self.width,), initializer="zeros")
        self.bnl = keras.layers.BatchNormalization(name="bn") if any(bn.values) else None
        self.centres = _centre_masks(ks.values, self.kmax, rank)

    def out_region(self, region, P):
        if self.padding != "valid":
            return region
        p = p_of(self.ks, P)
        return tf.add_n([p[i] * erode(region, k) for i, k in enumerate(self.ks.values)])

    def call(self, x, P, training=None, region=None):
        wq = self.qm.kernel(self.kernel, P)
        p = p_of(self.ks, P)
        w = wq if len(self.ks) == 1 else tf.add_n([p[i] * wq * c for i, c in enumerate(self.centres)])
        z = tf.nn.convolution(x, w, padding="SAME") + self.qm.bias(self.bias, P)
        if self.bnl is not None:
            pb = p_true(self.bn, P)
            z = pb * self.bnl(z, training=training) + (1.0 - pb) * z
        h = self.qm.activation(z, self.act, P) * width_mask(self.filters_c, P, self.width)
        out = self.out_region(region, P)
        return h * out[..., None], out

    def export(self, layer, bn_layer, in_channels):
        k = int(layer.kernel.shape[0])
        lo = (self.kmax - k) // 2
        cout = int(layer.kernel.shape[-1])
        sl = (slice(lo, lo + k),) * self.rank + (slice(0, in_channels), slice(0, cout))
        layer.set_weights([self.kernel.numpy()[sl], self.bias.numpy()[:cout]])
        if bn_layer is not None:
            bn_layer.set_weights([w.numpy()[:cout] for w in self.bnl.weights])


def _cost_units(owner, modes, keys, support, prober, filters_c, kind="conv"):
    """Cost units of one ``conv_layer``: the conv row (own choice: filters) and its BN/activation rows."""
    def conv(m, key, own):
        (shape, bits), (f,) = key, own
        k = _val(modes, m, owner.ks)
        cost, out_bits = prober.conv(shape, bits, f, k, owner.padding, _val(modes, m, owner.qm.wb))
        return cost, (_out_spatial(shape, k, owner.padding) + (f,), out_bits)

    def post(m, key, own):
        shape, bits = key
        cost, out_bits = prober.post("conv", shape, bits, _val(modes, m, owner.bn), _val(modes, m, owner.act),
                                     _val(modes, m, owner.qm.ab), _val(modes, m, owner.qm.wb))
        return cost, (shape, out_bits)

    u1 = Unit(modes, keys, support, [filters_c], conv, prober)
    u2 = Unit(modes, u1.keys_out, u1.support_out, [], post, prober)
    return u1, u2


class _ConvBase(Relaxed):
    def _common(self):
        cs, spec, where = self.choice_set, self.spec, self.where
        self.rank = len(self.in_shape) - 1
        self.act, self.bn, self.qm = _block_choices(cs, self.prefix, spec, where)
        self.padding = spec.get("padding", "same")
        if _params.is_searched(self.padding):
            cs.declare(f"{self.prefix}/padding", self.padding, where, relaxable=False,
                       why="'same' and 'valid' give different output shapes")
        self.ks = cs.declare(f"{self.prefix}/kernel_size", spec["kernel_size"], where)
        if any(k % 2 == 0 for k in self.ks.values) and (len(self.ks) > 1 or self.padding == "valid"):
            raise NotRelaxableError(f"{where}: even kernel sizes {self.ks.values} cannot share a centred kernel; "
                                    f"fix {self.ks.name} or use odd sizes.")
        self.exact_after = self.padding != "valid" or max(self.ks.values) == 1

    def _modes(self):
        return Modes([self.bn, self.act, self.qm.wb, self.qm.ab, self.ks])


@relaxer("conv")
class ConvRelax(_ConvBase):
    """Relaxed ``blocks.conv.Conv``: ``layers`` x conv_layer → pooling → dropout."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._common()
        cs, spec, where = self.choice_set, self.spec, self.where
        self.layers_c = cs.declare(f"{self.prefix}/layers", spec["layers"], where)
        self.n = max(self.layers_c.values)
        self.convs, c_in = [], self.in_shape[-1]
        for i in range(self.n):
            layer = ConvLayer(cs, f"{self.prefix}/filters_{i}", spec["filters"], self.ks, self.padding, self.qm,
                              self.act, self.bn, c_in, self.rank, where, name=f"conv{i}")
            self.convs.append(layer)
            c_in = layer.width
        self.pool_c = cs.declare(f"{self.prefix}/pooling", spec.get("pooling", "none"), where)
        pools = set(self.pool_c.values)
        if "none" in pools and len(pools) > 1:
            raise NotRelaxableError(f"{where}: {self.pool_c.name} = {self.pool_c.values} mixes pooling with none, "
                                    f"which changes the output shape. Fix it, e.g. fixed={{{self.pool_c.name!r}: 'max'}}.")
        self.pools = pools != {"none"} and min(self.in_shape[:-1]) >= 2
        if self.pools and not (self.exact_in and self.exact_after):
            raise NotRelaxableError(f"{where}: pooling after 'valid' convolutions whose size is searched is not "
                                    f"relaxable; fix {self.ks.name} or the earlier kernel sizes.")
        if _params.is_searched(spec.get("dropout")):
            cs.declare(f"{self.prefix}/dropout", spec["dropout"], where, relaxable=False, why="not a hardware choice")
        self.drop = keras.layers.Dropout(spec["dropout"]) if spec.get("dropout") else None
        widths = [self.in_shape[-1]] * (0 in self.layers_c.values) + \
            [self.convs[L - 1].width for L in self.layers_c.values if L > 0]
        sp = tuple(s // 2 for s in self.in_shape[:-1]) if self.pools else self.in_shape[:-1]
        self.out_shape = sp + (max(widths),)
        self.exact_out = self.exact_in and self.exact_after

    @property
    def exact_in(self):
        return getattr(self, "_exact_in", True)

    def out_region(self, region, P):
        p_l, vals = p_of(self.layers_c, P), self.layers_c.values
        outs = [] if 0 not in vals else [p_l[vals.index(0)] * region]
        r = region
        for i, layer in enumerate(self.convs):
            r = layer.out_region(r, P)
            if i + 1 in vals:
                outs.append(p_l[vals.index(i + 1)] * r)
        out = tf.add_n(outs)
        if self.pools:
            out = tf.ones(self.out_shape[:-1])
        return out

    def call(self, x, P, training=None, region=None):
        region = tf.ones(self.in_shape[:-1]) if region is None else region
        p_l, vals = p_of(self.layers_c, P), self.layers_c.values
        width = max(layer.width for layer in self.convs)
        width = max(width, self.in_shape[-1]) if 0 in vals else width
        out = 0.0 if 0 not in vals else p_l[vals.index(0)] * pad_channels(x, width)
        h, r = x, region
        for i, layer in enumerate(self.convs):
            h, r = layer(h, P=P, training=training, region=r)
            if i + 1 in vals:
                out = out + p_l[vals.index(i + 1)] * pad_channels(h, width)
        if self.pools:
            p = p_of(self.pool_c, P)
            out = tf.add_n([p[i] * pool_layer(out, kind, f"{self.name}_p{i}") for i, kind in enumerate(self.pool_c.values)])
        if self.drop is not None:
            out = self.drop(out, training=training)
        return out

    def plan(self, keys, prober):
        modes = self.modes = self._modes()
        self.keys0, self.units = keys, []
        support = np.ones((len(modes), len(keys)), bool)
        for i, layer in enumerate(self.convs):
            u1, u2 = _cost_units(self, modes, keys, support, prober, layer.filters_c)
            self.units.append((u1, u2))
            keys, support = u2.keys_out, u2.support_out
        self.depth_keys = list(dict.fromkeys(
            (list(self.keys0) if 0 in self.layers_c.values else [])
            + [k for L in self.layers_c.values if L > 0 for k in self.units[L - 1][1].keys_out]))

        def pool(m, key, own):
            (shape, bits), (kind,) = key, own
            cost, out_bits = prober.layers(f"pool_{kind}_{len(shape)}", shape, bits,
                                           lambda x, n: pool_layer(x, kind, n))
            sp = tuple(shape[:-1])
            if kind != "none" and min(sp) >= 2:
                sp = tuple(s // 2 for s in sp)
            return cost, (sp + (shape[-1],), out_bits)

        self.pool_unit = Unit(modes, self.depth_keys, np.ones((len(modes), len(self.depth_keys)), bool),
                              [self.pool_c], pool, prober)
        return self

    def cost(self, dist, P):
        p = tf.broadcast_to(dist.p[None, :], [len(self.modes), len(dist.keys)])
        total, d = stack_cost(self.layers_c, self.units, self.keys0, p, P)
        pd = scatter(d.p, [self.depth_keys.index(k) for k in d.keys], len(self.depth_keys))
        c3, p3 = self.pool_unit(pd, P)
        return _marginal(self.modes, P, total + c3, Dist(self.pool_unit.keys_out, p3))

    def export(self, model, values, in_shape):
        n = values.get(self.layers_c.name, self.layers_c.values[0])
        for i in range(n):
            layer = model.get_layer(f"{self.stage}_conv{i}")
            bn = f"{self.stage}_conv{i}_bn"
            bn = model.get_layer(bn) if bn in [l.name for l in model.layers] else None
            self.convs[i].export(layer, bn, int(layer.kernel.shape[-2]))


@relaxer("conv_attn")
class ConvAttnRelax(_ConvBase):
    """Relaxed ``blocks.conv_attn.ConvAttn``: conv_layer → non-local attention (masked to the region)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._common()
        cs, spec, where = self.choice_set, self.spec, self.where
        self.conv = ConvLayer(cs, f"{self.prefix}/filters", spec["filters"], self.ks, self.padding, self.qm,
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
        u1, u2 = _cost_units(self, modes, keys, np.ones((len(modes), len(keys)), bool), prober, self.filters_c)
        block = get_block("conv_attn")

        def attention(m, key, own):
            shape, bits = key
            act, ab, wb = _val(modes, m, self.act), _val(modes, m, self.qm.ab), _val(modes, m, self.qm.wb)

            def build(x, name):
                q = Quant(activation_bits=32 if ab >= 32 else 8)  # float weights build fast; bits are swapped in
                cfg = {"filters": int(shape[-1]), "kernel_size": 1, "padding": "same", "activation": act,
                       "batchnorm": False}
                return block.build(x, cfg, q, name)

            # the first two rows (a 1x1 conv and its activation) only set the attention's input width
            cost, out_bits = prober.layers(f"attn_{act}_{ab >= 32}", shape, bits, build, wb=wb, act=act, ab=ab,
                                           skip_rows=2)
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
        return _marginal(self.modes, P, total, Dist(self.units[-1].keys_out, p))

    def export(self, model, values, in_shape):
        s = self.stage
        conv = model.get_layer(f"{s}_conv")
        bn = f"{s}_conv_bn"
        bn = model.get_layer(bn) if bn in [l.name for l in model.layers] else None
        self.conv.export(conv, bn, int(conv.kernel.shape[-2]))
        c = int(conv.kernel.shape[-1])
        inner = max(1, c // 2)
        for t in ("theta", "phi", "g"):
            k, b = self.proj[t]
            model.get_layer(f"{s}_{t}").set_weights([k.numpy()[..., :c, :inner], b.numpy()[:inner]])
        model.get_layer(f"{s}_out").set_weights([self.out_k.numpy()[..., :inner, :c], self.out_b.numpy()[:c]])

"""Conv: QConv1D/QConv2D stack (chosen by input rank) with optional batchnorm and pooling, and its relaxation.

How the relaxation mixes the choices:

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

import numpy as np

from ..._keras import keras, tf
from ...errors import SpaceError
from .. import _params, names
from .._quant import Quant
from .._params import values_of
from ..relax import (Dist, Modes, NotRelaxableError, Relaxed, Unit, block_choices, marginal, mode_value, p_of,
                     p_true, pad_channels, scatter, stack_cost, width_mask)
from ._base import Block, register_block, spatial_rank
from .mlp import probe_post


def conv_layer(x, filters, cfg, quant, name):
    rank = spatial_rank(x) - 1
    x = quant.conv(rank, filters, cfg["kernel_size"], name=name, padding=cfg.get("padding", "same"))(x)
    if cfg.get("batchnorm"):
        x = keras.layers.BatchNormalization(name=names.layer_name(name, "bn"))(x)
    return quant.activation(cfg["activation"], name=names.layer_name(name, "act"))(x)


def pool(x, kind, name):
    """2x max/avg pooling; skipped where the feature map is already smaller than 2."""
    if kind in (None, "none") or min(x.shape[1:-1]) < 2:
        return x
    rank = spatial_rank(x) - 1
    layers = {("max", 1): keras.layers.MaxPooling1D, ("max", 2): keras.layers.MaxPooling2D,
              ("avg", 1): keras.layers.AveragePooling1D, ("avg", 2): keras.layers.AveragePooling2D}
    return layers[(kind, rank)](2, name=names.layer_name(name, f"{kind}pool"))(x)


def conv_name(name, i):
    """The i-th convolution of a conv block (its BatchNorm and activation append ``_bn``/``_act``)."""
    return names.layer_name(name, f"conv{i}")


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


def probe_conv(prober, shape, bits, filters, kernel_size, padding, wb):
    """The cost of the QConv row of :func:`conv_layer` (float build, weight bits ``wb`` swapped in)."""
    def build(x, name):
        cfg = {"kernel_size": int(kernel_size), "padding": padding, "batchnorm": False, "activation": "linear"}
        return conv_layer(x, int(filters), cfg, Quant(), name)

    kind = ("conv", int(filters), int(kernel_size), padding)
    return prober.layers(kind, shape, bits, build, wb=wb, rows=slice(0, 1))


def _one_conv(x, width, batchnorm, activation, quant, name):
    return conv_layer(x, width, {"kernel_size": 1, "padding": "same", "batchnorm": batchnorm,
                                 "activation": activation}, quant, name)


def conv_cost_units(owner, modes, keys, support, prober, filters_c, kind="conv"):
    """Cost units of one ``conv_layer``: the conv row (own choice: filters) and its BN/activation rows."""
    def conv(m, key, own):
        (shape, bits), (f,) = key, own
        k = mode_value(modes, m, owner.ks)
        cost, out_bits = probe_conv(prober, shape, bits, f, k, owner.padding, mode_value(modes, m, owner.qm.wb))
        return cost, (_out_spatial(shape, k, owner.padding) + (f,), out_bits)

    def post(m, key, own):
        shape, bits = key
        cost, out_bits = probe_post(prober, shape, bits, mode_value(modes, m, owner.bn), mode_value(modes, m, owner.act),
                                    mode_value(modes, m, owner.qm.ab), mode_value(modes, m, owner.qm.wb), _one_conv)
        return cost, (shape, out_bits)

    u1 = Unit(modes, keys, support, [filters_c], conv, prober)
    u2 = Unit(modes, u1.keys_out, u1.support_out, [], post, prober)
    return u1, u2


class ConvRelaxBase(Relaxed):
    """What the relaxed conv and conv_attn share: activation, batchnorm, bits, padding and kernel size."""

    def _common(self):
        spec, where = self.spec, self.where
        self.rank = len(self.in_shape) - 1
        self.act, self.bn, self.qm = block_choices(self)
        self.padding = spec.get("padding", "same")
        if _params.is_searched(self.padding):
            self.declare("padding", self.padding, relaxable=False,
                         why="'same' and 'valid' give different output shapes")
        self.ks = self.declare("kernel_size")
        if any(k % 2 == 0 for k in self.ks.values) and (len(self.ks) > 1 or self.padding == "valid"):
            raise NotRelaxableError(f"{where}: even kernel sizes {self.ks.values} cannot share a centred kernel; "
                                    f"fix {self.ks.name} or use odd sizes.")
        self.exact_after = self.padding != "valid" or max(self.ks.values) == 1

    def _modes(self):
        return Modes([self.bn, self.act, self.qm.wb, self.qm.ab, self.ks])


class ConvRelax(ConvRelaxBase):
    """Relaxed :class:`Conv`: ``layers`` x conv_layer → pooling → dropout."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._common()
        cs, spec, where = self.choice_set, self.spec, self.where
        self.layers_c = self.declare("layers")
        self.n = max(self.layers_c.values)
        self.convs, c_in = [], self.in_shape[-1]
        for i in range(self.n):
            layer = ConvLayer(cs, names.param_hp(self.prefix, names.per_layer("filters", i)), spec["filters"], self.ks, self.padding, self.qm,
                              self.act, self.bn, c_in, self.rank, where, name=f"conv{i}")
            self.convs.append(layer)
            c_in = layer.width
        self.pool_c = self.declare("pooling", spec.get("pooling", "none"))
        pools = set(self.pool_c.values)
        if "none" in pools and len(pools) > 1:
            raise NotRelaxableError(f"{where}: {self.pool_c.name} = {self.pool_c.values} mixes pooling with none, "
                                    f"which changes the output shape. Fix it, e.g. fixed={{{self.pool_c.name!r}: 'max'}}.")
        self.pools = pools != {"none"} and min(self.in_shape[:-1]) >= 2
        if self.pools and not (self.exact_in and self.exact_after):
            raise NotRelaxableError(f"{where}: pooling after 'valid' convolutions whose size is searched is not "
                                    f"relaxable; fix {self.ks.name} or the earlier kernel sizes.")
        if _params.is_searched(spec.get("dropout")):
            self.declare("dropout", relaxable=False, why="not a hardware choice")
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
            out = tf.add_n([p[i] * pool(out, kind, f"{self.name}_p{i}") for i, kind in enumerate(self.pool_c.values)])
        if self.drop is not None:
            out = self.drop(out, training=training)
        return out

    def plan(self, keys, prober):
        modes = self.modes = self._modes()
        self.keys0, self.units = keys, []
        support = np.ones((len(modes), len(keys)), bool)
        for i, layer in enumerate(self.convs):
            u1, u2 = conv_cost_units(self, modes, keys, support, prober, layer.filters_c)
            self.units.append((u1, u2))
            keys, support = u2.keys_out, u2.support_out
        self.depth_keys = list(dict.fromkeys(
            (list(self.keys0) if 0 in self.layers_c.values else [])
            + [k for L in self.layers_c.values if L > 0 for k in self.units[L - 1][1].keys_out]))

        def pool_row(m, key, own):
            (shape, bits), (kind,) = key, own
            cost, out_bits = prober.layers(f"pool_{kind}_{len(shape)}", shape, bits,
                                           lambda x, n: pool(x, kind, n))
            sp = tuple(shape[:-1])
            if kind != "none" and min(sp) >= 2:
                sp = tuple(s // 2 for s in sp)
            return cost, (sp + (shape[-1],), out_bits)

        self.pool_unit = Unit(modes, self.depth_keys, np.ones((len(modes), len(self.depth_keys)), bool),
                              [self.pool_c], pool_row, prober)
        return self

    def cost(self, dist, P):
        p = tf.broadcast_to(dist.p[None, :], [len(self.modes), len(dist.keys)])
        total, d = stack_cost(self.layers_c, self.units, self.keys0, p, P)
        pd = scatter(d.p, [self.depth_keys.index(k) for k in d.keys], len(self.depth_keys))
        c3, p3 = self.pool_unit(pd, P)
        return marginal(self.modes, P, total + c3, Dist(self.pool_unit.keys_out, p3))

    def export(self, model, values, in_shape):
        n = values.get(self.layers_c.name, self.layers_c.values[0])
        for i in range(n):
            layer = model.get_layer(conv_name(self.stage, i))
            bn = names.layer_name(conv_name(self.stage, i), "bn")
            bn = model.get_layer(bn) if bn in [l.name for l in model.layers] else None
            self.convs[i].export(layer, bn, int(layer.kernel.shape[-2]))


@register_block("conv")
class Conv(Block):
    params = {
        "layers": {"min": 1, "max": 2},
        "filters": [4, 8, 16, 32],
        "kernel_size": [1, 3],
        "padding": "same",
        "activation": ["relu"],
        "batchnorm": [False, True],
        "pooling": ["none", "max"],
        "dropout": 0.0,
    }
    per_layer = {"filters": "layers"}
    input_ranks = (2, 3)
    relaxation = ConvRelax

    def check(self, spec, where):
        for p in values_of(spec.get("pooling", "none")):
            if p not in ("none", "max", "avg"):
                raise SpaceError(f"{where}.pooling: {p!r} is not one of none, max, avg.")
        for p in values_of(spec.get("padding", "same")):
            if p not in ("same", "valid"):
                raise SpaceError(f"{where}.padding: {p!r} is not one of same, valid.")

    def build(self, x, cfg, quant, name):
        for i in range(cfg["layers"]):
            x = conv_layer(x, cfg[names.per_layer("filters", i)], cfg, quant, conv_name(name, i))
        x = pool(x, cfg.get("pooling"), name)
        if cfg.get("dropout"):
            x = keras.layers.Dropout(cfg["dropout"], name=names.layer_name(name, "drop"))(x)
        return x

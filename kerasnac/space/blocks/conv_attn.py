"""ConvAttn: a QConv layer followed by BraggNN-style non-local self-attention.

Non-local block (Wang et al. 2018, as used by BraggNN, Liu et al. IUCrJ 2022): 1x1 convolutions
theta, phi and g reduce the channels to C/2; the attention map softmax(theta . phi^T) over all
positions weighs g; a 1x1 convolution restores C channels and the result is added to the input.
"""

from ..._keras import keras
from ._base import Block, register_block, spatial_rank
from .conv import conv_layer


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

    def build(self, x, cfg, quant, name):
        x = conv_layer(x, cfg["filters"], cfg, quant, f"{name}_conv")
        rank = spatial_rank(x) - 1
        shape = tuple(x.shape[1:-1])
        channels = int(x.shape[-1])
        inner = max(1, channels // 2)
        positions = 1
        for s in shape:
            positions *= int(s)

        def proj(tag):
            t = quant.conv(rank, inner, 1, name=f"{name}_{tag}")(x)
            return keras.layers.Reshape((positions, inner), name=f"{name}_{tag}_flat")(t)

        theta, phi, g = proj("theta"), proj("phi"), proj("g")
        att = keras.layers.Dot(axes=2, name=f"{name}_scores")([theta, phi])
        att = keras.layers.Softmax(name=f"{name}_softmax")(att)
        y = keras.layers.Dot(axes=(2, 1), name=f"{name}_attend")([att, g])
        y = keras.layers.Reshape(shape + (inner,), name=f"{name}_unflat")(y)
        y = quant.conv(rank, channels, 1, name=f"{name}_out")(y)
        return keras.layers.Add(name=f"{name}_residual")([x, y])

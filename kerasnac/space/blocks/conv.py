"""Conv: QConv1D/QConv2D stack (chosen by input rank) with optional batchnorm and pooling."""

from ..._keras import keras
from ...errors import SpaceError
from .._params import values_of
from ._base import Block, register_block, spatial_rank


def conv_layer(x, filters, cfg, quant, name):
    rank = spatial_rank(x) - 1
    x = quant.conv(rank, filters, cfg["kernel_size"], name=name, padding=cfg.get("padding", "same"))(x)
    if cfg.get("batchnorm"):
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return quant.activation(cfg["activation"], name=f"{name}_act")(x)


def pool(x, kind, name):
    """2x max/avg pooling; skipped where the feature map is already smaller than 2."""
    if kind in (None, "none") or min(x.shape[1:-1]) < 2:
        return x
    rank = spatial_rank(x) - 1
    layers = {("max", 1): keras.layers.MaxPooling1D, ("max", 2): keras.layers.MaxPooling2D,
              ("avg", 1): keras.layers.AveragePooling1D, ("avg", 2): keras.layers.AveragePooling2D}
    return layers[(kind, rank)](2, name=f"{name}_{kind}pool")(x)


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

    def check(self, spec, where):
        for p in values_of(spec.get("pooling", "none")):
            if p not in ("none", "max", "avg"):
                raise SpaceError(f"{where}.pooling: {p!r} is not one of none, max, avg.")
        for p in values_of(spec.get("padding", "same")):
            if p not in ("same", "valid"):
                raise SpaceError(f"{where}.padding: {p!r} is not one of same, valid.")

    def build(self, x, cfg, quant, name):
        for i in range(cfg["layers"]):
            x = conv_layer(x, cfg[f"filters_{i}"], cfg, quant, f"{name}_conv{i}")
        x = pool(x, cfg.get("pooling"), name)
        if cfg.get("dropout"):
            x = keras.layers.Dropout(cfg["dropout"], name=f"{name}_drop")(x)
        return x

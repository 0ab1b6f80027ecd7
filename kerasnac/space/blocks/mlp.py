"""MLP: a stack of QDense layers (flattens a spatial input first)."""

from ..._keras import keras
from ._base import Block, register_block


def dense_stack(x, cfg, quant, name, prefix="dense"):
    """QDense -> [BatchNorm] -> QActivation -> [Dropout], ``cfg['layers']`` times."""
    for i in range(cfg["layers"]):
        x = quant.dense(cfg[f"units_{i}"], name=f"{name}_{prefix}{i}")(x)
        if cfg.get("batchnorm"):
            x = keras.layers.BatchNormalization(name=f"{name}_{prefix}{i}_bn")(x)
        x = quant.activation(cfg["activation"], name=f"{name}_{prefix}{i}_act")(x)
        if cfg.get("dropout"):
            x = keras.layers.Dropout(cfg["dropout"], name=f"{name}_{prefix}{i}_drop")(x)
    return x


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

    def output_rank(self, rank):
        return 1

    def build(self, x, cfg, quant, name):
        if len(x.shape) > 2:
            x = keras.layers.Flatten(name=f"{name}_flatten")(x)
        return dense_stack(x, cfg, quant, name)

"""Deep Sets (Zaheer et al. 2017) for particle sets of shape (N, features).

phi: a QDense stack applied to every element (Dense acts on the last axis), then a permutation-
invariant mean or max over the N elements, then rho: a QDense stack on the pooled vector.
Zero-padded elements take part in the mean/max like any other element.
"""

from ..._keras import keras
from ._base import Block, register_block
from .mlp import dense_stack


@register_block("deepsets")
class DeepSets(Block):
    params = {
        "phi_layers": {"min": 1, "max": 3},
        "phi_units": [8, 16, 32, 64],
        "aggregation": ["mean", "max"],
        "rho_layers": {"min": 0, "max": 2},
        "rho_units": [8, 16, 32],
        "activation": ["relu"],
        "batchnorm": False,
        "dropout": 0.0,
    }
    per_layer = {"phi_units": "phi_layers", "rho_units": "rho_layers"}
    input_ranks = (2,)

    def output_rank(self, rank):
        return 1

    def build(self, x, cfg, quant, name):
        phi = {"layers": cfg["phi_layers"], **cfg}
        phi.update({f"units_{i}": cfg[f"phi_units_{i}"] for i in range(cfg["phi_layers"])})
        x = dense_stack(x, phi, quant, name, prefix="phi")
        pool = keras.layers.GlobalAveragePooling1D if cfg["aggregation"] == "mean" else keras.layers.GlobalMaxPooling1D
        x = pool(name=f"{name}_{cfg['aggregation']}")(x)
        rho = {**cfg, "layers": cfg["rho_layers"]}
        rho.update({f"units_{i}": cfg[f"rho_units_{i}"] for i in range(cfg["rho_layers"])})
        return dense_stack(x, rho, quant, name, prefix="rho")

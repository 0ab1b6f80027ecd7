"""Skip: the stage is left out (identity)."""

from ._base import Block, register_block


@register_block("skip")
class Skip(Block):
    params: dict = {}
    quantized = False

    def build(self, x, cfg, quant, name):
        return x

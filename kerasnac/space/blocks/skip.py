"""Skip: the stage is left out (identity), and its relaxation (the identity path of a stage's mixed op)."""

from ..relax import Relaxed
from ._base import Block, register_block


class SkipRelax(Relaxed):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.out_shape = self.in_shape
        self.exact_out = self._exact_in

    def out_region(self, region, P):
        return region

    def call(self, x, P, training=None, region=None):
        return x

    def plan(self, keys, prober):
        return self

    def cost(self, dist, P):
        return 0.0, dist

    def export(self, model, values, in_shape):
        pass


@register_block("skip")
class Skip(Block):
    params: dict = {}
    quantized = False
    relaxation = SkipRelax

    def build(self, x, cfg, quant, name):
        return x

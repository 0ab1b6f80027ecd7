"""Continuous relaxation of the space's blocks, for the gradient search (``kerasnac.gradient``).

A block type declares how it relaxes next to how it builds: its class attribute ``relaxation`` is a
:class:`Relaxed` subclass (a Keras layer: the mixed forward pass over the block's choices, its
expected cost and the export of its weights into the derived model). ``Block.relax`` builds it for one
stage of the supernet; a block without one raises :class:`NotRelaxableError` naming it. A
user-registered block opts in the same way::

    class MyRelax(relax.Relaxed):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.units = self.declare("units")            # hp <stage>/my_block/units
            ...

    @register_block("my_block")
    class MyBlock(Block):
        relaxation = MyRelax

The tools below are the ones the built-in relaxations use: choices and probabilities
(``_choices``), quantizer mixtures and width masks (``_ops``) and the exact expected cost over
contexts (``_expected``).
"""

from .._params import is_searched, values_of
from ._base import Relaxed, block_choices, broadcast, marginal, mode_value, p_true, stack_cost
from ._choices import Choice, ChoiceSet, NotRelaxableError, joint, p_of
from ._expected import Dist, Modes, Unit, mix, scatter
from ._ops import QuantMix, canvas_rows, pad_channels, quantizer, width_mask

__all__ = ["Relaxed", "NotRelaxableError", "Choice", "ChoiceSet", "QuantMix", "Dist", "Modes", "Unit",
           "p_of", "joint", "p_true", "mix", "scatter", "stack_cost", "marginal", "broadcast", "mode_value",
           "block_choices", "width_mask", "pad_channels", "canvas_rows", "quantizer", "is_searched", "values_of"]

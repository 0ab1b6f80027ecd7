"""Hierarchical search spaces: model -> stages -> blocks -> layers -> bit widths."""

from . import names, relax
from ._quant import ACTIVATIONS, FLOAT_BITS, HEAD_QUANT_KEYS, Quant
from ._space import SearchSpace
from ._yaml import TOP_KEYS as YAML_KEYS, shipped_spaces
from .blocks import Block, available_blocks, get_block, register_block, relaxable_blocks

__all__ = ["SearchSpace", "Block", "register_block", "available_blocks", "relaxable_blocks", "get_block", "Quant",
           "ACTIVATIONS", "FLOAT_BITS", "HEAD_QUANT_KEYS", "shipped_spaces", "names", "relax", "YAML_KEYS"]

"""Hierarchical search spaces: model -> stages -> blocks -> layers -> bit widths."""

from ._quant import ACTIVATIONS, FLOAT_BITS, Quant
from ._space import SearchSpace
from ._yaml import TOP_KEYS as YAML_KEYS, shipped_spaces
from .blocks import Block, available_blocks, get_block, register_block

__all__ = ["SearchSpace", "Block", "register_block", "available_blocks", "get_block", "Quant",
           "ACTIVATIONS", "FLOAT_BITS", "shipped_spaces", "YAML_KEYS"]

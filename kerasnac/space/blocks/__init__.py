"""Built-in block types. Importing this package registers them."""

from ._base import SKIP_ALIASES, Block, available_blocks, get_block, register_block, relaxable_blocks
from . import conv, conv_attn, deepsets, mlp, skip  # noqa: F401  (registration)

__all__ = ["Block", "register_block", "available_blocks", "relaxable_blocks", "get_block", "SKIP_ALIASES"]

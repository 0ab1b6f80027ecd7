"""Block base class and registry.

A block type is a small class registered with :func:`register_block`. It lists its parameters
with their default search ranges (``params``), which of them are chosen per layer
(``per_layer``), which input ranks it accepts, how to build its QKeras layers and, optionally, how it
relaxes for the gradient search (``relaxation``, see :mod:`kerasnac.space.relax`). Adding a block
touches only its own file::

    @register_block("my_block")
    class MyBlock(Block):
        params = {"units": [8, 16], "activation": ["relu"]}  # default search ranges
        relaxation = MyBlockRelax  # optional: a kerasnac.space.relax.Relaxed subclass
        def build(self, x, cfg, quant, name):
            x = quant.dense(cfg["units"], name=names.layer_name(name, "dense"))(x)
            return quant.activation(cfg["activation"], name=names.layer_name(name, "act"))(x)

Every layer a block builds is named ``names.layer_name(name, part)`` (``<stage>_<part>``): the
relaxation finds the derived model's layers by these names, and the gradient search's cost probes
attribute layer-table rows to a probe by the part before the first ``_``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..._registry import ClassRegistry
from ...errors import SpaceError
from .. import names
from ..relax import NotRelaxableError

_BLOCKS = ClassRegistry(lambda: Block, "type_name", "block")
#: names that mean "this stage may be skipped"
SKIP_ALIASES = ("skip", "none")


def register_block(name: str):
    """Class decorator that registers a :class:`Block` subclass under ``name``."""
    return _BLOCKS.register(name)


def available_blocks() -> list[str]:
    return _BLOCKS.names()


def relaxable_blocks() -> list[str]:
    """The block types the gradient search can relax."""
    return [n for n in _BLOCKS.names() if _BLOCKS[n].relaxation is not None or _BLOCKS[n].relax is not Block.relax]


def get_block(name: str, where: str = "") -> "Block":
    key = "skip" if name in SKIP_ALIASES else name
    if key not in _BLOCKS:
        raise SpaceError(
            f"{where}unknown block type {name!r}. Known blocks: {', '.join(available_blocks())} "
            "(or register your own with @kerasnac.space.register_block)."
        )
    return _BLOCKS[key]()


class Block:
    """One searchable block: a stack of QKeras layers with its own hyperparameters."""

    type_name: ClassVar[str] = ""
    #: parameter name -> default spec (scalar, list of choices, or {min, max, step})
    params: ClassVar[dict[str, Any]] = {}
    #: parameters chosen once per layer -> the parameter that counts the layers
    per_layer: ClassVar[dict[str, str]] = {}
    #: input ranks (without batch) the block accepts
    input_ranks: ClassVar[tuple[int, ...]] = (1, 2, 3)
    #: whether the block has weights and therefore a quantization config
    quantized: ClassVar[bool] = True
    #: how the block relaxes for the gradient search: a ``kerasnac.space.relax.Relaxed`` subclass
    #: (``None``: not relaxable, :meth:`relax` says so)
    relaxation: ClassVar[type | None] = None

    def output_rank(self, rank: int) -> int:
        return rank

    def check(self, spec: dict, where: str) -> None:
        """Extra validation of a merged spec (override in subclasses)."""

    def build(self, x, cfg: dict, quant, name: str):  # pragma: no cover - abstract
        raise NotImplementedError

    def relax(self, stage: str, spec: dict, choices, in_shape: tuple, where: str, exact_in: bool = True):
        """The relaxed layer of this block in ``stage`` of a supernet (``spec``: the stage's merged spec of
        this block; ``choices``: the supernet's ``ChoiceSet``; ``in_shape``: the input canvas shape).
        Override it, or set :attr:`relaxation`, to make a block searchable by ``kerasnac.GradientSearch``."""
        if self.relaxation is None:
            raise NotRelaxableError(
                f"{where}: block {self.type_name!r} has no gradient relaxation; implement Block.relax(...) (or set "
                f"relaxation = a kerasnac.space.relax.Relaxed subclass) or use strategy='evolution'. Relaxable "
                f"blocks: {', '.join(relaxable_blocks())}; or pin the stage, e.g. fixed={{{names.block_hp('<stage>')!r}: ...}}.")
        return self.relaxation(stage, self.type_name, spec, choices, in_shape, where, exact_in=exact_in,
                               name=names.layer_name(stage, self.type_name))


def spatial_rank(x) -> int:
    return len(x.shape) - 1

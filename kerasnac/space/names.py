"""The one place that spells hyperparameter names and the layer names other modules look up.

Hyperparameters of a :class:`~kerasnac.space.SearchSpace` (keras-tuner names; the gradient search's
choices and a trial's ``{name: value}`` use the same ones)::

    s0/block                  block_hp("s0")                the stage's block type
    s0/mlp/layers             param_hp("s0/mlp", "layers")  a block parameter (prefix: block_prefix)
    s0/mlp/units_1            param_hp(prefix, per_layer("units", 1))
    s0/mlp/q/w_bits           quant_hp("s0/mlp", "weight_bits")
    head/q/w_bits             quant_hp(HEAD, "weight_bits")
    train/learning_rate       train_hp("learning_rate")

Layers of a built model: a block named ``name`` names each of its layers ``layer_name(name, part)``
(``s0_dense1``, ``s0_dense1_bn``); the head's layers are ``HEAD_FLATTEN``, ``HEAD_DENSE`` and
``HEAD_SOFTMAX``; the input is ``INPUT_LAYER``.
"""

from __future__ import annotations

SEP = "/"
#: prefix of the output layer's hyperparameters and of its layers' names
HEAD = "head"
#: prefix of the training hyperparameters
TRAIN = "train"
#: stage names that would collide with the prefixes above
RESERVED_STAGE_NAMES = (HEAD, TRAIN)
#: the short names of the quantization keys inside hyperparameter names
QUANT_SHORT = {"weight_bits": "w_bits", "weight_integer": "w_int", "bias_bits": "b_bits",
               "activation_bits": "a_bits", "activation_integer": "a_int"}

INPUT_LAYER = "inputs"
HEAD_FLATTEN = f"{HEAD}_flatten"
HEAD_DENSE = f"{HEAD}_dense"
HEAD_SOFTMAX = f"{HEAD}_softmax"


def default_stage_name(index: int) -> str:
    """Name of the stage at ``index`` when the space does not name it (``s0``, ``s1``, ...)."""
    return f"s{index}"


def stage_name_error(name, taken=()) -> str | None:
    """Why ``name`` cannot name a stage whose siblings are ``taken`` (``None``: it can)."""
    if not isinstance(name, str) or not name or SEP in name or name in taken or name in RESERVED_STAGE_NAMES:
        return (f"{name!r} must be a unique non-empty string without {SEP!r} "
                f"(not {'/'.join(repr(n) for n in RESERVED_STAGE_NAMES)}).")
    return None


def block_hp(stage: str) -> str:
    """The choice of a stage's block type."""
    return f"{stage}{SEP}block"


def block_prefix(stage: str, btype: str) -> str:
    """Prefix of the hyperparameters of block type ``btype`` in ``stage``."""
    return f"{stage}{SEP}{btype}"


def param_hp(prefix: str, key: str) -> str:
    return f"{prefix}{SEP}{key}"


def per_layer(key: str, i: int) -> str:
    """The ``i``-th layer's value of a per-layer parameter (a block config key, e.g. ``units_1``)."""
    return f"{key}_{i}"


def is_per_layer(key: str) -> bool:
    """Whether a block config key is a per-layer value made by :func:`per_layer`."""
    return key.rsplit("_", 1)[-1].isdigit()


def quant_hp(prefix: str, key: str) -> str:
    """A quantization setting (``weight_bits``, ...) of a block or of the head (prefix ``HEAD``)."""
    return f"{prefix}{SEP}q{SEP}{QUANT_SHORT[key]}"


def train_hp(key: str) -> str:
    return f"{TRAIN}{SEP}{key}"


def layer_name(owner: str, part: str) -> str:
    """Name of a layer that block (or probe) ``owner`` builds."""
    return f"{owner}_{part}"


def layer_owner(name: str) -> str:
    """Inverse of :func:`layer_name` for owners without ``_`` (the gradient search's probes)."""
    return name.split("_", 1)[0]

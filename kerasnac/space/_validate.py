"""Validation of a SearchSpace's arguments: input shape, stages, block specs, quantization, training.

Every function raises :class:`~kerasnac.errors.SpaceError` naming the offending entry (``where``)
and returns the normalised value; :class:`~kerasnac.space.SearchSpace` calls them from ``__init__``.
"""

from __future__ import annotations

import difflib

from ..errors import SpaceError
from . import _params, names
from ._quant import ACTIVATIONS, INTEGER_PAIRS, QUANT_KEYS, integer_bits_error
from .blocks import SKIP_ALIASES, available_blocks, get_block

TASKS = ("classification", "regression")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
DEFAULT_TRAINING = {"optimizer": "adam", "learning_rate": 1e-3}
#: keys of the long form of a stage, ``{name: ..., blocks: {...}}``
STAGE_KEYS = ("name", "blocks")


def check_input_shape(shape, w):
    try:
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise SpaceError(f"{w}input_shape: expected a tuple of positive integers such as (16,) or (11, 11, 1), got {shape!r}.") from None
    if not shape or any(s < 1 for s in shape) or len(shape) > 3:
        raise SpaceError(f"{w}input_shape: expected 1 to 3 positive sizes (features), (N, features) or (H, W, C); got {shape!r}.")
    return shape


def check_mapping(obj, where):
    if not isinstance(obj, dict):
        raise SpaceError(f"{where}: expected a mapping, got {type(obj).__name__} {obj!r}.")
    return obj


def merge_quant(base, override, where):
    out = dict(base)
    if override is None:
        return out
    check_mapping(override, where)
    for key, spec in override.items():
        if key not in QUANT_KEYS:
            raise SpaceError(f"{where}: unknown key {key!r}; expected one of {', '.join(QUANT_KEYS)}.")
        out[key] = _params.check_spec(spec, f"{where}.{key}")
    for key in ("weight_bits", "activation_bits", "bias_bits"):
        for v in _params.values_of(out[key]) if out[key] is not None else []:
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 32:
                raise SpaceError(f"{where}.{key}: bit widths must be integers in 1..32 (32 = float), got {v!r}.")
    for key in ("weight_integer", "activation_integer"):
        for v in _params.values_of(out[key]):
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise SpaceError(f"{where}.{key}: integer bits must be integers >= 0, got {v!r}.")
    return out


def normalize_stages(input_shape, stages, base_quant, defaults, w):
    if not isinstance(stages, (list, tuple)) or not stages:
        raise SpaceError(f"{w}stages: expected a non-empty list of stages, got {stages!r}.")
    out, ranks, taken = [], {len(input_shape)}, set()
    for i, st in enumerate(stages):
        where = f"{w}stages[{i}]"
        check_mapping(st, where)
        check_stage_keys(st, where)
        if "blocks" in st:
            name, blocks = st.get("name", names.default_stage_name(i)), st["blocks"]
        else:
            name, blocks = names.default_stage_name(i), st
        bad = names.stage_name_error(name, taken)
        if bad:
            raise SpaceError(f"{where}.name: {bad}")
        taken.add(name)
        check_mapping(blocks, f"{where}.blocks")
        if not blocks:
            raise SpaceError(f"{where}: empty choice of blocks. List at least one block type, e.g. {{mlp: {{}}}}.")
        merged, next_ranks = {}, set()
        for btype, spec in blocks.items():
            bwhere = f"{where}.{btype}"
            block = get_block(btype, where=f"{where}: ")
            btype = block.type_name
            spec = {} if spec is None else check_mapping(spec, bwhere)
            mspec = merge_block(block, defaults.get(btype, {}), spec, base_quant, bwhere)
            ok = ranks & set(block.input_ranks)
            if not ok:
                raise SpaceError(
                    f"{bwhere}: block {btype!r} needs inputs of rank {block.input_ranks} (without batch) "
                    f"but this stage receives rank {sorted(ranks)} given input_shape {input_shape}. "
                    "Use a block that fits (mlp for flat features, deepsets for (N, features) sets, "
                    "conv/conv_attn for sequences or images) or change input_shape."
                )
            next_ranks |= {block.output_rank(r) for r in ok}
            merged[btype] = mspec
        ranks = next_ranks
        out.append({"name": name, "blocks": merged})
    return out


def check_stage_keys(st, where):
    """A stage is ``{name, blocks}`` or a mapping of block types; name a misspelt ``blocks``/``name``."""
    long_form = "blocks" in st or "name" in st
    blocks = set(available_blocks()) | set(SKIP_ALIASES)
    for key in st:
        if key in STAGE_KEYS or (not long_form and key in blocks):
            continue
        if long_form and key in blocks:
            hint = f" (block types go under 'blocks:', e.g. blocks: {{{key}: ...}})"
        else:
            candidates = STAGE_KEYS if long_form else STAGE_KEYS + tuple(sorted(blocks))
            close = difflib.get_close_matches(str(key), candidates, n=1, cutoff=0.6)
            if not long_form and not (close and close[0] in STAGE_KEYS):
                continue  # an unknown block type: get_block names it and the known blocks
            hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise SpaceError(f"{where}: unknown key {key!r}{hint}. A stage is either {{name: ..., blocks: "
                         f"{{block_type: spec, ...}}}} (allowed keys: {', '.join(STAGE_KEYS)}) or a mapping of "
                         f"block types ({', '.join(sorted(blocks))}).")


def merge_block(block, default_spec, spec, base_quant, where):
    check_mapping(default_spec, where)
    out = {}
    known = set(block.params) | ({"quant"} if block.quantized else set())
    for src, sw in ((block.params, where), (default_spec, where + " (defaults)"), (spec, where)):
        for key, value in src.items():
            if key == "quant":
                continue
            if key not in known:
                raise SpaceError(f"{sw}: unknown parameter {key!r} for block {block.type_name!r}; "
                                 f"known: {', '.join(sorted(known)) or '(none)'}.")
            out[key] = _params.check_spec(value, f"{sw}.{key}")
    if "activation" in out:
        for a in _params.values_of(out["activation"]):
            if a not in ACTIVATIONS:
                raise SpaceError(f"{where}.activation: {a!r} is not supported by QKeras and hls4ml together; "
                                 f"use one of {', '.join(ACTIVATIONS)}.")
    for per, count in block.per_layer.items():
        for n in _params.values_of(out[count]):
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise SpaceError(f"{where}.{count}: layer counts must be integers >= 0, got {n!r}.")
    for key in ("units", "filters", "phi_units", "rho_units", "kernel_size"):
        if key in out:
            for n in _params.values_of(out[key]):
                if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                    raise SpaceError(f"{where}.{key}: expected positive integers, got {n!r}.")
    if "dropout" in out:
        for d in _params.values_of(out["dropout"]):
            if not isinstance(d, (int, float)) or not 0 <= d < 1:
                raise SpaceError(f"{where}.dropout: expected rates in [0, 1), got {d!r}.")
    block.check(out, where)
    if block.quantized:
        q = merge_quant(base_quant, default_spec.get("quant"), where + ".quant (defaults)")
        out["quant"] = merge_quant(q, spec.get("quant"), where + ".quant")
        check_integer_bits(out["quant"], where + ".quant")
    return out


def check_integer_bits(q, where, keys=QUANT_KEYS):
    """Every combination of bit-width and integer-bit choices can be drawn, so each must be buildable."""
    for bits_key, int_key in INTEGER_PAIRS:
        if bits_key not in keys:
            continue
        bits = q[bits_key] if q[bits_key] is not None else q["weight_bits"]  # bias: same as the weights
        for b in _params.values_of(bits):
            for i in _params.values_of(q[int_key]):
                msg = integer_bits_error(bits_key, b, int_key, i, where)
                if msg:
                    if _params.is_searched(bits) or _params.is_searched(q[int_key]):
                        msg += (f" The choices {bits_key}={bits!r} and {int_key}={q[int_key]!r} are drawn "
                                "independently, so every pair must fit.")
                    raise SpaceError(msg)


def normalize_training(training, w):
    training = check_mapping(training or {}, f"{w}training")
    out = dict(DEFAULT_TRAINING)
    for key, spec in training.items():
        if key not in DEFAULT_TRAINING:
            raise SpaceError(f"{w}training: unknown key {key!r}; expected one of {', '.join(DEFAULT_TRAINING)}.")
        out[key] = _params.check_spec(spec, f"{w}training.{key}")
    for o in _params.values_of(out["optimizer"]):
        if o not in OPTIMIZERS:
            raise SpaceError(f"{w}training.optimizer: {o!r} is not one of {', '.join(OPTIMIZERS)}.")
    return out

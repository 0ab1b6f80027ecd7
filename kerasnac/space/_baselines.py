"""Baselines: a fixed architecture written as a config, translated into hyperparameter values."""

from __future__ import annotations

from ..errors import SpaceError
from . import _params, names
from ._quant import HEAD_QUANT_KEYS, QUANT_KEYS
from ._validate import check_mapping
from .blocks import SKIP_ALIASES, get_block


def baseline_values(space, config: dict, name: str = "baseline") -> dict:
    """Hyperparameter values of ``space`` for the fixed architecture ``config``
    (see :meth:`~kerasnac.space.SearchSpace.baseline_values`)."""
    where = f"{space.source}: baselines.{name}"
    check_mapping(config, where)
    stage_names = [s["name"] for s in space.stages]
    unknown = set(config) - set(stage_names) - {"head", "training"}
    if unknown:
        raise SpaceError(f"{where}: unknown stages {sorted(unknown)}; the stages are {stage_names}.")
    values = {}
    for st in space.stages:
        sname, types = st["name"], list(st["blocks"])
        sc = dict(config.get(sname) or {"block": "skip" if "skip" in types else types[0]})
        btype = sc.pop("block", types[0] if len(types) == 1 else None)
        btype = "skip" if btype in SKIP_ALIASES else btype
        if btype not in types:
            raise SpaceError(f"{where}.{sname}.block: {btype!r} is not a choice of this stage ({types}).")
        if len(types) > 1:
            values[names.block_hp(sname)] = btype
        block, spec, prefix = get_block(btype), st["blocks"][btype], names.block_prefix(sname, btype)
        for key, v in sc.items():
            kw = f"{where}.{sname}.{key}"
            if key == "quant":
                check_mapping(v, kw)
                for qk, qv in v.items():
                    if qk not in QUANT_KEYS or spec["quant"].get(qk) is None:
                        raise SpaceError(f"{kw}: unknown or fixed quant key {qk!r}; expected one of {QUANT_KEYS}.")
                    _params.check_value(spec["quant"][qk], qv, f"{kw}.{qk}")
                    values[names.quant_hp(prefix, qk)] = qv
            elif key in block.per_layer:
                n = sc.get(block.per_layer[key], _params.values_of(spec[block.per_layer[key]])[0])
                seq = v if isinstance(v, (list, tuple)) else [v] * n
                if len(seq) != n:
                    raise SpaceError(f"{kw}: {len(seq)} values for {n} layers.")
                for i, item in enumerate(seq):
                    _params.check_value(spec[key], item, f"{kw}[{i}]")
                    values[names.param_hp(prefix, names.per_layer(key, i))] = item
            elif key in spec:
                _params.check_value(spec[key], v, kw)
                values[names.param_hp(prefix, key)] = v
            else:
                raise SpaceError(f"{kw}: unknown parameter for block {btype!r}; known: {sorted(spec)}.")
    for key, v in (config.get("head") or {}).get("quant", {}).items():
        if key not in HEAD_QUANT_KEYS or space.head_quant.get(key) is None:
            raise SpaceError(f"{where}.head.quant: unknown quant key {key!r}.")
        _params.check_value(space.head_quant[key], v, f"{where}.head.quant.{key}")
        values[names.quant_hp(names.HEAD, key)] = v
    for key, v in (config.get("training") or {}).items():
        if key not in space.training:
            raise SpaceError(f"{where}.training: unknown key {key!r}.")
        _params.check_value(space.training[key], v, f"{where}.training.{key}")
        values[names.train_hp(key)] = v
    return space.complete_values(values)

"""Parameter specifications shared by the Python and YAML schema.

A parameter of a block is given as one of:

* a scalar (``relu``, ``3``, ``0.1``, ``true``): fixed, not searched;
* a non-empty list (``[16, 32, 64]``): a ``kt.Choice``;
* a mapping ``{min: 1, max: 4, step: 1, sampling: linear}``: a ``kt.Int`` (integer bounds) or
  ``kt.Float`` (float bounds).
"""

from __future__ import annotations

from typing import Any

from ..errors import SpaceError

_RANGE_KEYS = {"min", "max", "step", "sampling"}


def check_spec(spec: Any, where: str) -> Any:
    """Validate one parameter spec and return it normalised (tuples become lists)."""
    if isinstance(spec, tuple):
        spec = list(spec)
    if isinstance(spec, list):
        if not spec:
            raise SpaceError(f"{where}: empty choice list. Give at least one value, e.g. [16, 32].")
        kinds = {type(v) for v in spec}
        if kinds - {int, float, str, bool}:
            raise SpaceError(f"{where}: choices must be numbers, strings or booleans, got {spec!r}.")
        if len({bool if k is bool else (float if k in (int, float) else k) for k in kinds}) > 1:
            raise SpaceError(f"{where}: all choices must have one type, got {spec!r}.")
        if len(set(spec)) != len(spec):
            raise SpaceError(f"{where}: duplicate choices in {spec!r}.")
        if kinds == {int, float}:
            spec = [float(v) for v in spec]
        return spec
    if isinstance(spec, dict):
        unknown = set(spec) - _RANGE_KEYS
        if unknown or not {"min", "max"} <= set(spec):
            raise SpaceError(
                f"{where}: a range needs keys 'min' and 'max' (optional 'step', 'sampling'); "
                f"got keys {sorted(spec)}."
            )
        lo, hi = spec["min"], spec["max"]
        for key in ("min", "max"):
            if isinstance(spec[key], bool) or not isinstance(spec[key], (int, float)):
                raise SpaceError(f"{where}.{key}: expected a number, got {spec[key]!r}.")
        if lo > hi:
            raise SpaceError(f"{where}: min ({lo}) > max ({hi}). Swap them.")
        if spec.get("sampling", "linear") not in ("linear", "log", "reverse_log"):
            raise SpaceError(f"{where}.sampling: expected linear, log or reverse_log.")
        if spec.get("sampling") == "log" and lo <= 0:
            raise SpaceError(f"{where}: log sampling needs min > 0, got {lo}.")
        step = spec.get("step")
        if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0):
            raise SpaceError(f"{where}.step: expected a positive number, got {step!r}.")
        return dict(spec)
    if isinstance(spec, (int, float, str, bool)) or spec is None:
        return spec
    raise SpaceError(f"{where}: expected a value, a list of choices or a {{min, max}} range, got {spec!r}.")


def is_searched(spec: Any) -> bool:
    return isinstance(spec, dict) or (isinstance(spec, list) and len(spec) > 1)


def values_of(spec: Any) -> list:
    """All values a spec can take (ranges are enumerated when integer)."""
    if isinstance(spec, list):
        return list(spec)
    if isinstance(spec, dict):
        if all(isinstance(spec[k], int) for k in ("min", "max")) and isinstance(spec.get("step", 1), int):
            return list(range(spec["min"], spec["max"] + 1, spec.get("step", 1)))
        return [spec["min"], spec["max"]]
    return [spec]


def declare(hp, name: str, spec: Any):
    """Register ``spec`` under ``name`` in ``hp`` and return its current value (None if inactive)."""
    if isinstance(spec, list):
        if len(spec) == 1:
            return spec[0]
        if all(isinstance(v, bool) for v in spec):  # keras-tuner's Choice would turn bools into ints
            return hp.Boolean(name, default=spec[0])
        return hp.Choice(name, spec, ordered=all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in spec))
    if isinstance(spec, dict):
        ints = all(isinstance(spec[k], int) for k in ("min", "max")) and isinstance(spec.get("step", 1), int)
        kwargs = {"sampling": spec.get("sampling", "linear")}
        if ints:
            return hp.Int(name, spec["min"], spec["max"], step=spec.get("step", 1), **kwargs)
        return hp.Float(name, float(spec["min"]), float(spec["max"]), step=spec.get("step"), **kwargs)
    return spec


def check_value(spec: Any, value: Any, where: str) -> None:
    """Raise if ``value`` is not one the spec allows (used for baselines)."""
    if isinstance(spec, dict):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and spec["min"] <= value <= spec["max"]
        step = spec.get("step")
        if ok and step and isinstance(step, int) and isinstance(spec["min"], int):
            ok = (value - spec["min"]) % step == 0
        if not ok:
            raise SpaceError(f"{where}: {value!r} is outside the range {spec}.")
    elif value not in values_of(spec):
        raise SpaceError(f"{where}: {value!r} is not one of the allowed values {values_of(spec)}.")

"""The cost registry: named, directed cost functions of a model, built-in or user-registered.

Built-in costs are reductions of :func:`layer_table` (computed once per :func:`evaluate`); a user
cost is any ``fn(model) -> float``::

    @register_cost("n_layers", description="number of layers")
    def n_layers(model):
        return len(model.layers)

    evaluate(model, ["bops", "n_layers"])          # {'bops': ..., 'n_layers': ...}
    cost = weighted(lut=1.0, ff=0.5, dsp=2.0, bram=1.0)
    cost(model)                                    # sum_k w_k * cost_k(model)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import UnknownCostError  # noqa: F401  (raised here; defined with every error class)
from . import _estimator
from ._table import layer_table

DIRECTIONS = ("min", "max")




@dataclass(frozen=True)
class Cost:
    """A registered cost. ``uses_table``: ``fn`` takes the layer table (built-ins), else the model."""

    name: str
    fn: Callable
    direction: str = "min"
    description: str = ""
    uses_table: bool = False
    #: computed by ``evaluate(model)`` without names; optional costs (``default=False``, e.g. the
    #: da4ml ones, which need an extra package and a trace) only when asked for by name
    default: bool = True

    def __call__(self, model, **opts) -> float:
        """The cost of ``model``; ``opts`` are :func:`evaluate`'s options (table-based costs only)."""
        if self.uses_table and self.name in _COSTS and _COSTS[self.name] is self:
            return evaluate(model, [self.name], **opts)[self.name]
        return float(self.fn(layer_table(model, **_estimator.table_options(opts))) if self.uses_table
                     else self.fn(model))


_COSTS: dict[str, Cost] = {}
_BUILTIN: set[str] = set()


def _unknown(name) -> UnknownCostError:
    return UnknownCostError(f"unknown cost {name!r}; registered costs: {', '.join(available_costs())}. "
                            f"Register new ones with kerasnac.costs.register_cost.")


def _add(cost: Cost, builtin: bool = False) -> Cost:
    if cost.direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {cost.direction!r}")
    if not isinstance(cost.name, str) or not cost.name:
        raise ValueError(f"a cost name must be a non-empty string, got {cost.name!r}")
    if not callable(cost.fn):
        raise TypeError(f"cost {cost.name!r}: fn must be callable, got {cost.fn!r}")
    if cost.name in _BUILTIN and not builtin:
        raise ValueError(f"{cost.name!r} is a built-in cost and cannot be replaced; choose another name")
    _COSTS[cost.name] = cost
    if builtin:
        _BUILTIN.add(cost.name)
    return cost


def register_cost(name: str, fn: Callable | None = None, direction: str = "min", description: str = "", *,
                  default: bool = True):
    """Register ``fn(model) -> float`` as cost ``name``; usable as a decorator or a call.

    ``direction`` is ``"min"`` (smaller is better) or ``"max"``. Re-registering a user cost replaces it
    (handy in notebooks); built-in names cannot be replaced. ``default=False`` makes an optional cost
    that ``evaluate(model)`` computes only when asked for by name (an objective or a constraint), for
    an expensive one such as ``da_lut``. Returns ``fn`` unchanged.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")

    def deco(f):
        _add(Cost(name, f, direction, description or (f.__doc__ or "").strip().split("\n")[0], default=default))
        return f

    return deco if fn is None else deco(fn)


def unregister_cost(name: str) -> None:
    """Remove a user-registered cost (built-ins cannot be removed)."""
    if name in _BUILTIN:
        raise ValueError(f"{name!r} is a built-in cost and cannot be removed")
    if name not in _COSTS:
        raise _unknown(name)
    del _COSTS[name]


def available_costs() -> list[str]:
    """Names of all registered costs, built-ins first, in registration order."""
    return list(_COSTS)


def is_cost(name) -> bool:
    return isinstance(name, str) and name in _COSTS


def get_cost(name: str) -> Cost:
    """The :class:`Cost` registered as ``name`` (callable as ``cost(model, **layer_table_opts)``)."""
    try:
        return _COSTS[name]
    except (KeyError, TypeError):
        raise _unknown(name) from None


def cost_direction(name: str) -> str:
    """``"min"`` or ``"max"``."""
    return get_cost(name).direction


def default_costs() -> list[str]:
    """Names of the costs that ``evaluate(model)`` computes (all but the optional ones)."""
    return [n for n, c in _COSTS.items() if c.default]


def evaluate(model, names=None, *, extra=(), **opts) -> dict[str, float]:
    """Evaluate several costs of ``model``, computing the :func:`layer_table` at most once.

    ``names``: a cost name, a list of names, or ``None`` for the :func:`default_costs` plus the
    registered names in ``extra`` (e.g. a search's objectives such as ``da_lut``). ``opts`` go to
    :func:`layer_table` (``sparsity``, ``input_bits``, ``reuse_factor``, ``strategy``, ``io_type``);
    user costs receive only the model.

    ``estimator`` (``"da4ml"`` or ``"analytical"``; default: da4ml when it is installed) says what
    computes ``lut`` and ``ff`` under ``strategy="distributed_arithmetic"``: with ``"da4ml"`` they are
    ``da_syn_lut`` and ``da_ff``, the yosys-calibrated costs of the model's da4ml trace (a model
    da4ml cannot trace gets the analytical numbers, with a warning); see ``_estimator``.
    """
    if names is None:
        names = default_costs() + [n for n in extra if is_cost(n) and not _COSTS[n].default]
    elif isinstance(names, str):
        names = [names]
    costs = [get_cost(n) for n in names]
    estimator = opts.pop("estimator", None)
    _estimator.check(opts.get("strategy", "latency"), estimator)
    table = layer_table(model, **opts) if any(c.uses_table for c in costs) else None
    out = {c.name: float(c.fn(table) if c.uses_table else c.fn(model)) for c in costs}
    swap = [n for n in _estimator.DA4ML_COSTS if n in out]  # built-in names: never replaced by a user cost
    if swap and _estimator.resolve(opts.get("strategy", "latency"), estimator, opts.get("sparsity")) == "da4ml":
        da = _estimator.da4ml_resources(model, opts.get("input_bits", 16))
        if da is not None:
            out.update({n: float(da[n]) for n in swap})
    return out


def weighted(**weights: float) -> Callable:
    """A cost callable ``f(model, **layer_table_opts) = sum_k weights[k] * cost_k(model)``.

    Example: ``weighted(lut=1.0, ff=0.5, dsp=2.0, bram=1.0)``. Unknown names raise
    :class:`UnknownCostError` (listing the registered costs) right away. The callable is named
    ``weighted_cost`` and carries the weights as ``.weights``.
    """
    if not weights:
        raise ValueError("weighted() needs at least one name=weight pair, e.g. weighted(lut=1.0, dsp=55.0)")
    for k, w in weights.items():
        get_cost(k)
        if isinstance(w, bool) or not isinstance(w, (int, float)):
            raise TypeError(f"weight for {k!r} must be a number, got {w!r}")
    weights = dict(weights)

    def weighted_cost(model, **opts) -> float:
        values = evaluate(model, list(weights), **opts)
        return float(sum(w * values[k] for k, w in weights.items()))

    terms = " + ".join(f"{w:g}*{k}" for k, w in weights.items())
    weighted_cost.__doc__ = f"Weighted cost {terms}."
    weighted_cost.weights = weights
    return weighted_cost

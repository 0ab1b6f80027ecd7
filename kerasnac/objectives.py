"""Objectives of a search: a metric Keras logs, a registered cost, or a user callable."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

from . import costs
from .errors import ConfigError

#: directions of the metrics Keras logs (``val_`` versions take the same direction)
METRIC_DIRECTIONS = {"loss": "min", "accuracy": "max", "mae": "min", "mse": "min"}


@dataclass(frozen=True)
class Objective:
    """One objective of the search.

    Args:
        name: a metric (``val_accuracy``, ``val_loss``, ``val_mae``, ...), a registered cost
            (``bops``, ``lut``, ...; see ``kerasnac.costs.available_costs()``), or any name when
            ``fn`` is given.
        direction: ``"min"`` or ``"max"``. Inferred for known metrics and costs.
        fn: optional ``fn(model) -> float`` or ``fn(model, validation_data) -> float`` computed
            after training, e.g. a physics metric such as the mean peak distance in pixels.

    Example:
        >>> Objective("val_mean_distance", "min", fn=lambda m, val: 0.0).direction
        'min'
    """

    name: str
    direction: str | None = None
    fn: Callable | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"objective name must be a non-empty string, got {self.name!r}.")
        if self.direction not in (None, "min", "max"):
            raise ConfigError(f"objective {self.name!r}: direction must be 'min' or 'max', got {self.direction!r}.")
        if self.fn is not None and not callable(self.fn):
            raise ConfigError(f"objective {self.name!r}: fn must be callable, got {self.fn!r}.")

    @property
    def kind(self) -> str:
        if self.fn is not None:
            return "callable"
        return "cost" if costs.is_cost(self.name) else "metric"

    def compute(self, model, validation_data=None) -> float:
        """Evaluate a callable objective."""
        try:
            n_args = len(inspect.signature(self.fn).parameters)
        except (TypeError, ValueError):  # pragma: no cover - builtins
            n_args = 1
        value = self.fn(model, validation_data) if n_args >= 2 else self.fn(model)
        return float(value)


def check_callables(objectives, model, validation_data=None) -> None:
    """Call every callable objective once on ``model`` (untrained) as a trial would after training.

    Raises a :class:`ConfigError` naming the objective and its exception, so a broken objective is
    found before any training rather than after every trial has trained.
    """
    for obj in objectives:
        if obj.fn is None:
            continue
        try:
            obj.compute(model, validation_data)
        except Exception as e:  # noqa: BLE001 - any failure of user code is reported the same way
            first = (str(e).strip().splitlines() or [""])[0][:300]
            raise ConfigError(
                f"objective {obj.name!r} raised {type(e).__name__}: {first} when called on the first built model "
                "(before training). It is called as fn(model) or fn(model, (x_val, y_val)) and must return a "
                "number; fix it before searching."
            ) from e


def metric_direction(name: str) -> str | None:
    base = name[4:] if name.startswith("val_") else name
    return METRIC_DIRECTIONS.get(base)


def resolve(objectives, metric_names: list[str]) -> list[Objective]:
    """Turn names, callables and :class:`Objective` objects into complete objectives.

    Raises a :class:`ConfigError` naming the problem and the known names.
    """
    if isinstance(objectives, (str, Objective)) or callable(objectives):
        objectives = [objectives]
    if not objectives:
        raise ConfigError("objectives is empty. Give e.g. objectives=['val_accuracy', 'bops'].")
    known = list(metric_names) + costs.available_costs()
    out = []
    for obj in objectives:
        if isinstance(obj, str):
            obj = Objective(obj)
        elif callable(obj) and not isinstance(obj, Objective):
            obj = Objective(getattr(obj, "__name__", "custom_objective"), "min", fn=obj)
        elif not isinstance(obj, Objective):
            raise ConfigError(f"objective {obj!r}: expected a name, a callable or kerasnac.Objective.")
        if obj.fn is None and obj.name not in known:
            raise ConfigError(
                f"unknown objective {obj.name!r}. Known metrics and costs: {', '.join(known)}. "
                "For your own quantity pass kerasnac.Objective(name, 'min'|'max', fn=callable) or "
                "register a cost with kerasnac.costs.register_cost."
            )
        direction = obj.direction
        if direction is None:
            direction = costs.cost_direction(obj.name) if costs.is_cost(obj.name) else metric_direction(obj.name)
        if direction is None:
            raise ConfigError(f"objective {obj.name!r} has no direction. Give kerasnac.Objective({obj.name!r}, 'min') "
                              "or 'max'.")
        out.append(Objective(obj.name, direction, obj.fn))
    names = [o.name for o in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"objectives {names} contain a duplicate name.")
    return out

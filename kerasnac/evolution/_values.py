"""Hyperparameter values: walk a keras-tuner space in order, check a value, read a trial's metrics."""

from __future__ import annotations

from kerasnac._keras import kt

_hp = kt.engine.hyperparameters

#: what a crossover returns for a hyperparameter it has no value for (the child draws one)
MISSING = object()


def walk(space, choose) -> dict:
    """Values of the *active* hyperparameters of ``space`` (a list, conditions after their parents),
    ``choose(i, hp)`` giving each one; inactive ones get no value."""
    hps = _hp.HyperParameters()
    for i, hp in enumerate(space):
        hps.merge([hp])
        if hps.is_active(hp):  # only active hyperparameters get values
            hps.values[hp.name] = choose(i, hp)
    return hps.values


def is_valid(hp, value) -> bool:
    """Whether ``value`` is a legal value of ``hp`` (used to reject a parent's stale values)."""
    if value is MISSING:
        return False
    if isinstance(hp, _hp.Fixed):
        return value == hp.value
    if isinstance(hp, _hp.Boolean):
        return isinstance(value, bool)
    if isinstance(hp, _hp.Choice):
        return type(value) is type(hp.values[0]) and value in hp.values
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(hp, _hp.Int) and int(value) != value:
        return False
    tol = 1e-9 * max(1.0, abs(hp.max_value))
    return hp.min_value - tol <= value <= hp.max_value + tol


def is_fixed(hp) -> bool:
    return isinstance(hp, _hp.Fixed)


def reported(trial) -> dict:
    """The last reported value of every metric of a trial."""
    return {n: trial.metrics.get_last_value(n) for n in trial.metrics.metrics}


def objective_pairs(objective) -> list[tuple[str, str]]:
    """``[(name, direction)]`` of a keras-tuner objective (one, or the list keras-tuner keeps as a
    non-public ``MultiObjective`` with ``.objectives``)."""
    if hasattr(objective, "objectives"):
        return [(o.name, o.direction) for o in objective.objectives]
    return [(objective.name, objective.direction)]


def check_strategies(selection, crossover, mutation) -> None:
    """A clear TypeError for a strategy object of the wrong shape, before any trial runs."""
    for name, op in (("crossover", crossover), ("mutation", mutation)):
        if op is not None and not callable(op):
            raise TypeError(f"{name} must be callable (see kerasnac.evolution.{name}), got {type(op).__name__}.")
    if selection is not None and not (hasattr(selection, "pool") and hasattr(selection, "parents")):
        raise TypeError("selection must have pool(ranked_ids, population_size) and parents(pool, rng) methods "
                        f"(see kerasnac.evolution.selection), got {type(selection).__name__}.")


def check_baseline(space, values, name) -> None:
    """A clear error for a baseline that is not a dict, or holds a value its hyperparameter forbids."""
    if not isinstance(values, dict):
        raise TypeError(f"enqueue expects a dict of hyperparameter values, got {type(values).__name__}.")
    for key, value in values.items():
        known = [hp for hp in space if hp.name == key]
        if known and not any(is_valid(hp, value) for hp in known):
            raise ValueError(f"Baseline {name!r}: value {value!r} is not allowed for {known[0]!r}.")

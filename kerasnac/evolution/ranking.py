"""Ranking of completed trials: non-dominated rank, crowding distance, constraint violation.

Objective and constraint values are the *last* reported value of each metric. A completed trial
lacking one of them, or reporting NaN/inf, is not ranked (the oracle gives it a NaN score, which
keras-tuner turns into an invalid trial).
"""

from __future__ import annotations

import math

import numpy as np

from kerasnac import _pareto
from kerasnac._keras import kt

TrialStatus = kt.engine.trial.TrialStatus


def metric_names(objectives, constraints) -> list[str]:
    """The objectives' metrics, then the constraints' metrics."""
    return [n for n, _ in objectives] + [c.metric for c in constraints]


def finite_last(trial, name) -> bool:
    if not trial.metrics.exists(name):
        return False
    v = trial.metrics.get_last_value(name)
    return v is not None and math.isfinite(v)


def metric_values(trial, names) -> list[float] | None:
    """Last values of ``names`` in ``trial``, or None if any is missing or not finite."""
    if not all(finite_last(trial, n) for n in names):
        return None
    return [float(trial.metrics.get_last_value(n)) for n in names]


def rank(trials: list, objectives: list[tuple[str, str]], constraints, on_unranked=None):
    """``(ids, ranks, crowding, violation, order)`` over the valid COMPLETED ``trials`` (given in
    start order); ``order`` sorts them feasible first, then by rank, then by crowding (descending),
    then by start order. ``on_unranked(trial)`` is called for a completed trial that is not ranked."""
    names = metric_names(objectives, constraints)
    ids, rows = [], []
    for trial in trials:
        if trial.status != TrialStatus.COMPLETED:
            continue
        values = metric_values(trial, names)
        if values is None:
            if on_unranked is not None:
                on_unranked(trial)
            continue
        ids.append(trial.trial_id)
        rows.append(values)
    k = len(objectives)
    if not ids:
        empty = np.zeros(0)
        return [], empty.astype(int), empty, empty, empty.astype(int)
    M = np.asarray(rows, dtype=float)
    F = _pareto.to_minimization(M[:, :k], [d for _, d in objectives])
    cnames = names[k:]
    viol = np.array([_pareto.constraint_violation(constraints, dict(zip(cnames, row[k:]))) for row in M])
    ranks, cd = _pareto.rank_and_crowding(F, viol if constraints else None)
    order = np.lexsort((np.arange(len(ids)), -cd, ranks))
    return ids, ranks, cd, viol, order


__all__ = ["rank", "metric_values", "metric_names", "finite_last"]

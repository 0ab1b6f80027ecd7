"""The oracle's side of multi-fidelity trials: the records of every rung and the promotion answer.

A trial that trains in rungs (:class:`kerasnac.SuccessiveHalving`) reports its objectives at the
end of each one through ``Oracle.update_trial`` with the :data:`~kerasnac.fidelity.RUNG_KEY`
metric. :class:`Rungs` keeps each report as a record of its rung and answers whether the trial is
promoted to the next rung; the records are part of the oracle's saved state, so a resumed search
compares new reports with the old ones.
"""

from __future__ import annotations

import math

import numpy as np

from kerasnac import _pareto
from kerasnac.fidelity import RUNG_KEY, SuccessiveHalving


class Rungs:
    """``{epochs: {trial_id: [minimised objectives..., constraint violation]}}`` of the rung reports.

    Args:
        schedule: the :class:`~kerasnac.SuccessiveHalving` that decides promotions (``None``: its
            defaults, for a tuner that reports rungs to an oracle given no fidelity).
    """

    def __init__(self, schedule: SuccessiveHalving | None = None):
        self.schedule = schedule
        self.records: dict[str, dict[str, list[float]]] = {}

    @staticmethod
    def is_report(metrics: dict) -> bool:
        return RUNG_KEY in metrics

    def report(self, trial_id: str, metrics: dict, objectives: list[tuple[str, str]], constraints) -> bool:
        """Record ``metrics`` (with ``RUNG_KEY`` = epochs trained) for ``trial_id``; True to promote.

        A report with a non-finite objective is not recorded and not promoted. The constraint
        violation follows :func:`kerasnac._pareto.constraint_violation` (a missing metric is an
        infinite violation).
        """
        epochs = str(int(metrics[RUNG_KEY]))
        try:
            values = [float(metrics[n]) for n, _ in objectives]
        except KeyError as e:
            raise ValueError(f"rung report of trial {trial_id} lacks objective {e}.") from None
        record = _pareto.to_minimization(np.asarray([values]), [d for _, d in objectives])[0].tolist()
        if not all(math.isfinite(v) for v in record):
            return False
        violation = _pareto.constraint_violation(constraints, metrics)
        rung = self.records.setdefault(epochs, {})
        rung[trial_id] = record + [float(violation)]
        schedule = self.schedule or SuccessiveHalving()
        return schedule.promote({t: r[:-1] for t, r in rung.items()}, trial_id,
                                {t: r[-1] for t, r in rung.items()} if constraints else None)

    def get_state(self) -> dict:
        return self.records

    def set_state(self, state: dict) -> None:
        self.records = {e: dict(r) for e, r in (state or {}).items()}


__all__ = ["Rungs"]

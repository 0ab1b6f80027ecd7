"""Multi-fidelity trials: successive halving inside the NSGA-II search (asynchronous, ASHA-style).

A trial trains in stages ("rungs"): ``min_epochs``, ``min_epochs * eta``, ... epochs, then the
full ``epochs`` of ``fit``. At the end of each rung the tuner reports the objectives (the task
metric at that epoch and the exact costs) to the oracle, which keeps every trial's record per
rung. The trial is promoted to the next rung only if it is in the best ``1/eta`` of the records
of that rung, ordered as NSGA-II orders a population (non-dominated rank, then crowding distance,
with constraint-domination). Otherwise it stops there and reports its rung metrics, and
``epochs_trained`` in the results table tells how far it went.

Records are only ever compared within one rung (the same number of epochs), so a model trained
for one epoch never competes with one trained for ten. Crowding distance makes the extremes of each
rung's front (the cheapest and the most accurate models so far) always promotable, so the cheap
end of the front keeps being explored. The decision travels through keras-tuner's own
``Oracle.update_trial`` status (STOPPED means "do not promote"), so it also works with the
gRPC chief/worker mode.

Successive halving pays when epochs dominate a trial's cost (large datasets, tens of epochs);
when building and tracing a model costs as much as an epoch it saves little
(``docs/benchmarks.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kerasnac import _pareto

#: Metric key that marks an ``update_trial`` call as a rung report (never stored as a metric).
RUNG_KEY = "__kerasnac_rung__"


@dataclass(frozen=True)
class SuccessiveHalving:
    """Rung schedule and promotion rate of multi-fidelity trials.

    Args:
        min_epochs: epochs of the first rung.
        eta: reduction factor: each rung is ``eta`` times longer, and the best ``1/eta`` of a
            rung's records are promoted.
        grace: the first ``grace`` records of each rung are always promoted (the rung's
            front is meaningless with fewer points).
    """

    min_epochs: int = 1
    eta: int = 3
    grace: int = 3

    def __post_init__(self):
        for name, low in (("min_epochs", 1), ("eta", 2), ("grace", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"SuccessiveHalving.{name} must be an integer >= {low}, got {v!r}.")

    def rungs(self, epochs: int) -> list[int]:
        """Epoch counts at which a trial of ``epochs`` epochs reports and may stop (``epochs`` excluded)."""
        out, e = [], self.min_epochs
        while e < epochs:
            out.append(e)
            e *= self.eta
        return out

    def promote(self, records: dict[str, list[float]], trial_id: str, violations: dict[str, float] | None = None) -> bool:
        """Whether ``trial_id`` is among the best ``ceil(n / eta)`` of ``records`` (minimised objectives)."""
        ids = list(records)
        if len(ids) <= self.grace:
            return True
        F = np.asarray([records[t] for t in ids], dtype=float)
        viol = None if not violations else np.asarray([violations.get(t, 0.0) for t in ids])
        order = _pareto.pareto_order(F, viol)
        top = math.ceil(len(ids) / self.eta)
        return ids.index(trial_id) in set(order[:top].tolist())

    def to_dict(self) -> dict:
        return {"min_epochs": self.min_epochs, "eta": self.eta, "grace": self.grace}


__all__ = ["SuccessiveHalving", "RUNG_KEY"]

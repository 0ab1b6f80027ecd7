"""Worker liveness for keras-tuner's gRPC chief/worker mode.

A worker that dies mid-trial never ends its trial, so keras-tuner's chief would wait for it
forever. Workers show they are alive through their RPCs (and a heartbeat ``get_trial`` call during
a trial, see :class:`kerasnac.distributed.Heartbeat`); the oracle notes each sign of life here, and
a worker silent for ``timeout`` seconds is dropped and its trial re-queued for another worker
(``ParetoOracle.reap_lost_workers``).
"""

from __future__ import annotations

import time


class WorkerLiveness:
    """When each tuner id last showed a sign of life, and which workers are silent too long.

    Args:
        timeout: seconds without a sign of life after which a worker counts as lost (``None``:
            never; :func:`kerasnac.distributed.serve` sets ``KERASNAC_WORKER_TIMEOUT``).
        clock: the time source (monotonic seconds); a test can pass its own.
    """

    def __init__(self, timeout: float | None = None, clock=time.monotonic):
        self.timeout = timeout
        self.clock = clock
        self.lost_trials: list[tuple[str, str]] = []  # (trial_id, tuner_id) re-queued
        self._last_seen: dict[str, float] = {}

    def seen(self, tuner_id: str) -> None:
        self._last_seen[tuner_id] = self.clock()

    def silent(self, tuner_ids) -> list[str]:
        """The ids among ``tuner_ids`` silent for more than ``timeout`` seconds (a first look starts
        the clock of an id never seen)."""
        if not self.timeout:
            return []
        now = self.clock()
        return [tid for tid in tuner_ids if now - self._last_seen.setdefault(tid, now) > self.timeout]

    def mark_lost(self, tuner_id: str) -> None:
        """Count ``tuner_id`` as silent now (its process is known to be dead): the next
        ``silent`` call reports it, without waiting for ``timeout``."""
        self._last_seen[tuner_id] = float("-inf")

    def forget(self, tuner_id: str) -> None:
        self._last_seen.pop(tuner_id, None)


def owner(ongoing_trials: dict, trial_id: str):
    """The tuner id running ``trial_id`` (keras-tuner's ``{tuner_id: trial}``), or None."""
    return next((tid for tid, t in ongoing_trials.items() if t.trial_id == trial_id), None)


__all__ = ["WorkerLiveness", "owner"]

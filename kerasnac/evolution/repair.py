"""Crash repair: bring a reloaded oracle back in step with its trial files.

The oracle writes each trial's ``trial.json`` and its own ``oracle.json`` one after the other
(each atomically). A kill between the two leaves them out of step; after keras-tuner's own
``reload`` (which sends trials that were running back to the queue), :func:`repair` fixes the
two cases a kill can leave:

* a trial file the oracle never recorded (created, then killed before ``oracle.json``): it is
  added to the start order, its values are marked as tried, and it is counted as the enqueued
  baseline or the offspring it was;
* a trial that ended (COMPLETED or FAILED) but that ``oracle.json`` still lists as running: it
  leaves the retry queue, so it is never run twice.

Every other unfinished trial goes (back) to the retry queue.
"""

from __future__ import annotations

from kerasnac._keras import kt

TrialStatus = kt.engine.trial.TrialStatus
_DONE = (TrialStatus.COMPLETED, TrialStatus.FAILED)


def repair(oracle) -> None:
    """Repair a :class:`~kerasnac.ParetoOracle` right after ``kt.Oracle.reload``."""
    known = set(oracle.start_order)
    for trial_id in sorted(oracle.trials):
        trial = oracle.trials[trial_id]
        if trial_id not in known:  # created, but oracle.json was not written after it
            oracle.start_order.append(trial_id)
            oracle._record_values(trial)
            _adopt_orphan(oracle, trial)
        if trial.status in _DONE:
            if trial_id in oracle._retry_queue:  # it had ended; oracle.json was not written after it
                oracle._retry_queue.remove(trial_id)
            if trial_id not in oracle.end_order:
                oracle.end_order.append(trial_id)
        elif trial_id not in oracle._retry_queue:
            oracle._retry_queue.append(trial_id)


def _adopt_orphan(oracle, trial) -> None:
    """Count an unrecorded trial as the baseline it matches, else as offspring when its number is
    past the initial population."""
    key = oracle._compute_values_hash(trial.hyperparameters.values)
    for i, (given, name) in enumerate(oracle._baseline_queue):
        if oracle._compute_values_hash(oracle._complete_values(given)) == key:
            oracle.baselines[trial.trial_id] = name
            del oracle._baseline_queue[i]
            return
    try:
        index = int(trial.trial_id)
    except ValueError:
        return
    if index >= oracle.population_size:
        oracle._n_offspring += 1


__all__ = ["repair"]

"""A keras-tuner ``Oracle`` base that survives lost workers and failing trials.

:class:`RobustOracle` wires two strategy objects into keras-tuner's ``Oracle`` methods:

* ``liveness`` (:class:`~kerasnac.evolution.WorkerLiveness`): every RPC of a worker is a sign of
  life; the trial of a worker silent for ``worker_timeout`` seconds goes back to the queue. While
  another worker still runs a trial at the end of the budget, the others wait (IDLE) instead of
  exiting, so a re-queued trial always finds a worker;
* ``failures`` (:class:`~kerasnac.evolution.ConsecutiveFailures`): a run of failed trials stops
  the search with a message naming the most common cause (raised as
  :class:`~kerasnac.evolution.ConsecutiveFailuresError`, or on a gRPC chief, sent to the workers
  as STOPPED);

and runs ``before_end_trial``/``after_end_trial`` hooks around ``end_trial`` where the oracle lives
(the chief in gRPC mode). Its state files are written atomically.
"""

from __future__ import annotations

import json
import logging
import os

from kerasnac import _rundir
from kerasnac._keras import kt

from .failures import ConsecutiveFailures, ConsecutiveFailuresError
from .liveness import WorkerLiveness, owner

TrialStatus = kt.engine.trial.TrialStatus
_Trial = kt.engine.trial.Trial

logger = logging.getLogger("kerasnac.oracle")


class RobustOracle(kt.Oracle):
    """``kt.Oracle`` with worker liveness, a failure policy, end-of-trial hooks and atomic state.

    Subclasses call :meth:`_init_robustness` after ``kt.Oracle.__init__`` and may answer special
    ``update_trial`` reports in :meth:`_special_update` (the rung reports of multi-fidelity trials).
    """

    def _init_robustness(self, before_end_trial=None, after_end_trial=None, liveness=None, failures=None):
        self.before_end_trial = before_end_trial  # fn(trial), e.g. recover a worker's failure reason
        self.after_end_trial = after_end_trial  # fn(trial), e.g. write the results table on the chief
        self.liveness = liveness if liveness is not None else WorkerLiveness()
        self.failures = failures if failures is not None else ConsecutiveFailures(self.max_consecutive_failed_trials)
        self.stop_message: str | None = None
        self._serving = False  # True on a gRPC chief: stop workers instead of raising
        self._defer_failure_check = False

    @property
    def worker_timeout(self) -> float | None:
        """Seconds without a sign of life after which a worker's trial is re-queued (``None``: never)."""
        return self.liveness.timeout

    @worker_timeout.setter
    def worker_timeout(self, value):
        self.liveness.timeout = value

    @property
    def lost_trials(self) -> list[tuple[str, str]]:
        """``(trial_id, tuner_id)`` of the trials re-queued because their worker fell silent."""
        return self.liveness.lost_trials

    def _seen_owner(self, trial_id):
        tuner_id = owner(self.ongoing_trials, trial_id)
        if tuner_id is not None:  # e.g. a worker's heartbeat
            self.liveness.seen(tuner_id)

    @kt.synchronized
    def create_trial(self, tuner_id):
        self.liveness.seen(tuner_id)
        self.reap_lost_workers()
        if self.stop_message is not None:  # too many failures: tell every worker to stop
            self.tuner_ids.discard(tuner_id)
            return _Trial(self.hyperparameters.copy(), status=TrialStatus.STOPPED)
        if (tuner_id not in self.ongoing_trials and not self._retry_queue and self.max_trials
                and len(self.trials) >= self.max_trials and any(t != tuner_id for t in self.ongoing_trials)):
            self.tuner_ids.add(tuner_id)  # wait: a running trial may still be lost and need a re-run
            return _Trial(self.hyperparameters.copy(), status=TrialStatus.IDLE)
        return super().create_trial(tuner_id)

    @kt.synchronized
    def get_trial(self, trial_id):
        self._seen_owner(trial_id)
        return super().get_trial(trial_id)

    @kt.synchronized
    def update_trial(self, trial_id, metrics, step=0):
        self._seen_owner(trial_id)
        answer = self._special_update(trial_id, metrics)
        if answer is not None:
            return answer
        return super().update_trial(trial_id, metrics, step=step)

    def _special_update(self, trial_id, metrics):
        """A trial answering a special report instead of recording ``metrics`` (None: record them)."""
        return None

    def end_trial(self, trial):
        if self._end_trial(trial) and not self._serving:
            # raised outside the oracle lock (keras-tuner's `synchronized` does not release it on errors);
            # a gRPC chief tells the workers to stop instead (create_trial)
            raise ConsecutiveFailuresError(self.stop_message)

    @kt.synchronized
    def _end_trial(self, trial) -> bool:
        self._seen_owner(trial.trial_id)
        if self.before_end_trial is not None:
            self._run_hook(self.before_end_trial, trial)
        self._defer_failure_check = True  # check after the trial and the state are saved
        try:
            super().end_trial(trial)
        finally:
            self._defer_failure_check = False
        if self.after_end_trial is not None:
            self._run_hook(self.after_end_trial, self.trials[trial.trial_id])
        return self._check_consecutive_failures()

    def record(self, values: dict, metrics: dict):
        """Add a model trained outside this oracle (e.g. one of the gradient search's front) as a
        completed trial: keras-tuner's own bookkeeping (recorded values, metrics, score, start and end
        order, saved trial and oracle files), so every result view and file treats it as a trial."""
        trial_id = f"{{:0{len(str(self.max_trials or 0))}d}}".format(len(self.trials))  # keras-tuner's ids
        hp = self.hyperparameters.copy()
        hp.values = dict(values)
        trial = _Trial(hp, trial_id=trial_id, status=TrialStatus.RUNNING)
        self._record_values(trial)
        self.trials[trial_id] = trial
        self.start_order.append(trial_id)
        self.update_trial(trial_id, metrics)
        trial.status = TrialStatus.COMPLETED
        verbose, self.verbose = self.verbose, 0  # keras-tuner's display never saw this trial begin
        try:
            self.end_trial(trial)
        finally:
            self.verbose = verbose
        return self.trials[trial_id]

    @staticmethod
    def _run_hook(hook, trial):
        try:
            hook(trial)
        except Exception:  # a reporting hook must never break the oracle (it holds the lock)
            logger.exception("kerasnac: hook for trial %s failed", trial.trial_id)

    @kt.synchronized
    def reap_lost_workers(self) -> list[str]:
        """Re-queue the trials of workers silent for more than ``worker_timeout`` seconds."""
        lost = self.liveness.silent(set(self.tuner_ids) | set(self.ongoing_trials))
        requeued = []
        for tuner_id in lost:
            trial = self.ongoing_trials.pop(tuner_id, None)
            self.tuner_ids.discard(tuner_id)
            self.liveness.forget(tuner_id)
            if trial is not None and trial.trial_id not in self._retry_queue:
                self._retry_queue.append(trial.trial_id)
                self.liveness.lost_trials.append((trial.trial_id, tuner_id))
                requeued.append(trial.trial_id)
            logger.warning("kerasnac: worker %r silent for more than %.0f s; %s", tuner_id, self.worker_timeout,
                           f"trial {trial.trial_id} goes back to the queue" if trial is not None else "dropped")
        if lost:
            self.save()
        return requeued

    def _check_consecutive_failures(self) -> bool:
        """Set ``stop_message`` and return True when the failure policy stops the search (then
        ``end_trial`` raises, or a chief stops its workers). keras-tuner's ``end_trial`` calls it too."""
        if self._defer_failure_check:
            return False
        message = self.failures.stop_message([self.trials[t] for t in self.end_order])
        if message is None:
            return False
        self.stop_message = message
        return True

    # Atomic (kerasnac._rundir): a kill during a write never leaves a truncated oracle.json/trial.json.
    # Compact JSON, as keras-tuner writes these files.
    @staticmethod
    def _write_state(path: str, state: dict) -> None:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        _rundir.atomic_write_text(path, json.dumps(state))

    def save(self):
        self._write_state(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial):
        self._write_state(os.path.join(self._get_trial_dir(trial.trial_id), "trial.json"), trial.get_state())


__all__ = ["RobustOracle"]

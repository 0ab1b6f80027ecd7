"""NSGA-II oracle for keras-tuner: Pareto ranking, constraint-domination, baselines, resumable state.

keras-tuner's own multi-objective support sums the objectives into one score. :class:`ParetoOracle`
ranks trials by non-dominated sorting and crowding distance instead (Deb et al. 2002) and handles
constraints by constraint-domination (Deb 2000). It is a drop-in ``kt.Oracle``: it only reads trial
metrics and its own JSON state, so it also works as the chief oracle in keras-tuner's gRPC
chief/worker mode.

Example:
    >>> from kerasnac._keras import kt
    >>> oracle = ParetoOracle(
    ...     objective=[kt.Objective("val_accuracy", "max"), kt.Objective("bops", "min")],
    ...     max_trials=100, population_size=20, constraints=["lut <= 50000"], seed=1)
    >>> oracle.enqueue({"units": 64}, name="paper_baseline")  # runs first
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import math
import os
import re
import tempfile
import time

import numpy as np

from kerasnac import _pareto
from kerasnac import fidelity as _fidelity
from kerasnac import screening as _screening
from kerasnac._keras import keep_oracle_seed, kt

_hp = kt.engine.hyperparameters
TrialStatus = kt.engine.trial.TrialStatus
_Trial = kt.engine.trial.Trial

logger = logging.getLogger(__name__)

_MISSING = object()
_SIGMA = 0.2  # std of the Gaussian mutation step in the (log-)normalized [0, 1) range
_STREAM_RANDOM, _STREAM_EVOLVE, _STREAM_SCREEN = 0, 1, 2


class ConsecutiveFailuresError(RuntimeError):
    """Too many trials failed in a row; the message names the most common cause."""


def _last_line(message) -> str:
    lines = [ln.strip() for ln in str(message or "").strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def _write_json_atomic(path: str, obj) -> None:
    """Write ``obj`` as JSON via a temp file and ``os.replace``: a kill never leaves half a file."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp_", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(obj))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------------- constraints
@dataclasses.dataclass(frozen=True)
class Constraint:
    """``metric op bound`` with ``op`` in ``{"<=", ">="}``, read from the trial metrics.

    ``violation(value)`` is 0 when satisfied, else the distance to ``bound`` divided by
    ``|bound|`` (by 1 when ``bound == 0``), so constraints of different scales add up fairly.

    >>> c = Constraint.parse("lut <= 50000")
    >>> c.violation(40000.0), c.violation(60000.0)
    (0.0, 0.2)
    """

    metric: str
    op: str
    bound: float

    _PATTERN = re.compile(r"^\s*([^\s<>=]+)\s*(<=|>=)\s*(\S+)\s*$")

    def __post_init__(self):
        if self.op not in ("<=", ">="):
            raise ValueError(f"Constraint operator must be '<=' or '>=', got {self.op!r}.")
        object.__setattr__(self, "bound", float(self.bound))

    @classmethod
    def parse(cls, text: str | "Constraint") -> "Constraint":
        """Parse ``"<metric> <= <number>"`` or ``"<metric> >= <number>"``."""
        if isinstance(text, Constraint):
            return text
        if not isinstance(text, str):
            raise TypeError(f"A constraint must be a string or a Constraint, got {type(text).__name__}.")
        m = cls._PATTERN.match(text)
        bound = None
        if m:
            try:
                bound = float(m.group(3))
            except ValueError:
                bound = None
        if bound is None or not math.isfinite(bound):
            raise ValueError(
                f"Malformed constraint {text!r}: expected '<metric> <= <number>' or "
                f"'<metric> >= <number>', e.g. 'lut <= 50000' or 'val_accuracy >= 0.7'."
            )
        return cls(m.group(1), m.group(2), bound)

    def violation(self, value: float) -> float:
        value = float(value)
        if math.isnan(value):
            return math.inf
        excess = value - self.bound if self.op == "<=" else self.bound - value
        return max(0.0, excess) / (abs(self.bound) or 1.0)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound!r}"


# ---------------------------------------------------------------------------------- hp helpers
def _is_valid(hp, value) -> bool:
    """Whether ``value`` is a legal value of ``hp`` (used to reject a parent's stale values)."""
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


def _mutate(hp, value, rng: np.random.Generator):
    """A new value of ``hp`` near ``value`` (different from it whenever the hp allows)."""
    if isinstance(hp, _hp.Fixed):
        return value
    if isinstance(hp, _hp.Boolean):
        return not value
    if isinstance(hp, _hp.Choice):
        others = [v for v in hp.values if v != value]
        return others[int(rng.integers(len(others)))] if others else value
    # Int / Float: Gaussian step in keras-tuner's (log-)normalized cumulative-probability space;
    # prob_to_value applies `sampling` (linear/log/reverse_log) and snaps to `step`.
    p = min(max(float(hp.value_to_prob(value)), 0.0), 1.0)
    n_values = hp._get_n_values() if hp.step is not None else (
        hp.max_value - hp.min_value + 1 if isinstance(hp, _hp.Int) else None)
    sigma = _SIGMA if not n_values else max(_SIGMA, 1.0 / n_values)
    for i in range(32):
        if i < 16:
            q = (p + sigma * float(rng.standard_normal())) % 2.0  # reflect into [0, 1]
            q = 2.0 - q if q > 1.0 else q
        else:  # give up on locality, draw uniformly
            q = float(rng.random())
        new = hp.prob_to_value(min(q, 1.0 - 1e-12))
        new = int(new) if isinstance(hp, _hp.Int) else float(new)
        if new != value:
            return new
    return value


def _reported(trial) -> dict:
    """The last reported value of every metric of a trial."""
    return {n: trial.metrics.get_last_value(n) for n in trial.metrics.metrics}


def _objective_pairs(objective) -> list[tuple[str, str]]:
    # keras-tuner builds a (non-public) MultiObjective from a list; it has `.objectives`.
    if hasattr(objective, "objectives"):
        return [(o.name, o.direction) for o in objective.objectives]
    return [(objective.name, objective.direction)]


# ---------------------------------------------------------------------------------- oracle
class ParetoOracle(kt.Oracle):
    """Multi-objective NSGA-II oracle (steady-state, works with parallel workers).

    The first ``population_size`` trials are the enqueued baselines (:meth:`enqueue`) followed by
    random draws. Afterwards each new trial is a child of two parents chosen by binary tournament
    from the best ``population_size`` completed trials (rank, then crowding distance, with
    constraint-domination), bred by uniform crossover and type-aware mutation of the *active*
    hyperparameters only. Children already tried are re-bred, then replaced by random draws; when
    those collide too, the search stops (an exhausted space), like ``RandomSearch``.

    Objective and constraint values are the *last* reported value of each metric. A completed trial
    lacking one of them, or reporting NaN/inf, gets a NaN score, which keras-tuner turns into an
    invalid (retried, then failed) trial; it is never ranked. ``trial.score`` holds keras-tuner's
    usual sum of objectives for display only; it is not used for ranking.

    Every random choice uses ``numpy.random.default_rng((seed, n_trials_created, stream, attempt))``
    so a search with the same seed and the same results proposes the same sequence, also after
    ``reload()`` or ``set_state(get_state())``.

    Args:
        objective: list of ``kt.Objective`` (or metric names with an inferable direction).
        max_trials: total number of trials (``None``: unlimited).
        population_size: size of the initial population and of the parent pool.
        crossover_prob: probability that a child is a uniform crossover of its two parents
            (otherwise a copy of the first) before mutation.
        mutation_prob: per active hyperparameter; ``None`` means 1 / (number of active,
            non-``Fixed`` hyperparameters of the child).
        constraints: strings like ``"lut <= 50000"`` or :class:`Constraint` objects.
        seed: random seed (``None``: random, as in keras-tuner).
        screening: a :class:`kerasnac.screening.Screening`: breed several children per proposal and
            train the one with the largest predicted hypervolume gain (exact costs from
            ``cost_fn``, the task metric from a tree-ensemble surrogate). ``None``: plain NSGA-II.
        cost_fn: ``values -> {metric: value}``, the exact pre-training costs of hyperparameter
            values, used by ``screening`` (:class:`kerasnac.KerasNAC` sets it).
        fidelity: a :class:`kerasnac.SuccessiveHalving`: trials report their objectives at the end
            of each rung (``update_trial`` with the ``RUNG_KEY`` metric) and the oracle answers
            STOPPED unless the trial is in the best ``1/eta`` of that rung's records.
        hyperparameters, allow_new_entries, tune_new_entries, max_retries_per_trial,
        max_consecutive_failed_trials: as in ``kt.Oracle``.
    """

    def __init__(
        self,
        objective,
        max_trials=None,
        population_size=20,
        crossover_prob=0.9,
        mutation_prob=None,
        constraints=None,
        seed=None,
        hyperparameters=None,
        allow_new_entries=True,
        tune_new_entries=True,
        max_retries_per_trial=0,
        max_consecutive_failed_trials=10,
        screening=None,
        cost_fn=None,
        fidelity=None,
    ):
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            hyperparameters=hyperparameters,
            allow_new_entries=allow_new_entries,
            tune_new_entries=tune_new_entries,
            seed=seed,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        keep_oracle_seed(self, seed)
        if int(population_size) < 1:
            raise ValueError(f"population_size must be >= 1, got {population_size}.")
        if not 0.0 <= crossover_prob <= 1.0:
            raise ValueError(f"crossover_prob must be in [0, 1], got {crossover_prob}.")
        if mutation_prob is not None and not 0.0 <= mutation_prob <= 1.0:
            raise ValueError(f"mutation_prob must be in [0, 1] or None, got {mutation_prob}.")
        self.population_size = int(population_size)
        self.crossover_prob = float(crossover_prob)
        self.mutation_prob = None if mutation_prob is None else float(mutation_prob)
        self.constraints = [Constraint.parse(c) for c in (constraints or [])]
        self._constraints_given = constraints is not None
        self._objectives = _objective_pairs(self.objective)
        if screening is not None and not isinstance(screening, _screening.Screening):
            raise TypeError(f"screening must be a kerasnac.Screening or None, got {type(screening).__name__}.")
        self.screening = screening
        self.cost_fn = None if cost_fn is None else _screening.CostCache(cost_fn)
        self._encoder = None
        if fidelity is not None and not isinstance(fidelity, _fidelity.SuccessiveHalving):
            raise TypeError(f"fidelity must be a kerasnac.SuccessiveHalving or None, got {type(fidelity).__name__}.")
        self.fidelity = fidelity
        # {epochs: {trial_id: [minimised objectives..., constraint violation]}} of the rung reports
        self._rungs: dict[str, dict[str, list[float]]] = {}

        # Baselines waiting to run, as [values, name] pairs; and {trial_id: name} of those run.
        self._baseline_queue: list[list] = []
        self.baselines: dict[str, str] = {}
        # Trials proposed after the initial population; generation = this // population_size.
        self._n_offspring = 0
        # Ids of the parent pool used for the latest offspring (best first).
        self._parent_ids: list[str] = []
        self._reported_invalid: set[str] = set()

        # Robustness (not state): hooks run where the oracle lives (the chief in gRPC mode),
        # liveness of workers, and the reason the search was stopped.
        self.before_end_trial = None  # fn(trial), e.g. recover a worker's failure reason
        self.after_end_trial = None  # fn(trial), e.g. write the results table on the chief
        self.worker_timeout: float | None = None  # s without a sign of life -> re-queue the trial
        self.lost_trials: list[tuple[str, str]] = []  # (trial_id, tuner_id) re-queued
        self.stop_message: str | None = None
        self._serving = False  # True on a gRPC chief: stop workers instead of raising
        self._defer_failure_check = False
        self._last_seen: dict[str, float] = {}

    # ------------------------------------------------------------------ public API
    def enqueue(self, values: dict, name: str | None = None) -> None:
        """Run ``values`` (a ``{hp_name: value}`` dict) as one of the next trials, before any draw.

        Missing active hyperparameters take their default values. The trial id is recorded in
        ``self.baselines`` under ``name`` (default ``"baseline_<k>"``). A baseline equal to a trial
        already tried is skipped.
        """
        if not isinstance(values, dict):
            raise TypeError(f"enqueue expects a dict of hyperparameter values, got {type(values).__name__}.")
        for key, value in values.items():
            known = [hp for hp in self.hyperparameters.space if hp.name == key]
            if known and not any(_is_valid(hp, value) for hp in known):
                raise ValueError(f"Baseline {name!r}: value {value!r} is not allowed for {known[0]!r}.")
        if name is None:
            name = f"baseline_{len(self.baselines) + len(self._baseline_queue)}"
        self._baseline_queue.append([dict(values), str(name)])

    @property
    def pending_baselines(self) -> list[str]:
        """Names of the enqueued baselines that have not been proposed yet."""
        return [name for _, name in self._baseline_queue]

    @property
    def generation(self) -> int:
        """Number of complete generations of offspring proposed so far."""
        return self._n_offspring // self.population_size

    @property
    def parent_ids(self) -> list[str]:
        """The parent pool (best first) used for the latest offspring."""
        return list(self._parent_ids)

    def rank_trials(self) -> dict[str, tuple[int, float, float]]:
        """``{trial_id: (rank, crowding, violation)}`` of the ranked (valid, completed) trials."""
        ids, ranks, cd, viol, _ = self._rank()
        return {t: (int(r), float(c), float(v)) for t, r, c, v in zip(ids, ranks, cd, viol)}

    def pareto_front_ids(self) -> list[str]:
        """Ids of the feasible rank-0 completed trials, in Pareto order."""
        ids, ranks, _, viol, order = self._rank()
        return [ids[i] for i in order if ranks[i] == 0 and viol[i] == 0]

    def get_best_trials(self, num_trials=1):
        """Completed trials in Pareto order: feasible first, then rank, then crowding.

        As in ``kt.Oracle``, when fewer trials are ranked than requested the list is padded with
        the remaining (unranked) trials.
        """
        ids, _, _, _, order = self._rank()
        best = [self.trials[ids[i]] for i in order]
        if len(best) < num_trials:
            ranked = set(ids)
            best += [t for tid, t in self.trials.items() if tid not in ranked]
        return best[:num_trials]

    # ------------------------------------------------------------------ keras-tuner hooks
    def score_trial(self, trial):
        """Set a NaN score (-> invalid trial) when an objective/constraint value is missing or not
        finite; otherwise keras-tuner's signed sum, for display only (ranking ignores it)."""
        values = self._metric_values(trial)
        if values is None:
            missing = [n for n in self._metric_names() if not self._finite_last(trial, n)]
            trial.score = float("nan")
            trial.message = (f"ParetoOracle: metric(s) {missing} missing or not finite in the "
                             f"reported metrics of trial {trial.trial_id}; it is not ranked.")
            return
        k = len(self._objectives)
        trial.score = float(sum(v if d == "min" else -v
                                for v, (_, d) in zip(values[:k], self._objectives)))
        history = trial.metrics.get_history(self._objectives[0][0])
        trial.best_step = history[-1].step if history else 0

    def populate_space(self, trial_id):
        """Baselines, then ``population_size`` random draws, then NSGA-II offspring."""
        n_created = len(self.trials)
        while self._baseline_queue:
            given, name = self._baseline_queue.pop(0)
            values = self._complete_values(given)
            if self._duplicate(values):
                logger.warning("Baseline %r was already tried; skipping it.", name)
                continue
            self.baselines[trial_id] = name
            return {"status": TrialStatus.RUNNING, "values": values}

        if n_created < self.population_size:
            values = self._random_draw(n_created)
        else:
            self._n_offspring += 1
            values = self._offspring(n_created)
        if values is None:
            self._log_exhausted(n_created)
            return {"status": TrialStatus.STOPPED, "values": None}
        return {"status": TrialStatus.RUNNING, "values": values}

    def _log_exhausted(self, n_created: int):
        """Say once why a search stops before ``max_trials``: no untried point was found."""
        if getattr(self, "_exhausted_logged", False):
            return
        self._exhausted_logged = True
        logger.warning("kerasnac: the search space is exhausted after %d distinct trials (max_trials=%s): no untried "
                       "architecture was found, so the search stops here. Widen the space or lower "
                       "max_trials.", n_created, self.max_trials)

    def get_state(self):
        state = super().get_state()
        state.update({
            "population_size": self.population_size,
            "crossover_prob": self.crossover_prob,
            "mutation_prob": self.mutation_prob,
            "constraints": [str(c) for c in self.constraints],
            "baseline_queue": self._baseline_queue,
            "baselines": self.baselines,
            "n_offspring": self._n_offspring,
            "generation": self.generation,
            "parent_ids": self._parent_ids,
            "rungs": self._rungs,
        })
        return state

    def set_state(self, state):
        super().set_state(state)
        self.population_size = state["population_size"]
        self.crossover_prob = state["crossover_prob"]
        self.mutation_prob = state["mutation_prob"]
        # The constraints are the ones given now, not the saved ones: a resumed search may add or
        # change constraints, and they apply to every trial, old ones included (violations are
        # always computed from the trials' stored costs at ranking time).
        # ``constraints=None`` (not given) restores the saved ones.
        if not self._constraints_given:
            self.constraints = [Constraint.parse(c) for c in state["constraints"]]
        self._baseline_queue = [[dict(v), n] for v, n in state["baseline_queue"]]
        self.baselines = dict(state["baselines"])
        self._n_offspring = state["n_offspring"]
        self._parent_ids = list(state["parent_ids"])
        self._rungs = {e: dict(r) for e, r in state.get("rungs", {}).items()}

    # ------------------------------------------------------------------ robustness
    # Chief/worker mode (keras-tuner gRPC): a worker that dies mid-trial never ends its trial, so
    # keras-tuner's chief would wait forever. Workers show they are alive through their RPCs
    # (and a heartbeat ``get_trial`` call during a trial, see ``NACTuner``); a worker silent for
    # ``worker_timeout`` seconds is dropped and its trial re-queued for another worker. While
    # another worker still runs a trial at the end of the budget, the others wait (IDLE) instead
    # of exiting, so a re-queued trial always finds a worker.
    def _seen(self, tuner_id):
        self._last_seen[tuner_id] = time.monotonic()

    def _owner(self, trial_id):
        return next((tid for tid, t in self.ongoing_trials.items() if t.trial_id == trial_id), None)

    @kt.synchronized
    def create_trial(self, tuner_id):
        self._seen(tuner_id)
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
        owner = self._owner(trial_id)
        if owner is not None:  # a worker's heartbeat
            self._seen(owner)
        return super().get_trial(trial_id)

    @kt.synchronized
    def update_trial(self, trial_id, metrics, step=0):
        owner = self._owner(trial_id)
        if owner is not None:
            self._seen(owner)
        if _fidelity.RUNG_KEY in metrics:
            return self._rung_report(trial_id, metrics)
        return super().update_trial(trial_id, metrics, step=step)

    def _rung_report(self, trial_id, metrics):
        """Record a trial's objectives at the end of a rung; answer RUNNING (promote) or STOPPED."""
        trial = self.trials[trial_id]
        epochs = str(int(metrics[_fidelity.RUNG_KEY]))
        try:
            values = [float(metrics[n]) for n, _ in self._objectives]
        except KeyError as e:
            raise ValueError(f"rung report of trial {trial_id} lacks objective {e}.") from None
        record = _pareto.to_minimization(np.asarray([values]), [d for _, d in self._objectives])[0].tolist()
        if not all(math.isfinite(v) for v in record):
            promote = False
        else:
            violation = sum(c.violation(float(metrics[c.metric])) for c in self.constraints if c.metric in metrics)
            rung = self._rungs.setdefault(epochs, {})
            rung[trial_id] = record + [float(violation)]
            fid = self.fidelity or _fidelity.SuccessiveHalving()
            promote = fid.promote({t: r[:-1] for t, r in rung.items()}, trial_id,
                                  {t: r[-1] for t, r in rung.items()} if self.constraints else None)
        self.save()
        status = TrialStatus.RUNNING if promote else TrialStatus.STOPPED
        return _Trial(trial.hyperparameters, trial_id=trial_id, status=status)

    def end_trial(self, trial):
        if self._end_trial(trial) and not self._serving:
            # raised outside the oracle lock (keras-tuner's `synchronized` does not release it on errors);
            # a gRPC chief tells the workers to stop instead (create_trial)
            raise ConsecutiveFailuresError(self.stop_message)

    @kt.synchronized
    def _end_trial(self, trial) -> bool:
        owner = self._owner(trial.trial_id)
        if owner is not None:
            self._seen(owner)
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

    @staticmethod
    def _run_hook(hook, trial):
        try:
            hook(trial)
        except Exception:  # a reporting hook must never break the oracle (it holds the lock)
            logger.exception("kerasnac: hook for trial %s failed", trial.trial_id)

    @kt.synchronized
    def reap_lost_workers(self) -> list[str]:
        """Re-queue the trials of workers silent for more than ``worker_timeout`` seconds."""
        if not self.worker_timeout:
            return []
        now = time.monotonic()
        lost = [tid for tid in set(self.tuner_ids) | set(self.ongoing_trials)
                if now - self._last_seen.setdefault(tid, now) > self.worker_timeout]
        requeued = []
        for tuner_id in lost:
            trial = self.ongoing_trials.pop(tuner_id, None)
            self.tuner_ids.discard(tuner_id)
            self._last_seen.pop(tuner_id, None)
            if trial is not None and trial.trial_id not in self._retry_queue:
                self._retry_queue.append(trial.trial_id)
                self.lost_trials.append((trial.trial_id, tuner_id))
                requeued.append(trial.trial_id)
            logger.warning("kerasnac: worker %r silent for more than %.0f s; %s", tuner_id, self.worker_timeout,
                           f"trial {trial.trial_id} goes back to the queue" if trial is not None else "dropped")
        if lost:
            self.save()
        return requeued

    def _check_consecutive_failures(self) -> bool:
        """After ``max_consecutive_failed_trials`` failures in a row set ``stop_message``, naming the most
        common cause, and return True (then ``end_trial`` raises, or a chief stops its workers)."""
        if self._defer_failure_check or not self.max_consecutive_failed_trials:
            return False
        run = []
        for trial_id in self.end_order:
            trial = self.trials[trial_id]
            run = run + [trial] if trial.status == TrialStatus.FAILED else []
        if len(run) < self.max_consecutive_failed_trials:
            return False
        cause, n = collections.Counter(_last_line(t.message) or "unknown (no message)" for t in run).most_common(1)[0]
        self.stop_message = (
            f"kerasnac stopped the search: {len(run)} trials failed in a row (max_consecutive_failed_trials="
            f"{self.max_consecutive_failed_trials}). Most common cause ({n} of {len(run)}): {cause!r}. "
            "Fix that cause and run the same search again: completed trials are kept and the search resumes.")
        return True

    # Atomic state files: a kill during a write never leaves a truncated oracle.json/trial.json.
    def save(self):
        _write_json_atomic(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial):
        _write_json_atomic(os.path.join(self._get_trial_dir(trial.trial_id), "trial.json"), trial.get_state())

    def reload(self):
        """Reload, then repair what a kill between writing a trial file and oracle.json left out of step."""
        super().reload()  # trials that were running go back to the retry queue
        known = set(self.start_order)
        done = (TrialStatus.COMPLETED, TrialStatus.FAILED)
        for trial_id in sorted(self.trials):
            trial = self.trials[trial_id]
            if trial_id not in known:  # created, but oracle.json was not written after it
                self.start_order.append(trial_id)
                self._record_values(trial)
                self._adopt_orphan(trial)
            if trial.status in done:
                if trial_id in self._retry_queue:  # it had ended; oracle.json was not written after it
                    self._retry_queue.remove(trial_id)
                if trial_id not in self.end_order:
                    self.end_order.append(trial_id)
            elif trial_id not in self._retry_queue:
                self._retry_queue.append(trial_id)

    def _adopt_orphan(self, trial):
        key = self._compute_values_hash(trial.hyperparameters.values)
        for i, (given, name) in enumerate(self._baseline_queue):
            if self._compute_values_hash(self._complete_values(given)) == key:
                self.baselines[trial.trial_id] = name
                del self._baseline_queue[i]
                return
        try:
            index = int(trial.trial_id)
        except ValueError:
            return
        if index >= self.population_size:
            self._n_offspring += 1

    # ------------------------------------------------------------------ metrics and ranking
    def _metric_names(self) -> list[str]:
        return [n for n, _ in self._objectives] + [c.metric for c in self.constraints]

    @staticmethod
    def _finite_last(trial, name) -> bool:
        if not trial.metrics.exists(name):
            return False
        v = trial.metrics.get_last_value(name)
        return v is not None and math.isfinite(v)

    def _metric_values(self, trial) -> list[float] | None:
        """Last values of the objectives then the constraint metrics, or None if any is unusable."""
        names = self._metric_names()
        if not all(self._finite_last(trial, n) for n in names):
            return None
        return [float(trial.metrics.get_last_value(n)) for n in names]

    def _rank(self):
        """``(ids, ranks, crowding, violation, order)`` over valid completed trials."""
        in_order = [t for t in self.start_order if t in self.trials]
        in_order += sorted(set(self.trials) - set(in_order))
        ids, rows = [], []
        for tid in in_order:
            trial = self.trials[tid]
            if trial.status != TrialStatus.COMPLETED:
                continue
            values = self._metric_values(trial)
            if values is None:
                if tid not in self._reported_invalid:
                    self._reported_invalid.add(tid)
                    logger.warning("Trial %s lacks finite values for %s; it is not ranked.",
                                   tid, self._metric_names())
                continue
            ids.append(tid)
            rows.append(values)
        k = len(self._objectives)
        if not ids:
            empty = np.zeros(0)
            return [], empty.astype(int), empty, empty, empty.astype(int)
        M = np.asarray(rows, dtype=float)
        F = _pareto.to_minimization(M[:, :k], [d for _, d in self._objectives])
        viol = np.zeros(len(ids))
        for j, c in enumerate(self.constraints):
            viol += np.array([c.violation(v) for v in M[:, k + j]])
        ranks, cd = _pareto.rank_and_crowding(F, viol if self.constraints else None)
        order = np.lexsort((np.arange(len(ids)), -cd, ranks))
        return ids, ranks, cd, viol, order

    # ------------------------------------------------------------------ proposals
    def _rng(self, n_created: int, stream: int, attempt: int) -> np.random.Generator:
        seed = int(self.seed) & 0xFFFFFFFFFFFFFFFF
        return np.random.default_rng([seed, n_created, stream, attempt])

    def _walk(self, choose):
        """Build values by walking the space in order; ``choose(i, hp)`` gives each active value."""
        hps = _hp.HyperParameters()
        for i, hp in enumerate(self.hyperparameters.space):
            hps.merge([hp])
            if hps.is_active(hp):  # only active hyperparameters get values
                hps.values[hp.name] = choose(i, hp)
        return hps.values

    def _random_draw(self, n_created: int):
        for attempt in range(self._max_collisions + 1):
            seeds = self._rng(n_created, _STREAM_RANDOM, attempt).integers(
                2**31, size=len(self.hyperparameters.space))
            values = self._walk(lambda i, hp: hp.random_sample(int(seeds[i])))
            if not self._duplicate(values):
                return values
        return None

    def _complete_values(self, given: dict) -> dict:
        values = self._walk(lambda i, hp: given[hp.name] if hp.name in given else hp.default)
        names = {hp.name for hp in self.hyperparameters.space}
        # Keep values of hyperparameters the space does not know yet (registered at build time).
        values.update({k: v for k, v in given.items() if k not in names})
        return values

    def _parent_pool(self) -> list[str]:
        ids, _, _, _, order = self._rank()
        return [ids[i] for i in order[: self.population_size]]

    def _offspring(self, n_created: int):
        pool = self._parent_pool()
        self._parent_ids = pool
        wanted = self.screening.candidates if self.screening is not None else 1
        children, keys = [], set()
        if pool:
            for attempt in range(self._max_collisions + wanted):
                rng = self._rng(n_created, _STREAM_EVOLVE, attempt)
                # Binary tournament: the pool is sorted best first, so the lower position wins.
                p1, p2 = (pool[int(rng.integers(len(pool), size=2).min())] for _ in range(2))
                values = self._child(self.trials[p1].hyperparameters.values,
                                     self.trials[p2].hyperparameters.values, rng)
                key = _screening.values_key(values)
                if key not in keys and not self._duplicate(values):
                    children.append(values)
                    keys.add(key)
                    if len(children) >= wanted:
                        break
        if not children:
            return self._random_draw(n_created)
        return children[self._screen(children, n_created)]

    def _screen(self, children: list[dict], n_created: int) -> int:
        """Index of the child to train (0 without screening; see :mod:`kerasnac.screening`)."""
        if self.screening is None or len(children) < 2:
            return 0
        ids, _, _, viol, _ = self._rank()
        k = len(self._objectives)
        history = [(self.trials[t].hyperparameters.values, self._metric_values(self.trials[t])[:k],
                    _reported(self.trials[t])) for t, v in zip(ids, viol) if v == 0]
        if self._encoder is None or self._encoder.n_space != len(self.hyperparameters.space):
            self._encoder = _screening.Encoder(self.hyperparameters.space)
        need = self.screening.min_trials or self.population_size
        opts = dataclasses.replace(self.screening, min_trials=max(2, need))
        try:
            return _screening.choose(opts, children, history, self._objectives, self.cost_fn, self.constraints,
                                     self._encoder, seed=int(self._rng(n_created, _STREAM_SCREEN, 0).integers(2**31)))
        except Exception as e:  # screening is an optimisation: never let it stop the search
            logger.warning("Screening failed (%s: %s); training the first child.", type(e).__name__, e)
            return 0

    def _child(self, v1: dict, v2: dict, rng: np.random.Generator) -> dict:
        n = len(self.hyperparameters.space)
        crossover = rng.random() < self.crossover_prob
        from_second = (rng.random(n) < 0.5) & crossover
        fill_seeds = rng.integers(2**31, size=n)
        mutate_u = rng.random(n)
        mutate_seeds = rng.integers(2**63, size=n)

        def inherit(i, hp):
            value = (v2 if from_second[i] else v1).get(hp.name, _MISSING)
            if value is _MISSING or not _is_valid(hp, value):  # inactive in that parent
                value = hp.random_sample(int(fill_seeds[i]))
            return value

        n_active = []

        def inherit_and_count(i, hp):
            n_active.append(not isinstance(hp, _hp.Fixed))
            return inherit(i, hp)

        values = self._walk(inherit_and_count)
        pm = self.mutation_prob
        if pm is None:
            pm = 1.0 / max(1, sum(n_active))

        def inherit_and_mutate(i, hp):
            value = inherit(i, hp)
            if mutate_u[i] < pm:
                value = _mutate(hp, value, np.random.default_rng(int(mutate_seeds[i])))
            return value

        return self._walk(inherit_and_mutate) if pm > 0 else values


__all__ = ["ParetoOracle", "Constraint", "ConsecutiveFailuresError"]

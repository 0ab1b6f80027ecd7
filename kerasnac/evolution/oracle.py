"""NSGA-II oracle for keras-tuner: Pareto ranking, constraint-domination, baselines, resumable state.

keras-tuner's own multi-objective support sums the objectives into one score. :class:`ParetoOracle`
ranks trials by non-dominated sorting and crowding distance instead (Deb et al. 2002) and handles
constraints by constraint-domination (Deb 2000). It is a drop-in ``kt.Oracle`` (also as the chief
oracle of keras-tuner's gRPC mode) made of strategy objects, each in its own module of
:mod:`kerasnac.evolution`: selection, crossover, mutation, screening, rungs, worker liveness, the
failure policy and the crash repair.

Example:
    >>> from kerasnac._keras import kt
    >>> oracle = ParetoOracle(
    ...     objective=[kt.Objective("val_accuracy", "max"), kt.Objective("bops", "min")],
    ...     max_trials=100, population_size=20, constraints=["lut <= 50000"], seed=1)
    >>> oracle.enqueue({"units": 64}, name="paper_baseline")  # runs first
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

from kerasnac import _pareto
from kerasnac import fidelity as _fidelity
from kerasnac import screening as _screening
from kerasnac._keras import keep_oracle_seed, kt
from kerasnac._pareto import Constraint

from . import _values, initial, ranking, repair
from .crossover import UniformCrossover
from .failures import ConsecutiveFailuresError
from .initial import RandomInitial
from .mutation import GaussianMutation
from .offspring import breed
from .robust import RobustOracle
from .rungs import Rungs
from .selection import TournamentSelection

TrialStatus = kt.engine.trial.TrialStatus
_Trial = kt.engine.trial.Trial

logger = logging.getLogger("kerasnac.oracle")  # the name users filter on, kept from the first layout

_STREAM_RANDOM, _STREAM_EVOLVE, _STREAM_SCREEN = 0, 1, 2


class ParetoOracle(RobustOracle):
    """Multi-objective NSGA-II oracle (steady-state, works with parallel workers).

    The first ``population_size`` trials are the enqueued baselines (:meth:`enqueue`) followed by
    random draws. Afterwards each new trial is a child of parents chosen by ``selection`` (binary
    tournament from the best ``population_size`` completed trials: rank, then crowding distance,
    with constraint-domination), bred by ``crossover`` and ``mutation`` of the *active*
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
        crossover_prob: probability that a child is a crossover of its parents (otherwise a copy
            of the first) before mutation; sets the default ``UniformCrossover(prob=...)``.
        mutation_prob: per active hyperparameter; ``None`` means 1 / (number of active,
            non-``Fixed`` hyperparameters of the child).
        constraints: strings like ``"lut <= 50000"`` or :class:`Constraint` objects.
        seed: random seed (``None``: random, as in keras-tuner).
        selection: parent selection (default :class:`~kerasnac.evolution.TournamentSelection`).
        crossover: ``fn(parents, space, rng) -> values`` (default
            :class:`~kerasnac.evolution.UniformCrossover`); see :mod:`kerasnac.evolution.crossover`.
        mutation: ``fn(hp, value, rng) -> value`` (default
            :class:`~kerasnac.evolution.GaussianMutation`); see :mod:`kerasnac.evolution.mutation`.
        initial: how the first population is drawn (default :class:`~kerasnac.evolution.RandomInitial`;
            :class:`~kerasnac.evolution.CostStratified` spreads it over an exact cost, using ``exact_costs``).
        screening: a :class:`kerasnac.screening.Screening`: breed several children per proposal and
            train the one with the largest predicted hypervolume gain (exact costs from
            ``exact_costs``, the task metric from a tree-ensemble surrogate). ``None``: plain NSGA-II.
        exact_costs: ``values -> {metric: value}``, the exact pre-training costs of hyperparameter
            values, used by ``screening`` (:class:`kerasnac.KerasNAC` builds the model and runs
            ``kerasnac.costs``). ``cost_fn`` is its old name (deprecated).
        fidelity: a :class:`kerasnac.SuccessiveHalving`: trials report their objectives at the end
            of each rung (``update_trial`` with the ``RUNG_KEY`` metric) and the oracle answers
            STOPPED unless the trial is in the best ``1/eta`` of that rung's records.
        before_end_trial, after_end_trial: ``fn(trial)`` hooks run where the oracle lives (the
            chief in gRPC mode) around ``end_trial``; an exception in a hook is logged, never raised.
        hyperparameters, allow_new_entries, tune_new_entries, max_retries_per_trial,
        max_consecutive_failed_trials: as in ``kt.Oracle``; the last one sets the failure policy
            (:class:`~kerasnac.evolution.ConsecutiveFailures`).
    """

    def __init__(self, objective, max_trials=None, population_size=20, crossover_prob=0.9, mutation_prob=None,
                 constraints=None, seed=None, hyperparameters=None, allow_new_entries=True, tune_new_entries=True,
                 max_retries_per_trial=0, max_consecutive_failed_trials=10, screening=None, cost_fn=None,
                 fidelity=None, *, exact_costs=None, selection=None, crossover=None, mutation=None,
                 initial=None, before_end_trial=None, after_end_trial=None):
        super().__init__(objective=objective, max_trials=max_trials, hyperparameters=hyperparameters,
                         allow_new_entries=allow_new_entries, tune_new_entries=tune_new_entries, seed=seed,
                         max_retries_per_trial=max_retries_per_trial,
                         max_consecutive_failed_trials=max_consecutive_failed_trials)
        keep_oracle_seed(self, seed)
        if int(population_size) < 1:
            raise ValueError(f"population_size must be >= 1, got {population_size}.")
        if not 0.0 <= crossover_prob <= 1.0:
            raise ValueError(f"crossover_prob must be in [0, 1], got {crossover_prob}.")
        if mutation_prob is not None and not 0.0 <= mutation_prob <= 1.0:
            raise ValueError(f"mutation_prob must be in [0, 1] or None, got {mutation_prob}.")
        _values.check_strategies(selection, crossover, mutation)
        self.population_size = int(population_size)
        self.selection = selection if selection is not None else TournamentSelection()
        self.crossover = crossover if crossover is not None else UniformCrossover(prob=float(crossover_prob))
        self._crossover_prob = float(crossover_prob)
        self.mutation = mutation if mutation is not None else GaussianMutation()
        self.mutation_prob = None if mutation_prob is None else float(mutation_prob)
        self.initial = initial if initial is not None else RandomInitial()
        self._initial_plan: list[dict] | None = None  # the planned first population still to propose
        self.constraints = [Constraint.parse(c) for c in (constraints or [])]
        self._constraints_given = constraints is not None
        self._objectives = _values.objective_pairs(self.objective)
        if screening is not None and not isinstance(screening, _screening.Screening):
            raise TypeError(f"screening must be a kerasnac.Screening or None, got {type(screening).__name__}.")
        self.screening = screening
        if cost_fn is not None:
            warnings.warn("ParetoOracle(cost_fn=...) is now exact_costs=...; cost_fn will be removed in the next "
                          "release.", DeprecationWarning, stacklevel=2)
            exact_costs = exact_costs if exact_costs is not None else cost_fn
        self.exact_costs = None if exact_costs is None else _screening.CostCache(exact_costs)
        if screening is not None and screening.smooth > 0 and self.exact_costs is None:
            raise ValueError("Screening(smooth=...) shrinks only the objectives that need training, and tells them "
                             "from the costs by exact_costs; give ParetoOracle(exact_costs=...) (KerasNAC does) or "
                             "use smooth=0.")
        self._encoder = None
        if fidelity is not None and not isinstance(fidelity, _fidelity.SuccessiveHalving):
            raise TypeError(f"fidelity must be a kerasnac.SuccessiveHalving or None, got {type(fidelity).__name__}.")
        self.fidelity = fidelity
        self.rungs = Rungs(fidelity)

        # Baselines waiting to run, as [values, name] pairs; and {trial_id: name} of those run.
        self._baseline_queue: list[list] = []
        self.baselines: dict[str, str] = {}
        # Trials proposed after the initial population; generation = this // population_size.
        self._n_offspring = 0
        # Ids of the parent pool used for the latest offspring (best first).
        self._parent_ids: list[str] = []
        self._reported_invalid: set[str] = set()

        # Robustness (not state): hooks, worker liveness, the failure policy (see robust.py).
        self._init_robustness(before_end_trial, after_end_trial)

    # ------------------------------------------------------------------ strategies' settings
    @property
    def crossover_prob(self) -> float:
        return float(getattr(self.crossover, "prob", self._crossover_prob))

    @crossover_prob.setter
    def crossover_prob(self, value):
        self._crossover_prob = float(value)
        if hasattr(self.crossover, "prob"):
            self.crossover.prob = float(value)

    @property
    def cost_fn(self):
        warnings.warn("ParetoOracle.cost_fn is now exact_costs; cost_fn will be removed in the next release.",
                      DeprecationWarning, stacklevel=2)
        return self.exact_costs

    @property
    def _rungs(self) -> dict:
        return self.rungs.records

    # ------------------------------------------------------------------ public API
    def enqueue(self, values: dict, name: str | None = None) -> None:
        """Run ``values`` (a ``{hp_name: value}`` dict) as one of the next trials, before any draw.

        Missing active hyperparameters take their default values. The trial id is recorded in
        ``self.baselines`` under ``name`` (default ``"baseline_<k>"``). A baseline equal to a trial
        already tried is skipped.
        """
        _values.check_baseline(self.hyperparameters.space, values, name)
        if name is None:
            name = f"baseline_{len(self.baselines) + len(self._baseline_queue)}"
        self._baseline_queue.append([dict(values), str(name)])

    @property
    def objectives(self) -> list[tuple[str, str]]:
        """``[(metric name, "min" | "max")]`` of the objectives, in order."""
        return list(self._objectives)

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
            missing = [n for n in self._metric_names() if not ranking.finite_last(trial, n)]
            trial.score = float("nan")
            trial.message = (f"ParetoOracle: metric(s) {missing} missing or not finite in the "
                             f"reported metrics of trial {trial.trial_id}; it is not ranked.")
            return
        k = len(self._objectives)
        trial.score = float(sum(v if d == "min" else -v for v, (_, d) in zip(values[:k], self._objectives)))
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
            values = self._first_population_draw(n_created)
        else:
            self._n_offspring += 1
            values = self._offspring(n_created)
        if values is not None:
            return {"status": TrialStatus.RUNNING, "values": values}
        if not getattr(self, "_exhausted_logged", False):  # say once why the search stops before max_trials
            self._exhausted_logged = True
            logger.warning("kerasnac: the search space is exhausted after %d distinct trials (max_trials=%s): no "
                           "untried architecture was found, so the search stops here. Widen the space or lower "
                           "max_trials.", n_created, self.max_trials)
        return {"status": TrialStatus.STOPPED, "values": None}

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
            "rungs": self.rungs.get_state(),
            "initial_plan": self._initial_plan,
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
        self.rungs.set_state(state.get("rungs", {}))
        self._initial_plan = state.get("initial_plan", [])  # a run saved before plans existed: draw at random

    # ------------------------------------------------------------------ rungs, crash repair
    def _special_update(self, trial_id, metrics):
        """A rung report of a multi-fidelity trial: record it and answer RUNNING (promote) or STOPPED."""
        if not self.rungs.is_report(metrics):
            return None
        promote = self.rungs.report(trial_id, metrics, self._objectives, self.constraints)
        self.save()
        status = TrialStatus.RUNNING if promote else TrialStatus.STOPPED
        return _Trial(self.trials[trial_id].hyperparameters, trial_id=trial_id, status=status)

    def reload(self):
        """Reload, then repair what a kill between writing a trial file and oracle.json left out of step."""
        super().reload()  # trials that were running go back to the retry queue
        repair.repair(self)

    # ------------------------------------------------------------------ metrics and ranking
    def _metric_names(self) -> list[str]:
        return ranking.metric_names(self._objectives, self.constraints)

    def _metric_values(self, trial) -> list[float] | None:
        """Last values of the objectives then the constraint metrics, or None if any is unusable."""
        return ranking.metric_values(trial, self._metric_names())

    def _warn_unranked(self, trial):
        if trial.trial_id not in self._reported_invalid:
            self._reported_invalid.add(trial.trial_id)
            logger.warning("Trial %s lacks finite values for %s; it is not ranked.", trial.trial_id,
                           self._metric_names())

    def _rank(self):
        """``(ids, ranks, crowding, violation, order)`` over valid completed trials."""
        in_order = [t for t in self.start_order if t in self.trials]
        in_order += sorted(set(self.trials) - set(in_order))
        return ranking.rank([self.trials[t] for t in in_order], self._objectives, self.constraints,
                            self._warn_unranked)

    # ------------------------------------------------------------------ proposals
    def _rng(self, n_created: int, stream: int, attempt: int) -> np.random.Generator:
        seed = int(self.seed) & 0xFFFFFFFFFFFFFFFF
        return np.random.default_rng([seed, n_created, stream, attempt])

    def _walk(self, choose):
        """Build values by walking the space in order; ``choose(i, hp)`` gives each active value."""
        return _values.walk(self.hyperparameters.space, choose)

    @kt.synchronized
    def prepare_first_population(self) -> None:
        """Make the ``initial`` strategy's plan now, if it is still to be made (a gRPC chief calls this
        while its workers start up, so the plan's model builds do not hold up their first trials).
        The plan is the one the first draw would make: its size counts the baselines still queued."""
        n_created = len(self.trials) + len(self._baseline_queue)
        if self._initial_plan is None and n_created < self.population_size:
            self._plan_first_population(n_created)

    def _plan_first_population(self, n_created: int) -> None:
        self._initial_plan = initial.plan(
            self.initial, self.population_size - n_created, lambda k: self._random_draw(k, initial.STREAM_INITIAL),
            self.exact_costs, self._objectives, self.constraints, self.hyperparameters.space) or []

    def _first_population_draw(self, n_created: int):
        """The next trial of the first population: from the ``initial`` strategy's plan, else a random draw."""
        if self._initial_plan is None:
            self._plan_first_population(n_created)
        while self._initial_plan:
            values = self._initial_plan.pop(0)
            if not self._duplicate(values):
                return values
        return self._random_draw(n_created)

    def _random_draw(self, n_created: int, stream: int = _STREAM_RANDOM):
        for attempt in range(self._max_collisions + 1):
            seeds = self._rng(n_created, stream, attempt).integers(2**31, size=len(self.hyperparameters.space))
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

    def _parent_pool(self, n_created: int = 0) -> list[str]:
        ids, _, _, viol, order = self._rank()
        s = self.screening
        if s is not None and s.smooth > 0 and len(ids) >= max(2, s.min_trials or self.population_size):
            order = self._smoothed_order(ids, viol, order, n_created)
        return self.selection.pool([ids[i] for i in order], self.population_size)

    def _smoothed_order(self, ids, viol, order, n_created: int):
        """Pareto order of the ranked trials on their surrogate-smoothed metrics (``Screening.smooth``);
        ``order`` (the recorded one) if the surrogate fails: screening never stops the search."""
        history = self._history(ids)
        seed = int(self._rng(n_created, _STREAM_SCREEN, 1).integers(2**31))
        try:
            Y = _screening.smoothed(self.screening, history, self._objectives, self.exact_costs, self._encoder, seed)
        except Exception as e:  # noqa: BLE001
            logger.warning("Smoothing the parents' metrics failed (%s: %s); ranking on the recorded ones.",
                           type(e).__name__, e)
            return order
        F = _pareto.to_minimization(Y, [d for _, d in self._objectives])
        return _pareto.pareto_order(F, np.asarray(viol) if self.constraints else None)

    def _history(self, ids) -> list[tuple[dict, list[float], dict]]:
        """``(values, objective values, reported metrics)`` of trials ``ids``, the screening's input; (re)makes
        the encoder when the space has grown."""
        k = len(self._objectives)
        if self._encoder is None or self._encoder.n_space != len(self.hyperparameters.space):
            self._encoder = _screening.Encoder(self.hyperparameters.space)
        return [(self.trials[t].hyperparameters.values, self._metric_values(self.trials[t])[:k],
                 _values.reported(self.trials[t])) for t in ids]

    def _offspring(self, n_created: int):
        pool = self._parent_pool(n_created)
        self._parent_ids = pool
        wanted = self.screening.candidates if self.screening is not None else 1
        children, keys = [], set()
        if pool:
            for attempt in range(self._max_collisions + wanted):
                rng = self._rng(n_created, _STREAM_EVOLVE, attempt)
                parents = [self.trials[p].hyperparameters.values for p in self.selection.parents(pool, rng)]
                values = breed(parents, self.hyperparameters.space, self.crossover, self.mutation,
                               self.mutation_prob, rng)
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
        history = self._history([t for t, v in zip(ids, viol) if v == 0])
        seed = int(self._rng(n_created, _STREAM_SCREEN, 0).integers(2**31))
        every = self.screening.accurate_every
        return _screening.pick(self.screening, children, history, self._objectives, self.exact_costs,
                               self.constraints, self._encoder, seed, self.population_size,
                               accurate=bool(every) and self._n_offspring % every == 0)

__all__ = ["ParetoOracle", "Constraint", "ConsecutiveFailuresError"]

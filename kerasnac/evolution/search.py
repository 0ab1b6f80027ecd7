"""ParetoSearch: the keras-tuner ``Tuner`` of the Pareto search, as ``RandomSearch`` is to
``RandomSearchOracle``.

It trains one model per trial and returns every objective: the metrics Keras logs, the costs of a
``cost_fn`` (e.g. :func:`kerasnac.costs.evaluate`), and callable objectives computed on validation
arrays. It needs no :class:`kerasnac.KerasNAC`: any keras-tuner ``HyperModel`` (or build function)
works, with the standard ``search(x, y, validation_data=..., epochs=..., callbacks=...)``.

    >>> tuner = ParetoSearch(build_model, objective=["val_accuracy", Objective("params", "min",
    ...                      fn=lambda m: m.count_params())], max_trials=20, population_size=8,
    ...                      directory="runs", project_name="demo")            # doctest: +SKIP
    >>> tuner.search(x, y, validation_data=(xv, yv), epochs=3)               # doctest: +SKIP
    >>> tuner.oracle.pareto_front_ids()                                      # doctest: +SKIP

keras-tuner's own display is switched off by ``verbose=0`` (its "best so far" is a scalar sum,
which is wrong for a Pareto search); :meth:`results_summary` prints the Pareto view instead.
"""

from __future__ import annotations

import gc
import json
import math
import os
import time

from kerasnac import _compile, _rundir, distributed
from kerasnac._keras import keras, kt, tf
from kerasnac.fidelity import RUNG_KEY
from kerasnac.objectives import Objective, check_callables, resolve

from ._values import objective_pairs
from .oracle import ParetoOracle

WEIGHTS_FILE = "model_weights.h5"  # legacy h5 weights only (no optimizer state)
FAILURE_FILE = "failure.txt"  # a worker's failure reason (trial messages do not cross the gRPC wire)
#: arguments of :class:`ParetoOracle` that ParetoSearch passes on when it builds its oracle
ORACLE_ARGS = ("crossover_prob", "mutation_prob", "hyperparameters", "allow_new_entries", "tune_new_entries",
               "max_retries_per_trial", "max_consecutive_failed_trials", "screening", "exact_costs", "fidelity",
               "selection", "crossover", "mutation")


class ParetoSearch(kt.Tuner):
    """Multi-objective architecture search with a :class:`ParetoOracle` (NSGA-II).

    Args:
        hypermodel: a ``kt.HyperModel`` (e.g. a :class:`kerasnac.SearchSpace`) or a build function.
        objective: metric names (``"val_accuracy"``, a cost name such as ``"bops"``),
            ``kt.Objective`` or :class:`kerasnac.Objective` objects; an ``Objective`` with ``fn``
            is computed after training as ``fn(model)`` or ``fn(model, (x_val, y_val))``.
            ``None`` with ``oracle=``: the oracle's objectives.
        max_trials, population_size, constraints, seed: of the :class:`ParetoOracle` built here;
            ``seed`` also seeds each trial's weights (``seed + trial number``).
        oracle: an oracle to use instead of building one (a ``ParetoOracle`` configured by the
            caller, or any ``kt.Oracle``, e.g. ``RandomSearchOracle`` as a baseline).
        cost_fn: ``model -> {metric: value}`` measured on each trained model and reported with the
            training logs, e.g. ``functools.partial(kerasnac.costs.evaluate, input_bits=16)``.
        on_trial_begin, on_trial_end: ``fn(trial)`` (or a list of them) run when a trial begins
            and ends; on a gRPC chief the end hooks run where trials end (in the oracle). They are
            kept in ``trial_begin_hooks``/``trial_end_hooks``.
        **kwargs: the other :class:`ParetoOracle` arguments (``screening``, ``fidelity``,
            ``crossover``, ``mutation``, ``selection``, ``exact_costs``, ...; see
            :data:`ORACLE_ARGS`) when no ``oracle`` is given, and ``kt.Tuner`` arguments
            (``directory``, ``project_name``, ``overwrite``, ...). The project folder must be empty,
            new, or one kerasnac made (it gets kerasnac's marker file); ``overwrite=True`` deletes
            only such a folder, never a user's files.

    ``search(*fit_args, **fit_kwargs)`` takes ``fit``'s arguments; ``callbacks`` are used as given
    in every trial's ``fit`` (with ``TerminateOnNaN``), and ``objective_data=(x_val, y_val)`` gives
    the arrays callable objectives see (default: ``validation_data`` when it is a pair of arrays).
    """

    def __init__(self, hypermodel=None, objective=None, max_trials=10, *, population_size=20, constraints=None,
                 seed=None, oracle=None, cost_fn=None, on_trial_begin=None, on_trial_end=None, **kwargs):
        oracle_kwargs = {k: kwargs.pop(k) for k in ORACLE_ARGS if k in kwargs}
        if oracle is None:
            if objective is None:
                raise ValueError("ParetoSearch needs objective= (e.g. ['val_accuracy', 'params']) or an oracle=.")
            self.objectives = _resolve(objective)
            oracle = ParetoOracle([kt.Objective(o.name, o.direction) for o in self.objectives], max_trials=max_trials,
                                  population_size=population_size, constraints=constraints, seed=seed,
                                  **oracle_kwargs)
        else:
            if oracle_kwargs or constraints is not None:
                raise ValueError(f"{sorted(oracle_kwargs) + (['constraints'] if constraints is not None else [])} "
                                 "configure the oracle ParetoSearch builds; with oracle= give them to that oracle.")
            self.objectives = _resolve(objective if objective is not None else
                                       [kt.Objective(n, d) for n, d in objective_pairs(oracle.objective)])
        if cost_fn is not None and not callable(cost_fn):
            raise TypeError(f"cost_fn must be a callable model -> {{metric: value}}, got {type(cost_fn).__name__}.")
        self.seed = int(seed) if seed is not None else int(getattr(oracle, "seed", 0) or 0)
        self.cost_fn = cost_fn
        self.fidelity = getattr(oracle, "fidelity", None)  # the rung schedule the oracle decides on
        self.trial_begin_hooks, self.trial_end_hooks = _hooks(on_trial_begin), _hooks(on_trial_end)
        self._waiting = False
        self._heartbeat = None
        self._role = distributed.role()
        if self._role != "worker":
            # kerasnac's folder rule instead of keras-tuner's rmtree: overwrite=True removes only a folder
            # kerasnac made (or an empty one), and the search writes only into such a folder
            directory = kwargs.get("directory") or "."
            path = os.path.join(directory, _rundir.check_project_name(kwargs.get("project_name") or "untitled_project"))
            if kwargs.get("overwrite"):
                _rundir.remove(path, directory)
            _rundir.claim(path, "search")
        kwargs["overwrite"] = False
        super().__init__(oracle=oracle, hypermodel=hypermodel, **kwargs)
        if self._role == "worker":
            distributed.configure_worker()
        elif self._role == "chief":
            self._install_chief_hooks()

    def _install_chief_hooks(self):
        """Trials end in the chief's gRPC thread, inside the oracle: run the end hooks there."""
        if getattr(self.oracle, "before_end_trial", False) is None:
            self.oracle.before_end_trial = self._recover_failure_reason
        if getattr(self.oracle, "after_end_trial", False) is None:
            self.oracle.after_end_trial = self._run_end_hooks

    # ------------------------------------------------------------------ keras-tuner hooks
    def _populate_initial_space(self):
        # keras-tuner reloads only when *this* tuner id saved a file; a search started under another
        # id (single process, then chief) must still be reloaded, never restarted over its trials.
        if not self._is_worker() and os.path.isfile(os.path.join(self.project_dir, "oracle.json")):
            self.oracle.reload()
            return
        space = getattr(self.hypermodel, "hyperparameters", None)
        if callable(space):  # a kerasnac.SearchSpace declares its space (with conditions) without building
            self.oracle.update_space(space())
        else:
            super()._populate_initial_space()

    def search(self, *fit_args, **fit_kwargs):
        if self._role == "chief":  # serve the oracle until the search is over; run no trials
            self.serve(verbose=fit_kwargs.get("verbose", 0))
            return
        self._check_callable_objectives(_objective_data(fit_kwargs))
        super().search(*fit_args, **fit_kwargs)

    def serve(self, address: str | None = None, *, verbose=0, on_start=None, watch=None):
        """Be the gRPC chief: serve the oracle to workers until the search is over, running no
        trials (:func:`kerasnac.distributed.serve`; ``address`` overrides keras-tuner's variables)."""
        self._install_chief_hooks()
        self.oracle.verbose = verbose  # keras-tuner's display (a scalar "best")
        self.save()
        distributed.serve(self.oracle, address=address, on_start=on_start, watch=watch)

    def _check_callable_objectives(self, val_arrays):
        """Call each callable objective once on a built (untrained) model of the space: a broken one
        raises a ConfigError here, before any trial trains, instead of failing every trial after training."""
        objs = [o for o in self.objectives if o.kind == "callable"]
        if not objs:
            return
        space = getattr(self.hypermodel, "hyperparameters", None)
        try:
            model = self.hypermodel.build(space() if callable(space) else self.oracle.get_space())
        except Exception:  # noqa: BLE001 - the space's defaults do not build: the trials report their own errors
            keras.backend.clear_session()
            return
        try:
            check_callables(objs, model, val_arrays)
        finally:
            del model
            keras.backend.clear_session()

    def save(self):
        if not self._is_worker():
            self.oracle.save()
        _rundir.atomic_write_text(self._get_tuner_fname(), json.dumps(self.get_state()))

    def pre_create_trial(self):
        if self._waiting:  # the chief answered IDLE: other workers still run the last trials
            time.sleep(distributed.POLL_SECONDS)
        self._waiting = True

    def on_trial_begin(self, trial):
        self._waiting = False
        super().on_trial_begin(trial)
        if self._role == "worker":
            self._heartbeat = distributed.Heartbeat(self.oracle, trial.trial_id).start()
        for hook in self.trial_begin_hooks:
            hook(trial)

    def on_trial_end(self, trial):
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        if self._role == "worker" and trial.message:  # the chief reads it (_recover_failure_reason)
            _rundir.atomic_write_text(os.path.join(self.get_trial_dir(trial.trial_id), FAILURE_FILE), str(trial.message))
        super().on_trial_end(trial)
        self._run_end_hooks(trial)

    def _run_end_hooks(self, trial):
        for hook in self.trial_end_hooks:
            hook(trial)

    def _recover_failure_reason(self, trial):
        """On the chief: a worker's failure message, which the gRPC wire does not carry, from its file."""
        if trial.message is None and str(trial.status) != "COMPLETED":
            path = os.path.join(self.project_dir, f"trial_{trial.trial_id}", FAILURE_FILE)
            if os.path.isfile(path):
                with open(path) as f:
                    trial.message = f.read()

    # ------------------------------------------------------------------ one trial
    def run_trial(self, trial, *fit_args, **fit_kwargs):
        """Build, train (in rungs when the oracle has a ``fidelity``), measure and save one model;
        return every objective, cost and training metric of the trial."""
        kwargs = dict(fit_kwargs)
        val_arrays = _objective_data(kwargs)
        kwargs.pop("objective_data", None)
        epochs = int(kwargs.pop("epochs", 1))
        verbose = kwargs.pop("verbose", 0)
        train_for_seed = kwargs.pop("train_for_seed", None)
        start = time.perf_counter()
        keras.backend.clear_session()
        trial_seed = self.seed + _trial_number(trial.trial_id)
        keras.utils.set_random_seed(trial_seed)
        if train_for_seed is not None:
            # A shuffle's state lives in its dataset and would carry over from the trials this process ran
            # before; a pipeline seeded per trial makes a trial's data order depend on its seed alone.
            fit_args = (train_for_seed(trial_seed),) + tuple(fit_args[1:])
        callbacks = [keras.callbacks.TerminateOnNaN()] + list(kwargs.pop("callbacks", None) or [])
        rungs = self.fidelity.rungs(epochs) if self.fidelity is not None else []
        history: dict[str, list] = {}
        done = 0
        stopped_report = None  # the objectives reported at the rung where the oracle stopped the trial
        try:
            model = self.hypermodel.build(trial.hyperparameters)
            _compile.prepare_first_step(model, fit_args[0] if len(fit_args) == 1 else tuple(fit_args[:2]),
                                        kwargs.get("validation_data"), epochs, kwargs.get("batch_size"))
            for stop_at in rungs + [epochs]:
                h = self.hypermodel.fit(trial.hyperparameters, model, *fit_args, epochs=stop_at, initial_epoch=done,
                                        verbose=verbose, callbacks=callbacks, **kwargs)
                ran = _history(h, stop_at - done)
                for k, v in ran.items():
                    history.setdefault(k, []).extend(v)
                done += len(h.epoch) if hasattr(h, "epoch") else stop_at - done
                if stop_at == epochs or done < stop_at or model.stop_training:
                    break  # full budget, or a callback (EarlyStopping, TerminateOnNaN) stopped training
                report = self._objective_values(model, _last(history), val_arrays)
                if not all(math.isfinite(v) for v in report.values()):
                    break
                status = self.oracle.update_trial(trial.trial_id, {**report, RUNG_KEY: float(done)}, step=done).status
                if status == kt.engine.trial.TrialStatus.STOPPED:
                    stopped_report = report  # not in the best 1/eta of this rung: keep the rung's results
                    break
        except (MemoryError, tf.errors.ResourceExhaustedError) as e:
            keras.backend.clear_session()
            gc.collect()
            first = (str(e).strip().splitlines() or [""])[0][:200]
            raise kt.errors.FailedTrialError(
                f"out of memory in trial {trial.trial_id} ({type(e).__name__}: {first}). Reduce batch_size or the "
                "largest widths/filters of the space, or run fewer workers per node."
            ) from None
        logs = _last(history)
        bad = [k for k, v in logs.items() if not math.isfinite(v)]
        if bad:
            raise kt.errors.FailedTrialError(
                f"{', '.join(bad) or 'loss'} became NaN/inf at epoch {done}: the learning rate "
                "may be too high, or the inputs are not scaled."
            )
        train_seconds = time.perf_counter() - start
        metrics = stopped_report or self._objective_values(model, logs, val_arrays)
        metrics["epochs_trained"] = float(done)
        metrics["train_seconds"] = train_seconds
        missing = [o.name for o in self.objectives if o.name not in metrics]
        if missing:
            raise kt.errors.FailedTrialError(f"objectives {missing} were not produced by training or the cost model.")
        for obj in self.objectives:
            if not math.isfinite(metrics[obj.name]):
                raise kt.errors.FailedTrialError(f"objective {obj.name} is {metrics[obj.name]}.")
        _save_weights_atomic(model, os.path.join(self.get_trial_dir(trial.trial_id), WEIGHTS_FILE))
        # keras-tuner needs its scalar "multi_objective" key; kerasnac never ranks by it.
        metrics["multi_objective"] = float(sum(metrics[o.name] * (1 if o.direction == "min" else -1)
                                               for o in self.objectives))
        return metrics

    def _objective_values(self, model, logs: dict, val_arrays) -> dict:
        """Training logs, every cost of ``cost_fn``, and the callable objectives on the validation arrays."""
        metrics = dict(logs)
        if self.cost_fn is not None:
            metrics.update(self.cost_fn(model))
        for obj in self.objectives:
            if obj.kind == "callable":
                metrics[obj.name] = obj.compute(model, val_arrays)
        return metrics

    # ------------------------------------------------------------------ results
    def results_summary(self, num_trials=10):
        """The best ``num_trials`` trials in Pareto order (feasible first, then rank, then crowding),
        each with its rank and every objective; keras-tuner's summed "Score" is never shown."""
        if not hasattr(self.oracle, "rank_trials"):  # another oracle (e.g. a baseline): keras-tuner's summary
            return super().results_summary(num_trials)
        print(pareto_summary(self.oracle, num_trials))

    def load_model(self, trial):
        model = self.hypermodel.build(trial.hyperparameters)
        model.load_weights(os.path.join(self.get_trial_dir(trial.trial_id), WEIGHTS_FILE))
        return model


def _resolve(objective) -> list[Objective]:
    """kerasnac Objectives from names, ``kt.Objective`` and ``Objective`` objects (directions inferred)."""
    items = [objective] if isinstance(objective, (str, Objective, kt.Objective)) or callable(objective) else objective
    items = [Objective(o.name, o.direction) if isinstance(o, kt.Objective) else o for o in items]
    return resolve(items, [o if isinstance(o, str) else o.name for o in items if isinstance(o, (str, Objective))])


def _hooks(hooks) -> list:
    hooks = [] if hooks is None else list(hooks) if isinstance(hooks, (list, tuple)) else [hooks]
    for hook in hooks:
        if not callable(hook):
            raise TypeError(f"a trial hook must be a callable fn(trial), got {type(hook).__name__}.")
    return hooks


def _objective_data(fit_kwargs: dict):
    """The ``(x_val, y_val)`` arrays callable objectives see: ``objective_data``, else ``validation_data``
    when it is a pair of arrays (not a ``tf.data.Dataset``)."""
    data = fit_kwargs.get("objective_data")
    if data is None:
        val = fit_kwargs.get("validation_data")
        if isinstance(val, (tuple, list)) and len(val) == 2 and not any(hasattr(v, "element_spec") for v in val):
            data = tuple(val)
    return data


def _history(h, n_epochs: int) -> dict:
    """``{metric: [value per epoch]}`` of what ``HyperModel.fit`` returned (a History, or a dict)."""
    if hasattr(h, "history"):
        return h.history
    if isinstance(h, dict):
        return {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in h.items()}
    raise TypeError(f"HyperModel.fit returned {type(h).__name__}; ParetoSearch needs the Keras History (or a dict "
                    "of metrics) to read every objective.")


def _save_weights_atomic(model, path: str) -> None:
    _rundir.atomic_write(path, model.save_weights)  # the temporary name keeps .h5, which selects the h5 format


def _last(history: dict) -> dict:
    return {k: float(v[-1]) for k, v in history.items() if v}


def _trial_number(trial_id: str) -> int:
    try:
        return int(trial_id)
    except ValueError:
        return abs(hash(trial_id)) % 10_000


def pareto_summary(oracle, num_trials: int = 10) -> str:
    """Text of :meth:`ParetoSearch.results_summary` for a :class:`ParetoOracle`."""
    ranks = oracle.rank_trials()
    names = [n for n, _ in oracle.objectives]
    lines = [f"Results summary (Pareto order; {len(ranks)} ranked trials)",
             "Objectives: " + ", ".join(f"{n} ({d})" for n, d in oracle.objectives)
             + (("; constraints: " + ", ".join(str(c) for c in oracle.constraints)) if oracle.constraints else "")]
    for trial in oracle.get_best_trials(num_trials):
        rank = ranks.get(trial.trial_id)
        head = f"Trial {trial.trial_id}: " + (f"Pareto rank {rank[0]}" + (", infeasible" if rank[2] > 0 else "")
                                              if rank else f"not ranked ({trial.status})")
        vals = [f"{n} = {trial.metrics.get_last_value(n):.6g}" for n in names if trial.metrics.exists(n)]
        lines.append(head + ("; " + ", ".join(vals) if vals else ""))
    return "\n".join(lines)


__all__ = ["ParetoSearch", "pareto_summary", "WEIGHTS_FILE", "FAILURE_FILE", "ORACLE_ARGS"]

"""The keras-tuner Tuner that trains one candidate per trial and reports objectives and costs."""

from __future__ import annotations

import gc
import json
import math
import os
import time

from . import _rundir, costs, distributed
from .fidelity import RUNG_KEY
from .objectives import check_callables
from ._keras import keras, kt, tf

WEIGHTS_FILE = "model_weights.h5"  # legacy h5 weights only (no optimizer state)
FAILURE_FILE = "failure.txt"  # a worker's failure reason (trial messages do not cross the gRPC wire)


class NACTuner(kt.Tuner):
    """Trains a trial's model on prepared tf.data pipelines and returns every objective and cost.

    keras-tuner's own display is switched off (its "best so far" is a scalar sum, which is wrong
    for a Pareto search); :class:`kerasnac.KerasNAC` shows its own progress instead.
    """

    def __init__(self, oracle, hypermodel, nac, **kwargs):
        self._nac = nac
        self._waiting = False
        self._heartbeat = None
        self._role = distributed.role()
        super().__init__(oracle=oracle, hypermodel=hypermodel, **kwargs)
        if self._role == "worker":
            distributed.configure_worker()

    def _populate_initial_space(self):
        # keras-tuner reloads only when *this* tuner id saved a file; a search started under another
        # id (single process, then chief) must still be reloaded, never restarted over its trials.
        if not self._is_worker() and os.path.isfile(os.path.join(self.project_dir, "oracle.json")):
            self.oracle.reload()
            return
        # The space declares all hyperparameters (with their conditions) without building models.
        self.oracle.update_space(self.hypermodel.hyperparameters())

    def search(self, *fit_args, **fit_kwargs):
        if self._role == "chief":  # serve the oracle until the search is over; run no trials
            self.oracle.verbose = fit_kwargs.get("verbose", 0)  # keras-tuner's display (a scalar "best")
            self.save()
            distributed.serve(self.oracle)
            return
        self._check_callable_objectives(fit_args[3] if len(fit_args) > 3 else fit_kwargs.get("val_arrays"))
        super().search(*fit_args, **fit_kwargs)

    def _check_callable_objectives(self, val_arrays):
        """Call each callable objective once on a built (untrained) model of the space: a broken one
        raises a ConfigError here, before any trial trains, instead of failing every trial after training."""
        objs = [o for o in self._nac.objectives if o.kind == "callable"]
        if not objs:
            return
        try:
            model = self.hypermodel.build(self.hypermodel.hyperparameters())
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
        _write_text_atomic(self._get_tuner_fname(), json.dumps(self.get_state()))

    def pre_create_trial(self):
        if self._waiting:  # the chief answered IDLE: other workers still run the last trials
            time.sleep(distributed.POLL_SECONDS)
        self._waiting = True

    def on_trial_begin(self, trial):
        self._waiting = False
        super().on_trial_begin(trial)
        if self._role == "worker":
            self._heartbeat = distributed.Heartbeat(self.oracle, trial.trial_id).start()
        self._nac._on_trial_begin(trial)

    def run_trial(self, trial, train, val, epochs, val_arrays, verbose=0, **_):
        nac = self._nac
        start = time.perf_counter()
        keras.backend.clear_session()
        keras.utils.set_random_seed(nac.seed + _trial_number(trial.trial_id))
        callbacks = [keras.callbacks.TerminateOnNaN()] + list(nac.fit_callbacks)
        fidelity = getattr(nac, "fidelity", None)
        rungs = fidelity.rungs(epochs) if fidelity is not None else []
        history: dict[str, list] = {}
        done = 0
        stopped_report = None  # the objectives reported at the rung where the oracle stopped the trial
        try:
            model = self.hypermodel.build(trial.hyperparameters)
            for stop_at in rungs + [epochs]:
                h = model.fit(train, validation_data=val, epochs=stop_at, initial_epoch=done, verbose=0,
                              callbacks=callbacks)
                for k, v in h.history.items():
                    history.setdefault(k, []).extend(v)
                done += len(h.epoch)
                if stop_at == epochs or done < stop_at or model.stop_training:
                    break  # full budget, or a callback (EarlyStopping, TerminateOnNaN) stopped training
                report = self._objective_values(model, _last(history), costs.evaluate(model, extra=nac.cost_names, **nac.cost_options),
                                                val_arrays)
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
        metrics = stopped_report or self._objective_values(model, logs, costs.evaluate(model, extra=nac.cost_names, **nac.cost_options),
                                                           val_arrays)
        metrics["epochs_trained"] = float(done)
        metrics["train_seconds"] = train_seconds
        missing = [o.name for o in nac.objectives if o.name not in metrics]
        if missing:
            raise kt.errors.FailedTrialError(f"objectives {missing} were not produced by training or the cost model.")
        for obj in nac.objectives:
            if not math.isfinite(metrics[obj.name]):
                raise kt.errors.FailedTrialError(f"objective {obj.name} is {metrics[obj.name]}.")
        _save_weights_atomic(model, os.path.join(self.get_trial_dir(trial.trial_id), WEIGHTS_FILE))
        # keras-tuner needs its scalar "multi_objective" key; kerasnac never ranks by it.
        metrics["multi_objective"] = float(sum(metrics[o.name] * (1 if o.direction == "min" else -1)
                                               for o in nac.objectives))
        return metrics

    def _objective_values(self, model, logs: dict, cost: dict, val_arrays) -> dict:
        """Training logs, every cost, and the callable objectives computed on the validation arrays."""
        metrics = dict(logs)
        metrics.update(cost)
        for obj in self._nac.objectives:
            if obj.kind == "callable":
                metrics[obj.name] = obj.compute(model, val_arrays)
        return metrics

    def on_trial_end(self, trial):
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        if self._role == "worker" and trial.message:  # the chief reads it (see KerasNAC)
            _write_text_atomic(os.path.join(self.get_trial_dir(trial.trial_id), FAILURE_FILE), str(trial.message))
        super().on_trial_end(trial)
        self._nac._on_trial_end(trial)

    def results_summary(self, num_trials=10):
        """The best ``num_trials`` trials in Pareto order (feasible first, then rank, then crowding),
        each with its rank and every objective; keras-tuner's summed "Score" is never shown."""
        print(pareto_summary(self.oracle, num_trials))

    def load_model(self, trial):
        model = self.hypermodel.build(trial.hyperparameters)
        model.load_weights(os.path.join(self.get_trial_dir(trial.trial_id), WEIGHTS_FILE))
        return model


_write_text_atomic = _rundir.atomic_write_text


def _save_weights_atomic(model, path: str) -> None:
    tmp = os.path.join(os.path.dirname(path), f".tmp_{os.getpid()}_{os.path.basename(path)}")
    model.save_weights(tmp)  # the .h5 suffix selects the h5 format
    os.replace(tmp, path)


def _last(history: dict) -> dict:
    return {k: float(v[-1]) for k, v in history.items() if v}


def _trial_number(trial_id: str) -> int:
    try:
        return int(trial_id)
    except ValueError:
        return abs(hash(trial_id)) % 10_000


def pareto_summary(oracle, num_trials: int = 10) -> str:
    """Text of :meth:`NACTuner.results_summary` for a :class:`~kerasnac.oracle.ParetoOracle`."""
    ranks = oracle.rank_trials()
    names = [n for n, _ in oracle._objectives]
    lines = [f"Results summary (Pareto order; {len(ranks)} ranked trials)",
             "Objectives: " + ", ".join(f"{n} ({d})" for n, d in oracle._objectives)
             + (("; constraints: " + ", ".join(str(c) for c in oracle.constraints)) if oracle.constraints else "")]
    for trial in oracle.get_best_trials(num_trials):
        rank = ranks.get(trial.trial_id)
        head = f"Trial {trial.trial_id}: " + (f"Pareto rank {rank[0]}" + (", infeasible" if rank[2] > 0 else "")
                                              if rank else f"not ranked ({trial.status})")
        vals = [f"{n} = {trial.metrics.get_last_value(n):.6g}" for n in names if trial.metrics.exists(n)]
        lines.append(head + ("; " + ", ".join(vals) if vals else ""))
    return "\n".join(lines)

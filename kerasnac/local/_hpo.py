"""Training-hyperparameter optimisation of one fixed architecture, on keras-tuner.

Tuned: learning rate (log-uniform), optimizer (Adam, SGD with Nesterov momentum 0.9, RMSprop),
batch size, decoupled weight decay and the schedule (constant, cosine decay, step decay x0.1 at
1/2 and 3/4 of training, reduce-on-plateau). Bad runs stop early by the *median stopping rule*
(Golovin et al. 2017, "Google Vizier"): after ``grace`` epochs, a run whose best validation value
so far is worse than the median of earlier runs at the same epoch is stopped.
"""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np

from .._keras import custom_objects, keep_oracle_seed, keras, kt

OPTIMIZERS = ("adam", "sgd", "rmsprop")
SCHEDULES = ("constant", "cosine", "step", "plateau")


@dataclasses.dataclass
class TrainingSpace:
    """Ranges of the training hyperparameters searched in the local stage."""

    learning_rate: tuple = (1e-4, 1e-2)
    optimizer: tuple = OPTIMIZERS
    batch_size: tuple = (64, 128, 256, 512)
    weight_decay: tuple = (0.0, 1e-5, 1e-4, 1e-3)
    schedule: tuple = SCHEDULES

    def declare(self, hp):
        return {
            "learning_rate": hp.Float("learning_rate", *self.learning_rate, sampling="log"),
            "optimizer": hp.Choice("optimizer", list(self.optimizer)),
            "batch_size": hp.Choice("batch_size", list(self.batch_size)),
            "weight_decay": hp.Choice("weight_decay", list(self.weight_decay)),
            "schedule": hp.Choice("schedule", list(self.schedule)),
        }


def make_optimizer(settings: dict, steps_per_epoch: int, epochs: int):
    lr = settings.get("learning_rate", 1e-3)
    sched = settings.get("schedule", "constant")
    total = max(1, steps_per_epoch * epochs)
    if sched == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=total)
    elif sched == "step":
        lr = keras.optimizers.schedules.PiecewiseConstantDecay([total // 2, (3 * total) // 4], [lr, lr * 0.1, lr * 0.01])
    wd = settings.get("weight_decay") or None
    name = settings.get("optimizer", "adam")
    if name == "sgd":
        return keras.optimizers.SGD(lr, momentum=0.9, nesterov=True, weight_decay=wd)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(lr, weight_decay=wd)
    return keras.optimizers.Adam(lr, weight_decay=wd)


def schedule_callbacks(settings: dict, monitor="val_loss"):
    if settings.get("schedule") == "plateau":
        return [keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5, patience=2, min_lr=1e-6, verbose=0)]
    return []


class MedianStopping(keras.callbacks.Callback):
    """Stop a run whose best value so far is worse than the median of earlier runs at this epoch."""

    def __init__(self, monitor: str, direction: str, curves: list, grace: int = 1):
        super().__init__()
        self.monitor, self.direction, self.curves, self.grace = monitor, direction, curves, grace
        self.curve: list[float] = []
        self.stopped_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        v = float((logs or {}).get(self.monitor, np.nan))
        best = v if not self.curve else (max if self.direction == "max" else min)(self.curve[-1], v)
        self.curve.append(best if math.isfinite(best) else np.nan)
        others = [c[epoch] for c in self.curves if len(c) > epoch and math.isfinite(c[epoch])]
        if epoch + 1 >= self.grace and len(others) >= 2 and math.isfinite(best):
            med = float(np.median(others))
            if (best < med) if self.direction == "max" else (best > med):
                self.stopped_epoch = epoch
                self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.curves.append(self.curve)


class _HPOTuner(kt.Tuner):
    def __init__(self, build_fn, compile_fn, data, epochs, monitor, direction, space, grace, **kw):
        self._build_fn, self._compile_fn, self._data = build_fn, compile_fn, data
        self._epochs, self._monitor, self._direction, self._space, self._grace = epochs, monitor, direction, space, grace
        self.curves: list = []
        self.stopped: dict = {}
        super().__init__(**kw)

    def _populate_initial_space(self):
        hp = kt.HyperParameters()
        self._space.declare(hp)
        self.oracle.update_space(hp)

    def run_trial(self, trial, seed=0, **_):
        settings = self._space.declare(trial.hyperparameters)
        keras.utils.set_random_seed(seed)
        model = self._build_fn()
        train = self._data.train(settings["batch_size"], seed)  # every setting sees the same data order
        steps = int(math.ceil(len(self._data.x) / settings["batch_size"]))
        self._compile_fn(model, make_optimizer(settings, steps, self._epochs))
        stopper = MedianStopping(self._monitor, self._direction, self.curves, grace=self._grace)
        hist = model.fit(train, validation_data=self._data.val(), epochs=self._epochs, verbose=0,
                         callbacks=[stopper, keras.callbacks.TerminateOnNaN()] + schedule_callbacks(settings))
        values = [v for v in hist.history.get(self._monitor, []) if math.isfinite(v)]
        if not values:
            raise kt.errors.FailedTrialError(f"{self._monitor} was never finite (diverged).")
        self.stopped[trial.trial_id] = stopper.stopped_epoch
        best = max(values) if self._direction == "max" else min(values)
        return {self._monitor: float(best), "epochs_run": float(len(hist.epoch))}


def tune_training(build_fn, compile_fn, data, *, epochs: int, trials: int, monitor: str, direction: str,
                  directory: str, seed: int = 0, space: TrainingSpace | None = None, grace: int = 1):
    """Search training settings for the architecture made by ``build_fn()``.

    The keras-tuner state lives in ``directory``; a search found there is resumed (its finished
    trials are kept), never deleted.

    Returns ``(best_settings: dict, trials_table: list[dict])``.
    """
    space = space or TrainingSpace()
    oracle = kt.oracles.RandomSearchOracle(objective=kt.Objective(monitor, direction), max_trials=trials, seed=seed)
    keep_oracle_seed(oracle, seed)
    tuner = _HPOTuner(build_fn, compile_fn, data, epochs, monitor, direction, space, grace, oracle=oracle,
                      directory=os.path.dirname(directory), project_name=os.path.basename(directory), overwrite=False)
    tuner.search(seed=seed, verbose=0)
    rows = []
    for t in tuner.oracle.trials.values():
        row = {"hpo_trial": t.trial_id, "status": str(t.status), **t.hyperparameters.values,
               "stopped_early_at": tuner.stopped.get(t.trial_id)}
        if t.metrics.exists(monitor):
            row[monitor] = t.metrics.get_last_value(monitor)
        rows.append(row)
    best = tuner.oracle.get_best_trials(1)
    if not best or best[0].score is None:
        raise RuntimeError("every training-HPO trial failed; see the HPO table for the reasons.")
    return dict(best[0].hyperparameters.values), rows


def fresh_copy(model):
    """Same architecture, new weights (for retraining from scratch)."""
    with keras.utils.custom_object_scope(custom_objects()):
        return keras.models.clone_model(model)

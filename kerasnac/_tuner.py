"""The keras-tuner Tuner that trains one candidate per trial and reports objectives and costs."""

from __future__ import annotations

import math
import os
import time

from . import costs
from ._keras import keras, kt

WEIGHTS_FILE = "model_weights.h5"  # legacy h5 weights only (no optimizer state)


class NACTuner(kt.Tuner):
    """Trains a trial's model on prepared tf.data pipelines and returns every objective and cost.

    keras-tuner's own display is switched off (its "best so far" is a scalar sum, which is wrong
    for a Pareto search); :class:`kerasnac.KerasNAC` shows its own progress instead.
    """

    def __init__(self, oracle, hypermodel, nac, **kwargs):
        self._nac = nac
        super().__init__(oracle=oracle, hypermodel=hypermodel, **kwargs)

    def _populate_initial_space(self):
        # The space declares all hyperparameters (with their conditions) without building models.
        self.oracle.update_space(self.hypermodel.hyperparameters())

    def run_trial(self, trial, train, val, epochs, val_arrays, verbose=0, **_):
        nac = self._nac
        start = time.perf_counter()
        keras.backend.clear_session()
        keras.utils.set_random_seed(nac.seed + _trial_number(trial.trial_id))
        model = self.hypermodel.build(trial.hyperparameters)
        history = model.fit(train, validation_data=val, epochs=epochs, verbose=0,
                            callbacks=[keras.callbacks.TerminateOnNaN()] + list(nac.fit_callbacks))
        logs = {k: float(v[-1]) for k, v in history.history.items() if v}
        bad = [k for k, v in logs.items() if not math.isfinite(v)]
        if bad:
            raise kt.errors.FailedTrialError(
                f"{', '.join(bad) or 'loss'} became NaN/inf at epoch {len(history.epoch)}: the learning rate "
                "may be too high, or the inputs are not scaled."
            )
        train_seconds = time.perf_counter() - start
        metrics = dict(logs)
        metrics.update(costs.evaluate(model, **nac.cost_options))
        for obj in nac.objectives:
            if obj.kind == "callable":
                metrics[obj.name] = obj.compute(model, val_arrays)
        metrics["epochs_trained"] = float(len(history.epoch))
        metrics["train_seconds"] = train_seconds
        missing = [o.name for o in nac.objectives if o.name not in metrics]
        if missing:
            raise kt.errors.FailedTrialError(f"objectives {missing} were not produced by training or the cost model.")
        for obj in nac.objectives:
            if not math.isfinite(metrics[obj.name]):
                raise kt.errors.FailedTrialError(f"objective {obj.name} is {metrics[obj.name]}.")
        model.save_weights(os.path.join(self.get_trial_dir(trial.trial_id), WEIGHTS_FILE))
        # keras-tuner needs its scalar "multi_objective" key; kerasnac never ranks by it.
        metrics["multi_objective"] = float(sum(metrics[o.name] * (1 if o.direction == "min" else -1)
                                               for o in nac.objectives))
        return metrics

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        self._nac._on_trial_end(trial)

    def load_model(self, trial):
        model = self.hypermodel.build(trial.hyperparameters)
        model.load_weights(os.path.join(self.get_trial_dir(trial.trial_id), WEIGHTS_FILE))
        return model


def _trial_number(trial_id: str) -> int:
    try:
        return int(trial_id)
    except ValueError:
        return abs(hash(trial_id)) % 10_000

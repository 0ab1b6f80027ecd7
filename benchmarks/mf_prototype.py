"""Prototype: multi-fidelity promotion inside kerasnac's NSGA-II (benchmark-only, not in the package).

Successive halving with one rung, inside each trial (asynchronous, ASHA-like, so it needs no change
to the ParetoOracle's generation logic):

1. train the candidate for ``low = max(1, epochs // 2)`` epochs (rung 0) and compute its exact
   BOPs (the cost model needs no training);
2. compare its (rung-0 metric, BOPs) with the rung-0 records of every earlier trial of the run;
   **promote** it to the full ``epochs`` (continuing the same weights, ``initial_epoch=low``) only
   if no earlier rung-0 record dominates it (it may reach the front), or if fewer than
   ``warmup`` trials have been seen;
3. otherwise stop and report the rung-0 metrics (``epochs_trained`` tells which).

The oracle ranks every trial by what it reported, so unpromoted (dominated) trials keep their
low-fidelity, pessimistic metric and rarely become parents. Used by ``search_quality.py`` as the
method ``kerasnac_mf`` (``KerasNAC`` whose tuner's class is swapped for :class:`MFTuner`).
"""

from __future__ import annotations

import math
import os
import time

import numpy as np


def mf_tuner_class():
    from kerasnac import costs
    from kerasnac._keras import keras, kt
    from kerasnac._tuner import WEIGHTS_FILE, NACTuner, _save_weights_atomic, _trial_number

    class MFTuner(NACTuner):
        warmup = 3

        def run_trial(self, trial, train, val, epochs, val_arrays, verbose=0, **_):
            nac = self._nac
            if epochs < 2:
                return super().run_trial(trial, train, val, epochs, val_arrays, verbose=verbose)
            if not hasattr(self, "_rung0"):
                self._rung0 = []
            start = time.perf_counter()
            keras.backend.clear_session()
            keras.utils.set_random_seed(nac.seed + _trial_number(trial.trial_id))
            model = self.hypermodel.build(trial.hyperparameters)
            cbs = [keras.callbacks.TerminateOnNaN()] + list(nac.fit_callbacks)
            low = max(1, epochs // 2)
            h = model.fit(train, validation_data=val, epochs=low, verbose=0, callbacks=cbs)
            hist = {k: list(v) for k, v in h.history.items()}
            cost = costs.evaluate(model, **nac.cost_options)
            metric_obj = next(o for o in nac.objectives if o.kind != "cost")
            cost_obj = next(o for o in nac.objectives if o.kind == "cost")

            def objective_values():
                logs = {k: float(v[-1]) for k, v in hist.items() if v}
                m = metric_obj.compute(model, val_arrays) if metric_obj.kind == "callable" else logs[metric_obj.name]
                return logs, m, (m if metric_obj.direction == "min" else -m), cost[cost_obj.name]

            logs, m, f0, f1 = objective_values()
            promote = len(self._rung0) < self.warmup or not any(
                (a <= f0 and b <= f1) and (a < f0 or b < f1) for a, b in self._rung0)
            self._rung0.append((f0, f1))
            trained = low
            if promote and math.isfinite(f0):
                h2 = model.fit(train, validation_data=val, epochs=epochs, initial_epoch=low, verbose=0, callbacks=cbs)
                for k, v in h2.history.items():
                    hist.setdefault(k, []).extend(v)
                trained = epochs
                logs, m, f0, f1 = objective_values()
            bad = [k for k, v in logs.items() if not math.isfinite(v)]
            if bad:
                raise kt.errors.FailedTrialError(f"{', '.join(bad)} became NaN/inf")
            metrics = dict(logs)
            metrics.update(cost)
            if metric_obj.kind == "callable":
                metrics[metric_obj.name] = m
            metrics["epochs_trained"] = float(trained)
            metrics["promoted"] = float(trained == epochs)
            metrics["train_seconds"] = time.perf_counter() - start
            _save_weights_atomic(model, os.path.join(self.get_trial_dir(trial.trial_id), WEIGHTS_FILE))
            metrics["multi_objective"] = float(sum(metrics[o.name] * (1 if o.direction == "min" else -1)
                                                   for o in nac.objectives))
            return metrics

    return MFTuner


__all__ = ["mf_tuner_class", "np"]

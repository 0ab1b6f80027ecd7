"""Magnitude pruning of QKeras models with TensorFlow Model Optimization (TFMOT).

Which layers are pruned: QKeras ``QDense``, ``QConv1D`` and ``QConv2D`` (and plain Dense/Conv)
implement TFMOT's ``PrunableLayer`` (their ``get_prunable_weights`` returns the kernel), so TFMOT
wraps them with ``prune_low_magnitude``. ``QActivation`` is also a ``PrunableLayer`` but has no
prunable weights, and layers without weights (pooling, reshape, Dot, softmax, ...) are left
unwrapped, so the whole model is cloned with only the weighted layers wrapped. Biases and
batch-norm parameters are not pruned.

Schedules:
* ``"iterative"`` (as in the NAC paper's iterative magnitude pruning): ``steps`` rounds of
  ``ConstantSparsity`` at geometrically increasing sparsity ``1 - (1 - target)^(k/steps)``, each
  followed by fine-tuning; every round is a variant.
* ``"polynomial"``: one ``PolynomialDecay`` run from 0 to ``target`` over the fine-tuning epochs.

Lottery-ticket rewinding (Frankle & Carbin 2019; with rewinding to early weights, Frankle et al.
2020): after each round the surviving weights are reset to the weights the pruning started from,
the mask is frozen, and the network is retrained.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .._keras import custom_objects, keras, tfmot
from .._compile import copy_weights

PRUNABLE = ("QDense", "QConv1D", "QConv2D", "Dense", "Conv1D", "Conv2D")


def is_prunable(layer) -> bool:
    return type(layer).__name__ in PRUNABLE


def kernel_sparsity(model) -> float:
    """Fraction of exactly-zero weights over all kernels of prunable layers."""
    zeros = total = 0
    for layer in model.layers:
        if is_prunable(layer):
            k = layer.get_weights()[0]
            zeros += int(np.sum(k == 0))
            total += k.size
    return zeros / total if total else 0.0


@dataclasses.dataclass
class PruneSettings:
    target_sparsity: float = 0.8
    steps: int = 5
    schedule: str = "iterative"
    epochs_per_step: int = 2
    rewind: bool = False
    frequency: int = 10

    def __post_init__(self):
        if not 0 < self.target_sparsity < 1:
            raise ValueError(f"target_sparsity must be in (0, 1), got {self.target_sparsity}.")
        if self.schedule not in ("iterative", "polynomial"):
            raise ValueError(f"schedule must be 'iterative' or 'polynomial', got {self.schedule!r}.")
        if int(self.steps) < 1 or int(self.epochs_per_step) < 1:
            raise ValueError("steps and epochs_per_step must be >= 1.")

    def sparsities(self) -> list[float]:
        if self.schedule == "polynomial":
            return [self.target_sparsity]
        return [1 - (1 - self.target_sparsity) ** (k / self.steps) for k in range(1, self.steps + 1)]


def _wrap(model, schedule):
    t = tfmot()

    def clone_fn(layer):
        if is_prunable(layer):
            return t.sparsity.keras.prune_low_magnitude(layer.__class__.from_config(layer.get_config()),
                                                        pruning_schedule=schedule)
        return layer.__class__.from_config(layer.get_config())

    with keras.utils.custom_object_scope(custom_objects()):
        wrapped = keras.models.clone_model(model, clone_function=clone_fn)
    for layer in wrapped.layers:
        inner = getattr(layer, "layer", layer)
        src = model.get_layer(inner.name)
        if src.get_weights():
            inner.set_weights(src.get_weights())
    return wrapped


def _strip(wrapped, like):
    stripped = tfmot().sparsity.keras.strip_pruning(wrapped)
    with keras.utils.custom_object_scope(custom_objects()):
        out = keras.models.clone_model(like)
    copy_weights(stripped, out)
    return out


class _FixedMask(keras.callbacks.Callback):
    """Keeps pruned weights at zero while retraining a rewound lottery ticket."""

    def __init__(self, masks):
        super().__init__()
        self.masks = masks

    def on_train_batch_end(self, batch, logs=None):
        for layer, mask in self.masks:
            w = layer.get_weights()
            w[0] = w[0] * mask
            layer.set_weights(w)


def prune(model, compile_fn, train, val, settings: PruneSettings, on_step=None, start: int = 0, current=None):
    """Prune ``model`` (not modified) and yield ``(target_sparsity, stripped_model)`` per round.

    Args:
        compile_fn: ``compile_fn(model)`` compiles a model like the original.
        train, val: tf.data datasets (batched) for fine-tuning and monitoring.
        start, current: resume after round ``start`` whose result is ``current`` (rounds
            ``start + 1, ...`` are yielded).
    """
    t = tfmot()
    current = model if current is None else current
    start_weights = {l.name: l.get_weights() for l in model.layers if is_prunable(l)}
    steps_per_epoch = max(1, int(train.cardinality().numpy())) if hasattr(train, "cardinality") else 100
    for target in settings.sparsities()[start:]:
        epochs = settings.epochs_per_step * (settings.steps if settings.schedule == "polynomial" else 1)
        total = steps_per_epoch * epochs
        # TFMOT first updates the mask at step == frequency; keep it well inside short fine-tunings
        freq = max(1, min(settings.frequency, total // 2))
        if settings.schedule == "polynomial":
            end = max(freq, (int(total * 0.8) // freq) * freq)  # the last mask update lands on end_step
            schedule = t.sparsity.keras.PolynomialDecay(0.0, target, begin_step=0, end_step=end, frequency=freq)
        else:
            schedule = t.sparsity.keras.ConstantSparsity(target, begin_step=0, frequency=freq)
        wrapped = _wrap(current, schedule)
        compile_fn(wrapped)
        wrapped.fit(train, validation_data=val, epochs=epochs, verbose=0,
                    callbacks=[t.sparsity.keras.UpdatePruningStep()])
        pruned = _strip(wrapped, model)
        if settings.rewind:
            masks = []
            for layer in pruned.layers:
                if layer.name in start_weights:
                    w = [np.array(a) for a in start_weights[layer.name]]
                    mask = (layer.get_weights()[0] != 0).astype(w[0].dtype)
                    w[0] = w[0] * mask
                    layer.set_weights(w)
                    masks.append((layer, mask))
            compile_fn(pruned)
            pruned.fit(train, validation_data=val, epochs=epochs, verbose=0, callbacks=[_FixedMask(masks)])
        compile_fn(pruned)
        current = pruned
        yield target, pruned

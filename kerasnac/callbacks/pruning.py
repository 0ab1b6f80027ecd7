"""Pruning as a post-search callback: TFMOT magnitude pruning of QKeras models."""

from __future__ import annotations

import os

from .. import costs
from .._compile import compile_like, evaluate
from .._data import Data as LocalData
from ._prune import PruneSettings, kernel_sparsity, prune
from ._base import Callback, register_callback


@register_callback("pruning")
class Pruning(Callback):
    """TFMOT magnitude pruning of QDense/QConv kernels, then ``strip_pruning``.

    Used as ``LocalSearch(prune=Pruning(...))`` it produces one variant per round; used as a
    callback it prunes each candidate it is given (which must carry ``train_data``) and reports the
    final round's measured sparsity, validation metrics and BOPs.

    Args:
        target_sparsity: final fraction of zero kernel weights (e.g. 0.8).
        steps: rounds of the iterative schedule (sparsity ``1 - (1 - target)^(k/steps)``).
        schedule: ``"iterative"`` (ConstantSparsity rounds, NAC-style) or ``"polynomial"``
            (one PolynomialDecay run).
        epochs_per_step: fine-tuning epochs per round.
        rewind: lottery-ticket rewinding with a frozen mask after each round.
        learning_rate: fine-tuning learning rate (Adam).

    Example:
        >>> p = Pruning(target_sparsity=0.8, steps=5)
        >>> [round(s, 3) for s in p.settings.sparsities()]
        [0.275, 0.475, 0.619, 0.724, 0.8]
    """

    def __init__(self, target_sparsity: float = 0.8, steps: int = 5, schedule: str = "iterative",
                 epochs_per_step: int = 2, rewind: bool = False, learning_rate: float = 1e-3, batch_size: int = 256):
        self.settings = PruneSettings(target_sparsity, steps, schedule, epochs_per_step, rewind)
        self.learning_rate, self.batch_size = learning_rate, batch_size

    def compile_fn(self, ref):
        from .._keras import keras

        return lambda m: compile_like(m, ref, keras.optimizers.Adam(self.learning_rate))

    def variants(self, model, data: LocalData, start: int = 0, current=None):
        """Yield ``(target_sparsity, pruned_model)`` for each round (after round ``start``, whose
        pruned model is ``current``, when resuming)."""
        yield from prune(model, self.compile_fn(model), data.train(self.batch_size), data.val(), self.settings,
                         start=start, current=current)

    def on_candidate(self, candidate):
        if candidate.train_data is None or candidate.validation_data is None:
            raise ValueError("the Pruning callback needs candidate.train_data and validation_data to fine-tune.")
        data = LocalData(*candidate.train_data, *candidate.validation_data, batch_size=self.batch_size)
        last = None
        for _, last in self.variants(candidate.model, data):
            pass
        path = candidate.path("pruned.h5")
        last.save(path)
        out = {"pruned_sparsity": kernel_sparsity(last), "pruned_bops": costs.evaluate(last, ["bops"])["bops"],
               "pruned_model_path": os.path.abspath(path)}
        out.update({f"pruned_{k}": v for k, v in evaluate(last, data.val()).items()})
        return out

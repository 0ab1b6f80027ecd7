"""Post-search callbacks: a small base class with hooks, and a registry.

A callback sees every *candidate* model that comes out of the search (the global front, and each
compressed variant of the local stage) through :meth:`Callback.on_candidate`, and the whole search
once at the end through :meth:`Callback.on_search_end`. What ``on_candidate`` returns is merged
into that candidate's row of the results table, so a new callback adds columns without touching
the core::

    @register_callback("param_count")
    class ParamCount(Callback):
        def on_candidate(self, candidate):
            return {"n_params": candidate.model.count_params()}

A callback that raises for one candidate does not stop the others: the pipeline records
``<name>_error`` in that candidate's row.

A callback that builds firmware says which with :attr:`Callback.cost_strategy`; ``KerasNAC`` then
computes the search's hardware costs for that firmware (its ``cost_options["strategy"]``) unless
``cost_options`` sets a strategy itself::

    class MyRTL(Callback):
        cost_strategy = "distributed_arithmetic"   # or "latency", "resource"
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from .._registry import ClassRegistry

_CALLBACKS = ClassRegistry(lambda: Callback, "name", "callback")


def register_callback(name: str):
    """Class decorator registering a :class:`Callback` subclass under ``name``."""
    return _CALLBACKS.register(name)


def available_callbacks() -> list[str]:
    return _CALLBACKS.names()


def get_callback(name: str, **kwargs) -> "Callback":
    if name not in _CALLBACKS:
        raise ValueError(f"unknown callback {name!r}; known: {', '.join(available_callbacks())}.")
    return _CALLBACKS[name](**kwargs)


@dataclasses.dataclass
class Candidate:
    """A trained model handed to callbacks, with where it came from.

    Attributes:
        model: the compiled tf_keras (QKeras) model.
        candidate_id: unique, filesystem-safe id, e.g. ``"t07_q8-3_s80"``.
        lineage: where it came from, e.g. ``{"trial_id": "07", "stage": "pruned", "bits": "8,3",
            "sparsity": 0.8}``.
        task: ``"classification"`` or ``"regression"``.
        validation_data: ``(x_val, y_val)`` numpy arrays (a sample is enough for checks).
        train_data: ``(x, y)`` numpy arrays, for callbacks that fine-tune (e.g. pruning).
        output_dir: a directory reserved for this candidate's files.
        metrics: what is known so far (accuracy, BOPs, ...), read-only for callbacks.
    """

    model: Any
    candidate_id: str
    lineage: dict
    task: str = "classification"
    validation_data: tuple | None = None
    output_dir: str = "."
    metrics: dict = dataclasses.field(default_factory=dict)
    train_data: tuple | None = None

    def path(self, *parts: str) -> str:
        os.makedirs(self.output_dir, exist_ok=True)
        return os.path.join(self.output_dir, *parts)


class Callback:
    """Base class of post-search callbacks. Override the hooks you need."""

    name: str = "callback"
    #: the hls4ml strategy of the firmware this callback builds (``"latency"``, ``"resource"`` or
    #: ``"distributed_arithmetic"``), or ``None`` (it builds none). ``KerasNAC`` takes
    #: ``cost_options["strategy"]`` from its post-search callbacks when ``cost_options`` has none, so
    #: that the search ranks by the firmware that is built; callbacks that disagree are a ConfigError.
    cost_strategy: str | None = None

    def on_candidate(self, candidate: Candidate) -> dict | None:
        """Called for every candidate model; return columns to add to its results row."""
        return None

    def on_search_end(self, nac) -> None:
        """Called once with the :class:`kerasnac.KerasNAC` object after all stages ran."""

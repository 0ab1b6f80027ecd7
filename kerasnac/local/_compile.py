"""Compiling a copy of a model like the original (same loss and metrics, new optimizer)."""

from __future__ import annotations

from .._keras import keras


def compile_like(model, ref, optimizer=None):
    metrics = getattr(getattr(ref, "compiled_metrics", None), "_user_metrics", None)
    if not metrics:
        metrics = ["accuracy"] if "crossentropy" in str(getattr(ref, "loss", "")) else ["mae"]
    model.compile(optimizer=optimizer or keras.optimizers.Adam(1e-3), loss=ref.loss, metrics=metrics)
    return model


def evaluate(model, val) -> dict:
    """Validation metrics of a compiled model as ``{"val_<name>": value}``."""
    out = model.evaluate(val, verbose=0, return_dict=True)
    return {f"val_{k}": float(v) for k, v in out.items()}

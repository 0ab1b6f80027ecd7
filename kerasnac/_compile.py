"""Model utilities shared by the local stage and the post-search callbacks: compile a copy like the
original (same loss and metrics, new optimizer), evaluate it, copy weights between variants."""

from __future__ import annotations

from ._keras import keras


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


def copy_weights(src, dst) -> int:
    """Copy weights layer by layer (matched by name and shapes); return how many layers got them."""
    n = 0
    for layer in dst.layers:
        try:
            other = src.get_layer(layer.name)
        except ValueError:
            continue
        w = other.get_weights()
        if w and [a.shape for a in w] == [b.shape for b in layer.get_weights()]:
            layer.set_weights(w)
            n += 1
    return n

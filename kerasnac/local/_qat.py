"""Quantization-aware re-instantiation of a trained QKeras model at other bit widths.

:func:`requantize` rewrites the model's config (kernel/bias quantizers of QDense/QConv layers,
QActivation quantizers, and float ``Activation`` layers that QKeras can quantize) and copies the
trained weights into the new model, so QAT fine-tuning starts from the trained network. It works
for any tf_keras model of QKeras layers, not only those built from a :class:`SearchSpace`.
The output softmax (and any layer named in ``keep``) stays float, as hls4ml implements it with
lookup tables.
"""

from __future__ import annotations

import copy

from .._compile import copy_weights  # noqa: F401  (re-exported)
from .._keras import custom_objects, keras
from ..space.names import HEAD_SOFTMAX

_WEIGHTED = ("QDense", "QConv1D", "QConv2D", "Dense", "Conv1D", "Conv2D")
_QUANTIZABLE_ACTS = {"relu": "quantized_relu({b},{i})", "tanh": "quantized_tanh({b})",
                     "sigmoid": "quantized_sigmoid({b})", "linear": None}


def _bits_q(bits: int, integer: int) -> dict:
    return {"class_name": "quantized_bits", "module": "qkeras.quantizers", "registered_name": "quantized_bits",
            "config": {"bits": int(bits), "integer": int(min(integer, bits - 1)), "symmetric": 0, "alpha": 1,
                       "keep_negative": True, "use_stochastic_rounding": False, "qnoise_factor": 1.0}}


def _act_q(act: str, bits: int, integer: int) -> str | None:
    integer = min(integer, bits - 1)
    if act.startswith("quantized_relu"):
        slope = ",negative_slope=0.125" if "negative_slope" in act else ""
        return f"quantized_relu({bits},{integer}{slope})"
    if act.startswith("quantized_tanh"):
        return f"quantized_tanh({bits})"
    if act.startswith("quantized_sigmoid"):
        return f"quantized_sigmoid({bits})"
    if act.startswith("quantized_bits"):
        return f"quantized_bits({bits},{integer},alpha=1)"
    tpl = _QUANTIZABLE_ACTS.get(act)
    return tpl.format(b=bits, i=integer) if tpl else None


def parse_bits(bits) -> tuple[int, int]:
    """``(total, integer)`` from a tuple, ``"8,3"`` or an int (integer bits 0)."""
    if isinstance(bits, int):
        return bits, 0
    if isinstance(bits, str):
        parts = [int(p) for p in bits.replace(" ", "").split(",")]
        return (parts[0], parts[1] if len(parts) > 1 else 0)
    total, integer = bits
    if not 1 <= int(total) <= 32 or not 0 <= int(integer) < int(total):
        raise ValueError(f"bits {bits!r}: need 1 <= total <= 32 and 0 <= integer < total.")
    return int(total), int(integer)


def requantize(model, bits, activation_bits=None, keep=(HEAD_SOFTMAX,)):
    """A copy of ``model`` with every weight and activation quantizer set to ``bits``.

    Args:
        model: trained tf_keras model of QKeras (or plain Dense/Conv) layers.
        bits: ``(total, integer)`` for weights and biases, e.g. ``(8, 3)``.
        activation_bits: ``(total, integer)`` for activations; default: same as ``bits``.
        keep: layer names left unchanged.

    Returns:
        a new compiled-less model with the trained weights copied in.
    """
    wb, wi = parse_bits(bits)
    ab, ai = parse_bits(activation_bits) if activation_bits is not None else (wb, wi)
    config = copy.deepcopy(model.get_config())
    for layer in config["layers"]:
        cls, cfg = layer["class_name"], layer["config"]
        original = cls
        if cfg.get("name") in keep:
            continue
        if cls in _WEIGHTED:
            if not cls.startswith("Q"):
                layer["class_name"] = cls = "Q" + cls
            cfg["kernel_quantizer"] = _bits_q(wb, wi)
            cfg["bias_quantizer"] = _bits_q(wb, wi)
        elif cls == "QActivation" or (cls == "Activation" and cfg.get("activation") in _QUANTIZABLE_ACTS):
            act = cfg["activation"] if isinstance(cfg["activation"], str) else cfg["activation"]["class_name"]
            q = _act_q(act, ab, ai)
            if q is not None:
                layer["class_name"] = "QActivation"
                cfg["activation"] = q
        elif cls == "LeakyReLU":
            layer["class_name"] = "QActivation"
            layer["config"] = {"name": cfg["name"], "trainable": True, "dtype": cfg.get("dtype", "float32"),
                               "activation": f"quantized_relu({ab},{min(ai, ab - 1)},negative_slope=0.125)"}
        if layer["class_name"] != original:  # now a QKeras class: resolved through custom objects
            layer.pop("module", None)
            layer.pop("registered_name", None)
    with keras.utils.custom_object_scope(custom_objects()):
        new = keras.Model.from_config(config)
    copy_weights(model, new)
    return new

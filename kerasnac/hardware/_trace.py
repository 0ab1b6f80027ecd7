"""Trace a tf_keras/QKeras model into a da4ml fixed-point graph (distributed arithmetic).

da4ml (arXiv 2507.04535) turns every constant-matrix-vector product of the graph into an adder
graph with common-subexpression elimination; :func:`trace` builds that graph from the model's
quantized layers and returns a :class:`Traced` (``.comb`` is da4ml's ``CombLogic``, with ``.cost``
in LUT-equivalents and ``.latency`` in adder delays). The graph computes, bit for bit, what the
Keras model computes on inputs already on the input grid (see :func:`quantize_inputs`):

* kernels and biases are the values of the layers' QKeras quantizers (the exact quantized numbers);
* ``quantized_relu(b, i)`` is relu, round half to even (QKeras rounds with ``tf.round``; hls4ml
  calls it ``AP_RND_CONV``) to ``b - i`` fractional bits, and saturation at ``2**i - 2**(i-b)``;
  ``quantized_bits(b, i)`` as an activation is the signed version with ``b - 1 - i`` fractional bits;
* sums and pooling are exact (average pooling multiplies by ``1/k``, exact for ``k`` a power of 2).

Approximations (so Keras and the graph can differ slightly): float weights and float activations
use hls4ml's default precision ``ap_fixed<16,6>`` (10 fractional bits); a BatchNormalization is a
per-channel scale and shift on that grid (as hls4ml does when it cannot fold it into the kernel).
A softmax at the output is left out: the hardware outputs the logits (the argmax is unchanged).

This module is written here because da4ml 0.6 ships tracer plugins for HGQ2/Keras 3 models only,
not for tf_keras QKeras layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kerasnac._keras import keras
from ..errors import UnsupportedLayerError  # noqa: F401  (defined with every error class)

L = keras.layers
#: hls4ml's default precision ap_fixed<16,6>: sign, 5 integer and 10 fractional bits (da4ml k, i, f)
DEFAULT_KIF = (1, 5, 10)
#: fractional bits of float weights, float activations and BatchNormalization scale/shift
FLOAT_FRAC_BITS = 10

SUPPORTED = ("InputLayer; QDense/Dense (also on sets, (N, F) inputs); QConv1D/QConv2D/Conv1D/Conv2D "
             "(strides, 'same'/'valid' padding, no dilation or groups); BatchNormalization; "
             "QActivation(quantized_relu / quantized_bits) and relu/linear activations; "
             "Max/AveragePooling1D/2D ('valid'); GlobalMax/GlobalAveragePooling1D/2D; Flatten; Reshape; "
             "Dropout; Add; Concatenate; a softmax at the output (left out: the hardware outputs logits)")




def _unsupported(layer, what: str = ""):
    detail = f" ({what})" if what else ""
    return UnsupportedLayerError(
        f"da4ml tracing: layer {layer.name!r} of class {type(layer).__name__}{detail} is not supported. "
        f"Supported: {SUPPORTED}.")


def _da4ml():
    try:
        import da4ml.trace as dt  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("the da4ml costs and RTL need the da4ml package: pip install 'kerasnac[da]' "
                          "(or pip install da4ml==0.6.0)") from exc
    return dt


@dataclass
class Traced:
    """A traced model: da4ml input/output variable arrays and the combinational graph ``comb``."""

    inputs: object
    outputs: object
    comb: object
    output_layer: str          # the Keras layer whose output the graph computes
    input_kif: tuple

    @property
    def cost(self) -> float:
        return float(self.comb.cost)

    @property
    def depth(self) -> float:
        return float(self.comb.latency[1])


# ------------------------------------------------------------------------------ numerics

def _fixed(values, frac_bits: int = FLOAT_FRAC_BITS) -> np.ndarray:
    """Float numbers rounded to the ``2**-frac_bits`` grid (float weights at hls4ml's default precision)."""
    return np.round(np.asarray(values, np.float64) * 2.0 ** frac_bits) / 2.0 ** frac_bits


def quantize_inputs(x, kif=DEFAULT_KIF) -> np.ndarray:
    """``x`` on the input grid of ``kif`` = (sign, integer, fractional bits): truncated, saturated."""
    k, i, f = kif
    step = 2.0 ** -f
    lo, hi = (-(2.0 ** i) if k else 0.0), 2.0 ** i - step
    return np.clip(np.floor(np.asarray(x, np.float64) / step) * step, lo, hi).astype(np.float32)


def _round_half_even(x, f_out: int):
    """Add the offset that makes truncation to ``f_out`` fractional bits round half to even.

    ``RHE(y) = floor(y + 1/2 - u + b*u)`` with ``u`` the input's LSB and ``b`` the bit of ``y`` at
    the output's LSB (1: odd, a tie rounds up; 0: even, a tie rounds down). da4ml rounds half up only.
    """
    out = []
    for v in np.ravel(x._vars):
        f_in = int(v.kif[2])
        if f_in <= f_out:
            out.append(v)
            continue
        ulp = 2.0 ** -f_in
        bit = v.quantize(0, 1 - f_out, f_out, "WRAP", "TRN") * 2.0 ** (f_out - f_in)
        out.append(v + (2.0 ** -(f_out + 1) - ulp) + bit)
    return type(x)(np.array(out, dtype=object).reshape(x.shape), x.solver_options, hwconf=x.hwconf)


def _qrelu(x, bits: int, integer: int):
    x = x.relu()
    f = bits - integer
    return _round_half_even(x, f).quantize(0, integer, f, "SAT", "TRN")


def _qbits(x, bits: int, integer: int):
    f = bits - 1 - integer
    return _round_half_even(x, f).quantize(1, integer, f, "SAT", "TRN")


def _apply_activation(x, act, layer):
    """A layer's activation: a QKeras quantizer object, a Keras function/string, or None."""
    name = act if isinstance(act, str) else (getattr(act, "__name__", None) or type(act).__name__)
    if act is None or name == "linear":
        return x
    if name == "quantized_relu":
        if float(getattr(act, "negative_slope", 0.0)) != 0.0 or getattr(act, "use_sigmoid", 0):
            raise _unsupported(layer, "quantized_relu with negative_slope or use_sigmoid")
        return _qrelu(x, int(act.bits), int(act.integer))
    if name == "quantized_bits":
        if float(getattr(act, "alpha", 1) or 1) != 1.0 or getattr(act, "symmetric", 0) or not act.keep_negative:
            raise _unsupported(layer, "quantized_bits activation other than alpha=1, symmetric=0, keep_negative")
        return _qbits(x, int(act.bits), int(act.integer))
    if name == "relu":
        k, i, f = DEFAULT_KIF
        return x.relu().quantize(0, i, f, "SAT", "TRN")
    raise _unsupported(layer, f"activation {name!r}")


def _weights(layer, var, quantizer_attr: str) -> np.ndarray:
    q = getattr(layer, quantizer_attr, None)
    if q is None:
        return _fixed(var.numpy())
    alpha = getattr(q, "alpha", None)
    if isinstance(alpha, str) and alpha != "auto_po2":
        raise _unsupported(layer, f"{quantizer_attr} with alpha={alpha!r} (a float scale); use alpha=1 or 'auto_po2'")
    return np.asarray(q(var).numpy(), np.float64)


def _kernel_bias(layer):
    w = _weights(layer, layer.kernel, "kernel_quantizer_internal")
    b = None
    if getattr(layer, "use_bias", False) and layer.bias is not None:
        b = _weights(layer, layer.bias, "bias_quantizer_internal")
    return w, b


# ------------------------------------------------------------------------------ layers

def _dense(layer, x):
    w, b = _kernel_bias(layer)
    y = x @ w
    if b is not None:
        y = y + b
    return _apply_activation(y, layer.activation, layer)


def _same_pad(n: int, k: int, s: int) -> tuple[int, int]:
    total = max((math.ceil(n / s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _conv(layer, x, zero):
    if layer.data_format != "channels_last" or any(int(d) != 1 for d in np.ravel(layer.dilation_rate)) \
            or int(getattr(layer, "groups", 1)) != 1:
        raise _unsupported(layer, "only channels_last, dilation 1, groups 1")
    w, b = _kernel_bias(layer)
    ks, strides = tuple(w.shape[:-2]), tuple(int(s) for s in layer.strides)
    arr = np.asarray(x._vars, dtype=object)
    if layer.padding == "same":
        pads = [_same_pad(arr.shape[d], ks[d], strides[d]) for d in range(len(ks))] + [(0, 0)]
        arr = np.pad(arr, pads, mode="constant", constant_values=zero)
    elif layer.padding != "valid":
        raise _unsupported(layer, f"padding {layer.padding!r}")
    out_sp = [(arr.shape[d] - ks[d]) // strides[d] + 1 for d in range(len(ks))]
    patches = []
    for pos in np.ndindex(*out_sp):
        sl = tuple(slice(p * s, p * s + k) for p, s, k in zip(pos, strides, ks))
        patches.append(arr[sl].reshape(-1))
    cols = type(x)(np.array(patches, dtype=object).reshape(*out_sp, -1), x.solver_options, hwconf=x.hwconf)
    y = cols @ w.reshape(-1, w.shape[-1])
    if b is not None:
        y = y + b
    return _apply_activation(y, layer.activation, layer)


def _batchnorm(layer, x):
    axis = layer.axis[0] if isinstance(layer.axis, (list, tuple)) else layer.axis
    if axis not in (-1, len(x.shape)):
        raise _unsupported(layer, "BatchNormalization over an axis other than the last")
    gamma = layer.gamma.numpy() if layer.scale else 1.0
    beta = layer.beta.numpy() if layer.center else 0.0
    inv = gamma / np.sqrt(layer.moving_variance.numpy().astype(np.float64) + layer.epsilon)
    scale = _fixed(np.broadcast_to(inv, (x.shape[-1],)))
    shift = _fixed(np.broadcast_to(beta - layer.moving_mean.numpy() * inv, (x.shape[-1],)))
    # as a diagonal constant matrix: da4ml 0.6's element-wise constant product overflowed in its
    # interpreter here (off by 2**10 on some inputs), its matrix path is exact
    return x @ np.diag(scale) + shift


def _pool(layer, x, kind: str):
    if layer.padding != "valid" or tuple(layer.strides) != tuple(layer.pool_size):
        raise _unsupported(layer, "pooling needs padding='valid' and strides == pool_size")
    ps = tuple(int(p) for p in layer.pool_size)
    arr = np.asarray(x._vars, dtype=object)
    out_sp = [arr.shape[d] // ps[d] for d in range(len(ps))]
    out = np.empty((*out_sp, arr.shape[-1]), dtype=object)
    for pos in np.ndindex(*out_sp):
        win = arr[tuple(slice(p * k, (p + 1) * k) for p, k in zip(pos, ps))].reshape(-1, arr.shape[-1])
        out[pos] = _reduce(win, kind)
    return type(x)(out, x.solver_options, hwconf=x.hwconf)


def _reduce(win: np.ndarray, kind: str) -> np.ndarray:
    """Max or mean over the rows of ``win`` (an object array of FixedVariables), per column."""
    acc = list(win[0])
    for row in win[1:]:
        acc = [a.max_of(r) if kind == "max" else a + r for a, r in zip(acc, row)]
    if kind == "mean":
        n = len(win)
        if n & (n - 1) == 0:  # a power of 2: a shift
            acc = [a * (1.0 / n) for a in acc]
        else:  # through the matrix path (see _batchnorm)
            from da4ml.trace import FixedVariableArray

            acc = list(np.ravel((FixedVariableArray(np.array(acc, dtype=object)) @ (np.eye(len(acc)) / n))._vars))
    return np.array(acc, dtype=object)


def _global_pool(layer, x, kind: str):
    if getattr(layer, "data_format", "channels_last") != "channels_last" or getattr(layer, "keepdims", False):
        raise _unsupported(layer, "global pooling needs channels_last and keepdims=False")
    arr = np.asarray(x._vars, dtype=object).reshape(-1, x.shape[-1])
    return type(x)(_reduce(arr, kind), x.solver_options, hwconf=x.hwconf)


def _is_softmax(layer) -> bool:
    if isinstance(layer, L.Softmax):
        return True
    act = getattr(layer, "activation", None)
    return isinstance(layer, L.Activation) and getattr(act, "__name__", act) == "softmax"


def _inbound(layer) -> list:
    import tensorflow as tf

    node = layer._inbound_nodes[0]  # noqa: SLF001 - the functional graph (tf_keras keeps no public API)
    return tf.nest.flatten(node.inbound_layers)


def _apply(layer, ins: list, zero):
    from kerasnac._keras import qkeras

    x = ins[0]
    if isinstance(layer, L.Dense):
        return _dense(layer, x)
    if isinstance(layer, (L.Conv1D, L.Conv2D)) and not isinstance(layer, (L.Conv2DTranspose, L.SeparableConv2D,
                                                                          L.DepthwiseConv2D)):
        return _conv(layer, x, zero)
    if isinstance(layer, L.BatchNormalization):
        return _batchnorm(layer, x)
    if isinstance(layer, qkeras.QActivation):
        return _apply_activation(x, layer.quantizer if layer.quantizer is not None else layer.activation, layer)
    if isinstance(layer, L.Activation):
        return _apply_activation(x, layer.activation, layer)
    if isinstance(layer, L.ReLU) and layer.max_value is None and float(layer.negative_slope) == 0.0 \
            and float(layer.threshold) == 0.0:
        return _apply_activation(x, "relu", layer)
    for cls, kind in ((L.MaxPooling1D, "max"), (L.MaxPooling2D, "max"), (L.AveragePooling1D, "mean"),
                      (L.AveragePooling2D, "mean")):
        if isinstance(layer, cls):
            return _pool(layer, x, kind)
    for cls, kind in ((L.GlobalMaxPooling1D, "max"), (L.GlobalMaxPooling2D, "max"),
                      (L.GlobalAveragePooling1D, "mean"), (L.GlobalAveragePooling2D, "mean")):
        if isinstance(layer, cls):
            return _global_pool(layer, x, kind)
    if isinstance(layer, L.Flatten):
        return x.reshape(-1)
    if isinstance(layer, L.Reshape):
        return x.reshape(tuple(int(d) for d in layer.target_shape))
    if isinstance(layer, (L.Dropout, L.GaussianNoise, L.GaussianDropout, L.ActivityRegularization)):
        return x
    if isinstance(layer, L.Add):
        out = ins[0]
        for other in ins[1:]:
            out = out + other
        return out
    if isinstance(layer, L.Concatenate):
        axis = layer.axis if layer.axis < 0 else layer.axis - 1
        arr = np.concatenate([np.asarray(v._vars, dtype=object) for v in ins], axis=axis)
        return type(x)(arr, x.solver_options, hwconf=x.hwconf)
    raise _unsupported(layer)


def trace(model, input_kif=DEFAULT_KIF, solver_options: dict | None = None) -> Traced:
    """Trace ``model`` (one input) into da4ml; raises :class:`UnsupportedLayerError` naming the layer.

    ``input_kif``: (sign, integer, fractional) bits of the input, default ``ap_fixed<16,6>``.
    """
    dt = _da4ml()
    from da4ml.trace.fixed_variable import FixedVariable

    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UnsupportedLayerError(f"da4ml tracing needs a model with one input and one output; "
                                    f"{model.name!r} has {len(model.inputs)} and {len(model.outputs)}.")
    k, i, f = (int(v) for v in input_kif)
    hw = dt.HWConfig(1, -1, -1)
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    x0 = dt.FixedVariableArray.from_kif(np.full(shape, k, np.int8), np.full(shape, i, np.int8),
                                        np.full(shape, f, np.int8), hw, solver_options=solver_options)
    zero = FixedVariable.from_const(0.0, hw)
    out_layer = model.outputs[0]._keras_history.layer  # noqa: SLF001
    values, source = {}, {}
    for layer in model.layers:
        if isinstance(layer, L.InputLayer):
            values[layer.name], source[layer.name] = x0, layer.name
            continue
        ins = _inbound(layer)
        if layer is out_layer and _is_softmax(layer):
            values[layer.name], source[layer.name] = values[ins[0].name], source[ins[0].name]
            continue
        values[layer.name] = _apply(layer, [values[p.name] for p in ins], zero)
        source[layer.name] = layer.name
    out = values[out_layer.name]
    comb = dt.comb_trace(x0, out)
    return Traced(x0, out, comb, source[out_layer.name], (k, i, f))

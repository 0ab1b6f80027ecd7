"""hls4ml configuration of a QKeras model: precisions derived from the model, its quantizers and data.

What hls4ml 1.3 already does right for QKeras layers (``config_from_keras_model`` +
``InferPrecisionTypes``), and kerasnac keeps:

* ``QDense``/``QConv``: weight and bias types come from ``kernel_quantizer``/``bias_quantizer``
  (``quantized_bits(b, i, alpha=1)`` -> ``ap_fixed<b, i+1>``; kerasnac makes them round and
  saturate like QKeras, see :func:`round_like_qkeras`); accumulator and result are ``auto``,
  inferred *lossless* (``w_x + w_w + ceil(log2 fan_in)`` bits), exactly what QKeras computes in float.
* ``QActivation``: the result type is the quantizer's (``quantized_relu(8,2)`` ->
  ``ap_ufixed<8,2,AP_RND_CONV,AP_SAT>``, the same round-half-even and clipping as QKeras).
* ``Add``, ``Reshape``/``Flatten``, ``MaxPooling``: lossless inference (``AveragePooling``: see below).

What kerasnac sets because hls4ml's default (``ap_fixed<16,6>`` for anything not inferred) would be
wrong or wasteful:

* **Model inputs** are float in Keras. ``input_precision="auto"`` derives the type from the data:
  ``I = 1 + max(0, ceil(log2 max|x|) + 1)`` integer bits (sign, magnitude and one bit of headroom
  over the largest value seen in ``validation_data``), total width ``max(input_bits, I + 8)``,
  rounding to nearest and saturation (``ap_fixed<W,I,AP_RND_CONV,AP_SAT>``). E.g. standardized
  features with max|x| = 3.2 give ``ap_fixed<16,4,...>`` (12 fractional bits), not ``<16,6>``.
* **Float weights** (a layer without quantizer, e.g. the float baseline, or a ``BatchNormalization``
  after a quantized layer, which hls4ml cannot fuse into quantized weights): ``float_bits`` wide,
  with just enough integer bits for the largest value (``floor(log2 max|w|) + 2``), instead of
  ``<16,6>`` whose 10 fractional bits lose small BN scales.
* **Softmax** (the classification head, and the attention map of ``conv_attn``): the stable
  implementation looks ``exp(x_max - x_i)`` up in a table addressed by the top
  ``log2(table_size)`` bits of ``inp_norm_t``. hls4ml derives ``inp_norm_t`` from the input type,
  e.g. ``ap_ufixed<20,7>`` for a lossless logit: a step of 1/8, so logits closer than 0.125 tie and
  the label flips (82% agreement on a small test MLP). kerasnac uses ``ap_ufixed<10,3,RND,SAT>``
  (differences 0..8 in steps of 1/128; beyond 8, exp < 3.4e-4 is saturated), exponentials in
  ``ap_ufixed<18,1>`` (values in (0, 1]), sums and the inverse-table address in
  ``ap_ufixed<18+L, 1+L>`` with ``L = ceil(log2 n)`` (a sum of n exponentials lies in [1, n]),
  inverse in ``ap_ufixed<18,1>`` and probabilities in ``ap_ufixed<16,0,RND,SAT>``.
* **Global average/max pooling** (Deep Sets aggregation) and **Einsum** (``Dot`` of the attention)
  are not inferred by hls4ml 1.3; after a first conversion, when the input types are known, they get
  lossless types: mean over n -> ``<W + L, I>`` with ``L = ceil(log2 n)`` and an accumulator of
  ``<W + 2L, I + L>`` (hls4ml divides in the accumulator); max -> the input type; *average*
  ``Pooling1D/2D`` get the same (hls4ml gives their mean the input type, dropping ``L`` fraction
  bits); Einsum over c terms ->
  ``<W0 + W1 + ceil(log2 c), I0 + I1 + ceil(log2 c)>``.
* **Weights cast from float data in C++** (layers without a quantizer, and a Dense/Conv into which
  hls4ml's ``FuseBatchNormalization`` folded a ``BatchNormalization``): after the first conversion,
  a weight or bias whose actual data does not fit its type exactly (it would round or saturate) gets
  ``value_precision`` of that data (``max(float_bits, width)`` bits, integer bits for the largest
  value). Without this, the fused ``scale * Q(w)`` of a QDense on a set (Deep Sets phi, see
  ``_hls_layers``) kept the QDense's ``ap_fixed<12,1>``: fused weights above 1 saturated (csim
  agreement 0.62 on a 12-bit jets Deep Sets model).
* **Leaky quantized ReLU** (``quantized_relu(b, i, negative_slope=s)``, hls4ml's ``leaky_relu``):
  QKeras clips the negative side at ``-s * 2^i`` (the result is ``clip(round(s*x), -s*2^i, 0)``
  there), hls4ml's ``leaky_relu`` computes ``s*x`` and only saturates at the result type's
  ``-2^i``. Clipping the *input* at ``-2^i`` gives QKeras's result, so the producing layer's result
  (if the activation is its only consumer) becomes ``fixed<F + i + 1, i + 1, TRN, SAT>``: its own
  ``F`` fractional bits (nothing is rounded), saturating at ``[-2^i, 2^i)``; values above ``2^i``
  saturate in the activation's result anyway. Without it a BraggNN-like model with
  ``quantized_relu(12,0,negative_slope=0.125)`` after a Dense whose outputs reach -3.5 had that
  activation off by up to 0.31 (model outputs by up to 0.079). Where the producer has other
  consumers (or is the model input) this is not possible: :func:`known_mismatches` names the layer.
* ``ReuseFactor`` and ``Strategy`` for the model and every layer (``Latency`` for the Einsum of
  the attention, its only implementation); ``IOType``, part and clock period go to
  ``convert_from_keras_model``. The Einsum needs ``io_parallel``.
"""

from __future__ import annotations

import math
import re

import numpy as np

#: hls4ml's default precision for anything not set or inferred
DEFAULT_PRECISION = "fixed<16,6>"


def fixed(width: int, integer: int, signed: bool = True, rounding: str | None = None, saturation: str | None = None) -> str:
    """An hls4ml precision string such as ``fixed<16,4,RND_CONV,SAT>``."""
    s = f"{'' if signed else 'u'}fixed<{int(width)},{int(integer)}"
    if rounding:
        s += f",{rounding},{saturation or 'WRAP'}"
    return s + ">"


def input_precision_from_data(x, bits: int = 16, min_fraction_bits: int = 8) -> str:
    """Precision of a float model input from sample data (see the module docstring)."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    m = float(np.max(np.abs(x))) if x.size else 0.0
    magnitude = max(0, math.ceil(math.log2(m)) + 1) if m > 0 else 0
    integer = 1 + magnitude
    return fixed(max(bits, integer + min_fraction_bits), integer, True, "RND_CONV", "SAT")


def value_precision(values, bits: int = 16) -> str:
    """Signed fixed type of ``bits`` bits holding the largest of ``values`` (for float weights)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    m = float(np.max(np.abs(v))) if v.size else 0.0
    integer = max(1, math.floor(math.log2(m)) + 2) if m > 0 else 1
    return fixed(max(bits, integer + 4), integer, True, "RND_CONV", "SAT")


def softmax_precisions(n: int, table_size: int = 1024) -> tuple[dict, str]:
    """(``Precision`` entries, ``inp_norm_t``) of a stable softmax over ``n`` values."""
    log_n = max(1, math.ceil(math.log2(max(n, 2))))
    address_bits = max(1, math.ceil(math.log2(table_size)))
    sums = fixed(18 + log_n, 1 + log_n, False, "RND", "SAT")
    precision = {
        "exp_table": fixed(18, 1, False, "RND", "SAT"),
        "inv_table": fixed(18, 1, False, "RND", "SAT"),
        "accum": sums,
        "inv_inp": sums,
        "result": fixed(16, 0, False, "RND", "SAT"),
    }
    return precision, fixed(address_bits, 3, False, "RND", "SAT")


def round_like_qkeras(precision: str) -> str:
    """``fixed<8,1,TRN,WRAP,0>`` -> ``fixed<8,1,RND_CONV,SAT>``: the rounding of ``quantized_bits``.

    hls4ml quantizes the weights of a QDense/QConv with the QKeras quantizer, except where one of
    its passes rebuilds the layer without it: a QDense applied to a set ``(N, features)`` becomes a
    1x1 convolution (``ReplaceMultidimensionalDenseWithConv``) that keeps the float weights. They
    are then cast to the weight type in C++; with round-half-even and saturation (as
    ``quantized_bits(b, i, alpha=1)`` does with ``tf.round`` and ``clip``) the cast gives exactly
    the QKeras weights, and for weights that were already quantized it changes nothing.
    """
    m = re.match(r"^(u?fixed<\d+,-?\d+)(,[A-Z_]+(,[A-Z_]+(,\d+)?)?)?>$", precision.replace(" ", ""))
    return f"{m.group(1)},RND_CONV,SAT>" if m else precision


def _has_quantizer(layer, attr):
    return getattr(layer, attr, None) is not None


def _softmax_layout(layer) -> tuple[int, int, int] | None:
    """``(n_outer, n, n_inner)`` of a Keras softmax (layer or activation) over an axis of length n."""
    from .._keras import keras

    is_softmax = isinstance(layer, keras.layers.Softmax) or (
        isinstance(layer, keras.layers.Activation) and getattr(layer.activation, "__name__", "") == "softmax")
    if not is_softmax:
        return None
    shape = list(layer.output_shape[1:])
    axis = getattr(layer, "axis", -1)
    if isinstance(axis, (list, tuple)):
        if len(axis) != 1:
            raise ValueError(f"softmax {layer.name!r} over several axes {axis} is not supported by hls4ml")
        axis = axis[0]
    ax = axis % (len(shape) + 1) - 1
    return math.prod(shape[:ax]), int(shape[ax]), math.prod(shape[ax + 1:])


def build_config(model, *, backend: str, strategy: str = "Latency", reuse_factor: int = 1,
                 input_precision: str | None = None, float_bits: int = 16, table_size: int = 1024,
                 default_precision: str = DEFAULT_PRECISION) -> dict:
    """The hls4ml config (granularity ``name``) of ``model``; call inside ``keras2_as_keras()``."""
    from .._keras import hls4ml, keras

    h = hls4ml()
    cfg = h.utils.config_from_keras_model(model, granularity="name", backend=backend,
                                          default_precision=default_precision,
                                          default_reuse_factor=int(reuse_factor))
    cfg["Model"]["Strategy"] = strategy
    cfg["Model"]["ReuseFactor"] = int(reuse_factor)
    names = cfg["LayerName"]
    if input_precision:
        # model.inputs, not model.layers: a Sequential model has no InputLayer in .layers
        for t in model.inputs:
            name = t._keras_history.layer.name  # noqa: SLF001 - tf_keras has no public accessor
            if name in names:
                names[name].setdefault("Precision", {})["result"] = input_precision
    for layer in model.layers:
        lc = names.get(layer.name)
        if lc is None:
            continue
        prec = lc.setdefault("Precision", {})
        if "ReuseFactor" in lc:
            lc["ReuseFactor"] = int(reuse_factor)
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.layers.BatchNormalization):
            scale = layer.gamma.numpy() / np.sqrt(layer.moving_variance.numpy() + layer.epsilon) \
                if layer.scale else 1.0 / np.sqrt(layer.moving_variance.numpy() + layer.epsilon)
            bias = (layer.beta.numpy() if layer.center else 0.0) - layer.moving_mean.numpy() * scale
            prec["scale"] = value_precision(scale, float_bits)
            prec["bias"] = value_precision(bias, float_bits)
            continue
        for key, attr in (("weight", "kernel_quantizer_internal"), ("bias", "bias_quantizer_internal")):
            q = getattr(layer, attr, None)
            if type(q).__name__ == "quantized_bits" and key in prec:
                prec[key] = round_like_qkeras(prec[key])
        if type(getattr(layer, "quantizer", None)).__name__ == "quantized_bits" and "result" in prec:
            # a QActivation with a linear quantized_bits rounds and clips like QKeras, not TRN/WRAP
            prec["result"] = round_like_qkeras(prec["result"])
        kernel = getattr(layer, "kernel", None)
        if kernel is not None and not _has_quantizer(layer, "kernel_quantizer") and "weight" in prec:
            prec["weight"] = value_precision(kernel.numpy(), float_bits)
            if getattr(layer, "bias", None) is not None and not _has_quantizer(layer, "bias_quantizer"):
                prec["bias"] = value_precision(layer.bias.numpy(), float_bits)
        if isinstance(layer, keras.layers.Dot) and len(layer.input_shape[0]) > 2:
            # becomes an hls4ml Einsum (see _hls_layers), which has only a Latency implementation;
            # it has no weights, so the Resource strategy (weights in BRAM) would not apply anyway
            lc["Strategy"] = "Latency"
        layout = _softmax_layout(layer)
        if layout is not None:
            n_outer, n, n_inner = layout
            sm, inp_norm = softmax_precisions(n, table_size)
            prec.update(sm)
            # hls4ml 1.3 reads only result/accum from "Precision"; the table types are the layer
            # attributes exp_table_t, inv_table_t, inv_inp_t and inp_norm_t (top-level keys)
            for key in ("exp_table", "inv_table", "inv_inp"):
                lc[f"{key}_t"] = sm[key]
            lc["inp_norm_t"] = inp_norm
            lc["TableSize"] = int(table_size)
            lc["Implementation"] = "stable"
            if isinstance(layer, keras.layers.Softmax):
                # the Keras-2 front end names a Softmax *layer*'s activation "Softmax": its config
                # struct becomes Softmax_config<i> while the call uses softmax_config<i> (g++ fails)
                lc["activation"] = "softmax"
            if n_outer > 1 or n_inner > 1:
                # a softmax over one axis of a rank>1 tensor (attention rows); the Keras-2 front end
                # does not set these, and the softmax would run over all elements
                lc["n_outer"], lc["n_inner"] = int(n_outer), int(n_inner)
    return cfg


def _lossless(node):
    """Precision string hls4ml 1.3 would leave at the default for ``node``, or None."""
    from hls4ml.model.layers import Einsum, GlobalPooling1D, GlobalPooling2D, Pooling1D, Pooling2D
    from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType

    def wis(p):
        if isinstance(p, (FixedPrecisionType, IntegerPrecisionType)):
            return p.width, p.integer, p.signed
        return None

    if isinstance(node, Einsum):
        a = wis(node.get_input_variable(node.inputs[0]).type.precision)
        b = wis(node.get_input_variable(node.inputs[1]).type.precision)
        if a is None or b is None:
            return None
        eq = node.get_attr("equation")
        lhs = eq.split("->")[0].split(",")
        shape0 = node.get_attr("inp0_shape")
        contracted = [shape0[i] for i, c in enumerate(lhs[0]) if c in lhs[1] and c not in eq.split("->")[1]]
        extra = math.ceil(math.log2(max(2, math.prod(contracted) if contracted else 1)))
        signed = a[2] or b[2]
        p = fixed(a[0] + b[0] + extra, a[1] + b[1] + extra, signed)
        return {"result": p, "accum": p}
    if isinstance(node, (GlobalPooling1D, GlobalPooling2D, Pooling1D, Pooling2D)):
        a = wis(node.get_input_variable().type.precision)
        if a is None:
            return None
        if node.get_attr("pool_op", "").lower() == "max":
            if isinstance(node, (Pooling1D, Pooling2D)):
                return None  # hls4ml infers the input type itself
            p = fixed(a[0], a[1], a[2])
            return {"result": p, "accum": p}
        if isinstance(node, (Pooling1D, Pooling2D)):
            n = node.get_attr("pool_height", 1) * node.get_attr("pool_width")
        else:
            n = math.prod(node.get_input_variable().shape[:-1])
        extra = math.ceil(math.log2(max(2, n)))
        # nnet::avg sums *and divides* in accum_t (``y /= length``): it needs the extra integer bits
        # of the sum and the extra fraction bits of the mean, else the mean is truncated to the
        # input's fraction bits (up to 1 LSB of the input off: 0.017 on a ufixed<8,2> Deep Sets mean)
        return {"result": fixed(a[0] + extra, a[1], a[2]), "accum": fixed(a[0] + 2 * extra, a[1] + extra, a[2])}
    return None


def _fits(data, precision) -> bool:
    """Whether every value of ``data`` is exactly representable in ``precision`` (fixed/integer)."""
    from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType

    if not isinstance(precision, (FixedPrecisionType, IntegerPrecisionType)):
        return True  # binary/ternary/power-of-two types come from a quantizer: the data was made for them
    d = np.asarray(data, dtype=np.float64).ravel()
    if d.size == 0:
        return True
    frac = precision.width - precision.integer
    lo = -(2.0 ** (precision.integer - 1)) if precision.signed else 0.0
    hi = (2.0 ** (precision.integer - 1) if precision.signed else 2.0 ** precision.integer) - 2.0 ** -frac
    scaled = d * 2.0 ** frac
    return bool(np.all(np.isfinite(d)) and d.min() >= lo and d.max() <= hi and np.all(scaled == np.round(scaled)))


def _weight_types(node, float_bits: int) -> dict:
    """Types for weights whose data (float, or BN-fused) would round or saturate in their type."""
    from hls4ml.model.types import FixedPrecisionType

    out = {}
    for key, var in getattr(node, "weights", {}).items():
        p = var.type.precision
        if key not in ("weight", "bias", "scale") or node.get_attr(f"{key}_quantizer") is not None:
            continue
        if isinstance(p, FixedPrecisionType) and not _fits(var.data, p):
            out[key] = value_precision(var.data, max(float_bits, p.width))
    return out


def _leaky_input_clip(node) -> tuple | None:
    """``(producer, precision)`` clipping the input of a QKeras leaky ``quantized_relu`` at ``-2^i``."""
    from hls4ml.model.layers import Input
    from hls4ml.model.types import FixedPrecisionType

    q = node.get_attr("activation_quantizer")
    cfg = q.get("config", {}) if isinstance(q, dict) and q.get("class_name") == "quantized_relu" else {}
    if not cfg.get("negative_slope"):
        return None
    integer = int(cfg.get("integer", 0))
    parent = node.get_input_node()
    if parent is None or isinstance(parent, Input) or len(parent.get_output_nodes()) != 1:
        return None  # clipping the producer would change its other consumers: see known_mismatches
    p = parent.get_output_variable().type.precision
    if not isinstance(p, FixedPrecisionType):
        return None
    if not p.signed or p.integer <= integer + 1:
        return None  # no value below -2^i (also after this refinement: then the type is ours)
    frac = p.width - p.integer
    return parent, fixed(frac + integer + 1, integer + 1, True, "TRN", "SAT")


def refine_config(cfg: dict, hls_model, keep=(), float_bits: int = 16) -> bool:
    """Refine the config from a first conversion, where hls4ml's own passes have run (see the module
    docstring): lossless types for layers hls4ml 1.3 does not infer, types that hold the actual
    (float or BN-fused) weight data, and the input clip of leaky quantized ReLUs.

    ``keep``: ``(layer, precision key)`` pairs set by the user, left alone. Returns True if the
    config changed (then convert again: downstream inference depends on it).
    """
    changed = False
    names = cfg.setdefault("LayerName", {})

    def put(name, want):
        nonlocal changed
        prec = names.setdefault(name, {}).setdefault("Precision", {})
        for key, value in want.items():
            if (name, key) not in keep and prec.get(key) != value:
                prec[key] = value
                changed = True

    for node in hls_model.get_layers():
        want = _lossless(node) or {}
        want.update(_weight_types(node, float_bits))
        if want:
            put(node.name, want)
        clip = _leaky_input_clip(node)
        if clip is not None:
            put(clip[0].name, {"result": clip[1]})
    return changed


def known_mismatches(hls_model) -> list[str]:
    """Layers whose hls4ml 1.3 implementation differs from QKeras in a way no type can repair."""
    notes = []
    for node in hls_model.get_layers():
        q = node.get_attr("activation_quantizer")
        cfg = q.get("config", {}) if isinstance(q, dict) and q.get("class_name") == "quantized_relu" else {}
        if cfg.get("relu_upper_bound"):
            notes.append(f"{node.name}: hls4ml ignores relu_upper_bound={cfg['relu_upper_bound']} of quantized_relu")
        if cfg.get("negative_slope") and _leaky_input_clip(node) is None:
            parent = node.get_input_node()
            p = parent.get_output_variable().type.precision if parent is not None else None
            integer = int(cfg.get("integer", 0))
            if getattr(p, "signed", False) and getattr(p, "integer", 0) > integer + 1:
                notes.append(f"{node.name}: hls4ml's leaky_relu does not clip below -{cfg['negative_slope']}*2^{integer}"
                             f" as QKeras does, and its input {parent.name!r} also feeds other layers (or is the"
                             " model input), so kerasnac cannot saturate it there")
    return notes

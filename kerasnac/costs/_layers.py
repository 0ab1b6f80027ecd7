"""Per-layer cost analysis: one small handler per Keras layer class, found through a registry.

As in hls4ml's layer handlers, supporting a new layer type means writing one function::

    @register_layer_handler(MyLayer)
    def _my_layer(layer, ctx: LayerContext) -> dict:
        return ctx.mac(macs=..., fan_in=..., n_kernel=..., w_bits=ctx.weight_bits(layer), ...)

Handlers are looked up along the class MRO, so ``qkeras.QDense`` uses the ``Dense`` handler,
``QConv2D`` the ``Conv2D`` one, etc. A handler returns a row (see :meth:`LayerContext.mac`,
:meth:`LayerContext.elementwise`, :meth:`LayerContext.passthrough`).

Bit-width conventions (hls4ml's default precision is ``ap_fixed<16,6>``):

* ``w_bits``: ``.bits`` of the layer's QKeras kernel quantizer; a layer without one is float,
  ``FLOAT_WEIGHT_BITS = 32``.
* ``a_bits``: width of the tensor feeding the layer (max over inputs). Model inputs carry
  ``input_bits`` (default 16). A QActivation (or a ``QDense``/``QConv`` ``activation=`` quantizer) sets
  its output to the quantizer's ``.bits``. A float activation (``Activation``, ``Softmax``, ``ReLU``,
  ``QActivation("relu")``) outputs ``FLOAT_ACT_BITS = 16`` (hls4ml's default precision). A weighted
  layer without an activation quantizer outputs its accumulator, approximated by ``ACCUM_BITS = 16``
  (hls4ml's default ``accum_t``/``result_t``). Pass-through layers (Flatten, Reshape, Dropout, pooling,
  fused BatchNormalization, Concatenate, ...) keep the width; ``Add``/``Dot`` output the max of inputs.
"""

from __future__ import annotations

import math
import warnings
from typing import Callable

import numpy as np

from kerasnac._keras import keras

from . import _fpga

FLOAT_WEIGHT_BITS = 32
FLOAT_ACT_BITS = 16
ACCUM_BITS = 16
#: Width of a float BatchNormalization scale once converted by hls4ml (default precision).
FLOAT_BN_SCALE_BITS = 16

_HANDLERS: dict[type, Callable] = {}
_WARNED: set[str] = set()


def register_layer_handler(*classes):
    """Decorator registering ``fn(layer, ctx) -> row`` for the given layer classes (and subclasses)."""

    def deco(fn):
        for cls in classes:
            if cls is not None:
                _HANDLERS[cls] = fn
        return fn

    return deco


def find_handler(layer) -> Callable | None:
    for cls in type(layer).__mro__:
        fn = _HANDLERS.get(cls)
        if fn is not None:
            return fn
    return None


# ---------------------------------------------------------------------------------------------
# small helpers


def _prod(xs) -> int:
    out = 1
    for x in xs:
        out *= int(x) if x is not None else 1
    return out


def quantizer_bits(q) -> float | None:
    """``.bits`` of a QKeras quantizer object (quantized_bits, quantized_relu, binary, ...), else None."""
    bits = getattr(q, "bits", None)
    if bits is None or isinstance(q, str):
        return None
    try:
        return int(bits) if float(bits).is_integer() else float(bits)
    except (TypeError, ValueError):
        return None


def is_linear(act) -> bool:
    if act is None:
        return True
    name = act if isinstance(act, str) else getattr(act, "__name__", None)
    return name == "linear"


def activation_name(act) -> str:
    if isinstance(act, str):
        return act.split("(")[0]
    return getattr(act, "__name__", None) or type(act).__name__


def spatial(shape: tuple, data_format: str | None) -> tuple:
    """Spatial dims of a (batch-less) conv tensor shape."""
    return tuple(shape[1:]) if data_format == "channels_first" else tuple(shape[:-1])


def bops(macs: float, w_bits: float, a_bits: float, fan_in: float, sparsity: float) -> float:
    """Baskin et al. (arXiv 1804.10969), as used by NAC (arXiv 2501.05515):
    ``BOPs = n * ((1 - s) * b_w * b_a + b_w + b_a + log2 f)``."""
    if macs <= 0:
        return 0.0
    return float(macs * ((1.0 - sparsity) * w_bits * a_bits + w_bits + a_bits + math.log2(max(fan_in, 1))))


def _zero_fraction(arrays) -> float:
    zeros = total = 0
    for v in arrays:
        a = v.numpy() if hasattr(v, "numpy") else np.asarray(v)
        zeros += int(a.size - np.count_nonzero(a))
        total += int(a.size)
    return zeros / total if total else 0.0


# ---------------------------------------------------------------------------------------------
# context handed to handlers


class LayerContext:
    """What a handler knows about a layer's call site: shapes (without batch), input bit widths,
    the user's sparsity override and the hls4ml configuration."""

    def __init__(self, layer, name, in_shapes, out_shapes, in_bits, inbound_layers, cfg, sparsity=None):
        self.layer = layer
        self.name = name
        self.in_shapes = in_shapes
        self.out_shapes = out_shapes
        self.in_bits = list(in_bits)
        self.inbound_layers = inbound_layers
        self.cfg: _fpga.HLSConfig = cfg
        self.sparsity_override = sparsity

    # shapes and bits
    @property
    def in_shape(self) -> tuple:
        return self.in_shapes[0]

    @property
    def out_shape(self) -> tuple:
        return self.out_shapes[0]

    @property
    def n_out(self) -> int:
        return _prod(self.out_shape)

    @property
    def a_bits(self) -> float:
        return max(self.in_bits)

    @staticmethod
    def weight_bits(layer, attr: str = "kernel_quantizer_internal") -> float:
        """Bits of the layer's weight quantizer ``attr``; float layers: ``FLOAT_WEIGHT_BITS``."""
        bits = quantizer_bits(getattr(layer, attr, None))
        return FLOAT_WEIGHT_BITS if bits is None else bits

    @staticmethod
    def activation_bits(act) -> float:
        """Output bits of a weighted layer's ``activation``: quantizer bits, else ``ACCUM_BITS``."""
        bits = quantizer_bits(act)
        return ACCUM_BITS if bits is None else bits

    def sparsity(self, arrays=()) -> float:
        """User override if given, else the measured fraction of exactly-zero values in ``arrays``."""
        if self.sparsity_override is not None:
            return float(self.sparsity_override)
        return _zero_fraction(arrays) if arrays else 0.0

    # rows
    def _row(self, **kw) -> dict:
        row = {"macs": 0, "fan_in": 0, "w_bits": 0, "a_bits": self.a_bits, "sparsity": 0.0, "bops": 0.0,
               "out_bits": self.a_bits, "pruned": 0}
        row.update(_fpga.zero())
        row.update(kw)
        return row

    def passthrough(self, out_bits=None) -> dict:
        """No arithmetic (Flatten, Reshape, Dropout, Concatenate, fused BN, ...)."""
        return self._row(out_bits=self.a_bits if out_bits is None else out_bits)

    def elementwise(self, resources: dict, out_bits=None) -> dict:
        """A layer without multiplications: given ``_fpga`` resources, no MACs/BOPs."""
        return self._row(out_bits=self.a_bits if out_bits is None else out_bits, **resources)

    def mac(self, *, macs: int, fan_in: int, n_kernel: int, w_bits: float, kernels=(), positions: int = 1,
            in_positions: int | None = None, a_bits: float | None = None, sparsity: float | None = None,
            activation=None, out_bits: float | None = None, has_weights: bool = True) -> dict:
        """A multiply-accumulate layer.

        ``macs`` multiplications per inference, each output summing ``fan_in`` products; ``n_kernel``
        distinct multipliers (kernel weights), reused over ``positions`` output positions; ``kernels``
        are the weight arrays whose zeros give the measured sparsity. ``activation`` is the layer's
        own activation (a non-linear one adds an element-wise stage); ``out_bits`` defaults to
        :meth:`activation_bits`. ``has_weights=False`` for products of two activations.
        """
        a = self.a_bits if a_bits is None else a_bits
        s = self.sparsity(kernels) if sparsity is None else float(sparsity)
        nnz = int(round((1.0 - s) * n_kernel))
        if out_bits is None:
            out_bits = self.activation_bits(activation)
        da_adders = None
        if self.cfg.strategy == "distributed_arithmetic" and has_weights and len(kernels) == 1:
            da_adders = csd_adders(self.layer, kernels[0])
        res = _fpga.multiply_accumulate(n_weights=n_kernel, n_nonzero=nnz, fan_in=fan_in, w_bits=w_bits,
                                        a_bits=a, n_out=self.n_out, positions=positions,
                                        in_positions=in_positions, cfg=self.cfg, has_weights=has_weights,
                                        da_adders=da_adders)
        if not is_linear(activation):
            res = _fpga.add(res, _fpga.elementwise(self.n_out, out_bits))
        return self._row(macs=int(macs), fan_in=int(fan_in), w_bits=w_bits, a_bits=a, sparsity=s,
                         bops=bops(macs, w_bits, a, fan_in, s), out_bits=out_bits, pruned=n_kernel - nnz,
                         **res)


def csd_adders(layer, kernel) -> float | None:
    """Adders of one position of a distributed-arithmetic kernel: per output column, its number of
    non-zero canonical-signed-digit (NAF) digits minus one. The kernel goes through the layer's
    QKeras kernel quantizer first (float kernels: rounded to 10 fractional bits, hls4ml's default).
    NAF weight of ``x >= 0`` = popcount((x ^ 3x) >> 1)."""
    q = getattr(layer, "kernel_quantizer_internal", None)
    try:
        w = np.asarray(q(kernel).numpy() if q is not None else np.round(kernel.numpy() * 1024) / 1024, np.float64)
    except Exception:  # noqa: BLE001 - a quantizer that cannot run here: fall back to b_w/3 digits
        return None
    w = w.reshape(-1, w.shape[-1])
    bits, integer = quantizer_bits(q), getattr(q, "integer", 0)
    f = 10 if bits is None else int(bits) - int(bool(getattr(q, "keep_negative", True))) - int(integer)
    x = np.abs(np.round(w * 2.0 ** min(max(f, 0), 30))).astype(np.int64)
    digits = np.bitwise_count((x ^ (3 * x)) >> 1).sum(axis=0).astype(np.int64)  # signed: an all-zero column gives -1
    return float(np.maximum(digits - 1, 0).sum())


def combine(first: dict, second: dict) -> dict:
    """Two operations in sequence inside one layer (e.g. depthwise then pointwise): numbers add,
    the descriptive columns come from the second; sparsity is the pruned fraction of both."""
    out = dict(second)
    for k in ("macs", "bops", "pruned", "dsp", "lut", "ff", "bram", "latency_cycles"):
        out[k] = first[k] + second[k]
    return out


# ---------------------------------------------------------------------------------------------
# handlers

L = keras.layers


@register_layer_handler(L.Dense)
def _dense(layer, ctx: LayerContext) -> dict:
    """Dense on ``(..., n_in)``: ``MACs = P * n_in * units`` with ``P`` = product of the leading
    (non-batch) dims, e.g. the ``N`` elements of a set; the kernel is shared over the ``P`` positions."""
    n_in = int(ctx.in_shape[-1])
    positions = _prod(ctx.in_shape[:-1])
    n_kernel = n_in * int(layer.units)
    return ctx.mac(macs=positions * n_kernel, fan_in=n_in, n_kernel=n_kernel, positions=positions,
                   w_bits=ctx.weight_bits(layer), kernels=[layer.kernel], activation=layer.activation)


@register_layer_handler(L.Conv1D, L.Conv2D, L.Conv3D)
def _conv(layer, ctx: LayerContext) -> dict:
    """Conv: ``MACs = H_out * W_out * C_out * k_h * k_w * C_in / groups`` (= output positions × kernel
    size; padding and strides enter through the output shape). Fan-in ``k_h * k_w * C_in / groups``."""
    kshape = tuple(int(d) for d in layer.kernel.shape)
    n_kernel = _prod(kshape)
    positions = _prod(spatial(ctx.out_shape, layer.data_format))
    in_positions = _prod(spatial(ctx.in_shape, layer.data_format))
    return ctx.mac(macs=positions * n_kernel, fan_in=_prod(kshape[:-1]), n_kernel=n_kernel,
                   positions=positions, in_positions=in_positions, w_bits=ctx.weight_bits(layer),
                   kernels=[layer.kernel], activation=layer.activation)


@register_layer_handler(getattr(L, "Conv1DTranspose", None), L.Conv2DTranspose, getattr(L, "Conv3DTranspose", None))
def _conv_transpose(layer, ctx: LayerContext) -> dict:
    """Transposed conv: every input pixel is multiplied by the whole kernel: ``MACs = P_in * |kernel|``."""
    kshape = tuple(int(d) for d in layer.kernel.shape)  # (*k, C_out, C_in)
    n_kernel = _prod(kshape)
    in_positions = _prod(spatial(ctx.in_shape, layer.data_format))
    fan_in = max(1, _prod(kshape[:-2]) * kshape[-1] // max(1, _prod(layer.strides)))
    return ctx.mac(macs=in_positions * n_kernel, fan_in=fan_in, n_kernel=n_kernel, positions=in_positions,
                   w_bits=ctx.weight_bits(layer), kernels=[layer.kernel], activation=layer.activation)


@register_layer_handler(getattr(L, "DepthwiseConv1D", None), L.DepthwiseConv2D)
def _depthwise(layer, ctx: LayerContext) -> dict:
    """Depthwise conv: ``MACs = P_out * k_h * k_w * C_in * depth_multiplier``, fan-in ``k_h * k_w``."""
    kshape = tuple(int(d) for d in layer.depthwise_kernel.shape)  # (*k, C_in, mult)
    n_kernel = _prod(kshape)
    positions = _prod(spatial(ctx.out_shape, layer.data_format))
    return ctx.mac(macs=positions * n_kernel, fan_in=_prod(kshape[:-2]), n_kernel=n_kernel,
                   positions=positions, in_positions=_prod(spatial(ctx.in_shape, layer.data_format)),
                   w_bits=ctx.weight_bits(layer, "depthwise_quantizer_internal"),
                   kernels=[layer.depthwise_kernel], activation=layer.activation)


@register_layer_handler(L.SeparableConv1D, L.SeparableConv2D)
def _separable(layer, ctx: LayerContext) -> dict:
    """Depthwise then pointwise (1×1) conv, both over the output positions; the intermediate tensor
    is ``ACCUM_BITS`` wide."""
    dshape = tuple(int(d) for d in layer.depthwise_kernel.shape)
    pshape = tuple(int(d) for d in layer.pointwise_kernel.shape)
    positions = _prod(spatial(ctx.out_shape, layer.data_format))
    dw = ctx.mac(macs=positions * _prod(dshape), fan_in=_prod(dshape[:-2]), n_kernel=_prod(dshape),
                 positions=positions, w_bits=ctx.weight_bits(layer, "depthwise_quantizer_internal"),
                 kernels=[layer.depthwise_kernel], out_bits=ACCUM_BITS)
    pw = ctx.mac(macs=positions * _prod(pshape), fan_in=_prod(pshape[:-1]), n_kernel=_prod(pshape),
                 positions=positions, a_bits=ACCUM_BITS,
                 w_bits=ctx.weight_bits(layer, "pointwise_quantizer_internal"),
                 kernels=[layer.pointwise_kernel], activation=layer.activation)
    row = combine(dw, pw)
    row["sparsity"] = row["pruned"] / (_prod(dshape) + _prod(pshape))
    return row


@register_layer_handler(L.Dot)
def _dot(layer, ctx: LayerContext) -> dict:
    """Dot of two activations (non-local attention): ``MACs = |output| * K`` with ``K`` the contracted
    size; ``b_w`` is the width of the second input, ``b_a`` of the first, ``s = 0``. In io_parallel
    every product has its own (non-constant) multiplier."""
    axes = layer.axes if isinstance(layer.axes, (list, tuple)) else (layer.axes, layer.axes)
    s0 = ctx.in_shapes[0]
    ax0 = int(axes[0]) % (len(s0) + 1)  # Keras axes count the batch axis
    k = int(s0[ax0 - 1])
    macs = ctx.n_out * k
    b0, b1 = ctx.in_bits[0], ctx.in_bits[-1]
    return ctx.mac(macs=macs, fan_in=k, n_kernel=macs, w_bits=b1, a_bits=b0, sparsity=0.0,
                   out_bits=max(b0, b1), has_weights=False)


@register_layer_handler(L.Multiply)
def _multiply(layer, ctx: LayerContext) -> dict:
    """Element-wise product of ``m`` activations: ``|output| * (m - 1)`` multiplications, fan-in 1."""
    m = len(ctx.in_shapes)
    macs = ctx.n_out * max(m - 1, 1)
    b0, b1 = ctx.in_bits[0], max(ctx.in_bits[1:] or ctx.in_bits)
    return ctx.mac(macs=macs, fan_in=1, n_kernel=macs, w_bits=b1, a_bits=b0, sparsity=0.0,
                   out_bits=max(ctx.in_bits), has_weights=False)


@register_layer_handler(L.Add, L.Subtract, L.Average, L.Maximum, L.Minimum)
def _add(layer, ctx: LayerContext) -> dict:
    """Element-wise sum/difference/mean/max/min of ``m`` tensors: ``m - 1`` adders per element."""
    return ctx.elementwise(_fpga.reduction(ctx.n_out, len(ctx.in_shapes), ctx.a_bits))


@register_layer_handler(L.BatchNormalization)
def _batchnorm(layer, ctx: LayerContext) -> dict:
    """hls4ml folds a BatchNormalization into a directly preceding Dense/Conv1D/Conv2D (linear
    activation, sole consumer, quantizers compatible: ``FuseBatchNormalization``); then it is free.
    Otherwise each element is scaled and shifted: ``|output|`` multiplications, fan-in 1, scale width
    from the QKeras gamma quantizer or ``FLOAT_BN_SCALE_BITS``. The bit width passes through."""
    if _bn_is_fused(layer, ctx):
        return ctx.passthrough()
    bits = quantizer_bits(getattr(layer, "gamma_quantizer_internal", None)) or FLOAT_BN_SCALE_BITS
    n = ctx.n_out
    return ctx.mac(macs=n, fan_in=1, n_kernel=n, w_bits=bits, sparsity=0.0, out_bits=ctx.a_bits)


def _bn_is_fused(layer, ctx: LayerContext) -> bool:
    if len(ctx.inbound_layers) != 1:
        return False
    prev = ctx.inbound_layers[0]
    if not isinstance(prev, (L.Dense, L.Conv1D, L.Conv2D)) or isinstance(prev, L.Conv2DTranspose):
        return False
    if not is_linear(getattr(prev, "activation", None)) or len(getattr(prev, "_outbound_nodes", [])) > 1:
        return False
    prev_w = getattr(prev, "kernel_quantizer_internal", None)
    prev_b = getattr(prev, "bias_quantizer_internal", None)
    bn_s = getattr(layer, "gamma_quantizer_internal", None)
    bn_b = getattr(layer, "beta_quantizer_internal", None)
    scale_ok = (prev_w is None and bn_s is None) or (not layer.scale and bn_s is None)
    bias_ok = ((prev_b is None and bn_b is None) or (not getattr(prev, "use_bias", True) and prev_b is None)
               or (not layer.center and bn_b is None))
    return scale_ok and bias_ok


def _activation_row(ctx: LayerContext, act, bits) -> dict:
    name = activation_name(act)
    if name == "linear" and bits is None:
        return ctx.passthrough()
    out = FLOAT_ACT_BITS if bits is None else bits
    if name == "softmax":
        return ctx.elementwise(_fpga.softmax(ctx.n_out, ctx.a_bits), out_bits=out)
    return ctx.elementwise(_fpga.elementwise(ctx.n_out, out), out_bits=out)


@register_layer_handler(L.Activation)
def _activation(layer, ctx: LayerContext) -> dict:
    """Float activation: output ``FLOAT_ACT_BITS``; ReLU-like ~1 LUT/bit/element, 1 cycle; softmax:
    see ``_fpga.softmax``; ``linear`` is free."""
    return _activation_row(ctx, layer.activation, None)


@register_layer_handler(L.Softmax)
def _softmax(layer, ctx: LayerContext) -> dict:
    return _activation_row(ctx, "softmax", None)


@register_layer_handler(L.ReLU, L.LeakyReLU, L.PReLU, L.ELU, L.ThresholdedReLU)
def _relu_like(layer, ctx: LayerContext) -> dict:
    return _activation_row(ctx, "relu", None)


def _qactivation(layer, ctx: LayerContext) -> dict:
    """QActivation: output width = the quantizer's ``.bits`` (float activations: ``FLOAT_ACT_BITS``)."""
    q = getattr(layer, "quantizer", None)
    bits = quantizer_bits(q)
    if bits is not None:
        return ctx.elementwise(_fpga.elementwise(ctx.n_out, bits), out_bits=bits)
    return _activation_row(ctx, getattr(layer, "activation", q), None)


def _pool(layer, ctx: LayerContext) -> dict:
    """Max/average pooling: a comparator/adder tree over the ``prod(pool_size)`` window per output."""
    return ctx.elementwise(_fpga.reduction(ctx.n_out, _prod(layer.pool_size), ctx.a_bits))


def _global_pool(layer, ctx: LayerContext) -> dict:
    """Global pooling: a comparator/adder tree over all input positions per channel."""
    k = _prod(spatial(ctx.in_shape, getattr(layer, "data_format", "channels_last")))
    return ctx.elementwise(_fpga.reduction(ctx.n_out, k, ctx.a_bits))


def _passthrough(layer, ctx: LayerContext) -> dict:
    """No arithmetic; the bit width passes through."""
    return ctx.passthrough()


def _wrapper(layer, ctx: LayerContext) -> dict:
    """Wrappers (TimeDistributed, TFMOT's PruneLowMagnitude): cost of the wrapped layer on this input."""
    inner = layer.layer
    fn = find_handler(inner) or _unknown
    return fn(inner, ctx)


def _unknown(layer, ctx: LayerContext) -> dict:
    """Unknown layer class: warn once, no MACs (its parameters are still counted), bits pass through."""
    cls = type(layer).__name__
    if cls not in _WARNED:
        _WARNED.add(cls)
        warnings.warn(f"kerasnac.costs: no cost handler for layer class {cls!r}; counting its parameters "
                      f"only (MACs, BOPs and FPGA estimates 0). Add one with register_layer_handler.",
                      RuntimeWarning, stacklevel=4)
    return ctx.passthrough()


def _register_defaults() -> None:
    from kerasnac._keras import qkeras

    register_layer_handler(qkeras.QActivation)(_qactivation)
    pools = [getattr(L, f"{kind}Pooling{d}D", None) for kind in ("Max", "Average") for d in (1, 2, 3)]
    register_layer_handler(*pools)(_pool)
    gpools = [getattr(L, f"Global{kind}Pooling{d}D", None) for kind in ("Max", "Average") for d in (1, 2, 3)]
    register_layer_handler(*gpools)(_global_pool)
    names = ["InputLayer", "Dropout", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization",
             "Flatten", "Reshape", "Permute", "RepeatVector", "Concatenate", "Identity", "Masking",
             *(f"{n}{d}D" for n in ("ZeroPadding", "Cropping", "UpSampling") for d in (1, 2, 3))]
    register_layer_handler(*(getattr(L, n, None) for n in names))(_passthrough)
    register_layer_handler(L.Wrapper)(_wrapper)


_register_defaults()

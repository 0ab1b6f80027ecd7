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

    def elementwise(self, resources: dict, out_bits=None, kind: str | None = None) -> dict:
        """A layer without multiplications: given ``_fpga`` resources, no MACs/BOPs. ``kind``
        (``"activation"`` or ``"reduction"``) scales the LUTs under distributed arithmetic
        (``_fpga.DA_ELEMENTWISE_SCALE``)."""
        return self._row(out_bits=self.a_bits if out_bits is None else out_bits, **self._da_scaled(resources, kind))

    def _da_scaled(self, resources: dict, kind: str | None) -> dict:
        if kind is None or self.cfg.strategy != "distributed_arithmetic":
            return resources
        return _fpga.scale_lut(resources, _fpga.DA_ELEMENTWISE_SCALE[kind])

    def mac(self, *, macs: int, fan_in: int, n_kernel: int, w_bits: float, kernels=(), positions: int = 1,
            in_positions: int | None = None, a_bits: float | None = None, sparsity: float | None = None,
            activation=None, out_bits: float | None = None, has_weights: bool = True,
            da_adders: float | None = None) -> dict:
        """A multiply-accumulate layer.

        ``macs`` multiplications per inference, each output summing ``fan_in`` products; ``n_kernel``
        distinct multipliers (kernel weights), reused over ``positions`` output positions; ``kernels``
        are the weight arrays whose zeros give the measured sparsity. ``activation`` is the layer's
        own activation (a non-linear one adds an element-wise stage); ``out_bits`` defaults to
        :meth:`activation_bits`. ``has_weights=False`` for products of two activations.
        ``da_adders``: adders of one position under ``strategy="distributed_arithmetic"`` (default:
        counted from the one kernel in ``kernels``, see :func:`csd_adders`).
        """
        a = self.a_bits if a_bits is None else a_bits
        s = self.sparsity(kernels) if sparsity is None else float(sparsity)
        nnz = int(round((1.0 - s) * n_kernel))
        if out_bits is None:
            out_bits = self.activation_bits(activation)
        if da_adders is None and self.cfg.strategy == "distributed_arithmetic" and has_weights and len(kernels) == 1:
            da_adders = csd_adders(self.layer, kernels[0])
        res = _fpga.multiply_accumulate(n_weights=n_kernel, n_nonzero=nnz, fan_in=fan_in, w_bits=w_bits,
                                        a_bits=a, n_out=self.n_out, positions=positions,
                                        in_positions=in_positions, cfg=self.cfg, has_weights=has_weights,
                                        da_adders=da_adders)
        if not is_linear(activation):
            res = _fpga.add(res, self._da_scaled(_fpga.elementwise(self.n_out, out_bits), "activation"))
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
    digits = naf_digits(np.round(w * 2.0 ** min(max(f, 0), 30))).sum(axis=0)  # an all-zero column gives -1 below
    return float(np.maximum(digits - 1, 0).sum())


def naf_digits(x) -> np.ndarray:
    """Non-zero digits of the canonical signed-digit (NAF) form of integers ``|x|``:
    popcount((x ^ 3x) >> 1)."""
    x = np.abs(np.asarray(x, np.int64))
    return np.bitwise_count((x ^ (3 * x)) >> 1).astype(np.int64)


def batchnorm_adders(layer, frac_bits: int = 10) -> float | None:
    """Adders of one position of an unfused BatchNormalization as distributed arithmetic: per
    channel, the scale ``gamma / sqrt(var + eps)`` on the ``2**-frac_bits`` grid (hls4ml's default
    precision, as ``kerasnac.hardware`` traces it) costs its NAF digits minus one, and a non-zero
    shift one more. ``None`` if the weights cannot be read."""
    try:
        var = np.asarray(layer.moving_variance.numpy(), np.float64)
        gamma = np.asarray(layer.gamma.numpy(), np.float64) if layer.scale else 1.0
        beta = np.asarray(layer.beta.numpy(), np.float64) if layer.center else 0.0
        inv = np.broadcast_to(gamma / np.sqrt(var + layer.epsilon), var.shape)
        shift = np.broadcast_to(beta - np.asarray(layer.moving_mean.numpy(), np.float64) * inv, var.shape)
    except Exception:  # noqa: BLE001 - unusual BN variants: fall back to b_w/3 digits
        return None
    grid = 2.0 ** frac_bits
    digits = naf_digits(np.round(inv * grid))
    return float(np.maximum(digits - 1, 0).sum() + np.count_nonzero(np.round(shift * grid)))


def combine(first: dict, second: dict) -> dict:
    """Two operations in sequence inside one layer (e.g. depthwise then pointwise): numbers add,
    the descriptive columns come from the second; sparsity is the pruned fraction of both."""
    out = dict(second)
    for k in ("macs", "bops", "pruned", "dsp", "lut", "ff", "bram", "latency_cycles"):
        out[k] = first[k] + second[k]
    return out


# ---------------------------------------------------------------------------------------------
# handlers


def _unknown(layer, ctx: LayerContext) -> dict:
    """Unknown layer class: warn once, no MACs (its parameters are still counted), bits pass through."""
    cls = type(layer).__name__
    if cls not in _WARNED:
        _WARNED.add(cls)
        warnings.warn(f"kerasnac.costs: no cost handler for layer class {cls!r}; counting its parameters "
                      f"only (MACs, BOPs and FPGA estimates 0). Add one with register_layer_handler.",
                      RuntimeWarning, stacklevel=4)
    return ctx.passthrough()


# the built-in handlers (one per layer type) register themselves
from . import _handlers  # noqa: E402,F401

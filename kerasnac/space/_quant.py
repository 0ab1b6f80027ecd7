"""Quantization of one block: QKeras quantizers from bit widths, and QKeras layer factories.

A weight width of ``32`` means *float*: the layer gets no quantizer (the float baseline).
Quantizer strings are built here from integers only, never taken from user text, and only for
activations that both QKeras and hls4ml support.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._keras import keras, qkeras
from ..errors import SpaceError

FLOAT_BITS = 32

#: activations that QKeras can quantize and hls4ml can convert (name -> builder of the quantizer)
ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear", "leaky_relu")

#: default per-block quantization search space
DEFAULT_QUANT = {
    "weight_bits": [4, 6, 8, 16],
    "weight_integer": 0,
    "bias_bits": None,  # None: same as weight_bits
    "activation_bits": [4, 6, 8, 16],
    "activation_integer": [0, 2],
}
QUANT_KEYS = tuple(DEFAULT_QUANT)
#: the head ends in a float softmax (or a linear output), so only its weights are quantized
HEAD_QUANT_KEYS = ("weight_bits", "weight_integer", "bias_bits")
#: (total bits, integer bits) pairs: the bias shares the weights' integer bits
INTEGER_PAIRS = (("weight_bits", "weight_integer"), ("bias_bits", "weight_integer"),
                 ("activation_bits", "activation_integer"))


def integer_bits_error(bits_key: str, bits: int, int_key: str, integer: int, where: str) -> str | None:
    """The message if ``integer`` integer bits do not fit in ``bits`` total bits, else None.

    QKeras' integer bits exclude the sign bit, so a quantized width needs ``integer < bits``
    (``32`` means float and ignores the integer bits). Shared by the space's validation (every
    combination of choices) and :class:`Quant` (the combination being built).
    """
    if bits is None or bits >= FLOAT_BITS or integer < bits:
        return None
    return (f"{where}: {int_key}={integer} does not fit in {bits_key}={bits}: the integer bits exclude the sign "
            f"bit, so {int_key} must be < {bits_key} (quantized_bits({bits},{integer}) is not a valid quantizer). "
            f"Fix: give {bits_key} >= {integer + 1} (32 = float) or {int_key} <= {bits - 1}.")


@dataclass(frozen=True)
class Quant:
    """Bit widths of one block: weights, bias and activations (total bits, integer bits)."""

    weight_bits: int = FLOAT_BITS
    weight_integer: int = 0
    bias_bits: int | None = None
    activation_bits: int = FLOAT_BITS
    activation_integer: int = 0

    def __post_init__(self):
        for bits_key, int_key in INTEGER_PAIRS:
            msg = integer_bits_error(bits_key, getattr(self, bits_key), int_key, getattr(self, int_key), "quant")
            if msg:
                raise SpaceError(msg)

    @property
    def is_float(self) -> bool:
        return self.weight_bits >= FLOAT_BITS

    # -- quantizer strings ------------------------------------------------------------------
    def _wq(self, bits: int | None):
        bits = self.weight_bits if bits is None else bits
        if bits >= FLOAT_BITS:
            return None
        return f"quantized_bits({bits},{self.weight_integer},alpha=1)"

    def kernel_quantizer(self):
        return self._wq(self.weight_bits)

    def bias_quantizer(self):
        return self._wq(self.bias_bits)

    def activation_quantizer(self, activation: str):
        bits, integer = self.activation_bits, self.activation_integer
        if bits >= FLOAT_BITS:
            return None
        if activation == "relu":
            return f"quantized_relu({bits},{integer})"
        if activation == "leaky_relu":
            return f"quantized_relu({bits},{integer},negative_slope=0.125)"
        if activation == "tanh":
            return f"quantized_tanh({bits})"
        if activation == "sigmoid":
            return f"quantized_sigmoid({bits})"
        if activation == "linear":
            return f"quantized_bits({bits},{integer},alpha=1)"
        raise ValueError(f"unsupported activation {activation!r}; use one of {ACTIVATIONS}")

    # -- layer factories --------------------------------------------------------------------
    def dense(self, units: int, name: str, bias=None):
        """A QDense layer; ``bias`` (one value per unit, e.g. the training targets' mean for a regression
        head) is its initial bias, clipped to what the bias quantizer can represent."""
        extra = {} if bias is None else {"bias_initializer": keras.initializers.Constant(self.clip_bias(bias))}
        return qkeras.QDense(
            units,
            kernel_quantizer=self.kernel_quantizer(),
            bias_quantizer=self.bias_quantizer(),
            kernel_initializer="lecun_uniform",
            name=name,
            **extra,
        )

    def clip_bias(self, bias) -> list[float]:
        """``bias`` as floats within the bias quantizer's range (unchanged for a float bias)."""
        values = [float(b) for b in bias]
        spec = self.bias_quantizer()
        if spec is None:
            return values
        q = qkeras.quantizers.get_quantizer(spec)
        lo, hi = float(q.min()), float(q.max())
        return [min(max(b, lo), hi) for b in values]

    def conv(self, rank: int, filters: int, kernel_size: int, name: str, strides: int = 1, padding="same"):
        cls = qkeras.QConv2D if rank == 2 else qkeras.QConv1D
        return cls(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            kernel_quantizer=self.kernel_quantizer(),
            bias_quantizer=self.bias_quantizer(),
            kernel_initializer="lecun_uniform",
            name=name,
        )

    def activation(self, activation: str, name: str):
        q = self.activation_quantizer(activation)
        if q is not None:
            return qkeras.QActivation(q, name=name)
        if activation == "leaky_relu":
            return keras.layers.LeakyReLU(0.125, name=name)
        return keras.layers.Activation(activation, name=name)

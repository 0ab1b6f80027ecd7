"""The built-in per-layer cost handlers: one small function per Keras/QKeras layer class, each
registered with :func:`register_layer_handler` (add your own the same way, without editing this file)."""

from __future__ import annotations

from .._keras import keras
from . import _fpga
from ._layers import ACCUM_BITS, FLOAT_ACT_BITS, FLOAT_BN_SCALE_BITS, LayerContext, _prod, _unknown, activation_name, batchnorm_adders, combine, csd_adders, find_handler, is_linear, quantizer_bits, register_layer_handler, spatial

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
    da = None
    if ctx.cfg.strategy == "distributed_arithmetic":
        da = csd_adders(layer, layer.kernel)
        if da is not None:  # taps on 'same' zero padding are constant zeros: no adders there
            da *= valid_tap_fraction(spatial(ctx.in_shape, layer.data_format), spatial(ctx.out_shape, layer.data_format),
                                     kshape[:-2], layer.strides, layer.padding)
    return ctx.mac(macs=positions * n_kernel, fan_in=_prod(kshape[:-1]), n_kernel=n_kernel,
                   positions=positions, in_positions=in_positions, w_bits=ctx.weight_bits(layer),
                   kernels=[layer.kernel], activation=layer.activation, da_adders=da)


def valid_tap_fraction(in_sizes, out_sizes, kernel, strides, padding) -> float:
    """Fraction of a conv's (output position, kernel tap) pairs that read an input, not padding
    (TensorFlow's 'same' padding puts the extra zero on the high side); 1 for 'valid'."""
    if str(padding).lower() != "same":
        return 1.0
    frac = 1.0
    for n_in, n_out, k, s in zip(in_sizes, out_sizes, kernel, strides):
        before = max((n_out - 1) * s + k - n_in, 0) // 2
        valid = sum(1 for o in range(n_out) for t in range(k) if 0 <= o * s + t - before < n_in)
        frac *= valid / max(n_out * k, 1)
    return frac


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
    return ctx.elementwise(_fpga.reduction(ctx.n_out, len(ctx.in_shapes), ctx.a_bits), kind="reduction")


@register_layer_handler(L.BatchNormalization)
def _batchnorm(layer, ctx: LayerContext) -> dict:
    """hls4ml folds a BatchNormalization into a directly preceding Dense/Conv1D/Conv2D (linear
    activation, sole consumer, quantizers compatible: ``FuseBatchNormalization``); then it is free.
    Otherwise each element is scaled and shifted: ``|output|`` multiplications, fan-in 1, scale width
    from the QKeras gamma quantizer or ``FLOAT_BN_SCALE_BITS``. The bit width passes through.
    Distributed arithmetic: the adders of each channel's constant scale and shift
    (:func:`batchnorm_adders`), over all positions."""
    if _bn_is_fused(layer, ctx):
        return ctx.passthrough()
    bits = quantizer_bits(getattr(layer, "gamma_quantizer_internal", None)) or FLOAT_BN_SCALE_BITS
    n = ctx.n_out
    if ctx.cfg.strategy != "distributed_arithmetic":
        return ctx.mac(macs=n, fan_in=1, n_kernel=n, w_bits=bits, sparsity=0.0, out_bits=ctx.a_bits)
    return ctx.mac(macs=n, fan_in=1, n_kernel=n, w_bits=bits, sparsity=0.0, out_bits=ctx.a_bits,
                   positions=max(n // max(int(ctx.out_shape[-1]), 1), 1), da_adders=batchnorm_adders(layer))


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
    return ctx.elementwise(_fpga.elementwise(ctx.n_out, out), out_bits=out, kind="activation")


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
        return ctx.elementwise(_fpga.elementwise(ctx.n_out, bits), out_bits=bits, kind="activation")
    return _activation_row(ctx, getattr(layer, "activation", q), None)


def _pool(layer, ctx: LayerContext) -> dict:
    """Max/average pooling: a comparator/adder tree over the ``prod(pool_size)`` window per output."""
    return ctx.elementwise(_fpga.reduction(ctx.n_out, _prod(layer.pool_size), ctx.a_bits), kind="reduction")


def _global_pool(layer, ctx: LayerContext) -> dict:
    """Global pooling: a comparator/adder tree over all input positions per channel."""
    k = _prod(spatial(ctx.in_shape, getattr(layer, "data_format", "channels_last")))
    return ctx.elementwise(_fpga.reduction(ctx.n_out, k, ctx.a_bits), kind="reduction")


def _passthrough(layer, ctx: LayerContext) -> dict:
    """No arithmetic; the bit width passes through."""
    return ctx.passthrough()


def _wrapper(layer, ctx: LayerContext) -> dict:
    """Wrappers (TimeDistributed, TFMOT's PruneLowMagnitude): cost of the wrapped layer on this input."""
    inner = layer.layer
    fn = find_handler(inner) or _unknown
    return fn(inner, ctx)


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

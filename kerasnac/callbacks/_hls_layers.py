"""Small extensions of hls4ml 1.3's Keras-2 front end that kerasnac's blocks need.

* ``Dot`` of rank-2 (or higher) tensors. hls4ml's Keras-2 handler accepts only flat vectors
  (``"Dot of tensors with rank > 1 is not yet supported"``), but its Vivado/Vitis back ends have an
  ``Einsum`` layer (two operands, io_parallel, Latency strategy; its PyTorch front end emits it).
  :func:`install` wraps the ``Dot`` handler: vectors still go to hls4ml's own handler, higher ranks
  become an ``Einsum`` with the equation of ``keras.layers.Dot`` (``batch_dot``: the output keeps the
  free axes of the first operand, then those of the second). The BraggNN non-local attention of
  ``conv_attn`` needs it for ``theta . phi^T`` and ``softmax(.) . g``.

* ``QDense`` applied to a set (input of rank > 2, the phi network of ``deepsets``). hls4ml 1.3's
  ``ReplaceMultidimensionalDenseWithConv`` rebuilds such a Dense as a 1x1 convolution *without* its
  ``weight_quantizer``/``bias_quantizer``: the convolution then holds the float kernel, and
  ``FuseBatchNormalization`` (which refuses to fuse into quantized weights) folds a following
  ``BatchNormalization`` into it as ``scale * w_float``, where QKeras computes ``scale * Q(w)``.
  :func:`install` wraps the ``QDense`` handler so that, for such inputs, the kernel and bias handed
  to hls4ml are already quantized with the layer's own quantizers (what hls4ml's ``Dense`` does for
  rank-2 inputs); the fused weights then equal QKeras's, and
  :func:`kerasnac.callbacks._hls_config.refine_config` gives them a type that holds them.

The Softmax repairs that the Keras-2 front end needs are config entries; see
:func:`kerasnac.callbacks._hls_config.build_config`.
"""

from __future__ import annotations

import importlib

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _dot_equation(s0, s1, axes):
    """Einsum equation (no batch axis) and output shape of ``keras.layers.Dot(axes)`` on shapes s0, s1."""
    if isinstance(axes, int):
        axes = (axes, axes)
    a0 = (axes[0] % (len(s0) + 1)) - 1  # Keras axes count the batch axis
    a1 = (axes[1] % (len(s1) + 1)) - 1
    if a0 < 0 or a1 < 0:
        raise ValueError(f"Dot over the batch axis is not supported (axes={axes})")
    l0 = _LETTERS[: len(s0)]
    l1 = list(_LETTERS[len(s0): len(s0) + len(s1)])
    l1[a1] = l0[a0]
    l1 = "".join(l1)
    out = "".join(c for i, c in enumerate(l0) if i != a0) + "".join(c for i, c in enumerate(l1) if i != a1)
    shape = [d for i, d in enumerate(s0) if i != a0] + [d for i, d in enumerate(s1) if i != a1]
    return f"{l0},{l1}->{out}", shape


def _install_qdense(handlers) -> None:
    original = handlers.get("QDense")
    if original is None or getattr(original, "_kerasnac", False):
        return

    def parse_qdense(keras_layer, input_names, input_shapes, data_reader):
        layer, shape = original(keras_layer, input_names, input_shapes, data_reader)
        if len(input_shapes[0]) > 2:  # becomes a Conv without quantizers (see the module docstring)
            for key in ("weight", "bias"):
                q, data = layer.get(f"{key}_quantizer"), layer.get(f"{key}_data")
                if q is not None and data is not None:
                    layer[f"{key}_data"] = q(data)
        return layer, shape

    parse_qdense._kerasnac = True
    parse_qdense.handles = ["QDense"]
    handlers["QDense"] = parse_qdense


def install() -> None:
    """Register kerasnac's ``Dot`` and ``QDense`` handlers in hls4ml's Keras-2 front end (idempotent)."""
    kv2 = importlib.import_module("hls4ml.converters.keras_v2_to_hls")
    handlers = kv2.layer_handlers
    _install_qdense(handlers)
    original = handlers.get("Dot")
    if original is None or getattr(original, "_kerasnac", False):
        return

    def parse_dot(keras_layer, input_names, input_shapes, data_reader):
        s0, s1 = list(input_shapes[0][1:]), list(input_shapes[1][1:])
        if len(s0) <= 1 and len(s1) <= 1:
            return original(keras_layer, input_names, input_shapes, data_reader)
        if keras_layer["config"].get("normalize"):
            raise Exception(f"Dot layer {keras_layer['config']['name']!r}: normalize=True is not supported by hls4ml")
        equation, shape = _dot_equation(s0, s1, keras_layer["config"]["axes"])
        layer = kv2.parse_default_keras_layer(keras_layer, input_names)
        layer.update(class_name="Einsum", equation=equation, inp0_shape=tuple(s0), inp1_shape=tuple(s1),
                     out_shape=tuple(shape))
        return layer, [input_shapes[0][0]] + shape

    parse_dot._kerasnac = True
    parse_dot.handles = ["Dot"]
    handlers["Dot"] = parse_dot


def keras_counterparts(model, hls_model) -> dict:
    """``{hls4ml layer name: name of the Keras layer whose output it carries}``.

    Usually the same name. hls4ml's passes remove some Keras layers: a ``BatchNormalization`` fused
    into the Dense/Conv before it, a ``Dropout``, a ``Reshape`` in io_parallel. The node before such a
    layer then carries *its* output (BN applied, or the same values), so the trace compares it with
    the last removed layer of a single-consumer chain.
    """
    present = {layer.name for layer in hls_model.get_layers()}
    out = {}
    for name in present:
        try:
            layer = model.get_layer(name)
        except ValueError:
            continue
        while True:
            consumers = [n.outbound_layer for n in layer._outbound_nodes]  # noqa: SLF001 - no public accessor
            if len(consumers) != 1 or consumers[0].name in present or len(consumers[0]._inbound_nodes) != 1:  # noqa: SLF001
                break
            nxt = consumers[0]
            if isinstance(nxt.input, (list, tuple)):
                break
            layer = nxt
        out[name] = layer.name
    return out

"""``layer_table``: walk a built tf_keras model's graph once and cost every layer.

The walk visits the layers in topological order (``model.layers`` of a functional/Sequential
model), reads shapes and bit widths from the graph nodes (no TensorFlow ops; numpy only for the
measured sparsity), dispatches to the per-layer handlers of :mod:`._layers`, and propagates the
output bit width and the cycle at which each output is ready (longest path through the graph).
Nested models are flattened, their layers named ``outer/inner``.
"""

from __future__ import annotations

from numbers import Real

import pandas as pd

from kerasnac._keras import keras

from . import _fpga
from ._layers import LayerContext, _unknown, find_handler

COLUMNS = ["layer", "class", "params", "nonzero_params", "macs", "fan_in", "w_bits", "a_bits", "sparsity",
           "bops", "dsp", "lut", "ff", "bram", "latency_cycles", "out_bits", "ready_cycle"]


def _shapes(s) -> list[tuple]:
    """Node shapes → list of batch-less tuples (unknown dims → 1)."""
    items = s if isinstance(s, list) else [s]
    out = []
    for x in items:
        dims = x.as_list() if hasattr(x, "as_list") else list(x)
        out.append(tuple(1 if d is None else int(d) for d in dims[1:]))
    return out


def _node_in_model(model, layer):
    nodes = model._network_nodes
    for i, node in enumerate(layer._inbound_nodes):
        if f"{layer.name}_ib-{i}" in nodes:
            return node
    return layer._inbound_nodes[0] if layer._inbound_nodes else None


def _unwrap(layer):
    while isinstance(layer, keras.layers.Wrapper):
        layer = layer.layer
    return layer


def _check_sparsity(s, what):
    if not isinstance(s, Real) or not 0.0 <= float(s) <= 1.0:
        raise ValueError(f"sparsity{what} must be a number in [0, 1], got {s!r}")
    return float(s)


class _Walk:
    def __init__(self, cfg, input_bits, sparsity):
        self.cfg = cfg
        self.input_bits = input_bits
        if sparsity is None or isinstance(sparsity, dict):
            self.sparsity_all = None
            self.sparsity_map = {k: _check_sparsity(v, f"[{k!r}]") for k, v in (sparsity or {}).items()}
        else:
            self.sparsity_all = _check_sparsity(sparsity, "")
            self.sparsity_map = {}
        self.used_keys: set[str] = set()
        self.rows: list[dict] = []

    def _input_bits(self, name) -> float:
        if isinstance(self.input_bits, dict):
            if name not in self.input_bits:
                raise ValueError(f"input_bits has no entry for model input {name!r}; "
                                 f"known inputs: {sorted(self.input_bits)}")
            return self.input_bits[name]
        return self.input_bits

    def _sparsity_for(self, full, plain):
        if self.sparsity_all is not None:
            return self.sparsity_all
        for key in (full, plain):
            if key in self.sparsity_map:
                self.used_keys.add(key)
                return self.sparsity_map[key]
        return None

    def model(self, model, prefix="", in_state=None):
        """Walk ``model``; ``in_state`` maps its input layers to (bits, ready). Returns outputs' state."""
        if not hasattr(model, "_network_nodes") or not model.built:
            raise TypeError(
                f"kerasnac.costs needs a built functional or Sequential tf_keras model (one created from "
                f"keras.Input, or Sequential with an input shape); got {type(model).__name__}.")
        state: dict[int, tuple[float, int]] = {}
        for i, il in enumerate(model._input_layers):
            if in_state is not None:
                state[id(il)] = in_state[i]
            else:
                state[id(il)] = (self._input_bits(il.name), 0)
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                if id(layer) not in state:
                    state[id(layer)] = (self._input_bits(layer.name), 0)
                continue
            node = _node_in_model(model, layer)
            inbound = [il for il, _, _, _ in node.iterate_inbound()] if node is not None else []
            in_states = [state.get(id(il), (self._input_bits(il.name), 0)) for il in inbound] or [
                (self._input_bits(layer.name), 0)]
            if isinstance(layer, keras.Model) and hasattr(layer, "_network_nodes"):
                outs = self.model(layer, prefix=f"{prefix}{layer.name}/", in_state=in_states)
                state[id(layer)] = (max(b for b, _ in outs), max(r for _, r in outs))
                continue
            ctx = LayerContext(layer, prefix + layer.name, _shapes(node.input_shapes), _shapes(node.output_shapes),
                               [b for b, _ in in_states], inbound, self.cfg,
                               self._sparsity_for(prefix + layer.name, layer.name))
            row = (find_handler(layer) or _unknown)(layer, ctx)
            params = int(_unwrap(layer).count_params())
            ready = max(r for _, r in in_states) + int(row["latency_cycles"])
            row.update(layer=ctx.name, **{"class": type(layer).__name__}, params=params,
                       nonzero_params=max(params - int(row.pop("pruned")), 0), ready_cycle=ready)
            self.rows.append(row)
            state[id(layer)] = (row["out_bits"], ready)
        # only output layers that are model inputs fall back to the input bits (evaluated lazily:
        # _input_bits raises for names that are not inputs when input_bits is a dict)
        return [state[id(ol)] if id(ol) in state else (self._input_bits(ol.name), 0) for ol in model._output_layers]


def layer_table(model, sparsity=None, input_bits=16, reuse_factor=1, strategy="latency",
                io_type="io_parallel") -> pd.DataFrame:
    """Cost every layer of a built tf_keras/QKeras model; one row per layer (InputLayers omitted).

    Parameters
    ----------
    model : a built functional or Sequential tf_keras model (QKeras layers welcome).
    sparsity : ``None`` to measure, per layer, the fraction of exactly-zero kernel weights (raw
        weights, before quantization); a float in [0, 1] for all layers; or ``{layer_name: float}``
        (layers not named are measured; unknown names raise ``ValueError``).
    input_bits : width of the model inputs (default 16, hls4ml's ``ap_fixed<16,6>``), or
        ``{input_layer_name: bits}``.
    reuse_factor, strategy, io_type : the hls4ml settings for the FPGA estimates (see ``_fpga``).

    Columns: ``layer, class, params, nonzero_params, macs, fan_in, w_bits, a_bits, sparsity, bops,
    dsp, lut, ff, bram, latency_cycles, out_bits, ready_cycle``. ``nonzero_params = params -
    round(sparsity * n_kernel)``; ``ready_cycle`` is the cycle at which the layer's output is ready
    along the longest path from the inputs (its max over the table is the model latency).
    All FPGA columns are first-order *estimates*; see :mod:`kerasnac.costs._fpga`.
    """
    cfg = _fpga.HLSConfig(reuse_factor=reuse_factor, strategy=strategy, io_type=io_type)
    walk = _Walk(cfg, input_bits, sparsity)
    walk.model(model)
    unused = set(walk.sparsity_map) - walk.used_keys
    if unused:
        names = [r["layer"] for r in walk.rows]
        raise ValueError(f"sparsity names layers not in the model: {sorted(unused)}; layers: {names}")
    return pd.DataFrame(walk.rows, columns=COLUMNS)

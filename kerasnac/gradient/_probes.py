"""Per-candidate costs from the *same* cost model: tiny probe models run through ``costs.layer_table``.

A probe is one candidate layer in its context: a ``keras.Input`` of the candidate's input shape, the
layer(s) built by the same ``Quant`` factories / block helpers that ``space.assemble`` uses (each
block's relaxation passes them to :meth:`Prober.layers`, in the block's file), and
``layer_table(..., input_bits=<input width>)``. Results are cached per (layer kind, input shape,
input bits, parameters, bit widths).

Building a QKeras layer costs ~40 ms (TensorFlow traces its quantizers), so a probe is built once per
*structure* (shapes, units, activation) and its bit widths are then set by swapping the quantizer
objects that the cost handlers read (``kernel_quantizer_internal``, ``QActivation.quantizer``) before
each ``layer_table`` call. The agreement tests check that a one-hot expected cost equals
``costs.evaluate`` on the model that ``space.assemble`` builds.

The cost is a sum over layer-table rows, so it must be *additive over layers*: the built-in table
costs (params, macs, bops, lut, ff, dsp, bram, ebops; latency_cycles as the sum along the chain), a
weighted sum of them, or a callable on one row (a candidate layer's config).
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np

from .. import costs
from .._keras import keras, qkeras
from ..space import Quant, names
from ..space.relax import NotRelaxableError

_get_quantizer = qkeras.quantizers.get_quantizer


def resolve_cost(cost, where="cost") -> Callable | None:
    """``cost`` → ``fn(sub_table) -> float``, additive over the rows of a layer table.

    Accepts a registered cost name, a ``{name: weight}`` dict, ``kn.costs.weighted(...)``, or any
    callable ``fn(row: dict) -> float`` on one layer-table row (columns of ``costs.layer_table``).
    """
    if cost is None:
        return None
    if cost == "latency_cycles":
        # the sum of the layers' cycles: the latency of a chain (an upper bound with parallel branches)
        return lambda table: float(table["latency_cycles"].sum())
    if isinstance(cost, str):
        c = costs.get_cost(cost)
        if not c.uses_table:
            raise NotRelaxableError(
                f"{where}: {cost!r} is a model-level cost (fn(model)); the gradient search needs costs that are "
                "additive over layers. Pass a callable fn(row) on one layer-table row instead.")
        return lambda table: float(c.fn(table)) if len(table) else 0.0
    weights = cost if isinstance(cost, dict) else getattr(cost, "weights", None)
    if isinstance(weights, dict):
        fns = {k: resolve_cost(k, where) for k in weights}
        return lambda table: float(sum(w * fns[k](table) for k, w in weights.items()))
    if callable(cost):
        return lambda table: float(sum(float(cost(row)) for row in table.to_dict("records")))
    raise TypeError(f"{where}: expected a cost name, a dict of weights, kn.costs.weighted(...) or a callable on "
                    f"a layer row, got {cost!r}")


@functools.lru_cache(maxsize=None)
def _wq(bits):
    s = Quant(weight_bits=bits).kernel_quantizer()
    return None if s is None else _get_quantizer(s)


@functools.lru_cache(maxsize=None)
def _aq(act, bits):
    return _get_quantizer(Quant(activation_bits=bits).activation_quantizer(act))


def _swap(model, wb=None, act=None, ab=None):
    """Set the bit widths that the cost handlers read on every quantized layer of a probe."""
    for layer in model.layers:
        if wb is not None and hasattr(layer, "kernel_quantizer_internal"):
            q = _wq(wb)
            layer.kernel_quantizer_internal = layer.kernel_quantizer = q
            layer.bias_quantizer_internal = layer.bias_quantizer = q
            layer.quantizers = [q, q]
        elif ab is not None and ab < 32 and isinstance(layer, qkeras.QActivation):
            layer.quantizer = layer.activation = _aq(act, ab)


class Prober:
    """Cached costs of candidate layers. ``metrics``: ``{name: fn(sub_table) -> float}``."""

    def __init__(self, metrics: dict, cost_options: dict | None = None):
        self.metrics = dict(metrics)
        self.names = list(self.metrics)
        # the layer table's options: under strategy="distributed_arithmetic" the supernet's per-layer
        # costs are the analytical formulas whatever the estimator (a da4ml trace is of a whole model)
        self.opts = costs.table_options(dict(cost_options or {}))
        self.opts.pop("input_bits", None)
        self._structs: dict = {}
        self._cache: dict = {}
        self._pending: dict = {}
        self.collecting = False
        self.n_tables = 0

    def zero(self):
        return np.zeros(len(self.names))

    def _vec(self, table):
        return np.array([fn(table) for fn in self.metrics.values()], dtype="float64")

    def _probe(self, key, build, select, b_in, wb=None, act=None, ab=None):
        """Cost vector and output bits of the rows ``select(table)`` of the structure ``key``
        (``build(name) -> (input, output)``, built once) with bit widths ``wb``/``ab`` swapped in.

        While ``collecting``, requests are only recorded (and a placeholder returned); :meth:`flush`
        then evaluates them with one ``layer_table`` per combination of bit widths."""
        full = (key, wb, act, ab, b_in)
        if full in self._cache:
            return self._cache[full]
        self._pending[full] = (build, select)
        if self.collecting:
            return self.zero(), float(b_in)
        self.flush()
        return self._cache[full]

    def flush(self):
        groups: dict = {}
        for full, (build, select) in self._pending.items():
            key = full[0]
            if key not in self._structs:
                name = f"p{len(self._structs)}"
                self._structs[key] = (name, *build(name))
            groups.setdefault(full[1:], []).append((full, select))
        self._pending = {}
        for (wb, act, ab, b_in), items in groups.items():
            structs = [self._structs[full[0]] for full, _ in items]
            model = keras.Model([s[1] for s in structs], [s[2] for s in structs])
            _swap(model, wb, act, ab)
            self.n_tables += 1
            table = costs.layer_table(model, input_bits=b_in, **self.opts)
            owner = table["layer"].map(names.layer_owner)
            for (full, select), (name, _, _) in zip(items, structs):
                t = select(table[owner == name])
                self._cache[full] = (self._vec(t), float(t["out_bits"].iloc[-1]) if len(t) else float(b_in))

    # ------------------------------------------------------------------ candidate layers
    def layers(self, kind, in_shape, b_in, build, wb=None, act=None, ab=None, rows=slice(None)):
        """Cost vector and output bits of a fixed structure ``build(x, name) -> y`` on an input of shape
        ``in_shape`` and ``b_in`` bits. ``kind`` (hashable) must name everything structural; ``wb`` /
        ``(act, ab)`` swap the weight / activation bits of its quantized layers (so build it with float
        weights, which is fast); only the layer-table rows ``rows`` are counted (e.g. ``slice(2, None)``
        drops a context-setting prefix, ``slice(0, 1)`` keeps the first layer). ``build`` must name its
        layers ``names.layer_name(name, ...)``. Returns ``(cost vector, out bits)``."""
        def build_model(name):
            inp = keras.Input(tuple(in_shape))
            return inp, build(inp, name)

        key = ("layers", kind, tuple(in_shape), (rows.start, rows.stop))
        return self._probe(key, build_model, lambda t: t.iloc[rows], b_in, wb=wb, act=act, ab=ab)

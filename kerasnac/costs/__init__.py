"""Hardware costs of tf_keras/QKeras models: params, MACs, BOPs and first-order hls4ml FPGA estimates.

* :func:`layer_table` — one row per layer (MACs, bits, sparsity, BOPs, DSP/LUT/FF/BRAM, cycles).
* :func:`evaluate` — totals of registered costs, computing the table once.
* :func:`register_cost`, :func:`get_cost`, :func:`available_costs`, :func:`is_cost`,
  :func:`cost_direction` — the cost registry; :func:`weighted` — a weighted sum of costs.
* :func:`register_layer_handler` — teach the analysis a new layer class.

Built-in costs: ``params, nonzero_params, macs, bops, lut, ff, dsp, bram, latency_cycles, ebops``;
with da4ml installed also ``da_lut, da_syn_lut, da_ff, da_depth`` (``kerasnac.hardware``; computed only
when asked for by name). Under ``strategy="distributed_arithmetic"`` with da4ml installed, ``lut`` and
``ff`` are ``da_syn_lut`` and ``da_ff`` (the option ``estimator``, see ``_estimator``).
FPGA numbers are estimates for ranking architectures, not synthesis results.
"""

from . import _builtin  # noqa: F401  (registers the built-in costs)
from ._fpga import HLSConfig
from ._layers import LayerContext, register_layer_handler
from ._estimator import ESTIMATORS, check as check_estimator, da4ml_available, table_options
from ._fpga import STRATEGIES
from ._registry import (Cost, UnknownCostError, available_costs, cost_direction, default_costs, evaluate, get_cost,
                        is_cost, register_cost, unregister_cost, weighted)
from ._table import layer_table

__all__ = ["layer_table", "evaluate", "register_cost", "unregister_cost", "available_costs", "get_cost",
           "is_cost", "default_costs", "cost_direction", "weighted", "Cost", "UnknownCostError", "register_layer_handler",
           "LayerContext", "HLSConfig", "ESTIMATORS", "STRATEGIES", "table_options", "check_estimator",
           "da4ml_available"]

# the optional da4ml costs (da_lut, da_depth) register themselves through register_cost above
from .. import hardware as _hardware  # noqa: E402,F401

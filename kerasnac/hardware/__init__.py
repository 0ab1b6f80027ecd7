"""Hardware numbers from tools run here: da4ml distributed arithmetic, yosys logic synthesis, verilator.

* :func:`trace` — a QKeras model as a da4ml fixed-point adder graph (see ``_trace`` for the layers
  and the exact numerics); :func:`da_costs` — its cost (``da_lut``, LUT-equivalents) and adder depth
  (``da_depth``, a latency proxy); ``da_syn_lut`` = ``DA_LUT_TO_SYN_LUT x da_lut``, the yosys LUT
  count of that design as fitted in ``benchmarks/results/cost_fidelity_yosys.md`` (for LUT
  budgets; it ranks like ``da_lut``). All are registered costs, usable as search objectives::

      KerasNAC(space, objectives=["val_accuracy", "da_lut"])

* :func:`write_rtl`, :func:`synthesize`, :func:`simulate` (``_rtl``) — Verilog from the traced graph,
  yosys ``synth_xilinx -family xcup`` cell counts, and a verilator simulation of the Verilog.

Yosys numbers are logic synthesis, not place and route. da4ml is an optional dependency
(``pip install 'kerasnac[da]'``); yosys and verilator are system packages (``apt-get install yosys
verilator``).
"""

from __future__ import annotations

import weakref

from .. import _rundir
from ..costs import register_cost
from ._trace import DEFAULT_KIF, SUPPORTED, Traced, UnsupportedLayerError, quantize_inputs, trace

__all__ = ["trace", "Traced", "da_costs", "COST_SOLVER_OPTIONS", "DA_LUT_TO_SYN_LUT", "quantize_inputs", "UnsupportedLayerError", "SUPPORTED", "DEFAULT_KIF",
           "write_rtl", "synthesize", "simulate", "SynthesisError", "YOSYS_SOURCE"]

#: da4ml solver settings of the costs: without the search over all decompositions the trace of a
#: 16-32-16-5 6-bit MLP took 0.58 s instead of 1.58 s here, at a 0.2% lower cost (16230 vs 16266)
COST_SOLVER_OPTIONS = {"search_all_decompose_dc": False}
#: yosys synth_xilinx LUTs per unit of da4ml's own cost (``da_lut``, LUT-equivalents) of the same
#: design: 1 / the median da_lut / syn_lut of the fit half of benchmarks/results/cost_fidelity_yosys.md
DA_LUT_TO_SYN_LUT = 0.776
# one trace serves both costs of a model (evaluate() asks for da_lut and da_depth separately)
_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def da_costs(model, input_kif=DEFAULT_KIF) -> dict:
    """``{"da_lut": ..., "da_depth": ...}`` of ``model`` from its da4ml trace (cached per weights)."""
    key = (_rundir.data_digest(*model.get_weights()), tuple(input_kif))
    try:
        hit = _CACHE.get(model)
    except TypeError:  # not weak-referenceable
        hit = None
    if hit is not None and hit[0] == key:
        return dict(hit[1])
    t = trace(model, input_kif, solver_options=COST_SOLVER_OPTIONS)
    vals = {"da_lut": t.cost, "da_depth": t.depth}
    try:
        _CACHE[model] = (key, vals)
    except TypeError:
        pass
    return dict(vals)


def _da_lut(model) -> float:
    return da_costs(model)["da_lut"]


def _da_depth(model) -> float:
    return da_costs(model)["da_depth"]


def _da_syn_lut(model) -> float:
    return DA_LUT_TO_SYN_LUT * da_costs(model)["da_lut"]


register_cost("da_lut", _da_lut, "min", "da4ml distributed-arithmetic cost in LUT-equivalents (adder graph of the "
              "quantized model, inputs ap_fixed<16,6>); needs da4ml", default=False)
register_cost("da_syn_lut", _da_syn_lut, "min", "yosys synth_xilinx LUTs (logic synthesis, not place and route) "
              "of the da4ml design, estimated as "
              f"{DA_LUT_TO_SYN_LUT} x da_lut (fitted to yosys, benchmarks/results/cost_fidelity_yosys.md); needs da4ml",
              default=False)
register_cost("da_depth", _da_depth, "min", "da4ml adder depth of the quantized model (latency proxy, in adder "
              "delays); needs da4ml", default=False)

from ._rtl import YOSYS_SOURCE, SynthesisError, simulate, synthesize, write_rtl  # noqa: E402

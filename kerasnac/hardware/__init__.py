"""Hardware numbers from tools run here: da4ml distributed arithmetic, yosys logic synthesis, verilator.

* :func:`trace` — a QKeras model as a da4ml fixed-point adder graph (see ``_trace`` for the layers
  and the exact numerics); :func:`da_costs` — its cost (``da_lut``, LUT-equivalents) and adder depth
  (``da_depth``, a latency proxy); ``da_syn_lut`` = ``DA_LUT_TO_SYN_LUT x da_lut``, the yosys LUT
  count of that design as fitted in ``benchmarks/results/cost_fidelity_yosys.md`` (for LUT
  budgets; it ranks like ``da_lut``); ``da_ff`` = ``DA_REG_TO_SYN_FF x`` the register bits of that
  design's RTL pipelined every ``PIPELINE_LATENCY_CUTOFF`` adder delays (``Synthesis``'s default),
  the yosys flip-flop count as fitted there. All are registered costs, usable as search objectives::

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

__all__ = ["trace", "Traced", "da_costs", "COST_SOLVER_OPTIONS", "DA_LUT_TO_SYN_LUT", "DA_REG_TO_SYN_FF",
           "PIPELINE_LATENCY_CUTOFF", "pipeline_register_bits", "quantize_inputs", "UnsupportedLayerError",
           "SUPPORTED", "DEFAULT_KIF", "write_rtl", "synthesize", "simulate", "SynthesisError", "YOSYS_SOURCE"]

#: da4ml solver settings of the costs: without the search over all decompositions the trace of a
#: 16-32-16-5 6-bit MLP took 0.58 s instead of 1.58 s here, at a 0.2% lower cost (16230 vs 16266)
COST_SOLVER_OPTIONS = {"search_all_decompose_dc": False}
#: yosys synth_xilinx LUTs per unit of da4ml's own cost (``da_lut``, LUT-equivalents) of the same
#: design: 1 / the median da_lut / syn_lut of the fit half of benchmarks/results/cost_fidelity_yosys.md
DA_LUT_TO_SYN_LUT = 0.776
#: adder delays per pipeline stage of the RTL whose registers ``da_ff`` counts (the default of
#: ``write_rtl`` and of the ``Synthesis`` callback)
PIPELINE_LATENCY_CUTOFF = 5.0
#: yosys synth_xilinx flip-flops per register bit of da4ml's pipelined RTL (``pipeline_register_bits``;
#: yosys drops constant and duplicate bits): 1 / the median register bits / syn_ff of the fit half
#: of benchmarks/results/cost_fidelity_yosys.md
DA_REG_TO_SYN_FF = 0.953
# one trace serves every da4ml cost of a model (evaluate() asks for da_lut, da_depth, lut, ff separately):
# per model, {(weights digest, input kif): costs} of its last few weights and input widths
_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_CACHE_PER_MODEL = 4


def pipeline_register_bits(comb, latency_cutoff: float = PIPELINE_LATENCY_CUTOFF) -> int:
    """Register bits of da4ml's RTL of ``comb`` (a traced ``CombLogic``) pipelined every
    ``latency_cutoff`` adder delays: the input register, each stage's output register and the output
    register (da4ml's ``Pipeline.reg_bits``, the registers ``write_rtl`` declares)."""
    from da4ml.trace.pipeline import to_pipeline

    if not comb.ops:
        return 0
    return int(to_pipeline(comb, latency_cutoff, verbose=False).reg_bits)


def da_costs(model, input_kif=DEFAULT_KIF) -> dict:
    """``{"da_lut", "da_depth", "da_syn_lut", "da_reg_bits", "da_ff"}`` of ``model`` from its da4ml
    trace (cached per model and weights)."""
    key = (_rundir.data_digest(*model.get_weights()), tuple(input_kif))
    try:
        seen = _CACHE.get(model)
    except TypeError:  # not weak-referenceable
        seen = None
    if seen is not None and key in seen:
        return dict(seen[key])
    t = trace(model, input_kif, solver_options=COST_SOLVER_OPTIONS)
    reg = pipeline_register_bits(t.comb)
    vals = {"da_lut": t.cost, "da_depth": t.depth, "da_syn_lut": DA_LUT_TO_SYN_LUT * t.cost, "da_reg_bits": reg,
            "da_ff": DA_REG_TO_SYN_FF * reg}
    try:
        seen = _CACHE.setdefault(model, {})
    except TypeError:
        return dict(vals)
    while len(seen) >= _CACHE_PER_MODEL:
        seen.pop(next(iter(seen)))
    seen[key] = vals
    return dict(vals)


def _da_lut(model) -> float:
    return da_costs(model)["da_lut"]


def _da_depth(model) -> float:
    return da_costs(model)["da_depth"]


def _da_syn_lut(model) -> float:
    return da_costs(model)["da_syn_lut"]


def _da_ff(model) -> float:
    return da_costs(model)["da_ff"]


register_cost("da_lut", _da_lut, "min", "da4ml distributed-arithmetic cost in LUT-equivalents (adder graph of the "
              "quantized model, inputs ap_fixed<16,6>); needs da4ml", default=False)
register_cost("da_syn_lut", _da_syn_lut, "min", "yosys synth_xilinx LUTs (logic synthesis, not place and route) "
              "of the da4ml design, estimated as "
              f"{DA_LUT_TO_SYN_LUT} x da_lut (fitted to yosys, benchmarks/results/cost_fidelity_yosys.md); needs da4ml",
              default=False)
register_cost("da_ff", _da_ff, "min", "yosys synth_xilinx flip-flops (logic synthesis, not place and route) of "
              f"the da4ml design pipelined every {PIPELINE_LATENCY_CUTOFF:g} adder delays, estimated as "
              f"{DA_REG_TO_SYN_FF} x its register bits (fitted to yosys, benchmarks/results/cost_fidelity_yosys.md); "
              "needs da4ml", default=False)
register_cost("da_depth", _da_depth, "min", "da4ml adder depth of the quantized model (latency proxy, in adder "
              "delays); needs da4ml", default=False)

from ._rtl import YOSYS_SOURCE, SynthesisError, simulate, synthesize, write_rtl  # noqa: E402

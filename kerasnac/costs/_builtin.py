"""Built-in costs: reductions of the layer table (see :func:`layer_table` and ``_fpga``)."""

from __future__ import annotations

from ._fpga import DSP_LUT_EQUIVALENT
from ._registry import Cost, _add


def _column_sum(col):
    def total(table) -> float:
        return float(table[col].sum())

    total.__name__ = f"total_{col}"
    return total


def _latency(table) -> float:
    """Longest input→output path in cycles (= the sum of the layers' cycles for a chain)."""
    return float(table["ready_cycle"].max()) if len(table) else 0.0


def _ebops(table) -> float:
    return float(table["lut"].sum() + DSP_LUT_EQUIVALENT * table["dsp"].sum())


_SUMS = {
    "params": "number of parameters (all weights)",
    "nonzero_params": "parameters minus pruned kernel weights",
    "macs": "multiply-accumulates per inference (exact conv count)",
    "bops": "bit operations, Baskin et al. 1804.10969: n*((1-s)*b_w*b_a + b_w + b_a + log2 f)",
    "lut": "estimated LUTs (hls4ml, HGQ surrogate b_w*b_a per LUT multiplier + adder trees)",
    "ff": "estimated flip-flops (layer input/output registers; product registers if RF > 1)",
    "dsp": "estimated DSP48 blocks (multiplications with >= 9-bit weights)",
    "bram": "estimated BRAM36 blocks (Resource strategy only)",
}

for _name, _desc in _SUMS.items():
    _add(Cost(_name, _column_sum(_name), "min", _desc, uses_table=True), builtin=True)
_add(Cost("latency_cycles", _latency, "min",
          "estimated clock cycles along the longest path of the model", uses_table=True), builtin=True)
_add(Cost("ebops", _ebops, "min", "HGQ-style effective BOPs: LUT + 55 * DSP", uses_table=True), builtin=True)

"""First-order FPGA resource and latency estimates for hls4ml firmware (Vivado/Vitis backends).

These are *estimates* meant to rank architectures during a search, not to replace synthesis.
They follow, to first order:

* hls4ml's own estimators in ``hls4ml/optimization/dsp_aware_pruning/objectives/vivado_objectives.py``
  (hls4ml 1.3): a multiplication whose weight is narrower than 9 bits is not mapped to a DSP;
  ``DSP = n_weights // RF``; Resource-strategy BRAM ``= ceil(n_w * b_w / (RF * 36))``; FFs in
  io_parallel/Latency ``= n_w * b_w + n_out * b_out``.
* HGQ's LUT surrogate (Sun et al., arXiv 2405.00645): a LUT-based multiplication costs ``~ b_w * b_a``
  LUTs, and ``EBOPs ~ LUT + 55 * DSP``.
* The RF == 1 FF formula (inputs and outputs registered, no register per product; unlike hls4ml's
  FF estimator above) follows ``benchmarks/results/cost_fidelity.md``: with a register per product
  the estimate was ~13x the FF of Fahim et al. 2021 (arXiv:2103.05579, Table 1) and rank-uncorrelated
  with rule4ml (Spearman 0.03); without it, 0.8-1.1x and 0.59. rule4ml also predicts more FF at
  RF > 1 than at RF = 1.

Formulas, per layer with ``n_w`` kernel weights (``nnz`` of them non-zero), fan-in ``f``, weight and
input widths ``b_w``, ``b_a``, reuse factor ``RF`` and ``P`` output positions that share the kernel
(output pixels of a conv, set elements of a Dense applied to a set; hls4ml io_parallel with
parallelization factor 1)::

    n_mult   = nnz                 (Latency strategy, or Resource with RF == 1: synthesis removes
                                    multiplications by constant zero)
             = n_w                 (Resource strategy with RF > 1: weights are read from BRAM, so
                                    zeros are still multiplied)
    n_phys   = ceil(n_mult / RF)   physical multipliers (shared over the P positions)
    acc      = b_w + b_a + ceil(log2 f)                    accumulator width (bits)
    DSP      = n_phys * ceil(max(b_w, b_a)/27) * ceil(min(b_w, b_a)/18)   if b_w >= 9, else 0
               (a DSP48E2 multiplies 27 x 18 bits; wider operands need several)
    LUT      = n_phys * b_w * b_a  [only if b_w < 9: LUT multipliers, HGQ]
             + n_phys * acc        [adder tree: one addition per product, ~1 LUT per accumulator bit]
    FF       = n_in_regs * b_a        (RF == 1: the fully unrolled layer registers its inputs and
             + n_out_regs * acc        outputs, not each product)
             = n_phys * (b_w + b_a)   (RF > 1: a register per physical product, which holds partial
             + n_out_regs * acc        results across the RF cycles)
               n_out_regs: the whole output tensor for io_parallel, one position (C_out values) for
               io_stream; n_in_regs = f * P (io_parallel) or f (io_stream)
    BRAM36   = 0                                  (Latency strategy, or RF == 1: weights in logic)
             = ceil(n_w * b_w / (RF * 36)) * ceil(RF / 1024)   (Resource, RF > 1: weights are stored as
               RF words of n_w*b_w/RF bits; a BRAM36 is 36 bits wide x 1024 deep)
    cycles   = P * RF + ceil(log2 f) + 1          (io_parallel: one position per RF cycles, then the
                                                   adder tree and an output register)
               P_in * RF + ceil(log2 f) + 1       (io_stream conv: one *input* pixel per RF cycles)

Element-wise layers (activations, Add, pooling) cost a few LUT per bit per element and one cycle.

``strategy="distributed_arithmetic"`` (da4ml adder graphs, no DSPs; see ``_distributed_arithmetic``)
counts adders from the canonical-signed-digit form of the quantized weights (and of an unfused batch
norm's scale and shift; a conv's taps on 'same' padding add nothing), ``DA_LUT_PER_ADDER_BIT * (b_a + DA_ADDER_WEIGHT_BITS * b_w +
DA_ADDER_EXTRA_BITS)`` LUT each, and scales
the element-wise LUTs by ``DA_ELEMENTWISE_SCALE``; these constants were fitted to yosys logic
synthesis (not place and route) of da4ml designs, on the fit half of
``benchmarks/results/cost_fidelity_yosys.md``, which reports the held-out half. It needs no da4ml;
the ``da_lut``/``da_syn_lut`` costs of ``kerasnac.hardware`` trace the model with da4ml and rank the
synthesized LUTs better.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Weights at least this wide are multiplied in DSPs (hls4ml ``VivadoDSPEstimator``: width < 9 → no DSP).
DSP_MIN_WEIGHT_BITS = 9
#: DSP48E2 multiplier port widths (UltraScale/UltraScale+).
DSP_PORT_WIDE, DSP_PORT_NARROW = 27, 18
#: A BRAM36 block: 36 bits wide, 1024 words deep (36 Kbit).
BRAM36_WIDTH, BRAM36_DEPTH = 36, 1024
#: HGQ's LUT-equivalent of one DSP in EBOPs = LUT + 55·DSP.
DSP_LUT_EQUIVALENT = 55

STRATEGIES = ("latency", "resource", "distributed_arithmetic")
#: Canonical-signed-digit density: a b-bit constant has about b/3 non-zero digits (Reitwiesner 1960);
#: each digit beyond the first of a column is one adder of the distributed-arithmetic graph
CSD_DIGITS_PER_BIT = 1 / 3
#: LUT per adder bit of da4ml's adder graphs after yosys synth_xilinx; this and the two below were
#: fitted on the fit half of benchmarks/results/cost_fidelity_yosys.md (``fit_da_constants`` in
#: benchmarks/_yosys_report.py: the element-wise factors on a grid for the best rank correlation,
#: then this one for a median estimate / synthesized of 1)
DA_LUT_PER_ADDER_BIT = 0.637
#: an adder of two shifted copies only adds where they overlap (the low bits of the shifted one are
#: wires), so its width is about the input width plus some growth bits, not b_a + b_w (fitted: 4
#: of the grid 0-12; 2 before the fit)
DA_ADDER_EXTRA_BITS = 4
#: ... plus this fraction of the weight width (the shifts of a weight's digits spread the copies
#: over up to b_w more bits)
DA_ADDER_WEIGHT_BITS = 0.0
#: LUT of the element-wise parts of a distributed-arithmetic design relative to ``elementwise`` and
#: ``reduction`` (1 LUT per bit per element/operation): a quantized ReLU of an adder output is a
#: truncation and a few gates; fitted on the grid 0-1 (best rank correlation on the fit half) to
#: 0.05 and 0: next to the adders they hardly show in these designs, which does not make them free
DA_ELEMENTWISE_SCALE = {"activation": 0.05, "reduction": 0.0}
IO_TYPES = ("io_parallel", "io_stream")


@dataclass(frozen=True)
class HLSConfig:
    """The hls4ml settings that the estimates depend on."""

    reuse_factor: int = 1
    strategy: str = "latency"
    io_type: str = "io_parallel"

    def __post_init__(self):
        rf = self.reuse_factor
        try:
            ok = not isinstance(rf, bool) and int(rf) == rf and rf >= 1
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"reuse_factor must be an integer >= 1, got {rf!r}")
        object.__setattr__(self, "reuse_factor", int(rf))
        strategy = str(self.strategy).lower()
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        object.__setattr__(self, "strategy", strategy)
        io_type = str(self.io_type).lower()
        if io_type not in IO_TYPES:
            raise ValueError(f"io_type must be one of {IO_TYPES}, got {self.io_type!r}")
        object.__setattr__(self, "io_type", io_type)


def log2_ceil(n: float) -> int:
    """``ceil(log2 n)`` for n >= 1 (0 for n <= 1): depth of a binary adder tree over n terms."""
    return int(math.ceil(math.log2(n))) if n > 1 else 0


def accumulator_bits(w_bits: float, a_bits: float, fan_in: float) -> int:
    """Width of an exact sum of ``fan_in`` products of ``w_bits`` x ``a_bits`` numbers."""
    return int(math.ceil(w_bits + a_bits)) + log2_ceil(fan_in)


def dsp_per_multiplier(w_bits: float, a_bits: float) -> int:
    """DSP48E2 blocks for one ``w_bits x a_bits`` multiplication (27 x 18 bit ports); 0 if ``w_bits < 9``."""
    if w_bits < DSP_MIN_WEIGHT_BITS:
        return 0
    wide, narrow = max(w_bits, a_bits), min(w_bits, a_bits)
    return int(math.ceil(wide / DSP_PORT_WIDE) * math.ceil(narrow / DSP_PORT_NARROW))


def zero() -> dict:
    return {"dsp": 0, "lut": 0, "ff": 0, "bram": 0, "latency_cycles": 0}


def multiply_accumulate(*, n_weights: int, n_nonzero: int, fan_in: int, w_bits: float, a_bits: float,
                        n_out: int, positions: int = 1, in_positions: int | None = None,
                        cfg: HLSConfig, has_weights: bool = True, da_adders: float | None = None) -> dict:
    """Resources of a (possibly kernel-shared) matrix-vector layer; see the module docstring.

    ``has_weights=False`` for products of two activations (Dot, Multiply): nothing is stored in BRAM.
    """
    if cfg.strategy == "distributed_arithmetic" and has_weights:
        return _distributed_arithmetic(n_nonzero=n_nonzero, fan_in=fan_in, w_bits=w_bits, a_bits=a_bits,
                                       n_out=n_out, positions=positions, adders_per_position=da_adders)
    rf = cfg.reuse_factor
    stores_weights = has_weights and cfg.strategy == "resource" and rf > 1
    n_mult = n_weights if stores_weights else n_nonzero
    n_phys = int(math.ceil(n_mult / rf))
    acc = accumulator_bits(w_bits, a_bits, fan_in)
    per_dsp = dsp_per_multiplier(w_bits, a_bits)
    dsp = n_phys * per_dsp
    lut = n_phys * acc + (0 if per_dsp else int(math.ceil(n_phys * w_bits * a_bits)))
    out_regs = n_out if cfg.io_type == "io_parallel" else int(math.ceil(n_out / max(positions, 1)))
    if rf == 1:
        in_regs = fan_in * (positions if cfg.io_type == "io_parallel" else 1)
        ff = int(math.ceil(in_regs * a_bits)) + out_regs * acc
    else:
        ff = int(math.ceil(n_phys * (w_bits + a_bits))) + out_regs * acc
    bram = 0
    if stores_weights and n_weights:
        bram = int(math.ceil(n_weights * w_bits / (rf * BRAM36_WIDTH)) * math.ceil(rf / BRAM36_DEPTH))
    steps = positions
    if cfg.io_type == "io_stream" and in_positions is not None and positions > 1:
        steps = in_positions
    cycles = steps * rf + log2_ceil(fan_in) + 1
    return {"dsp": dsp, "lut": lut, "ff": ff, "bram": bram, "latency_cycles": cycles}


def _distributed_arithmetic(*, n_nonzero: int, fan_in: int, w_bits: float, a_bits: float, n_out: int,
                            positions: int, adders_per_position: float | None = None) -> dict:
    """A constant-matrix-vector product as an adder graph (da4ml; hls4ml's ``distributed_arithmetic``
    strategy), unrolled over all ``positions``: each non-zero signed digit of a weight (its canonical
    signed-digit form) is a shifted copy of its input, and every copy but one per output is an adder
    about ``b_a + DA_ADDER_WEIGHT_BITS * b_w + DA_ADDER_EXTRA_BITS`` bits wide. ``adders_per_position`` counts them from the actual weights (see
    ``_layers``); without it, ``b_w/3`` digits per non-zero weight. No DSPs, no weight storage; inputs
    and outputs registered; depth = the adder tree over the digits of one output."""
    per_pos_out = max(int(math.ceil(n_out / max(positions, 1))), 1)
    digits = max(n_nonzero * max(w_bits * CSD_DIGITS_PER_BIT, 1.0), 0.0)
    if adders_per_position is None:
        adders_per_position = max(digits - per_pos_out, 0.0)
    else:
        digits = adders_per_position + per_pos_out
    adders = positions * adders_per_position
    acc = accumulator_bits(w_bits, a_bits, fan_in)
    width = a_bits + DA_ADDER_WEIGHT_BITS * w_bits + DA_ADDER_EXTRA_BITS
    lut = int(math.ceil(DA_LUT_PER_ADDER_BIT * adders * width))
    ff = int(math.ceil(fan_in * positions * a_bits)) + n_out * acc
    depth = log2_ceil(max(digits / per_pos_out, 1.0))
    return {"dsp": 0, "lut": lut, "ff": ff, "bram": 0, "latency_cycles": depth + 1}


def elementwise(n: int, bits: float, *, lut_per_bit: float = 1.0, cycles: int = 1) -> dict:
    """An element-wise operation on ``n`` values of ``bits`` bits (ReLU/clip, adder, cast).

    ~``lut_per_bit`` LUT per bit per element and an output register per element.
    """
    return {"dsp": 0, "lut": int(math.ceil(n * bits * lut_per_bit)), "ff": int(math.ceil(n * bits)),
            "bram": 0, "latency_cycles": cycles}


def reduction(n_out: int, k: int, bits: float) -> dict:
    """``n_out`` reductions (max or sum) over ``k`` values each: a tree of ``k - 1`` comparators/adders
    of ``bits`` bits (~1 LUT per bit each), ``ceil(log2 k)`` deep (at least one cycle)."""
    ops = n_out * max(k - 1, 0)
    return {"dsp": 0, "lut": int(math.ceil(ops * bits)), "ff": int(math.ceil(n_out * bits)), "bram": 0,
            "latency_cycles": max(1, log2_ceil(k))}


def softmax(n: int, bits: float, table_bits: int = 18) -> dict:
    """hls4ml's Latency softmax on ``n`` values: exp look-up tables, an adder tree, an inverse look-up
    and ``n`` multiplications (18-bit table entries → DSPs). About 3 cycles plus the adder tree."""
    return {"dsp": n * dsp_per_multiplier(table_bits, table_bits),
            "lut": int(math.ceil(n * (bits + table_bits) + max(n - 1, 0) * table_bits)),
            "ff": int(math.ceil(n * table_bits)), "bram": 0, "latency_cycles": 3 + log2_ceil(n)}


def scale_lut(resources: dict, factor: float) -> dict:
    """``resources`` with its LUT count multiplied by ``factor`` (rounded up)."""
    return dict(resources, lut=int(math.ceil(resources["lut"] * factor)))


def add(*parts: dict) -> dict:
    """Sum resources and latencies of sub-operations executed one after the other."""
    out = zero()
    for p in parts:
        for k in out:
            out[k] += p[k]
    return out

"""What computes ``lut`` and ``ff`` under ``strategy="distributed_arithmetic"``: the cost option ``estimator``.

* ``"da4ml"`` (the default when da4ml is importable): the model is traced with da4ml
  (:mod:`kerasnac.hardware`, one trace per model and weights, shared with ``da_lut``/``da_depth``)
  and ``lut`` = ``da_syn_lut`` (``DA_LUT_TO_SYN_LUT`` x da4ml's cost), ``ff`` = ``da_ff`` (the
  pipeline registers of da4ml's RTL x ``DA_REG_TO_SYN_FF``), both fitted to yosys logic synthesis
  of da4ml designs (``benchmarks/results/cost_fidelity_yosys.md``: held-out Spearman 0.97 for both,
  against 0.84 and 0.10 for the analytical formulas). The model inputs are ``ap_fixed<input_bits, 6>``
  (``input_bits`` 16: hls4ml's ``ap_fixed<16,6>``, the inputs ``Synthesis`` builds by default).
* ``"analytical"``: the layer table's formulas (``kerasnac.costs._fpga``), no da4ml needed and
  faster: a cost evaluation took 0.015 s against 0.10 s with da4ml in an 8-trial search on a
  16-unit test space; a da4ml trace took 0.4-1.3 s for 350-640-parameter jet models and 7-23 s for
  the 4.4k-parameter hls4ml jet MLP (``benchmarks/results/da_cost_speed.txt``).

With ``"da4ml"`` a model da4ml cannot trace (a layer ``kerasnac.hardware`` does not support, two
inputs) gets the analytical numbers, with one warning per cause; so does every model when
da4ml is not installed and no estimator was given. The other costs (``dsp`` = 0, ``bram`` = 0,
``latency_cycles``, ``ebops`` = the table's LUT + 55 x DSP) stay the layer table's under every
estimator, and ``layer_table`` itself is always analytical. Under ``"latency"``/``"resource"`` the
estimator is always analytical (da4ml describes the distributed-arithmetic design only).
"""

from __future__ import annotations

import warnings

ESTIMATORS = ("da4ml", "analytical")
DA = "distributed_arithmetic"
#: options of :func:`kerasnac.costs.evaluate` that ``layer_table`` does not take
EVALUATE_ONLY = ("estimator",)
#: the costs that the da4ml estimator replaces
DA4ML_COSTS = ("lut", "ff")
_WARNED: set = set()


def da4ml_available() -> bool:
    try:
        import da4ml.trace  # noqa: F401
    except ImportError:
        return False
    return True


def table_options(opts: dict) -> dict:
    """``opts`` without the options that only :func:`kerasnac.costs.evaluate` takes (for ``layer_table``)."""
    return {k: v for k, v in opts.items() if k not in EVALUATE_ONLY}


def check(strategy, estimator, sparsity=None) -> None:
    """Raise ``ValueError`` for an unknown estimator, ``"da4ml"`` under a strategy it does not describe,
    or ``"da4ml"`` with a ``sparsity`` (which describes other weights than the ones it traces)."""
    if estimator is None:
        return
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS} (or None: da4ml when installed, under "
                         f"strategy='distributed_arithmetic'), got {estimator!r}")
    if estimator == "da4ml" and str(strategy).lower() != DA:
        raise ValueError(f"estimator='da4ml' describes the distributed-arithmetic design; it needs "
                         f"strategy='distributed_arithmetic', got strategy={strategy!r}. Drop the estimator "
                         f"or set that strategy.")
    if estimator == "da4ml" and sparsity is not None:
        raise ValueError("estimator='da4ml' traces the model's actual weights; sparsity= describes other weights. "
                         "Use estimator='analytical' with sparsity=, or prune the model.")


def resolve(strategy, estimator, sparsity=None) -> str:
    """The estimator :func:`kerasnac.costs.evaluate` uses: ``estimator`` if given, else ``"da4ml"``
    under the DA strategy when da4ml is importable and no ``sparsity`` overrides the weights."""
    check(strategy, estimator, sparsity)
    if estimator is not None:
        return estimator
    if str(strategy).lower() != DA or sparsity is not None:
        return "analytical"
    if not da4ml_available():
        warn_once("missing", "strategy='distributed_arithmetic': da4ml is not installed, so lut and ff are the "
                  "analytical estimates (pip install 'kerasnac[da]' for the yosys-calibrated da4ml ones).")
        return "analytical"
    return "da4ml"


def warn_once(key, message: str) -> None:
    if key in _WARNED:
        return
    _WARNED.add(key)
    warnings.warn(message, UserWarning, stacklevel=3)


def input_kif(input_bits) -> tuple:
    """The (sign, integer, fractional) bits of the model input for the da4ml trace: ``ap_fixed<b, 6>``
    for ``b >= 6`` input bits (16: hls4ml's default ``ap_fixed<16,6>``), ``ap_fixed<b, b>`` below."""
    if isinstance(input_bits, dict):  # {input name: bits}: the trace of a model with several inputs raises
        input_bits = max(input_bits.values())
    b = int(round(float(input_bits)))
    if b < 1:
        raise ValueError(f"input_bits must be >= 1 for the da4ml estimator, got {input_bits!r}")
    integer = min(b, 6)
    return (1, integer - 1, b - integer)


def da4ml_resources(model, input_bits=16) -> dict | None:
    """``{"lut": da_syn_lut, "ff": da_ff}`` of ``model`` from its da4ml trace, or ``None`` (with one
    warning per layer class, or for models with several inputs) when da4ml cannot trace it."""
    import re

    from .. import hardware

    kif = input_kif(input_bits)
    try:
        vals = hardware.da_costs(model, kif)
    except hardware.UnsupportedLayerError as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        cls = re.search(r"of class (\w+)", first)
        warn_once(("untraceable", cls.group(1) if cls else type(exc).__name__),
                  f"estimator='da4ml': {first[:300]} -> lut and ff of such models are the analytical estimates "
                  "(both are calibrated to yosys; estimator='analytical' uses them for every model).")
        return None
    return {"lut": vals["da_syn_lut"], "ff": vals["da_ff"]}

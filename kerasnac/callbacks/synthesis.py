"""Synthesis: da4ml Verilog for each candidate, yosys logic synthesis, and a bit-exact RTL check.

Example::

    from kerasnac.callbacks import Synthesis, Candidate
    row = Synthesis().on_candidate(Candidate(model, "t07", {}, validation_data=(x_val, y_val),
                                             output_dir="out/t07"))
    row["syn_lut"], row["rtl_agreement"], row["syn_source"]

For each candidate: trace the model with da4ml (``kerasnac.hardware``), write pipelined Verilog into
``<candidate dir>/rtl``, then

* when ``yosys`` is on PATH: ``synth_xilinx -flatten -noiopad -family xcup`` and its cell counts
  ``syn_lut, syn_ff, syn_carry, syn_dsp`` (logic synthesis, **not place and route**);
  without yosys: ``syn_skipped`` says why, and no ``syn_*`` numbers;
* on the first ``n_samples`` validation inputs, put on the input grid: the RTL's outputs (verilator
  when it is on PATH, else da4ml's interpreter of the traced graph) against the Keras model's
  outputs at the same point (the logits; a final softmax is not in the hardware):
  ``rtl_agreement`` = the fraction of samples whose outputs are equal bit for bit,
  ``rtl_label_agreement`` = equal argmax (classification), ``rtl_max_abs_diff``, ``rtl_check`` = what ran.

Each column says where it comes from: ``syn_source`` names what produced the ``syn_*`` columns (yosys
logic synthesis of the da4ml design, not place and route) and ``da_lut``/``da_depth`` are da4ml's cost
of the traced graph. This callback never writes ``resource_source``: that column belongs to
:class:`HLS4MLExport` and describes its ``lut, ff, dsp, bram, latency_cycles`` (``"synthesis"``: the
vendor HLS report, ``"estimated"``: kerasnac's estimate at the export's strategy), so a final table with both
callbacks says what produced each number. A failure of one candidate is recorded in ``syn_error``
and never stops the others.
"""

from __future__ import annotations

import os
import shutil
import time

import numpy as np

from ._base import Callback, Candidate, register_callback


@register_callback("synthesis")
class Synthesis(Callback):
    """da4ml RTL + yosys ``synth_xilinx`` + RTL-vs-Keras check for every candidate.

    Args:
        output_dir: project directory; relative: inside the candidate's directory, absolute:
            ``<output_dir>/<candidate_id>``. Folders are marked as kerasnac's; a foreign folder is
            never deleted (an error names it).
        input_kif: (sign, integer, fractional) bits of the inputs, default ``ap_fixed<16,6>``.
        latency_cutoff: adder delays per pipeline stage of the Verilog (registers between stages);
            the cost ``da_ff`` (and ``ff`` of a search with this callback) counts the registers at
            the default, ``kerasnac.hardware.PIPELINE_LATENCY_CUTOFF``.
        n_samples: validation inputs for the RTL check.
        synth, simulate: run yosys / verilator; ``None``: when the tool is on PATH.
        timeout: seconds allowed for one yosys or verilator run.
    """

    name = "synthesis"
    #: the design built is da4ml's distributed arithmetic: a KerasNAC search with this callback ranks
    #: by the DA costs (``lut``/``ff`` from the model's da4ml trace, see ``kerasnac.costs._estimator``)
    cost_strategy = "distributed_arithmetic"

    def __init__(self, output_dir: str = "rtl", input_kif=(1, 5, 10), latency_cutoff: float = 5.0,
                 n_samples: int = 50, synth: bool | None = None, simulate: bool | None = None,
                 timeout: float = 1800):
        if os.path.normpath(str(output_dir)) in (".", ""):
            raise ValueError("output_dir must name a (sub)directory for the RTL projects, e.g. 'rtl'")
        if int(n_samples) < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples!r}")
        if len(tuple(input_kif)) != 3:
            raise ValueError(f"input_kif must be (sign, integer, fractional) bits, got {input_kif!r}")
        self.output_dir, self.input_kif = output_dir, tuple(int(v) for v in input_kif)
        self.latency_cutoff, self.n_samples, self.timeout = float(latency_cutoff), int(n_samples), timeout
        self.synth, self.simulate = synth, simulate

    def project_dir(self, candidate: Candidate) -> str:
        if os.path.isabs(self.output_dir):
            return os.path.join(self.output_dir, candidate.candidate_id)
        return candidate.path(self.output_dir)

    @staticmethod
    def _enabled(flag, tool: str) -> bool:
        return shutil.which(tool) is not None if flag is None else bool(flag)

    def on_candidate(self, candidate: Candidate) -> dict:
        from .. import hardware

        row: dict = {}
        stage = "trace"
        try:
            t0 = time.perf_counter()
            traced = hardware.trace(candidate.model, self.input_kif)
            row.update(da_lut=traced.cost, da_depth=traced.depth, da_seconds=round(time.perf_counter() - t0, 3))
            stage = "rtl"
            prj = hardware.write_rtl(traced, self.project_dir(candidate), latency_cutoff=self.latency_cutoff)
            row["rtl_dir"] = prj
            if candidate.validation_data is not None:
                stage = "rtl check"
                row.update(self.check(candidate, traced, prj))
            if self._enabled(self.synth, "yosys"):
                stage = "yosys"
                row.update(hardware.synthesize(prj, timeout=self.timeout))
            else:
                row["syn_skipped"] = ("yosys not on PATH (apt-get install yosys)" if self.synth is None
                                      else "synth=False")
        except Exception as exc:  # noqa: BLE001 - recorded per candidate, the others go on
            first = (str(exc).strip().splitlines() or [""])[0]
            row["syn_error"] = f"{stage} failed for {candidate.candidate_id!r}: {type(exc).__name__}: {first}"[:400]
        return row

    def check(self, candidate: Candidate, traced, prj: str) -> dict:
        """RTL (verilator, else da4ml's interpreter) vs Keras on validation inputs on the input grid."""
        from .. import hardware
        from .._keras import keras

        x = np.asarray(candidate.validation_data[0])[: self.n_samples]
        xq = hardware.quantize_inputs(x, self.input_kif)
        probe = keras.Model(candidate.model.inputs, candidate.model.get_layer(traced.output_layer).output)
        yk = np.asarray(probe.predict(xq, verbose=0), np.float64).reshape(len(xq), -1)
        if self._enabled(self.simulate, "verilator"):
            yr, how = hardware.simulate(traced, prj, xq, timeout=self.timeout), "verilator"
        else:
            yr, how = np.asarray(traced.comb.predict(xq.reshape(len(xq), -1)), np.float64), \
                "da4ml interpreter (traced graph; verilator not on PATH)"
        yr = yr.reshape(yk.shape)
        out = {"rtl_check": how, "rtl_n": int(len(xq)),
               "rtl_agreement": float(np.mean(np.all(yr == yk, axis=1))),
               "rtl_max_abs_diff": float(np.max(np.abs(yr - yk)))}
        if candidate.task == "classification" and yk.shape[1] > 1:
            out["rtl_label_agreement"] = float(np.mean(yr.argmax(1) == yk.argmax(1)))
        return out

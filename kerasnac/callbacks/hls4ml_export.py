"""HLS4MLExport: convert each candidate with hls4ml, check the C simulation against Keras, and report
FPGA resources (from HLS synthesis when the tools are installed, otherwise kerasnac's estimates).

Example::

    from kerasnac.callbacks import HLS4MLExport, Candidate
    row = HLS4MLExport(part="xcvu13p-flga2577-2-e").on_candidate(
        Candidate(model, "t07", {"trial_id": "07"}, validation_data=(x_val, y_val), output_dir="out/t07"))
    row["csim_agreement"], row["lut"], row["resource_source"]

Precision choices are documented in :mod:`kerasnac.callbacks._hls_config`.

Failures: by default (``on_error="record"``) a conversion, g++ compile, C-simulation or synthesis
failure does **not** raise. The candidate's row gets ``hls_error`` (stage, cause and the first g++
error lines), ``hls_stage`` and ``csim_ok=False`` (unless the check had passed before a synthesis
failure), and still carries the estimated resources, so a
model that hls4ml cannot build stays visible (and filterable) in the results table. With
``on_error="raise"`` an :class:`HLS4MLExportError` is raised instead (the pipeline then records
``hls4ml_error``).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import shutil
import time
import warnings

import numpy as np

from ..errors import HLS4MLExportError  # noqa: F401  (re-exported; every error class is in errors.py)
from .. import _rundir
from ._base import Callback, Candidate, register_callback
from . import _csim, _hls_config, _hls_layers, _hls_report

DEFAULT_PART = "xcvu13p-flga2577-2-e"
#: executable hls4ml's ``build()`` needs, per backend
SYNTH_TOOLS = {"vitis": "vitis-run", "vivado": "vivado_hls"}
RESOURCE_COLUMNS = ("lut", "ff", "dsp", "bram", "latency_cycles")


DA = "distributed_arithmetic"
#: Keras layer classes with weights that hls4ml 1.3's distributed-arithmetic pass cannot implement
#: (``hls4ml/backends/vivado/passes/distributed_arithmetic.py``: Dense, Conv1D, Conv2D only; RNN and
#: depthwise families raise there, after conversion)
_DA_UNSUPPORTED = ("DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "Conv1DTranspose",
                   "Conv2DTranspose", "Conv3D", "SimpleRNN", "LSTM", "GRU", "EinsumDense")


def _check_da_settings(reuse_factor) -> None:
    """hls4ml 1.3 runs ``strategy="distributed_arithmetic"`` with reuse factor 1 and da4ml installed."""
    if reuse_factor != 1:
        raise ValueError(f"strategy='distributed_arithmetic' needs reuse_factor=1 (hls4ml 1.3 raises for any other "
                         f"value), got reuse_factor={reuse_factor!r}")
    try:
        import da4ml  # noqa: F401
    except ImportError:
        raise ImportError("strategy='distributed_arithmetic' needs da4ml: pip install 'kerasnac[da]'") from None


def da_unsupported_layers(model) -> None:
    """Raise ``HLS4MLExportError`` (stage ``config``) naming layers hls4ml's DA pass cannot implement."""
    from .._keras import keras

    bad = []
    for layer in model.layers:
        inner = layer.layer if isinstance(layer, keras.layers.Wrapper) else layer
        names = {c.__name__ for c in type(inner).__mro__}
        hit = names & set(_DA_UNSUPPORTED)
        if hit:
            bad.append(f"{layer.name} ({type(inner).__name__})")
    if bad:
        raise HLS4MLExportError(
            f"hls4ml's strategy='distributed_arithmetic' implements Dense, Conv1D and Conv2D layers only; this "
            f"model has {', '.join(bad)}. Use strategy='Latency' for it.", "config")




def keras_layer_outputs(model, x, names) -> dict:
    """Outputs of the named layers of ``model`` on ``x`` (like ``hls4ml.model.profiling.get_ymodel_keras``,
    which cannot be imported without seaborn)."""
    from .._keras import keras

    layers = [layer for layer in model.layers if layer.name in set(names)
              and not isinstance(layer, keras.layers.InputLayer)]
    if not layers:
        return {}
    probe = keras.Model(model.inputs, [layer.output for layer in layers])
    outs = probe.predict(x, verbose=0, batch_size=256)
    if len(layers) == 1:
        outs = [outs]
    return {layer.name: np.asarray(o) for layer, o in zip(layers, outs)}


def label_agreement(y_keras, y_hls) -> dict:
    """Label agreement of two (n, classes) outputs.

    ``csim_agreement``: the Keras label is among the firmware's top labels. The softmax tables
    have a finite resolution (see ``_hls_config``): logits closer than 1/128 get *equal*
    probabilities, and then the firmware cannot rank those classes (an argmax on the FPGA takes
    the lowest index). Such ties count as agreement if the Keras label is one of the tied classes;
    ``csim_ties`` is the fraction of samples with a tied maximum and ``csim_strict_agreement``
    compares plain ``argmax`` labels.
    """
    yk = np.asarray(y_keras).reshape(len(y_keras), -1)
    yh = np.asarray(y_hls).reshape(len(y_hls), -1)
    label = yk.argmax(-1)
    top = yh == yh.max(-1, keepdims=True)
    return {"csim_agreement": float(np.mean(top[np.arange(len(label)), label])),
            "csim_strict_agreement": float(np.mean(label == yh.argmax(-1))),
            "csim_ties": float(np.mean(top.sum(-1) > 1))}


def _error_lines(log: str, limit: int = 4) -> str:
    lines = [ln.strip() for ln in log.splitlines() if re.search(r"\berror\b", ln, re.IGNORECASE)]
    return " | ".join(lines[:limit])


@register_callback("hls4ml")
class HLS4MLExport(Callback):
    """Convert a candidate with hls4ml, compile the C simulation (g++), compare it with Keras.

    Args:
        output_dir: project directory. Relative: inside the candidate's directory
            (``<candidate.output_dir>/hls``). Absolute: ``<output_dir>/<candidate_id>``.
        part, clock_period, backend ("Vitis" or "Vivado"), io_type ("io_parallel"/"io_stream"),
            strategy ("Latency"/"Resource", or "distributed_arithmetic": hls4ml 1.3's da4ml adder
            graphs for Dense/Conv1D/Conv2D, reuse factor 1 only), reuse_factor: the hls4ml settings
            (model-wide and for every layer).
        n_samples: how many validation inputs to simulate (the first ``n_samples``).
        synth: run HLS synthesis (``hls_model.build``). ``None``: only if the backend's tool
            (``vitis-run`` for Vitis, ``vivado_hls`` for Vivado) is on PATH.
        trace_on_mismatch: when the check fails, recompile with hls4ml's layer trace and report
            the first layer whose output deviates from Keras by more than ``trace_tolerance``
            (max |hls - keras| relative to max |keras| of that layer).
        agreement_threshold: classification passes if the labels agree on at least this fraction
            of the samples (see :func:`label_agreement` for ties of the softmax tables).
        regression_tolerance: regression passes if the mean absolute difference is at most this;
            ``None``: 1% of the standard deviation of the Keras outputs (at least 1e-3).
        input_precision: ``"auto"`` (from the validation data, see ``_hls_config``), an hls4ml
            precision string, or ``None`` for hls4ml's ``ap_fixed<16,6>``; ``input_bits`` is the
            minimum total width for ``"auto"``.
        float_bits: width of float weights (layers without a quantizer, BatchNormalization).
        softmax_table_size: exp/inverse table size of softmax layers.
        csim_timeout: seconds allowed for one C-simulation run. The simulation library runs in a
            child process (see ``_csim``), so a crash of it fails only this candidate.
        layer_config: ``{layer_name: {hls4ml LayerName entries}}`` merged over kerasnac's choices,
            e.g. ``{"head_dense": {"Precision": {"result": "fixed<16,6>"}, "ReuseFactor": 4}}``.
        on_error: ``"record"`` (return ``csim_ok=False`` and ``hls_error``) or ``"raise"``.

    Returns (``on_candidate``) columns: ``hls_dir, hls_input_precision, csim_n, csim_ok,
    csim_agreement, csim_strict_agreement, csim_ties`` and, with labels, ``csim_accuracy,
    keras_accuracy`` (classification) or ``csim_max_abs_diff, csim_mean_abs_diff`` (regression;
    classification reports them on the probabilities too), ``csim_first_bad_layer`` and
    ``csim_first_bad_err`` (after a failed check), ``hls_convert_s, hls_compile_s``,
    ``resource_source`` ("synthesis" or "estimated"), ``lut, ff, dsp, bram`` (BRAM36 units),
    ``latency_cycles``, plus ``bram_18k, latency_best, interval_min, interval_max`` after synthesis,
    and ``hls_error, hls_stage`` after a failure; ``hls_warnings`` names layers where hls4ml
    computes differently from QKeras and no precision can repair it (see ``_hls_config.known_mismatches``).
    """

    def __init__(self, output_dir: str = "hls", part: str = DEFAULT_PART, io_type: str = "io_parallel",
                 strategy: str = "Latency", reuse_factor: int = 1, clock_period: float = 5,
                 backend: str = "Vitis", n_samples: int = 1000, synth: bool | None = None,
                 trace_on_mismatch: bool = True, agreement_threshold: float = 0.995,
                 regression_tolerance: float | None = None, input_precision: str | None = "auto",
                 input_bits: int = 16, float_bits: int = 16, softmax_table_size: int = 1024,
                 trace_tolerance: float = 0.05, layer_config: dict | None = None, csim_timeout: float = 900,
                 project_name: str = "myproject", on_error: str = "record"):
        if io_type not in ("io_parallel", "io_stream"):
            raise ValueError(f"io_type must be 'io_parallel' or 'io_stream', got {io_type!r}")
        if str(strategy).lower() == "da":
            strategy = "distributed_arithmetic"
        if str(strategy).lower() not in ("latency", "resource", "distributed_arithmetic"):
            raise ValueError(f"strategy must be 'Latency', 'Resource' or 'distributed_arithmetic', got {strategy!r}")
        if str(strategy).lower() == "distributed_arithmetic":
            _check_da_settings(reuse_factor)
        if str(backend).lower() not in SYNTH_TOOLS:
            raise ValueError(f"backend must be 'Vitis' or 'Vivado', got {backend!r}")
        if on_error not in ("record", "raise"):
            raise ValueError(f"on_error must be 'record' or 'raise', got {on_error!r}")
        if isinstance(reuse_factor, bool) or int(reuse_factor) != reuse_factor or reuse_factor < 1:
            raise ValueError(f"reuse_factor must be an integer >= 1, got {reuse_factor!r}")
        if os.path.normpath(str(output_dir)) in (".", ""):
            raise ValueError("output_dir must name a (sub)directory for the hls4ml projects, e.g. 'hls'")
        if int(n_samples) < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples!r}")
        self.output_dir = output_dir
        self.part, self.io_type, self.clock_period = part, io_type, clock_period
        self.strategy = str(strategy).lower() if str(strategy).lower() == DA else str(strategy).capitalize()
        self.backend = "Vitis" if str(backend).lower() == "vitis" else "Vivado"
        self.reuse_factor, self.n_samples, self.synth = int(reuse_factor), int(n_samples), synth
        self.trace_on_mismatch, self.trace_tolerance = trace_on_mismatch, trace_tolerance
        self.agreement_threshold, self.regression_tolerance = agreement_threshold, regression_tolerance
        self.input_precision, self.input_bits = input_precision, input_bits
        self.float_bits, self.softmax_table_size = float_bits, softmax_table_size
        self.project_name, self.on_error = project_name, on_error
        self.layer_config = layer_config or {}
        self.csim_timeout = csim_timeout

    @property
    def cost_strategy(self) -> str:
        """``"latency"``, ``"resource"`` or ``"distributed_arithmetic"``: the firmware this callback
        builds, which a KerasNAC search with it ranks by (see :attr:`Callback.cost_strategy`)."""
        return self.strategy.lower()

    # ------------------------------------------------------------------ steps
    def project_dir(self, candidate: Candidate) -> str:
        if os.path.isabs(self.output_dir):
            return os.path.join(self.output_dir, candidate.candidate_id)
        return candidate.path(self.output_dir)

    def resolve_input_precision(self, x) -> str | None:
        if self.input_precision == "auto":
            return None if x is None else _hls_config.input_precision_from_data(x, self.input_bits)
        return self.input_precision

    def hls_config(self, model, x=None) -> dict:
        """The hls4ml config (before the lossless refinement that needs a first conversion)."""
        from .._keras import keras2_as_keras

        _hls_layers.install()
        with keras2_as_keras():
            cfg = _hls_config.build_config(
                model, backend=self.backend, strategy=self.strategy, reuse_factor=self.reuse_factor,
                input_precision=self.resolve_input_precision(x), float_bits=self.float_bits,
                table_size=self.softmax_table_size)
        names = cfg["LayerName"]
        unknown = sorted(set(self.layer_config) - set(names))
        if unknown:
            raise ValueError(f"layer_config names layers that are not in the model: {unknown}; "
                             f"hls4ml layers: {sorted(names)}")
        for name, entries in self.layer_config.items():
            for key, value in entries.items():
                if key == "Precision" and isinstance(value, dict):
                    names[name].setdefault("Precision", {}).update(value)
                else:
                    names[name][key] = value
        return cfg

    def convert(self, model, prj_dir: str, x=None, config: dict | None = None):
        """Convert ``model`` into an hls4ml ModelGraph writing to ``prj_dir``; returns (graph, config)."""
        from .._keras import hls4ml, keras2_as_keras

        cfg = config if config is not None else self.hls_config(model, x)
        h = hls4ml()
        _hls_layers.install()
        for _ in range(6):
            with keras2_as_keras(), warnings.catch_warnings():
                # our config sets Softmax attributes the front end got wrong (see _hls_config)
                warnings.filterwarnings("ignore", message="Overriding attribute", category=UserWarning)
                hls_model = h.converters.convert_from_keras_model(
                    model, hls_config=cfg, output_dir=prj_dir, project_name=self.project_name,
                    backend=self.backend, io_type=self.io_type, part=self.part,
                    clock_period=self.clock_period)
            keep = {(n, k) for n, e in self.layer_config.items() for k in e.get("Precision", {})}
            if not _hls_config.refine_config(cfg, hls_model, keep, float_bits=self.float_bits):
                break
        return hls_model, cfg

    def synth_enabled(self) -> bool:
        if self.synth is None:
            return shutil.which(SYNTH_TOOLS[self.backend.lower()]) is not None
        return bool(self.synth)

    # ------------------------------------------------------------------ the hook
    def on_candidate(self, candidate: Candidate) -> dict:
        model = candidate.model
        if self.strategy == DA:
            da_unsupported_layers(model)  # before any work: the message names the layers
        prj = self.project_dir(candidate)
        x = None
        if candidate.validation_data is not None:
            x = np.ascontiguousarray(np.asarray(candidate.validation_data[0])[: self.n_samples], dtype=np.float32)
        row: dict = {"hls_dir": prj}
        log = io.StringIO()
        stage = "config"
        try:
            with contextlib.redirect_stdout(log):
                cfg = self.hls_config(model, x)
                row["hls_input_precision"] = cfg["LayerName"].get(
                    model.inputs[0]._keras_history.layer.name, {}).get(  # noqa: SLF001
                    "Precision", {}).get("result", _hls_config.DEFAULT_PRECISION)
                stage = "convert"
                t0 = time.perf_counter()
                # an earlier project of this candidate is replaced; a folder kerasnac did not make
                # (no marker) is never deleted or written into: that is an error naming it
                _rundir.remove(prj, os.path.dirname(os.path.abspath(prj)))
                _rundir.claim(prj, "hls4ml project")
                hls_model, cfg = self.convert(model, prj, x, cfg)
                row["hls_convert_s"] = round(time.perf_counter() - t0, 2)
                notes = _hls_config.known_mismatches(hls_model)  # hls4ml differs from QKeras there
                if notes:
                    row["hls_warnings"] = "; ".join(notes)
                stage = "compile"
                t0 = time.perf_counter()
                lib = _csim.compile_library(hls_model)
                row["hls_compile_s"] = round(time.perf_counter() - t0, 2)
            if x is not None:
                stage = "predict"
                y = candidate.validation_data[1]
                y = None if y is None else np.asarray(y)[: self.n_samples]
                row.update(self.compare(model, hls_model, x, candidate.task, lib, y))
                if not row["csim_ok"] and self.trace_on_mismatch:
                    stage = "trace"
                    with contextlib.redirect_stdout(log):
                        row.update(self.first_bad_layer(model, hls_model, x, prj))
            else:
                row["csim_ok"] = None  # compiled, but nothing to compare without validation data
            if self.synth_enabled():
                stage = "synth"
                with contextlib.redirect_stdout(log):
                    row.update(self.synthesize(hls_model, prj))
        except Exception as exc:  # noqa: BLE001 - reported per candidate
            detail = _error_lines(log.getvalue()) if stage in ("compile", "trace") else ""
            if "C simulation crashed" in str(exc):
                detail = ""
            msg = (f"hls4ml {stage} failed for candidate {candidate.candidate_id!r}: "
                   f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
                   + (f" [g++: {detail}]" if detail else "")
                   + (f" (log: {os.path.join(prj, 'kerasnac_hls4ml.log')})" if _rundir.is_ours(prj) else ""))
            self._write_log(prj, log)
            if self.on_error == "raise":
                raise HLS4MLExportError(msg, stage) from exc
            row.setdefault("csim_ok", False)  # a synthesis failure keeps a passed C-simulation check
            row.update(hls_error=msg, hls_stage=stage)
        else:
            self._write_log(prj, log)
        if row.get("resource_source") != "synthesis":
            row.update(self.estimate(model, row.get("hls_input_precision")))
        return row

    @staticmethod
    def _write_log(prj, log):
        if os.path.isdir(prj) and _rundir.is_ours(prj):  # never into a folder kerasnac did not make
            with open(os.path.join(prj, "kerasnac_hls4ml.log"), "w") as f:
                f.write(log.getvalue())

    # ------------------------------------------------------------------ checks
    def compare(self, model, hls_model, x, task: str, lib: str, y=None) -> dict:
        """C-simulation (library ``lib``) vs Keras on ``x``: label agreement (classification) or
        absolute differences (regression); with labels ``y`` also both accuracies."""
        yk = np.asarray(model.predict(x, verbose=0, batch_size=256), dtype=np.float64)
        outs, _ = _csim.run(hls_model, lib, x, timeout=self.csim_timeout)
        yh = np.asarray(outs[0], dtype=np.float64).reshape(yk.shape)
        diff = np.abs(yh - yk)
        finite = bool(np.all(np.isfinite(yh)))
        out = {"csim_n": int(len(x)),
               "csim_max_abs_diff": float(np.max(diff)) if finite else math.inf,
               "csim_mean_abs_diff": float(np.mean(diff)) if finite else math.inf}
        if task == "classification":
            out.update(label_agreement(yk, yh))
            out["csim_ok"] = finite and out["csim_agreement"] >= self.agreement_threshold
            if y is not None and len(y) == len(x):
                labels = y.argmax(-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(len(y)).astype(int)
                out["csim_accuracy"] = float(np.mean(yh.argmax(-1) == labels))
                out["keras_accuracy"] = float(np.mean(yk.argmax(-1) == labels))
        else:
            tol = self.regression_tolerance
            if tol is None:
                tol = max(1e-3, 0.01 * float(np.std(yk)))
            out["csim_tolerance"] = tol
            out["csim_ok"] = finite and out["csim_mean_abs_diff"] <= tol
        return out

    def first_bad_layer(self, model, hls_model, x, prj: str | None = None) -> dict:
        """Trace every layer of the C simulation and find the first that deviates from Keras.

        Writes the per-layer errors to ``<prj>/csim_trace.json``.
        """
        x = x[: min(len(x), 200)]
        lib = _csim.compile_library(hls_model, trace=True)
        _, trace = _csim.run(hls_model, lib, x, trace=True, timeout=self.csim_timeout)
        # a node into which hls4ml fused a BatchNormalization carries the BN's output (see _hls_layers)
        keras_name = _hls_layers.keras_counterparts(model, hls_model)
        kout = keras_layer_outputs(model, x, [keras_name.get(n, n) for n in trace])
        errors, first = [], None
        for layer in hls_model.get_layers():
            name = layer.name
            if name not in trace or keras_name.get(name, name) not in kout:
                continue
            h = np.asarray(trace[name], dtype=np.float64).reshape(len(x), -1)
            k = np.asarray(kout[keras_name.get(name, name)], dtype=np.float64).reshape(len(x), -1)
            if h.shape != k.shape:
                continue
            err = float(np.max(np.abs(h - k)) / (np.max(np.abs(k)) + 1e-12))
            errors.append({"layer": name, "class": layer.class_name, "rel_max_err": err,
                           "precision": str(layer.get_output_variable().type.precision)})
            if first is None and not err <= self.trace_tolerance:
                first = (name, err)
        if prj and os.path.isdir(prj):
            with open(os.path.join(prj, "csim_trace.json"), "w") as f:
                json.dump(errors, f, indent=1)
        if first is None:
            return {"csim_first_bad_layer": None}
        return {"csim_first_bad_layer": first[0], "csim_first_bad_err": first[1]}

    # ------------------------------------------------------------------ resources
    def synthesize(self, hls_model, prj: str) -> dict:
        """Run HLS synthesis (``hls_model.build``) and read its report."""
        if getattr(hls_model, "config", None) is not None and hls_model.config.trace_output:
            _csim.reset_trace(hls_model)  # the trace build wrote extra (simulation-only) code
        kwargs = {"csim": False, "synth": True, "vsynth": False}
        if self.backend == "Vitis":
            kwargs["log_to_stdout"] = False
        hls_model.build(**kwargs)
        path = _hls_report.find_csynth_xml(prj, self.project_name)
        if path is None:
            raise FileNotFoundError(f"synthesis ran but no {self.project_name}_csynth.xml under {prj}")
        cols = _hls_report.synthesis_columns(_hls_report.parse_csynth_xml(path))
        cols["resource_source"] = "synthesis"
        return cols

    def estimate(self, model, input_precision: str | None) -> dict:
        """kerasnac's cost-model estimates of the FPGA resources (``resource_source="estimated"``)."""
        from .. import costs

        bits = 16
        m = re.search(r"fixed<(\d+)", input_precision or "")
        if m:
            bits = int(m.group(1))
        strategy = self.strategy.lower()  # "distributed_arithmetic" is kerasnac's DA estimate too
        try:
            vals = costs.evaluate(model, list(RESOURCE_COLUMNS), reuse_factor=self.reuse_factor,
                                  strategy=strategy, io_type=self.io_type, input_bits=bits)
        except Exception as exc:  # noqa: BLE001 - estimates are best effort
            return {"resource_source": "estimated", "resource_error": f"{type(exc).__name__}: {exc}"}
        return {"resource_source": "estimated", **vals}

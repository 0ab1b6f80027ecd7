"""Compile an hls4ml model's C simulation and run it in a child process (see ``_csim_worker``).

``ModelGraph.compile()``/``predict()``/``trace()`` load the g++-built library into the calling
process. A bad library then takes the whole search down: ap_fixed calls ``exit(1)`` on a type wider
than 1024 bits, a missing weight file exits too, and a large io_parallel model can overflow the
stack. Here the library is built with the backend's ``compile`` (no loading) and run by a small
numpy-only worker with a raised stack limit (it raises its own: ``_csim_worker.raise_stack_limit``);
a crash becomes an exception for that candidate.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile

import numpy as np

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_csim_worker.py")


def compile_library(hls_model, trace: bool = False) -> str:
    """Write the project and build its C-simulation library with g++; returns the ``.so`` path."""
    hls_model.config.trace_output = bool(trace)
    if trace:
        for layer in hls_model.get_layers():
            layer.set_attr("trace", True)
    hls_model.write()
    return hls_model.config.backend.compile(hls_model)


def reset_trace(hls_model) -> None:
    """Rewrite the project without the trace code of :func:`compile_library` ``(trace=True)``."""
    hls_model.config.trace_output = False
    for layer in hls_model.get_layers():
        layer.set_attr("trace", False)
    hls_model.write()


def run(hls_model, lib: str, x, trace: bool = False, timeout: float | None = None):
    """Run the library on ``x`` (one array, or a list for several inputs) in a child process.

    Returns ``(outputs, traces)``: a list of ``(n, size)`` arrays (one per model output) and, with
    ``trace``, ``{layer name: (n, *shape) array}`` of the traced layers.
    """
    xs = x if isinstance(x, (list, tuple)) else [x]
    traced = []
    if trace:
        for layer in hls_model.get_layers():
            if layer.get_attr("function_cpp", None) and layer.get_attr("trace", False):
                traced.append({"name": layer.name, "shape": list(layer.get_output_variable().shape),
                               "n_vars": len(layer.get_variables())})
    prj = hls_model.config.get_output_dir()
    with tempfile.TemporaryDirectory(prefix="kerasnac_csim_") as tmp:
        inputs = []
        for i, xi in enumerate(xs):
            path = os.path.join(tmp, f"x{i}.npy")
            np.save(path, np.ascontiguousarray(xi, dtype=np.float32).reshape(len(xi), -1))
            inputs.append(path)
        spec = {"lib": os.path.abspath(lib), "top": hls_model.config.get_project_name(), "inputs": inputs,
                "output_sizes": [int(v.size()) for v in hls_model.get_output_variables()],
                "trace": traced, "result": os.path.join(tmp, "result.npz")}
        spec_path = os.path.join(tmp, "spec.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        try:
            proc = subprocess.run([sys.executable, WORKER, spec_path], cwd=os.path.join(prj, "firmware"),
                                  capture_output=True, text=True, timeout=timeout)  # no preexec_fn: see the worker
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"C simulation did not finish within {timeout} s") from None
        if proc.returncode != 0:
            rc = proc.returncode
            how = f"signal {signal.Signals(-rc).name}" if rc < 0 else f"exit code {rc}"
            tail = " | ".join((proc.stderr + proc.stdout).strip().splitlines()[-4:])
            raise RuntimeError(f"C simulation crashed ({how}): {tail}")
        with np.load(spec["result"]) as res:
            outputs = [res[f"out{j}"] for j in range(len(spec["output_sizes"]))]
            traces = {k[len("trace:"):]: res[k] for k in res.files if k.startswith("trace:")}
    return outputs, traces

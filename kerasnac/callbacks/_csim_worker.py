"""Runs an hls4ml C-simulation library in a separate process (numpy and ctypes only, no TensorFlow).

``python _csim_worker.py <spec.json>``. The spec names the library, the top function, the input
``.npy`` files, the output sizes, optionally the traced layers, and the ``.npz`` to write. Mirrors
``hls4ml.model.graph.ModelGraph._predict`` and ``trace`` (hls4ml 1.3): one call of
``<project>_float(inputs..., outputs...)`` per sample; with tracing, ``allocate_trace_storage``,
``collect_trace_output`` after every sample and ``free_trace_storage``.

A crash of the library (``exit(1)`` of ap_fixed on an invalid type, a segfault of a too large
model) then ends only this process, and the caller reports it for that candidate.
"""

import ctypes
import json
import os
import resource
import sys


def raise_stack_limit():
    """Re-execute this process once with the soft stack limit raised to the hard one (at most 1 GiB).

    A large io_parallel model's C simulation keeps its arrays on the stack. The limit has to be set
    before ``exec`` (the kernel lays out the main thread's stack then), and the parent, which runs
    TensorFlow's threads, must not run Python between ``fork`` and ``exec`` (``preexec_fn`` did, and
    gRPC's fork handler aborted the child now and then): so the worker, still single-threaded and
    before importing numpy, raises its own limit and execs itself again."""
    if os.environ.get("KERASNAC_CSIM_STACK_RAISED") == "1":
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 30
    if soft == resource.RLIM_INFINITY or soft >= want:
        return
    try:
        resource.setrlimit(resource.RLIMIT_STACK, (want, hard))
    except (ValueError, OSError):
        return
    os.environ["KERASNAC_CSIM_STACK_RAISED"] = "1"
    sys.stdout.flush(), sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *sys.argv])


if __name__ == "__main__":
    raise_stack_limit()

import numpy as np  # noqa: E402 - after the re-exec above
import numpy.ctypeslib as npc  # noqa: E402


def main(spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
    lib = ctypes.cdll.LoadLibrary(spec["lib"])
    xs = [np.ascontiguousarray(np.load(p), dtype=np.float32) for p in spec["inputs"]]
    n_out = len(spec["output_sizes"])
    top = getattr(lib, spec["top"] + "_float")
    top.restype = None
    top.argtypes = [npc.ndpointer(ctypes.c_float, flags="C_CONTIGUOUS") for _ in range(len(xs) + n_out)]
    n = len(xs[0])
    traced = spec.get("trace") or []

    class TraceData(ctypes.Structure):
        _fields_ = [("name", ctypes.c_char_p), ("data", ctypes.c_void_p)]

    if traced:
        lib.allocate_trace_storage.argtypes = [ctypes.c_size_t]
        lib.allocate_trace_storage.restype = None
        lib.collect_trace_output.argtypes = [ctypes.POINTER(TraceData)]
        lib.collect_trace_output.restype = None
        lib.free_trace_storage.argtypes = None
        lib.free_trace_storage.restype = None
        lib.allocate_trace_storage(ctypes.sizeof(ctypes.c_float))
        shapes = {t["name"]: tuple(t["shape"]) for t in traced}
        n_vars = sum(t.get("n_vars", 1) for t in traced)
        trace_data = (TraceData * n_vars)()
        traces = {name: [] for name in shapes}
    outputs = [np.zeros((n, size), dtype=np.float32) for size in spec["output_sizes"]]
    for i in range(n):
        preds = [np.zeros(size, dtype=np.float32) for size in spec["output_sizes"]]
        top(*[np.ascontiguousarray(x[i]) for x in xs], *preds)
        for j, p in enumerate(preds):
            outputs[j][i] = p
        if traced:
            lib.collect_trace_output(trace_data)
            for t in trace_data:
                name = t.name.decode() if t.name else None
                if name in shapes:
                    ptr = ctypes.cast(t.data, ctypes.POINTER(ctypes.c_float))
                    traces[name].append(np.copy(np.ctypeslib.as_array(ptr, shape=shapes[name])))
    if traced:
        lib.free_trace_storage()
    arrays = {f"out{j}": o for j, o in enumerate(outputs)}
    if traced:
        arrays.update({f"trace:{k}": np.asarray(v) for k, v in traces.items() if v})
    np.savez(spec["result"], **arrays)


if __name__ == "__main__":
    main(sys.argv[1])

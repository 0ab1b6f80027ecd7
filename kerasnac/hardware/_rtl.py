"""Verilog from a traced model (da4ml's code generator), yosys logic synthesis, verilator simulation.

* :func:`write_rtl` — da4ml's ``VerilogModel`` writes the project (pipelined with registers every
  ``latency_cutoff`` adder delays, so flip-flop counts mean something).
* :func:`synthesize` — ``yosys synth_xilinx -flatten -noiopad -family xcup`` on the core module,
  and the cell counts of its ``stat``: LUT1..LUT6, flip-flops (FD*), CARRY4/CARRY8, DSP48E1/E2.
  Logic synthesis, **not place and route**: no packing, no timing closure.
* :func:`simulate` — verilator builds the project's wrapper into a library; da4ml runs it.

Two steps of da4ml 0.6's own verilator build are replaced here (Debian's verilator 5.006 rejects
its ``lint_off WIDTHTRUNC`` comments, and its ``-build`` does not produce the ``libverilated.a``
da4ml's makefile links), so the library is built by :func:`_build_library`.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import time
import uuid

import numpy as np

from .. import _rundir
from ..errors import SynthesisError  # noqa: F401  (defined with every error class)

YOSYS_SOURCE = "yosys synth_xilinx -family xcup (logic synthesis, not place and route)"
TOP = "kn_model"




def write_rtl(traced, directory: str, name: str = TOP, latency_cutoff: float = 5.0) -> str:
    """Write the Verilog project of ``traced`` (a :class:`Traced`) into ``directory`` (made and marked
    as kerasnac's; an earlier kerasnac project there is replaced, a foreign folder is an error)."""
    from da4ml.codegen.rtl import VerilogModel

    _rundir.remove(directory, os.path.dirname(os.path.abspath(directory)))
    _rundir.claim(directory, "rtl project")
    model = VerilogModel(traced.comb, name, directory, latency_cutoff=latency_cutoff, print_latency=False)
    model.write()
    for path in glob.glob(os.path.join(directory, "src", "**", "*.v"), recursive=True):
        with open(path) as f:
            text = f.read()
        fixed = re.sub(r"/\*\s*verilator lint_(?:off|on) WIDTH(?:TRUNC|EXPAND)\s*\*/", "", text)
        if fixed != text:
            with open(path, "w") as f:
                f.write(fixed)
    return directory


def _sources(directory: str, name: str) -> list[str]:
    src = os.path.join(directory, "src")
    files = sorted(glob.glob(os.path.join(src, "static", "*.v")))
    if not os.listdir(os.path.join(src, "memfiles")):  # no lookup tables: its $readmemh has no file
        files = [f for f in files if not f.endswith("lookup_table.v")]
    own = sorted(f for f in glob.glob(os.path.join(src, f"{name}*.v")) if not f.endswith("_wrapper.v"))
    return files + own


def parse_stat(log: str) -> dict:
    """Cell counts of the last ``stat`` in a yosys log: ``syn_lut, syn_ff, syn_carry, syn_dsp``, ``syn_cells``."""
    blocks = log.split("Number of cells:")
    if len(blocks) < 2:
        raise SynthesisError("yosys log has no 'Number of cells' statistics")
    cells: dict[str, int] = {}
    for line in blocks[-1].splitlines()[1:]:
        m = re.match(r"^\s+(\S+)\s+(\d+)\s*$", line)
        if not m:
            if line.strip():
                break
            continue
        cells[m.group(1)] = int(m.group(2))

    def total(pattern):
        return int(sum(v for k, v in cells.items() if re.fullmatch(pattern, k)))

    return {"syn_lut": total(r"LUT[1-6](_2)?"), "syn_ff": total(r"FD[CPRS]E(_1)?"),
            "syn_carry": total(r"CARRY[48]"), "syn_dsp": total(r"DSP48E[12]"), "syn_cells": cells}


def synthesize(directory: str, name: str = TOP, timeout: float = 1800) -> dict:
    """Run yosys on the project in ``directory``; returns the ``syn_*`` counts, ``syn_seconds`` and
    ``syn_source`` (what produced them). Raises :class:`SynthesisError` if yosys is missing or fails."""
    yosys = shutil.which("yosys")
    if yosys is None:
        raise SynthesisError("yosys is not on PATH (apt-get install yosys)")
    files = " ".join(f'"{os.path.abspath(f)}"' for f in _sources(directory, name))
    script = f"read_verilog {files}; synth_xilinx -flatten -noiopad -family xcup -top {name}; stat"
    log_path = os.path.join(directory, "yosys.log")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([yosys, "-q", "-p", script, "-l", log_path], capture_output=True, text=True,
                              timeout=timeout, cwd=directory)
    except subprocess.TimeoutExpired:
        raise SynthesisError(f"yosys did not finish within {timeout} s") from None
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr + proc.stdout).strip().splitlines()[-3:])
        raise SynthesisError(f"yosys failed (exit {proc.returncode}): {tail} (log: {log_path})")
    with open(log_path) as f:
        out = parse_stat(f.read())
    out.pop("syn_cells")
    out["syn_seconds"] = round(time.perf_counter() - t0, 2)
    out["syn_source"] = YOSYS_SOURCE
    return out


def _verilator_root() -> str:
    proc = subprocess.run(["verilator", "-V"], capture_output=True, text=True)
    roots = re.findall(r"VERILATOR_ROOT\s*=\s*(\S+)", proc.stdout)
    if not roots:
        raise SynthesisError("cannot find VERILATOR_ROOT in 'verilator -V'")
    return roots[0]


def _build_library(directory: str, name: str, timeout: float) -> str:
    if shutil.which("verilator") is None:
        raise SynthesisError("verilator is not on PATH (apt-get install verilator)")
    sim, wrapper = os.path.join(directory, "sim"), f"{name}_wrapper"
    root, stamp = _verilator_root(), str(uuid.uuid4())
    inc = os.path.join(root, "include")
    steps = [["verilator", "--cc", "-j", "1", "--build", "-Wno-fatal", f"../src/{wrapper}.v", "--prefix", f"V{wrapper}",
              "-I../src", "-I../src/static", "-CFLAGS", "-std=c++17 -fPIC -O"],
             ["g++", "-std=c++17", "-fPIC", "-O", "-shared", "-pthread", f"-I{sim}/obj_dir", f"-I{inc}",
              f"-I{inc}/vltstd", "-I../src", "-o", f"lib{wrapper}_{stamp}.so", f"{wrapper}_binder.cc",
              f"obj_dir/V{wrapper}__ALL.a", f"{inc}/verilated.cpp", f"{inc}/verilated_threads.cpp"]]
    for cmd in steps:
        try:
            proc = subprocess.run(cmd, cwd=sim, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SynthesisError(f"{cmd[0]} did not finish within {timeout} s") from None
        if proc.returncode != 0:
            lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if "rror" in ln][:3]
            raise SynthesisError(f"{cmd[0]} failed (exit {proc.returncode}): {' | '.join(lines)}")
    return stamp


def simulate(traced, directory: str, x, name: str = TOP, timeout: float = 900) -> np.ndarray:
    """Outputs of the Verilog in ``directory`` (written by :func:`write_rtl` from ``traced``) on ``x``
    (already on the input grid), simulated by verilator; shape ``(n, n_outputs)``."""
    from da4ml.codegen.rtl import VerilogModel

    model = VerilogModel(traced.comb, name, directory)
    stamp = _build_library(directory, name, timeout)
    model._load_lib(stamp)  # noqa: SLF001 - da4ml loads the library it built; we built it ourselves
    x = np.ascontiguousarray(np.asarray(x, np.float64).reshape(len(x), -1))
    return np.asarray(model.predict(x, n_threads=1), np.float64)

"""Reading Vivado HLS / Vitis HLS synthesis reports (``<top>_csynth.xml``).

hls4ml's own ``hls4ml.report.parse_vivado_report(prj_dir)`` reads the same XML nodes
(``PerformanceEstimates/SummaryOfOverallLatency`` and ``AreaEstimates/Resources``) but needs the
whole project layout (``project.tcl``, ``<project>_prj/{vivado_hls,hls}.app``), prints to stdout and
returns strings. :func:`parse_csynth_xml` reads one report file and returns numbers; the tests check
that both agree on the same file.
"""

from __future__ import annotations

import glob
import os
import xml.etree.ElementTree as ET

#: resource tags of ``AreaEstimates/Resources`` -> column names (Vivado HLS says DSP48E, Vitis DSP)
_RESOURCES = {"LUT": "lut", "FF": "ff", "DSP": "dsp", "DSP48E": "dsp", "BRAM_18K": "bram_18k", "URAM": "uram"}
_LATENCY = {"Best-caseLatency": "latency_best", "Average-caseLatency": "latency_average",
            "Worst-caseLatency": "latency_worst", "Interval-min": "interval_min", "Interval-max": "interval_max"}


def _number(text):
    """int/float of a report value; None for ``undef``, ``-`` or missing values."""
    if text is None:
        return None
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


def parse_csynth_xml(path: str) -> dict:
    """Numbers of a ``<top>_csynth.xml`` synthesis report.

    Keys: ``lut, ff, dsp, bram_18k, uram`` (used), ``available_<same>``, ``latency_best,
    latency_average, latency_worst, interval_min, interval_max`` (clock cycles; None when the tool
    reports ``undef``), ``clock_target_ns, clock_estimated_ns, part, top, tool_version``.
    Missing entries are left out (an empty dict for a file without these sections).
    """
    root = ET.parse(path).getroot()
    out: dict = {}

    def text(xpath):
        node = root.find(xpath)
        return None if node is None else node.text

    for key, xpath in (("tool_version", "./ReportVersion/Version"), ("part", "./UserAssignments/Part"),
                       ("top", "./UserAssignments/TopModelName")):
        value = text(xpath)
        if value is not None:
            out[key] = value.strip()
    for key, xpath in (("clock_target_ns", "./UserAssignments/TargetClockPeriod"),
                       ("clock_estimated_ns", "./PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod")):
        value = text(xpath)
        if value is not None:
            out[key] = _number(value)
    latency = root.find("./PerformanceEstimates/SummaryOfOverallLatency")
    if latency is not None:
        for tag, key in _LATENCY.items():
            node = latency.find(tag)
            if node is not None:
                out[key] = _number(node.text)
    for section, prefix in (("Resources", ""), ("AvailableResources", "available_")):
        node = root.find(f"./AreaEstimates/{section}")
        if node is None:
            continue
        for child in node:
            key = _RESOURCES.get(child.tag)
            if key is not None:
                out[prefix + key] = _number(child.text)
    return out


def find_csynth_xml(prj_dir: str, project_name: str = "myproject") -> str | None:
    """The synthesis report of an hls4ml project, ``<prj>/<project>_prj/<solution>/syn/report/
    <project>_csynth.xml`` (``solution1`` first), or None."""
    base = os.path.join(prj_dir, f"{project_name}_prj")
    first = os.path.join(base, "solution1", "syn", "report", f"{project_name}_csynth.xml")
    if os.path.isfile(first):
        return first
    hits = sorted(glob.glob(os.path.join(base, "*", "syn", "report", f"{project_name}*_csynth.xml")))
    return hits[0] if hits else None


def synthesis_columns(report: dict) -> dict:
    """Results-table columns of a parsed report, in the units of kerasnac's cost model.

    ``bram`` counts BRAM36 blocks (``bram_18k / 2``) like :mod:`kerasnac.costs`; ``latency_cycles``
    is the worst case; ``bram_18k``, ``latency_best``, ``interval_min/max`` and the estimated clock
    are kept as well.
    """
    cols = {k: report.get(k) for k in ("lut", "ff", "dsp")}
    b18 = report.get("bram_18k")
    cols["bram"] = None if b18 is None else b18 / 2
    cols["bram_18k"] = b18
    cols["latency_cycles"] = report.get("latency_worst")
    for k in ("latency_best", "interval_min", "interval_max", "clock_estimated_ns", "uram"):
        if k in report:
            cols[k] = report[k]
    return cols

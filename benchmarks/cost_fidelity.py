"""Fidelity of kerasnac's analytical FPGA estimates (LUT, FF, DSP, BRAM, latency) against references.

    .venv/bin/python benchmarks/cost_fidelity.py [--rule4ml-python /tmp/r4ml/bin/python]

Two references:

(a) **rule4ml** (Rahimifar et al., arXiv:2408.05314; PyPI ``rule4ml==0.2.0``): learned predictors of
    hls4ml synthesis results, for Dense-only MLPs here. rule4ml needs Keras 3 + torch, which cannot live
    in kerasnac's tf_keras venv, so it runs in a separate interpreter (``--rule4ml-python``) through a
    small runner embedded below; part (a) is skipped, with a message, if that interpreter is missing.
    Install used: ``python3 -m venv /tmp/r4ml && /tmp/r4ml/bin/pip install rule4ml==0.2.0``.
    What rule4ml 0.2.0 takes (read from its source, ``rule4ml/models/wrappers.py`` and
    ``rule4ml/parsers/network_parser.py``): a built Keras model, plus ``hls_configs`` =
    ``{"board": ..., "model": {"strategy": "latency"|"resource", "precision": "ap_fixed<W,I>",
    "reuse_factor": RF}}``; boards pynq-z2, zcu102, alveo-u200, alveo-u250; hls4ml versions 0.8.1 and
    1.1.0; Vivado 2019.1-2024.2. Only the total width W enters its features, and it snaps the reuse
    factor of each layer to the nearest value hls4ml accepts. One precision for the whole model
    (weights, activations, inputs), so kerasnac is given the same W everywhere.
    rule4ml is itself an estimate: its own benchmark notebook reports SMAPE of 62.9% (FF), 71.9% (LUT),
    89.3% (DSP) and 82.6% (cycles) on its benchmark set (IMPETUS-UdeS/rule4ml,
    notebooks/benchmark.ipynb, commit bdbf34fd0d212c4abefe89044eaffcc63a441535). Agreement with it is
    a consistency check, not ground truth.

(b) **Published synthesis results**, only numbers read in retrievable text (see PUBLISHED below).

(c) With ``--yosys N [--yosys-conv M]``: N models of the shipped spaces (M of them conv) synthesized
    here with yosys (logic synthesis, not place and route) as da4ml distributed-arithmetic RTL;
    ``--yosys-report`` reports the cached models. See ``_yosys_reference.py`` and ``_yosys_report.py``;
    output ``<out>_yosys.md`` / ``.csv``.

For every (model, bits, reuse factor, strategy, source, resource) the script writes the reference value,
kerasnac's estimate and their ratio, and per (source, resource) the Spearman rank correlation and the
median |relative error| = median |kerasnac - ref| / ref. Outputs: ``benchmarks/results/cost_fidelity.md``
and ``.csv``. With ``--compare-to old.csv`` the summary also shows the numbers of an earlier run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = ("lut", "ff", "dsp", "bram", "latency_cycles")

# --------------------------------------------------------------------------------------------------
# (b) Published figures. Every number below was read in text returned by the search tools; where it was
# read is recorded in "where". Nothing is quoted from memory.
#
# Fahim et al., "hls4ml: An Open-Source Codesign Workflow to Empower Scientific Low-Power Machine
# Learning Devices", TinyML Research Symposium 2021, arXiv:2103.05579, Table 1: "Model accuracy, latency
# and resource utilization for 16-, 14-, and 6-bit models ... for a Xilinx Virtex UltraScale+ VU9P FPGA
# with a clock frequency of 200 MHz using hls4ml v0.5.0 and Vivado HLS 2019.2". Model (their Sec. 3):
# the jet-tagging MLP, 16 inputs, hidden layers 64, 32, 32 with ReLU, 5 outputs; 16/14 bit are
# post-training quantized (PTQ), 6 bit is QKeras quantization-aware trained (QAT).
# Text read in: GitHub HariharPrasadd/ardage, data/md/paper87.md (commit 3085c02b5b5cf13a63b7dc0d390183b3ca431c61).
# Table 1 rows, absolute numbers (percentages omitted):
#   Latency [ns]   50        50        45
#   DSP            1,852     1,132     38
#   LUT            89,209    90,019    63,251
#   FF             11,266    9,262     4,394
# Not stated in the table: reuse factor, strategy, input precision. We assume Latency strategy with
# reuse factor 1 (a 4-layer network finishing in 9-10 cycles is fully parallel) and 16-bit inputs
# (hls4ml's default ap_fixed<16,6>) for the 6-bit model. Latency in cycles = ns * 0.2 (200 MHz).
# BRAM is not reported. Synthesis (HLS) numbers, not place-and-route, to our reading of the caption.
#
# Pruning of the Table 1 models: the paper text (same file) does not say. It introduces Table 1 with "As
# an example of the integration of QKeras and hls4ml, we now describe an FPGA implementation of the model
# presented in Sec. 3.1. The FPGA implementation results are reported in Table 1 for the 16- and 14-bit
# PTQ and 6-bit QAT models." (Sec. 4.1), and Sec. 3.1's model is the QAT study of its Ref. [11] (Coelho
# et al., arXiv:2006.10159), whose text we could not retrieve. The pruned jet networks in the paper are a
# separate study (Sec. 3.2 with Brevitas; Sec. 4.2 / Fig. 7, "pruned in increments of 10%"). Its
# Sec. 2 says layers "can be configured to skip multiplications by zero weights", so a pruned model
# would cost less. We therefore show the table twice: dense (sparsity 0, source "Fahim2021-T1") and, as
# an ASSUMPTION (source "Fahim2021-T1-sp70"), with 70% of the kernel weights zero. 0.7 is the sparsity
# of hls4ml's own pruned example of this 16-64-32-32-5 jet model, named
# "KERAS_3layer_70pruned_retrained_weights.h5" in hls4ml pull request #86 (github.com/
# fastmachinelearning/hls4ml/pull/86, 2018); the text of Duarte et al. 2018 (arXiv:1804.06913) stating
# its pruning was not retrievable here, so nothing ties 0.7 to Table 1.
# --------------------------------------------------------------------------------------------------
FAHIM_WHERE = ("Fahim et al. 2021, arXiv:2103.05579, Table 1 (VU9P, 200 MHz, hls4ml v0.5.0, Vivado HLS "
               "2019.2); text from github.com/HariharPrasadd/ardage data/md/paper87.md @3085c02")
PUBLISHED = [
    # model, w_bits, a_bits, input_bits, rf, strategy, {resource: value}, source, where
    dict(model="jet-mlp 16-64-32-32-5 (PTQ 16b)", widths=(16, 64, 32, 32, 5), w_bits=16, a_bits=16,
         input_bits=16, rf=1, strategy="latency",
         ref={"dsp": 1852, "lut": 89209, "ff": 11266, "latency_cycles": 50 * 0.2},
         source="Fahim2021-T1", where=FAHIM_WHERE),
    dict(model="jet-mlp 16-64-32-32-5 (PTQ 14b)", widths=(16, 64, 32, 32, 5), w_bits=14, a_bits=14,
         input_bits=14, rf=1, strategy="latency",
         ref={"dsp": 1132, "lut": 90019, "ff": 9262, "latency_cycles": 50 * 0.2},
         source="Fahim2021-T1", where=FAHIM_WHERE),
    dict(model="jet-mlp 16-64-32-32-5 (QAT 6b)", widths=(16, 64, 32, 32, 5), w_bits=6, a_bits=6,
         input_bits=16, rf=1, strategy="latency",
         ref={"dsp": 38, "lut": 63251, "ff": 4394, "latency_cycles": 45 * 0.2},
         source="Fahim2021-T1", where=FAHIM_WHERE),
]
#: Assumed pruned fraction for the "-sp70" copy of the Fahim rows (see the comment above).
FAHIM_ASSUMED_SPARSITY = 0.7
PUBLISHED = [dict(p, sparsity=0.0) for p in PUBLISHED] + [
    dict(p, sparsity=FAHIM_ASSUMED_SPARSITY, source=p["source"] + "-sp70",
         model=p["model"].replace(")", f", {FAHIM_ASSUMED_SPARSITY:.0%} pruned: assumption)"))
    for p in PUBLISHED]

# --------------------------------------------------------------------------------------------------
# (a) rule4ml grid: Dense-only MLPs (ReLU hidden layers, softmax output), uniform ap_fixed<W,I>.
# --------------------------------------------------------------------------------------------------
R4_ARCHS = [(16, 64, 32, 32, 5), (16, 32, 5), (16, 16, 16, 5), (16, 128, 64, 5), (32, 64, 64, 10),
            (64, 32, 16, 8, 2)]
R4_BITS = (4, 6, 8, 16)
R4_CONFIGS = [("latency", 1), ("latency", 4), ("resource", 4), ("resource", 16)]


def int_bits(total: int) -> int:
    """Integer bits used for ap_fixed<W,I> (rule4ml's defaults are <8,3> and <16,6>)."""
    return max(1, round(total * 3 / 8))


RULE4ML_RUNNER = r'''
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
# torch's triton must be loaded before TensorFlow: the other order segfaults (seen with torch 2.14.1,
# triton 3.8.0, tensorflow 2.21.0 in the rule4ml venv).
try:
    import torch, triton, torch._dynamo  # noqa: F401
except ImportError:
    pass
import keras
from rule4ml.models.wrappers import MultiModelWrapper

spec = json.load(open(sys.argv[1]))
est = MultiModelWrapper()
est.load_default_models()
rows = []
for arch in spec["archs"]:
    widths = arch["widths"]
    inp = keras.Input((widths[0],))
    x = inp
    for w in widths[1:-1]:
        x = keras.layers.Dense(w, activation="relu")(x)
    x = keras.layers.Dense(widths[-1], activation="softmax")(x)
    model = keras.Model(inp, x, name=arch["name"])
    model.build((None, widths[0]))
    cfgs = [{"board": spec["board"], "model": {"strategy": c["strategy"], "precision": c["precision"],
                                                "reuse_factor": c["rf"]}} for c in arch["configs"]]
    df = est.predict(model, hls_configs=cfgs, hls4ml_versions=spec["hls4ml_version"],
                     vivado_versions=spec["vivado_version"])
    for rec in df.to_dict("records"):
        rows.append({"model": rec["Model"], "strategy": str(rec["Strategy"]), "precision": str(rec["Precision"]),
                     "rf": int(rec["Reuse Factor"]), "lut": rec.get("LUT"), "ff": rec.get("FF"),
                     "dsp": rec.get("DSP"), "bram": rec.get("BRAM"), "latency_cycles": rec.get("CYCLES")})
json.dump(rows, open(sys.argv[2], "w"))
'''


CALIBRATION_NOTE = """\
**FF formula changed (kerasnac/costs/_fpga.py).** At reuse factor 1 kerasnac used to charge a register
per product, n_phys*(b_w+b_a), plus output registers: x13-15 the published FF and Spearman 0.03 against
rule4ml. It now charges, at RF = 1 only, the layer's input and output registers (f*P*b_a + n_out*acc);
RF > 1 keeps the per-product register (rule4ml predicts more FF at Latency RF=4 than at RF=1 for 23 of
the 24 grid (MLP, bits) pairs). Variants evaluated before choosing (same references, rule4ml values
reused): output registers only at RF=1 gave FF/published 0.62-0.85 and rule4ml rho 0.63, geo-mean 0.82; dropping the product
register at every RF gave rule4ml rho 0.46-0.47, geo-mean 0.30-0.40 (worse), so RF > 1 was left as it
was. Caveat: FF at RF=1 no longer falls with sparsity; hls4ml issue #56 (2018, Vivado HLS 2017.2, a
conv1d) reports FF 47,149 / 41,276 / 24,769 at 0 / 20 / 50% zero weights and RF=1, so older synthesis
did register per product. Neither reference used here covers sparsity.

**Latency: not changed.** kerasnac is x3.7-4.1 the published cycles but matches rule4ml at Latency RF=1
(geo-mean 1.00). Shortening the adder tree to ceil(log2 f / 2), ceil(log2 f / 3) or 0 cycles per dense
layer brings the published ratio to 2.8-3.1, 2.5-2.8, 1.7-1.9, but moves the rule4ml geo-mean to 0.47,
0.45, 0.35 (Latency RF=1 rows: 0.76, 0.70, 0.48) with rho 0.72 -> 0.73-0.75: it helps one reference
and hurts the other, so it was not made.

**Pruning.** The dense rows (Fahim2021-T1) and the assumed 70%-pruned rows (Fahim2021-T1-sp70) bracket
DSP and LUT: x2.3-3.8 DSP and x1.6-1.8 LUT at 14-16 bits if the synthesized models were dense, x0.7-1.1
DSP and x0.5-0.6 LUT if they were 70% pruned. The 6-bit rows stay off either way (DSP x0.13: synthesis
put 38 multiplications in DSPs although kerasnac maps < 9-bit weights to LUTs; LUT x4.7 dense, x1.4
pruned). Until the Table 1 sparsity is known these two rows should not be used to calibrate DSP/LUT.

**Calibration: not applied.** The only citable synthesis numbers found are three points of one
architecture, and rule4ml disagrees with them by up to an order of magnitude (next to last bullet
above), so a fitted correction would be fitted to a single network. Scale errors do not change rankings
inside a search, but they do matter for absolute budgets (e.g. a LUT limit), which should be read with
these ratios in mind."""


def arch_name(widths) -> str:
    return "mlp-" + "-".join(str(w) for w in widths)


def run_rule4ml(python: str, board: str, hls4ml_version: str, vivado_version: str) -> pd.DataFrame:
    archs = []
    for widths in R4_ARCHS:
        configs = [{"strategy": s, "rf": rf, "precision": f"ap_fixed<{b},{int_bits(b)}>"}
                   for b in R4_BITS for s, rf in R4_CONFIGS]
        archs.append({"name": arch_name(widths), "widths": list(widths), "configs": configs})
    spec = {"archs": archs, "board": board, "hls4ml_version": hls4ml_version, "vivado_version": vivado_version}
    with tempfile.TemporaryDirectory() as tmp:
        spec_path, out_path, runner = (os.path.join(tmp, n) for n in ("spec.json", "out.json", "runner.py"))
        Path(spec_path).write_text(json.dumps(spec))
        Path(runner).write_text(RULE4ML_RUNNER)
        # kerasnac sets TF_USE_LEGACY_KERAS=1 in this process; rule4ml needs Keras 3, so drop it.
        env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
        proc = subprocess.run([python, runner, spec_path, out_path], capture_output=True, text=True, timeout=600,
                              env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"rule4ml runner failed (rc={proc.returncode}):\n{proc.stderr[-3000:]}")
        rows = json.loads(Path(out_path).read_text())
    df = pd.DataFrame(rows)
    df["bits"] = df["precision"].str.extract(r"<(\d+)").astype(int)
    return df


def build_mlp(widths, w_bits: int, a_bits: int):
    """A QKeras MLP: QDense + quantized_relu hidden layers, QDense + softmax output."""
    from kerasnac._keras import keras, qkeras

    def wq(b):
        return f"quantized_bits({b},{int_bits(b) - 1},alpha=1)"

    inp = keras.Input((widths[0],))
    x = inp
    for i, w in enumerate(widths[1:-1]):
        x = qkeras.QDense(w, kernel_quantizer=wq(w_bits), bias_quantizer=wq(w_bits), name=f"fc{i}")(x)
        x = qkeras.QActivation(f"quantized_relu({a_bits},{int_bits(a_bits)})", name=f"relu{i}")(x)
    x = qkeras.QDense(widths[-1], kernel_quantizer=wq(w_bits), bias_quantizer=wq(w_bits), name="out")(x)
    x = keras.layers.Activation("softmax", name="softmax")(x)
    return keras.Model(inp, x)


_MODEL_CACHE: dict = {}


def kerasnac_costs(widths, w_bits, a_bits, input_bits, rf, strategy, sparsity: float = 0.0) -> dict:
    import kerasnac as kn

    key = (tuple(widths), w_bits, a_bits)
    if key not in _MODEL_CACHE:
        _MODEL_CACHE[key] = build_mlp(widths, w_bits, a_bits)
    # The models are untrained, so the sparsity is given, not measured: 0 (every weight counts, as in
    # synthesis of a dense model) except for the assumed-pruned copy of the published rows.
    return kn.costs.evaluate(_MODEL_CACHE[key], list(RESOURCES), input_bits=input_bits, reuse_factor=rf,
                             strategy=strategy, sparsity=sparsity)


def rows_published() -> list[dict]:
    out = []
    for p in PUBLISHED:
        est = kerasnac_costs(p["widths"], p["w_bits"], p["a_bits"], p["input_bits"], p["rf"], p["strategy"],
                             p["sparsity"])
        for res, ref in p["ref"].items():
            out.append(dict(model=p["model"], bits=p["w_bits"], reuse_factor=p["rf"], strategy=p["strategy"],
                            source=p["source"], resource=res, reference=float(ref), kerasnac=est[res]))
    return out


def rows_rule4ml(r4: pd.DataFrame) -> list[dict]:
    out = []
    for rec in r4.to_dict("records"):
        widths = tuple(int(w) for w in rec["model"].split("-")[1:])
        b = int(rec["bits"])
        est = kerasnac_costs(widths, b, b, b, int(rec["rf"]), rec["strategy"])
        for res in RESOURCES:
            ref = rec[res]
            if ref is None or (isinstance(ref, float) and math.isnan(ref)):
                continue
            out.append(dict(model=rec["model"], bits=b, reuse_factor=int(rec["rf"]), strategy=rec["strategy"],
                            source="rule4ml", resource=res, reference=float(ref), kerasnac=est[res]))
    return out


def spearman(a: pd.Series, b: pd.Series) -> float:
    """Spearman's rho: Pearson correlation of average ranks (nan if either side is constant)."""
    ra, rb = a.rank(), b.rank()
    if ra.nunique() < 2 or rb.nunique() < 2:
        return float("nan")
    return float(ra.corr(rb))


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (src, res), g in df.groupby(["source", "resource"], sort=False):
        ok = g[g["reference"] > 0]
        rel = ((ok["kerasnac"] - ok["reference"]).abs() / ok["reference"])
        ratio = ok["kerasnac"] / ok["reference"]
        pos = ratio[ratio > 0]
        out.append(dict(source=src, resource=res, n=len(g), n_ref_pos=len(ok),
                        spearman_rho=spearman(g["reference"], g["kerasnac"]) if len(g) > 2 else float("nan"),
                        median_abs_rel_err=float(rel.median()) if len(ok) else float("nan"),
                        geomean_ratio=float(math.exp(pos.apply(math.log).mean())) if len(pos) else float("nan")))
    return pd.DataFrame(out)


def findings(df: pd.DataFrame) -> list[str]:
    """Bullet points computed from this run's rows."""
    out = []
    for src, gs in df[df["source"] != "rule4ml"].groupby("source", sort=False):
        for res, g in gs.groupby("resource", sort=False):
            out.append(f"* {src}, {res}: kerasnac / published = "
                       + ", ".join(f"{r:.2f} ({b} b)" for b, r in zip(g["bits"], g["ratio"])) + ".")
    pub = df[df["source"] == "Fahim2021-T1"]
    r4 = df[df["source"] == "rule4ml"]
    if len(r4):
        same = r4[(r4["model"] == "mlp-16-64-32-32-5") & (r4["strategy"] == "latency") & (r4["reuse_factor"] == 1)
                  & (r4["bits"] == 16)].set_index("resource")["reference"]
        p16 = pub[pub["bits"] == 16].set_index("resource")["reference"]
        common = [k for k in p16.index if k in same.index]
        if common:
            out.append("* The two references disagree with each other: for the same 16-bit jet MLP (Latency, RF=1) "
                       "rule4ml predicts " + ", ".join(f"{k} {same[k]:,.0f}" for k in common)
                       + " where Fahim2021-T1 reports " + ", ".join(f"{k} {p16[k]:,.0f}" for k in common)
                       + " (different hls4ml/Vivado versions and FPGA, and rule4ml's own error).")
        for res in ("lut", "ff", "dsp", "latency_cycles"):
            g = r4[r4["resource"] == res]
            per_bits = {b: spearman(gb["reference"], gb["kerasnac"]) for b, gb in g.groupby("bits")}
            out.append(f"* rule4ml, {res}: Spearman rho within one bit width "
                       + ", ".join(f"{b} b: {v:.2f}" for b, v in per_bits.items()) + ".")
    return out


def fmt(x, nd=3):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if isinstance(x, float) and abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{nd}g}" if isinstance(x, float) else str(x)


def md_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for rec in df.to_dict("records"):
        lines.append("| " + " | ".join(fmt(rec[c]) for c in cols) + " |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rule4ml-python", default="/tmp/r4ml/bin/python",
                    help="interpreter of a venv with rule4ml installed (part (a) is skipped if absent)")
    ap.add_argument("--board", default="zcu102", help="rule4ml board (UltraScale+ like kerasnac's DSP48E2 model)")
    ap.add_argument("--hls4ml-version", default="1.1.0")
    ap.add_argument("--vivado-version", default="2023.1")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cost_fidelity"),
                    help="output path without extension (.md and .csv are written)")
    ap.add_argument("--compare-to", default=None, help="CSV of an earlier run: its summary is shown too")
    ap.add_argument("--yosys", type=int, default=0, metavar="N",
                    help="part (c): synthesize N models drawn from the shipped spaces with yosys (0: skip)")
    ap.add_argument("--yosys-cache", default=str(ROOT / "benchmarks" / "results" / "yosys_cache"),
                    help="per-model results of part (c); a rerun continues from them")
    ap.add_argument("--yosys-only", action="store_true", help="run part (c) only")
    ap.add_argument("--yosys-report", action="store_true",
                    help="part (c) from the cached models only (no new synthesis)")
    ap.add_argument("--yosys-conv", type=int, default=0, metavar="M",
                    help="of the N models of part (c), M are conv models (small_cnn on 4x4x1)")
    ap.add_argument("--yosys-seed-csv", default=None,
                    help="CSV of an earlier part (c) run whose ok models are reused after checking the draw "
                         "(default: <out>_yosys.csv; 'none' to synthesize everything again)")
    ap.add_argument("--yosys-worker", default="0/1", help="i/n: this process synthesizes every n-th model "
                    "(run n processes on one cache; the report covers the whole cache)")
    args = ap.parse_args(argv)
    if args.yosys or args.yosys_report:
        yosys_part(args, argv)
        if args.yosys_only:
            return

    t0 = time.perf_counter()
    rows = rows_published()
    r4_note = ""
    py = Path(args.rule4ml_python)
    if py.exists():
        t1 = time.perf_counter()
        r4 = run_rule4ml(str(py), args.board, args.hls4ml_version, args.vivado_version)
        rows += rows_rule4ml(r4)
        r4_note = (f"rule4ml 0.2.0 via `{py}`: board {args.board}, hls4ml {args.hls4ml_version}, Vivado "
                   f"{args.vivado_version}; {len(r4)} configurations in {time.perf_counter() - t1:.0f} s.")
    else:
        r4_note = (f"SKIPPED part (a): no rule4ml interpreter at `{py}`. Create one with "
                   "`python3 -m venv /tmp/r4ml && /tmp/r4ml/bin/pip install rule4ml==0.2.0` "
                   "and pass `--rule4ml-python /tmp/r4ml/bin/python`.")
    print(r4_note)

    df = pd.DataFrame(rows)
    df["ratio"] = df["kerasnac"] / df["reference"].where(df["reference"] > 0)
    summary = summarize(df)
    elapsed = time.perf_counter() - t0

    pd.set_option("display.width", 200)
    pub = df[df["source"] != "rule4ml"]
    print("\nPublished figures vs kerasnac:")
    print(pub.to_string(index=False))
    print("\nSummary (Spearman rho over configurations; median |kerasnac - ref| / ref; geometric-mean ratio):")
    print(summary.to_string(index=False))
    old_summary = None
    if args.compare_to:
        old_summary = summarize(pd.read_csv(args.compare_to))
        print(f"\nSummary of {args.compare_to}:")
        print(old_summary.to_string(index=False))
    print(f"\nrun time {elapsed:.0f} s")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out.with_suffix(".csv"), index=False)
    cmd = "python benchmarks/cost_fidelity.py " + " ".join(sys.argv[1:] if argv is None else argv)
    md = [
        "# Cost-model fidelity: kerasnac FPGA estimates vs rule4ml and published synthesis",
        "",
        f"Made by `{cmd.strip()}` in {elapsed:.0f} s (2-core machine shared with other jobs).",
        "",
        "kerasnac's numbers are `kerasnac.costs.evaluate(model, input_bits=..., reuse_factor=..., strategy=...,"
        " sparsity=0)` (0.7 for the Fahim2021-T1-sp70 rows) on a QKeras MLP (QDense + quantized_relu,"
        " softmax output) with the same widths and bits.",
        "",
        "## Sources",
        "",
        f"* **Fahim2021-T1**: {FAHIM_WHERE}. Jet-tagging MLP 16-64-32-32-5; 16/14-bit PTQ, 6-bit QAT. "
        "Reuse factor, strategy and input width are not given in the table: assumed Latency, RF=1 and 16-bit "
        "inputs for the 6-bit model. Latency cycles = ns x 0.2 (200 MHz). BRAM not reported. Whether the "
        "Table 1 models were pruned is not stated in the paper's text; **Fahim2021-T1-sp70** repeats the rows "
        f"with kerasnac at sparsity={FAHIM_ASSUMED_SPARSITY} as an assumption (the sparsity of hls4ml's pruned "
        "example of this jet model, `KERAS_3layer_70pruned_retrained_weights.h5`, hls4ml PR #86); see the "
        "comment above `PUBLISHED` in the script for the quotes.",
        f"* **rule4ml**: {r4_note} Grid: {len(R4_ARCHS)} MLPs ({', '.join(arch_name(a) for a in R4_ARCHS)}) x "
        f"bits {R4_BITS} (uniform ap_fixed<W,I>, I = round(3W/8)) x (strategy, RF) {R4_CONFIGS}. rule4ml is a "
        "learned estimate with its own errors (its benchmark notebook: SMAPE 63-89% per resource), so this is "
        "a consistency check, not ground truth. Its MultiModelWrapper defaults are precisions <2,1>, <8,3>, "
        "<16,6> and RF 1-64; 4- and 6-bit rows are between those.",
        "",
        "Columns: Spearman rho across the configurations of a source (ranking agreement, what a search needs);"
        " median |kerasnac - ref| / ref over rows with ref > 0; geometric-mean ratio kerasnac / ref over rows where both are > 0 (bias; kerasnac BRAM is 0 for Latency or RF=1, so the BRAM ratio covers Resource rows only).",
        "",
        "## Summary",
        "",
        md_table(summary),
        "",
    ]
    if old_summary is not None:
        both = old_summary.merge(summary, on=["source", "resource"], suffixes=("_before", "_after"))
        metrics = ["spearman_rho", "median_abs_rel_err", "geomean_ratio"]
        changed = both[[not all(math.isclose(a, b, rel_tol=1e-9) or (math.isnan(a) and math.isnan(b))
                                for a, b in ((r[m + "_before"], r[m + "_after"]) for m in metrics))
                        for r in both.to_dict("records")]]
        cols = ["source", "resource"] + [m + sfx for m in metrics for sfx in ("_before", "_after")]
        md += [f"### Before / after (rows whose numbers changed)", "",
               f"Before = `{Path(args.compare_to).name}`: this script run with kerasnac/costs/_fpga.py as of commit "
               "357cc03 (a FF register per product at every reuse factor); after = this run.", "",
               md_table(changed[cols]) if len(changed) else "No summary number changed.", ""]
    md += ["## Findings (computed from this run)", ""] + findings(df) + ["", CALIBRATION_NOTE, ""]
    md += ["## Published figures vs kerasnac", "", md_table(pub.drop(columns=["source"])), "",
           "## All rows", "", f"In `{out.with_suffix('.csv').name}` ({len(df)} rows).", ""]
    out.with_suffix(".md").write_text("\n".join(md))
    print(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.csv')}")


def yosys_part(args, argv) -> None:
    """Part (c): see ``benchmarks/_yosys_reference.py``. Writes ``<out>_yosys.md`` and ``.csv``."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _yosys_reference as yref
    import _yosys_report as yrep

    t0 = time.perf_counter()
    worker, workers = (int(v) for v in args.yosys_worker.split("/"))
    out = Path(args.out + "_yosys")
    seed_csv = args.yosys_seed_csv or str(out.with_suffix(".csv"))
    if seed_csv == "none":
        seed_csv = None
    if args.yosys_report:
        rows = yref.load_cache(args.yosys_cache)
        if not rows:  # a fresh checkout: the committed CSV's synthesized models (their draws are rebuilt)
            rows = yref.csv_rows(seed_csv)
            print(f"no models in {args.yosys_cache}; reporting the {len(rows)} synthesized models of {seed_csv}")
        df = pd.DataFrame(rows)
    else:
        df = pd.DataFrame(yref.run(args.yosys, args.yosys_cache, log=lambda m: print(m, flush=True),
                                   n_conv=args.yosys_conv, seed_csv=seed_csv, worker=worker, workers=workers))
    df = yrep.add_estimates(df)
    elapsed = time.perf_counter() - t0
    print(yrep.summarize(df[df["split"] == "held_out"]).to_string(index=False))
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out.with_suffix(".csv"), index=False)
    cmd = "python benchmarks/cost_fidelity.py " + " ".join(sys.argv[1:] if argv is None else argv)
    load = os.getloadavg()
    out.with_suffix(".md").write_text("\n".join(yrep.report(df, cmd.strip(), elapsed, yref.__doc__,
                                                            load=" ".join(f"{v:.2f}" for v in load))))
    print(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.csv')}")


if __name__ == "__main__":
    main()

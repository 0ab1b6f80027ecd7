"""Report of part (c) of ``cost_fidelity.py``: estimates of the cached models, summary, held-out split.

The analytical estimates are recomputed on every report from the models (rebuilt from their seeded
draws), so they always describe the current ``kerasnac/costs`` code; the synthesized counts and
``da_lut`` come from the cache (they need da4ml and yosys). They are computed on the network that
is synthesized: up to the logits (a final softmax is not in the traced design, see
``kerasnac.hardware``).

Half of the models (``split == "fit"``, chosen by a hash of the model id) are the ones any constant
of the distributed-arithmetic estimate was fitted on; the summary is given for all models and for
the held-out half (``split == "held_out"``), which no constant has seen.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd

#: (estimate, synthesized count) pairs of the summary; ``da_syn_lut`` = da_lut x DA_LUT_TO_SYN_LUT;
#: ``cost_lut_da`` = the cost ``lut`` under strategy DA as a search computes it (da4ml estimator);
#: ``da_ff`` = DA_REG_TO_SYN_FF x the register bits of the pipelined RTL (the cost ``da_ff``, which is
#: also ``ff`` under strategy DA)
PAIRS = (("est_lut", "syn_lut"), ("est_lut_da", "syn_lut"), ("da_lut", "syn_lut"), ("da_syn_lut", "syn_lut"),
         ("cost_lut_da", "syn_lut"), ("est_ff", "syn_ff"), ("est_ff_da", "syn_ff"), ("da_reg_bits", "syn_ff"),
         ("da_ff", "syn_ff"), ("est_dsp", "syn_dsp"))
SPACE_KIND = {"jets_mlp": "mlp", "jets_deepsets": "deepsets", "small_cnn": "conv"}


def split_of(model_id: str) -> str:
    """``fit`` or ``held_out``, from a hash of the id (stable across runs and machines)."""
    return "fit" if int(hashlib.sha256(model_id.encode()).hexdigest(), 16) % 2 == 0 else "held_out"


#: layer classes whose DA-table LUTs are adders (distributed-arithmetic products, batch norm) and
#: those that are element-wise parts (see ``_fpga.DA_ELEMENTWISE_SCALE``)
ADDER_CLASSES = ("Dense", "Conv", "BatchNormalization")
ACTIVATION_CLASSES = ("Activation", "ReLU")
REDUCTION_CLASSES = ("Pooling", "Add", "Subtract", "Average", "Maximum", "Minimum")


def logits_model(model):
    """``model`` without a final softmax (what the traced hardware computes)."""
    from kerasnac._keras import keras
    from kerasnac.costs._layers import activation_name

    last = model.layers[-1]
    if isinstance(last, keras.layers.Softmax) or activation_name(getattr(last, "activation", None)) == "softmax":
        return keras.Model(model.inputs, last.input)
    return model


def _parts(lat, da) -> dict:
    """Per-model sums the DA constants are fitted on: ``adder_bits`` = sum of adders x input bits and
    ``adders`` (from the DA table's adder rows and the current constants), ``act1``/``red1`` = the
    element-wise LUTs at 1 LUT per bit (the Latency table's rows)."""
    from kerasnac.costs import _fpga

    def has(cls, names):
        return any(n in cls for n in names)

    rows = da[da["class"].map(lambda c: has(c, ADDER_CLASSES)) & (da["macs"] > 0)]
    width = rows["a_bits"] + _fpga.DA_ADDER_WEIGHT_BITS * rows["w_bits"] + _fpga.DA_ADDER_EXTRA_BITS
    adders = rows["lut"] / (_fpga.DA_LUT_PER_ADDER_BIT * width)
    return {"adder_bits": float((adders * rows["a_bits"]).sum()), "adders": float(adders.sum()),
            "adder_wbits": float((adders * rows["w_bits"]).sum()),
            "act1": float(lat[lat["class"].map(lambda c: has(c, ACTIVATION_CLASSES))]["lut"].sum()),
            "red1": float(lat[lat["class"].map(lambda c: has(c, REDUCTION_CLASSES))]["lut"].sum())}


def add_estimates(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Recompute the estimates on the cached models: ``est_*`` (default Latency strategy), ``est_*_da``
    (``strategy="distributed_arithmetic"``, analytical estimator), ``cost_lut_da``/``cost_ff_da`` (that
    strategy with the da4ml estimator, as a search uses it: one da4ml trace of each model with the
    costs' solver options) and ``da_reg_bits``/``da_ff`` of that trace; add ``da_syn_lut``, ``split``,
    ``kind`` and the parts ``fit_da_constants`` uses."""
    from kerasnac import costs, hardware

    from _yosys_reference import _build, draw

    if df.empty:
        return df
    rows = {}
    for mid, (_, values, sp, frac, wseed) in draw(list(df["model"]), seed).items():
        model = logits_model(_build(sp, values, frac, wseed))
        lat = costs.layer_table(model, input_bits=16)
        da = costs.layer_table(model, input_bits=16, strategy="distributed_arithmetic")
        search = costs.evaluate(model, ["lut", "ff"], input_bits=16, strategy="distributed_arithmetic",
                                estimator="da4ml")
        trace = hardware.da_costs(model)  # the trace evaluate() just made (cached)
        rows[mid] = {"est_lut": lat["lut"].sum(), "est_ff": lat["ff"].sum(), "est_dsp": lat["dsp"].sum(),
                     "est_bops": lat["bops"].sum(), "est_lut_da": da["lut"].sum(), "est_ff_da": da["ff"].sum(),
                     "cost_lut_da": search["lut"], "cost_ff_da": search["ff"], "cost_da_lut": trace["da_lut"],
                     "da_reg_bits": trace["da_reg_bits"], "da_ff": trace["da_ff"], **_parts(lat, da)}
    est = pd.DataFrame.from_dict(rows, orient="index")
    df = df.drop(columns=[c for c in est.columns if c in df.columns]).join(est, on="model")
    df["da_syn_lut"] = df["da_lut"] * hardware.DA_LUT_TO_SYN_LUT
    df["split"] = df["model"].map(split_of)
    df["kind"] = df["space"].map(SPACE_KIND)
    return df


def _spearman(a, b) -> float:
    a, b = pd.Series(a).rank(), pd.Series(b).rank()
    return float(np.corrcoef(a, b)[0, 1]) if len(a) > 2 else math.nan


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per (estimate, synthesized count): median and 10-90% spread of estimate / synthesized, median
    |log2 ratio| and the Spearman rank correlation, over models where both are > 0."""
    out = []
    for est, ref in PAIRS:
        if est not in df or ref not in df:
            continue
        d = df[[est, ref]].astype(float)
        ok = d[(d[ref] > 0) & (d[est] > 0)]
        r = ok[est] / ok[ref]
        some = len(r) > 0
        out.append({"estimate": est, "synthesized": ref, "n": int(len(ok)), "n_ref_zero": int((d[ref] <= 0).sum()),
                    "median_ratio": float(r.median()) if some else math.nan,
                    "p10_ratio": float(r.quantile(0.1)) if some else math.nan,
                    "p90_ratio": float(r.quantile(0.9)) if some else math.nan,
                    "median_abs_log2": float(np.abs(np.log2(r)).median()) if some else math.nan,
                    "spearman": _spearman(ok[est], ok[ref])})
    return pd.DataFrame(out)


def by_group(df: pd.DataFrame, col: str,
             estimates=("est_lut", "est_lut_da", "da_lut", "da_syn_lut", "cost_lut_da")) -> pd.DataFrame:
    parts = []
    for key, part in df.groupby(col, sort=True):
        s = summarize(part)
        s.insert(0, col, key)
        parts.append(s[s["estimate"].isin(estimates)])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def fit_scale(df: pd.DataFrame, est: str, ref: str = "syn_lut") -> float:
    """The factor c minimizing the median |log2(c * est / ref)| on ``df``: 1 / the median ratio."""
    d = df[(df[ref] > 0) & (df[est] > 0)]
    return float(1.0 / np.exp(np.median(np.log(d[est] / d[ref]))))


def _median_scale(a, s, y) -> float:
    """c with median((c*a + s) / y) = 1 (bisection; the median grows with c)."""
    lo, hi = 0.0, 1.0
    while np.median((hi * a + s) / y) < 1 and hi < 1e6:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.median((mid * a + s) / y) < 1 else (lo, mid)
    return (lo + hi) / 2


#: the grid of ``fit_da_constants``
EXTRA_BITS_GRID = (0, 1, 2, 3, 4, 6, 8, 12)
WEIGHT_BITS_GRID = (0.0, 0.25, 0.5, 1.0)
SCALE_GRID = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)


def fit_da_constants(fit: pd.DataFrame) -> dict:
    """The DA-estimate constants (``_fpga.DA_ADDER_EXTRA_BITS``, ``DA_ELEMENTWISE_SCALE``,
    ``DA_LUT_PER_ADDER_BIT``) that best rank the synthesized LUTs of ``fit``: on a grid of the adder
    width offset and the two element-wise factors, the one with the highest Spearman correlation (ties:
    lowest median |log2 ratio|), with the LUT per adder bit set for a median ratio of 1."""
    d = fit[fit["syn_lut"] > 0]
    y = d["syn_lut"].to_numpy(float)
    best = None
    for extra, beta in ((e, b) for e in EXTRA_BITS_GRID for b in WEIGHT_BITS_GRID):
        a = (d["adder_bits"] + beta * d["adder_wbits"] + extra * d["adders"]).to_numpy(float)
        for s_act in SCALE_GRID:
            for s_red in SCALE_GRID:
                s = (s_act * d["act1"] + s_red * d["red1"]).to_numpy(float)
                c = _median_scale(a, s, y)
                pred = c * a + s
                key = (round(_spearman(pred, y), 4), -float(np.median(np.abs(np.log2(pred / y)))))
                if best is None or key > best[0]:
                    best = (key, {"DA_ADDER_EXTRA_BITS": extra, "DA_ADDER_WEIGHT_BITS": beta,
                                  "DA_LUT_PER_ADDER_BIT": round(c, 3),
                                  "activation": s_act, "reduction": s_red})
    return dict(best[1], spearman_fit=best[0][0], median_abs_log2_fit=-best[0][1], n_fit=len(d))


def predict_da(df: pd.DataFrame, k: dict) -> pd.Series:
    """The DA estimate of the models in ``df`` with the constants ``k`` (as ``fit_da_constants``
    returns them), from the parts ``add_estimates`` stored."""
    a = df["adder_bits"] + k["DA_ADDER_WEIGHT_BITS"] * df["adder_wbits"] + k["DA_ADDER_EXTRA_BITS"] * df["adders"]
    return k["DA_LUT_PER_ADDER_BIT"] * a + k["activation"] * df["act1"] + k["reduction"] * df["red1"]


def md_table(df: pd.DataFrame) -> list[str]:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for rec in df.to_dict("records"):
        lines.append("| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in rec.values()) + " |")
    return lines


def report(df: pd.DataFrame, cmd: str, elapsed: float, doc: str, load: str = "") -> list[str]:
    from kerasnac.costs import _fpga
    from kerasnac.hardware import COST_SOLVER_OPTIONS, DA_LUT_TO_SYN_LUT, DA_REG_TO_SYN_FF, PIPELINE_LATENCY_CUTOFF

    counts = df.groupby("kind").size().to_dict()
    held = df[df["split"] == "held_out"]
    fit = df[df["split"] == "fit"]
    refit = fit_da_constants(fit)
    check = held.assign(est_lut_da_refit=predict_da(held, refit))
    check = summarize(check.rename(columns={"est_lut_da": "x", "est_lut_da_refit": "est_lut_da"}))
    check = check[check["estimate"] == "est_lut_da"].iloc[0]
    now = {"DA_ADDER_EXTRA_BITS": _fpga.DA_ADDER_EXTRA_BITS, "DA_ADDER_WEIGHT_BITS": _fpga.DA_ADDER_WEIGHT_BITS,
           "DA_LUT_PER_ADDER_BIT": _fpga.DA_LUT_PER_ADDER_BIT,
           **_fpga.DA_ELEMENTWISE_SCALE}
    sec = df["syn_seconds"].astype(float)
    solver_diff = (df["cost_da_lut"] / df["da_lut"] - 1).abs()
    ff_same = int(np.isclose(df["cost_ff_da"], df["da_ff"]).sum())
    reused = df["from_csv"].fillna(False).astype(bool) if "from_csv" in df else pd.Series(False, index=df.index)
    return ["# Cost fidelity (c): kerasnac estimates and da_lut vs yosys logic synthesis", "",
            f"Made by `{cmd}` in {elapsed:.0f} s{(' (load average ' + load + ')') if load else ''}: {len(df)} "
            f"models {counts}, {len(fit)} in the fit half, {len(held)} held out; cached results reused.", "",
            doc.strip(), "",
            "**What each estimate is compared against.** Every synthesized count is yosys logic synthesis "
            "(not place and route) of da4ml's distributed-arithmetic RTL of the network up to its logits. "
            "`est_*` = `kerasnac.costs.evaluate(model, input_bits=16)`, the default `strategy=\"latency\"`: it "
            "describes hls4ml's Latency-strategy firmware (LUT multipliers below 9-bit weights, DSPs above), a "
            "different design, so its rows say how well it ranks the DA design, not whether it is right for "
            "Latency firmware (for that see parts (a)/(b), `cost_fidelity.md`). `est_*_da` = the same with "
            "`strategy=\"distributed_arithmetic\", estimator=\"analytical\"` (the formulas, no da4ml needed: what "
            "a search under that strategy uses without da4ml). `da_lut` = da4ml's own cost of the traced graph (LUT-equivalents); `da_syn_lut` = "
            f"`da_lut` x `DA_LUT_TO_SYN_LUT` = {DA_LUT_TO_SYN_LUT} (`kerasnac/hardware/__init__.py`; the cost "
            "`da_syn_lut`). `da_lut` and `da_syn_lut` are of the synthesized design's trace (da4ml's default "
            "solver options). `cost_lut_da` = `kerasnac.costs.evaluate(model, input_bits=16, "
            "strategy=\"distributed_arithmetic\")[\"lut\"]` with da4ml installed, i.e. what a search under "
            "that strategy (e.g. one with the `Synthesis` callback) ranks by: `da_syn_lut` of a trace with the "
            f"costs' solver options {COST_SOLVER_OPTIONS}, whose da4ml cost differs from the synthesized trace's "
            f"on {int((solver_diff > 1e-9).sum())} of {len(df)} models (median {solver_diff.median():.2%}, max "
            f"{solver_diff.max():.1%}). `da_reg_bits` = the register bits of that trace's RTL pipelined every "
            f"{PIPELINE_LATENCY_CUTOFF:g} adder delays (as `Synthesis` writes it: the input register, each stage's "
            f"output and the output register); `da_ff` = `DA_REG_TO_SYN_FF` x `da_reg_bits` = {DA_REG_TO_SYN_FF} x, "
            f"the cost `da_ff` and `ff` under that strategy (equal to `cost_ff_da` on {ff_same} of {len(df)} "
            "models). Ratios are estimate / synthesized over models with a synthesized count > 0 "
            "(`n_ref_zero`: no LUT or no DSP at all, e.g. every weight quantized to zero).", "",
            "## Summary, held-out half", "", *md_table(summarize(held)), "",
            "## Summary, all models", "", *md_table(summarize(df)), "",
            "## LUT per space (held-out half)", "", *md_table(by_group(held, "kind")), "",
            "## LUT per space (all models)", "", *md_table(by_group(df, "kind")), "",
            "## FF per space (held-out half)", "",
            *md_table(by_group(held, "kind", ("est_ff_da", "da_reg_bits", "da_ff"))), "",
            "## Constants of the DA estimate", "",
            f"In `kerasnac/costs/_fpga.py` now: {now}; `DA_LUT_TO_SYN_LUT` = {DA_LUT_TO_SYN_LUT}.", "",
            f"`fit_da_constants` on this run's fit half: {refit}; 1 / median(da_lut / syn_lut) on the fit half: "
            f"{fit_scale(fit, 'da_lut'):.3f}. (Equal to the constants above when they were fitted on this set.) "
            f"Those constants on the held-out half: median ratio {check['median_ratio']:.3f}, median abs log2 "
            f"{check['median_abs_log2']:.3f}, Spearman {check['spearman']:.3f}.", "",
            f"1 / median(da_reg_bits / syn_ff) on the fit half: {fit_scale(fit, 'da_reg_bits', 'syn_ff'):.3f} "
            f"(`DA_REG_TO_SYN_FF` = {DA_REG_TO_SYN_FF}). yosys keeps at most the declared registers (it drops "
            "constant and duplicate bits): da_reg_bits >= syn_ff on "
            f"{int((df['da_reg_bits'] >= df['syn_ff']).sum())} of {len(df)} models.", "",
            f"yosys time per model (wall, shared 2-core machine): median {sec.median():.1f} s, max "
            f"{sec.max():.1f} s over all; {int((~reused).sum())} synthesized in the last session: median "
            f"{sec[~reused].median():.1f} s, max {sec[~reused].max():.1f} s; {int(reused.sum())} taken from the "
            f"committed CSV (synthesized in an earlier session): median {sec[reused].median():.1f} s. da4ml trace: "
            f"median {df['da_seconds'].astype(float).median():.2f} s.", ""]

"""Report of part (c) of ``cost_fidelity.py``: estimates of the cached models, summary, held-out split.

The analytical estimates are recomputed on every report from the models (rebuilt from their seeded
draws), so they always describe the current ``kerasnac/costs`` code; the synthesized counts and
``da_lut`` come from the cache (they need da4ml and yosys).

Half of the models (``split == "fit"``, chosen by a hash of the model id) are the ones any constant
of the distributed-arithmetic estimate was fitted on; the summary is given for all models and for
the held-out half (``split == "held_out"``), which no constant has seen.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd

#: (estimate, synthesized count) pairs of the summary; ``da_lut_cal`` = da_lut x DA_LUT_TO_SYN_LUT
PAIRS = (("est_lut", "syn_lut"), ("est_lut_da", "syn_lut"), ("da_lut", "syn_lut"), ("da_lut_cal", "syn_lut"),
         ("est_ff", "syn_ff"), ("est_ff_da", "syn_ff"), ("est_dsp", "syn_dsp"))
SPACE_KIND = {"jets_mlp": "mlp", "jets_deepsets": "deepsets", "small_cnn": "conv"}


def split_of(model_id: str) -> str:
    """``fit`` or ``held_out``, from a hash of the id (stable across runs and machines)."""
    return "fit" if int(hashlib.sha256(model_id.encode()).hexdigest(), 16) % 2 == 0 else "held_out"


def add_estimates(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Recompute the analytical estimates on the cached models: ``est_*`` (default Latency strategy)
    and ``est_*_da`` (``strategy="distributed_arithmetic"``); add ``da_lut_cal``, ``split``, ``kind``."""
    from kerasnac import costs
    from kerasnac.costs import _fpga

    from _yosys_reference import _build, draw

    if df.empty:
        return df
    rows = {}
    for mid, (_, values, sp, frac, wseed) in draw(list(df["model"]), seed).items():
        model = _build(sp, values, frac, wseed)
        lat = costs.evaluate(model, ["lut", "ff", "dsp", "bops"], input_bits=16)
        da = costs.evaluate(model, ["lut", "ff"], input_bits=16, strategy="distributed_arithmetic")
        rows[mid] = {"est_lut": lat["lut"], "est_ff": lat["ff"], "est_dsp": lat["dsp"], "est_bops": lat["bops"],
                     "est_lut_da": da["lut"], "est_ff_da": da["ff"]}
    est = pd.DataFrame.from_dict(rows, orient="index")
    df = df.drop(columns=[c for c in est.columns if c in df.columns]).join(est, on="model")
    df["da_lut_cal"] = df["da_lut"] * _fpga.DA_LUT_TO_SYN_LUT
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


def by_group(df: pd.DataFrame, col: str, estimates=("est_lut", "est_lut_da", "da_lut", "da_lut_cal")) -> pd.DataFrame:
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


def md_table(df: pd.DataFrame) -> list[str]:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for rec in df.to_dict("records"):
        lines.append("| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in rec.values()) + " |")
    return lines


def report(df: pd.DataFrame, cmd: str, elapsed: float, doc: str, load: str = "") -> list[str]:
    counts = df.groupby("kind").size().to_dict()
    held = df[df["split"] == "held_out"]
    fit = df[df["split"] == "fit"]
    sec = df["syn_seconds"].astype(float)
    return ["# Cost fidelity (c): kerasnac estimates and da_lut vs yosys logic synthesis", "",
            f"Made by `{cmd}` in {elapsed:.0f} s{(' (load ' + load + ')') if load else ''}: {len(df)} models "
            f"{counts}, {len(fit)} in the fit half, {len(held)} held out; cached results reused.", "",
            doc.strip(), "",
            "**What each estimate is compared against.** Every synthesized count is yosys logic synthesis "
            "(not place and route) of da4ml's distributed-arithmetic RTL. `est_*` = "
            "`kerasnac.costs.evaluate(model, input_bits=16)`, the default `strategy=\"latency\"`: it describes "
            "hls4ml's Latency-strategy firmware (LUT multipliers below 9-bit weights, DSPs above), a different "
            "design, so its rows say how well it ranks the DA design, not whether it is right for Latency "
            "firmware (for that see parts (a)/(b), `cost_fidelity.md`). `est_*_da` = the same with "
            "`strategy=\"distributed_arithmetic\"` (what a search with that `cost_options` strategy uses), "
            "`da_lut` = da4ml's own cost of the traced graph (LUT-equivalents), `da_lut_cal` = `da_lut` x "
            "`DA_LUT_TO_SYN_LUT` (`kerasnac/costs/_fpga.py`, fitted on the fit half). Ratios are estimate / "
            "synthesized over models with a synthesized count > 0 (`n_ref_zero`: no LUT or no DSP at all).", "",
            "## Summary, held-out half", "", *md_table(summarize(held)), "",
            "## Summary, all models", "", *md_table(summarize(df)), "",
            "## LUT per space (all models)", "", *md_table(by_group(df, "kind")), "",
            "## LUT per space (held-out half)", "", *md_table(by_group(held, "kind")), "",
            f"yosys time per model (wall, shared 2-core machine): median {sec.median():.1f} s, max "
            f"{sec.max():.1f} s; da4ml trace: median {df['da_seconds'].astype(float).median():.2f} s.", ""]

"""Comparing a study's found models with its baselines: ratios, reductions, headline, plot."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._defs import STUDIES

#: compare(): a found model qualifies for the hardware reductions at metric <= (1 + tolerance) x baseline's
REDUCTION_TOLERANCE = 0.01
REDUCTION_COSTS = ("params", "lut", "ff", "dsp")


def _reductions(found: pd.DataFrame, base, hib: bool) -> dict:
    """Reductions (%) of params/LUT/FF/DSP of the cheapest (LUT, then BOPs) found model whose metric
    is within ``REDUCTION_TOLERANCE`` of the baseline's (at most 1% worse)."""
    m = base["test_metric"]
    limit = m * (1 - REDUCTION_TOLERANCE) if hib else m * (1 + REDUCTION_TOLERANCE)
    ok = found[(found["test_metric"] >= limit) if hib else (found["test_metric"] <= limit)]
    out = {"reduction_model": None, "reduction_metric_change": np.nan}
    out.update({f"{k}_reduction": np.nan for k in REDUCTION_COSTS})
    if not len(ok) or not all(k in ok for k in REDUCTION_COSTS):
        return out
    best = ok.sort_values(["lut", "bops"]).iloc[0]
    out["reduction_model"] = best["model"]
    out["reduction_metric_change"] = 100.0 * (best["test_metric"] / m - 1.0)
    for k in REDUCTION_COSTS:
        if base[k] and np.isfinite(base[k]):
            out[f"{k}_reduction"] = 100.0 * (1.0 - best[k] / base[k])
    return out


def compare(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per (study, baseline): the largest BOPs ratio of a found model at least as good on
    the test split, against the float baseline (``full``) and at equal precision."""
    out = []
    for study, df in rows.groupby("study", sort=False):
        hib = bool(df["higher_is_better"].iloc[0])
        better = (lambda a, b: a >= b) if hib else (lambda a, b: a <= b)
        found = df[df["role"] == "found"]
        for _, base in df[df["role"] == "baseline"].iterrows():
            bname = base["model"].split(":")[0]
            ok = found[[better(m, base["test_metric"]) for m in found["test_metric"]]]
            best = ok.loc[ok["bops"].idxmin()] if len(ok) else None
            line = {"study": study, "baseline": bname, "baseline_metric": base["test_metric"],
                    "baseline_bops": base["bops"],
                    "found": None if best is None else best["model"],
                    "found_metric": np.nan if best is None else best["test_metric"],
                    "found_bops": np.nan if best is None else best["bops"],
                    "ratio_full": np.nan if best is None else base["bops"] / best["bops"],
                    "best_metric_found": (found["test_metric"].max() if hib else found["test_metric"].min())
                    if len(found) else np.nan}
            # equal precision: the baseline's variant at the same bits and pruning step as the found model
            eq = df[(df["role"] == "baseline_equal_precision") & df["model"].str.startswith(bname + ":")]
            best_eq = (np.nan, None)
            for _, f in found.iterrows():
                same = eq[(eq["bits"] == f["bits"]) & ((eq["sparsity"] > 0.05) == (f["sparsity"] > 0.05))]
                for _, e in same.iterrows():
                    if better(f["test_metric"], e["test_metric"]):
                        ratio = e["bops"] / f["bops"]
                        if not (ratio <= best_eq[0]):
                            best_eq = (ratio, f"{f['model']} vs {e['model'].split(':')[1]}")
            line["ratio_equal_precision"], line["equal_precision_pair"] = best_eq
            if not hib and study in STUDIES and STUDIES[study].strategy == "gradient":
                # regression with a gradient search: the ConNAS4ML-style reductions at <= 1% worse metric
                line.update(_reductions(found, base, hib))
            out.append(line)
    return pd.DataFrame(out)


def headline(line) -> str:
    """One sentence from a :func:`compare` line, e.g. for a notebook or a report."""
    metric = "test metric"
    if not isinstance(line["found"], str) or not np.isfinite(line["ratio_full"]):
        return (f"{line['study']}: no found model reached the test metric of {line['baseline']} "
                f"({line['baseline_metric']:.4g}; best found {line['best_metric_found']:.4g}).")
    eq = line.get("ratio_equal_precision", np.nan)
    if not np.isfinite(eq):
        tail = "no found model is as good as the baseline at the same precision."
    elif eq >= 1:
        tail = f"{eq:.1f}x fewer ({line['equal_precision_pair']})."
    else:
        tail = f"the best pair still has {1 / eq:.1f}x more BOPs ({line['equal_precision_pair']})."
    return (f"{line['study']}: found model {line['found']}: {line['ratio_full']:.1f}x fewer BOPs than the "
            f"baseline {line['baseline']} at an equal or better {metric} ({line['found_metric']:.4g} vs "
            f"{line['baseline_metric']:.4g}); at equal precision " + tail)


def plot(rows: pd.DataFrame, study: str, path: str | None = None):
    """Test metric vs BOPs of every model of one study: found models, the baselines marked."""
    import matplotlib.pyplot as plt

    df = rows[rows["study"] == study]
    fig, ax = plt.subplots(figsize=(6, 4))
    styles = {"found": ("o", "C0", "found (search + local stage)"),
              "baseline_equal_precision": ("s", "C1", "baseline at the same QAT/pruning"),
              "baseline": ("*", "C3", "float baseline")}
    for role, (m, c, label) in styles.items():
        d = df[df["role"] == role]
        if len(d):
            ax.scatter(d["bops"], d["test_metric"], marker=m, c=c, s=120 if role == "baseline" else 30, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("BOPs")
    ax.set_ylabel(f"test {df['metric_name'].iloc[0]}" if len(df) else "test metric")
    ax.set_title(study)
    ax.legend(fontsize=8)
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=110)
    return fig

"""Results of a search as tables and figures (pandas, matplotlib)."""

from __future__ import annotations

import re
import numpy as np
import pandas as pd

from .errors import failure_reason
from ._io import write_csv_atomic  # noqa: F401  (re-exported: callers write results through it)

STATUS_ORDER = ("COMPLETED", "FAILED", "INVALID", "RUNNING", "IDLE", "STOPPED")


def reason(message: str | None) -> str:
    """The last meaningful line of a keras-tuner failure traceback (:func:`kerasnac.errors.failure_reason`)."""
    return failure_reason(message)


#: parts of a failure reason that differ between trials failing for the same cause
_VARYING = (
    (re.compile(r"0x[0-9a-fA-F]+"), "0x…"),  # memory addresses in object reprs
    (re.compile(r"(__(?:inference|forward|backward)_\w+?)_\d+\b"), r"\1"),  # tf.function ids
    (re.compile(r"(?<=[A-Za-z])_\d+\b"), ""),  # numbered node/layer names: model_3/dense_12/MatMul_1
    (re.compile(r"\b(trial|epoch) \d+\b"), r"\1 N"),  # "out of memory in trial 05", "NaN at epoch 3"
)


def normalize_reason(message) -> str:
    """A failure reason without its per-trial parts (addresses, function ids, node numbers, trial ids),
    so that counting reasons counts causes."""
    text = str(message) if message is not None and message == message else ""  # NaN from a CSV: no reason
    for pattern, repl in _VARYING:
        text = pattern.sub(repl, text)
    return text or "unknown"


def trials_dataframe(trials, objectives, ranks: dict, baselines: dict, describe) -> pd.DataFrame:
    """One row per trial: id, status, architecture, objectives, costs, metrics, rank, hyperparameters."""
    rows = []
    for t in trials:
        row = {"trial_id": t.trial_id, "status": str(t.status), "baseline": baselines.get(t.trial_id, ""),
               "architecture": _safe(describe, t.hyperparameters.values)}
        metrics = {name: float(h.get_history()[-1].value[0]) if np.ndim(h.get_history()[-1].value) else
                   float(h.get_history()[-1].value)
                   for name, h in t.metrics.metrics.items() if h.get_history()}
        for o in objectives:
            row[o.name] = metrics.get(o.name, np.nan)
        rank, crowd, viol = ranks.get(t.trial_id, (np.nan, np.nan, np.nan))
        row.update({"pareto_rank": rank, "crowding": crowd, "violation": viol,
                    "on_front": bool(rank == 0 and (viol == 0 or np.isnan(viol)))})
        for k, v in sorted(metrics.items()):
            if k not in row and k != "multi_objective":
                row[k] = v
        row["reason"] = reason(t.message) if str(t.status) != "COMPLETED" else ""
        for k, v in t.hyperparameters.values.items():
            row[f"hp:{k}"] = v
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["pareto_rank"] = df["pareto_rank"].astype("Int64") if df["pareto_rank"].notna().any() else df["pareto_rank"]
    order = pd.to_numeric(df["trial_id"], errors="coerce")
    return df.iloc[np.lexsort((df["trial_id"].to_numpy(str), order.to_numpy(float)))].reset_index(drop=True)


def _safe(fn, values):
    try:
        return fn(values)
    except Exception as e:  # a malformed trial must not break the table
        return f"<{type(e).__name__}>"


def _front_line(ax, xs, ys, x_dir, y_dir):
    order = np.argsort(xs if x_dir == "min" else -xs)
    ax.step(xs[order], ys[order], where="post", color="C3", lw=1.2, alpha=0.7)


def plot_pareto(df: pd.DataFrame, objectives, path: str | None = None, log_costs=True):
    """Scatter of all completed trials, the Pareto front highlighted, baselines marked.

    Two objectives give one panel; more give one panel per pair.
    """
    import matplotlib.pyplot as plt

    from . import costs

    done = df[df["status"] == "COMPLETED"] if not df.empty else df
    names = [o.name for o in objectives]
    pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
    if not pairs:
        pairs = [(0, 0)]
    ncol = min(3, len(pairs))
    nrow = int(np.ceil(len(pairs) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, 4.2 * nrow), squeeze=False)
    # put the cost-like objective on x when there is one
    for ax, (i, j) in zip(axes.flat, pairs):
        xi, yi = (j, i) if costs.is_cost(names[j]) and not costs.is_cost(names[i]) else (i, j)
        xo, yo = objectives[xi], objectives[yi]
        if done.empty:
            ax.text(0.5, 0.5, "no completed trials", ha="center", transform=ax.transAxes)
            continue
        front = done[done["on_front"]]
        ax.scatter(done[xo.name], done[yo.name], s=18, c="0.6", label="trials")
        ax.scatter(front[xo.name], front[yo.name], s=36, c="C3", label="Pareto front", zorder=3)
        if len(front) > 1 and len(objectives) == 2:
            _front_line(ax, front[xo.name].to_numpy(float), front[yo.name].to_numpy(float), xo.direction, yo.direction)
        base = done[done["baseline"].astype(str) != ""]
        if not base.empty:
            ax.scatter(base[xo.name], base[yo.name], s=140, marker="*", c="C0", edgecolor="k", label="baseline", zorder=4)
            for _, r in base.iterrows():
                ax.annotate(str(r["baseline"]), (r[xo.name], r[yo.name]), fontsize=7, xytext=(4, 4),
                            textcoords="offset points")
        for o, setter in ((xo, ax.set_xscale), (yo, ax.set_yscale)):
            vals = done[o.name].to_numpy(float)
            if log_costs and costs.is_cost(o.name) and np.all(vals > 0) and vals.max() / vals.min() > 20:
                setter("log")
        ax.set_xlabel(f"{xo.name} ({xo.direction})")
        ax.set_ylabel(f"{yo.name} ({yo.direction})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(pairs):]:
        ax.axis("off")
    fig.suptitle(f"{len(done)} completed trials, {int(done['on_front'].sum()) if not done.empty else 0} on the front")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig

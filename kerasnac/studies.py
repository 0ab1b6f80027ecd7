"""Case studies: the whole codesign pipeline against a physicist's baseline, measured on a test split.

A study searches a shipped space (the baselines enqueued as the first trials), runs the local stage
(training-HPO, QAT, pruning) and the hls4ml C-simulation on the final front, and gives each
baseline the same treatment: the same per-trial training in the global search, then the same local
stage (so it is retrained, quantized at the same precisions and pruned like the found models).
Every model is then scored once on the held-out **test** split, which neither the search nor the
local stage has seen. Ratios are reported twice:

* ``full``: the found models (quantized, pruned) against the *float* baseline, as the NAC paper does;
* ``equal precision``: each found model against the baseline at the *same* QAT precision (and
  pruning step), so that quantization cannot inflate the ratio.

    >>> import kerasnac as kn                                          # doctest: +SKIP
    >>> rows, nac = kn.studies.run("jets_hlf", quick=True)             # doctest: +SKIP
    >>> kn.studies.compare(rows)                                       # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Callable

import numpy as np
import pandas as pd

COLUMNS = ["study", "model", "role", "bits", "sparsity", "test_metric", "metric_name", "higher_is_better", "bops",
           "params", "lut", "ff", "dsp", "bram", "latency_cycles", "csim_agreement", "command"]


@dataclasses.dataclass
class Study:
    """One case study: data, space, metric, budget (full and ``quick``) and baselines."""

    name: str
    space: str
    metric: str                    # the test metric's name
    higher_is_better: bool
    load: Callable                 # (n, seed) -> ((xt, yt), (xv, yv), (xs, ys))
    baselines: tuple               # baseline names of the space
    n: int
    epochs: int
    trials: int
    bits: tuple = ((8, 3), (6, 2), (4, 1))
    population: int = 20
    batch_size: int = 256
    hpo_trials: int = 2
    top_k: int = 3
    prune_to: float = 0.5
    quick: dict = dataclasses.field(default_factory=dict)
    space_kwargs: dict = dataclasses.field(default_factory=dict)

    def budget(self, quick: bool, **override) -> dict:
        b = {k: getattr(self, k) for k in ("n", "epochs", "trials", "bits", "population", "hpo_trials", "top_k")}
        if quick:
            b.update(self.quick)
        b.update({k: v for k, v in override.items() if v is not None})
        return b


def _jets(features):
    def load(n, seed):
        from .datasets import jets
        from .datasets._jets import CASE_STUDY_PATH

        path = CASE_STUDY_PATH if CASE_STUDY_PATH.exists() else None  # else the shipped 5,000-jet sample
        splits = jets(path=path, features=features, n_constituents=8, seed=seed)
        if n is not None:  # a class-balanced subset of every split, same fraction
            frac = min(1.0, n / sum(len(s[0]) for s in splits))
            splits = tuple((x[: max(50, int(len(x) * frac))], y[: max(50, int(len(x) * frac))]) for x, y in splits)
        return splits
    return load


def _bragg(n, seed):
    from .datasets import bragg_peaks

    return bragg_peaks(n, seed=seed)


def bragg_distance_px(model, validation_data) -> float:
    """Mean Euclidean distance (pixels) between predicted and true peak centres."""
    from .datasets import bragg_metrics

    x, y = validation_data
    return bragg_metrics(y, model.predict(x, verbose=0, batch_size=2048))["mean"]


STUDIES = {
    "jets_hlf": Study("jets_hlf", "jets_mlp", "accuracy", True, _jets("hlf"),
                      ("hls4ml_mlp_64_32_32_float", "hls4ml_mlp_64_32_32_6bit"), n=None, epochs=20, trials=60,
                      quick=dict(n=3000, epochs=2, trials=4, population=4, hpo_trials=0, top_k=1, bits=((6, 2),))),
    "jets_deepsets": Study("jets_deepsets", "jets_deepsets", "accuracy", True, _jets("constituents"),
                           ("nac_base", "nac_large", "nac_medium", "nac_small", "nac_tiny"), n=None, epochs=20,
                           trials=60, quick=dict(n=3000, epochs=2, trials=6, population=6, hpo_trials=0, top_k=1,
                                                 bits=((6, 2),))),
    "bragg": Study("bragg", "braggnn", "distance_px", False, _bragg, ("braggnn_float",), n=30_000, epochs=15,
                   trials=40, bits=((16, 6), (8, 3), (6, 2)), hpo_trials=0, top_k=2,
                   quick=dict(n=1500, epochs=1, trials=3, population=3, top_k=1, bits=((8, 3),))),
}


def load_data(name: str, *, quick: bool = False, seed: int = 0, n: int | None = None):
    """The train/validation/test splits a study uses (the same as :func:`run` with these arguments)."""
    study = STUDIES[name]
    return study.load(study.budget(quick, n=n)["n"], seed)


def test_metric(study: Study, model, x, y) -> float:
    """The study's metric on ``(x, y)``: accuracy, or the mean Bragg-peak distance in pixels."""
    if study.metric == "accuracy":
        p = model.predict(x, verbose=0, batch_size=4096).argmax(1)
        t = y.argmax(1) if np.ndim(y) == 2 else np.asarray(y)
        return float(np.mean(p == t))
    return bragg_distance_px(model, (x, y))


def _objectives(study: Study):
    from .objectives import Objective

    if study.metric == "accuracy":
        return ["val_accuracy", "bops"]
    return [Objective("val_distance_px", "min", fn=bragg_distance_px), "bops"]


def _row(study, name, role, r, metric, command) -> dict:
    bits = r.get("bits")
    out = {"study": study.name, "model": name, "role": role, "bits": "searched" if pd.isna(bits) else bits,
           "sparsity": round(float(r.get("sparsity", 0.0) or 0.0), 3), "test_metric": metric,
           "metric_name": study.metric, "higher_is_better": study.higher_is_better, "command": command}
    for k in ("bops", "params", "lut", "ff", "dsp", "bram", "latency_cycles", "csim_agreement"):
        out[k] = r.get(k, np.nan)
    return out


def run(name: str, *, quick: bool = False, directory: str = "case_study_runs", hls: bool = True, seed: int = 0,
        command: str = "", log=print, **override):
    """Run study ``name`` (see :data:`STUDIES`); returns ``(rows: DataFrame, nac)``.

    ``override``: ``n``, ``epochs``, ``trials``, ``population``, ``hpo_trials``, ``top_k``, ``bits``.
    The global search resumes when rerun with the same settings (same ``directory``).
    """
    from .callbacks import HLS4MLExport
    from .callbacks.export import load_model
    from .callbacks.pruning import Pruning
    from .local import LocalSearch, local_search
    from .nac import KerasNAC
    from .space import SearchSpace

    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}; choose from {sorted(STUDIES)}")
    study, t0 = STUDIES[name], time.perf_counter()
    b = study.budget(quick, **override)
    (xt, yt), (xv, yv), (xs, ys) = load_data(name, quick=quick, seed=seed, n=b["n"])
    log(f"[{name}] train {xt.shape}, val {xv.shape}, test {xs.shape}; budget {b}")
    space = SearchSpace.from_yaml(study.space, input_shape=xt.shape[1:], **study.space_kwargs)
    missing = [n for n in study.baselines if n not in space.baselines]
    if missing:
        raise ValueError(f"space {study.space} has no baselines {missing}; it has {sorted(space.baselines)}")
    steps = 2
    local = LocalSearch(top_k=b["top_k"], hpo_trials=b["hpo_trials"], bits=list(b["bits"]), seed=seed,
                        prune=Pruning(study.prune_to, steps=steps, epochs_per_step=max(1, b["epochs"] // 4)))
    callbacks = [HLS4MLExport(n_samples=200 if quick else 1000)] if hls else []
    common = dict(max_trials=b["trials"], population_size=b["population"], directory=directory,
                  project_name=name + ("_quick" if quick else ""), seed=seed, verbose=0)
    fit = dict(validation_data=(xv, yv), epochs=b["epochs"], batch_size=study.batch_size)
    objectives = _objectives(study)
    nac = KerasNAC(space, objectives, **common)
    nac.fit(xt, yt, **fit)  # the global search (resumed if it was interrupted)
    log(f"[{name}] global search: {time.perf_counter() - t0:.0f} s")
    # the local stage refines the best *searched* trials; the baselines get the same stage below
    base_trials = {v: k for k, v in nac.oracle.baselines.items()}
    ids = [t.trial_id for t in nac.best_trials(len(nac.oracle.trials))
           if t.trial_id not in base_trials.values()][: b["top_k"]]
    local.trial_ids = ids
    nac = KerasNAC(space, objectives, local_search=local, callbacks=callbacks, **common)
    nac.fit(xt, yt, **fit)  # the budget is spent: this runs only the local stage and the callbacks
    log(f"[{name}] local stage + callbacks on trials {ids}: {time.perf_counter() - t0:.0f} s")
    rows = []
    final = nac.final_front()
    for _, r in final[final["status"] == "COMPLETED"].iterrows():
        rows.append(_row(study, r["candidate_id"], "found", r,
                         test_metric(study, load_model(r["model_path"]), xs, ys), command))
    # each baseline: the same global training (its enqueued trial), then the same local stage
    monitor = "val_accuracy" if study.metric == "accuracy" else "val_loss"
    for bname in study.baselines:
        trial = nac.oracle.trials[base_trials[bname]]
        model = nac.tuner.load_model(trial)
        df = local_search(model, (xt, yt, xv, yv), local=local, epochs=b["epochs"], batch_size=study.batch_size,
                          objectives=[(monitor, "max" if study.higher_is_better else "min"), ("bops", "min")],
                          directory=os.path.join(nac.project_dir, "baselines", bname), log=lambda *a: None)
        df = df[df["status"] == "COMPLETED"]
        float_rows = df[df["stage"].isin(["global", "hpo"])]
        pick = (float_rows[monitor].idxmax() if study.higher_is_better else float_rows[monitor].idxmin())
        for i, r in df.iterrows():
            if r["stage"] in ("global", "hpo") and i != pick:
                continue
            role = "baseline" if i == pick else "baseline_equal_precision"
            rows.append(_row(study, f"{bname}:{r['candidate_id']}", role, r,
                             test_metric(study, load_model(r["model_path"]), xs, ys), command))
    out = pd.DataFrame(rows, columns=COLUMNS)
    log(f"[{name}] done in {time.perf_counter() - t0:.0f} s")
    return out, nac


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
            out.append(line)
    return pd.DataFrame(out)


def headline(line) -> str:
    """One sentence from a :func:`compare` line, e.g. for a notebook or a report."""
    metric = "test metric"
    if line["found"] is None or not np.isfinite(line["ratio_full"]):
        return (f"{line['study']}: no found model reached the test metric of {line['baseline']} "
                f"({line['baseline_metric']:.4g}; best found {line['best_metric_found']:.4g}).")
    eq = line.get("ratio_equal_precision", np.nan)
    return (f"{line['study']}: found model {line['found']}: {line['ratio_full']:.1f}x fewer BOPs than the float "
            f"baseline {line['baseline']} at an equal or better {metric} ({line['found_metric']:.4g} vs "
            f"{line['baseline_metric']:.4g}); at equal precision "
            + (f"{eq:.1f}x ({line['equal_precision_pair']})." if np.isfinite(eq) else "no found model is as good."))


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


__all__ = ["Study", "STUDIES", "load_data", "run", "compare", "headline", "plot", "test_metric", "bragg_distance_px", "COLUMNS"]

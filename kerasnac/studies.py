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

# csim_agreement: classification (share of equal argmax); regression models get csim_max_abs_diff and csim_ok
COLUMNS = ["study", "model", "role", "bits", "sparsity", "test_metric", "metric_name", "higher_is_better", "bops",
           "params", "lut", "ff", "dsp", "bram", "latency_cycles", "csim_agreement", "csim_max_abs_diff", "csim_ok",
           "command"]


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
    strategy: str = "evolution"    # or "gradient": GradientSearch (KerasNAC(strategy="gradient")), see run_gradient
    gradient: dict = dataclasses.field(default_factory=dict)  # GradientSearch options (strategy="gradient")
    finetune_epochs: int = 0       # strategy="gradient": fine-tuning epochs of the derived model
    hls: bool = True               # False: no hls4ml C simulation even when run(hls=True) (too slow here)

    def budget(self, quick: bool, **override) -> dict:
        b = {k: getattr(self, k) for k in ("n", "epochs", "trials", "bits", "population", "hpo_trials", "top_k",
                                           "finetune_epochs")}
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


def _calorimeter(n, seed):
    from .datasets import calorimeter_showers

    return calorimeter_showers(n, seed=seed)


def calorimeter_mae_gev(model, validation_data) -> float:
    """Mean absolute error (GeV) of the predicted shower energy (targets are energy / 100 GeV)."""
    from .datasets import calorimeter_metrics

    x, y = validation_data
    return calorimeter_metrics(y, model.predict(x, verbose=0, batch_size=2048))["mae"]


def bragg_distance_px(model, validation_data) -> float:
    """Mean Euclidean distance (pixels) between predicted and true peak centres."""
    from .datasets import bragg_metrics

    x, y = validation_data
    return bragg_metrics(y, model.predict(x, verbose=0, batch_size=2048))["mean"]


STUDIES = {
    "jets_hlf": Study("jets_hlf", "jets_mlp", "accuracy", True, _jets("hlf"),
                      ("hls4ml_mlp_64_32_32_float", "hls4ml_mlp_64_32_32_6bit"), n=None, epochs=15, trials=40,
                      population=16, top_k=2,
                      quick=dict(n=3000, epochs=2, trials=4, population=4, hpo_trials=0, top_k=1, bits=((6, 2),))),
    "jets_deepsets": Study("jets_deepsets", "jets_deepsets", "accuracy", True, _jets("constituents"),
                           ("nac_base", "nac_large", "nac_medium", "nac_small", "nac_tiny"), n=None, epochs=15,
                           trials=40, population=16, top_k=2, quick=dict(n=3000, epochs=2, trials=6, population=6, hpo_trials=0, top_k=1,
                                                 bits=((6, 2),))),
    "bragg": Study("bragg", "braggnn", "distance_px", False, _bragg, ("braggnn_float",), n=16_000, epochs=12,
                   trials=40, population=16, bits=((16, 6), (8, 3), (6, 2)), hpo_trials=0, top_k=2,
                   quick=dict(n=1500, epochs=1, trials=3, population=3, top_k=1, bits=((8, 3),))),
    # ConNAS4ML-style: one gradient (supernet) search under LUT/FF/DSP/parameter budgets (a fraction of the
    # float baseline's), against a >= 200k-parameter float CNN (search_spaces/calorimeter.yaml)
    "calorimeter": Study("calorimeter", "calorimeter", "mae_gev", False, _calorimeter, ("calo_cnn_large",),
                         n=12_000, epochs=8, trials=1, bits=((16, 4), (12, 2)), hpo_trials=0, top_k=1,
                         batch_size=128, strategy="gradient", finetune_epochs=6, hls=False,
                         gradient=dict(budget_fraction={"lut": 0.4, "ff": 0.4, "dsp": 0.4, "params": 0.4},
                                       budget_mode="limit", warmup_epochs=2),
                         quick=dict(n=1200, epochs=2, finetune_epochs=1, bits=((16, 4),))),
}


def load_data(name: str, *, quick: bool = False, seed: int = 0, n: int | None = None):
    """The train/validation/test splits a study uses (the same as :func:`run` with these arguments)."""
    study = STUDIES[name]
    return study.load(study.budget(quick, n=n)["n"], seed)


def test_metric(study: Study, model, x, y) -> float:
    """The study's metric on ``(x, y)``: accuracy, the mean Bragg-peak distance in pixels or the
    calorimeter energy MAE in GeV."""
    if study.metric == "accuracy":
        p = model.predict(x, verbose=0, batch_size=4096).argmax(1)
        t = y.argmax(1) if np.ndim(y) == 2 else np.asarray(y)
        return float(np.mean(p == t))
    if study.metric == "mae_gev":
        return calorimeter_mae_gev(model, (x, y))
    return bragg_distance_px(model, (x, y))


def _objectives(study: Study):
    from .objectives import Objective

    if study.metric == "accuracy":
        return ["val_accuracy", "bops"]
    if study.metric == "mae_gev":
        return [Objective("val_mae_gev", "min", fn=calorimeter_mae_gev), "bops"]
    return [Objective("val_distance_px", "min", fn=bragg_distance_px), "bops"]


def _row(study, name, role, r, metric, command) -> dict:
    bits = r.get("bits")
    out = {"study": study.name, "model": name, "role": role, "bits": "searched" if pd.isna(bits) else bits,
           "sparsity": round(float(r.get("sparsity", 0.0) or 0.0), 3), "test_metric": metric,
           "metric_name": study.metric, "higher_is_better": study.higher_is_better, "command": command}
    for k in ("bops", "params", "lut", "ff", "dsp", "bram", "latency_cycles", "csim_agreement", "csim_max_abs_diff",
              "csim_ok"):
        out[k] = r.get(k, np.nan)
    return out


def _prepare(study: Study, quick: bool, seed: int, override: dict, log):
    """The budget, the three splits, the space and the local-stage settings of one study run."""
    from .callbacks.pruning import Pruning
    from .local import LocalSearch
    from .space import SearchSpace

    b = study.budget(quick, **override)
    (xt, yt), (xv, yv), (xs, ys) = load_data(study.name, quick=quick, seed=seed, n=b["n"])
    log(f"[{study.name}] train {xt.shape}, val {xv.shape}, test {xs.shape}; budget {b}")
    space = SearchSpace.from_yaml(study.space, input_shape=xt.shape[1:], **study.space_kwargs)
    missing = [n for n in study.baselines if n not in space.baselines]
    if missing:
        raise ValueError(f"space {study.space} has no baselines {missing}; it has {sorted(space.baselines)}")
    local = LocalSearch(top_k=b["top_k"], hpo_trials=b["hpo_trials"], bits=list(b["bits"]), seed=seed,
                        prune=Pruning(study.prune_to, steps=2, epochs_per_step=max(1, b["epochs"] // 4)))
    return b, (xt, yt), (xv, yv), (xs, ys), space, local


def run(name: str, *, quick: bool = False, directory: str = "case_study_runs", hls: bool = True, seed: int = 0,
        command: str = "", log=print, **override):
    """Run study ``name`` (see :data:`STUDIES`); returns ``(rows: DataFrame, nac)``.

    ``override``: ``n``, ``epochs``, ``trials``, ``population``, ``hpo_trials``, ``top_k``, ``bits``.
    The global search resumes when rerun with the same settings (same ``directory``).
    """
    from .callbacks import HLS4MLExport
    from .callbacks.export import load_model
    from .nac import KerasNAC

    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}; choose from {sorted(STUDIES)}")
    study, t0 = STUDIES[name], time.perf_counter()
    if study.strategy == "gradient":
        return run_gradient(name, quick=quick, directory=directory, hls=hls, seed=seed, command=command, log=log,
                            **override)
    b, (xt, yt), (xv, yv), (xs, ys), space, local = _prepare(study, quick, seed, override, log)
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
        rows += _baseline_rows(study, space, bname, nac.tuner.load_model(trial), local, b, (xt, yt, xv, yv),
                               os.path.join(nac.project_dir, "baselines", bname), command, xs, ys, monitor)
    out = pd.DataFrame(rows, columns=COLUMNS)
    log(f"[{name}] done in {time.perf_counter() - t0:.0f} s")
    return out, nac


def _baseline_rows(study, space, bname, model, local, b, data, directory, command, xs, ys, monitor):
    """A trained baseline through the local stage: the float pick (``baseline``) and its QAT/pruned
    variants (``baseline_equal_precision``)."""
    from .callbacks.export import load_model
    from .local import local_search

    df = local_search(model, data, local=local, epochs=b["epochs"], batch_size=study.batch_size,
                      objectives=[(monitor, "max" if study.higher_is_better else "min"), ("bops", "min")],
                      directory=directory, log=lambda *a: None)
    df = df[df["status"] == "COMPLETED"]
    float_rows = df[df["stage"].isin(["global", "hpo"])]
    pick = float_rows[monitor].idxmax() if study.higher_is_better else float_rows[monitor].idxmin()
    rows = []
    for i, r in df.iterrows():
        if r["stage"] in ("global", "hpo") and i != pick:
            continue
        role = "baseline" if i == pick else "baseline_equal_precision"
        rows.append(_row(study, f"{bname}:{r['candidate_id']}", role, r,
                         test_metric(study, load_model(r["model_path"]), xs, ys), command))
    return rows


def run_gradient(name: str, *, quick: bool = False, directory: str = "case_study_runs", hls: bool = True,
                 seed: int = 0, command: str = "", log=print, **override):
    """A ``strategy="gradient"`` study (ConNAS4ML-style); returns ``(rows, nac)`` like :func:`run`.

    * found: ``KerasNAC(strategy="gradient", local_search=...)``: the supernet search
      (:class:`kerasnac.GradientSearch`, ``epochs`` epochs, budgets ``budget_fraction`` x the float
      baseline's costs), the derived model fine-tuned for ``finetune_epochs``, then the local stage;
    * baseline: each baseline of the space built with ``space.model_from_values`` and trained from
      scratch for the supernet's whole budget (``epochs + finetune_epochs``, same batch size), then the
      same local stage (``baseline_equal_precision``).
    """
    from . import costs
    from .callbacks import HLS4MLExport
    from .callbacks.export import load_model
    from ._keras import keras
    from .nac import KerasNAC

    study, t0 = STUDIES[name], time.perf_counter()
    b, (xt, yt), (xv, yv), (xs, ys), space, local = _prepare(study, quick, seed, override, log)
    # hls4ml C simulation of ~100k-parameter CNNs takes too long on a 2-core machine: study.hls=False skips it
    callbacks = [HLS4MLExport(n_samples=200 if quick else 1000)] if hls and study.hls else []
    project = name + ("_quick" if quick else "")
    monitor = "val_loss"  # local_search() rows carry the Keras metrics; the test split scores them all
    rows = []
    # the baseline(s): trained for the supernet's total budget, then the local stage
    total_epochs = b["epochs"] + b["finetune_epochs"]
    ref = {}
    for bname in study.baselines:
        keras.utils.set_random_seed(seed)
        model = space.model_from_values(space.baselines[bname])
        ref[bname] = costs.evaluate(model)
        model.fit(xt, yt, validation_data=(xv, yv), epochs=total_epochs, batch_size=study.batch_size, verbose=0)
        rows += _baseline_rows(study, space, bname, model, local, b, (xt, yt, xv, yv),
                               os.path.join(directory, project + "_baselines", bname), command, xs, ys, monitor)
        log(f"[{name}] baseline {bname} ({ref[bname]['params']:.0f} params, {total_epochs} epochs) + local stage: "
            f"{time.perf_counter() - t0:.0f} s")
    # the gradient search: budgets relative to the (first) float baseline's costs
    opts = {k: v for k, v in study.gradient.items() if k != "budget_fraction"}
    base_costs = ref[study.baselines[0]]
    if "budget_fraction" in study.gradient:
        opts["budget"] = {k: f * base_costs[k] for k, f in study.gradient["budget_fraction"].items()}
        opts.setdefault("cost", None)
    if "warmup_epochs" in opts:  # a quick budget may have fewer epochs than the full warm-up
        opts["warmup_epochs"] = min(opts["warmup_epochs"], b["epochs"] - 1)
    opts.update(finetune_epochs=b["finetune_epochs"], verbose=0)
    nac = KerasNAC(space, _objectives(study), max_trials=1, directory=directory, project_name=project, seed=seed,
                   verbose=0, strategy="gradient", gradient=opts, local_search=local, callbacks=callbacks)
    nac.fit(xt, yt, validation_data=(xv, yv), epochs=b["epochs"], batch_size=study.batch_size)
    gs = nac.gradient_search
    log(f"[{name}] gradient search ({gs.values}) + local stage + callbacks: {time.perf_counter() - t0:.0f} s")
    final = nac.final_front()
    for _, r in final[final["status"] == "COMPLETED"].iterrows():
        rows.append(_row(study, r["candidate_id"], "found", r,
                         test_metric(study, load_model(r["model_path"]), xs, ys), command))
    out = pd.DataFrame(rows, columns=COLUMNS)
    log(f"[{name}] done in {time.perf_counter() - t0:.0f} s")
    return out, nac


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


__all__ = ["Study", "STUDIES", "load_data", "run", "run_gradient", "compare", "calorimeter_mae_gev", "headline", "plot", "test_metric", "bragg_distance_px", "COLUMNS"]

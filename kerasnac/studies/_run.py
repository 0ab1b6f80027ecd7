"""Running a case study: the pipeline (evolutionary or gradient) and the baselines, scored on the test split."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd

from ._defs import COLUMNS, STUDIES, Study, _objectives, load_data, test_metric

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
    from ..callbacks.pruning import Pruning
    from ..local import LocalSearch
    from ..space import SearchSpace

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
    from ..callbacks import HLS4MLExport
    from ..callbacks.export import load_model
    from ..nac import KerasNAC

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
    nac.search(xt, yt, **fit)  # the global search (resumed if it was interrupted)
    log(f"[{name}] global search: {time.perf_counter() - t0:.0f} s")
    # the local stage refines the best *searched* trials; the baselines get the same stage below
    base_trials = {v: k for k, v in nac.oracle.baselines.items()}
    ids = [t.trial_id for t in nac.best_trials(len(nac.oracle.trials))
           if t.trial_id not in base_trials.values()][: b["top_k"]]
    local.trial_ids = ids
    nac = KerasNAC(space, objectives, local_search=local, post_search=callbacks, **common)
    nac.search(xt, yt, **fit)  # the budget is spent: this runs only the local stage and the callbacks
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
    from ..callbacks.export import load_model
    from ..local import local_search

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
    from .. import costs
    from ..callbacks import HLS4MLExport
    from ..callbacks.export import load_model
    from .._keras import keras
    from ..nac import KerasNAC

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
        # the baseline keeps its best epoch on the validation data (a large CNN overfits a few thousand showers:
        # in a 20-epoch run without this its test MAE was 10% worse than after 14 epochs)
        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=4, restore_best_weights=True)
        hist = model.fit(xt, yt, validation_data=(xv, yv), epochs=total_epochs, batch_size=study.batch_size, verbose=0,
                         callbacks=[stop])
        log(f"[{name}] baseline {bname}: best validation epoch {int(np.argmin(hist.history['val_loss'])) + 1} "
            f"of {len(hist.history['val_loss'])}")
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
                   verbose=0, strategy="gradient", gradient=opts, local_search=local, post_search=callbacks)
    nac.search(xt, yt, validation_data=(xv, yv), epochs=b["epochs"], batch_size=study.batch_size)
    gs = nac.gradient_search
    log(f"[{name}] gradient search ({gs.values}) + local stage + callbacks: {time.perf_counter() - t0:.0f} s")
    final = nac.final_front()
    for _, r in final[final["status"] == "COMPLETED"].iterrows():
        rows.append(_row(study, r["candidate_id"], "found", r,
                         test_metric(study, load_model(r["model_path"]), xs, ys), command))
    out = pd.DataFrame(rows, columns=COLUMNS)
    log(f"[{name}] done in {time.perf_counter() - t0:.0f} s")
    return out, nac

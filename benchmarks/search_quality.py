"""Search quality: kerasnac's ParetoOracle vs keras-tuner RandomSearch vs Optuna NSGA-II.

    python benchmarks/search_quality.py --task jets --seeds 0 1 2 --trials 20 --samples 3000 --epochs 2
    python benchmarks/search_quality.py --task bragg --seeds 0 1 2 --trials 40

All three methods search the SAME ``SearchSpace.hyperparameters()`` (with its conditions) and train
every trial with the SAME code (``kerasnac.ParetoSearch.run_trial``: same tf.data pipelines, epochs,
batch size, per-trial seed, ``costs.evaluate``). Only the proposer (the oracle) differs:

* ``kerasnac``: ``KerasNAC`` (its ``ParetoOracle``, NSGA-II), baselines off;
* ``random``: keras-tuner ``RandomSearchOracle`` (what AutoQKeras / keras-tuner users get);
* ``optuna``: Optuna ``NSGAIISampler`` wrapped as a keras-tuner oracle: the space is walked in order
  and only active hyperparameters are suggested (conditions respected).

Objectives: (validation metric, log10 BOPs), both minimised for the hypervolume
(``-val_accuracy`` for jets, mean pixel distance for Bragg). The hypervolume uses a fixed reference
point per task (``REF`` below) and is reported after each checkpoint (default 10, 20, 40 trials).
Every trial's wall-clock end time is recorded, for time-to-quality.

Writes ``<out>/search_quality_<task>.csv`` (one row per trial) and ``..._<task>.md`` (tables).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Fixed reference points in the minimised (metric, log10 BOPs) plane.
# jets: accuracy 0.2 = chance for 5 classes; 10^7 BOPs is above the largest jets_mlp model.
# bragg: 1.0 px mean distance (predicting the training-mean centre gives 0.77 px on bragg_peaks(3000));
#        10^9.5 BOPs is above braggnn's largest model.
# deepsets: accuracy 0.2 = chance; 10^8 BOPs is above the largest jets_deepsets model (10^7.8, all 32-bit).
# egamma: accuracy 0.5 = chance for 2 classes; 10^8.5 BOPs is above small_cnn's largest model on 12x12x6 (10^8.29).
# egamma_rare: the same with photons 10% of the showers, scored by the ROC AUC (0.5 = chance), which a
#              classifier of the majority class would not pass as accuracy does (0.9)
REF = {"jets": (-0.2, 7.0), "bragg": (1.0, 9.5), "deepsets": (-0.2, 8.0), "calorimeter": (0.5, 10.0),
       "egamma": (-0.5, 8.5), "egamma_rare": (-0.5, 8.5)}
TASKS = tuple(REF)
#: the rare class's share of the showers in ``egamma_rare``
RARE_PHOTONS = 0.1
# kerasnac: plain NSGA-II ParetoOracle; kerasnac_screen: with kn.Screening (surrogate-assisted offspring
# selection); kerasnac_mf: with kn.SuccessiveHalving (multi-fidelity rungs); kerasnac_full: both.
# The screening variants without a _q50 suffix score their gain against the worst trial (quality=None, the
# default); _q50 against the median trial (Screening(quality=0.5)). kerasnac_ordinal: the defaults with
# GaussianMutation(ordinal=True) (run on short tasks only, where the defaults are kappa=1, exact=2);
# kerasnac_c3x: kerasnac_strat with three times the screening's candidates; kerasnac_smooth: kerasnac_strat
# with parents ranked on surrogate-smoothed metrics (Screening(smooth=0.5)); kerasnac_trust: kerasnac_strat,
# switching to kappa=0, exact=4 once the surrogate's OOB R² reaches 0.3; kerasnac_strat_e8: kerasnac_strat with
# exact costs for every child (exact = candidates), so no child is dropped on a tree-predicted cost.
# (kerasnac_strat_m5, Screening(cost_margin=0.5), was tried and removed: docs/benchmarks.md.)
# kerasnac_p6 / kerasnac_p20: the default with a population of 6 / 20 instead of --population (Optuna keeps
# --population): 40 trials are 6 generations of 6 or 2 of 20 (20 was KerasNAC's default before session 15).
# kerasnac_k0e4_c2x: the long-trial screening (kappa=0, exact=4) choosing from twice the candidates: where
# the surrogate is trusted (long trials), a wider pool of children may pay. kerasnac_k0e8: the long-trial
# screening with exact costs for every child (kerasnac_strat_e8's change, on long trials).
# kerasnac_anchor: the default with the space's cheapest architecture in the first population
# (CostStratified(anchor=True), KerasNAC's default since session 17); kerasnac_noanchor: the default before it.
# kerasnac_struct2: the default with two structural anchors too (CostStratified(structural=2), session 18).
# kerasnac_acc5: the default with every 5th offspring chosen for its predicted metric alone
# (Screening(accurate_every=5), session 19): more trials at the accurate end.
# kerasnac_strat is the default before session 12 (kappa=1, exact=2 for every budget); kerasnac_default
# now takes kappa=0, exact=4 from 12,000 training samples x epochs per trial (Screening.for_budget).
METHODS = ("kerasnac_default", "kerasnac", "kerasnac_screen", "kerasnac_strat", "kerasnac_k0e4", "kerasnac_strat_k0e4",
           "kerasnac_strat_q50", "kerasnac_k0e4_q50", "kerasnac_ordinal", "kerasnac_c3x", "kerasnac_smooth",
           "kerasnac_trust", "kerasnac_strat_e8", "kerasnac_p6", "kerasnac_p20", "kerasnac_k0e4_c2x", "kerasnac_k0e8",
           "kerasnac_anchor", "kerasnac_noanchor", "kerasnac_struct2", "kerasnac_acc5",
           "kerasnac_mf", "kerasnac_full", "random", "optuna")


def kerasnac_options(method, args):
    """KerasNAC keyword arguments of a kerasnac method (baselines are off for every method: the peers get none).
    ``kerasnac_default`` is KerasNAC's default configuration, whatever it is at the time of the run."""
    import kerasnac as kn

    # kappa=1, exact=2: the screening's short-trial setting, the default before session 12 (it now
    # follows the trials' training budget, see Screening.for_budget); kerasnac_default gets whatever it is now
    screen = kn.Screening(candidates=args.candidates, kappa=1.0, exact=2, quality=None)
    k0e4 = kn.Screening(candidates=args.candidates, kappa=0.0, exact=4, quality=None)
    q50, k0e4_q50 = (dataclasses.replace(s, quality=0.5) for s in (screen, k0e4))
    mf = kn.SuccessiveHalving(min_epochs=args.min_epochs, eta=args.eta)
    return {"kerasnac_default": {},
            "kerasnac": {"screening": None},
            "kerasnac_screen": {"screening": screen, "initial": "random"},
            "kerasnac_strat": {"screening": screen, "initial": "stratified"},
            "kerasnac_k0e4": {"screening": k0e4, "initial": "random"},
            "kerasnac_strat_k0e4": {"screening": k0e4, "initial": "stratified"},
            "kerasnac_strat_q50": {"screening": q50, "initial": "stratified"},
            "kerasnac_ordinal": {},  # the defaults, with the oracle operator of `oracle_operators`
            "kerasnac_c3x": {"screening": dataclasses.replace(screen, candidates=3 * args.candidates)},
            "kerasnac_smooth": {"screening": dataclasses.replace(screen, smooth=0.5)},
            "kerasnac_trust": {"screening": dataclasses.replace(screen, trust_r2=0.3)},
            "kerasnac_k0e4_q50": {"screening": k0e4_q50, "initial": "random"},
            "kerasnac_strat_e8": {"screening": dataclasses.replace(screen, exact=args.candidates), "initial": "stratified"},
            "kerasnac_k0e4_c2x": {"screening": dataclasses.replace(k0e4, candidates=2 * args.candidates),
                                  "initial": "stratified"},
            "kerasnac_k0e8": {"screening": dataclasses.replace(k0e4, exact=args.candidates), "initial": "stratified"},
            "kerasnac_anchor": {"initial": kn.evolution.CostStratified(anchor=True)},
            "kerasnac_noanchor": {"initial": kn.evolution.CostStratified(anchor=False)},
            "kerasnac_struct2": {"initial": kn.evolution.CostStratified(anchor=True, structural=2)},
            "kerasnac_acc5": {"screening": kn.Screening(candidates=args.candidates, accurate_every=5)},
            "kerasnac_p6": {"population_size": 6},
            "kerasnac_p20": {"population_size": 20},
            "kerasnac_mf": {"screening": None, "fidelity": mf},
            "kerasnac_full": {"screening": screen, "fidelity": mf}}[method]


def oracle_operators(method):
    """ParetoOracle operators a kerasnac method sets on KerasNAC's oracle (KerasNAC takes no operator
    arguments; ParetoSearch/ParetoOracle do): ``kerasnac_ordinal`` steps numeric Choices in rank."""
    import kerasnac as kn

    return {"kerasnac_ordinal": {"mutation": kn.evolution.GaussianMutation(ordinal=True)}}.get(method, {})


# ---------------------------------------------------------------------------- tasks
def make_task(task: str, samples: int, data_seed: int, source: str):
    import kerasnac as kn

    if task == "jets":
        if source == "pythia":
            x, y = kn.datasets.jets(samples) if _takes_n(kn.datasets.jets) else kn.datasets.jets()
            x, y = x[:samples], y[:samples]
        else:
            x, y = kn.datasets.toy_jets_hlf(samples, seed=data_seed)
        (xt, yt), (xv, yv), _ = kn.datasets.split_and_scale(x, y, seed=data_seed)
        space = kn.SearchSpace.from_yaml("jets_mlp", input_shape=(xt.shape[1],), num_classes=int(np.max(y)) + 1
                                         if np.ndim(y) == 1 else y.shape[1])
        objectives = ["val_accuracy", "bops"]
        to_min = lambda m: -m  # noqa: E731
        metric = "val_accuracy"
    elif task == "bragg":
        (xt, yt), (xv, yv), _ = kn.datasets.bragg_peaks(samples, seed=data_seed)
        space = kn.SearchSpace.from_yaml("braggnn")

        def mean_distance(model, val):
            xv_, yv_ = val
            return kn.datasets.bragg_metrics(yv_, model.predict(xv_, verbose=0, batch_size=1024))["mean"]

        objectives = [kn.Objective("val_mean_distance", "min", fn=mean_distance), "bops"]
        to_min = lambda m: m  # noqa: E731
        metric = "val_mean_distance"
    elif task == "deepsets":  # a task the search's defaults were not tuned on
        (xt, yt), (xv, yv), _ = kn.datasets.jets(features="constituents", n_constituents=8, seed=data_seed)
        xt, yt = xt[:samples], yt[:samples]
        space = kn.SearchSpace.from_yaml("jets_deepsets")
        objectives = ["val_accuracy", "bops"]
        to_min = lambda m: -m  # noqa: E731
        metric = "val_accuracy"
    elif task == "calorimeter":  # session 12: a task no default or variant was tuned on
        (xt, yt), (xv, yv), _ = kn.datasets.calorimeter_showers(samples, seed=data_seed)
        space = kn.SearchSpace.from_yaml("calorimeter")
        objectives = ["val_mae", "bops"]
        to_min = lambda m: m  # noqa: E731
        metric = "val_mae"
    elif task == "egamma":  # session 18: electron / photon identification, a space and data never tuned on
        (xt, yt), (xv, yv), _ = kn.datasets.electron_photon_showers(samples, seed=data_seed)
        space = kn.SearchSpace.from_yaml("small_cnn", input_shape=xt.shape[1:], num_classes=2)
        objectives = ["val_accuracy", "bops"]
        to_min = lambda m: -m  # noqa: E731
        metric = "val_accuracy"
    elif task == "egamma_rare":  # session 21: photons as a rare signal, scored as a trigger would be
        (xt, yt), (xv, yv), _ = kn.datasets.electron_photon_showers(samples, seed=data_seed,
                                                                    photon_fraction=RARE_PHOTONS)
        space = kn.SearchSpace.from_yaml("small_cnn", input_shape=xt.shape[1:], num_classes=2)
        objectives = [kn.Objective("val_auc", "max", fn=photon_auc), "bops"]
        to_min = lambda m: -m  # noqa: E731
        metric = "val_auc"
    else:
        raise SystemExit(f"unknown task {task!r}")
    return space, objectives, metric, to_min, (xt, yt), (xv, yv)


def photon_auc(model, val):
    """The ROC AUC of the photon score on the validation showers (how well the model ranks the rare class)."""
    from sklearn.metrics import roc_auc_score

    xv, yv = val
    return float(roc_auc_score(np.asarray(yv)[:, 1], model.predict(xv, verbose=0, batch_size=1024)[:, 1]))


def _takes_n(fn) -> bool:
    import inspect

    try:
        return len(inspect.signature(fn).parameters) > 0
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------------- oracles
def optuna_oracle_class():
    import optuna

    from kerasnac._keras import kt

    hp_mod = kt.engine.hyperparameters if hasattr(kt, "engine") else kt

    class OptunaNSGA2Oracle(kt.Oracle):
        """Optuna's NSGAIISampler behind the keras-tuner Oracle interface (ask at populate, tell at end)."""

        def __init__(self, objective, directions, max_trials, population_size, seed):
            super().__init__(objective=objective, max_trials=max_trials, seed=seed)
            optuna.logging.set_verbosity(optuna.logging.WARNING)
            sampler = optuna.samplers.NSGAIISampler(population_size=population_size, seed=seed)
            self.study = optuna.create_study(directions=["maximize" if d == "max" else "minimize" for d in directions],
                                             sampler=sampler)
            self._names = [o.name for o in objective]
            self._asked = {}

        def populate_space(self, trial_id):
            ot = self.study.ask()
            hps = kt.HyperParameters()
            for hp in self.hyperparameters.space:
                hps.merge([hp])
                if hps.is_active(hp):
                    hps.values[hp.name] = _suggest(ot, hp)
            self._asked[trial_id] = ot
            return {"status": kt.engine.trial.TrialStatus.RUNNING, "values": hps.values}

        def end_trial(self, trial):
            super().end_trial(trial)
            ot = self._asked.pop(trial.trial_id, None)
            if ot is None:
                return
            if str(trial.status) == "COMPLETED":
                vals = [trial.metrics.get_last_value(n) for n in self._names]
                if all(v is not None and np.isfinite(v) for v in vals):
                    self.study.tell(ot, vals)
                    return
            self.study.tell(ot, state=optuna.trial.TrialState.FAIL)

    del hp_mod
    return OptunaNSGA2Oracle


def _suggest(ot, hp):
    from kerasnac._keras import kt

    H = kt.engine.hyperparameters
    if isinstance(hp, H.Fixed):
        return hp.value
    if isinstance(hp, H.Boolean):
        return ot.suggest_categorical(hp.name, [False, True])
    if isinstance(hp, H.Choice):
        return ot.suggest_categorical(hp.name, list(hp.values))
    if isinstance(hp, H.Int):
        return ot.suggest_int(hp.name, hp.min_value, hp.max_value, step=hp.step or 1)
    if isinstance(hp, H.Float):
        if hp.sampling == "log":
            return ot.suggest_float(hp.name, hp.min_value, hp.max_value, log=True)
        return ot.suggest_float(hp.name, hp.min_value, hp.max_value, step=hp.step)
    raise TypeError(f"unsupported hyperparameter {type(hp).__name__} {hp.name}")


# ---------------------------------------------------------------------------- one run
def run_method(method, task, seed, args, data_seed=0, make_oracle=None):
    """Train ``args.trials`` trials of ``method`` on ``task``; ``make_oracle(objectives)`` replaces the peer
    oracle (e.g. a replay of known architectures). Returns the per-trial rows and the metric's sign."""
    import kerasnac as kn
    from kerasnac import _data, objectives as _objectives
    from kerasnac._keras import kt

    space, objectives, metric, to_min, (xt, yt), (xv, yv) = make_task(task, args.samples, data_seed, args.source)
    rows, t0 = [], [None]
    directory = os.path.join(args.workdir, task)
    project = f"{method}_seed{seed}"

    def record(trial):
        m = trial.metrics
        ok = str(trial.status) == "COMPLETED"
        get = (lambda n: m.get_last_value(n)) if ok else (lambda n: float("nan"))
        rows.append({"task": task, "method": method, "seed": seed, "trial": len(rows) + 1,
                     "status": str(trial.status), "metric": get(metric), "bops": get("bops"),
                     "train_seconds": get("train_seconds"), "epochs_trained": get("epochs_trained"), "wall": time.perf_counter() - t0[0],
                     "hp": repr(sorted(trial.hyperparameters.values.items()))})

    if method.startswith("kerasnac"):
        options = kerasnac_options(method, args)
        population = options.pop("population_size", args.population)
        nac = kn.KerasNAC(space, objectives, max_trials=args.trials, population_size=population,
                          directory=directory, project_name=project, seed=seed, overwrite=True, baselines=False,
                          verbose=0, output_bias=output_bias(args), **options)
        for name, operator in oracle_operators(method).items():
            setattr(nac.oracle, name, operator)
        nac.tuner.trial_end_hooks.insert(0, record)  # before KerasNAC's own (results table)
        t0[0] = time.perf_counter()
        nac.fit(xt, yt, validation_data=(xv, yv), epochs=args.epochs, batch_size=args.batch_size)
    else:
        objs = _objectives.resolve(objectives, space.metric_names)
        kobj = [kt.Objective(o.name, o.direction) for o in objs]
        if make_oracle is not None:
            oracle = make_oracle(kobj)
        elif method == "random":
            # keras-tuner draws with seed_state = seed, seed + 1, ...: space the seeds so runs do not share draws
            oracle = kt.oracles.RandomSearchOracle(objective=kobj, max_trials=args.trials, seed=1 + 10_007 * seed)
        elif method == "optuna":
            oracle = optuna_oracle_class()(kobj, [o.direction for o in objs], args.trials, args.population, seed)
        else:
            raise SystemExit(f"unknown method {method!r}")
        from kerasnac import _rundir

        # a run of this benchmark replaces its own earlier run, never a folder it did not make
        _rundir.remove(os.path.join(directory, project), directory)
        _rundir.claim(os.path.join(directory, project), "benchmark run")
        # the same tuner KerasNAC uses, driven directly: another oracle, the same training and costs
        tuner = kn.ParetoSearch(space, objective=objs, oracle=oracle, seed=seed, cost_fn=kn.costs.evaluate,
                                on_trial_end=record, directory=directory, project_name=project, overwrite=False)
        data = _data.prepare(space, xt, yt, (xv, yv), 0.2, args.batch_size, seed)
        _data.configure_space(space, data, output_bias(args))  # the labels' mode and the head's bias, as KerasNAC
        t0[0] = time.perf_counter()
        # as KerasNAC does it: every trial's shuffle seeded by the trial's own seed
        tuner.search(data.train(), validation_data=data.val(), epochs=args.epochs, objective_data=data.validation,
                     train_for_seed=data.train_for_seed, verbose=0)
    return rows, to_min


def output_bias(args):
    """``KerasNAC(output_bias=...)`` of every method of the run (``--output-bias``)."""
    return None if getattr(args, "output_bias", "mean") == "none" else "mean"


# ---------------------------------------------------------------------------- analysis
def points(df):
    """The rows of ``df`` with a finite metric and finite, positive BOPs (those ``hv_curve`` counts), and
    their (f0, log10 BOPs) matrix."""
    ok = df[np.isfinite(df.f0) & np.isfinite(df.bops) & (df.bops > 0)]
    return ok, np.c_[ok.f0.to_numpy(), np.log10(ok.bops.to_numpy())]


def hv(df, ref):
    """The hypervolume of ``df``'s rows: ``hv_curve``'s last value, without computing the curve."""
    from kerasnac._pareto import hypervolume_2d

    ok, P = points(df)
    return hypervolume_2d(P, ref) if len(ok) else 0.0


def hv_curve(rows, ref):
    """Hypervolume after each trial (in completion order) in the (metric_min, log10 BOPs) plane."""
    from kerasnac._pareto import hypervolume_2d

    pts, out = [], []
    for r in rows:
        if np.isfinite(r["f0"]) and np.isfinite(r["bops"]) and r["bops"] > 0:
            pts.append((r["f0"], np.log10(r["bops"])))
        out.append(hypervolume_2d(np.array(pts).reshape(-1, 2), ref) if pts else 0.0)
    return out


def ratio_ci(a, b, draws=10_000, seed=0) -> str:
    """Ratio of medians of a and b, with a 90% bootstrap interval."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) == 0 or len(b) == 0 or np.median(b) <= 0:
        return "n/a"
    rng = np.random.default_rng(seed)
    ma = np.median(rng.choice(a, (draws, len(a))), axis=1)
    mb = np.median(rng.choice(b, (draws, len(b))), axis=1)
    r = ma[mb > 0] / mb[mb > 0]
    return f"{np.median(a) / np.median(b):.3f} [{np.percentile(r, 5):.3f}–{np.percentile(r, 95):.3f}]"


def summarise(df, task, checkpoints, ref, population=10):
    import pandas as pd

    lines, curves, first = [], {}, {}
    for (method, seed), g in df.groupby(["method", "seed"]):
        g = g.sort_values("trial")
        curves[(method, seed)] = (hv_curve(g.to_dict("records"), ref), g["wall"].to_numpy())
        first[(method, seed)] = set(g[g.trial <= population].hp)  # the first population's architectures
    # rows of a method since removed from METHODS (a variant tried and not kept) are still summarised, last
    methods = [m for m in METHODS if m in set(df["method"])] + sorted(set(df["method"]) - set(METHODS))
    seeds = sorted(set(df["seed"]))
    cps = [c for c in checkpoints if c <= df["trial"].max()]
    # issue 14's "best-known front": the union of every trial of every method and seed in the table
    best_known = hv(df, ref) if len(df) else float("nan")
    lines.append(f"### Hypervolume, task `{task}` (reference point {ref}, median [min–max] over seeds {seeds})\n\n")
    lines.append(f"Share: the median HV@{cps[-1] if cps else '-'} over the HV of the best-known front, the union of all "
                 f"{len(df)} trials of the {len(methods)} methods of this table ({best_known:.3f}).\n")
    lines.append("| method | " + " | ".join(f"HV@{c}" for c in cps) + " | share | s/trial (median) |")
    lines.append("|---|" + "---|" * (len(cps) + 2))
    med = {}
    for m in methods:
        cells = []
        for c in cps:
            v = [curves[(m, s)][0][c - 1] for s in seeds if (m, s) in curves and len(curves[(m, s)][0]) >= c]
            med[(m, c)] = float(np.median(v)) if v else float("nan")
            cells.append(f"{np.median(v):.3f} [{min(v):.3f}–{max(v):.3f}]" if v else "n/a")
        per_trial = np.median([np.median(np.diff(np.r_[0.0, curves[(m, s)][1]])) for s in seeds if (m, s) in curves])
        share = med[(m, cps[-1])] / best_known if cps and best_known > 0 else float("nan")
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {share:.3f} | {per_trial:.2f} |")
    lines.append("")
    if "optuna" in methods and "random" in methods and any(m.startswith("kerasnac") for m in methods):
        # the comparison checkpoint: the last one every Optuna run reached (methods may run longer)
        n_opt = min(len(curves[("optuna", s)][0]) for s in seeds if ("optuna", s) in curves)
        last = max([c for c in cps if c <= n_opt] or [n_opt])
        finals = {m: [curves[(m, s)][0][last - 1] for s in seeds if (m, s) in curves and len(curves[(m, s)][0]) >= last]
                  for m in methods}
        lines.append(f"Ratios of median HV at {last} trials, with a 90% bootstrap interval (seeds resampled "
                     "independently per method, 10,000 draws); targets at 40 trials (issue 14): ≥ 1.10 vs Optuna, ≥ 1.15 vs random, lower bound > 1.\n")
        variants = [m for m in methods if m.startswith("kerasnac") and m != "kerasnac_default"]
        paired = "kerasnac_default" in methods and variants
        if paired:
            lines.append("The / kerasnac_default column pairs the seeds on which a variant and the default started "
                         "from the same first population (same architectures): a sharper test than the medians.\n")
        lines.append("| method | / optuna | / random | seeds |" + (" / kerasnac_default | seeds ahead of it |" if paired else ""))
        lines.append("|---|---|---|---|" + ("---|---|" if paired else ""))
        for k in [m for m in methods if m.startswith("kerasnac")]:
            cells = [ratio_ci(finals[k], finals[b]) for b in ("optuna", "random")]
            row = f"| {k} | {cells[0]} | {cells[1]} | {len(finals[k])} |"
            if paired:
                if k == "kerasnac_default":
                    row += " – | – |"
                else:  # seed by seed, where both started from the same first population (checked, not assumed)
                    both = [s for s in seeds if (k, s) in curves and ("kerasnac_default", s) in curves
                            and min(len(curves[(k, s)][0]), len(curves[("kerasnac_default", s)][0])) >= last
                            and first[(k, s)] == first[("kerasnac_default", s)]]
                    a = [curves[(k, s)][0][last - 1] for s in both]
                    b = [curves[("kerasnac_default", s)][0][last - 1] for s in both]
                    row += (f" {ratio_ci(a, b)} | {sum(x > y for x, y in zip(a, b))}/{len(both)} |" if both else
                            " not paired: another first population | – |")
            lines.append(row)
        lines.append("")
        # what the ratio targets ask for, as a share of the best-known front: a target whose share is near 1
        # (or above what the best-known front reaches when retrained, docs/benchmarks.md section 0a) is
        # out of reach for any 40-trial search, however good
        need = {b: t * float(np.median(finals[b])) / best_known for b, t in (("optuna", 1.10), ("random", 1.15))}
        lines.append(f"Share of the best-known front that the ratio targets ask for: {need['optuna']:.3f} "
                     f"(×1.10 Optuna), {need['random']:.3f} (×1.15 random).\n")
        # time to quality: Optuna's median HV at `last` trials, searched over each method's whole run
        target = float(np.median(finals["optuna"]))
        opt_wall = np.median([curves[("optuna", s)][1][last - 1] for s in seeds if ("optuna", s) in curves])
        lines.append(f"### Time to quality: trials and wall time to reach Optuna NSGA-II's median {last}-trial HV ({target:.3f})\n\n")
        lines.append(f"Wall ratio = a seed's wall time to reach it / Optuna's median wall time for {last} trials "
                     f"({opt_wall:.0f} s); a seed that never reaches it counts as infinite. Target: ≤ 1/3.\n")
        lines.append("| method | seeds reaching it | trials (median of those) | wall s (median of those) | wall ratio, median over all seeds |")
        lines.append("|---|---|---|---|---|")
        for m in methods:
            hits, ratios = [], []
            for s in seeds:
                if (m, s) not in curves:
                    continue
                curve, wall = curves[(m, s)]
                k = next((i for i, h in enumerate(curve) if h >= target - 1e-12), None)
                ratios.append(wall[k] / opt_wall if k is not None else np.inf)
                if k is not None:
                    hits.append((k + 1, wall[k]))
            r = np.median(ratios) if ratios else np.inf
            ratio_txt = f"{r:.2f}" if np.isfinite(r) else "never"
            if hits:
                lines.append(f"| {m} | {len(hits)}/{len(ratios)} | {np.median([h[0] for h in hits]):.0f} | "
                             f"{np.median([h[1] for h in hits]):.0f} | {ratio_txt} |")
            else:
                lines.append(f"| {m} | 0/{len(ratios)} | – | – | never |")
        lines.append("")
    curve_rows = [{"task": task, "method": m, "seed": s, "trial": i + 1, "hv": h, "wall": w}
                  for (m, s), (curve, wall) in curves.items() for i, (h, w) in enumerate(zip(curve, wall))]
    return "\n".join(lines), pd.DataFrame(curve_rows)


def with_against(df, stems, folder):
    """``df`` with the rows of the other methods of ``search_quality_<stem>.csv`` (for each of ``stems``)
    on ``df``'s seeds: a variant run alone, compared with the methods of an earlier run."""
    import pandas as pd

    for stem in stems:
        other = pd.read_csv(os.path.join(folder, f"search_quality_{stem}.csv"))
        df = pd.concat([df, other[~other["method"].isin(set(df["method"])) & other["seed"].isin(set(df["seed"]))]],
                       ignore_index=True)
    return df


# the settings that make a CSV's rows one task: a run into an existing CSV must repeat them
SETTINGS = ("task", "source", "samples", "epochs", "batch_size", "population", "candidates", "min_epochs", "eta")


def check_settings(csv: str, old, args) -> None:
    """Refuse (before any training) a run whose task settings differ from those of the rows already in
    ``csv``, so that two tasks never share one CSV (``--name`` reused by mistake). The settings are
    kept beside the CSV (``.json``); a CSV from before that file is checked on its task column and on
    the epochs its full-length trials trained. The rows also depend on where the heads' bias started
    (``--output-bias``): settings files and CSVs from before it was recorded started it at zero
    (regression tasks' before session 20, classification tasks' before session 21)."""
    side = csv[:-4] + ".json"
    now = {k: getattr(args, k) for k in SETTINGS}
    now["output_bias"] = getattr(args, "output_bias", "mean")
    if os.path.isfile(side):
        with open(side) as f:
            then = json.load(f)
        then.setdefault("output_bias", "none")
        diff = {k: (then.get(k), v) for k, v in now.items() if then.get(k) != v}
    elif old is not None and len(old):
        full = old[~old.method.isin(["kerasnac_mf", "kerasnac_full"])]
        diff = {} if now["output_bias"] == "none" else {"output_bias": ("none", now["output_bias"])}
        if set(old.task) != {args.task}:
            diff["task"] = (sorted(set(old.task)), args.task)
        if len(full) and full.epochs_trained.max() != args.epochs:
            diff["epochs"] = (int(full.epochs_trained.max()), args.epochs)
    else:
        diff = {}
    if diff:
        raise SystemExit(f"{csv} holds rows of other settings ({', '.join(f'{k}: {a} there, {b} now' for k, (a, b) in diff.items())}). "
                         "Use another --name for this run, or the settings of that one.")
    with open(side, "w") as f:
        json.dump(now, f, indent=1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", choices=TASKS, default="jets")
    p.add_argument("--source", choices=("toy", "pythia"), default="toy", help="jets data: toy_jets_hlf or jets()")
    p.add_argument("--methods", nargs="+", default=["kerasnac", "random", "optuna"], choices=METHODS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--trials", type=int, default=40)
    p.add_argument("--checkpoints", nargs="+", type=int, default=[10, 20, 40])
    p.add_argument("--population", type=int, default=10, help="NSGA-II population for kerasnac and Optuna")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--candidates", type=int, default=8, help="children bred per proposal (kerasnac_screen/full)")
    p.add_argument("--min-epochs", type=int, default=1, help="first rung of kerasnac_mf/full")
    p.add_argument("--eta", type=int, default=3, help="successive-halving factor of kerasnac_mf/full")
    p.add_argument("--samples", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--output-bias", choices=("mean", "none"), default="mean",
                   help="every method's heads start at the training targets' mean, a classifier's at the log "
                        "class frequencies (KerasNAC's default since session 20 for regression, 21 for "
                        "classification), or at zero (the runs before it)")
    p.add_argument("--out", default="benchmarks/results")
    p.add_argument("--name", help="result file stem after search_quality_ (default: the task)")
    p.add_argument("--workdir", default="/tmp/kerasnac_search_quality")
    p.add_argument("--summarise-only", action="store_true", help="re-read the per-trial CSV and rewrite the tables")
    p.add_argument("--against", nargs="*", default=[], metavar="NAME",
                   help="add the other methods of these runs (search_quality_NAME.csv, same seeds) to the tables")
    p.add_argument("--resume", action="store_true", help="skip (method, seed) runs the CSV already holds in full")
    args = p.parse_args(argv)

    import pandas as pd

    os.makedirs(args.out, exist_ok=True)
    name = args.name or args.task
    csv = os.path.join(args.out, f"search_quality_{name}.csv")
    ref = REF[args.task]
    if not args.summarise_only:
        old = pd.read_csv(csv) if os.path.isfile(csv) else None
        check_settings(csv, old, args)
        all_rows = []
        start = time.perf_counter()
        run_method(args.methods[0], args.task, 99, argparse.Namespace(**{**vars(args), "trials": 1}))  # TF warm-up
        done = set()
        if args.resume and old is not None:  # (method, seed) runs already complete in the CSV are kept as they are
            counts = old.groupby(["method", "seed"]).size()
            done = {k for k, n in counts.items() if n >= args.trials}
        for i, seed in enumerate(args.seeds):
            for method in args.methods[i % len(args.methods):] + args.methods[:i % len(args.methods)]:
                if (method, seed) in done:
                    continue
                t = time.perf_counter()
                rows, to_min = run_method(method, args.task, seed, args)
                for r in rows:
                    r["f0"] = to_min(r["metric"])
                all_rows.extend(rows)
                new = pd.DataFrame(all_rows)
                if old is not None:  # keep other methods/seeds of earlier runs; replace the re-run ones
                    keep = ~old.set_index(["method", "seed"]).index.isin(new.set_index(["method", "seed"]).index)
                    new = pd.concat([old[keep], new], ignore_index=True)
                new.to_csv(csv, index=False)  # keep partial results
                print(f"[{args.task}] {method:8s} seed {seed}: {len(rows)} trials in {time.perf_counter() - t:.0f} s",
                      flush=True)
        print(f"total {time.perf_counter() - start:.0f} s")
    own = pd.read_csv(csv)
    df = with_against(own, args.against, args.out)  # for the tables only, not written to the CSV
    text, curves = summarise(df, args.task, args.checkpoints, ref, args.population)
    # the curves of this run's own methods only: the --against runs have their own _hv.csv
    curves[curves.method.isin(set(own.method))].to_csv(os.path.join(args.out, f"search_quality_{name}_hv.csv"),
                                                       index=False)
    header = (f"## Search quality, task `{args.task}`\n\n"
              f"`{' '.join(['python', 'benchmarks/search_quality.py'] + (argv if argv is not None else sys.argv[1:]))}`\n\n")
    with open(os.path.join(args.out, f"search_quality_{name}.md"), "w") as f:
        f.write(header + text + "\n")
    print(text)


if __name__ == "__main__":
    main()

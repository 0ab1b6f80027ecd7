"""KerasNAC: the global multi-objective architecture search."""

from __future__ import annotations

import json
import os
import tempfile
import time

import numpy as np
import pandas as pd

from . import _data, _rundir, costs, distributed, objectives as _objectives, results
from ._keras import kt
from ._tuner import FAILURE_FILE, NACTuner
from .errors import ConfigError
from .objectives import Objective
from .oracle import ConsecutiveFailuresError, Constraint, ParetoOracle
from .space import SearchSpace


class KerasNAC:
    """Multi-objective neural architecture codesign on a :class:`SearchSpace`.

    A keras-tuner :class:`~kerasnac.oracle.ParetoOracle` (NSGA-II) proposes architectures;
    each trial trains the QKeras model and reports every objective and every registered cost.

    Args:
        space: the :class:`SearchSpace` (Python or ``SearchSpace.from_yaml``).
        objectives: names (``"val_accuracy"``, ``"bops"``, ``"lut"``, ...), callables
            ``f(model) -> float`` (minimised) or :class:`Objective` objects.
        max_trials: number of trials of the global search.
        population_size: NSGA-II population (NAC uses 20).
        constraints: e.g. ``["lut <= 50000"]``; infeasible trials rank behind feasible ones.
        directory, project_name: where keras-tuner keeps its state and kerasnac its CSV files.
        seed: seeds the oracle and each trial's weight initialisation.
        overwrite: ``False`` (default) resumes a search found in the directory.
        baselines: ``True`` enqueues the space's baselines as the first trials; a dict
            ``{name: config}`` adds more; ``False`` skips them.
        cost_options: passed to the cost model, e.g. ``{"input_bits": 16, "reuse_factor": 1}``.
        fit_callbacks: extra Keras callbacks for every trial's ``fit`` (e.g. EarlyStopping).
        local_search: a :class:`kerasnac.LocalSearch`; after the global search its best
            candidates get training-HPO, QAT at several precisions and pruning.
        callbacks: post-search :class:`kerasnac.callbacks.Callback` objects (e.g.
            ``HLS4MLExport``), applied to the final models (the local stage's variants, or the
            global front when there is no local stage).
        callbacks_on: ``"front"`` (default) runs the callbacks on the final Pareto front only;
            ``"all"`` on every final model.
        strategy: ``"evolution"`` (the NSGA-II global search) or ``"gradient"``: a single-shot
            supernet search (:class:`kerasnac.gradient.GradientSearch`) whose derived model then
            goes through the same local stage, callbacks and final table.
        gradient: keyword arguments of ``GradientSearch`` for ``strategy="gradient"`` (e.g.
            ``{"cost": kn.costs.weighted(lut=1, dsp=2), "budget": {"lut": 40_000}, "epochs": 30}``).
        screening: surrogate-assisted offspring selection (breed several children, compute their
            costs exactly before training, train the one with the largest predicted hypervolume
            gain): ``True`` (default) uses ``kerasnac.Screening()``, a :class:`kerasnac.Screening`
            sets its options, ``None``/``False`` is plain NSGA-II.
        fidelity: a :class:`kerasnac.SuccessiveHalving`: each trial trains in rungs of
            ``min_epochs * eta**k`` epochs and continues only while it is in the best ``1/eta``
            of its rung (multi-fidelity); ``None`` trains every trial for the full ``epochs``.
        verbose: 1 shows a progress bar, 0 is silent.

    Example:
        >>> space = SearchSpace.from_yaml("jets_mlp")                        # doctest: +SKIP
        >>> nac = KerasNAC(space, ["val_accuracy", "bops"], max_trials=20)    # doctest: +SKIP
        >>> nac.fit(x, y, validation_data=(xv, yv), epochs=5)                 # doctest: +SKIP
        >>> nac.pareto_front()                                               # doctest: +SKIP
    """

    def __init__(self, space: SearchSpace, objectives=("val_accuracy", "bops"), max_trials: int = 30, *,
                 population_size: int = 20, constraints=None, directory: str = "runs",
                 project_name: str = "kerasnac", seed: int = 0, overwrite: bool = False, baselines=True,
                 cost_options: dict | None = None, fit_callbacks=(), max_consecutive_failed_trials: int = 10,
                 local_search=None, callbacks=(), callbacks_on: str = "front", strategy: str = "evolution",
                 gradient: dict | None = None, screening=True, fidelity=None, verbose: int = 1):
        if not isinstance(space, SearchSpace):
            raise ConfigError(f"space must be a kerasnac.SearchSpace, got {type(space).__name__}. "
                              "Use SearchSpace.from_yaml(...) or SearchSpace(...).")
        if isinstance(max_trials, bool) or not isinstance(max_trials, int) or max_trials < 1:
            raise ConfigError(f"max_trials must be an integer >= 1, got {max_trials!r}.")
        if isinstance(population_size, bool) or not isinstance(population_size, int) or population_size < 2:
            raise ConfigError(f"population_size must be an integer >= 2, got {population_size!r}.")
        self.space = space
        self.objectives = _objectives.resolve(objectives, space.metric_names)
        self.max_trials, self.seed, self.verbose = max_trials, int(seed), verbose
        self.cost_options = dict(cost_options or {})
        from .callbacks import Callback
        from .local import LocalSearch

        if local_search is not None and not isinstance(local_search, LocalSearch):
            raise ConfigError(f"local_search must be a kerasnac.LocalSearch, got {type(local_search).__name__}.")
        self.local_search = local_search
        self.callbacks = list(callbacks)
        if callbacks_on not in ("front", "all"):
            raise ConfigError(f"callbacks_on must be 'front' or 'all', got {callbacks_on!r}.")
        self.callbacks_on = callbacks_on
        if strategy not in ("evolution", "gradient"):
            raise ConfigError(f"strategy must be 'evolution' or 'gradient', got {strategy!r}.")
        self.strategy, self.gradient_options = strategy, dict(gradient or {})
        self.gradient_search = None
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise ConfigError(f"callbacks must be kerasnac.callbacks.Callback objects, got {type(cb).__name__}.")
        self._final_rows: list[dict] = []
        self.fit_callbacks = list(fit_callbacks)
        known = set(space.metric_names) | set(costs.available_costs()) | {o.name for o in self.objectives}
        try:
            self.constraints = [c if isinstance(c, Constraint) else Constraint.parse(c) for c in (constraints or [])]
        except (TypeError, ValueError) as e:
            raise ConfigError(str(e)) from None
        for c in self.constraints:
            if c.metric not in known:
                raise ConfigError(f"constraint {c} is on an unknown metric {c.metric!r}; known: {', '.join(sorted(known))}.")
        self._descriptions: dict = {}
        #: optional costs (e.g. da_lut) the objectives and constraints need; evaluate() adds them
        self.cost_names = [n for n in [o.name for o in self.objectives] + [c.metric for c in self.constraints]
                           if costs.is_cost(n)]
        self.population_size = population_size
        _rundir.check_project_name(project_name)
        self.project_dir = os.path.join(directory, project_name)
        # "single", or keras-tuner's gRPC "chief" (holds the oracle) / "worker" (runs trials)
        self.role = distributed.role()
        _check_writable(directory)
        if overwrite and self.role != "worker":
            # only an empty folder or one holding kerasnac's marker, and only inside `directory`
            _rundir.remove(self.project_dir, directory)
        _rundir.claim(self.project_dir, "search")
        self._stored_meta = None
        if not (overwrite and self.role == "worker"):
            self._stored_meta = self._check_resume_compatible()
        if self._stored_meta and self._stored_meta.get("label_mode"):
            self.space.label_mode = self._stored_meta["label_mode"]  # models rebuilt before fit() compile right
        self.oracle = ParetoOracle(
            objective=[kt.Objective(o.name, o.direction) for o in self.objectives],
            max_trials=max_trials, population_size=population_size, constraints=self.constraints,
            seed=self.seed, max_consecutive_failed_trials=max_consecutive_failed_trials,
            screening=_check_option(screening, "screening", "Screening"), cost_fn=self._exact_costs,
            fidelity=_check_option(fidelity, "fidelity", "SuccessiveHalving"),
        )
        self.fidelity = self.oracle.fidelity
        self._bar = None
        self.tuner = NACTuner(self.oracle, space, self, directory=directory, project_name=project_name,
                              overwrite=False)
        if self.role == "worker":  # the chief owns the oracle, the baselines and the result files
            return
        self._enqueue_baselines(baselines)
        if self.role == "chief":  # trials end in the chief's gRPC thread, not in a local tuner
            self.oracle.before_end_trial = self._recover_worker_failure
            self.oracle.after_end_trial = self._on_trial_end

    # ------------------------------------------------------------------ setup helpers
    def _exact_costs(self, values: dict) -> dict:
        """The pre-training costs of hyperparameter values (builds the model; no training)."""
        return costs.evaluate(self.space.model_from_values(values), extra=self.cost_names, **self.cost_options)

    def _meta(self) -> dict:
        return {"objectives": [[o.name, o.direction] for o in self.objectives],
                "constraints": [str(c) for c in self.constraints],
                "space": self.space.to_dict(), "hyperparameters": sorted(h.name for h in self.space.hyperparameters().space),
                "population_size": self.population_size, "seed": self.seed, "label_mode": self.space.label_mode}

    def _fingerprint(self, x, y, validation_data, validation_split, epochs, batch_size) -> dict:
        """What makes two trials comparable: the same training budget, data and cost model."""
        from dataclasses import asdict

        val = tuple(validation_data) if isinstance(validation_data, (tuple, list)) else (validation_data,)
        return json.loads(json.dumps({
            "epochs": epochs, "batch_size": batch_size,
            "validation_split": None if validation_data is not None else validation_split,
            "training data": _rundir.data_digest(x, y),
            "validation data": _rundir.data_digest(*val) if validation_data is not None else None,
            "fidelity": asdict(self.fidelity) if self.fidelity is not None else None,
            "screening": asdict(self.oracle.screening) if getattr(self.oracle, "screening", None) else None,
            "cost_options": self.cost_options,
        }, default=str))  # fit_callbacks are left out: a logger or a timer must not block a resume

    def _start_run(self, fingerprint: dict):
        """Refuse to add trials to a search made with other settings; then record this run's."""
        old = (self._stored_meta or {}).get("fingerprint")
        n_old = len(self.oracle.trials)
        if old is not None and n_old and old != fingerprint:
            changes = "; ".join(_rundir.fingerprint_changes(old, fingerprint))
            raise ConfigError(
                f"{self.project_dir} holds {n_old} trials made with other settings ({changes}). Their results "
                "cannot be compared with new trials: rerun with the settings of that search, give another "
                "project_name= to start a new search, or pass overwrite=True to replace this one.")
        self._write_meta(fingerprint)

    def _check_resume_compatible(self):
        path = os.path.join(self.project_dir, "kerasnac.json")
        if not os.path.isfile(path):
            return None
        with open(path) as f:
            old = json.load(f)
        new = json.loads(json.dumps(self._meta(), default=str))
        checks = (("objectives", "objectives"), ("hyperparameters", "search space"),
                  ("space", "search space"), ("population_size", "population_size"), ("seed", "seed"))
        for key, what in checks:
            if key in old and old.get(key) != new.get(key):
                if key == "space":
                    diff = sorted(k for k in set(old[key]) | set(new[key]) if old[key].get(k) != new[key].get(k))
                    shown = f"its entries {diff} differ"
                else:
                    shown = f"{old.get(key)} vs {new.get(key)}"
                raise ConfigError(
                    f"{self.project_dir} holds a search with different {what} ({shown}). Resuming would mix "
                    "incomparable trials: resume with the same settings, use another project_name, or pass "
                    "overwrite=True to start over."
                )
        return old

    def _write_meta(self, fingerprint: dict):
        os.makedirs(self.project_dir, exist_ok=True)
        meta = {**self._meta(), "fingerprint": fingerprint}
        _rundir.atomic_write_json(os.path.join(self.project_dir, "kerasnac.json"), meta)
        self._stored_meta = meta

    def _enqueue_baselines(self, baselines):
        if baselines is False or baselines is None:
            return
        todo = dict(self.space.baselines) if baselines is True or baselines == "space" else {}
        if isinstance(baselines, dict):
            todo.update({k: self.space.baseline_values(v, name=k) for k, v in baselines.items()})
        already = set(self.oracle.baselines.values()) | set(self.oracle.pending_baselines)
        for name, values in todo.items():
            if name not in already:
                self.oracle.enqueue(values, name=name)

    # ------------------------------------------------------------------ search
    def fit(self, x, y=None, *, validation_data=None, validation_split: float = 0.2, epochs: int = 5,
            batch_size: int = 256):
        """Run the global search (or continue it up to ``max_trials``).

        ``x``/``y`` are numpy arrays (validated against the space before any training) or a
        batched ``tf.data.Dataset`` of ``(x, y)`` with ``validation_data`` as a Dataset.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ConfigError(f"epochs must be an integer >= 1, got {epochs!r}.")
        if self.strategy == "gradient":
            return self._fit_gradient(x, y, validation_data, validation_split, epochs, batch_size)
        train, val, mode, val_arrays = _data.make_datasets(self.space, x, y, validation_data, validation_split,
                                                           batch_size, self.seed)
        if mode != "regression":
            self.space.label_mode = mode
        if self.role != "worker":  # the data are valid: the search really starts (kerasnac.json)
            self._start_run(self._fingerprint(x, y, validation_data, validation_split, epochs, batch_size))
        if self.role == "worker":  # run trials for the chief; results, local stage and callbacks are its job
            self.tuner.search(train, val, epochs, val_arrays, verbose=0)
            return self
        self.oracle.stop_message = None  # a new fit() after a failure stop tries again
        self._open_bar()
        try:
            self.tuner.search(train, val, epochs, val_arrays, verbose=0)
        finally:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            self._write_results()
        if self.oracle.stop_message is not None:  # a chief stops its workers and raises afterwards
            raise ConsecutiveFailuresError(self.oracle.stop_message)
        if self.local_search is not None or self.callbacks:
            if isinstance(x, np.ndarray) or not hasattr(x, "element_spec"):
                self._final_stage(x, y, validation_data, validation_split, epochs, batch_size)
            else:
                print("kerasnac: the local stage and callbacks need numpy arrays; skipped for tf.data input.")
        for cb in self.callbacks:
            cb.on_search_end(self)
        return self

    # ------------------------------------------------------------------ local stage and callbacks
    def _fit_gradient(self, x, y, validation_data, validation_split, epochs, batch_size):
        """``strategy="gradient"``: supernet search, derive, then the usual final stage."""
        from .gradient import GradientSearch

        x, y, mode = _data.check_arrays(self.space, x, y)
        if validation_data is None:
            (x, y), validation_data = _data.split(x, y, validation_split, self.seed)
        else:
            xv, yv, _ = _data.check_arrays(self.space, *validation_data, what="x_val")
            validation_data = (xv, yv)
        if mode != "regression":
            self.space.label_mode = mode
        self._start_run(self._fingerprint(x, y, validation_data, validation_split, epochs, batch_size))
        opts = {"epochs": epochs, "batch_size": batch_size, "cost_options": self.cost_options, "seed": self.seed,
                "verbose": self.verbose, **self.gradient_options}
        if "cost" not in opts:  # the cost objective of the search, e.g. "bops"
            opts["cost"] = next((o.name for o in self.objectives if o.kind == "cost"), "bops")
        if "budget" not in opts:  # "lut <= 40000" constraints become budgets
            budget = {c.metric: c.bound for c in self.constraints if c.op == "<=" and costs.is_cost(c.metric)}
            if budget:
                opts["budget"] = budget
        gs = self.gradient_search = GradientSearch(self.space, **opts)
        gs.fit(x, y, validation_data=validation_data)
        model = gs.derive()
        lineage = {"trial_id": "gradient", "architecture": self._describe(gs.values)}
        self._final_stage(x, y, validation_data, validation_split, epochs, batch_size,
                          candidates=[("grad", lineage, lambda: model)])
        for cb in self.callbacks:
            cb.on_search_end(self)
        return self

    def _final_stage(self, x, y, validation_data, validation_split, epochs, batch_size, candidates=None):
        from .local import LocalData, final_table
        from .local._stage import _row

        if validation_data is None:
            (x, y), (xv, yv) = _data.split(np.asarray(x, "float32"), np.asarray(y), validation_split, self.seed)
        else:
            xv, yv = validation_data
        data = LocalData(np.asarray(x, "float32"), np.asarray(y), np.asarray(xv, "float32"), np.asarray(yv),
                         seed=self.seed, batch_size=batch_size)
        directory = os.path.join(self.project_dir, "final")
        extra = {o.name: o.compute for o in self.objectives if o.fn}
        metric = next((o for o in self.objectives if o.name.startswith("val_")), None)
        monitor, direction = (metric.name, metric.direction) if metric else ("val_loss", "min")
        self._final_rows = []
        if candidates is None:
            candidates = self._global_candidates()
        for cid, lineage, load in candidates:
            if self.verbose:
                print(f"kerasnac: final stage for {lineage['trial_id']} ({lineage['architecture']})")
            try:
                model = load()
                if self.local_search is not None:
                    rows = self.local_search.refine(model, data, candidate_id=cid, lineage=lineage, directory=directory,
                                                    monitor=monitor, direction=direction, epochs=epochs,
                                                    extra_metrics=extra, extra_costs=self.cost_names,
                                                    log=print if self.verbose else (lambda *a: None))
                else:
                    rows = [_row(model, f"{cid}_global", {**lineage, "stage": "global"}, data=data, directory=directory,
                                 extra_metrics=extra, extra_costs=self.cost_names)]
            except Exception as e:  # one candidate never stops the others
                from .local._stage import _error_row

                rows = [_error_row(cid, {**lineage, "stage": "final"}, e)]
            self._final_rows.extend(rows)
            results.write_csv_atomic(self.final_front(), os.path.join(self.project_dir, "final.csv"))
        if self.callbacks:
            from .local._stage import apply_callbacks

            ranked = final_table(self._final_rows, self._final_objectives(), self.constraints).to_dict("records")
            if self.verbose:
                n = sum(1 for r in ranked if r.get("on_front")) if self.callbacks_on == "front" else len(ranked)
                print(f"kerasnac: callbacks ({', '.join(cb.name for cb in self.callbacks)}) on {n} final models")
            self._final_rows = apply_callbacks(ranked, self.callbacks, data, self.space.task,
                                               self.callbacks_on == "front", log=print if self.verbose else (lambda *a: None))
            results.write_csv_atomic(self.final_front(), os.path.join(self.project_dir, "final.csv"))

    def _global_candidates(self):
        """``(candidate_id, lineage, load_model)`` of the global trials the final stage refines."""
        if self.local_search is not None:
            ls = self.local_search
            trials = ([self.oracle.trials[t] for t in ls.trial_ids] if ls.trial_ids else self.best_trials(ls.top_k))
        else:
            front = set(self.oracle.pareto_front_ids())
            trials = [t for t in self.best_trials(len(front)) if t.trial_id in front]
        return [(f"t{t.trial_id}", {"trial_id": t.trial_id, "architecture": self._describe(t.hyperparameters.values)},
                 (lambda t=t: self.tuner.load_model(t))) for t in trials]

    def _final_objectives(self):
        return [(o.name, o.direction) for o in self.objectives]

    def final_front(self) -> pd.DataFrame:
        """Every model of the final stage (global candidates, HPO, QAT and pruned variants) with its
        lineage (trial, precision, sparsity), metrics, costs, callback columns (e.g. hls4ml C-sim
        agreement, HLS project), ``pareto_rank`` and ``on_front``; front first."""
        from .local import final_table

        df = final_table(self._final_rows, self._final_objectives(), self.constraints)
        if df.empty:
            return df
        key = pd.to_numeric(df["pareto_rank"], errors="coerce").fillna(np.inf)
        return df.assign(_k=key).sort_values(["_k", "candidate_id"]).drop(columns="_k").reset_index(drop=True)

    def _open_bar(self):
        if not self.verbose:
            return
        from tqdm.auto import tqdm

        done = sum(1 for t in self.oracle.trials.values() if str(t.status) in ("COMPLETED", "FAILED", "INVALID"))
        self._bar = tqdm(total=self.max_trials, initial=done, desc="kerasnac", unit="trial")

    # ------------------------------------------------------------------ distributed bookkeeping
    def _worker_log(self, trial, event: str):
        """A worker appends one JSON line per trial event to ``workers/<tuner id>.jsonl``."""
        path = os.path.join(self.project_dir, "workers", f"{distributed.tuner_id()}.jsonl")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        rec = {"trial_id": trial.trial_id, "event": event, "status": str(trial.status), "time": time.time(),
               "pid": os.getpid()}
        with open(path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        if self.verbose:
            print(f"kerasnac[{distributed.tuner_id()}]: trial {trial.trial_id} {event} "
                  f"{'' if event == 'started' else str(trial.status)}".rstrip(), flush=True)

    def _on_trial_begin(self, trial):
        if self.role == "worker":
            self._worker_log(trial, "started")

    def _recover_worker_failure(self, trial):
        if trial.message is None and str(trial.status) != "COMPLETED":
            path = os.path.join(self.project_dir, f"trial_{trial.trial_id}", FAILURE_FILE)
            if os.path.isfile(path):
                with open(path) as f:
                    trial.message = f.read()

    def _on_trial_end(self, trial):
        if self.role == "worker":
            self._worker_log(trial, "ended")
            return
        df = self._write_results()
        if self._bar is None:
            return
        done = df[df["status"] == "COMPLETED"] if not df.empty else df
        post = {"front": int(done["on_front"].sum()) if not done.empty else 0,
                "failed": int(df["status"].isin(["FAILED", "INVALID"]).sum()) if not df.empty else 0}
        for o in self.objectives:
            if not done.empty:
                best = done[o.name].max() if o.direction == "max" else done[o.name].min()
                post[o.name] = f"{best:.4g}"
        self._bar.set_postfix(post, refresh=False)
        self._bar.update(1)

    def _write_results(self) -> pd.DataFrame:
        df = self.trials_dataframe()
        if not df.empty:
            results.write_csv_atomic(df, os.path.join(self.project_dir, "trials.csv"))
            results.write_csv_atomic(df[df["on_front"]], os.path.join(self.project_dir, "pareto_front.csv"))
        return df

    # ------------------------------------------------------------------ results
    def trials_dataframe(self) -> pd.DataFrame:
        """One row per trial: status, architecture, objectives, costs, metrics, Pareto rank, hyperparameters."""
        trials = list(self.oracle.trials.values())
        return results.trials_dataframe(trials, self.objectives, self.oracle.rank_trials(),
                                        self.oracle.baselines, self._describe)

    def _describe(self, values: dict) -> str:
        key = tuple(sorted(values.items()))
        if key not in self._descriptions:
            self._descriptions[key] = self.space.describe(values)
        return self._descriptions[key]

    def pareto_front(self) -> pd.DataFrame:
        """The non-dominated feasible trials, sorted by the first objective."""
        df = self.trials_dataframe()
        if df.empty:
            return df
        front = df[df["on_front"]]
        o = self.objectives[0]
        return front.sort_values(o.name, ascending=o.direction == "min").reset_index(drop=True)

    def plot_pareto(self, path: str | None = None):
        """Matplotlib figure of all trials with the front highlighted and baselines marked."""
        return results.plot_pareto(self.trials_dataframe(), self.objectives, path=path)

    def best_trials(self, n: int = 1):
        return self.oracle.get_best_trials(n)

    def best_models(self, n: int = 1):
        """Compiled tf_keras QKeras models of the ``n`` best trials in Pareto order, with their weights."""
        return [self.tuner.load_model(t) for t in self.best_trials(n)]

    def summary(self, print_fn=print) -> str:
        """A short readable report of the search."""
        df = self.trials_dataframe()
        n_done = int((df["status"] == "COMPLETED").sum()) if not df.empty else 0
        lines = [f"kerasnac search '{self.project_dir}': {len(df)} trials, {n_done} completed, "
                 f"{len(df) - n_done} not completed",
                 "objectives: " + ", ".join(f"{o.name} ({o.direction})" for o in self.objectives)]
        if self.constraints:
            lines.append("constraints: " + ", ".join(str(c) for c in self.constraints))
        front = self.pareto_front()
        if not front.empty:
            cols = ["trial_id", "architecture"] + [o.name for o in self.objectives]
            extra = [c for c in ("params", "bops", "lut", "dsp") if c in front and c not in cols]
            lines.append(f"Pareto front ({len(front)} trials):")
            lines.append(front[cols + extra].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        failed = df[df["status"] != "COMPLETED"] if not df.empty else df
        if not failed.empty:
            common = failed["reason"].map(results.normalize_reason).value_counts()
            lines.append(f"failures: {len(failed)}; most common: {common.index[0]!r}" if len(common) else "")
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text


def _check_option(value, arg: str, cls_name: str):
    import kerasnac

    cls = getattr(kerasnac, cls_name)
    if value is None or value is False:
        return None
    if value is True:
        return cls()
    if isinstance(value, cls):
        return value
    raise ConfigError(f"{arg} must be True, False/None or a kerasnac.{cls_name}, got {type(value).__name__}.")


def _check_writable(directory: str):
    try:
        os.makedirs(directory, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".kerasnac_write_test"):
            pass
    except OSError as e:
        raise ConfigError(f"directory {directory!r} is not writable ({e.strerror}). Pass directory= a folder you "
                          "can write to.") from None


__all__ = ["KerasNAC", "Objective"]

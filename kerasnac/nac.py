"""KerasNAC: the global multi-objective architecture search."""

from __future__ import annotations

import functools
import json
import os
import time

import pandas as pd

from . import _data, _options, _rundir, _worker, costs, distributed, objectives as _objectives, results
from ._deprecation import renamed
from ._keras import kt
from ._shapes_only import shapes_only
from ._rundir import RunDir
from .errors import ConfigError
from .evolution import ConsecutiveFailuresError, Constraint, ParetoOracle, ParetoSearch
from .objectives import Objective
from ._reports import SearchResults
from .space import SearchSpace


def default_population(max_trials: int) -> int:
    """``KerasNAC``'s population when none is given: ``max_trials // 4`` clipped to 10..20."""
    return max(10, min(20, int(max_trials) // 4))


class KerasNAC(SearchResults):
    """Multi-objective neural architecture codesign on a :class:`SearchSpace`.

    A keras-tuner :class:`~kerasnac.oracle.ParetoOracle` (NSGA-II) proposes architectures;
    each trial trains the QKeras model and reports every objective and every registered cost.

    Args:
        space: the :class:`SearchSpace` (Python or ``SearchSpace.from_yaml``).
        objectives: names (``"val_accuracy"``, ``"bops"``, ``"lut"``, ...), callables
            ``f(model) -> float`` (minimised) or :class:`Objective` objects.
        max_trials: number of trials of the global search.
        population_size: NSGA-II population. ``None`` (default): a quarter of ``max_trials``, at
            least 10 and at most 20 (NAC uses 20), so that a short search still has four
            generations: at 40 trials a population of 10 was level with 20 on jets_mlp and a
            little ahead on Deep Sets and the calorimeter task, and 6 was behind
            (``docs/benchmarks.md``, "Tried and not kept").
        constraints: e.g. ``["lut <= 50000"]``; infeasible trials rank behind feasible ones.
        directory, project_name: where keras-tuner keeps its state and kerasnac its CSV files.
        seed: seeds the oracle and each trial's weight initialisation.
        overwrite: ``False`` (default) resumes a search found in the directory.
        baselines: ``True`` enqueues the space's baselines as the first trials; a dict
            ``{name: config}`` adds more; ``False`` skips them.
        cost_options: passed to the cost model, e.g. ``{"input_bits": 16, "reuse_factor": 1}``.
            Without a ``"strategy"`` the costs describe the firmware the post-search callbacks build
            (their ``cost_strategy``): ``Synthesis`` and ``HLS4MLExport(strategy="distributed_arithmetic")``
            make it ``"distributed_arithmetic"``, ``HLS4MLExport(strategy="Latency"/"Resource")`` theirs;
            without such a callback, ``"latency"``. Callbacks that disagree, or a ``"strategy"`` that none
            of them builds, raise a ConfigError here. Under ``"distributed_arithmetic"``, ``"estimator"``
            says what computes ``lut`` and ``ff``: ``"da4ml"`` (the default when da4ml is installed: the
            yosys-calibrated ``da_syn_lut``/``da_ff`` of each model's da4ml trace, 0.1-20 s per model) or
            ``"analytical"`` (the formulas, milliseconds). The chosen values are stored in
            ``self.cost_options`` (and so in the resume check; the default ``"latency"`` stays
            implicit) and printed at ``verbose >= 1``.
        local_search: a :class:`kerasnac.LocalSearch`; after the global search its best
            candidates get training-HPO, QAT at several precisions and pruning.
        post_search: post-search :class:`kerasnac.callbacks.Callback` objects (e.g.
            ``HLS4MLExport``), applied to the final models (the local stage's variants, or the
            global front when there is no local stage). Keras callbacks for every trial's ``fit``
            go to :meth:`search` (``callbacks=``), as in keras-tuner.
        post_search_on: ``"front"`` (default) runs the post-search callbacks on the final Pareto
            front only; ``"all"`` on every final model.
        fit_callbacks, callbacks, callbacks_on: the names of ``search(callbacks=...)``,
            ``post_search`` and ``post_search_on`` before 0.2; they still work, with a
            DeprecationWarning.
        strategy: ``"evolution"`` (the NSGA-II global search) or ``"gradient"``: a single-shot
            supernet search (:class:`kerasnac.gradient.GradientSearch`) whose derived model then
            goes through the same local stage, callbacks and final table.
        gradient: keyword arguments of ``GradientSearch`` for ``strategy="gradient"`` (e.g.
            ``{"cost": kn.costs.weighted(lut=1, dsp=2), "budget": {"lut": 40_000}, "epochs": 30}``).
            With ``"budgets"`` (e.g. ``{"budgets": 5}`` or ``{"budgets": {"bops": [3e4, 1e5, 3e5]}}``) one
            supernet training gives a front, the space's cheapest architecture and one model per
            budget (``GradientSearch.derive_front()``), recorded as completed trials: the
            trials table, ``pareto_front()``, ``plot_pareto()`` and the local stage then work as after an
            evolutionary search.
        screening: surrogate-assisted offspring selection (breed several children, compute their
            costs exactly before training, train the one with the largest predicted hypervolume
            gain): ``True`` (default) uses ``kerasnac.Screening()``, a :class:`kerasnac.Screening`
            sets its options, ``None``/``False`` is plain NSGA-II. Options left unset that depend on
            how long a trial trains (``kappa``, ``exact``) are set when the search starts, from the
            training samples × ``epochs`` (:meth:`kerasnac.Screening.for_budget`).
        initial: how the first population is drawn: ``"stratified"`` (default,
            :class:`kerasnac.evolution.CostStratified`: 4 uniform draws per slot, their exact costs
            computed without training, the population spread evenly over the log of the first cost
            objective, from the space's cheapest architecture (found by a descent on the exact
            costs, ``anchor=True``) to the dearest draw; ``4 * population_size`` shapes-only model
            builds and a few tens for the descent before the first trial), ``"random"``
            (uniform draws, plain NSGA-II) or a strategy object of :mod:`kerasnac.evolution.initial`.
        fidelity: a :class:`kerasnac.SuccessiveHalving`: each trial trains in rungs of
            ``min_epochs * eta**k`` epochs and continues only while it is in the best ``1/eta``
            of its rung (multi-fidelity); ``None`` trains every trial for the full ``epochs``.
        verbose: 1 shows a progress bar, 0 is silent.
        workers: trials run at once on this machine (default 1: one at a time, in this process).
            ``workers=N > 1`` makes this process keras-tuner's gRPC chief on a free loopback port
            and starts N worker processes (``python -m kerasnac._worker``), each with
            ``os.cpu_count() // N`` TensorFlow threads; they are stopped when the global search
            ends (also on an error or Ctrl-C), and the local stage and callbacks then run here as
            with ``workers=1``. Needs numpy arrays, and objectives/callbacks defined in an
            importable module (not lambdas or notebook cells): a ConfigError says so up front.
        output_bias: ``"mean"`` (default) starts every model's output (trials, baselines, the local
            stage, the supernet's head) at the training targets' mean: a regression head's bias at
            the mean target, a classifier's at the log class frequencies, so that its softmax
            predicts the class priors. ``None`` starts the bias at zero, Keras' default. With short
            trials a head that starts at zero spends its few steps learning the targets' offset: on
            Bragg peaks with 3 epochs most architectures ended worse than predicting the mean centre
            (``docs/benchmarks.md``, section 0g); a rare signal class is the classifier's offset. With
            balanced classes the bias is zero either way. It is recorded in the resume check.

    Example:
        >>> space = SearchSpace.from_yaml("jets_mlp")                        # doctest: +SKIP
        >>> nac = KerasNAC(space, ["val_accuracy", "bops"], max_trials=20)    # doctest: +SKIP
        >>> nac.search(x, y, validation_data=(xv, yv), epochs=5)              # doctest: +SKIP
        >>> nac.pareto_front()                                               # doctest: +SKIP
    """

    def __init__(self, space: SearchSpace, objectives=("val_accuracy", "bops"), max_trials: int = 30, *,
                 population_size: int | None = None, constraints=None, directory: str = "runs",
                 project_name: str = "kerasnac", seed: int = 0, overwrite: bool = False, baselines=True,
                 cost_options: dict | None = None, max_consecutive_failed_trials: int = 10,
                 local_search=None, post_search=(), post_search_on: str = "front", strategy: str = "evolution",
                 gradient: dict | None = None, screening=True, initial="stratified", fidelity=None, verbose: int = 1,
                 workers: int = 1, fit_callbacks=None, callbacks=None, callbacks_on=None, output_bias="mean"):
        if not isinstance(space, SearchSpace):
            raise ConfigError(f"space must be a kerasnac.SearchSpace, got {type(space).__name__}. "
                              "Use SearchSpace.from_yaml(...) or SearchSpace(...).")
        if isinstance(max_trials, bool) or not isinstance(max_trials, int) or max_trials < 1:
            raise ConfigError(f"max_trials must be an integer >= 1, got {max_trials!r}.")
        population_given = population_size is not None
        if population_size is None:
            population_size = default_population(max_trials)
        if isinstance(population_size, bool) or not isinstance(population_size, int) or population_size < 2:
            raise ConfigError(f"population_size must be an integer >= 2 or None, got {population_size!r}.")
        self.space = space
        self.objectives = _objectives.resolve(objectives, space.metric_names)
        self.max_trials, self.seed, self.verbose = max_trials, int(seed), verbose
        self.cost_options = dict(cost_options or {})
        from .callbacks import Callback
        from .local import LocalSearch

        if local_search is not None and not isinstance(local_search, LocalSearch):
            raise ConfigError(f"local_search must be a kerasnac.LocalSearch, got {type(local_search).__name__}.")
        self.local_search = local_search
        post_search = renamed("KerasNAC", "callbacks", callbacks, "post_search", post_search)
        post_search_on = renamed("KerasNAC", "callbacks_on", callbacks_on, "post_search_on", post_search_on)
        self.post_search = list(post_search)
        if post_search_on not in ("front", "all"):
            arg = "post_search_on" if callbacks_on is None else "callbacks_on"
            raise ConfigError(f"{arg} must be 'front' or 'all', got {post_search_on!r}.")
        self.post_search_on = post_search_on
        if strategy not in ("evolution", "gradient"):
            raise ConfigError(f"strategy must be 'evolution' or 'gradient', got {strategy!r}.")
        self.strategy, self.gradient_options = strategy, dict(gradient or {})
        self.gradient_search = None
        for cb in self.post_search:
            if not isinstance(cb, Callback):
                arg = "post_search" if callbacks is None else "callbacks"
                raise ConfigError(f"{arg} must be kerasnac.callbacks.Callback objects, got {type(cb).__name__}"
                                  + (" (a Keras callback for every trial goes to search(callbacks=[...]))"
                                     if hasattr(cb, "set_model") else "") + ".")
        #: the cost model's options: the caller's, with the strategy of the callbacks' firmware and
        #: the estimator filled in (see ``cost_options`` above); ``_cost_notes`` says why
        self.cost_options, self._cost_notes = _options.resolve_cost_options(self.cost_options, self.post_search)
        self._final_rows: list[dict] = []
        #: Keras callbacks of every trial's fit (search(callbacks=...) replaces them)
        self.fit_callbacks = list(renamed("KerasNAC", "fit_callbacks", fit_callbacks, "search(callbacks=...)", ()))
        known = set(space.metric_names) | set(costs.available_costs()) | {o.name for o in self.objectives}
        try:
            self.constraints = [c if isinstance(c, Constraint) else Constraint.parse(c) for c in (constraints or [])]
        except (TypeError, ValueError) as e:
            raise ConfigError(str(e)) from None
        for c in self.constraints:
            if c.metric not in known:
                raise ConfigError(f"constraint {c} is on an unknown metric {c.metric!r}; known: {', '.join(sorted(known))}.")
        self.workers = _worker.check_workers(workers, strategy)
        _data.check_output_bias(output_bias)
        self.output_bias = output_bias
        if self.workers > 1:  # what cannot reach a worker process is named now, before any work
            _worker.check_search(self)
        self._descriptions: dict = {}
        #: optional costs (e.g. da_lut) the objectives and constraints need; evaluate() adds them
        self.cost_names = [n for n in [o.name for o in self.objectives] + [c.metric for c in self.constraints]
                           if costs.is_cost(n)]
        self.population_size = population_size
        self._exact_cost_options = dict(self.cost_options)
        if self.cost_options.get("estimator") == "da4ml" and not {"lut", "ff"} & set(self.cost_names):
            # no objective or constraint is lut/ff: spare the screening a da4ml trace per candidate
            self._exact_cost_options["estimator"] = "analytical"
        _rundir.check_project_name(project_name)
        self.project_dir = os.path.join(directory, project_name)
        self.run_dir = _rundir.RunDir(self.project_dir)
        # "single", or keras-tuner's gRPC "chief" (holds the oracle) / "worker" (runs trials)
        self.role = distributed.role()
        if self.verbose and self.role != "worker":
            for note in self._cost_notes:
                print(f"kerasnac: {note}")
        _rundir.check_writable(directory)
        if overwrite and self.role != "worker":
            # only an empty folder or one holding kerasnac's marker, and only inside `directory`
            _rundir.remove(self.project_dir, directory)
        _rundir.claim(self.project_dir, "search")
        self._stored_meta = None
        stored = None if overwrite or population_given else self.run_dir.read_meta()
        if stored and isinstance(stored.get("population_size"), int):
            self.population_size = stored["population_size"]  # a resumed search keeps the population it began with
        if not (overwrite and self.role == "worker"):
            self._stored_meta = self.run_dir.check_resume(self._meta())
        if self._stored_meta and self._stored_meta.get("label_mode"):
            self.space.label_mode = self._stored_meta["label_mode"]  # models rebuilt before fit() compile right
        #: the screening options as given; search() fills in what depends on the trials' length
        self._screening = _options.check_option(screening, "screening", "Screening")
        self.oracle = ParetoOracle(
            objective=[kt.Objective(o.name, o.direction) for o in self.objectives],
            max_trials=max_trials, population_size=self.population_size, constraints=self.constraints,
            seed=self.seed, max_consecutive_failed_trials=max_consecutive_failed_trials,
            screening=self._screening, exact_costs=self._exact_costs,
            initial=_options.initial_option(initial),
            fidelity=_options.check_option(fidelity, "fidelity", "SuccessiveHalving"),
        )
        self.fidelity = self.oracle.fidelity
        self._bar = None
        # the tuner trains and measures each trial; on a gRPC chief it runs the end hook in the oracle
        self.tuner = ParetoSearch(space, objective=self.objectives, oracle=self.oracle, seed=self.seed,
                                  cost_fn=functools.partial(costs.evaluate, extra=self.cost_names, **self.cost_options),
                                  on_trial_begin=self._on_trial_begin, on_trial_end=self._on_trial_end,
                                  directory=directory, project_name=project_name, overwrite=False)
        if self.role == "worker":  # the chief owns the oracle, the baselines and the result files
            return
        self._enqueue_baselines(baselines)

    # ------------------------------------------------------------------ setup helpers
    def _exact_costs(self, values: dict) -> dict:
        """The pre-training costs of hyperparameter values (builds the model from output shapes only,
        see ``_shapes_only``; no training)."""
        with shapes_only():
            model = self.space.model_from_values(values)
        return costs.evaluate(model, extra=self.cost_names, **self._exact_cost_options)

    def _meta(self) -> dict:
        return {"objectives": [[o.name, o.direction] for o in self.objectives],
                "constraints": [str(c) for c in self.constraints],
                "space": self.space.to_dict(), "hyperparameters": sorted(h.name for h in self.space.hyperparameters().space),
                "population_size": self.population_size, "seed": self.seed, "label_mode": self.space.label_mode}

    def _fingerprint(self, x, y, validation_data, validation_split, epochs, batch_size) -> dict:
        return _rundir.fingerprint(x, y, validation_data, validation_split, epochs, batch_size,
                                   fidelity=self.fidelity, screening=getattr(self.oracle, "screening", None),
                                   cost_options=self.cost_options,
                                   output_bias=self.output_bias)

    def _resolve_screening(self, data, epochs: int):
        """Set the oracle's screening options that depend on the trials' length (``kappa``, ``exact``
        left unset) from ``data``'s training samples × ``epochs``; a search resumed with trials keeps
        the values it began with (:meth:`kerasnac.Screening.for_budget`). Before the run's fingerprint."""
        if self._screening is None:
            return
        n = data.n_train
        started = ((self._stored_meta or {}).get("fingerprint") or {}).get("screening") if self.oracle.trials else None
        self.oracle.screening = self._screening.for_budget(None if n is None else n * epochs, started)

    def _start_run(self, fingerprint: dict):
        """Refuse to add trials to a search made with other settings; then record this run's."""
        old = (self._stored_meta or {}).get("fingerprint")
        self.run_dir.check_fingerprint(old, fingerprint, len(self.oracle.trials))
        self._write_meta(fingerprint)

    def _write_meta(self, fingerprint: dict):
        meta = {**self._meta(), "fingerprint": fingerprint}
        self.run_dir.write_meta(meta)
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
    def search(self, x, y=None, *, validation_data=None, validation_split: float = 0.2, epochs: int = 5,
               batch_size: int = 256, callbacks=None):
        """Run the global search (or continue it up to ``max_trials``), then the local stage and the
        post-search callbacks.

        ``x``/``y`` are numpy arrays (validated against the space before any training) or a
        batched ``tf.data.Dataset`` of ``(x, y)`` with ``validation_data`` as a Dataset.
        ``callbacks`` are Keras callbacks for every trial's ``fit`` (e.g. ``EarlyStopping``), as in
        keras-tuner's ``Tuner.search``; they are not part of the run's fingerprint, so a logger or
        a timer never blocks a resume.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ConfigError(f"epochs must be an integer >= 1, got {epochs!r}.")
        if callbacks is not None:
            from ._keras import keras

            bad = [type(c).__name__ for c in callbacks if not isinstance(c, keras.callbacks.Callback)]
            if bad:
                raise ConfigError(f"search(callbacks=...) takes Keras callbacks for every trial, got {', '.join(bad)}"
                                  "; kerasnac post-search callbacks (HLS4MLExport, ...) go to "
                                  "KerasNAC(post_search=[...]).")
            self.fit_callbacks = list(callbacks)
        if self.workers > 1:
            _worker.check_search_args(self, x)
        if self.strategy == "gradient":
            return self._fit_gradient(x, y, validation_data, validation_split, epochs, batch_size)
        data = _data.prepare(self.space, x, y, validation_data, validation_split, batch_size, self.seed)
        _data.configure_space(self.space, data, self.output_bias)
        train, val, val_arrays = data.train(), data.val(), data.validation
        self._resolve_screening(data, epochs)
        trial_kwargs = dict(validation_data=val, epochs=epochs, objective_data=val_arrays,
                            train_for_seed=data.train_for_seed if data.has_arrays else None,
                            callbacks=self.fit_callbacks, verbose=0)
        if self.role != "worker":  # the data are valid: the search really starts (kerasnac.json)
            self._start_run(self._fingerprint(x, y, validation_data, validation_split, epochs, batch_size))
        if self.role == "worker":  # run trials for the chief; results, local stage and callbacks are its job
            self.tuner.search(train, **trial_kwargs)
            return self
        self.oracle.stop_message = None  # a new fit() after a failure stop tries again
        self._open_bar()
        try:
            if self.workers > 1:  # this process is the chief of N local worker processes
                _worker.run_chief(self, data, epochs, batch_size)
            else:
                self.tuner.search(train, **trial_kwargs)
        finally:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            self._write_results()
        if self.oracle.stop_message is not None:  # a chief stops its workers and raises afterwards
            raise ConsecutiveFailuresError(self.oracle.stop_message)
        if self.local_search is not None or self.post_search:
            if data.has_arrays:
                self._final_stage(data, epochs)
            else:
                print("kerasnac: the local stage and callbacks need numpy arrays; skipped for tf.data input.")
        for cb in self.post_search:
            cb.on_search_end(self)
        return self

    def fit(self, x, y=None, **kwargs):
        """The same as :meth:`search` (kerasnac's name for it before 0.2)."""
        return self.search(x, y, **kwargs)

    # ------------------------------------------------------------------ local stage and callbacks
    def _fit_gradient(self, x, y, validation_data, validation_split, epochs, batch_size):
        """``strategy="gradient"`` (:mod:`kerasnac._gradient_run`)."""
        from . import _gradient_run

        return _gradient_run.fit(self, x, y, validation_data, validation_split, epochs, batch_size)

    def _final_stage(self, data, epochs, candidates=None):
        """The local stage and the post-search callbacks on the run's prepared :class:`~kerasnac._data.Data`."""
        from .local import final_table, model_row

        directory = self.run_dir.file(RunDir.FINAL_DIR)
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
                                                    cost_options=self.cost_options,
                                                    log=print if self.verbose else (lambda *a: None))
                else:
                    rows = [model_row(model, f"{cid}_global", {**lineage, "stage": "global"}, data=data,
                                      directory=directory, extra_metrics=extra, extra_costs=self.cost_names,
                                      cost_options=self.cost_options)]
            except Exception as e:  # one candidate never stops the others
                from .local import error_row

                rows = [error_row(cid, {**lineage, "stage": "final"}, e)]
            self._final_rows.extend(rows)
            results.write_csv_atomic(self.final_front(), self.run_dir.file(RunDir.FINAL))
        if self.post_search:
            from .local import apply_callbacks

            ranked = final_table(self._final_rows, self._final_objectives(), self.constraints).to_dict("records")
            if self.verbose:
                n = sum(1 for r in ranked if r.get("on_front")) if self.post_search_on == "front" else len(ranked)
                print(f"kerasnac: callbacks ({', '.join(cb.name for cb in self.post_search)}) on {n} final models")
            self._final_rows = apply_callbacks(ranked, self.post_search, data, self.space.task,
                                               self.post_search_on == "front", log=print if self.verbose else (lambda *a: None))
            results.write_csv_atomic(self.final_front(), self.run_dir.file(RunDir.FINAL))

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

    def _open_bar(self):
        if not self.verbose:
            return
        from tqdm.auto import tqdm

        done = sum(1 for t in self.oracle.trials.values() if str(t.status) in ("COMPLETED", "FAILED", "INVALID"))
        self._bar = tqdm(total=self.max_trials, initial=done, desc="kerasnac", unit="trial")

    # ------------------------------------------------------------------ distributed bookkeeping
    def _worker_log(self, trial, event: str):
        """A worker appends one JSON line per trial event to ``workers/<tuner id>.jsonl``."""
        path = self.run_dir.worker_log(distributed.tuner_id())
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
            results.write_csv_atomic(df, self.run_dir.file(RunDir.TRIALS))
            results.write_csv_atomic(df[df["on_front"]], self.run_dir.file(RunDir.FRONT))
        return df


__all__ = ["KerasNAC", "Objective"]

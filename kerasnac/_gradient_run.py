"""``KerasNAC(strategy="gradient")``: the supernet search (one model, or a front of models recorded as
trials of the oracle), then the usual local stage and callbacks."""

from __future__ import annotations

import os

from . import _data, _rundir, costs
from .errors import ConfigError
from .evolution.search import WEIGHTS_FILE
from .gradient import GradientSearch


def fit(nac, x, y, validation_data, validation_split, epochs, batch_size):
    """``strategy="gradient"``: supernet search, derive, then the usual final stage."""
    if x is not None and hasattr(x, "element_spec"):
        raise ConfigError("strategy='gradient' needs numpy arrays (x, y), not a tf.data.Dataset.")
    data = _data.prepare(nac.space, x, y, validation_data, validation_split, batch_size, nac.seed)
    nac._resolve_screening(data, epochs)  # recorded in the fingerprint as an evolutionary search records it
    fingerprint = nac._fingerprint(x, y, validation_data, validation_split, epochs, batch_size)
    _data.configure_space(nac.space, data, nac.output_bias)
    nac._start_run(fingerprint)
    opts = {"epochs": epochs, "batch_size": batch_size, "cost_options": nac.cost_options, "seed": nac.seed,
            "verbose": nac.verbose, "output_bias": nac.output_bias, **nac.gradient_options}
    if "cost" not in opts:  # the cost objective of the search, e.g. "bops"
        opts["cost"] = next((o.name for o in nac.objectives if o.kind == "cost"), "bops")
    front = opts.get("budgets") is not None  # several budgets: one supernet, a front of models
    if "budget" not in opts and not front:  # "lut <= 40000" constraints become budgets
        budget = {c.metric: c.bound for c in nac.constraints if c.op == "<=" and costs.is_cost(c.metric)}
        if budget:
            opts["budget"] = budget
    gs = nac.gradient_search = GradientSearch(nac.space, **opts)
    if front:
        return fit_front(nac, gs, data, epochs)
    gs.fit(data)
    model = gs.derive()
    lineage = {"trial_id": "gradient", "architecture": nac._describe(gs.values)}
    nac._final_stage(data, epochs, candidates=[("grad", lineage, lambda: model)])
    for cb in nac.post_search:
        cb.on_search_end(nac)
    return nac


def fit_front(nac, gs, data, epochs):
    """The models of a gradient front become completed trials of the oracle (trials table, front,
    plot, files), then the local stage and the callbacks run on them as after an evolutionary search."""
    done = [t for t in nac.oracle.trials.values() if str(t.status) == "COMPLETED"]
    if done:  # resumed: the front of this run is already recorded
        if nac.verbose:
            print(f"kerasnac: {len(done)} gradient-front trials found in {nac.project_dir}; not searching again "
                  "(overwrite=True searches again).")
    else:
        gs.fit(data)
        for rec in gs.derive_front():
            model, metrics = rec["model"], dict(rec["metrics"])
            for o in nac.objectives:
                if o.fn:
                    metrics[o.name] = o.compute(model, data.validation)
            metrics["multi_objective"] = float(sum(metrics[o.name] * (1 if o.direction == "min" else -1)
                                                   for o in nac.objectives))
            trial = nac.oracle.record(rec["values"], metrics)
            path = os.path.join(nac.tuner.get_trial_dir(trial.trial_id), WEIGHTS_FILE)
            _rundir.atomic_write(path, model.save_weights)  # as a trial: tuner.load_model reads it
        nac._write_results()
    if nac.local_search is not None or nac.post_search:
        nac._final_stage(data, epochs)
    for cb in nac.post_search:
        cb.on_search_end(nac)
    return nac

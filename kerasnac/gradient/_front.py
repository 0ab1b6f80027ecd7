"""A front from one supernet training: several budgets, one derived model each (once-for-all style).

``GradientSearch(space, cost="bops", budgets=[{"bops": 2e4}, {"bops": 1e5}, {"bops": 5e5}])`` trains
*one* supernet. Its weights are shared by every budget; each budget has its own architecture logits
(one row of ``GradientSearch.bank``) and its own row of λ in the budget controller. The budgets take
turns, one per batch: the weight step samples a path from that budget's distribution (so the shared
weights are trained on architectures spread along the cost axis, like the sandwich rule of
once-for-all / BigNAS), and the architecture step moves only that budget's logits toward its budget.

Why logits per budget rather than logits conditioned on the budget (a small network from the budget
to the logits): the logits are a few dozen numbers per budget, each row has its own exact expected
cost and controller, and the derived architecture of one budget can differ from its neighbours in
any choice (bits here, depth there) without a conditioning model having to learn that. The cost of a
front is one supernet training (every batch still runs one weight step and one architecture step)
plus one short fine-tuning per model (:func:`finetune_epochs_for`), instead of one supernet training
per point of a λ sweep.

Afterwards :func:`derive_front` derives and fine-tunes the space's cheapest architecture and one
model per budget, and :func:`front_dataframe` / :func:`plot_front` show them with the evolutionary
search's own table (``kerasnac.results.trials_dataframe``: the same columns as
``KerasNAC.trials_dataframe()``) and figure (``kerasnac.results.plot_pareto``). ``KerasNAC(strategy="gradient", gradient={"budgets": ...})``
records the models as completed trials of its oracle, so ``pareto_front()``, ``plot_pareto()``,
``results_summary()``, ``trials.csv`` and the local stage see them as they see trials.
"""

from __future__ import annotations

import time

import numpy as np

from .. import costs, results
from .._keras import kt
from ..errors import ConfigError
from ..evolution import ranking
from ..objectives import resolve

#: optimizer steps a derived model's fine-tuning aims at, and its bounds in epochs (finetune_epochs=None)
FINETUNE_STEPS, FINETUNE_MIN, FINETUNE_MAX = 200, 3, 10


def finetune_epochs_for(train) -> int:
    """Fine-tuning epochs for the batched training dataset ``train``: as many as about
    ``FINETUNE_STEPS`` optimizer steps take, within ``[FINETUNE_MIN, FINETUNE_MAX]``.

    Why steps: fine-tuning adapts the supernet's weights to one architecture, which takes a number of
    gradient steps whatever the size of an epoch. On 4,000 toy jets (19 batches an epoch) the derived
    models of a front gained 0.02-0.06 in accuracy between 3 and 10 epochs (``docs/benchmarks.md``,
    section 6); on the 830k-jet data set, 3 epochs are tens of thousands of steps. An unknown
    dataset size gives ``FINETUNE_MIN``."""
    n = int(train.cardinality()) if hasattr(train, "cardinality") else -1
    if n <= 0:
        return FINETUNE_MIN
    return int(min(FINETUNE_MAX, max(FINETUNE_MIN, -(-FINETUNE_STEPS // n))))


def _number(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and np.isfinite(v) and v > 0


def check_budgets(budget, budgets, cost):
    """``(rows, auto)``: the budget rows (``[]`` without budgets, one row for ``budget=``) or, for an
    integer ``budgets=K``, ``([], K)`` (the rows are chosen after the probes). Raises a ConfigError naming
    the problem and the fix before any work."""
    if budgets is None:
        if budget is None:
            return [], None
        if not isinstance(budget, dict) or not budget:
            raise ConfigError(f"budget must be a dict {{cost name: limit}}, e.g. {{'lut': 40000}}, got {budget!r}.")
        return [_check_row(budget, "budget")], None
    if budget is not None:
        raise ConfigError("give budget= (one model) or budgets= (a front of models), not both.")
    if isinstance(budgets, int) and not isinstance(budgets, bool):
        if budgets < 2:
            raise ConfigError(f"budgets={budgets}: a front needs at least 2 budgets (use budget= for one model).")
        if not isinstance(cost, str):
            raise ConfigError("budgets=<int> spreads budgets over the range of a registered cost; with "
                              f"cost={cost!r} give the budgets themselves, e.g. budgets={{'lut': [1e4, 3e4, 1e5]}}.")
        return [], int(budgets)
    if isinstance(budgets, dict):  # {"bops": [2e4, 1e5]} -> [{"bops": 2e4}, {"bops": 1e5}]
        lengths = {k: len(v) if isinstance(v, (list, tuple)) else None for k, v in budgets.items()}
        if not budgets or None in lengths.values() or len(set(lengths.values())) != 1:
            raise ConfigError("budgets as a dict maps each cost name to a list of limits of the same length, "
                              f"e.g. {{'bops': [2e4, 1e5, 5e5]}}; got {budgets!r}.")
        n = next(iter(lengths.values()))
        budgets = [{k: v[i] for k, v in budgets.items()} for i in range(n)]
    if not isinstance(budgets, (list, tuple)) or not all(isinstance(r, dict) and r for r in budgets):
        raise ConfigError("budgets must be an integer K, a list of budget dicts [{'bops': 2e4}, {'bops': 1e5}] "
                          f"or a dict of lists {{'bops': [2e4, 1e5]}}; got {budgets!r}.")
    rows = [_check_row(r, f"budgets[{i}]") for i, r in enumerate(budgets)]
    if len(rows) < 2:
        raise ConfigError("a front needs at least 2 budgets; for one model use budget={...}.")
    keys = list(rows[0])
    for i, r in enumerate(rows):
        if set(r) != set(keys):
            raise ConfigError(f"budgets[{i}] names {sorted(r)}, budgets[0] names {sorted(keys)}: every budget of a "
                              "front must limit the same costs.")
    rows = sorted(({k: r[k] for k in keys} for r in rows), key=lambda r: tuple(r.values()))
    if any(a == b for a, b in zip(rows, rows[1:])):
        raise ConfigError(f"budgets repeat a budget ({rows}); each budget gives one model, give distinct ones.")
    return rows, None


def _check_row(row: dict, where: str) -> dict:
    for k, v in row.items():
        if not isinstance(k, str) or not costs.is_cost(k):
            raise ConfigError(f"{where}: {k!r} is not a registered cost; known: {', '.join(costs.available_costs())}.")
        if not _number(v):
            raise ConfigError(f"{where}[{k!r}] must be a positive number, got {v!r}.")
    return {k: float(v) for k, v in row.items()}


def extreme_choices(gs, index: int, sign: float = 1.0, sweeps: int = 4) -> tuple[dict, float]:
    """``({choice: value}, cost)`` of the cheapest (``sign=1``) or costliest (``-1``) architecture found
    by coordinate descent / ascent over one-hot choices on metric ``index`` of the prober (the space is
    too large to enumerate). The result is kept on ``gs`` (the supernet's cost tables do not change), so
    ``auto_budgets`` and ``derive_front(cheapest=True)`` run the descent once.

    Written here because the costs are a sum over the supernet's relaxed layers, only reachable through
    ``Supernet.expected_cost``; no library search applies."""
    cache = gs.__dict__.setdefault("_extremes", {})
    key = (index, sign, sweeps)
    if key not in cache:
        cache[key] = _descent(gs, index, sign, sweeps)
    values, best = cache[key]
    return dict(values), best


def _descent(gs, index: int, sign: float, sweeps: int) -> tuple[dict, float]:
    cs, sn = gs.choices, gs.supernet

    def cost(values):
        return float(sn.expected_cost(cs.onehot(values)).numpy()[index])

    values = {n: c.values[0] for n, c in cs.choices.items()}
    best = cost(values)
    for _ in range(sweeps):
        moved = False
        for n, c in cs.choices.items():
            for v in c.values:
                trial = cost({**values, n: v})
                if sign * trial < sign * best - 1e-9:
                    values[n], best, moved = v, trial, True
        if not moved:
            break
    return values, best


def cost_range(gs, index: int, sweeps: int = 4) -> tuple[float, float]:
    """Exact costs of the cheapest and the costliest architecture (:func:`extreme_choices`)."""
    return extreme_choices(gs, index, 1.0, sweeps)[1], extreme_choices(gs, index, -1.0, sweeps)[1]


def auto_budgets(gs, k: int, index: int) -> list[dict]:
    """``k`` budgets of ``gs.cost_name``, log-spaced strictly inside the space's cost range."""
    lo, hi = cost_range(gs, index)
    if not hi > lo > 0:
        raise ConfigError(f"budgets={k}: the space's {gs.cost_name} range is [{lo:g}, {hi:g}]; give the budgets "
                          "explicitly.")
    return [{gs.cost_name: float(b)} for b in np.geomspace(lo, hi, k + 2)[1:-1]]


def derive_front(gs, finetune_epochs=None, repair=True, verbose=0, cheapest=True) -> list[dict]:
    """Derive, fine-tune and measure one model per budget (cheapest budget first). Each record has
    ``budget``, ``values`` (hyperparameter values), ``model``, ``metrics`` (as a trial reports them:
    the last fine-tuning epoch's logs, every cost, ``epochs_trained``, ``train_seconds``, the budgets
    and the argmax costs before any repair) and ``repair_log``.

    ``cheapest=True`` (the default since session 18) puts the space's cheapest architecture
    (:func:`extreme_choices` on the first budgeted cost) first, fine-tuned from the supernet's weights
    like the others, with its own cost as its budget: nothing undercuts it, so it is on the true front
    whatever its accuracy, and the budgets (strictly inside the cost range) never reach it
    (``docs/benchmarks.md``, section 6). It adds nothing when a budget already derived it;
    ``cheapest=False`` gives exactly one record per budget."""
    if not gs.budgets or not hasattr(gs, "bank"):
        raise ConfigError("derive_front() needs a search fitted with budgets=[...] (a front); call fit() first.")
    records = []
    for k, row in enumerate(gs.budgets):
        t0 = time.perf_counter()
        model = gs.derive(finetune_epochs=finetune_epochs, verbose=verbose, repair=repair, budget=k)
        metrics = _measured(gs, model, gs.finetune_history, t0)
        for m, b in row.items():
            a = gs.argmax_costs.get(f"budget:{m}", np.nan)
            metrics.update({f"budget_{m}": b, f"argmax_{m}": a, f"argmax_vs_budget_{m}": a / b - 1.0})
        records.append({"budget": dict(row), "values": dict(gs.values), "model": model, "metrics": metrics,
                        "repair_log": list(gs.repair_log)})
    if cheapest:
        records = _cheapest_record(gs, finetune_epochs, verbose, records)
    gs.front = records
    gs.select(0)
    return records


def _cheapest_record(gs, finetune_epochs, verbose, records) -> list[dict]:
    """``records`` with the space's cheapest architecture first (unless a budget already derived it)."""
    name = next(iter(gs.budgets[0]))
    raw, low = extreme_choices(gs, gs.metric_names.index(f"budget:{name}"))
    values = gs.supernet.hp_values(raw)
    if any(rec["values"] == values for rec in records):
        return records
    t0 = time.perf_counter()
    _, model, history = gs.build_finetuned(raw, finetune_epochs, verbose)
    metrics = _measured(gs, model, history, t0)
    for m in gs.budgets[0]:
        c = metrics.get(m, low)
        metrics.update({f"budget_{m}": c, f"argmax_{m}": c, f"argmax_vs_budget_{m}": 0.0})
    return [{"budget": {m: metrics[f"budget_{m}"] for m in gs.budgets[0]}, "values": values, "model": model,
             "metrics": metrics, "repair_log": []}] + records


def _measured(gs, model, history: dict, t0: float) -> dict:
    """A front model's metrics as a trial reports them: the last fine-tuning epoch's logs (without
    fine-tuning, what a trial's last epoch would log), every cost, the epochs and the seconds since ``t0``."""
    logs = {m: float(v[-1]) for m, v in history.items() if v}
    if not logs:
        logs = _evaluate(model, gs._train, "")
        logs.update(_evaluate(model, gs._val, "val_"))
    return {**logs, **costs.evaluate(model, **gs.cost_options),
            "epochs_trained": float(len(next(iter(history.values()), []))), "train_seconds": time.perf_counter() - t0}


def _evaluate(model, data, prefix: str) -> dict:
    out = model.evaluate(data, verbose=0, return_dict=True)
    return {f"{prefix}{k}": float(v) for k, v in out.items()}


def default_objectives(gs) -> list[str]:
    """The space's validation metric (``val_accuracy`` / ``val_mae``) and the first budgeted cost."""
    return [gs.space.metric_names[-1], next(iter(gs.budgets[0]))]


def trials(gs) -> list:
    """The front's records as completed keras-tuner trials (ids ``00``, ``01``, ... in budget order)."""
    out = []
    for i, rec in enumerate(getattr(gs, "front", None) or []):
        hp = gs.space.hyperparameters()
        hp.values = dict(rec["values"])
        trial = kt.engine.trial.Trial(hp, trial_id=f"{i:02d}", status=kt.engine.trial.TrialStatus.COMPLETED)
        for name, value in rec["metrics"].items():
            trial.metrics.update(name, float(value))
        out.append(trial)
    if not out:
        raise ConfigError("no front yet: call derive_front() after fit() with budgets=[...].")
    return out


def front_dataframe(gs, objectives=None):
    """The front as :func:`kerasnac.results.trials_dataframe` shows a search's trials."""
    objs = resolve(objectives or default_objectives(gs), gs.space.metric_names)
    ts = trials(gs)
    ids, ranks, cd, viol, _ = ranking.rank(ts, [(o.name, o.direction) for o in objs], [])
    ranked = {t: (int(r), float(c), float(v)) for t, r, c, v in zip(ids, ranks, cd, viol)}
    return results.trials_dataframe(ts, objs, ranked, {}, gs.space.describe)


def plot_front(gs, objectives=None, path=None):
    """The front in :func:`kerasnac.results.plot_pareto`'s figure (the evolutionary search's plot)."""
    objs = resolve(objectives or default_objectives(gs), gs.space.metric_names)
    return results.plot_pareto(front_dataframe(gs, objectives), objs, path=path)

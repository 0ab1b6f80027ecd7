"""The local stage: training-HPO, QAT at several precisions and pruning of the best candidates."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time

import numpy as np
import pandas as pd

from .. import _pareto, _rundir, costs
from .._deprecation import renamed
from .._keras import keras
from ..errors import ConfigError, failure_reason
from ..callbacks import Candidate, kernel_sparsity
from ..results import write_csv_atomic
from .._compile import compile_like, evaluate
from ._data import LocalData
from ._hpo import TrainingSpace, fresh_copy, make_optimizer, schedule_callbacks, tune_training
from ._qat import parse_bits, requantize


@dataclasses.dataclass
class LocalSearch:
    """Settings of the local stage run on the best candidates of the global search.

    Args:
        top_k: how many global candidates to refine (Pareto rank, then crowding).
        trial_ids: explicit global trial ids instead of ``top_k``.
        hpo_trials: training-HPO trials per candidate (0 skips HPO and keeps the global weights).
        epochs: epochs of each HPO run and of the retraining (default: the global ``epochs``).
        bits: ``(total, integer)`` precisions for QAT, applied to weights, biases and activations.
        qat_epochs: fine-tuning epochs at each precision (default: ``max(1, epochs // 2)``).
        prune: a :class:`kerasnac.callbacks.Pruning` (or ``None`` for no pruning), applied to
            every QAT variant.
        training_space: the :class:`TrainingSpace` searched by the HPO.
        grace: epochs before the median stopping rule may stop an HPO run.
    """

    top_k: int = 3
    trial_ids: list | None = None
    hpo_trials: int = 8
    epochs: int | None = None
    bits: list = dataclasses.field(default_factory=lambda: [(16, 6), (8, 3), (6, 2), (4, 1)])
    qat_epochs: int | None = None
    prune: object | None = None
    training_space: TrainingSpace = dataclasses.field(default_factory=TrainingSpace)
    grace: int = 1
    seed: int = 0

    def __post_init__(self):
        if self.trial_ids is None and (not isinstance(self.top_k, int) or self.top_k < 1):
            raise ValueError(f"top_k must be an integer >= 1, got {self.top_k!r}.")
        if not isinstance(self.hpo_trials, int) or self.hpo_trials < 0:
            raise ValueError(f"hpo_trials must be an integer >= 0, got {self.hpo_trials!r}.")
        self.bits = [parse_bits(b) for b in self.bits]

    # ------------------------------------------------------------------ one candidate
    def refine(self, model, data: LocalData, *, candidate_id: str, lineage: dict, directory: str,
               monitor: str = "val_accuracy", direction: str = "max", epochs: int = 5,
               extra_metrics=None, extra_costs=(), cost_options=None, log=print):
        """Run HPO → QAT → pruning on one trained model. Returns a list of result rows.

        Resumable: every finished variant is kept in ``<directory>/<variant id>/`` (``model.keras``
        and ``row.json``, both written atomically). A rerun in the same directory loads the
        finished variants instead of training them again and runs only what is missing (an
        interrupted training-HPO reloads its keras-tuner state and continues).

        ``cost_options`` go to :func:`kerasnac.costs.evaluate` for each variant's costs (a search
        passes its own, so the final table's ``lut``/``ff``/``dsp`` describe the same firmware as
        its trials').
        """
        epochs = self.epochs or epochs
        qat_epochs = self.qat_epochs or max(1, epochs // 2)
        rows: list[dict] = []
        ctx = dict(data=data, directory=directory, extra_metrics=extra_metrics, extra_costs=extra_costs,
                   cost_options=cost_options)

        def record(stage, m, cid, **lin):
            rows.append(_row(m, cid, {**lineage, "stage": stage, **lin}, **ctx))

        def finished(cid):
            row = load_row(directory, cid)
            if row is not None:
                rows.append(row)
            return row

        if finished(f"{candidate_id}_global") is None:
            record("global", model, f"{candidate_id}_global")
        base = model
        if self.hpo_trials > 0:
            hid = f"{candidate_id}_hpo"
            done = load_row(directory, hid)
            try:
                if done is not None:
                    base = _load_variant(done)
                    rows.append(done)
                else:
                    base, best = self._hpo(model, data, hid, directory, epochs, monitor, direction, log)
                    record("hpo", base, hid, training=_fmt(best))
            except Exception as e:  # keep going with the global weights
                rows.append(_error_row(hid, {**lineage, "stage": "hpo"}, e))
                base = model
        for total, integer in self.bits:
            qid = f"{candidate_id}_q{total}-{integer}"
            bits = f"{total},{integer}"
            try:
                done = finished(qid)
                if done is None:
                    q = requantize(base, (total, integer))
                    compile_like(q, model, keras.optimizers.Adam(1e-3))
                    q.fit(data.train(), validation_data=data.val(), epochs=qat_epochs, verbose=0,
                          callbacks=[keras.callbacks.TerminateOnNaN()])
                    record("qat", q, qid, bits=bits)
                else:
                    q = None  # loaded only if a pruning step is still missing
            except Exception as e:
                rows.append(_error_row(qid, {**lineage, "stage": "qat", "bits": bits}, e))
                continue
            if self.prune is None:
                continue
            try:
                n_steps = len(self.prune.settings.sparsities()) if hasattr(self.prune, "settings") else None
                start, current = 0, None
                if n_steps is not None:  # the pruning steps are a chain: resume after the last finished one
                    while start < n_steps and finished(f"{qid}_p{start + 1}") is not None:
                        start += 1
                    if start == n_steps:
                        continue
                    if start:
                        current = _load_variant(rows[-1])
                q = q if q is not None else _load_variant(done)
                variants = (self.prune.variants(q, data, start=start, current=current) if start
                            else self.prune.variants(q, data))
                for k, (target, pruned) in enumerate(variants, start=start + 1):
                    record("pruned", pruned, f"{qid}_p{k}", bits=bits, target_sparsity=round(target, 4))
            except Exception as e:
                rows.append(_error_row(f"{qid}_p", {**lineage, "stage": "pruned", "bits": bits}, e))
        return rows

    def _hpo(self, model, data, hid, directory, epochs, monitor, direction, log):
        """Training-HPO (keras-tuner state in ``<directory>/<hid>``, resumed if present) and the
        retraining of a fresh copy with the best settings."""
        t0 = time.perf_counter()
        best, _ = tune_training(lambda: fresh_copy(model), lambda m, opt: compile_like(m, model, opt), data,
                                epochs=epochs, trials=self.hpo_trials, monitor=monitor, direction=direction,
                                directory=os.path.join(directory, hid), seed=self.seed,
                                space=self.training_space, grace=self.grace)
        keras.utils.set_random_seed(self.seed)
        base = fresh_copy(model)
        steps = int(np.ceil(len(data.x) / best["batch_size"]))
        compile_like(base, model, make_optimizer(best, steps, epochs))
        base.fit(data.train(best["batch_size"]), validation_data=data.val(), epochs=epochs, verbose=0,
                 callbacks=schedule_callbacks(best))
        log(f"  {hid}: HPO of {self.hpo_trials} runs + retraining took {time.perf_counter() - t0:.0f} s; "
            f"best settings {best}")
        return base, best


#: the record of a finished variant, next to its model.keras
ROW_FILE = "row.json"


def load_row(directory: str, cid: str) -> dict | None:
    """The row of a finished variant kept in ``<directory>/<cid>/row.json`` (None if absent or unreadable)."""
    path = os.path.join(directory, cid, ROW_FILE)
    try:
        with open(path) as f:
            row = json.load(f)
    except (OSError, ValueError):
        return None
    if row.get("status") != "COMPLETED" or not os.path.isfile(row.get("model_path", "")):
        return None
    return row


def _load_variant(row):
    from ..callbacks.export import load_model

    return load_model(row["model_path"])


def _plain(v):
    if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else str(v)
    return v if v is None or isinstance(v, (bool, int, float, str)) else str(v)


def _fmt(settings: dict) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in settings.items())


def _error_row(cid, lineage, exc) -> dict:
    return {"candidate_id": cid, **lineage, "status": "FAILED", "error": failure_reason(exc)}


def _row(model, cid, lineage, *, data, directory, extra_metrics, extra_costs=(), cost_options=None) -> dict:
    """Evaluate, cost (with ``cost_options``, see :func:`kerasnac.costs.evaluate`) and save one variant
    as a result row."""
    row = {"candidate_id": cid, **lineage, "status": "COMPLETED"}
    row.update(evaluate(model, data.val()))
    row.update(costs.evaluate(model, extra=extra_costs, **(cost_options or {})))
    row["sparsity"] = kernel_sparsity(model)
    for name, fn in (extra_metrics or {}).items():
        try:
            row[name] = float(fn(model, (data.x_val, data.y_val)))
        except Exception as e:
            row[f"{name}_error"] = str(e)[:200]
    out_dir = os.path.join(directory, cid)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.keras")
    _rundir.atomic_write(path, model.save)  # the temporary name keeps the .keras suffix (the format)
    row["model_path"] = os.path.abspath(path)
    row = {k: _plain(v) for k, v in row.items()}
    text = json.dumps(row, indent=1)
    _rundir.atomic_write_text(os.path.join(out_dir, ROW_FILE), text)  # last: marks it finished
    return row


def apply_callbacks(rows: list[dict], callbacks, data: LocalData, task: str, only_front: bool = True, log=print):
    """Hand the final models (the front, or all) to the callbacks; merge what they return into the rows.

    A callback that raises for one model puts ``<name>_error`` in that row and the others go on.
    """
    from ..callbacks.export import load_model

    for row in rows:
        if row.get("status") != "COMPLETED" or (only_front and not row.get("on_front")):
            continue
        try:
            model = load_model(row["model_path"])
        except Exception as e:
            row["load_error"] = str(e)[:300]
            continue
        lineage = {k: row.get(k) for k in ("trial_id", "stage", "bits", "sparsity", "target_sparsity") if k in row}
        cand = Candidate(model=model, candidate_id=row["candidate_id"], lineage=lineage, task=task,
                         validation_data=(data.x_val, data.y_val), output_dir=os.path.dirname(row["model_path"]),
                         metrics=dict(row), train_data=(data.x, data.y))
        for cb in callbacks:
            try:
                row.update(cb.on_candidate(cand) or {})
            except Exception as e:
                msg = failure_reason(e)
                row[f"{cb.name}_error"] = msg
                row["callback_failed"] = ", ".join(filter(None, [row.get("callback_failed"), cb.name]))
                log(f"  {row['candidate_id']}: callback {cb.name} failed: {msg[:200]}")
    return rows


def final_table(rows: list[dict], objectives, constraints=()) -> pd.DataFrame:
    """All variants with their Pareto rank over ``objectives`` (list of (name, direction)).

    ``constraints`` (:class:`kerasnac.Constraint`) use constraint-domination as in the global
    search: a model that violates one is never on the front, nor one that lacks a constraint's
    metric (:func:`kerasnac._pareto.constraint_violation`).
    """
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df = df.drop(columns=[c for c in ("on_front", "pareto_rank", "violation") if c in df])
    df["on_front"] = False
    df["pareto_rank"] = pd.NA
    names = [n for n, _ in objectives if n in df]
    if len(names) != len(objectives):
        return df
    ok = (df["status"] == "COMPLETED") & df[names].notna().all(axis=1)
    if ok.any():
        F = _pareto.to_minimization(df.loc[ok, names].to_numpy(float), [d for _, d in objectives])
        # one rule with the global search: a missing or non-finite constraint metric is an infinite violation
        cols = list(dict.fromkeys(c.metric for c in constraints if c.metric in df))
        records = df.loc[ok, cols].to_dict("records")
        viol = np.array([_pareto.constraint_violation(constraints, r) for r in records], dtype=float)
        ranks = _pareto.nondominated_sort(F, viol if len(constraints) else None)
        df.loc[ok, "pareto_rank"] = ranks
        df.loc[ok, "violation"] = viol
        df.loc[ok, "on_front"] = (ranks == 0) & (viol == 0)
    return df


#: what a local stage's finished variants were made from, next to them
LOCAL_FINGERPRINT = "local_search.json"


def _settings(obj):
    """A JSON-safe, address-free description of settings objects (dataclasses, plain objects, containers)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _settings(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _settings(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_settings(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if hasattr(obj, "__dict__"):
        return {"type": type(obj).__name__, **{k: _settings(v) for k, v in vars(obj).items() if not k.startswith("_")}}
    return str(obj)


def _check_resume(directory: str, candidate_id: str, new: dict) -> None:
    """Refuse to resume finished variants made from another model, other data or other settings; then
    record what this run is made from (``<directory>/<candidate_id>.local_search.json``)."""
    path = os.path.join(directory, f"{candidate_id}.{LOCAL_FINGERPRINT}")
    new = json.loads(json.dumps(new, default=str))
    finished = [n for n in os.listdir(directory)
                if n.startswith(f"{candidate_id}_") and load_row(directory, n) is not None]
    try:
        with open(path) as f:
            old = json.load(f)
    except (OSError, ValueError):
        old = None
    if finished and old != new:
        what = ("; ".join(_rundir.fingerprint_changes(old, new)) if old is not None
                else "no record of what they were made from")
        raise ConfigError(
            f"{directory} holds {len(finished)} finished local-stage variants of {candidate_id!r} ({what}); resuming "
            "would mix them with new ones. Rerun with the same model, data and settings, or give another "
            "directory= (or candidate_id=).")
    _rundir.atomic_write_text(path, json.dumps(new, indent=1, sort_keys=True))


def local_search(model, data, *, local: LocalSearch | None = None, objectives=(("val_accuracy", "max"), ("bops", "min")),
                 directory: str = "local_runs", candidate_id: str = "model", epochs: int = 5, post_search=(),
                 post_search_on: str = "front", batch_size: int = 256, log=print, callbacks=None,
                 callbacks_on=None) -> pd.DataFrame:
    """Run the local stage on one trained, compiled model.

    Args:
        model: a trained, compiled tf_keras QKeras model.
        data: ``(x, y, x_val, y_val)`` numpy arrays.
        local: :class:`LocalSearch` settings.
        objectives: ``(name, direction)`` pairs for the final front; the first metric-type one
            (``val_*``) is what the HPO optimises.
        post_search, post_search_on: post-search callbacks, run on the final front (``"front"``)
            or on every variant (``"all"``); ``callbacks``/``callbacks_on`` are their names before
            0.2 (deprecated).

    Returns:
        the table of all variants (``global``, ``hpo``, ``qat``, ``pruned``) with ``on_front``.
    """
    callbacks = renamed("local_search", "callbacks", callbacks, "post_search", post_search)
    callbacks_on = renamed("local_search", "callbacks_on", callbacks_on, "post_search_on", post_search_on)
    local = local or LocalSearch()
    data = data if isinstance(data, LocalData) else LocalData(*data, seed=local.seed, batch_size=batch_size)
    monitor, direction = next(((n, d) for n, d in objectives if n.startswith("val_")), ("val_loss", "min"))
    os.makedirs(directory, exist_ok=True)
    _check_resume(directory, candidate_id, {
        "model": _rundir.data_digest(*model.get_weights()) + ":" + _rundir.data_digest(np.frombuffer(
            model.to_json().encode(), np.uint8)),
        "training data": _rundir.data_digest(data.x, data.y),
        "validation data": _rundir.data_digest(data.x_val, data.y_val),
        "local": _settings(local), "epochs": epochs, "batch_size": batch_size,
        "objectives": [list(o) for o in objectives]})
    rows = local.refine(model, data, candidate_id=candidate_id, lineage={"source": "model"}, directory=directory,
                        monitor=monitor, direction=direction, epochs=epochs, log=log,
                        extra_costs=[n for n, _ in objectives if costs.is_cost(n)])
    df = final_table(rows, list(objectives))
    if callbacks:
        task = "classification" if "crossentropy" in str(model.loss) else "regression"
        df = pd.DataFrame(apply_callbacks(df.to_dict("records"), callbacks, data, task, callbacks_on == "front", log))
    write_csv_atomic(df, os.path.join(directory, "final.csv"))
    return df

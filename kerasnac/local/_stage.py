"""The local stage: training-HPO, QAT at several precisions and pruning of the best candidates."""

from __future__ import annotations

import dataclasses
import os
import time
import traceback

import numpy as np
import pandas as pd

from .. import _pareto, costs
from .._keras import keras
from ..callbacks._base import Candidate
from ..results import write_csv_atomic
from ._compile import compile_like, evaluate
from ._data import LocalData
from ._hpo import TrainingSpace, fresh_copy, make_optimizer, schedule_callbacks, tune_training
from ._prune import kernel_sparsity
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
               extra_metrics=None, log=print):
        """Run HPO → QAT → pruning on one trained model. Returns a list of result rows."""
        epochs = self.epochs or epochs
        qat_epochs = self.qat_epochs or max(1, epochs // 2)
        rows: list[dict] = []
        ctx = dict(data=data, directory=directory, extra_metrics=extra_metrics)

        def record(stage, m, cid, **lin):
            rows.append(_row(m, cid, {**lineage, "stage": stage, **lin}, **ctx))

        record("global", model, f"{candidate_id}_global")
        base = model
        if self.hpo_trials > 0:
            try:
                t0 = time.perf_counter()
                best, _ = tune_training(lambda: fresh_copy(model), lambda m, opt: compile_like(m, model, opt), data,
                                        epochs=epochs, trials=self.hpo_trials, monitor=monitor, direction=direction,
                                        directory=os.path.join(directory, f"{candidate_id}_hpo"), seed=self.seed,
                                        space=self.training_space, grace=self.grace)
                keras.utils.set_random_seed(self.seed)
                base = fresh_copy(model)
                steps = int(np.ceil(len(data.x) / best["batch_size"]))
                compile_like(base, model, make_optimizer(best, steps, epochs))
                base.fit(data.train(best["batch_size"]), validation_data=data.val(), epochs=epochs, verbose=0,
                         callbacks=schedule_callbacks(best))
                log(f"  {candidate_id}: HPO of {self.hpo_trials} runs + retraining took {time.perf_counter() - t0:.0f} s; "
                    f"best settings {best}")
                record("hpo", base, f"{candidate_id}_hpo", training=_fmt(best))
            except Exception as e:  # keep going with the global weights
                rows.append(_error_row(f"{candidate_id}_hpo", {**lineage, "stage": "hpo"}, e))
                base = model
        for total, integer in self.bits:
            qid = f"{candidate_id}_q{total}-{integer}"
            try:
                q = requantize(base, (total, integer))
                compile_like(q, model, keras.optimizers.Adam(1e-3))
                q.fit(data.train(), validation_data=data.val(), epochs=qat_epochs, verbose=0,
                      callbacks=[keras.callbacks.TerminateOnNaN()])
                record("qat", q, qid, bits=f"{total},{integer}")
            except Exception as e:
                rows.append(_error_row(qid, {**lineage, "stage": "qat", "bits": f"{total},{integer}"}, e))
                continue
            if self.prune is None:
                continue
            try:
                for k, (target, pruned) in enumerate(self.prune.variants(q, data), start=1):
                    record("pruned", pruned, f"{qid}_p{k}", bits=f"{total},{integer}", target_sparsity=round(target, 4))
            except Exception as e:
                rows.append(_error_row(f"{qid}_p", {**lineage, "stage": "pruned", "bits": f"{total},{integer}"}, e))
        return rows


def _fmt(settings: dict) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in settings.items())


def _error_row(cid, lineage, exc) -> dict:
    msg = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[-1]
    return {"candidate_id": cid, **lineage, "status": "FAILED", "error": msg[:300]}


def _row(model, cid, lineage, *, data, directory, extra_metrics) -> dict:
    """Evaluate, cost and save one variant as a result row."""
    row = {"candidate_id": cid, **lineage, "status": "COMPLETED"}
    row.update(evaluate(model, data.val()))
    row.update(costs.evaluate(model))
    row["sparsity"] = kernel_sparsity(model)
    for name, fn in (extra_metrics or {}).items():
        try:
            row[name] = float(fn(model, (data.x_val, data.y_val)))
        except Exception as e:
            row[f"{name}_error"] = str(e)[:200]
    out_dir = os.path.join(directory, cid)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.keras")
    model.save(path)
    row["model_path"] = os.path.abspath(path)
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
                msg = "".join(traceback.format_exception_only(type(e), e)).strip().splitlines()[-1]
                row[f"{cb.name}_error"] = msg[:300]
                row["callback_failed"] = ", ".join(filter(None, [row.get("callback_failed"), cb.name]))
                log(f"  {row['candidate_id']}: callback {cb.name} failed: {msg[:200]}")
    return rows


def final_table(rows: list[dict], objectives, constraints=()) -> pd.DataFrame:
    """All variants with their Pareto rank over ``objectives`` (list of (name, direction)).

    ``constraints`` (:class:`kerasnac.Constraint`) use constraint-domination as in the global
    search: a model that violates one is never on the front.
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
        viol = np.zeros(int(ok.sum()))
        for c in constraints:
            vals = df.loc[ok, c.metric].to_numpy(float) if c.metric in df else np.full(len(viol), np.nan)
            viol += np.array([c.violation(v) if np.isfinite(v) else np.inf for v in vals])
        ranks = _pareto.nondominated_sort(F, viol if len(constraints) else None)
        df.loc[ok, "pareto_rank"] = ranks
        df.loc[ok, "violation"] = viol
        df.loc[ok, "on_front"] = (ranks == 0) & (viol == 0)
    return df


def local_search(model, data, *, local: LocalSearch | None = None, objectives=(("val_accuracy", "max"), ("bops", "min")),
                 directory: str = "local_runs", candidate_id: str = "model", epochs: int = 5, callbacks=(),
                 callbacks_on: str = "front", batch_size: int = 256, log=print) -> pd.DataFrame:
    """Run the local stage on one trained, compiled model.

    Args:
        model: a trained, compiled tf_keras QKeras model.
        data: ``(x, y, x_val, y_val)`` numpy arrays.
        local: :class:`LocalSearch` settings.
        objectives: ``(name, direction)`` pairs for the final front; the first metric-type one
            (``val_*``) is what the HPO optimises.
        callbacks, callbacks_on: post-search callbacks, run on the final front (``"front"``) or
            on every variant (``"all"``).

    Returns:
        the table of all variants (``global``, ``hpo``, ``qat``, ``pruned``) with ``on_front``.
    """
    local = local or LocalSearch()
    data = data if isinstance(data, LocalData) else LocalData(*data, seed=local.seed, batch_size=batch_size)
    monitor, direction = next(((n, d) for n, d in objectives if n.startswith("val_")), ("val_loss", "min"))
    os.makedirs(directory, exist_ok=True)
    rows = local.refine(model, data, candidate_id=candidate_id, lineage={"source": "model"}, directory=directory,
                        monitor=monitor, direction=direction, epochs=epochs, log=log)
    df = final_table(rows, list(objectives))
    if callbacks:
        task = "classification" if "crossentropy" in str(model.loss) else "regression"
        df = pd.DataFrame(apply_callbacks(df.to_dict("records"), callbacks, data, task, callbacks_on == "front", log))
    write_csv_atomic(df, os.path.join(directory, "final.csv"))
    return df

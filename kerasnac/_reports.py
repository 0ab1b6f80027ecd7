"""The result views of a search (keras-tuner's names): trials table, Pareto front, best models and
hyperparameters, summaries and plots; :class:`kerasnac.KerasNAC` inherits them.

They read only the oracle's trials, the tuner's stored models and the final stage's rows, so a
view never changes the search.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import results


class SearchResults:
    """Views of ``self.oracle`` (trials), ``self.tuner`` (stored models) and ``self._final_rows``
    (the final stage) for a class that has them, ``self.objectives``, ``self.constraints`` and ``self.space``."""

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
        """The ``n`` best trials in Pareto order (rank, then crowding; no summed score)."""
        return self.oracle.get_best_trials(n)

    def get_best_models(self, num_models: int = 1):
        """Compiled tf_keras QKeras models of the ``num_models`` best trials in Pareto order, with their
        weights (keras-tuner's ``Tuner.get_best_models``)."""
        return [self.tuner.load_model(t) for t in self.best_trials(num_models)]

    def get_best_hyperparameters(self, num_trials: int = 1):
        """``kt.HyperParameters`` of the ``num_trials`` best trials in Pareto order; build a model from one
        with ``space.build(hp)`` (keras-tuner's ``Tuner.get_best_hyperparameters``)."""
        return [t.hyperparameters for t in self.best_trials(num_trials)]

    def best_models(self, n: int = 1):
        """The same as :meth:`get_best_models`."""
        return self.get_best_models(n)

    def results_summary(self, num_trials: int = 10, print_fn=print) -> str:
        """keras-tuner's ``results_summary``, as a Pareto view: the trials of the front (at most
        ``num_trials``) with every objective, the constraints and the failures; no summed score."""
        return self.summary(print_fn=print_fn, num_trials=num_trials)

    def search_space_summary(self, print_fn=print) -> str:
        """The searched hyperparameters with their choices, the objectives and the constraints."""
        hps = self.space.hyperparameters().space
        lines = [f"Search space: {len(hps)} hyperparameters",
                 "objectives: " + ", ".join(f"{o.name} ({o.direction})" for o in self.objectives)]
        if self.constraints:
            lines.append("constraints: " + ", ".join(str(c) for c in self.constraints))
        for hp in hps:
            cfg = hp.get_config()
            shown = cfg.get("values") or {k: cfg[k] for k in ("min_value", "max_value", "step") if k in cfg}
            lines.append(f"  {hp.name} ({type(hp).__name__}): {shown}")
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text

    def summary(self, print_fn=print, num_trials: int | None = None) -> str:
        """A short readable report of the search: the Pareto front (at most ``num_trials`` rows)."""
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
            shown = front if num_trials is None else front.head(num_trials)
            lines.append(f"Pareto front ({len(front)} trials" + (f", {len(shown)} shown" if len(shown) < len(front)
                                                                else "") + "):")
            lines.append(shown[cols + extra].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        failed = df[df["status"] != "COMPLETED"] if not df.empty else df
        if not failed.empty:
            common = failed["reason"].map(results.normalize_reason).value_counts()
            lines.append(f"failures: {len(failed)}; most common: {common.index[0]!r}" if len(common) else "")
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text

"""What a gradient search gives: expected and exact costs, the derived model(s), the budget repair,
the summary and the plots (a base class of :class:`~kerasnac.gradient.GradientSearch`)."""

from __future__ import annotations

import pandas as pd

from .. import costs
from ..errors import ConfigError
from . import _front


class GradientResults:
    """Results of a fitted :class:`~kerasnac.gradient.GradientSearch` (its ``supernet``, ``choices``,
    ``bank``, ``budgets`` and ``controller``)."""

    def expected_costs(self, probs: str = "soft") -> dict:
        """Expected cost(s) under ``softmax(logits / T)`` (``"soft"``) or the argmax (``"argmax"``)."""
        self._plan()
        tau = float(self.tau.numpy()) if hasattr(self, "tau") else self.temperature[0]
        E = self.supernet.expected_cost(self.choices.probs(probs, tau)).numpy()
        return {k: float(v) for k, v in zip(self.metric_names, E)}

    def architecture(self) -> dict:
        """The derived architecture as hyperparameter values of the space (as a KerasNAC trial's)."""
        return self.supernet.hp_values(self.choices.argmax_values())

    def history_dataframe(self) -> pd.DataFrame:
        """Per epoch: losses, expected cost(s), the argmax architecture's budgeted cost(s), λ, temperature and every
        architecture probability (a front: one set per budget, suffixed ``@k``). ``lambda_<cost>`` is the
        controller's multiplier: with the default band steering the gain μ ≥ 0 of the push toward the
        band; with ``budget_steering="linear"`` the signed λ of the ``λ E[C] / B`` term."""
        return pd.DataFrame(self.history)

    def _misses_budget(self, values) -> bool:
        return not self._fits(self._budget_error(self.supernet.expected_cost(self.choices.onehot(values)).numpy()))

    def _budget_error(self, costs_vec):
        nb = len(self.budget)
        return [float(c / b - 1.0) for c, b in zip(costs_vec[-nb:], self.budget.values())]

    def repair(self, values: dict, tolerance: float | None = None, max_steps: int = 30) -> dict:
        """Move the argmax architecture onto the budget(s) with exact one-hot costs.

        While a budgeted cost misses its budget by more than ``tolerance`` (over it, or in
        ``"target"`` mode under it), change the one choice whose change reduces the miss, preferring the
        alternative with the highest logit (the most probable one). Over-budget misses weigh 10x.
        Returns the repaired ``{choice: value}``; the steps are kept in ``repair_log``.
        """
        cs, sn = self.choices, self.supernet
        tolerance = self.budget_tolerance if tolerance is None else float(tolerance)

        def miss(vals):
            err = self._budget_error(sn.expected_cost(cs.onehot(vals)).numpy())
            under = self.controller.mode == "target"
            return sum(10 * max(e - tolerance, 0) + (max(-e - tolerance, 0) if under else 0) for e in err)

        values, self.repair_log = dict(values), []
        current = miss(values)
        for _ in range(max_steps):
            if current <= 0:
                break
            best = None
            for name, c in cs.choices.items():
                logits = c.logits.numpy()
                for j, v in enumerate(c.values):
                    if v == values[name]:
                        continue
                    m = miss({**values, name: v})
                    if m < current - 1e-9 and (best is None or logits[j] > best[0]):
                        best = (logits[j], name, v, m)
            if best is None:
                break
            _, name, v, current = best
            self.repair_log.append((name, values[name], v))
            values[name] = v
        return values

    def searched_values(self) -> tuple[dict, str]:
        """``({choice: value}, source)`` that the search hands over for the selected budget, before any
        repair: the final argmax, or, when that misses the budget, the search's last architecture within
        the tolerance (``source`` says which)."""
        raw = dict(self.choices.argmax_values())
        landed = getattr(self, "landed", None)
        landed = landed[getattr(self, "selected", 0)] if landed else None
        if landed is not None and self._misses_budget(raw):
            # the argmax at the end of the search misses the budget: take the search's last architecture that met it
            return dict(landed), "last architecture within tolerance"
        return raw, "argmax"

    def derive(self, finetune_epochs: int | None = None, verbose: int = 0, repair: bool = True,
               budget: int | None = None):
        """Build the argmax architecture with ``space.assemble``, copy the supernet's weights into it and
        fine-tune it on the training split. Returns the compiled QKeras model; ``summary()`` reports the
        discretization gap.

        In budget mode with ``repair=True``, an argmax architecture that misses a budget by more than
        ``budget_tolerance`` (10%) is first moved onto it with :meth:`repair` (exact costs, most probable
        alternatives first). ``budget=k`` derives the model of the k-th budget of a front (default: the
        selected one, see :meth:`select`; :meth:`derive_front` derives them all)."""
        if budget is not None:
            self.select(budget)
        if getattr(self, "front_expected", None):
            self.search_expected = self.front_expected[getattr(self, "selected", 0)]
        raw, self.derived_from = self.searched_values()
        self.argmax_costs = {k: float(v) for k, v in zip(self.metric_names, self.supernet.expected_cost(
            self.choices.onehot(raw)).numpy())} if self._planned else {}
        self.repair_log = []
        if self.budget and repair:
            raw = self.repair(raw)
        self.values, model, self.finetune_history = self.build_finetuned(raw, finetune_epochs, verbose)
        self.model = model
        self.derived_costs = self.model_costs(model)
        return model

    def build_finetuned(self, raw: dict, finetune_epochs: int | None = None, verbose: int = 0):
        """``(hyperparameter values, model, fine-tuning history)`` of the one-hot choices ``raw``: the
        model assembled with ``space.assemble``, the supernet's weights copied in, then fine-tuned on the
        training split (``finetune_epochs``; ``None``: the search's own)."""
        values = self.supernet.hp_values(raw)
        model = self.space.model_from_values(values)
        self.supernet.export(model, raw)
        epochs = self.finetune_epochs if finetune_epochs is None else finetune_epochs
        if epochs is None and hasattr(self, "_train"):
            epochs = _front.finetune_epochs_for(self._train)
        history = {}
        if epochs and hasattr(self, "_train"):
            history = model.fit(self._train, validation_data=self._val, epochs=epochs, verbose=verbose).history
        return values, model, history

    def derive_front(self, finetune_epochs: int | None = None, repair: bool = True, verbose: int = 0,
                     cheapest: bool = True) -> list:
        """One derived, fine-tuned model per budget of a front (``budgets=``), cheapest budget first,
        after the space's cheapest architecture (``cheapest=False`` leaves it out); see
        :func:`kerasnac.gradient._front.derive_front`; ``repair=False`` keeps each budget's argmax."""
        return _front.derive_front(self, finetune_epochs=finetune_epochs, repair=repair, verbose=verbose,
                                   cheapest=cheapest)

    def front_dataframe(self, objectives=None) -> pd.DataFrame:
        """The derived front as the evolutionary search's ``trials_dataframe()`` (same columns), one row
        per front model (the space's cheapest architecture, then one per budget), plus ``budget``, the
        argmax cost before any repair and its error."""
        return _front.front_dataframe(self, objectives)

    def plot_front(self, objectives=None, path: str | None = None):
        """The front in the evolutionary search's ``plot_pareto`` figure."""
        return _front.plot_front(self, objectives, path)

    def model_costs(self, model) -> dict:
        """The search's cost metric(s) of a built model, from the cost model on the whole model (the
        layer table: analytical, as the supernet's costs, whatever ``cost_options["estimator"]``)."""
        table = costs.layer_table(model, **costs.table_options(self.cost_options))
        return {k: float(fn(table)) for k, fn in self.metrics.items()}

    def summary(self) -> pd.DataFrame:
        """Per metric: the expected cost at the end of the search, the cost of the argmax architecture
        (exact, = ``costs`` on the model ``space.assemble`` builds), their gap (the discretization gap),
        the cost of the architecture the search delivered before any repair (``searched_model``: the final
        argmax, or the last one within tolerance, see ``derived_from``) and its distance to the budget,
        and the derived model's cost (after a budget repair, if any) and its distance to the budget."""
        if self.model is None:
            raise ConfigError("call derive() first.")
        rows = []
        argmax = self.expected_costs("argmax")
        for k in self.metric_names:
            e, a, d = self.search_expected[k], argmax[k], self.derived_costs[k]
            b = self.budget.get(k.split(":", 1)[1]) if k != "cost" else None
            srch = self.argmax_costs.get(k, a)
            rows.append({"metric": self.cost_name if k == "cost" else k.split(":", 1)[1], "expected_end_of_search": e,
                         "argmax_model": a, "gap_percent": 100.0 * (a - e) / max(abs(a), 1e-12),
                         "searched_model": srch, "derived_from": self.derived_from,
                         "searched_vs_budget_percent": None if b is None else 100.0 * (srch / b - 1.0),
                         "derived_model": d, "budget": b,
                         "vs_budget_percent": None if b is None else 100.0 * (d / b - 1.0)})
        return pd.DataFrame(rows)

    def plot(self, max_choices: int = 11):
        """Expected cost, λ and the architecture probabilities per epoch (a matplotlib Figure)."""
        import matplotlib.pyplot as plt

        df = self.history_dataframe()
        at = f"@{getattr(self, 'selected', 0)}" if len(self.budgets) > 1 else ""  # a front: the selected budget
        df = df.rename(columns={c: c[: -len(at)] for c in df.columns if at and c.endswith(at)})
        df = df[[c for c in df.columns if "@" not in c]]
        shown = [n for n in self.choices.choices][:max_choices]
        ncols = 3
        nrows = 1 + (len(shown) + ncols - 1) // ncols if shown else 1
        fig = plt.figure(figsize=(4 * ncols, 2.6 * nrows))
        ax = fig.add_subplot(nrows, 1, 1)
        for col in [c for c in df.columns if c.startswith("expected")]:
            ax.plot(df["epoch"], df[col], label=col)
            key = col[len("expected_"):]
            if key in self.budget:
                ax.axhline(self.budget[key], ls="--", color="grey", label=f"budget {key}")
        ax.set_ylabel("expected cost")
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7, loc="upper right")
        lam_cols = [c for c in df.columns if c.startswith("lambda_")]
        if lam_cols:
            ax2 = ax.twinx()
            for c in lam_cols:
                ax2.plot(df["epoch"], df[c], ls=":", label=c)
            ax2.set_yscale("log")
            ax2.set_ylabel("λ")
        for i, name in enumerate(shown):
            a = fig.add_subplot(nrows, ncols, ncols + i + 1)
            for v in self.choices.choices[name].values:
                a.plot(df["epoch"], df[f"p[{name}={v}]"], label=str(v))
            a.set_title(name, fontsize=8)
            a.set_ylim(0, 1)
            a.legend(fontsize=6)
        fig.tight_layout()
        return fig

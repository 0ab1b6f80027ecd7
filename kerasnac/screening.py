"""Surrogate-assisted offspring selection for the :class:`~kerasnac.ParetoOracle`.

In codesign the hardware objectives (BOPs, LUT, DSP, latency, ...) are *exact before training*:
they follow from the architecture alone. Only the task metric needs a training run. Plain NSGA-II
(and Optuna's) spends a full training run on every child it breeds, whether or not the child can
reach the front. :class:`Screening` breeds several children per proposal instead and trains the one
that promises the largest gain:

1. breed ``candidates`` distinct, untried children with the oracle's usual tournament, crossover
   and mutation;
2. predict every objective of every child with ensembles of randomized trees (scikit-learn
   ``ExtraTreesRegressor``) fitted on the completed trials' hyperparameter encodings, and score
   each child by the hypervolume its optimistic prediction ``mean - kappa * std`` would add to
   the current front (lower-confidence bound; cost-like objectives on a log scale; more than two
   objectives use a domination count instead). The hypervolume's reference is the worst
   completed trial (scaled by 1.1); ``quality=q`` moves it, on the trained metric, to the ``q``
   quantile of the trials, so that a cheap child worse than that adds nothing;
3. for the ``exact`` best-scored children, compute the costs exactly (``cost_fn``: build the
   model, run ``kerasnac.costs``; cached by hyperparameter values). Building a model is the
   expensive step (about 0.15 s for a jets MLP, 0.3 s for BraggNN on this project's CI
   machine), which is why only a few children get it. Their metric is re-predicted with the log
   of the exact costs as extra features (bigger models tend to be more accurate), children that
   break a constraint on a cost are dropped, and the best is trained.

``smooth=w`` (off by default) also makes the *parents* noise-aware. On short training budgets a
trial's metric is its architecture's quality plus the luck of its seed, and NSGA-II breeds from the
best-looking trials, so from the luckiest. With ``smooth`` the parent pool is ranked on each trained
metric shrunk toward the trees' out-of-bag prediction of it (the prediction from trees that did not
see that trial): ``(1 - w) * recorded + w * predicted``. Exact costs are not touched, and the front,
the results and the screening's own scores keep the recorded values. It needs the oracle's exact
costs (``KerasNAC`` always gives them) to tell the trained objectives from the computed ones.

How optimistic the choice is depends on how far a trial's metric follows from its architecture
rather than from the luck of its seed, which the length of a trial's training decides. Left unset,
``kappa`` and ``exact`` are chosen from a trial's training budget, its training samples × epochs,
which :class:`kerasnac.KerasNAC` knows when the search starts: below ``long_trials`` (12,000)
``kappa=1, exact=2``, from it ``kappa=0, exact=4`` (the mean prediction, and more children with
exact costs). In ``docs/benchmarks.md`` the second setting won on the two tasks with long trials (the
jets MLP with 18,000 jets × 9 epochs, Deep Sets with 3,000 jets × 8 epochs), was level on the jets MLP
with 1,800 × 2 and lost on Deep Sets with 3,000 × 2 and Bragg peaks with 1,800 × 3, where a trial's
metric is mostly its seed's luck. Values given explicitly are kept. With multi-fidelity trials the
budget is that of a full trial (``epochs``). Without a budget (a :class:`~kerasnac.ParetoOracle` or
:class:`~kerasnac.ParetoSearch` used on its own, or a ``tf.data`` input of unknown length) the
short-trial values are used.

Until ``min_trials`` trials are ranked (default: the population size) the first child is taken, so
the search starts exactly like plain NSGA-II. Selection is deterministic given the seed and the
completed trials, so it resumes and replays like the rest of the oracle.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass

import numpy as np

from kerasnac import _pareto

logger = logging.getLogger(__name__)


@dataclass
class Screening:
    """Options of the surrogate-assisted offspring selection (see the module docstring).

    Args:
        candidates: children bred per proposal (1 switches screening off).
        exact: children (of the best-scored) whose costs are computed exactly before the choice;
            ``None`` (default): 2 for short trials, 4 from ``long_trials`` (see the module docstring).
        kappa: optimism of the lower-confidence bound, in units of the trees' spread; ``None``
            (default): 1 for short trials, 0 from ``long_trials``.
        long_trials: the training budget of a trial (training samples × epochs) from which ``kappa``
            and ``exact`` left unset take their long-trial values (:meth:`for_budget`).
        min_trials: ranked trials needed before the surrogate is used (``None``: the population size).
        n_estimators: trees in the surrogate.
        quality: ``None`` (default): the hypervolume's reference is the worst trial, scaled by 1.1.
            A quantile ``q``: on the trained metric the reference is the ``q`` quantile of the
            completed trials (0.5: only children predicted better than the median trial add area,
            for searches where only the better half of the quality range matters). Objectives the
            oracle computes exactly (the costs) keep the worst trial. Two objectives only: with
            more, the screening counts dominations and ``quality`` has no effect. Measured in
            ``docs/benchmarks.md`` (section 0, 10 seeds): 0.5 gave a 12% higher median HV on short
            Bragg runs and 2–7% lower ones on the jets tasks, all within the seed noise.
        smooth: weight ``w`` in [0, 1) of the surrogate's out-of-bag prediction in the metric the
            parent pool is ranked on (0: the recorded metric, NSGA-II's rule; see the module docstring).
        trust_r2: ``None`` (default): ``kappa`` and ``exact`` as given or chosen (:meth:`for_budget`). A number ``r``: before each
            choice, the trees' out-of-bag R² of every trained metric is measured on the completed
            trials (hyperparameters and log exact costs as features); once the lowest of them
            reaches ``r``, that choice is made with ``kappa=0`` (the mean prediction, no optimism)
            and ``exact=max(exact, 4)``, the setting that won on the low-noise tasks of
            ``docs/benchmarks.md`` and lost on the noisy ones. The R² says which a search is in:
            how far a trial's metric follows from its architecture rather than from its seed.
        accurate_every: ``None`` (default) or ``k``: every ``k``-th offspring is chosen for its
            optimistic predicted *metric* alone, cost ignored (the most accurate-looking child), not
            for the hypervolume it adds. On short trials the accurate end of a front is a lottery
            of training seeds, and the hypervolume gain sends most trials to the cheap end
            (``docs/benchmarks.md``, "Tried and not kept").
    """

    candidates: int = 8
    exact: int | None = None
    kappa: float | None = None
    min_trials: int | None = None
    n_estimators: int = 64
    quality: float | None = None
    smooth: float = 0.0
    trust_r2: float | None = None
    long_trials: float = 12_000
    accurate_every: int | None = None

    # Fields added after searches were first stored with these options: a run's fingerprint leaves
    # them out while they hold the value that gives the earlier behaviour, so those searches resume.
    # (A fingerprint records the options after for_budget(), so kappa and exact are always numbers there.)
    FINGERPRINT_OPTIONAL = {"quality": None, "smooth": 0.0, "trust_r2": None, "long_trials": 12_000,
                            "accurate_every": None}
    #: kappa and exact left unset, for short trials and for trials of at least ``long_trials``
    SHORT = {"kappa": 1.0, "exact": 2}
    LONG = {"kappa": 0.0, "exact": 4}

    def __post_init__(self):
        if isinstance(self.candidates, bool) or not isinstance(self.candidates, int) or self.candidates < 1:
            raise ValueError(f"Screening.candidates must be an integer >= 1, got {self.candidates!r}.")
        if self.exact is not None and (isinstance(self.exact, bool) or not isinstance(self.exact, int) or self.exact < 1):
            raise ValueError(f"Screening.exact must be an integer >= 1 or None, got {self.exact!r}.")
        if self.kappa is not None and not (isinstance(self.kappa, (int, float)) and not isinstance(self.kappa, bool)
                                           and math.isfinite(self.kappa) and self.kappa >= 0):
            raise ValueError(f"Screening.kappa must be a finite number >= 0 or None, got {self.kappa!r}.")
        if isinstance(self.long_trials, bool) or not isinstance(self.long_trials, (int, float)) \
                or not self.long_trials > 0:
            raise ValueError("Screening.long_trials must be a number of training samples × epochs > 0, "
                             f"got {self.long_trials!r}.")
        if self.min_trials is not None and (not isinstance(self.min_trials, int) or self.min_trials < 2):
            raise ValueError(f"Screening.min_trials must be an integer >= 2 or None, got {self.min_trials!r}.")
        if not isinstance(self.n_estimators, int) or self.n_estimators < 2:
            raise ValueError(f"Screening.n_estimators must be an integer >= 2, got {self.n_estimators!r}.")
        if self.quality is not None and not (isinstance(self.quality, (int, float)) and not isinstance(self.quality, bool)
                                             and 0 < self.quality <= 1):
            raise ValueError(f"Screening.quality must be a quantile in (0, 1] or None, got {self.quality!r}.")
        if isinstance(self.smooth, bool) or not isinstance(self.smooth, (int, float)) or not 0 <= self.smooth < 1:
            raise ValueError(f"Screening.smooth must be a weight in [0, 1), got {self.smooth!r}.")
        if self.trust_r2 is not None and (isinstance(self.trust_r2, bool) or not isinstance(self.trust_r2, (int, float))
                                          or not -1 <= self.trust_r2 <= 1):
            raise ValueError(f"Screening.trust_r2 must be an R² in [-1, 1] or None, got {self.trust_r2!r}.")
        if self.accurate_every is not None and (isinstance(self.accurate_every, bool)
                                                or not isinstance(self.accurate_every, int) or self.accurate_every < 1):
            raise ValueError(f"Screening.accurate_every must be an integer >= 1 or None, got {self.accurate_every!r}.")

    def for_budget(self, sample_epochs: float | None, started: dict | None = None) -> Screening:
        """These options with ``kappa`` and ``exact`` filled in where they are unset, for trials that
        train on ``sample_epochs`` training samples × epochs (``None``: not known, the short-trial values).

        ``started``: the options a resumed search was started with (as its run fingerprint records
        them). Unset options keep the values recorded there, so a search continues as it began,
        also one begun by a release that chose them otherwise.

        Example:
            >>> Screening().for_budget(3_000 * 2).kappa, Screening().for_budget(30_000 * 9).kappa
            (1.0, 0.0)
            >>> Screening(kappa=0.5).for_budget(30_000 * 9).exact
            4
        """
        fill = dict(self.LONG if sample_epochs is not None and sample_epochs >= self.long_trials else self.SHORT)
        fill.update({k: started[k] for k in fill if isinstance(started, dict) and started.get(k) is not None})
        return dataclasses.replace(self, kappa=fill["kappa"] if self.kappa is None else self.kappa,
                                   exact=fill["exact"] if self.exact is None else self.exact)


def values_key(values: dict) -> str:
    """A canonical, hashable key of a hyperparameter-values dict."""
    return json.dumps(values, sort_keys=True, default=str)


class CostCache:
    """Exact costs of hyperparameter values, computed once per distinct values dict."""

    def __init__(self, fn):
        self.fn = fn
        self._cache: dict[str, dict | None] = {}
        self.names: frozenset | None = None  # the metrics of the last successful call

    def __call__(self, values: dict) -> dict | None:
        key = values_key(values)
        if key not in self._cache:
            try:
                self._cache[key] = {k: float(v) for k, v in self.fn(values).items()}
                self.names = frozenset(self._cache[key])
            except Exception as e:  # a child that cannot be built is not screened out here; training reports it
                logger.debug("cost of %s failed: %s", key, e)
                self._cache[key] = None
        return self._cache[key]

    def __len__(self):
        return len(self._cache)


class Encoder:
    """Numeric features of hyperparameter values: ordinal/normalised numbers, one-hot categories,
    -1 (numbers) or all-zero (categories) for inactive hyperparameters."""

    def __init__(self, space):
        self.n_space = len(space)
        self.columns = []  # (name, kind, payload)
        for hp in space:
            kind = type(hp).__name__
            if kind == "Fixed":
                continue
            if kind == "Boolean":
                self.columns.append((hp.name, "num", (0.0, 1.0, False)))
            elif kind == "Choice":
                vals = list(hp.values)
                if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
                    lo, hi = float(min(vals)), float(max(vals))
                    log = lo > 0 and hi / lo >= 8
                    self.columns.append((hp.name, "num", (lo, hi, log)))
                else:
                    self.columns.extend((hp.name, "cat", v) for v in vals)
            elif kind in ("Int", "Float"):
                lo, hi = float(hp.min_value), float(hp.max_value)
                self.columns.append((hp.name, "num", (lo, hi, getattr(hp, "sampling", None) == "log")))

    def __call__(self, values: dict) -> np.ndarray:
        row = []
        for name, kind, payload in self.columns:
            v = values.get(name)
            if kind == "cat":
                row.append(1.0 if v is not None and v == payload else 0.0)
                continue
            if v is None:
                row.append(-1.0)
                continue
            lo, hi, log = payload
            v = float(v)
            if log:
                lo, hi, v = math.log(lo), math.log(hi), math.log(max(v, lo))
            row.append((v - lo) / (hi - lo) if hi > lo else 0.0)
        return np.asarray(row, dtype=float)


def _log_cost(x: np.ndarray) -> np.ndarray:
    return np.log10(np.maximum(x, 0.0) + 1.0)


def _predict(X, y, Xc, n_estimators: int, seed: int):
    """Mean and spread over the trees of an ``ExtraTreesRegressor`` fitted on (X, y)."""
    from sklearn.ensemble import ExtraTreesRegressor

    model = ExtraTreesRegressor(n_estimators=n_estimators, random_state=seed % (2**31), n_jobs=1).fit(X, y)
    per_tree = np.array([t.predict(Xc) for t in model.estimators_])
    return per_tree.mean(0), per_tree.std(0)


def _gain(points: np.ndarray, Y: np.ndarray, quality=None) -> np.ndarray:
    """Score rows of ``points`` (minimised) against the records ``Y``: (gain, closeness), larger better.

    Two objectives: the hypervolume each point adds to the front of ``Y`` (normalised to the
    records' range, reference 1.1, or on the columns in ``quality`` (``{column: quantile}``) that
    quantile of the records), then how close a dominated point is to the front. More
    objectives: minus the number of front points dominating it, then its distance to the front.
    """
    front = Y[_pareto.nondominated_sort(Y) == 0]
    lo, hi = np.minimum(Y.min(0), points.min(0)), Y.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    nf, npts = (front - lo) / span, (points - lo) / span
    if Y.shape[1] == 2:
        ref = np.array([1.1, 1.1])
        for j, q in (quality or {}).items():
            ref[j] = (np.quantile(Y[:, j], q) - lo[j]) / span[j] if q < 1 else 1.1
        base = _pareto.hypervolume_2d(nf, ref)
        gain = np.array([_pareto.hypervolume_2d(np.vstack([nf, p[None]]), ref) - base for p in npts])
        closeness = -np.array([np.min(np.max(p[None] - nf, axis=1)) for p in npts])
        return np.c_[gain, closeness]
    dominated_by = np.array([np.sum(np.all(front <= p, axis=1) & np.any(front < p, axis=1)) for p in points])
    dist = np.array([np.min(np.linalg.norm(nf - p, axis=1)) for p in npts])
    return np.c_[-dominated_by, dist]


def _best(score: np.ndarray, feasible: np.ndarray) -> np.ndarray:
    """Indices sorted best first: feasible, then larger gain, then larger closeness, then order."""
    return np.lexsort((np.arange(len(score)), -score[:, 1], -score[:, 0], ~feasible))


def _exact_names(cost_fn, values_seq) -> set:
    """The objectives ``cost_fn`` gives exactly (before training): a :class:`CostCache`'s known names, or
    the keys of its first answer on ``values_seq`` (cached, so the build is reused). Empty without one."""
    if cost_fn is None:
        return set()
    exact = getattr(cost_fn, "names", None)
    if exact:
        return set(exact)
    for values in values_seq:
        cost = cost_fn(values)
        if cost is not None:
            return set(cost)
    return set()


def _quality_columns(q, names, cost_fn, children) -> dict:
    """``{column: q}`` for the objectives that need training (those ``cost_fn`` does not give)."""
    if q is None:
        return {}
    exact = _exact_names(cost_fn, children)
    return {j: float(q) for j, n in enumerate(names) if n not in exact}


def _cost_features(known, names, reported) -> list[str]:
    """The exact costs used as extra surrogate features (objectives, params, bops), if every trial has them."""
    feat = sorted(n for n in known if n in names or n in ("params", "bops"))
    return feat if feat and all(all(n in r for n in feat) for r in reported) else []


def _oob_predictions(screening: Screening, history, objectives, cost_fn, encoder: Encoder, seed: int):
    """``(Y, {column: (oob, ok)})``: the recorded objective values of ``history`` and, for every trained
    objective, its out-of-bag prediction by the trees (bootstrap samples, so each trial is predicted by
    the trees that did not draw it; ``ok`` marks the trials some tree left out). Features: the
    hyperparameter encoding and the log of the exact costs. No columns without exact costs (which
    objectives are trained is then unknown) or with fewer than 4 trials."""
    from sklearn.ensemble import ExtraTreesRegressor

    names = [n for n, _ in objectives]
    Y = np.array([f for _, f, _ in history], dtype=float)
    if cost_fn is None or len(history) < 4:
        return Y, {}
    exact = _exact_names(cost_fn, [v for v, _, _ in history])
    trained = [j for j, n in enumerate(names) if n not in exact]
    if not exact or not trained:
        return Y, {}
    X = np.array([encoder(v) for v, _, _ in history])
    feat = _cost_features(exact, names, [r for _, _, r in history])
    if feat:
        X = np.c_[X, _log_cost(np.array([[r[n] for n in feat] for _, _, r in history]))]
    out = {}
    for j in trained:
        model = ExtraTreesRegressor(n_estimators=screening.n_estimators, bootstrap=True,
                                    random_state=(seed + j) % (2**31), n_jobs=1).fit(X, Y[:, j])
        # out-of-bag by hand: sklearn's oob_prediction_ gives 0, not "unknown", to a trial every tree drew
        per_tree = np.array([t.predict(X) for t in model.estimators_])
        left_out = np.ones_like(per_tree, dtype=bool)
        for i, drawn in enumerate(model.estimators_samples_):
            left_out[i, drawn] = False
        n_out = left_out.sum(0)
        ok = n_out > 0
        oob = np.where(left_out, per_tree, 0.0).sum(0) / np.maximum(n_out, 1)
        out[j] = (oob, ok)
    return Y, out


def smoothed(screening: Screening, history, objectives, cost_fn, encoder: Encoder, seed: int) -> np.ndarray:
    """The objective values of ``history`` (``choose``'s format; oracle order and directions) with
    every trained objective shrunk toward its out-of-bag prediction by ``screening.smooth``
    (:func:`_oob_predictions`). A trial no tree left out keeps its recorded value."""
    w = float(screening.smooth)
    if w <= 0:
        return np.array([f for _, f, _ in history], dtype=float)
    Y, oob = _oob_predictions(screening, history, objectives, cost_fn, encoder, seed)
    for j, (pred, ok) in oob.items():
        Y[ok, j] = (1 - w) * Y[ok, j] + w * pred[ok]
    return Y


def surrogate_r2(screening: Screening, history, objectives, cost_fn, encoder: Encoder, seed: int) -> float:
    """The lowest out-of-bag R² over the trained objectives (``nan`` when there is none to measure):
    how much of the recorded metric the architecture and its costs explain (``Screening.trust_r2``)."""
    Y, oob = _oob_predictions(screening, history, objectives, cost_fn, encoder, seed)
    r2 = []
    for j, (pred, ok) in oob.items():
        y = Y[ok, j]
        ss = float(np.sum((y - y.mean()) ** 2)) if len(y) > 1 else 0.0
        if ss > 0:
            r2.append(1.0 - float(np.sum((y - pred[ok]) ** 2)) / ss)
    return min(r2) if r2 else float("nan")


def choose(screening: Screening, children: list[dict], history: list[tuple[dict, list[float], dict]],
           objectives: list[tuple[str, str]], cost_fn, constraints, encoder: Encoder, seed: int,
           accurate: bool = False) -> int:
    """Index of the child to train, in two stages.

    1. Every child is scored from the surrogate alone (all objectives predicted from the
       hyperparameter encoding; no model is built).
    2. The best ``exact`` children get their exact costs from ``cost_fn`` (one model build each).
       Their cost objectives are then exact, their metric is re-predicted with the log costs as
       extra features, children that break a cost constraint are dropped, and the best is chosen.

    Args:
        children: candidate hyperparameter values (distinct, untried).
        history: ``(values, objective_values, reported)`` of the feasible ranked trials
            (objectives in the oracle's order and directions, not yet minimised; ``reported`` maps
            metric names to the trial's last reported values, where its exact costs are found).
        objectives: ``[(name, direction)]``.
        cost_fn: ``values -> {metric: value}`` exact costs (``None``: surrogate only).
        constraints: :class:`~kerasnac.Constraint` objects; those on a cost are checked exactly.
        seed: seeds the trees.
        accurate: score the children by their optimistic predicted trained metric(s) alone
            (``Screening.accurate_every``), not by the hypervolume they add.
    """
    screening = screening.for_budget(None)  # a no-op on the options pick() and KerasNAC pass
    if len(children) <= 1 or len(history) < max(2, screening.min_trials or 2):
        return 0
    names = [n for n, _ in objectives]
    signs = np.array([1.0 if d == "min" else -1.0 for _, d in objectives])
    Y = np.array([f for _, f, _ in history], dtype=float) * signs  # minimised
    # Cost-like objectives (reported non-negative and spanning a decade or more) are compared on a log scale.
    raw = Y * signs
    log_cols = [j for j in range(len(names)) if np.all(raw[:, j] >= 0) and raw[:, j].max() >= 10 * max(raw[:, j].min(), 1e-12)]

    def to_score_space(j, v):
        return signs[j] * _log_cost(v) if j in log_cols else signs[j] * v

    Ys = np.c_[[to_score_space(j, raw[:, j]) for j in range(len(names))]].T
    X = np.array([encoder(v) for v, _, _ in history])
    Xc = np.array([encoder(c) for c in children])
    n_est, kappa = screening.n_estimators, screening.kappa
    quality = _quality_columns(screening.quality, names, cost_fn, children)
    # accurate: the objectives that need training (those cost_fn does not give), scored alone
    trained = ([j for j, n in enumerate(names) if n not in _exact_names(cost_fn, children)] or [0]) if accurate else []

    def score(points):
        if accurate:  # the most accurate-looking child (minimised objectives): cost is ignored
            return np.c_[-points[:, trained].sum(1), np.zeros(len(points))]
        return _gain(points, Ys, quality)

    # Stage 1: surrogate only.
    optimistic = np.empty((len(children), len(names)))
    for j in range(len(names)):
        mean, std = _predict(X, Ys[:, j], Xc, n_est, seed + j)
        optimistic[:, j] = mean - kappa * std
    order = _best(score(optimistic), np.ones(len(children), dtype=bool))
    if cost_fn is None:
        return int(order[0])

    # Stage 2: exact costs for the most promising children.
    top = [int(i) for i in order[:screening.exact]]
    costs = [cost_fn(children[i]) for i in top]
    if any(c is None for c in costs):
        return top[0]
    known = set.intersection(*(set(c) for c in costs))
    feasible = np.ones(len(top), dtype=bool)
    for c in constraints:
        if c.metric in known:
            feasible &= np.array([c.violation(cost[c.metric]) == 0 for cost in costs])
    exact_cols = [j for j, n in enumerate(names) if n in known]
    feat = _cost_features(known, names, [r for _, _, r in history])
    if feat:
        X2 = np.c_[X, _log_cost(np.array([[r[n] for n in feat] for _, _, r in history]))]
        Xc2 = np.c_[Xc[top], _log_cost(np.array([[c[n] for n in feat] for c in costs]))]
    else:
        X2, Xc2 = X, Xc[top]
    points = optimistic[top].copy()
    for j in range(len(names)):
        if j in exact_cols:
            points[:, j] = to_score_space(j, np.array([c[names[j]] for c in costs]))
        else:
            mean, std = _predict(X2, Ys[:, j], Xc2, n_est, seed + 100 + j)
            points[:, j] = mean - kappa * std
    return top[int(_best(score(points), feasible)[0])]


def pick(screening: Screening, children, history, objectives, cost_fn, constraints, encoder: Encoder, seed: int,
         population_size: int, accurate: bool = False) -> int:
    """:func:`choose` as the oracle calls it: ``min_trials`` defaults to the population size, and a
    failure of the surrogate is logged and the first child trained (screening is an optimisation:
    it never stops the search)."""
    opts = dataclasses.replace(screening.for_budget(None), min_trials=max(2, screening.min_trials or population_size))
    try:
        if opts.trust_r2 is not None and len(children) > 1 and len(history) >= opts.min_trials:
            if surrogate_r2(opts, history, objectives, cost_fn, encoder, seed + 7) >= opts.trust_r2:
                opts = dataclasses.replace(opts, kappa=0.0, exact=max(opts.exact, 4))
        return choose(opts, children, history, objectives, cost_fn, constraints, encoder, seed=seed, accurate=accurate)
    except Exception as e:  # noqa: BLE001
        logger.warning("Screening failed (%s: %s); training the first child.", type(e).__name__, e)
        return 0


__all__ = ["Screening", "CostCache", "Encoder", "choose", "pick", "smoothed", "surrogate_r2", "values_key"]

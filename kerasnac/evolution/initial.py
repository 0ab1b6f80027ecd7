"""How the :class:`~kerasnac.evolution.ParetoOracle` draws its first population.

In codesign the cost objectives (BOPs, LUT, ...) are exact before any training, and a uniform draw
from a hierarchical space piles up in the middle of the cost axis: widths, depths and bit widths
multiply, so the cheapest and the dearest architectures are rare. A front needs both ends, and a
population that misses the cheap end leaves NSGA-II to find it by mutation, one trial at a time.

- :class:`RandomInitial`: each of the first trials an independent uniform draw (plain NSGA-II).
- :class:`CostStratified`: ``candidates`` uniform draws per slot, their exact costs (a model build
  each, no training), and the population picked evenly spaced on the log of the first cost
  objective, from the cheapest candidate to the dearest, skipping those that break a cost constraint;
  trained in a :func:`spanning_order` (middle, ends, midpoints), not cheapest first. With
  ``anchor=True`` (the default) the cheapest end is the space's cheapest architecture, found by a
  descent on the exact costs from the cheapest draw (:mod:`kerasnac.evolution.anchor`): it is on
  the true Pareto front whatever its accuracy.

A strategy is an object with ``candidates`` (draws per slot; 1 means no planning) and
``choose(log_costs, size) -> indices``; :func:`plan` does the drawing and the cost look-up.
"""

from __future__ import annotations

import math

import numpy as np

from kerasnac.screening import values_key

STREAM_INITIAL = 3  # the oracle's random stream for the planned first population


class RandomInitial:
    """Uniform draws, one per slot (the oracle draws them lazily, as plain NSGA-II does)."""

    candidates = 1

    def choose(self, log_costs: np.ndarray, size: int) -> list[int]:
        return list(range(min(size, len(log_costs))))

    def __repr__(self):
        return "RandomInitial()"


def spanning_order(n: int) -> list[int]:
    """``0 .. n-1`` in an order whose every prefix spans the range: the middle, both ends, then the
    midpoints of the gaps (van der Corput). The plan is trained in this order, so the first trials of
    a short or interrupted search already cover the cost axis instead of all sitting at its cheap end."""
    if n <= 2:
        return list(range(n))
    order, seen, k = [], set(), 1
    for x in (0.5, 0.0, 1.0):
        i = round(x * (n - 1))
        if i not in seen:
            seen.add(i), order.append(i)
    while len(order) < n:
        x, f, j = 0.0, 0.5, k  # the radical inverse of k in base 2
        while j:
            x, j, f = x + f * (j & 1), j >> 1, f / 2
        i = round(x * (n - 1))
        if i not in seen:
            seen.add(i), order.append(i)
        k += 1
    return order


class CostStratified:
    """The first population spread evenly over the log of one exact cost.

    Args:
        candidates: uniform draws per population slot whose costs are computed (``candidates x
            population_size`` model builds before the first trial; about 0.1 s each for a jets MLP).
        cost: the cost objective to spread over (``None``: the first objective that is an exact cost).
        anchor: start the spread at the space's cheapest architecture (a descent on the exact cost
            from the cheapest draw, :func:`kerasnac.evolution.anchor.cheapest_values`; 56–154
            shapes-only builds on the shipped spaces) instead of at the cheapest draw.
        structural: with ``anchor``, also put the ``structural`` cheapest of the cheapest architectures
            per structure (another block of a stage, another depth of a block:
            :func:`kerasnac.evolution.anchor.structural_anchors`) in the first population, each in
            place of the spread's pick nearest to its cost (0, the default: none).
    """

    def __init__(self, candidates: int = 4, cost: str | None = None, anchor: bool = True, structural: int = 0):
        if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 2:
            raise ValueError(f"CostStratified.candidates must be an integer >= 2, got {candidates!r}.")
        if not isinstance(anchor, bool):
            raise ValueError(f"CostStratified.anchor must be True or False, got {anchor!r}.")
        if isinstance(structural, bool) or not isinstance(structural, int) or structural < 0:
            raise ValueError(f"CostStratified.structural must be an integer >= 0 (architectures), got {structural!r}.")
        self.candidates, self.cost, self.anchor, self.structural = candidates, cost, anchor, structural

    def choose(self, log_costs: np.ndarray, size: int, forced=()) -> list[int]:
        """Greedy: for targets evenly spaced from the cheapest to the dearest, the nearest unused candidate.
        Each of ``forced`` (indices, in order) first takes the free target nearest to its own cost."""
        order = np.argsort(log_costs, kind="stable")
        if len(order) <= size:
            return [int(i) for i in order]
        targets = np.linspace(log_costs[order[0]], log_costs[order[-1]], size)
        free = list(order)
        picked = [None] * size
        for f in list(forced)[:size]:
            j = min((j for j in range(size) if picked[j] is None), key=lambda j: (abs(targets[j] - log_costs[f]), j))
            picked[j] = int(f)
            free.remove(f)
        for i, t in enumerate(targets):
            if picked[i] is None:
                j = min(range(len(free)), key=lambda k: (abs(log_costs[free[k]] - t), k))
                picked[i] = int(free.pop(j))
        return [picked[i] for i in spanning_order(len(picked))]

    def __repr__(self):
        return (f"CostStratified(candidates={self.candidates}, cost={self.cost!r}, anchor={self.anchor}"
                + (f", structural={self.structural})" if self.structural else ")"))


def plan(strategy, size: int, draw, exact_costs, objectives, constraints, space=None) -> list[dict] | None:
    """The first ``size`` trials' values, or ``None`` to draw them one at a time.

    Args:
        draw: ``k -> values | None``, the ``k``-th distinct untried uniform draw.
        exact_costs: ``values -> {cost: value} | None`` (``None`` when the oracle has none).
        objectives: ``[(name, direction)]`` of the oracle; constraints: its ``Constraint`` objects.
        space: the oracle's hyperparameters (a list), for the strategy's ``anchor`` descent.
    """
    k = getattr(strategy, "candidates", 1)
    if k <= 1 or size < 2 or exact_costs is None:
        return None
    pool, seen = [], set()
    for i in range(k * size):
        values = draw(i)
        if values is not None and values_key(values) not in seen:
            seen.add(values_key(values))
            pool.append(values)
    costs = [exact_costs(v) for v in pool]
    known = [c for c in costs if c]
    names = [n for n, _ in objectives if known and all(n in c for c in known)]
    name = getattr(strategy, "cost", None) or (names[0] if names else None)
    if name is None:
        return None
    ok = [i for i, c in enumerate(costs) if _feasible(c, name, constraints)]
    forced = []
    if getattr(strategy, "anchor", False) and space is not None and ok:
        ok = _add_anchor(pool, costs, ok, name, space, exact_costs, constraints)
        if getattr(strategy, "structural", 0):
            ok, forced = _add_structural(pool, costs, ok, name, space, exact_costs, constraints, strategy.structural)
    if len(ok) < size:  # too few feasible candidates to choose from: fill with the others
        ok += [i for i in range(len(pool)) if i not in ok][: size - len(ok)]
    log_costs = np.array([math.log10(max(costs[i][name], 0.0) + 1.0) if costs[i] and name in costs[i] else 0.0
                          for i in ok])
    if forced:  # only a strategy with structural anchors gets forced picks; others keep choose(log_costs, size)
        return [pool[ok[j]] for j in strategy.choose(log_costs, size, forced=[ok.index(i) for i in forced])]
    return [pool[ok[j]] for j in strategy.choose(log_costs, size)]


def _feasible(c, name, constraints) -> bool:
    """Whether exact costs ``c`` have a finite ``name`` and keep every cost constraint they can be checked on."""
    return bool(c) and name in c and math.isfinite(c[name]) and \
        all(con.violation(c[con.metric]) == 0 for con in constraints if con.metric in c)


def _add_anchor(pool, costs, ok, name, space, exact_costs, constraints) -> list[int]:
    """``ok`` with the space's cheapest architecture on ``name`` added to ``pool`` (and ``costs``), if
    the descent from the cheapest feasible draw finds a cheaper one that keeps the constraints."""
    from .anchor import cheapest_values

    def cost(values):
        c = exact_costs(values)
        return c.get(name) if c else None

    start = min(ok, key=lambda i: costs[i][name])
    values, low = cheapest_values(space, cost, pool[start])
    key = values_key(values)
    if not low < costs[start][name] or any(values_key(v) == key for v in pool):
        return ok
    c = exact_costs(values)  # cached by the oracle's cost function
    if not _feasible(c, name, constraints):
        return ok
    pool.append(values)
    costs.append(c)
    return ok + [len(pool) - 1]


def _add_structural(pool, costs, ok, name, space, exact_costs, constraints, k) -> tuple[list[int], list[int]]:
    """``(ok, forced)``: the cheapest architecture of ``ok`` (the anchor) and the ``k`` cheapest feasible
    structural anchors from it, added to ``pool`` where new; ``forced`` their pool indices, anchor first."""
    from .anchor import structural_anchors

    def cost(values):
        c = exact_costs(values)
        return c.get(name) if c else None

    anchor = min(ok, key=lambda i: costs[i][name])
    forced, keys = [anchor], {values_key(v): i for i, v in enumerate(pool)}
    for values, _ in structural_anchors(space, cost, pool[anchor]):
        if len(forced) > k:
            break
        c = exact_costs(values)
        if not _feasible(c, name, constraints):
            continue
        i = keys.get(values_key(values))
        if i is None:
            pool.append(values)
            costs.append(c)
            i = keys[values_key(values)] = len(pool) - 1
            ok = ok + [i]
        if i not in forced:
            forced.append(i)
    return ok, forced

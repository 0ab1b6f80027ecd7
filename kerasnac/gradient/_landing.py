"""The settle phase's three-move look-ahead: the landing set of three changes (``budget_lookahead=3``).

The traced architecture step looks at most two changes ahead (``_controller``: single changes from
the gradient of E[C], pairs from its Hessian). Near some budgets the cost levels are sparse: on the
calorimeter space, 2 of 50 budgets ended 10.7% and 11.8% over their budget after 300 settle steps,
and for one of them no pair of changes lands (``docs/benchmarks.md``, section 6). A third move
would need the third derivative of E[C], a ``[D, D, D]`` tensor at every stuck step.

The settle phase runs in Python, one budget at a time, so there the search is done exactly instead:
from the pairs with the smallest summed logit deficit (how far each new value's logit is behind the
chosen one's), the single changes that follow each pair come from one gradient at the pair-changed
one-hot point (``Supernet.neighbour_costs``). The landing triple with the smallest summed deficit
becomes the budget's *waypoint*: the traced step scores each of its three changes by what reaching
it would remove of the distance to the band (``DualAscent.toward``), like the pair look-ahead scores
both halves of a landing pair. The task loss still acts on the logits, and what the search delivers
is still the argmax of its logits: the waypoint only steers.
"""

from __future__ import annotations

import numpy as np


def _flat(choices, values, logits):
    """``[(choice, value, logit deficit)]`` over every value of every choice, in the bank's order."""
    out = []
    for n, c in choices.items():
        here = logits[n][c.values.index(values[n])]
        out += [(n, v, float(here - logits[n][j])) for j, v in enumerate(c.values)]
    return out


def landing_triple(supernet, values: dict, logits: dict, fits, n_budget: int, max_pairs: int | None = None):
    """The three-choice change of ``values`` that lands with the smallest summed logit deficit.

    Args:
        supernet: the :class:`Supernet`; values: its argmax architecture; logits: ``{choice: numpy
            logits}`` of the budget's row.
        fits: ``costs [n_budget] -> bool``, whether costs are within the tolerance of the budget.
        max_pairs: the pairs (smallest summed deficit first) whose following single changes are tried;
            ``None`` (default): every pair. The walk stops at the first pair whose own deficit is no
            smaller than the best triple's, so a landing triple is usually found within the first few
            pairs; only a budget with no landing triple at all walks them all (about 500 pairs at 4 ms
            each on the calorimeter space, once per argmax change). Session 16 stopped at the 128
            likeliest pairs, and 2 of 150 budgets found no triple there.

    Returns ``(changes, costs)``, ``changes`` a ``{choice: value}`` of three changes and ``costs`` their
    exact budget costs, or ``None`` when a single change or a pair already lands (the traced step's
    look-ahead covers those) or no triple from the tried pairs does.
    """
    cs = supernet.choices
    choices = cs.choices
    neighbours, pair_costs = _traced(supernet, n_budget)
    onehot = cs.onehot(values)
    _, near = neighbours(onehot)
    if any(fits(row) for n in choices for row in np.asarray(near[n])):
        return None
    flat = _flat(choices, values, logits)
    pairs = np.asarray(pair_costs(onehot))
    moves = [i for i, (n, v, _) in enumerate(flat) if v != values[n]]
    if any(fits(pairs[r, s]) for r in moves for s in moves if flat[r][0] != flat[s][0]):
        return None
    ranked = sorted((flat[r][2] + flat[s][2], r, s) for r in moves for s in moves
                    if r < s and flat[r][0] != flat[s][0])
    best = None
    for deficit, r, s in ranked if max_pairs is None else ranked[:max_pairs]:
        if best is not None and deficit >= best[0]:
            break  # every later pair already has a larger deficit than the best triple
        two = {**values, flat[r][0]: flat[r][1], flat[s][0]: flat[s][1]}
        _, near2 = neighbours(cs.onehot(two))
        for n, c in choices.items():
            if n in (flat[r][0], flat[s][0]):
                continue
            rows = np.asarray(near2[n])
            for j, v in enumerate(c.values):
                d = deficit + float(logits[n][c.values.index(values[n])] - logits[n][j])
                if v != values[n] and fits(rows[j]) and (best is None or d < best[0]):
                    best = (d, {flat[r][0]: flat[r][1], flat[s][0]: flat[s][1], n: v}, rows[j])
    return None if best is None else (best[1], best[2])


def _traced(supernet, n_budget: int):
    """``Supernet.neighbour_costs`` and ``pair_costs`` as traced functions, made once per supernet: run
    eagerly, one call costs about 0.1 s, and a triple search makes one per pair it tries."""
    cache = supernet.__dict__.setdefault("_landing_fns", {})
    if n_budget not in cache:
        from .._keras import tf

        cache[n_budget] = (tf.function(lambda onehot: supernet.neighbour_costs(onehot, n_budget)),
                           tf.function(lambda onehot: supernet.pair_costs(onehot, n_budget)))
    return cache[n_budget]


def waypoint_mask(choices, changes: dict) -> np.ndarray:
    """``[D]``: 1 at the values ``changes`` moves to (the bank's flat order), 0 elsewhere."""
    return np.array([1.0 if changes.get(n, object()) == v else 0.0 for n, c in choices.items() for v in c.values],
                    dtype="float32")

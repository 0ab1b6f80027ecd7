"""The cheapest architecture of a space, found on the exact costs before any training.

An architecture that no other one undercuts in cost is on the true Pareto front whatever its
accuracy, so a first population that holds the space's cheapest architecture spends that trial on a
front point for sure. A uniform or cost-stratified draw rarely holds it: widths, depths and bit
widths multiply, and the minimum is one corner of the space. Where that corner is also accurate
enough (the hls4ml-style MLP on jets at 3- to 8-bit weights: 0.73–0.77 accuracy at 10^3.99 BOPs
with 30,000 jets), the whole cheap end of the front depends on it (``docs/benchmarks.md``, 0d).

:func:`cheapest_values` is a coordinate descent on the exact cost: from a start, it tries every
value of one active hyperparameter at a time (every value of a Choice, Boolean or linear Int range
of at most 64 values, the two ends of a longer or log-sampled Int and of a Float), keeps a change
that lowers the cost, and sweeps until a sweep changes nothing. A hyperparameter that a change
activates starts at its smallest value. Costs come from shapes-only model builds, so a descent costs
56–154 builds and 1.5–8 s on the shipped spaces (``python benchmarks/anchor_descent.py``, beside two
benchmark processes on 2 cores). Written here because the space is hierarchical and conditional,
and its cost a black box per architecture: no optimisation library takes keras-tuner's conditional
hyperparameters. (The gradient search's ``_front.extreme_choices`` is the same descent over the
supernet's one-hot choices, whose costs come from ``Supernet.expected_cost``, not from builds.)
"""

from __future__ import annotations

import math

from kerasnac._keras import kt
from kerasnac.screening import values_key

from ._values import is_valid, walk

_hp = kt.engine.hyperparameters


def _options(hp) -> list:
    if isinstance(hp, _hp.Fixed):
        return []
    if isinstance(hp, _hp.Boolean):
        return [False, True]
    if isinstance(hp, _hp.Choice):
        return list(hp.values)
    if isinstance(hp, _hp.Int):
        step = hp.step or 1
        n = (hp.max_value - hp.min_value) // step + 1
        if hp.sampling in (None, "linear") and n <= 64:
            return list(range(hp.min_value, hp.max_value + 1, step))
        return sorted({hp.min_value, hp.max_value})
    if isinstance(hp, _hp.Float):
        return sorted({hp.min_value, hp.max_value})
    return []


def _smallest(hp):
    """The smallest value of a numeric hyperparameter, the first of a categorical one."""
    opts = _options(hp)
    if not opts:
        return hp.default
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in opts)
    return min(opts) if numeric else opts[0]


def complete(space, given: dict) -> dict:
    """``given``'s legal values for the active hyperparameters of ``space``; the others at their smallest."""
    return walk(space, lambda i, hp: given[hp.name] if hp.name in given and is_valid(hp, given[hp.name])
                else _smallest(hp))


def cheapest_values(space, cost, start: dict, max_sweeps: int = 5, max_evals: int = 400,
                    fixed: frozenset = frozenset()) -> tuple[dict, float]:
    """``(values, cost)`` of a local minimum of ``cost`` (``values -> float``; ``None`` or NaN for an
    architecture that cannot be built) reached from ``start`` by single-hyperparameter changes; on a
    very large space, the cheapest found within ``max_evals`` cost evaluations (56–154 on the shipped
    spaces, so the cap only bounds the time of a space with hundreds of values). The hyperparameters
    named in ``fixed`` keep their value from ``start``."""
    n = 0

    def c(values):
        nonlocal n
        n += 1
        x = cost(values)
        return math.inf if x is None or not math.isfinite(x) else float(x)

    best = complete(space, start)
    best_cost = c(best)
    for _ in range(max_sweeps):
        improved = False
        for hp in space:
            if hp.name not in best or hp.name in fixed:  # inactive in the current best, or held
                continue
            for v in _options(hp):
                if n >= max_evals:
                    return best, best_cost
                if v == best[hp.name]:
                    continue
                values = complete(space, {**best, hp.name: v})
                x = c(values)
                if x < best_cost:
                    best, best_cost, improved = values, x, True
        if not improved:
            break
    return best, best_cost


def structural(space) -> list:
    """The hyperparameters that choose a structure: a stage's block (``.../block``), a block's depth
    (``.../layers``, ``.../phi_layers``, ...) or a convolution's kernel size (``.../kernel_size``), by
    the names :class:`kerasnac.SearchSpace` gives them."""
    def chooses_structure(name):
        last = name.rsplit("/", 1)[-1]
        return last in ("block", "kernel_size") or last.endswith("layers")

    return [hp for hp in space if chooses_structure(hp.name) and len(_options(hp)) > 1]


def structural_anchors(space, cost, anchor: dict, max_evals: int = 400) -> list[tuple[dict, float]]:
    """``[(values, cost)]``, cheapest first: for every other value of every structural hyperparameter
    active in ``anchor`` (the space's cheapest architecture), the cheapest architecture with that
    value, by :func:`cheapest_values` from ``anchor`` with that hyperparameter held. Each is the cheap
    end of one structure (a second MLP layer, a stage that is not skipped), which a descent on cost
    alone leaves; a few descents of ``max_evals`` evaluations at most each."""
    out, seen = [], set()
    for hp in structural(space):
        if hp.name not in anchor:
            continue
        for v in _options(hp):
            if v == anchor[hp.name]:
                continue
            def held(values, name=hp.name, v=v):  # a change of a parent that deactivates it does not count
                return cost(values) if values.get(name) == v else None

            values, c = cheapest_values(space, held, complete(space, {**anchor, hp.name: v}), max_evals=max_evals,
                                        fixed=frozenset([hp.name]))
            key = values_key(values)
            if math.isfinite(c) and key not in seen:
                seen.add(key)
                out.append((values, c))
    return sorted(out, key=lambda vc: vc[1])


__all__ = ["cheapest_values", "complete", "structural", "structural_anchors"]

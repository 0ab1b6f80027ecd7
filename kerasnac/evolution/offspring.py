"""Breeding one child: crossover of the parents, legal values for the active hyperparameters,
then mutation (the oracle's child-generation step, with the operators it was given)."""

from __future__ import annotations

import numpy as np

from ._values import is_fixed, is_valid, walk


def breed(parents: list[dict], space, crossover, mutation, mutation_prob, rng: np.random.Generator) -> dict:
    """The values of one child of ``parents``.

    1. ``crossover(parents, space, rng)`` gives an inherited value per hyperparameter;
    2. walking ``space`` in order, every *active* hyperparameter keeps its inherited value when it
       is legal, else draws a fresh one (a parent may lack it, or hold it inactive);
    3. each active hyperparameter mutates with probability ``mutation_prob`` (``None``: 1 / the
       number of active, non-``Fixed`` hyperparameters of the child after step 2), through
       ``mutation(hp, value, rng)`` with a generator of its own.

    Every draw comes from ``rng`` in a fixed order (crossover, fill seeds, mutation coins and
    seeds), so a child depends only on the parents and the seed of ``rng``.
    """
    n = len(space)
    inherited = list(crossover(parents, space, rng))
    if len(inherited) != n:
        raise ValueError(f"the crossover returned {len(inherited)} values for a space of {n} hyperparameters; "
                         "return one entry per hyperparameter of `space` (MISSING for none).")
    fill_seeds = rng.integers(2**31, size=n)
    mutate_u = rng.random(n)
    mutate_seeds = rng.integers(2**63, size=n)

    def inherit(i, hp):
        value = inherited[i]
        if not is_valid(hp, value):  # missing, or inactive in that parent
            value = hp.random_sample(int(fill_seeds[i]))
        return value

    n_active = []

    def inherit_and_count(i, hp):
        n_active.append(not is_fixed(hp))
        return inherit(i, hp)

    values = walk(space, inherit_and_count)
    pm = mutation_prob
    if pm is None:
        pm = 1.0 / max(1, sum(n_active))
    if pm <= 0:
        return values

    def inherit_and_mutate(i, hp):
        value = inherit(i, hp)
        if mutate_u[i] < pm:
            value = mutation(hp, value, np.random.default_rng(int(mutate_seeds[i])))
        return value

    return walk(space, inherit_and_mutate)


__all__ = ["breed"]

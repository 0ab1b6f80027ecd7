"""Crossover operators of the :class:`~kerasnac.ParetoOracle` (the first step of breeding a child).

A crossover is any callable ``crossover(parents, space, rng) -> list`` with

* ``parents``: the hyperparameter-values dicts of the parents (two for the default tournament);
* ``space``: the oracle's hyperparameters (``oracle.hyperparameters.space``, a list in order);
* ``rng``: a ``numpy.random.Generator`` seeded by the oracle (use it for every random choice,
  so a search replays and resumes identically);

returning one entry per hyperparameter of ``space``: the value the child inherits, or
:data:`~kerasnac.evolution.MISSING` when it should draw a fresh one. The oracle keeps only legal
values of *active* hyperparameters: a value that is illegal for its hyperparameter (or inactive
in the parent, or ``MISSING``) is replaced by a random draw, and mutation follows.

Example (a user's operator: every hyperparameter from the better parent, none from the other):

    >>> class FromFirst:
    ...     def __call__(self, parents, space, rng):
    ...         return [parents[0].get(hp.name, MISSING) for hp in space]
    >>> oracle = kn.ParetoOracle(objective, crossover=FromFirst())          # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

from ._values import MISSING


@dataclass
class UniformCrossover:
    """Uniform crossover, applied with probability ``prob`` (otherwise the child copies the first
    parent): each hyperparameter comes from the second parent with probability ``swapping_prob``.

    Args:
        prob: probability that a child is a crossover of its two parents at all (NSGA-II's
            crossover probability; ``ParetoOracle(crossover_prob=...)`` sets it).
        swapping_prob: per hyperparameter, the probability to take the second parent's value.
    """

    prob: float = 0.9
    swapping_prob: float = 0.5

    def __post_init__(self):
        for name in ("prob", "swapping_prob"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
                raise ValueError(f"UniformCrossover.{name} must be in [0, 1], got {v!r}.")

    def __call__(self, parents, space, rng) -> list:
        first, second = parents[0], parents[-1]
        # Both draws happen whether or not the crossover applies: the random stream of a child
        # then depends only on its seed, not on the outcome of the first draw.
        crossover = rng.random() < self.prob
        from_second = (rng.random(len(space)) < self.swapping_prob) & crossover
        return [(second if from_second[i] else first).get(hp.name, MISSING) for i, hp in enumerate(space)]


__all__ = ["UniformCrossover", "MISSING"]

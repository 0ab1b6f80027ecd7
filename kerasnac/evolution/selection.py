"""Parent selection of the :class:`~kerasnac.ParetoOracle`.

A selection object has two methods:

* ``pool(ranked_ids, population_size) -> list[str]``: the parent pool from the completed trials
  in Pareto order (best first: feasible, then non-dominated rank, then crowding distance);
* ``parents(pool, rng) -> list[str]``: the trial ids of one child's parents, drawn with the
  oracle's seeded ``numpy.random.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TournamentSelection:
    """NSGA-II's selection: the pool is the best ``population_size`` trials (elitism over every
    completed trial, which suits a steady-state search with parallel workers), and each parent is
    the winner of a tournament of ``tournament_size`` pool members drawn with replacement. The pool
    is in Pareto order, so the winner is the drawn member with the lowest position.

    Args:
        tournament_size: members per tournament (2: binary tournament, as in NSGA-II).
        n_parents: parents per child (the default crossover uses two).
    """

    tournament_size: int = 2
    n_parents: int = 2

    def __post_init__(self):
        for name in ("tournament_size", "n_parents"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"TournamentSelection.{name} must be an integer >= 1, got {v!r}.")

    def pool(self, ranked_ids: list[str], population_size: int) -> list[str]:
        return list(ranked_ids[:population_size])

    def parents(self, pool: list[str], rng) -> list[str]:
        return [pool[int(rng.integers(len(pool), size=self.tournament_size).min())] for _ in range(self.n_parents)]


__all__ = ["TournamentSelection"]

"""Mutation operators of the :class:`~kerasnac.ParetoOracle` (the second step of breeding a child).

A mutation is any callable ``mutation(hp, value, rng) -> value``: a new legal value of the
keras-tuner hyperparameter ``hp`` near ``value``. The oracle decides *which* hyperparameters mutate
(each active one with probability ``mutation_prob``, default 1 / number of active, non-``Fixed``
hyperparameters of the child) and gives each its own seeded ``numpy.random.Generator``.

Example (a user's operator: a fresh uniform draw, no locality):

    >>> class Redraw:
    ...     def __call__(self, hp, value, rng):
    ...         return hp.random_sample(int(rng.integers(2**31)))
    >>> oracle = kn.ParetoOracle(objective, mutation=Redraw())              # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

from kerasnac._keras import kt

_hp = kt.engine.hyperparameters


@dataclass
class GaussianMutation:
    """Type-aware mutation: a Boolean flips, a Choice takes another of its values uniformly, an
    Int/Float takes a Gaussian step of standard deviation ``sigma`` in keras-tuner's (log-)normalized
    cumulative-probability space (so ``sampling="log"`` and ``step`` are respected), reflected into
    [0, 1]; a ``Fixed`` never changes. The result differs from ``value`` whenever the hyperparameter
    allows (16 local tries, then 16 uniform ones).

    Args:
        sigma: the step in the normalized [0, 1) range; at least 1 / (number of values) for a
            discrete range, so a step can always leave the current value.
    """

    sigma: float = 0.2

    def __post_init__(self):
        if isinstance(self.sigma, bool) or not isinstance(self.sigma, (int, float)) or not self.sigma > 0:
            raise ValueError(f"GaussianMutation.sigma must be a number > 0, got {self.sigma!r}.")

    def __call__(self, hp, value, rng):
        if isinstance(hp, _hp.Fixed):
            return value
        if isinstance(hp, _hp.Boolean):
            return not value
        if isinstance(hp, _hp.Choice):
            others = [v for v in hp.values if v != value]
            return others[int(rng.integers(len(others)))] if others else value
        # Int / Float: prob_to_value applies `sampling` (linear/log/reverse_log) and snaps to `step`.
        p = min(max(float(hp.value_to_prob(value)), 0.0), 1.0)
        n_values = hp._get_n_values() if hp.step is not None else (
            hp.max_value - hp.min_value + 1 if isinstance(hp, _hp.Int) else None)
        sigma = self.sigma if not n_values else max(self.sigma, 1.0 / n_values)
        for i in range(32):
            if i < 16:
                q = (p + sigma * float(rng.standard_normal())) % 2.0  # reflect into [0, 1]
                q = 2.0 - q if q > 1.0 else q
            else:  # give up on locality, draw uniformly
                q = float(rng.random())
            new = hp.prob_to_value(min(q, 1.0 - 1e-12))
            new = int(new) if isinstance(hp, _hp.Int) else float(new)
            if new != value:
                return new
        return value


__all__ = ["GaussianMutation"]

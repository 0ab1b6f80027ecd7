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

    With ``ordinal=True`` an ordered Choice (keras-tuner's ``ordered``, by default every Choice of
    numbers: widths, bit widths, kernel sizes; ``ordered=False`` opts a numeric ID out) is treated
    as the ordered scale it is: the step is Gaussian in the rank of the sorted values,
    like an Int's, so 8 bits goes to 6 or 12 more often than to 32. A uniform redraw moves a
    cost-driving choice across the whole cost range, which makes fine steps near the cheap end of
    the front rare.

    Args:
        sigma: the step in the normalized [0, 1) range; at least 1 / (number of values) for a
            discrete range, so a step can always leave the current value.
        ordinal: numeric Choices step in rank (see above) instead of a uniform redraw.
    """

    sigma: float = 0.2
    ordinal: bool = False

    def __post_init__(self):
        if isinstance(self.sigma, bool) or not isinstance(self.sigma, (int, float)) or not self.sigma > 0:
            raise ValueError(f"GaussianMutation.sigma must be a number > 0, got {self.sigma!r}.")
        if not isinstance(self.ordinal, bool):
            raise ValueError(f"GaussianMutation.ordinal must be True or False, got {self.ordinal!r}.")

    def __call__(self, hp, value, rng):
        if isinstance(hp, _hp.Fixed):
            return value
        if isinstance(hp, _hp.Boolean):
            return not value
        if isinstance(hp, _hp.Choice):
            others = [v for v in hp.values if v != value]
            # keras-tuner's `ordered`: True by default for numeric values, False where the user said so
            if self.ordinal and others and value in hp.values and getattr(hp, "ordered", False):
                scale = sorted(hp.values)
                return self._step((scale.index(value) + 0.5) / len(scale), len(scale), value, rng,  # bin centres
                                  lambda q: scale[min(int(q * len(scale)), len(scale) - 1)])
            return others[int(rng.integers(len(others)))] if others else value
        # Int / Float: prob_to_value applies `sampling` (linear/log/reverse_log) and snaps to `step`.
        p = min(max(float(hp.value_to_prob(value)), 0.0), 1.0)
        n_values = hp._get_n_values() if hp.step is not None else (
            hp.max_value - hp.min_value + 1 if isinstance(hp, _hp.Int) else None)
        cast = int if isinstance(hp, _hp.Int) else float
        return self._step(p, n_values, value, rng, lambda q: cast(hp.prob_to_value(q)))

    def _step(self, p, n_values, value, rng, to_value):
        """A value other than ``value`` near position ``p`` of [0, 1] (``to_value(q)`` maps a position
        back): 16 Gaussian steps reflected into [0, 1], then 16 uniform draws."""
        sigma = self.sigma if not n_values else max(self.sigma, 1.0 / n_values)
        for i in range(32):
            if i < 16:
                q = (p + sigma * float(rng.standard_normal())) % 2.0  # reflect into [0, 1]
                q = 2.0 - q if q > 1.0 else q
            else:  # give up on locality, draw uniformly
                q = float(rng.random())
            new = to_value(min(q, 1.0 - 1e-12))
            if new != value:
                return new
        return value


__all__ = ["GaussianMutation"]

"""Gradient-based hardware-aware search: a single-shot supernet over a SearchSpace (ConNAS4ML-style).

    >>> gs = GradientSearch(space, cost=kn.costs.weighted(lut=1.0, dsp=55.0), budget={"lut": 40_000})  # doctest: +SKIP
    >>> gs.fit(x, y, validation_data=(xv, yv)); model = gs.derive(); gs.summary()                  # doctest: +SKIP
"""

from . import _conv  # noqa: F401  (registers the conv relaxers)
from ._choices import NotRelaxableError
from ._controller import DualAscent
from ._search import GradientSearch
from ._supernet import Supernet

__all__ = ["GradientSearch", "Supernet", "NotRelaxableError", "DualAscent"]

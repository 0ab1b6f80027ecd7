"""The NSGA-II oracle now lives in :mod:`kerasnac.evolution` (one module per strategy); this module
keeps the old import path ``from kerasnac.oracle import ParetoOracle, Constraint`` working."""

from .evolution.failures import ConsecutiveFailuresError
from .evolution.oracle import Constraint, ParetoOracle

__all__ = ["ParetoOracle", "Constraint", "ConsecutiveFailuresError"]

"""The trial tuner now is :class:`kerasnac.evolution.ParetoSearch`; the old private names stay here
for code that imported them (``NACTuner`` is ``ParetoSearch``)."""

from .evolution.search import FAILURE_FILE, WEIGHTS_FILE, ParetoSearch, pareto_summary

NACTuner = ParetoSearch

__all__ = ["NACTuner", "ParetoSearch", "WEIGHTS_FILE", "FAILURE_FILE", "pareto_summary"]

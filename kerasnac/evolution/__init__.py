"""The evolutionary (NSGA-II) search on keras-tuner: an oracle/tuner pair and its strategy objects.

=================== ==========================================================================
``ParetoOracle``    the ``kt.Oracle``: Pareto ranking, baselines, proposals, resumable state
``ParetoSearch``    the ``kt.Tuner`` that trains a trial and reports every objective and cost
``TournamentSelection``  parent pool and binary tournament (``selection=``)
``UniformCrossover``     crossover of two parents (``crossover=``)
``GaussianMutation``     type-aware mutation of one hyperparameter (``mutation=``)
``WorkerLiveness``       which gRPC workers are silent too long (their trials are re-queued)
``ConsecutiveFailures``  stop after a run of failed trials, naming the most common cause
``Rungs``                the records and promotion answers of multi-fidelity trials
=================== ==========================================================================

Screening (:class:`kerasnac.Screening`) and the rung schedule (:class:`kerasnac.SuccessiveHalving`)
are options given to the oracle as well. Example with a user's crossover:

    >>> import kerasnac as kn
    >>> from kerasnac.evolution import MISSING
    >>> class FromFirst:                      # every value from the better parent
    ...     def __call__(self, parents, space, rng):
    ...         return [parents[0].get(hp.name, MISSING) for hp in space]
    >>> oracle = kn.ParetoOracle(["val_loss"], crossover=FromFirst(), seed=0)   # doctest: +SKIP
"""

from kerasnac._pareto import Constraint

from ._values import MISSING
from .crossover import UniformCrossover
from .failures import ConsecutiveFailures, ConsecutiveFailuresError
from .liveness import WorkerLiveness
from .mutation import GaussianMutation
from .oracle import ParetoOracle
from .robust import RobustOracle
from .rungs import Rungs
from .search import ParetoSearch, pareto_summary
from .selection import TournamentSelection

__all__ = ["ParetoOracle", "ParetoSearch", "Constraint", "ConsecutiveFailuresError", "TournamentSelection",
           "UniformCrossover", "GaussianMutation", "WorkerLiveness", "ConsecutiveFailures", "Rungs", "RobustOracle",
           "MISSING", "pareto_summary"]

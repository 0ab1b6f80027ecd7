"""The evolutionary (NSGA-II) search on keras-tuner: an oracle/tuner pair and its strategy objects.

* ``ParetoOracle`` (oracle.py): the ``kt.Oracle``: Pareto ranking, baselines, proposals, state;
* ``ParetoSearch`` (search.py): the ``kt.Tuner`` that trains a trial and reports every objective;
* ``TournamentSelection`` (selection.py): parent pool and binary tournament (``selection=``);
* ``UniformCrossover`` (crossover.py): crossover of two parents (``crossover=``);
* ``GaussianMutation`` (mutation.py): type-aware mutation of one hyperparameter (``mutation=``);
* ``RandomInitial``, ``CostStratified`` (initial.py): how the first population is drawn (``initial=``);
* offspring.py: one child from crossover, legal values and mutation; ranking.py: rank, crowding,
  violation of the completed trials;
* ``Rungs`` (rungs.py): the records and promotion answers of multi-fidelity trials;
* ``WorkerLiveness`` (liveness.py): which gRPC workers are silent too long (their trials re-run);
* ``ConsecutiveFailures`` (failures.py): stop after a run of failed trials, naming the cause;
* repair.py: crash repair after a reload; ``RobustOracle`` (robust.py): the ``kt.Oracle`` base
  that wires liveness, the failure policy, end-of-trial hooks and atomic state files.

Screening (:class:`kerasnac.Screening`) and the rung schedule (:class:`kerasnac.SuccessiveHalving`)
are options given to the oracle as well. Example with a user's crossover:

    >>> import kerasnac as kn
    >>> from kerasnac.evolution import MISSING
    >>> class FromFirst:                      # every value from the better parent
    ...     def __call__(self, parents, space, rng):
    ...         return [parents[0].get(hp.name, MISSING) for hp in space]
    >>> oracle = kn.ParetoOracle(["val_loss", "val_accuracy"], crossover=FromFirst(), seed=0)
    >>> oracle.objectives
    [('val_loss', 'min'), ('val_accuracy', 'max')]
"""

from kerasnac._pareto import Constraint

from ._values import MISSING
from .crossover import UniformCrossover
from .failures import ConsecutiveFailures, ConsecutiveFailuresError
from .initial import CostStratified, RandomInitial
from .liveness import WorkerLiveness
from .mutation import GaussianMutation
from .oracle import ParetoOracle
from .robust import RobustOracle
from .rungs import Rungs
from .search import ParetoSearch, pareto_summary
from .selection import TournamentSelection

__all__ = ["ParetoOracle", "ParetoSearch", "Constraint", "ConsecutiveFailuresError", "TournamentSelection",
           "UniformCrossover", "GaussianMutation", "WorkerLiveness", "ConsecutiveFailures", "Rungs", "RobustOracle",
           "MISSING", "pareto_summary", "RandomInitial", "CostStratified"]

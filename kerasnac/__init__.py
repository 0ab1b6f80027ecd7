"""kerasnac: neural architecture codesign of QKeras models for FPGAs (hls4ml), on keras-tuner.

Import kerasnac before TensorFlow: it selects Keras 2 (tf_keras), which QKeras needs.

    >>> import kerasnac as kn                                                   # doctest: +SKIP
    >>> space = kn.SearchSpace.from_yaml("jets_mlp")                             # doctest: +SKIP
    >>> nac = kn.KerasNAC(space, objectives=["val_accuracy", "bops"], max_trials=30)  # doctest: +SKIP
"""

from . import _keras  # noqa: F401  (must come first: binds tf_keras)
from . import callbacks, costs, datasets, hardware, local, space, studies
from .callbacks.export import load_model
from .callbacks.pruning import Pruning
from .errors import ConfigError, DataError, KerasNACError, SpaceError
from .gradient import GradientSearch, NotRelaxableError
from .local import LocalSearch, local_search
from .nac import KerasNAC
from .objectives import Objective
from .oracle import Constraint, ParetoOracle
from .screening import Screening
from .fidelity import SuccessiveHalving
from .space import Block, SearchSpace, register_block

__version__ = "0.1.0"

__all__ = ["Screening", "SuccessiveHalving", "GradientSearch", "NotRelaxableError", "load_model", "KerasNAC", "LocalSearch", "local_search", "Pruning", "callbacks", "local", "SearchSpace", "Objective", "ParetoOracle", "Constraint", "Block", "register_block",
           "costs", "datasets", "space", "studies", "KerasNACError", "SpaceError", "DataError", "ConfigError"]

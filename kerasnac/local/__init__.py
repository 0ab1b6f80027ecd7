"""The local stage: training-HPO, QAT bit widths and pruning of the best global candidates."""

from ._data import LocalData
from ._hpo import MedianStopping, TrainingSpace, tune_training
from ..callbacks import PruneSettings, kernel_sparsity  # the pruning machinery lives with Pruning
from ._qat import requantize
from ._stage import LocalSearch, apply_callbacks, final_table, local_search
from ._stage import _error_row as error_row, _row as model_row

__all__ = ["LocalData", "LocalSearch", "local_search", "TrainingSpace", "tune_training", "requantize", "kernel_sparsity",
           "PruneSettings", "MedianStopping", "final_table", "apply_callbacks", "model_row", "error_row"]

"""The local stage: training-HPO, QAT bit widths and pruning of the best global candidates."""

from ._data import LocalData
from ._hpo import MedianStopping, TrainingSpace, tune_training
from ._prune import PruneSettings, kernel_sparsity
from ._qat import requantize
from ._stage import LocalSearch, final_table, local_search

__all__ = ["LocalData", "LocalSearch", "local_search", "TrainingSpace", "tune_training", "requantize", "kernel_sparsity",
           "PruneSettings", "MedianStopping", "final_table"]

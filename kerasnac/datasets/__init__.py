"""Datasets made offline: generators in the package and loaders of files a user points to."""

from ._toy_jets import CLASSES as JET_CLASSES
from ._toy_jets import FEATURES as JET_FEATURES
from ._toy_jets import split_and_scale, toy_jets_hlf

__all__ = ["toy_jets_hlf", "split_and_scale", "JET_CLASSES", "JET_FEATURES"]

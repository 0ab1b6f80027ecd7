"""The local stage's data: the run's one :class:`kerasnac._data.Data` (this name is kept for user code)."""

from .._data import Data as LocalData

__all__ = ["LocalData"]

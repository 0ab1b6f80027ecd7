"""Gradient-based hardware-aware search: a single-shot supernet over a SearchSpace (ConNAS4ML-style)."""

from ._choices import NotRelaxableError
from ._supernet import Supernet

__all__ = ["Supernet", "NotRelaxableError"]

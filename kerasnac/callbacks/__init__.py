"""Post-search callbacks (pruning, hls4ml export, model export) and their registry."""

from ._base import Callback, Candidate, available_callbacks, get_callback, register_callback

__all__ = ["Callback", "Candidate", "register_callback", "available_callbacks", "get_callback"]

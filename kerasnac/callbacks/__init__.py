"""Post-search callbacks (pruning, hls4ml export, da4ml RTL + yosys synthesis, model export) and their registry."""

from ._base import Callback, Candidate, available_callbacks, get_callback, register_callback
from .export import Export, load_model
from .hls4ml_export import HLS4MLExport, HLS4MLExportError
from ._prune import PruneSettings, kernel_sparsity
from .pruning import Pruning
from .synthesis import Synthesis

__all__ = ["Callback", "Candidate", "register_callback", "available_callbacks", "get_callback",
           "HLS4MLExport", "HLS4MLExportError", "Synthesis", "Export", "load_model", "Pruning", "PruneSettings",
           "kernel_sparsity"]

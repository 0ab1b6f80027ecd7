"""kerasnac: neural architecture codesign of QKeras models for FPGAs (hls4ml), on keras-tuner.

Import kerasnac before TensorFlow: it selects Keras 2 (tf_keras), which QKeras needs.

    >>> import kerasnac as kn                                                   # doctest: +SKIP
    >>> space = kn.SearchSpace.from_yaml("jets_mlp")                             # doctest: +SKIP
    >>> nac = kn.KerasNAC(space, objectives=["val_accuracy", "bops"], max_trials=30)  # doctest: +SKIP

``import kerasnac`` itself is cheap: it only selects Keras 2 for a later TensorFlow import. The
public names below are imported on first use (PEP 562), so ``kerasnac --help`` and the error
classes never load TensorFlow; the first ``kn.<name>`` that needs it binds TensorFlow, tf_keras,
keras-tuner and QKeras in :mod:`kerasnac._keras`.
"""

import importlib as _importlib
import os as _os
import sys as _sys

if "tensorflow" not in _sys.modules:  # what kerasnac._keras does first, without importing TensorFlow yet
    _os.environ["TF_USE_LEGACY_KERAS"] = "1"
    from . import _importhook

    _importhook.install()
else:  # TensorFlow is loaded already: bind (and check its Keras) now, so a Keras 3 mix-up fails here
    from . import _keras  # noqa: F401

__version__ = "0.1.0"

#: public name -> the module that defines it (imported on first access)
_EXPORTS = {
    "KerasNAC": ".nac", "Objective": ".objectives", "ParetoOracle": ".evolution", "Constraint": ".evolution",
    "ParetoSearch": ".evolution",
    "Screening": ".screening", "SuccessiveHalving": ".fidelity", "GradientSearch": ".gradient",
    "LocalSearch": ".local", "local_search": ".local",
    "Pruning": ".callbacks.pruning", "load_model": ".callbacks.export",
    "Block": ".space", "SearchSpace": ".space", "register_block": ".space",
    **{name: ".errors" for name in ("KerasNACError", "SpaceError", "DataError", "ConfigError", "UnknownCostError",
                                    "NotRelaxableError", "ConsecutiveFailuresError", "HLS4MLExportError",
                                    "UnsupportedLayerError", "SynthesisError", "KerasVersionError")},
}
_SUBMODULES = ("callbacks", "costs", "datasets", "local", "space", "studies", "gradient", "errors", "evolution",
               "hardware")

__all__ = sorted(_EXPORTS) + list(_SUBMODULES)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(_importlib.import_module(_EXPORTS[name], __name__), name)
    elif name in _SUBMODULES:
        value = _importlib.import_module("." + name, __name__)
    else:
        raise AttributeError(f"module 'kerasnac' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))

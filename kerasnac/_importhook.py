"""Keep ``import kerasnac; import keras_tuner`` safe while ``import kerasnac`` stays lazy.

keras-tuner decides once, at its first import, whether it works with Keras 3 (``import keras``)
or with tf.keras; kerasnac needs the second (QKeras is Keras 2). The eager package used to bind it
by importing :mod:`kerasnac._keras` at ``import kerasnac``, which costs TensorFlow's import (5-15 s)
even for ``kerasnac --help``. Instead, ``import kerasnac`` installs this finder: if keras-tuner is
imported before kerasnac has bound it, its module runs with tf_keras visible as ``keras``, exactly
as :func:`kerasnac._keras.keras2_as_keras` does. Python's import system has no other hook for "run
this before a third-party module initialises", hence the small hand-written finder.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys


class _Keras2Loader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        import tf_keras  # TensorFlow is imported here with TF_USE_LEGACY_KERAS=1 (set by kerasnac/__init__)

        had, saved = "keras" in sys.modules, sys.modules.get("keras")
        sys.modules["keras"] = tf_keras
        try:
            self._loader.exec_module(module)
        finally:
            if had:
                sys.modules["keras"] = saved
            else:
                sys.modules.pop("keras", None)


class _KerasTunerFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "keras_tuner":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Keras2Loader(spec.loader)
        return spec


def install() -> None:
    """Add the finder once, unless keras-tuner is already imported (then kerasnac._keras checks it)."""
    if "keras_tuner" not in sys.modules and not any(isinstance(f, _KerasTunerFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _KerasTunerFinder())

"""The one place that binds TensorFlow, tf_keras (Keras 2), QKeras, keras-tuner and hls4ml.

Facts this module owns (verified on TF 2.21, see the project's design notes):

1. ``TF_USE_LEGACY_KERAS=1`` must be set *before* TensorFlow is first imported, so that
   ``tf.keras`` is tf_keras (Keras 2). QKeras and TFMOT only work on Keras 2.
2. keras-tuner does ``import keras`` at import time; if that finds Keras 3 it rejects tf_keras
   models. With ``sys.modules["keras"]`` pointing at ``tf_keras`` while keras-tuner is *first*
   imported, it takes its tf.keras path and accepts tf_keras models.
3. hls4ml 1.3 picks its converter with ``keras.__version__ >= '3.0'`` inside
   ``config_from_keras_model`` / ``convert_from_keras_model``; :func:`keras2_as_keras` makes those
   calls see tf_keras.

Every other module imports ``tf``, ``keras``, ``kt`` and ``qkeras`` from here and never imports
TensorFlow, Keras or keras-tuner directly.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Known-harmless warnings that QKeras triggers on every model save and build.
warnings.filterwarnings("ignore", message=r".*keras\.constraints\.serialize\(\)", category=UserWarning)
warnings.filterwarnings("ignore", message=r".*initializer \w+ is unseeded", category=UserWarning)


from .errors import KerasVersionError  # noqa: E402  (errors imports nothing)


def _check_not_keras3() -> None:
    tf_mod = sys.modules.get("tensorflow")
    if tf_mod is None:
        return
    # tf.keras is a lazy module whose __name__ is only right once an attribute resolved it
    model = getattr(getattr(tf_mod, "keras", None), "Model", None)
    if os.environ.get("TF_USE_LEGACY_KERAS") not in ("1", "true", "True") or not str(
            getattr(model, "__module__", "")).startswith("tf_keras"):
        raise KerasVersionError(
            "TensorFlow was already imported with Keras 3 as `tf.keras`, but QKeras, TFMOT and "
            "kerasnac need Keras 2 (tf_keras). Fix: restart the kernel/interpreter and import "
            "kerasnac before TensorFlow, or set the environment variable TF_USE_LEGACY_KERAS=1 "
            "before anything imports TensorFlow."
        )


if "tensorflow" not in sys.modules:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
_check_not_keras3()

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402


class _DropExpectedNotes:
    """Notes that are expected here: every trial builds new models (retracing), and reloaded models
    get a fresh optimizer (its slots are not restored)."""

    _EXPECTED = ("triggered tf.function retracing", "Skipping variable loading for optimizer")

    def filter(self, record):
        msg = record.getMessage()
        return not any(e in msg for e in self._EXPECTED)


tf.get_logger().addFilter(_DropExpectedNotes())
logging.getLogger("absl").addFilter(_DropExpectedNotes())
warnings.filterwarnings("ignore", message=r".*saving your model as an HDF5 file", category=UserWarning)


@contextlib.contextmanager
def keras2_as_keras():
    """Temporarily make ``import keras`` return tf_keras (for keras-tuner and hls4ml)."""
    saved = sys.modules.get("keras", None)
    had = "keras" in sys.modules
    sys.modules["keras"] = keras
    try:
        yield keras
    finally:
        if had:
            sys.modules["keras"] = saved
        else:
            sys.modules.pop("keras", None)


with keras2_as_keras():
    import keras_tuner as kt  # noqa: E402  (a no-op re-import if the user imported it first)

import qkeras  # noqa: E402
from qkeras.utils import _add_supported_quantized_objects  # noqa: E402


def _check_tuner_sees_keras2() -> None:
    from keras_tuner.src.backend.config import multi_backend

    if multi_backend():
        raise KerasVersionError(
            "keras_tuner was imported before kerasnac and bound itself to Keras 3, so it would "
            "reject the tf_keras/QKeras models kerasnac builds. Fix: restart the kernel and "
            "import kerasnac before keras_tuner."
        )


_check_tuner_sees_keras2()


def keep_oracle_seed(oracle, seed) -> None:
    """keras-tuner's ``Oracle.__init__`` does ``seed or random.randint(...)``, so a seed of 0 becomes
    random; set the seed the user gave back on ``oracle`` (a no-op for ``None``)."""
    if seed is not None:
        oracle.seed = oracle._seed_state = int(seed)


def custom_objects() -> dict:
    """Custom objects needed to deserialize QKeras models (``keras.models.load_model``)."""
    co: dict = {}
    _add_supported_quantized_objects(co)
    return co


def tfmot():
    """TensorFlow Model Optimization, imported lazily (it is slow to import)."""
    import tensorflow_model_optimization as _tfmot

    return _tfmot


def hls4ml():
    """hls4ml, imported lazily with tf_keras visible as ``keras``.

    Use :func:`keras2_as_keras` around ``config_from_keras_model``/``convert_from_keras_model``.
    """
    with keras2_as_keras():
        import hls4ml as _hls4ml
    return _hls4ml


__all__ = ["tf", "keras", "kt", "qkeras", "custom_objects", "keep_oracle_seed", "tfmot", "hls4ml", "keras2_as_keras",
           "KerasVersionError"]

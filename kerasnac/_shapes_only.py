"""Build a model for its costs only: layers get their weights and output shapes, no graph ops.

Why this exists: the search computes the exact costs (BOPs, LUT, ...) of candidate architectures
before training them (the stratified first population, the screening of children). A cost needs
each layer's weights, quantizers and shapes, nothing of its computation. tf_keras, however, infers
every layer's output in the functional API by *calling* the layer on placeholders in a scratch
graph; for QKeras layers that runs their quantizers through autograph and creates a few hundred
graph ops per model. That was 0.35-0.4 s of the 0.41 s a jets_mlp candidate took to build (the
cost evaluation itself: 7 ms), i.e. most of the search's proposal time.

Inside :func:`shapes_only`, a layer whose class defines ``compute_output_shape`` (Dense, Conv,
BatchNormalization, pooling and every QKeras layer of the shipped spaces do) is built with its
input shape and returns a KerasTensor of that shape, without calling it. Every other layer, and any
call with masks or extra arguments, goes the normal way. The models built so are for costs only:
they are never trained or saved (``tests/test_shapes_only.py`` checks that their costs equal those
of a normal build for draws from every shipped space).

The switch is thread-local: a model built on another thread at the same time is built normally.
"""

from __future__ import annotations

import contextlib
import threading

from ._keras import keras, tf

_base = keras.layers.Layer
_state = threading.local()
_original = _base._infer_output_signature
_KerasTensor = type(keras.Input(shape=(1,)))


def _defines_output_shape(layer) -> bool:
    return type(layer).compute_output_shape is not _base.compute_output_shape


def _one_shape(shape):
    """A TensorShape from what ``compute_output_shape`` returned (QKeras returns tuples), or None."""
    if isinstance(shape, tf.TensorShape):
        return shape
    if isinstance(shape, (tuple, list)) and all(d is None or isinstance(d, int) for d in shape):
        return tf.TensorShape(shape)
    return None


def _infer(self, inputs, args, kwargs, input_masks):
    if (not getattr(_state, "on", False) or args or any(v is not None for k, v in kwargs.items() if k != "training")
            or any(m is not None for m in tf.nest.flatten(input_masks)) or not _defines_output_shape(self)):
        return _original(self, inputs, args, kwargs, input_masks)
    self._maybe_build(inputs)
    shape = _one_shape(self.compute_output_shape(tf.nest.map_structure(lambda t: t.shape, inputs)))
    if shape is None:  # several outputs, or a shape this does not understand: the normal way
        return _original(self, inputs, args, kwargs, input_masks)
    outputs = _KerasTensor(tf.TensorSpec(shape, self.compute_dtype))
    self._set_save_spec(inputs, args, kwargs)
    return outputs


_base._infer_output_signature = _infer


@contextlib.contextmanager
def shapes_only():
    """Within this block (on this thread), functional models are assembled from output shapes."""
    previous = getattr(_state, "on", False)
    _state.on = True
    try:
        yield
    finally:
        _state.on = previous


__all__ = ["shapes_only"]

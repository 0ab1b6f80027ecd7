"""Model utilities: compile a copy like the original, evaluate it, copy weights, prepare a trial's first step.

Compile a copy like the original (same loss and metrics, new optimizer), evaluate it and copy weights
between variants (the local stage and the post-search callbacks); create a trial's variables before
its first ``fit`` and validate eagerly when that is cheaper (``ParetoSearch``)."""

from __future__ import annotations

from ._keras import keras


def compile_like(model, ref, optimizer=None):
    metrics = getattr(getattr(ref, "compiled_metrics", None), "_user_metrics", None)
    if not metrics:
        metrics = ["accuracy"] if "crossentropy" in str(getattr(ref, "loss", "")) else ["mae"]
    model.compile(optimizer=optimizer or keras.optimizers.Adam(1e-3), loss=ref.loss, metrics=metrics)
    return model


def evaluate(model, val) -> dict:
    """Validation metrics of a compiled model as ``{"val_<name>": value}``."""
    out = model.evaluate(val, verbose=0, return_dict=True)
    return {f"val_{k}": float(v) for k, v in out.items()}


def copy_weights(src, dst) -> int:
    """Copy weights layer by layer (matched by name and shapes); return how many layers got them."""
    n = 0
    for layer in dst.layers:
        try:
            other = src.get_layer(layer.name)
        except ValueError:
            continue
        w = other.get_weights()
        if w and [a.shape for a in w] == [b.shape for b in layer.get_weights()]:
            layer.set_weights(w)
            n += 1
    return n


# --------------------------------------------------------------------- a trial's first step
# A small model's trial is mostly graph tracing (benchmarks/trial_phases.py --compare). Two of its
# costs are avoidable with Keras's own machinery, so they are handled here rather than in QKeras:
EAGER_VALIDATION_BATCHES = 8  # validation batches x epochs up to which an eager evaluation is cheaper than
# tracing the test function: about 20 ms per eager batch against 150-300 ms per trace for the shipped spaces


def create_variables(model, x, y) -> bool:
    """Create now, outside ``tf.function``, the variables a first training step would create (optimizer
    slots, loss and metric accumulators). A ``tf.function`` that creates variables on its first call is
    traced twice (once creating them, once without), so this halves the training function's tracing.
    ``x``/``y``: two samples of the inputs and labels. Returns False (and changes nothing that matters)
    when the model is not a compiled tf_keras model this understands; it is an optimisation only."""
    opt = getattr(model, "optimizer", None)
    if opt is None or getattr(model, "compiled_loss", None) is None:
        return False
    try:
        if hasattr(opt, "_create_all_weights"):  # a tf_keras.optimizers.legacy optimizer
            opt._create_all_weights(model.trainable_variables)
        else:
            opt.build(model.trainable_variables)
        y_pred = model(x, training=False)
        model.compiled_loss.build(y_pred)
        model.compiled_metrics.build(y_pred, y)
    except Exception:  # noqa: BLE001 - an optimisation: training creates what is missing as usual
        return False
    return True


def eager_validation(model) -> None:
    """Evaluate ``model`` without a traced test function (each validation batch runs op by op):
    Keras's own ``make_test_function`` with ``run_eagerly`` set while it is made."""
    run = model._run_eagerly
    model._run_eagerly = True
    try:
        model.make_test_function(force=True)
    finally:
        model._run_eagerly = run


# the settings a tf_keras optimizer may have for its legacy (fused-kernel) twin to follow the same rule
_LEGACY_KEYS = {"Adam": ("learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad"),
                "SGD": ("learning_rate", "momentum", "nesterov"),
                "RMSprop": ("learning_rate", "rho", "momentum", "epsilon", "centered")}


def fused_optimizer(model) -> bool:
    """Recompile ``model`` (before any training) with the legacy twin of its tf_keras Adam/SGD/RMSprop:
    one fused kernel per variable update (``ResourceApplyAdam``, ...) instead of a dozen graph ops, the
    same update rule, a shorter trace. Only for a trial's own training: legacy optimizers lose their
    state in the ``.keras`` format, so models users keep are compiled with the new ones. Returns whether
    it recompiled (not for optimizers with weight decay, clipping, EMA, schedules or other classes)."""
    opt = getattr(model, "optimizer", None)
    name = type(opt).__name__
    if name not in _LEGACY_KEYS or type(opt) is not getattr(keras.optimizers, name, None):
        return False
    cfg = opt.get_config()
    if cfg.get("weight_decay") or cfg.get("use_ema") or any(cfg.get(k) is not None for k in
                                                             ("clipnorm", "clipvalue", "global_clipnorm")):
        return False
    import numbers

    if not isinstance(cfg.get("learning_rate"), numbers.Real):  # a float (numpy's too), not a schedule
        return False
    twin = getattr(keras.optimizers.legacy, name)(**{k: cfg[k] for k in _LEGACY_KEYS[name] if k in cfg})
    metrics = getattr(getattr(model, "compiled_metrics", None), "_user_metrics", None)
    model.compile(optimizer=twin, loss=model.loss, metrics=metrics)
    return True


def prepare_first_step(model, train, validation, epochs: int, batch_size: int | None = None) -> None:
    """What :class:`~kerasnac.ParetoSearch` does to a trial's compiled model before its first ``fit``:
    give it the fused twin of its optimizer (:func:`fused_optimizer`), create its variables from two
    samples of ``train`` (read from its ``element_spec``, so a shuffled pipeline is not advanced), and
    evaluate eagerly when the validation run is too short to repay a trace."""
    fused_optimizer(model)
    sample = _two_samples(train)
    if sample is not None:
        create_variables(model, *sample)
    batches = _batches(validation, batch_size)
    if batches is not None and batches * max(int(epochs), 1) <= EAGER_VALIDATION_BATCHES:
        eager_validation(model)


def _two_samples(train):
    import numpy as np
    import tensorflow as tf

    spec = getattr(train, "element_spec", None)
    if isinstance(spec, tuple) and len(spec) == 2 and all(isinstance(s, tf.TensorSpec) for s in spec):
        def zeros(s):
            return tf.zeros([2] + [d if d is not None else 1 for d in s.shape.as_list()[1:]], s.dtype)
        return zeros(spec[0]), zeros(spec[1])
    if isinstance(train, (tuple, list)) and len(train) == 2 and all(isinstance(a, np.ndarray) for a in train):
        return train[0][:2], train[1][:2]
    return None


def _batches(validation, batch_size):
    import math

    import numpy as np
    import tensorflow as tf

    if isinstance(validation, tf.data.Dataset):
        n = int(validation.cardinality())
        return n if n >= 0 else None
    if isinstance(validation, (tuple, list)) and validation and isinstance(validation[0], np.ndarray):
        return math.ceil(len(validation[0]) / (batch_size or 32))
    return None

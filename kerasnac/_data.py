"""Validation of user data against a search space, prepared once per run into one :class:`Data`.

:func:`prepare` checks ``x``/``y`` (or tf.data datasets), splits off the validation data and returns
a :class:`Data`; the global search, the local stage and the post-search callbacks all take that one
object (its cached pipelines and its arrays) and none of them checks, splits or converts again.
"""

from __future__ import annotations

import numpy as np

from ._keras import tf
from .errors import ConfigError, DataError


def _is_dataset(obj) -> bool:
    return isinstance(obj, tf.data.Dataset)


def _check_finite(arr, what) -> np.ndarray:
    """Raise unless ``arr`` holds numbers that are finite *as float32* (what training sees); return that cast."""
    if not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"{what} has dtype {arr.dtype}; expected numbers. Convert it with np.asarray(..., dtype='float32').")
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = np.argwhere(bad)[0]
        raise DataError(f"{what} contains {int(bad.sum())} NaN/inf values (first at index {tuple(int(i) for i in idx)}). "
                        "Remove or impute those samples before the search.")
    with np.errstate(over="ignore"):
        arr32 = arr.astype("float32")
    over = ~np.isfinite(arr32)
    if over.any():
        idx = tuple(int(i) for i in np.argwhere(over)[0])
        raise DataError(f"{what} has {int(over.sum())} values outside the float32 range (|value| > 3.4e38, first "
                        f"{arr[idx]:.3g} at index {idx}); they overflow to inf when cast to float32 for training. "
                        f"Rescale {what} (e.g. standardize it) before the search.")
    return arr32


#: tolerance of the row sums of one-hot / probability labels
ROW_SUM_TOL = 1e-3


def _check_labels(space, y: np.ndarray, ywhat: str) -> tuple[np.ndarray, str]:
    """Check the targets ``y`` against the space; return them ready for training and the label mode."""
    y32 = _check_finite(y, ywhat)
    if space.task == "classification":
        k = space.num_classes
        if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1 and k != 1):
            y = y.reshape(-1)
            if not np.all(np.equal(np.mod(y, 1), 0)):
                raise DataError(f"{ywhat} holds non-integer class labels; give integers 0..{k - 1} or one-hot rows.")
            lo, hi = int(y.min()), int(y.max())
            if lo < 0 or hi >= k:
                raise DataError(f"{ywhat} has class labels in [{lo}, {hi}] but num_classes={k} needs 0..{k - 1}. "
                                f"Fix num_classes (={hi + 1}?) or the labels.")
            return y.astype("int32"), "sparse"
        if y.ndim == 2 and y.shape[1] == k:
            sums = y32.sum(axis=1, dtype="float64")
            bad = (np.abs(sums - 1) > ROW_SUM_TOL) | (y32 < -ROW_SUM_TOL).any(axis=1)
            if bad.any():
                first = int(np.argmax(bad))
                raise DataError(f"{ywhat} has {int(bad.sum())} of {len(y)} rows that are neither one-hot nor "
                                f"probabilities summing to 1 (first: row {first}, sum {sums[first]:.4g}). Give one-hot "
                                f"rows (keras.utils.to_categorical(labels, {k})), non-negative probabilities that sum "
                                "to 1, or integer labels of shape (n,).")
            return y32, "onehot"
        raise DataError(f"{ywhat} has shape {y.shape}; with num_classes={k} expected integer labels of shape (n,) "
                        f"or one-hot labels of shape (n, {k}). Fix num_classes or the labels.")
    n = space.n_outputs
    if y.ndim == 1 and n == 1:
        y32 = y32.reshape(-1, 1)
    if y32.ndim != 2 or y32.shape[1] != n:
        raise DataError(f"{ywhat} has shape {y.shape} but the regression space has n_outputs={n}; "
                        f"expected shape (n, {n}).")
    return y32, "regression"


def check_arrays(space, x, y, what="x", ywhat=None) -> tuple[np.ndarray, np.ndarray, str]:
    """Check one (x, y) pair; return float32 x, y ready for training and the label mode."""
    ywhat = ywhat or ("y" if what == "x" else what.replace("x", "y"))
    if x is None or y is None:
        raise DataError(f"{what} and {ywhat} must both be given.")
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 0 or len(x) == 0:
        raise DataError(f"{what} is empty. Pass at least one sample.")
    if len(x) != len(y):
        raise DataError(f"{what} has {len(x)} samples but {ywhat} has {len(y)}. They must match.")
    if tuple(x.shape[1:]) != tuple(space.input_shape):
        raise DataError(f"{what} has sample shape {tuple(x.shape[1:])} but the search space expects input_shape "
                        f"{tuple(space.input_shape)}. Fix: build the space with input_shape={tuple(x.shape[1:])} "
                        f"or reshape {what}.")
    x = _check_finite(x, what)
    y, mode = _check_labels(space, y, ywhat)
    return x, y, mode


def check_dataset(space, ds, what="x"):
    """Check a batched ``tf.data.Dataset`` of ``(x, y)``: its spec, then its first batch with the numpy checks."""
    spec = ds.element_spec
    if not isinstance(spec, tuple) or len(spec) < 2:
        raise DataError(f"{what}: a tf.data.Dataset must yield (x, y) batches.")
    shape = tuple(spec[0].shape[1:])
    if shape != tuple(space.input_shape):
        raise DataError(f"{what}: the dataset yields batches of sample shape {shape} but the space expects "
                        f"input_shape {tuple(space.input_shape)}. Batch it with ds.batch(...) and check the shape.")
    batch = next(iter(ds.take(1)), None)
    if batch is None:
        raise DataError(f"{what}: the tf.data.Dataset is empty. Pass at least one batch.")
    name = "the training dataset" if what == "x" else what
    return check_arrays(space, np.asarray(batch[0]), np.asarray(batch[1]), what=f"{name} (first batch) x",
                        ywhat=f"{name} (first batch) y")[2]


def split(x, y, validation_split: float, seed: int):
    if not 0 < validation_split < 1:
        raise DataError(f"validation_split must be in (0, 1), got {validation_split}.")
    n_val = max(1, int(round(len(x) * validation_split)))
    if n_val >= len(x):
        raise DataError(f"{len(x)} samples are too few to hold out {validation_split:.0%} for validation.")
    idx = np.random.default_rng(seed).permutation(len(x))
    return (x[idx[n_val:]], y[idx[n_val:]]), (x[idx[:n_val]], y[idx[:n_val]])


class Data:
    """The checked arrays of one run (float32 ``x``, training-ready labels), batched on demand into
    cached tf.data pipelines: the global search uses one batch size, the local stage tunes it.

    For tf.data input (``datasets=(train, val)``) the arrays are ``None`` and the pipelines are the
    user's; the local stage and the callbacks, which need arrays, are skipped for such data.
    """

    def __init__(self, x, y, x_val, y_val, seed: int = 0, batch_size: int = 256, *, mode: str | None = None,
                 datasets=None):
        self.x, self.y, self.x_val, self.y_val = x, y, x_val, y_val
        self.seed, self.batch_size, self.mode = seed, batch_size, mode
        self._cache: dict = {}
        if datasets is not None:
            self._cache["train", batch_size], self._cache["val"] = datasets

    @property
    def has_arrays(self) -> bool:
        return self.x is not None

    @property
    def n_train(self) -> int | None:
        """Training samples: the arrays' length, or for a ``tf.data`` input its number of batches times
        the length of its first batch (a last, partial batch counts as full), ``None`` when TensorFlow
        does not know how many batches it has (e.g. after ``repeat()`` or ``filter()``)."""
        if self.has_arrays:
            return len(self.x)
        ds = self._cache["train", self.batch_size]
        batches = int(ds.cardinality())
        if batches <= 0:
            return None
        first = next(iter(ds.take(1)))
        return batches * int(tf.shape(tf.nest.flatten(first)[0])[0])

    @property
    def validation(self):
        """What per-trial objective functions get as validation data: ``(x_val, y_val)`` or the dataset."""
        return (self.x_val, self.y_val) if self.has_arrays else self._cache["val"]

    def train(self, batch_size: int | None = None, seed: int | None = None):
        """The shuffled, batched training pipeline. With ``seed``, a new pipeline whose shuffle starts from
        that seed (one per trial, so a trial's data order does not depend on what ran before it in the
        process); without, one cached pipeline per batch size, seeded with the run's seed."""
        bs = batch_size or self.batch_size
        key = ("train", bs)
        if seed is None and key in self._cache:
            return self._cache[key]
        if "base" not in self._cache:
            self._cache["base"] = tf.data.Dataset.from_tensor_slices((self.x, self.y)).cache()
        ds = (self._cache["base"]
              .shuffle(min(len(self.x), 50_000), seed=self.seed if seed is None else seed,
                       reshuffle_each_iteration=True)
              .batch(bs).prefetch(tf.data.AUTOTUNE))
        if seed is None:
            self._cache[key] = ds
        return ds

    def train_for_seed(self, seed: int):
        """The training pipeline at the run's batch size with its shuffle seeded by ``seed``: what
        ``ParetoSearch.run_trial`` trains each trial on (``train_for_seed=``)."""
        return self.train(None, seed)

    def target_mean(self, num_classes: int | None = None):
        """The training targets' mean per output, computed once: a regression's mean target, or a
        classifier's class frequencies (the mean one-hot row; integer labels need ``num_classes``).
        None for a tf.data input whose length TensorFlow does not know (it may repeat forever)."""
        if self.mode != "regression" and num_classes is None:
            raise ValueError("target_mean() of class labels needs num_classes.")
        key = ("target_mean", num_classes)
        if key not in self._cache:
            if self.has_arrays:
                mean = self._label_sum(self.y, num_classes) / max(len(self.y), 1)
            else:
                ds = self._cache["train", self.batch_size]
                if int(ds.cardinality()) <= 0:
                    return None
                total, count = 0.0, 0
                for _, yb in ds:  # one pass over the labels, once per run
                    total, count = total + self._label_sum(yb, num_classes), count + len(yb)
                mean = total / max(count, 1)
            self._cache[key] = [float(v) for v in np.ravel(mean)]
        return self._cache[key]

    def _label_sum(self, y, num_classes):
        """The sum of a batch of labels per output (per class for integer labels)."""
        y = np.asarray(y)
        if self.mode == "sparse":
            return np.bincount(y.reshape(-1).astype("int64"), minlength=num_classes).astype("float64")
        return y.astype("float64").reshape(len(y), -1).sum(axis=0)

    def val(self):
        if "val" not in self._cache:
            self._cache["val"] = (tf.data.Dataset.from_tensor_slices((self.x_val, self.y_val))
                                  .batch(max(self.batch_size, 1024)).cache().prefetch(tf.data.AUTOTUNE))
        return self._cache["val"]


def prepare(space, x, y=None, validation_data=None, validation_split: float = 0.2, batch_size: int = 256,
            seed: int = 0) -> Data:
    """Check the data against the space (before any training) and split off the validation data once."""
    if isinstance(x, Data):
        return x
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise DataError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if _is_dataset(x):
        mode = check_dataset(space, x)
        if validation_data is None or not _is_dataset(validation_data):
            raise DataError("with a tf.data.Dataset for x, give validation_data as a tf.data.Dataset too.")
        vmode = check_dataset(space, validation_data, "validation_data")
        if vmode != mode:
            raise DataError(f"training labels are {mode} but validation labels are {vmode}.")
        return Data(None, None, None, None, seed=seed, batch_size=batch_size, mode=mode,
                    datasets=(x.prefetch(tf.data.AUTOTUNE), validation_data.prefetch(tf.data.AUTOTUNE)))
    x, y, mode = check_arrays(space, x, y)
    if validation_data is None:
        (x, y), (xv, yv) = split(x, y, validation_split, seed)
    else:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise DataError("validation_data must be a tuple (x_val, y_val).")
        xv, yv, vmode = check_arrays(space, *validation_data, what="x_val")
        if vmode != mode:
            raise DataError(f"y holds {mode} labels but y_val holds {vmode} labels; use one format for both.")
    return Data(x, y, xv, yv, seed=seed, batch_size=batch_size, mode=mode)


#: ``output_bias`` values: the training targets' mean, or zeros (Keras' default)
OUTPUT_BIAS = ("mean", None)
#: the smallest class frequency a classification head's start is computed from (a class absent from
#: the training data would otherwise ask for a bias of minus infinity)
MIN_CLASS_FREQUENCY = 1e-4


def check_output_bias(output_bias) -> None:
    if output_bias not in OUTPUT_BIAS:
        raise ConfigError(f"output_bias must be 'mean' (every model's output starts at the training targets' mean: "
                          f"the mean target of a regression, the class frequencies of a classifier) or None (the "
                          f"head's bias starts at zero), got {output_bias!r}.")


def log_prior_bias(frequencies) -> list[float]:
    """The softmax bias whose output is ``frequencies``: their logs, centred on zero (a softmax ignores a
    common shift, and centred values are the least clipped by a narrow bias quantizer)."""
    logs = np.log(np.maximum(np.asarray(frequencies, dtype="float64"), MIN_CLASS_FREQUENCY))
    return [float(v) for v in logs - logs.mean()]


def configure_space(space, data: Data, output_bias="mean") -> None:
    """What the space takes from the run's prepared data before any model is built: the label mode
    (one-hot or integer labels) and the initial bias of the head.

    A regression head that starts at zero spends a short trial learning the targets' offset (Bragg
    centres sit at 0.46 of the patch; with 3 epochs of 1,800 patches most models ended worse than the
    mean), so every trial, baseline and derived model starts from the mean instead, and what a
    trial measures is the architecture. A classifier's head starts at the log class frequencies, so
    its softmax predicts the class priors before training (the form RetinaNet's rare-class prior
    takes, Lin et al. 2017, arXiv:1708.02002): with balanced classes that is zero, with a rare
    signal class the trial does not spend its steps learning the imbalance."""
    if data.mode != "regression":
        space.label_mode = data.mode
    if output_bias != "mean":
        space.output_bias = None
    elif space.task == "classification":
        freq = data.target_mean(space.num_classes)
        space.output_bias = None if freq is None else log_prior_bias(freq)
    else:
        space.output_bias = data.target_mean()

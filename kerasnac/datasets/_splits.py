"""Shared helpers: seeded train/val/test splits, standard scaling fitted on train, one-hot labels."""

from __future__ import annotations

import numpy as np


def split_indices(n: int, val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0):
    """Return ``(train_idx, val_idx, test_idx)`` of a seeded permutation of ``range(n)``."""
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(f"val_fraction + test_fraction must be in [0, 1), got {val_fraction} + {test_fraction}.")
    idx = np.random.default_rng(seed).permutation(n)
    n_test, n_val = int(n * test_fraction), int(n * val_fraction)
    return idx[n_test + n_val:], idx[n_test:n_test + n_val], idx[:n_test]


def split_arrays(x, y, val_fraction=0.2, test_fraction=0.2, seed=0):
    """Split ``x`` and ``y`` (same first dimension) into ``(train, val, test)`` pairs, unscaled."""
    tr, va, te = split_indices(len(x), val_fraction, test_fraction, seed)
    return (x[tr], y[tr]), (x[va], y[va]), (x[te], y[te])


def one_hot(labels, n_classes: int):
    labels = np.asarray(labels, dtype=np.int64)
    return np.eye(n_classes, dtype=np.float32)[labels]


class StandardScaler:
    """Per-feature standard scaling over all axes but the last.

    With ``padding=True`` entries whose features are all zero (zero-padded constituents) are
    ignored when fitting and stay exactly zero after :meth:`transform`, so a network can still
    tell padding from particles.
    """

    def __init__(self, padding: bool = False):
        self.padding = padding
        self.mean_ = self.std_ = None

    def _rows(self, x):
        flat = x.reshape(-1, x.shape[-1])
        if self.padding:
            flat = flat[np.any(flat != 0, axis=1)]
        return flat

    def fit(self, x):
        rows = self._rows(np.asarray(x, dtype=np.float64))
        if len(rows) == 0:
            raise ValueError("Cannot fit a scaler on an empty array.")
        self.mean_, self.std_ = rows.mean(axis=0), rows.std(axis=0) + 1e-8
        return self

    def transform(self, x):
        x = np.asarray(x, dtype=np.float64)
        out = (x - self.mean_) / self.std_
        if self.padding:
            out = np.where(np.any(x != 0, axis=-1, keepdims=True), out, 0.0)
        return out.astype(np.float32)

    def get_state(self):
        return {"mean": self.mean_.tolist(), "std": self.std_.tolist(), "padding": self.padding}


def split_scale_onehot(x, labels, n_classes, val_fraction=0.2, test_fraction=0.2, seed=0, scale=True,
                       padding=False):
    """Split, standard-scale with train statistics and one-hot encode integer ``labels``.

    Returns ``(x_train, y_train), (x_val, y_val), (x_test, y_test)``.
    """
    y = one_hot(labels, n_classes)
    (xt, yt), (xv, yv), (xs, ys) = split_arrays(np.asarray(x), y, val_fraction, test_fraction, seed)
    if scale:
        sc = StandardScaler(padding=padding).fit(xt)
        xt, xv, xs = sc.transform(xt), sc.transform(xv), sc.transform(xs)
    else:
        xt, xv, xs = (a.astype(np.float32) for a in (xt, xv, xs))
    return (xt, yt), (xv, yv), (xs, ys)

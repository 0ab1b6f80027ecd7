"""Arrays held once, batched on demand into cached tf.data pipelines (the global search uses one
batch size; the local stage tunes it)."""

from __future__ import annotations

from .._keras import tf


class LocalData:
    def __init__(self, x, y, x_val, y_val, seed: int = 0, batch_size: int = 256):
        self.x, self.y, self.x_val, self.y_val = x, y, x_val, y_val
        self.seed, self.batch_size = seed, batch_size
        self._cache: dict = {}

    def train(self, batch_size: int | None = None):
        bs = batch_size or self.batch_size
        key = ("train", bs)
        if key not in self._cache:
            self._cache[key] = (tf.data.Dataset.from_tensor_slices((self.x, self.y)).cache()
                                .shuffle(min(len(self.x), 50_000), seed=self.seed, reshuffle_each_iteration=True)
                                .batch(bs).prefetch(tf.data.AUTOTUNE))
        return self._cache[key]

    def val(self):
        if "val" not in self._cache:
            self._cache["val"] = (tf.data.Dataset.from_tensor_slices((self.x_val, self.y_val))
                                  .batch(max(self.batch_size, 1024)).cache().prefetch(tf.data.AUTOTUNE))
        return self._cache["val"]

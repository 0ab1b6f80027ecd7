"""A small seeded search, run as a subprocess by test_resume.py and test_distributed.py.

    python tests/_search_proc.py DIRECTORY MAX_TRIALS
    python tests/_search_proc.py DIRECTORY local     (2 trials, then a small local stage)

Environment: ``KERASNAC_TEST_SLEEP`` (seconds slept at the end of each trial's training, to make a
trial long enough to be killed in the middle); keras-tuner's chief/worker variables select the role.
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import kerasnac as kn  # noqa: E402
from kerasnac._keras import keras  # noqa: E402


def small_space():
    return kn.SearchSpace(
        (16,), [{"mlp": {"layers": {"min": 1, "max": 2}, "units": [4, 8, 16]}}, {"mlp": {"units": [4, 8]}, "skip": {}}],
        num_classes=5, quant={"weight_bits": [3, 6, 16], "activation_bits": [4, 8], "activation_integer": 0},
        training={"learning_rate": 0.01},
        baselines={"tiny": {"s0": {"block": "mlp", "layers": 1, "units": [4], "quant": {"weight_bits": 3}}}},
    )


class Sleep(keras.callbacks.Callback):
    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_train_end(self, logs=None):
        time.sleep(self.seconds)


class Crash(keras.callbacks.Callback):
    """Ends its process at the start of training (a worker that crashes mid-trial)."""

    def on_train_begin(self, logs=None):
        os._exit(7)


def n_params(model):
    """A callable objective defined in an importable module (workers can unpickle it)."""
    return float(model.count_params())


def small_search(directory, max_trials, population_size, epochs, n=300, callbacks=None,
                 objectives=("val_accuracy", "bops"), **kwargs):
    """A finished KerasNAC search on the small space (seed 0, no baselines, silent)."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 16)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    nac = kn.KerasNAC(small_space(), list(objectives), max_trials=max_trials, population_size=population_size,
                      directory=str(directory), seed=0, baselines=False, verbose=0, **kwargs)
    nac.fit(x, y, epochs=epochs, batch_size=64, callbacks=callbacks)
    return nac


def main(directory, max_trials):
    x, y = kn.datasets.toy_jets_hlf(600, seed=0)
    (xt, yt), (xv, yv), _ = kn.datasets.split_and_scale(x, y, val_fraction=0.25, test_fraction=0.0, seed=0)
    sleep = float(os.environ.get("KERASNAC_TEST_SLEEP", "0"))
    nac = kn.KerasNAC(small_space(), ["val_accuracy", "bops"], max_trials=max_trials, population_size=3,
                      directory=directory, project_name="p", seed=0, verbose=int(os.environ.get("KERASNAC_TEST_VERBOSE", "0")),
                      fit_callbacks=[Sleep(sleep)] if sleep else [])
    nac.fit(xt, yt, validation_data=(xv, yv), epochs=1, batch_size=64)
    print(f"DONE {nac.role}", flush=True)


def local_main(directory):
    """Two global trials, then a local stage (HPO, QAT at two precisions, two pruning steps each)."""
    x, y = kn.datasets.toy_jets_hlf(600, seed=0)
    (xt, yt), (xv, yv), _ = kn.datasets.split_and_scale(x, y, val_fraction=0.25, test_fraction=0.0, seed=0)
    local = kn.LocalSearch(top_k=1, hpo_trials=1, epochs=1, bits=[(8, 3), (4, 1)],
                           prune=kn.Pruning(0.5, steps=2, epochs_per_step=1, batch_size=64))
    nac = kn.KerasNAC(small_space(), ["val_accuracy", "bops"], max_trials=2, population_size=2, directory=directory,
                      project_name="p", seed=0, verbose=0, baselines=False, local_search=local)
    nac.fit(xt, yt, validation_data=(xv, yv), epochs=1, batch_size=64)
    print(f"DONE {nac.role}", flush=True)
    return nac


if __name__ == "__main__":
    if sys.argv[2] == "local":
        local_main(sys.argv[1])
    else:
        main(sys.argv[1], int(sys.argv[2]))

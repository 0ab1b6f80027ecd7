import os
import warnings

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import kerasnac  # noqa: E402,F401  (binds tf_keras before anything imports TensorFlow)

warnings.filterwarnings("ignore", category=UserWarning)


@pytest.fixture
def seed():
    from kerasnac._keras import keras

    keras.utils.set_random_seed(0)
    np.random.seed(0)
    return 0


@pytest.fixture(scope="session")
def jets():
    """Small scaled toy jet features: (train, val) with 600/200 samples, one-hot labels."""
    x, y = kerasnac.datasets.toy_jets_hlf(1000, seed=0)
    tr, va, _ = kerasnac.datasets.split_and_scale(x, y, val_fraction=0.2, test_fraction=0.2, seed=0)
    return tr, va

"""Pythia 8 jets made by :mod:`kerasnac.datasets._pythia_jets`: the shipped sample and larger files.

The package ships ``kerasnac/datasets/data/jets_pythia8_sample.npz`` (made by
``scripts/generate_jets.py --preset sample``), so tests, demos and notebooks run without Pythia.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ._jet_substructure import HLF_FEATURES
from ._splits import split_scale_onehot

CLASSES = ("g", "q", "w", "z", "t")
SAMPLE_PATH = Path(__file__).with_name("data") / "jets_pythia8_sample.npz"


def load_jets_file(path=None) -> dict:
    """Read a generated jets file (default: the shipped sample) into a dict of arrays + ``metadata``."""
    path = SAMPLE_PATH if path is None else Path(os.fspath(path))
    if not path.exists():
        hint = (" The shipped sample is missing from this installation; regenerate it with "
                "`python scripts/generate_jets.py --preset sample`." if path == SAMPLE_PATH else "")
        raise FileNotFoundError(f"{path} not found.{hint}")
    with np.load(path, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files if k != "metadata"}
        data["metadata"] = json.loads(str(f["metadata"])) if "metadata" in f.files else {}
    return data


def jets(path=None, features: str = "hlf", n_constituents: int = 8, val_fraction: float = 0.2,
         test_fraction: float = 0.2, seed: int = 0, scale: bool = True, classes=None):
    """Pythia 8 jets split for Keras: ``(x_train, y_train), (x_val, y_val), (x_test, y_test)``.

    Args:
        path: a file written by ``scripts/generate_jets.py``; ``None`` uses the shipped sample.
        features: ``"hlf"`` -> x (n, 16) named as :data:`JET_FEATURES`; ``"constituents"`` ->
            x (n, n_constituents, 3) = (pT, eta_rel, phi_rel) of the leading particles, zero-padded.
        n_constituents: number of leading constituents (at most what the file stores).
        scale: standard scaling with train statistics (constituents: per feature over real
            particles; padding stays exactly 0).
        classes: optional subset, e.g. ``("q", "g")``; labels are re-indexed in that order.

    Labels are one-hot in the order ``("g", "q", "w", "z", "t")`` (or ``classes``).

    Example:
        >>> (xt, yt), (xv, yv), (xs, ys) = jets(features="constituents", n_constituents=8)
        >>> xt.shape[1:], yt.shape[1]
        ((8, 3), 5)
    """
    data = load_jets_file(path)
    file_classes = tuple(data["metadata"].get("classes", CLASSES))
    labels = data["labels"].astype(np.int64)
    if features == "hlf":
        x = data["hlf"]
    elif features == "constituents":
        stored = data["constituents"].shape[1]
        if n_constituents > stored:
            raise ValueError(f"The file stores {stored} constituents per jet; asked for {n_constituents}.")
        x = data["constituents"][:, :n_constituents]
    else:
        raise ValueError(f"features must be 'hlf' or 'constituents', got {features!r}.")
    if classes is None:
        classes = file_classes
    else:
        classes = tuple(classes)
        missing = set(classes) - set(file_classes)
        if missing:
            raise ValueError(f"Classes {sorted(missing)} are not in the file (it has {file_classes}).")
        lut = np.array([classes.index(c) if c in classes else -1 for c in file_classes])
        labels = lut[labels]
        keep = labels >= 0
        x, labels = x[keep], labels[keep]
    return split_scale_onehot(x, labels, len(classes), val_fraction, test_fraction, seed, scale=scale,
                              padding=(features == "constituents"))


def jet_summary(path=None) -> dict:
    """Per-class physics summary of a jets file: counts, mean multiplicity, groomed-mass peak
    (mode of a 5 GeV histogram between 40 and 250 GeV, refined by the median within +-15 GeV)."""
    data = load_jets_file(path)
    classes = tuple(data["metadata"].get("classes", CLASSES))
    hlf = data["hlf"]
    m = hlf[:, HLF_FEATURES.index("mass_mmdt")]
    mult = hlf[:, HLF_FEATURES.index("multiplicity")]
    out = {}
    for k, c in enumerate(classes):
        sel = data["labels"] == k
        out[c] = {"n": int(sel.sum()), "multiplicity": float(mult[sel].mean()) if sel.any() else float("nan"),
                  "mass_mmdt_peak": mass_peak(m[sel]) if sel.any() else float("nan"),
                  "mass_mmdt_median": float(np.median(m[sel])) if sel.any() else float("nan"),
                  "pt_mean": float(data["kinematics"][sel, 0].mean()) if sel.any() else float("nan")}
    return out


def mass_peak(mass, lo: float = 40.0, hi: float = 250.0, width: float = 5.0) -> float:
    """Position of the groomed-mass peak: the fullest ``width`` bin in [lo, hi], refined by the
    median of the masses within +-15 GeV of it."""
    mass = np.asarray(mass, dtype=np.float64)
    h, e = np.histogram(mass, bins=np.arange(lo, hi + width, width))
    if h.sum() == 0:
        return float("nan")
    c = 0.5 * (e[h.argmax()] + e[h.argmax() + 1])
    near = mass[np.abs(mass - c) < 15.0]
    return float(np.median(near))


# The case-study sample kept in the repository (``scripts/generate_jets.py --preset case_study``):
# Pythia 8 jets, 16 constituents and the 16 HLF features per jet, float16; used by kerasnac.studies.
CASE_STUDY_PATH = Path(__file__).with_name("data") / "jets_pythia8_case_study.npz"

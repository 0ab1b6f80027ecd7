"""A fast *toy* generator of jet-like high-level features (not a physics simulation).

It draws the 16 features of the hls4ml LHC jet dataset (OpenML 42468) from class-conditional
distributions shaped after what Pythia 8 gives for ~1 TeV jets: groomed-mass peaks near 80 (W),
91 (Z) and 173 GeV (top) with low-mass tails; mean constituent multiplicities of about 93 (gluon),
61 (quark), 53 (W/Z) and 86 (top); two-prong jets (W, Z) with small N2/D2 and QCD jets with
large ones. The remaining energy-correlation ratios are correlated functions of these plus noise.
It exists so that demos and tests have realistic *shapes* of data in milliseconds; it is not a
substitute for simulated jets.
"""

from __future__ import annotations

import numpy as np

CLASSES = ("g", "q", "w", "z", "t")
FEATURES = ("zlogz", "c1_b0_mmdt", "c1_b1_mmdt", "c1_b2_mmdt", "c2_b1_mmdt", "c2_b2_mmdt", "d2_b1_mmdt",
            "d2_b2_mmdt", "d2_a1_b1_mmdt", "d2_a1_b2_mmdt", "m2_b1_mmdt", "m2_b2_mmdt", "n2_b1_mmdt",
            "n2_b2_mmdt", "mass_mmdt", "multiplicity")

# per class: (mass mean, mass sigma, fraction in the peak, multiplicity mean, n2 mean, d2 mean)
_PARAMS = {
    "g": (45.0, 30.0, 0.0, 93.0, 0.32, 3.0),
    "q": (28.0, 22.0, 0.0, 61.0, 0.27, 2.6),
    "w": (80.4, 8.0, 0.8, 53.0, 0.16, 1.2),
    "z": (91.2, 9.0, 0.8, 55.0, 0.17, 1.25),
    "t": (173.0, 18.0, 0.7, 86.0, 0.24, 2.0),
}


def toy_jets_hlf(n: int = 10_000, seed: int = 0, one_hot: bool = True):
    """Return ``(x, y)``: ``x`` of shape (n, 16) float32 (unscaled, named as :data:`FEATURES`),
    ``y`` one-hot (n, 5) or integer labels in the order :data:`CLASSES`. Classes are balanced."""
    if n < len(CLASSES):
        raise ValueError(f"n must be at least {len(CLASSES)}, got {n}.")
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(CLASSES)
    rng.shuffle(labels)
    x = np.empty((n, len(FEATURES)), dtype=np.float64)
    for k, cls in enumerate(CLASSES):
        idx = np.flatnonzero(labels == k)
        m = len(idx)
        mu, sig, frac, mult, n2, d2 = _PARAMS[cls]
        peak = rng.random(m) < frac
        if frac > 0:
            mass = np.where(peak, rng.normal(mu, sig, m), rng.gamma(2.0, 20.0, m))
        else:
            mass = rng.gamma((mu / sig) ** 2, sig**2 / mu, m)
        mass = np.clip(mass, 0.5, 400)
        mult_ = rng.poisson(mult, m).astype(float) + rng.normal(0, 3, m)
        n2_b1 = np.clip(rng.normal(n2, 0.06, m) + 0.0004 * (mult_ - 60), 0.01, None)
        d2_b1 = np.clip(rng.lognormal(np.log(d2), 0.35, m), 0.05, None)
        tau = np.clip(mass / 1000.0, 1e-3, None)  # ~ m/pT for pT ~ 1 TeV
        c1_b0 = np.clip(rng.normal(0.3 + 0.15 * peak, 0.05, m), 0.01, 1)
        c1_b1 = np.clip(tau**2 * rng.lognormal(0.0, 0.25, m), 1e-5, None)
        c1_b2 = np.clip(tau**3 * rng.lognormal(0.0, 0.3, m), 1e-7, None)
        c2_b1 = np.clip(d2_b1 * c1_b1 * rng.lognormal(0, 0.15, m), 1e-6, None)
        c2_b2 = np.clip(c2_b1 * rng.lognormal(-0.5, 0.2, m), 1e-7, None)
        x[idx] = np.column_stack([
            rng.normal(-2.0 - 0.005 * mult_, 0.3),  # zlogz
            c1_b0, c1_b1, c1_b2, c2_b1, c2_b2,
            d2_b1, d2_b1 * rng.lognormal(0.2, 0.2, m),
            d2_b1 * rng.lognormal(-0.1, 0.15, m), d2_b1 * rng.lognormal(0.1, 0.2, m),
            np.clip(n2_b1 * rng.lognormal(-0.3, 0.2, m), 0, None), np.clip(n2_b1 * rng.lognormal(-0.2, 0.2, m), 0, None),
            n2_b1, n2_b1 * rng.lognormal(0.1, 0.15, m),
            mass, np.clip(mult_, 1, None),
        ])
    y = np.eye(len(CLASSES), dtype=np.float32)[labels] if one_hot else labels.astype(np.int32)
    return x.astype(np.float32), y


def split_and_scale(x, y, val_fraction=0.2, test_fraction=0.2, seed=0):
    """Shuffle and split into train/val/test; standard-scale with statistics of the train split.

    Returns ``(x_train, y_train), (x_val, y_val), (x_test, y_test)``.
    """
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(x))
    n_test, n_val = int(len(x) * test_fraction), int(len(x) * val_fraction)
    te, va, tr = idx[:n_test], idx[n_test:n_test + n_val], idx[n_test + n_val:]
    mean, std = x[tr].mean(axis=0), x[tr].std(axis=0) + 1e-8
    scale = lambda a: ((a - mean) / std).astype(np.float32)  # noqa: E731
    return (scale(x[tr]), y[tr]), (scale(x[va]), y[va]), (scale(x[te]), y[te])

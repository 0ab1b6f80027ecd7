"""Bragg peaks in small detector patches, the BraggNN task, made offline.

Model of a patch (after BraggNN, Liu et al., IUCrJ 9 (2022) 104, arXiv:2008.08198): an
11x11 window cut around a diffraction spot of a far-field high-energy diffraction microscopy
detector. The spot is a 2-D pseudo-Voigt profile

    I(r, c) = A [eta L(r, c) + (1 - eta) G(r, c)] + background,
    u = ((r - r0) / w_r)^2 + ((c - c0) / w_c)^2,
    G = exp(-4 ln2 u),   L = 1 / (1 + 4 u),

with FWHMs ``w_r``, ``w_c`` and Lorentzian fraction ``eta`` (the profile fitted by the HEDM
reduction codes, and whose fitted centre is BraggNN's label). The profile is integrated over each
pixel (3x3 sub-sampling), a flat background with a small gradient is added, and the counts get
Poisson noise. Optionally a second, neighbouring peak leaks into the patch.

Targets follow BraggNN: the centre ``(row, col)`` in pixel-index units (0 = centre of the first
pixel) divided by the patch size. The metric is the Euclidean distance in pixels; BraggNN reports
its mean and that 75% / 95% of peaks are within 0.29 / 0.57 px of the pseudo-Voigt fit.

Here the label is the *true* generated centre, so the classical pseudo-Voigt fit
(:func:`bragg_fit_pseudo_voigt`) is itself a baseline with a measurable error.
"""

from __future__ import annotations

import numpy as np

from ._splits import split_arrays

_SUB = 3  # sub-pixel samples per axis for pixel integration


def _pseudo_voigt(r, c, amp, r0, c0, wr, wc, eta):
    u = ((r - r0) / wr) ** 2 + ((c - c0) / wc) ** 2
    return amp * (eta / (1.0 + 4.0 * u) + (1.0 - eta) * np.exp(-4.0 * np.log(2.0) * u))


def _pixel_integrated(patch_size, amp, r0, c0, wr, wc, eta):
    """Vectorised over peaks: arrays of shape (n,) -> images (n, P, P) of mean intensity per pixel."""
    offs = (np.arange(_SUB) + 0.5) / _SUB - 0.5
    grid = (np.arange(patch_size)[:, None] + offs[None, :]).ravel()  # P*SUB sub-pixel centres
    rr, cc = np.meshgrid(grid, grid, indexing="ij")
    args = [np.asarray(a, dtype=np.float64)[:, None, None] for a in (amp, r0, c0, wr, wc, eta)]
    img = _pseudo_voigt(rr[None], cc[None], *args)
    n = img.shape[0]
    return img.reshape(n, patch_size, _SUB, patch_size, _SUB).mean(axis=(2, 4))


def make_bragg_peaks(n: int = 10_000, seed: int = 0, patch_size: int = 11, max_shift: float = 1.0,
                     fwhm_range=(1.0, 3.5), eta_range=(0.0, 1.0), amplitude_range=(20.0, 1000.0),
                     background_range=(2.0, 30.0), noise: bool = True, contamination: float = 0.0,
                     normalize: str | None = "minmax", return_params: bool = False):
    """Generate ``n`` patches and their centres, unsplit.

    Args:
        max_shift: the true centre is uniform within +-``max_shift`` px of the patch centre in
            each axis (BraggNN crops around the rounded peak and augments with random shifts).
        fwhm_range: FWHM in px, drawn independently per axis (elliptical peaks).
        eta_range: Lorentzian fraction of the pseudo-Voigt.
        amplitude_range: peak height in counts, drawn log-uniformly.
        background_range: mean background counts per pixel (a gradient of up to 20% is added).
        noise: apply Poisson counting noise.
        contamination: probability that a second peak (3.5-6 px away, 10-100% of the height)
            leaks into the patch.
        normalize: ``"minmax"`` (each patch to [0, 1], as BraggNN), ``"max"`` or ``None`` (counts).
        return_params: also return a dict of the drawn parameters.

    Returns:
        ``x`` (n, P, P, 1) float32 and ``y`` (n, 2) float32 = (row, col) / P.
    """
    if n < 1:
        raise ValueError(f"n must be positive, got {n}.")
    rng = np.random.default_rng(seed)
    P = patch_size
    mid = (P - 1) / 2.0
    r0 = mid + rng.uniform(-max_shift, max_shift, n)
    c0 = mid + rng.uniform(-max_shift, max_shift, n)
    wr, wc = rng.uniform(*fwhm_range, n), rng.uniform(*fwhm_range, n)
    eta = rng.uniform(*eta_range, n)
    amp = np.exp(rng.uniform(np.log(amplitude_range[0]), np.log(amplitude_range[1]), n))
    bg = rng.uniform(*background_range, n)
    img = _pixel_integrated(P, amp, r0, c0, wr, wc, eta)
    # background with a random linear gradient of up to +-20% across the patch
    g = rng.uniform(-0.2, 0.2, (n, 2)) / P
    idx = np.arange(P) - mid
    slope = g[:, 0, None, None] * idx[None, :, None] + g[:, 1, None, None] * idx[None, None, :]
    img += bg[:, None, None] * (1.0 + slope)
    has_neighbour = rng.random(n) < contamination
    k = int(has_neighbour.sum())
    if k:
        dist, ang = rng.uniform(3.5, 6.0, k), rng.uniform(0, 2 * np.pi, k)
        img[has_neighbour] += _pixel_integrated(P, amp[has_neighbour] * rng.uniform(0.1, 1.0, k),
                                                r0[has_neighbour] + dist * np.sin(ang),
                                                c0[has_neighbour] + dist * np.cos(ang),
                                                rng.uniform(*fwhm_range, k), rng.uniform(*fwhm_range, k),
                                                rng.uniform(*eta_range, k))
    img = np.clip(img, 0.0, None)
    if noise:
        img = rng.poisson(img).astype(np.float64)
    x = _normalize(img, normalize)[..., None].astype(np.float32)
    y = (np.column_stack([r0, c0]) / P).astype(np.float32)
    if return_params:
        params = dict(row=r0, col=c0, fwhm_row=wr, fwhm_col=wc, eta=eta, amplitude=amp, background=bg,
                      neighbour=has_neighbour)
        return x, y, params
    return x, y


def _normalize(img, how):
    if how is None:
        return img
    if how == "max":
        return img / np.maximum(img.max(axis=(1, 2), keepdims=True), 1e-12)
    if how == "minmax":
        lo, hi = img.min(axis=(1, 2), keepdims=True), img.max(axis=(1, 2), keepdims=True)
        return (img - lo) / np.maximum(hi - lo, 1e-12)
    raise ValueError(f"normalize must be 'minmax', 'max' or None, got {how!r}.")


def bragg_peaks(n: int = 10_000, seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.2,
                **kwargs):
    """Bragg-peak patches split for Keras: ``(x_train, y_train), (x_val, y_val), (x_test, y_test)``.

    ``x`` has shape (n, 11, 11, 1), min-max normalised per patch; ``y`` is the centre (row, col)
    divided by the patch size. Keyword arguments go to :func:`make_bragg_peaks`.

    Example:
        >>> (xt, yt), (xv, yv), (xs, ys) = bragg_peaks(200, seed=1)
        >>> xt.shape, yt.shape
        ((120, 11, 11, 1), (120, 2))
    """
    x, y = make_bragg_peaks(n, seed=seed, **kwargs)
    return split_arrays(x, y, val_fraction, test_fraction, seed)


# ---------------------------------------------------------------- metric

def bragg_distance(y_true, y_pred, patch_size: int = 11):
    """Euclidean distance in pixels between normalised centres (BraggNN's error), shape (n,)."""
    d = (np.asarray(y_true, dtype=np.float64) - np.asarray(y_pred, dtype=np.float64)) * patch_size
    return np.sqrt((d ** 2).sum(axis=-1))


def bragg_metrics(y_true, y_pred, patch_size: int = 11) -> dict:
    """Mean, median, 75th and 95th percentile of the pixel error (BraggNN: p75 < 0.29, p95 < 0.57)."""
    d = bragg_distance(y_true, y_pred, patch_size)
    return {"mean": float(d.mean()), "median": float(np.median(d)),
            "p75": float(np.percentile(d, 75)), "p95": float(np.percentile(d, 95))}


# ---------------------------------------------------------------- classical baselines

def _as_images(x):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 4:
        x = x[..., 0]
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[1] != x.shape[2]:
        raise ValueError(f"Expected patches (n, P, P) or (n, P, P, 1), got shape {np.shape(x)}.")
    return x


def bragg_centroid(x, threshold: float = 0.2):
    """Intensity-weighted centroid after subtracting the median border level and keeping pixels above
    ``threshold`` x (max - background). Returns normalised centres (n, 2) like the targets."""
    img = _as_images(x)
    n, P, _ = img.shape
    border = np.concatenate([img[:, 0, :], img[:, -1, :], img[:, 1:-1, 0], img[:, 1:-1, -1]], axis=1)
    w = img - np.median(border, axis=1)[:, None, None]
    peak = w.max(axis=(1, 2), keepdims=True)
    w = np.where(w > threshold * peak, w, 0.0)
    tot = np.maximum(w.sum(axis=(1, 2)), 1e-12)
    idx = np.arange(P, dtype=np.float64)
    r = (w.sum(axis=2) * idx).sum(axis=1) / tot
    c = (w.sum(axis=1) * idx).sum(axis=1) / tot
    return (np.column_stack([r, c]) / P).astype(np.float32)


def bragg_fit_pseudo_voigt(x, return_params: bool = False):
    """Least-squares fit of a 2-D pseudo-Voigt plus constant background to each patch (scipy).

    This is what HEDM reduction does per peak and what BraggNN replaces. Starts from the
    centroid; centres are bounded to the patch. Returns normalised centres (n, 2).
    """
    from scipy.optimize import least_squares

    img = _as_images(x)
    n, P, _ = img.shape
    rr, cc = np.meshgrid(np.arange(P, dtype=np.float64), np.arange(P, dtype=np.float64), indexing="ij")
    start = bragg_centroid(img) * P
    out = np.empty((n, 2))
    params = np.empty((n, 7))
    for i in range(n):
        z = img[i]
        bg0 = float(np.median(np.concatenate([z[0], z[-1], z[:, 0], z[:, -1]])))
        amp0 = max(float(z.max() - bg0), 1e-6)
        p0 = [amp0, start[i, 0], start[i, 1], 2.0, 2.0, 0.5, bg0]
        lo = [0.0, -0.5, -0.5, 0.3, 0.3, 0.0, -np.inf]
        hi = [np.inf, P - 0.5, P - 0.5, 2.0 * P, 2.0 * P, 1.0, np.inf]
        p0 = np.clip(p0, np.array(lo) + 1e-9, np.array(hi) - 1e-9)
        res = least_squares(lambda p: (_pseudo_voigt(rr, cc, *p[:6]) + p[6] - z).ravel(), p0,
                            bounds=(lo, hi), method="trf", x_scale="jac", max_nfev=200)
        out[i] = res.x[1:3]
        params[i] = res.x
    y = (out / P).astype(np.float32)
    if return_params:
        names = ("amplitude", "row", "col", "fwhm_row", "fwhm_col", "eta", "background")
        return y, {k: params[:, j] for j, k in enumerate(names)}
    return y


def bragg_baseline(x, method: str = "fit"):
    """Classical centre estimate for patches: ``"fit"`` (pseudo-Voigt) or ``"centroid"``."""
    if method == "fit":
        return bragg_fit_pseudo_voigt(x)
    if method == "centroid":
        return bragg_centroid(x)
    raise ValueError(f"method must be 'fit' or 'centroid', got {method!r}.")


# ---------------------------------------------------------------- loaders

def load_bragg_hdf5(path, x_key: str = "patches", y_key: str = "centers", label_units: str = "pixels",
                    normalize: str | None = "minmax", split: bool = True, val_fraction: float = 0.2,
                    test_fraction: float = 0.2, seed: int = 0):
    """Load patches (n, P, P) or (n, P, P, 1) and centres (n, 2) as (row, col) from an HDF5 file.

    ``label_units`` says how the file stores centres: ``"pixels"`` (pixel-index units inside the
    patch) or ``"normalized"`` (already divided by the patch size). Returns splits like
    :func:`bragg_peaks`, or ``(x, y)`` with ``split=False``.
    """
    import h5py

    with h5py.File(path, "r") as f:
        for k in (x_key, y_key):
            if k not in f:
                raise KeyError(f"{path}: no dataset {k!r}; it has {sorted(f.keys())}.")
        x, y = np.asarray(f[x_key][()], dtype=np.float64), np.asarray(f[y_key][()], dtype=np.float64)
    img = _as_images(x)
    if y.shape != (len(img), 2):
        raise ValueError(f"{path}: {y_key!r} must have shape ({len(img)}, 2), got {y.shape}.")
    P = img.shape[1]
    if label_units == "pixels":
        y = y / P
    elif label_units != "normalized":
        raise ValueError(f"label_units must be 'pixels' or 'normalized', got {label_units!r}.")
    x = _normalize(img, normalize)[..., None].astype(np.float32)
    y = y.astype(np.float32)
    return split_arrays(x, y, val_fraction, test_fraction, seed) if split else (x, y)


def load_braggnn_frames(frames_path, peaks_path, patch_size: int = 11, single_peaks_only: bool = True,
                        normalize: str | None = "minmax", split: bool = True, val_fraction: float = 0.2,
                        test_fraction: float = 0.2, seed: int = 0):
    """Cut patches from full detector frames in BraggNN's re-training layout.

    BraggNN's README (github.com/ramsesproject/BraggNN) asks for two HDF5 files: one with a 3-D
    dataset ``frames`` (frame, row, col), and one with 1-D ``peak_fidx`` (frame index), ``peak_row``
    and ``peak_col`` (peak centre in pixels from the top / left edge, floats, e.g. from a
    pseudo-Voigt fit). If the peaks file has ``npeaks`` and ``single_peaks_only``, only peaks with
    ``npeaks == 1`` are kept (as BraggNN trains). Each patch is centred on the rounded peak
    position; peaks too close to a frame edge are dropped.
    """
    import h5py

    with h5py.File(frames_path, "r") as f:
        frames = f["frames"][()]
    with h5py.File(peaks_path, "r") as f:
        fidx = np.asarray(f["peak_fidx"][()], dtype=np.int64)
        prow = np.asarray(f["peak_row"][()], dtype=np.float64)
        pcol = np.asarray(f["peak_col"][()], dtype=np.float64)
        keep = np.ones(len(fidx), dtype=bool)
        if single_peaks_only and "npeaks" in f:
            keep &= np.asarray(f["npeaks"][()]) == 1
    h = patch_size // 2
    r_start = np.rint(prow).astype(np.int64) - h
    c_start = np.rint(pcol).astype(np.int64) - h
    H, W = frames.shape[1:]
    keep &= (r_start >= 0) & (c_start >= 0) & (r_start + patch_size <= H) & (c_start + patch_size <= W)
    keep &= (fidx >= 0) & (fidx < len(frames))
    sel = np.flatnonzero(keep)
    if len(sel) == 0:
        raise ValueError("No peak lies fully inside a frame with the given patch size.")
    patches = np.stack([frames[fidx[i], r_start[i]:r_start[i] + patch_size, c_start[i]:c_start[i] + patch_size]
                        for i in sel]).astype(np.float64)
    y = np.column_stack([prow[sel] - r_start[sel], pcol[sel] - c_start[sel]]) / patch_size
    x = _normalize(patches, normalize)[..., None].astype(np.float32)
    y = y.astype(np.float32)
    return split_arrays(x, y, val_fraction, test_fraction, seed) if split else (x, y)

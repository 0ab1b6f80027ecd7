import h5py
import numpy as np
import pytest

from kerasnac import datasets as ds


def test_splits_shapes_and_ranges():
    (xt, yt), (xv, yv), (xs, ys) = ds.bragg_peaks(200, seed=3)
    assert xt.shape == (120, 11, 11, 1) and yt.shape == (120, 2)
    assert len(xv) == len(xs) == 40
    assert xt.dtype == np.float32 and yt.dtype == np.float32
    assert xt.min() == 0.0 and np.allclose(xt.max(axis=(1, 2, 3)), 1.0)  # min-max per patch
    # centres within +-1 px of the middle pixel, in units of the patch size
    assert np.all(np.abs(yt * 11 - 5) <= 1.0)


def test_seeded():
    a, b = ds.make_bragg_peaks(20, seed=1), ds.make_bragg_peaks(20, seed=1)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], ds.make_bragg_peaks(20, seed=2)[0])


def test_metric_values():
    y = np.array([[0.5, 0.5], [0.5, 0.5]])
    p = y + np.array([[3, 4], [0, 0]]) / 11.0
    assert np.allclose(ds.bragg_distance(y, p), [5.0, 0.0])
    m = ds.bragg_metrics(y, p)
    assert m["mean"] == pytest.approx(2.5) and m["p95"] == pytest.approx(4.75)


def test_fit_recovers_clean_centres():
    x, y = ds.make_bragg_peaks(40, seed=0, noise=False, background_range=(5.0, 5.0), normalize=None)
    err = ds.bragg_distance(y, ds.bragg_fit_pseudo_voigt(x))
    assert err.max() < 0.1


def test_noise_and_neighbours_increase_error():
    kw = dict(seed=0, amplitude_range=(30.0, 300.0))
    x0, y0 = ds.make_bragg_peaks(40, noise=False, **kw)
    x1, y1 = ds.make_bragg_peaks(40, noise=True, **kw)
    x2, y2 = ds.make_bragg_peaks(40, noise=True, contamination=1.0, **kw)
    e0, e1, e2 = (ds.bragg_metrics(y, ds.bragg_fit_pseudo_voigt(x))["mean"] for x, y in ((x0, y0), (x1, y1), (x2, y2)))
    assert e0 < 0.05 < e1 < e2
    # the fit beats the centroid on noisy peaks
    assert e1 < ds.bragg_metrics(y1, ds.bragg_centroid(x1))["mean"]


def test_hdf5_patch_loader_roundtrip(tmp_path):
    x, y, p = ds.make_bragg_peaks(30, seed=4, normalize=None, return_params=True)
    path = tmp_path / "peaks.h5"
    with h5py.File(path, "w") as f:
        f["patches"] = x[..., 0]
        f["centers"] = np.column_stack([p["row"], p["col"]])  # pixels
    xl, yl = ds.load_bragg_hdf5(path, split=False, normalize=None)
    assert np.allclose(xl, x) and np.allclose(yl, y, atol=1e-6)
    (xt, yt), (xv, _), (xs, _) = ds.load_bragg_hdf5(path)
    assert xt.shape == (18, 11, 11, 1) and len(xv) == len(xs) == 6 and xt.max() == pytest.approx(1.0)
    with pytest.raises(KeyError):
        ds.load_bragg_hdf5(path, y_key="labels")


def test_braggnn_frame_loader(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.poisson(3.0, (2, 40, 40)).astype(np.float32)
    rows, cols, fidx = np.array([10.3, 20.7, 1.0]), np.array([15.6, 30.2, 20.0]), np.array([0, 1, 1])
    for f_, r, c in zip(fidx, rows, cols):
        rr, cc = np.meshgrid(np.arange(40), np.arange(40), indexing="ij")
        frames[f_] += 500 * np.exp(-((rr - r) ** 2 + (cc - c) ** 2) / 2.0)
    with h5py.File(tmp_path / "frames.h5", "w") as f:
        f["frames"] = frames
    with h5py.File(tmp_path / "peaks.h5", "w") as f:
        f["peak_fidx"], f["peak_row"], f["peak_col"], f["npeaks"] = fidx, rows, cols, np.ones(3, int)
    x, y = ds.load_braggnn_frames(tmp_path / "frames.h5", tmp_path / "peaks.h5", split=False)
    assert x.shape == (2, 11, 11, 1)  # the third peak is too close to the edge
    assert np.allclose(y * 11, [[5.3, 4.6], [4.7, 5.2]], atol=1e-5)
    assert ds.bragg_metrics(y, ds.bragg_fit_pseudo_voigt(x))["mean"] < 0.1

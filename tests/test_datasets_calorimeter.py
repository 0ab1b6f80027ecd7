import numpy as np
import pytest

from kerasnac import datasets as ds


def test_splits_shapes_and_scale():
    (xt, yt), (xv, yv), (xs, ys) = ds.calorimeter_showers(100, seed=0)
    assert xt.shape == (60, 12, 12, 6) and yt.shape == (60, 1) and len(xv) == len(xs) == 20
    assert xt.dtype == np.float32 and 0.1 <= yt.min() and yt.max() <= 1.0  # 10-100 GeV / 100
    x, e = ds.make_calorimeter_showers(5, seed=0, grid=(8, 10), n_layers=3)
    assert x.shape == (5, 8, 10, 3)


def test_seeded():
    a, b = ds.make_calorimeter_showers(10, seed=3), ds.make_calorimeter_showers(10, seed=3)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def _sums(energy, n=400, **kw):
    x, e = ds.make_calorimeter_showers(n, seed=1, energies=np.full(n, energy), **kw)
    return x.reshape(n, -1).sum(axis=1)


def test_summed_energy_is_linear():
    energies = [10.0, 25.0, 50.0, 100.0]
    means = np.array([_sums(E).mean() for E in energies])
    k, m = np.polyfit(energies, means, 1)
    assert 0.95 < k < 1.0 and abs(m) < 0.5  # ~2-3% leaks out of the grid / the back
    assert np.max(np.abs(means - (k * np.array(energies) + m)) / means) < 0.01


def test_resolution_improves_like_inverse_sqrt_e():
    energies = np.array([10.0, 25.0, 50.0, 100.0])
    reso = np.array([(lambda s: s.std() / s.mean())(_sums(E)) for E in energies])
    assert np.all(np.diff(reso) < 0)
    ratio = reso[0] / reso[-1]
    assert 2.5 < ratio < 5.0  # sqrt(10) = 3.2 for a pure a/sqrt(E) term; noise steepens it
    # without noise and inter-calibration the stochastic term a = 0.10 is recovered
    clean = np.array([(lambda s: s.std() / s.mean())(_sums(E, noise_gev=0.0, intercalibration=0.0))
                      for E in energies])
    assert np.allclose(clean * np.sqrt(energies), 0.11, rtol=0.2)


def test_metrics_and_baseline():
    (xt, yt), _, (xs, ys) = ds.calorimeter_showers(1500, seed=2, energy_scale=100.0)
    pred = ds.calorimeter_baseline(xt, yt, xs)
    m = ds.calorimeter_metrics(ys, pred, energy_scale=100.0, bins=5)
    assert pred.shape == ys.shape
    assert 0.2 < m["mae"] < 1.5  # GeV
    assert np.allclose(m["response"], 1.0, atol=0.01)
    assert 0.07 < m["a"] < 0.16
    assert m["resolution"][0] > m["resolution"][-1]
    exact = ds.calorimeter_metrics(ys, ys, energy_scale=100.0)
    assert exact["mae"] == pytest.approx(0.0)


def test_electron_photon_showers_are_balanced_shape_only_and_separable_by_depth():
    """Half electrons, half photons, each shower normalised to its visible energy; a photon starts its
    shower one X0 deeper, so an electron leaves a larger share of its energy in the first layer."""
    (xt, yt), (xv, yv), (xs, ys) = ds.electron_photon_showers(400, seed=0)
    assert xt.shape == (240, 12, 12, 6) and yt.shape == (240, 2) and len(xv) == len(xs) == 80
    y = np.concatenate([yt, yv, ys])
    assert y.sum(axis=0).tolist() == [200, 200] and set(np.unique(y)) == {0.0, 1.0}
    np.testing.assert_allclose(xt.sum(axis=(1, 2, 3)), 100.0, rtol=1e-4)  # percent of the visible energy
    first = xt[..., 0].sum(axis=(1, 2))
    electron, photon = first[yt[:, 0] == 1], first[yt[:, 1] == 1]
    assert electron.mean() > photon.mean() + 3 * np.hypot(electron.std() / len(electron) ** 0.5,
                                                          photon.std() / len(photon) ** 0.5)
    again = ds.electron_photon_showers(400, seed=0)[0][0]
    np.testing.assert_array_equal(again, xt)
    with pytest.raises(ValueError, match="particle"):
        ds.electron_photon_showers(10, particle="photon")
    with pytest.raises(ValueError, match="n >= 2"):
        ds.electron_photon_showers(1)


def test_photons_can_be_the_rare_class():
    (_, yt), (_, yv), (_, ys) = ds.electron_photon_showers(200, seed=1, photon_fraction=0.1)
    assert np.concatenate([yt, yv, ys]).sum(axis=0).tolist() == [180, 20]
    (a, b, c) = ds.electron_photon_showers(3, seed=0, photon_fraction=0.01, val_fraction=0.34, test_fraction=0.33)
    assert np.concatenate([a[1], b[1], c[1]]).sum(axis=0).tolist() == [2, 1]  # still one photon
    for bad in (0.0, 1.0, -0.2):
        with pytest.raises(ValueError, match="photon_fraction must be in"):
            ds.electron_photon_showers(10, photon_fraction=bad)

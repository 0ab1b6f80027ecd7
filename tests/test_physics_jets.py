"""Physics checks on the shipped Pythia 8 jet sample (run without pythia8mc)."""

import numpy as np
import pytest

from kerasnac import datasets as ds
from kerasnac.datasets._jets import mass_peak

F = list(ds.JET_FEATURES)


@pytest.fixture(scope="module")
def sample():
    data = ds.load_jets_file()
    classes = data["metadata"]["classes"]
    by = {c: data["hlf"][data["labels"] == k] for k, c in enumerate(classes)}
    return data, by


def test_sample_is_generated_and_documented(sample):
    data, _ = sample
    md = data["metadata"]
    assert md["generator"].startswith("kerasnac-jets") and md["pythia_version"] > 8.3
    assert md["settings"]["jet_r"] == 0.8 and md["settings"]["ecm"] == 13000.0
    assert md["hlf_names"] == F and md["classes"] == list(ds.JET_CLASSES)
    n = len(data["labels"])
    assert data["hlf"].shape == (n, 16) and data["constituents"].shape[0] == n
    assert np.all(np.isfinite(data["hlf"]))


def test_classes_balanced(sample):
    data, _ = sample
    counts = np.bincount(data["labels"], minlength=5)
    assert counts.min() == counts.max() >= 500


def test_jet_pt_window(sample):
    data, _ = sample
    pt = data["kinematics"][:, 0]
    assert pt.min() > 950 and pt.max() < 1050


@pytest.mark.parametrize("cls,mass,tol", [("w", 80.4, 5.0), ("z", 91.2, 5.0), ("t", 172.5, 10.0)])
def test_groomed_mass_peaks(sample, cls, mass, tol):
    _, by = sample
    assert mass_peak(by[cls][:, F.index("mass_mmdt")]) == pytest.approx(mass, abs=tol)


def test_qcd_jets_are_light_and_gluons_busier_than_quarks(sample):
    _, by = sample
    m = {c: np.median(by[c][:, F.index("mass_mmdt")]) for c in by}
    assert m["q"] < m["g"] < m["w"] < m["t"]
    mult = {c: by[c][:, F.index("multiplicity")].mean() for c in by}
    assert mult["g"] > 1.2 * mult["q"]
    assert mult["t"] > mult["w"]


def test_two_prong_observables_separate_w_from_qcd(sample):
    _, by = sample
    for feat in ("n2_b1_mmdt", "d2_b1_mmdt"):
        med = {c: np.median(by[c][:, F.index(feat)]) for c in by}
        assert med["w"] < med["q"] and med["w"] < med["g"], feat


def test_constituents_sorted_and_inside_the_jet(sample):
    data, _ = sample
    c = data["constituents"]
    assert np.all(np.diff(c[:, :, 0], axis=1) <= 0)
    real = c[:, :, 0] > 0
    r = np.hypot(c[:, :, 1], c[:, :, 2])
    # the leading particles lie inside R = 0.8; a few soft ones (0.2%) fall just outside in (eta, phi)
    # because anti-kT clusters in rapidity and its axis moves as particles are added
    assert np.all(r[:, :8][real[:, :8]] < 0.8)
    assert np.mean(r[real] < 0.8) > 0.99
    assert np.all(real.sum(axis=1) == np.minimum(data["n_constituents_total"], c.shape[1]))


def test_jets_splits_for_keras():
    (xt, yt), (xv, yv), (xs, ys) = ds.jets(features="constituents", n_constituents=8)
    assert xt.shape[1:] == (8, 3) and yt.shape[1] == 5 and xt.dtype == np.float32
    (xt, yt), _, _ = ds.jets(features="hlf")
    assert xt.shape[1] == 16 and np.allclose(xt.mean(axis=0), 0, atol=1e-4)

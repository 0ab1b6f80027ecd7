"""The generated-jets file format, the loader and the generator's Pythia-free parts."""

import importlib.util

import numpy as np
import pytest

from kerasnac import datasets as ds
from kerasnac.datasets import _jet_substructure as js
from kerasnac.datasets import _pythia_jets as pj

HAVE_PYTHIA = importlib.util.find_spec("pythia8mc") is not None and importlib.util.find_spec("fastjet") is not None


def _fake_file(path, n_per_class=20, n_const=10, seed=0):
    rng = np.random.default_rng(seed)
    n = 5 * n_per_class
    cons = np.zeros((n, n_const, 3), np.float32)
    for i in range(n):
        m = rng.integers(2, n_const + 1)
        cons[i, :m, 0] = np.sort(rng.exponential(50, m))[::-1]
        cons[i, :m, 1:] = rng.normal(0, 0.2, (m, 2))
    data = {"constituents": cons, "hlf": rng.normal(size=(n, 16)).astype(np.float32),
            "labels": np.repeat(np.arange(5), n_per_class).astype(np.int8),
            "kinematics": np.column_stack([rng.uniform(950, 1050, n), np.zeros((n, 3))]).astype(np.float32),
            "n_constituents_total": np.full(n, n_const, np.int32),
            "metadata": {"generator": "test", "classes": list(ds.JET_CLASSES), "seed": seed}}
    ds.save_jets(path, data)
    return data


def test_file_roundtrip_and_splits(tmp_path):
    data = _fake_file(tmp_path / "j.npz")
    back = ds.load_jets_file(tmp_path / "j.npz")
    assert back["metadata"]["generator"] == "test"
    assert np.array_equal(back["constituents"], data["constituents"])
    (xt, yt), (xv, yv), (xs, ys) = ds.jets(tmp_path / "j.npz", features="hlf")
    assert xt.shape == (60, 16) and yt.shape == (60, 5) and len(xv) == len(xs) == 20
    assert np.allclose(xt.mean(axis=0), 0, atol=1e-5)
    (xt, yt), _, _ = ds.jets(tmp_path / "j.npz", features="constituents", n_constituents=4)
    assert xt.shape == (60, 4, 3) and xt.dtype == np.float32
    pad = np.all(xt == 0, axis=-1)
    assert pad.any() and np.allclose(xt[~pad].mean(axis=0), 0, atol=1e-5)  # padding stays 0
    with pytest.raises(ValueError, match="stores 10"):
        ds.jets(tmp_path / "j.npz", features="constituents", n_constituents=11)


def test_class_subset(tmp_path):
    _fake_file(tmp_path / "j.npz")
    (xt, yt), (xv, yv), (xs, ys) = ds.jets(tmp_path / "j.npz", classes=("q", "g"))
    assert yt.shape[1] == 2 and len(xt) + len(xv) + len(xs) == 40
    with pytest.raises(ValueError):
        ds.jets(tmp_path / "j.npz", classes=("h",))


def test_missing_file_message(tmp_path):
    with pytest.raises(FileNotFoundError):
        ds.load_jets_file(tmp_path / "nope.npz")


def test_mass_peak():
    rng = np.random.default_rng(0)
    m = np.concatenate([rng.normal(80.4, 6, 500), rng.uniform(0, 300, 300)])
    assert ds._jets.mass_peak(m) == pytest.approx(80.4, abs=2)


def test_seeds_and_settings():
    seeds = {pj.chunk_seed(0, c, k) for c in range(5) for k in range(200)}
    assert len(seeds) == 1000 and min(seeds) >= 1 and max(seeds) <= 900_000_000
    assert pj.chunk_seed(3, 1, 2) == pj.chunk_seed(3, 1, 2) != pj.chunk_seed(4, 1, 2)
    with pytest.raises(TypeError):
        pj.default_settings(bogus=1)
    assert pj.default_settings(jet_r=1.0)["jet_r"] == 1.0


class _P:
    def __init__(self, id_, status, eta, phi, daughters=()):
        self._v = (id_, status, eta, phi, list(daughters))

    def id(self):
        return self._v[0]

    def status(self):
        return self._v[1]

    def eta(self):
        return self._v[2]

    def phi(self):
        return self._v[3]

    def daughterList(self):
        return self._v[4]


class _Record(list):
    def size(self):
        return len(self)


def test_truth_objects_follow_decay_chains():
    # 0 system, 1-2 beams, 3-4 incoming, 5 top -> (7 b, 8 W+ -> 9 u, 10 dbar), 6 gluon
    rec = _Record([_P(90, -11, 0, 0), _P(2212, -12, 0, 0), _P(2212, -12, 0, 0), _P(21, -21, 0, 0), _P(21, -21, 0, 0),
                   _P(6, -22, 0.5, 1.0, [7, 8]), _P(21, 23, -0.5, -2.0), _P(5, 23, 0.6, 1.1),
                   _P(24, -22, 0.4, 0.9, [9, 10]), _P(2, 23, 0.3, 0.8), _P(-1, 23, 0.45, 0.95)])
    tops = pj._truth_objects(rec, "t")
    assert len(tops) == 1 and tops[0][:2] == (0.5, 1.0)
    assert sorted(tops[0][2]) == sorted([(0.6, 1.1), (0.3, 0.8), (0.45, 0.95)])
    assert [t[:2] for t in pj._truth_objects(rec, "g")] == [(-0.5, -2.0)]
    assert len(pj._truth_objects(rec, "q")) == 2  # u and dbar from the decay (only used in QCD events)


@pytest.mark.skipif(HAVE_PYTHIA, reason="pythia8mc is installed")
def test_generator_needs_the_extra():
    with pytest.raises(ImportError, match="pythia8mc"):
        ds.generate_jets(1)


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_PYTHIA, reason="needs pythia8mc and fastjet (optional extra)")
def test_generate_a_few_w_jets(tmp_path):
    data = ds.generate_jets(3, out=tmp_path / "w.npz", seed=5, classes=("w",), n_workers=1, verbose=False,
                            n_constituents=16, chunk_size=3)
    assert data["hlf"].shape == (3, 16) and data["constituents"].shape == (3, 16, 3)
    assert np.all((data["kinematics"][:, 0] > 950) & (data["kinematics"][:, 0] < 1050))
    again = ds.generate_jets(3, seed=5, classes=("w",), n_workers=1, verbose=False, n_constituents=16, chunk_size=3)
    assert np.array_equal(data["hlf"], again["hlf"])  # seeded
    back = ds.load_jets_file(tmp_path / "w.npz")
    assert back["metadata"]["settings"]["jet_r"] == 0.8 and back["metadata"]["seed"] == 5
    # stored features are the numpy features of the stored jets' leading constituents only when all fit
    assert np.all(back["n_constituents_total"] == back["hlf"][:, js.HLF_FEATURES.index("multiplicity")])

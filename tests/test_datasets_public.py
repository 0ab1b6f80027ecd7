"""Public-format loaders on small files written here in the OpenML 42468 and Zenodo 3602260 layouts."""

import gzip

import h5py
import numpy as np
import pandas as pd
import pytest

from kerasnac import datasets as ds

CLASSES = ("g", "q", "w", "z", "t")
OPENML_ORDER = ("g", "q", "t", "w", "z")  # the nominal values as OpenML lists them
JET_NAMES = (["j_ptfrac", "j_pt", "j_eta", "j_mass", "j_tau1_b1", "j_tau2_b1", "j_tau3_b1", "j_tau1_b2",
              "j_tau2_b2", "j_tau3_b2", "j_tau32_b1", "j_tau32_b2", "j_zlogz", "j_c1_b0", "j_c1_b1", "j_c1_b2",
              "j_c2_b1", "j_c2_b2", "j_d2_b1", "j_d2_b2", "j_d2_a1_b1", "j_d2_a1_b2", "j_m2_b1", "j_m2_b2",
              "j_n2_b1", "j_n2_b2", "j_tau1_b1_mmdt", "j_tau2_b1_mmdt", "j_tau3_b1_mmdt", "j_tau1_b2_mmdt",
              "j_tau2_b2_mmdt", "j_tau3_b2_mmdt", "j_tau32_b1_mmdt", "j_tau32_b2_mmdt"]
             + ["j_" + f for f in ds.JET_FEATURES[1:14]]
             + ["j_mass_trim", "j_mass_mmdt", "j_mass_prun", "j_mass_sdb2", "j_mass_sdm1", "j_multiplicity",
                "j_g", "j_q", "j_w", "j_z", "j_t", "j_undef"])
PARTICLE_NAMES = ["j1_" + f for f in ("px", "py", "pz", "e", "erel", "pt", "ptrel", "eta", "etarel", "etarot",
                                      "phi", "phirel", "phirot", "deltaR", "costheta", "costhetarel", "pdgid")]


def test_layout_constants():
    assert len(JET_NAMES) == 59
    assert [JET_NAMES.index("j_" + f) for f in ds.JET_FEATURES] == [12, *range(34, 47), 48, 52]
    assert JET_NAMES[-6:-1] == ["j_g", "j_q", "j_w", "j_z", "j_t"]


def _table(n=50, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 16)).astype(np.float32) * np.arange(1, 17) + np.arange(16)
    labels = np.arange(n) % 5
    return x, labels


def test_openml_arff_roundtrip(tmp_path):
    x, labels = _table()
    lines = ["% hls4ml jets", "@RELATION hls4ml_lhc_jets_hlf", ""]
    lines += [f"@ATTRIBUTE {f} NUMERIC" for f in ds.JET_FEATURES]
    lines += ["@ATTRIBUTE class {" + ",".join(OPENML_ORDER) + "}", "", "@DATA"]
    lines += [",".join(f"{v:.9g}" for v in row) + "," + CLASSES[k] for row, k in zip(x, labels)]
    text = "\n".join(lines) + "\n"
    (tmp_path / "jets.arff").write_text(text)
    with gzip.open(tmp_path / "jets.arff.gz", "wt") as f:
        f.write(text)
    for name in ("jets.arff", "jets.arff.gz"):
        xr, yr = ds.read_openml_jets(tmp_path / name)
        assert np.allclose(xr, x, rtol=1e-6) and np.array_equal(yr, labels)
    (xt, yt), (xv, yv), (xs, ys) = ds.load_openml_jets(tmp_path / "jets.arff")
    assert xt.shape == (30, 16) and yt.shape == (30, 5) and len(xv) == len(xs) == 10
    assert np.allclose(xt.mean(axis=0), 0, atol=1e-5) and np.allclose(xt.std(axis=0), 1, atol=1e-3)
    assert np.all(yt.sum(axis=1) == 1)


def test_openml_csv_with_prefixed_names_and_quoted_classes(tmp_path):
    x, labels = _table(seed=1)
    df = pd.DataFrame(x, columns=["j_" + f for f in ds.JET_FEATURES])
    df["class"] = [f"'{CLASSES[k]}'" for k in labels]
    df.insert(0, "extra", 1.0)
    df.to_csv(tmp_path / "jets.csv", index=False)
    xr, yr = ds.read_openml_jets(tmp_path / "jets.csv")
    assert np.allclose(xr, x, rtol=1e-6) and np.array_equal(yr, labels)
    df.drop(columns="mass_mmdt" if "mass_mmdt" in df else "j_mass_mmdt").to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(KeyError, match="mass_mmdt"):
        ds.read_openml_jets(tmp_path / "bad.csv")


def _write_zenodo(path, n=40, n_particles=30, seed=0, names=True):
    rng = np.random.default_rng(seed)
    jets = rng.normal(size=(n, 59)).astype(np.float32)
    labels = np.arange(n) % 5
    jets[:, 53:59] = 0
    jets[np.arange(n), 53 + labels] = 1
    jets[-1, 53:59] = 0
    jets[-1, 58] = 1  # one unlabelled jet (j_undef)
    cl = np.zeros((n, n_particles, 16), np.float32)
    for i in range(n):
        m = rng.integers(3, n_particles)
        cl[i, :m] = rng.normal(size=(m, 16))
        cl[i, :m, 5] = rng.exponential(50, m)  # pt, deliberately unsorted
    with h5py.File(path, "w") as f:
        f["jets"] = jets
        f["jetConstituentList"] = cl
        f["jetImage"] = np.zeros((n, 4, 4), np.float32)
        if names:
            f["jetFeatureNames"] = np.array([s.encode() for s in JET_NAMES])
            f["particleFeatureNames"] = np.array([s.encode() for s in PARTICLE_NAMES])
    return jets, cl, labels


@pytest.mark.parametrize("names", [True, False])
def test_zenodo_h5_hlf_and_constituents(tmp_path, names):
    jets, cl, labels = _write_zenodo(tmp_path / "jetImage_0_30p_0_40.h5", names=names)
    x, y = ds.read_hls4ml_h5(tmp_path / "jetImage_0_30p_0_40.h5", features="hlf")
    assert x.shape == (39, 16) and np.array_equal(y, labels[:39])
    assert np.allclose(x[:, 0], jets[:39, 12]) and np.allclose(x[:, -1], jets[:39, 52])
    x, y = ds.read_hls4ml_h5(tmp_path, features="constituents", n_constituents=8)
    assert x.shape == (39, 8, 3)
    for i in range(39):
        ref = cl[i][np.argsort(-cl[i, :, 5], kind="stable")][:8][:, [5, 8, 11]]
        assert np.allclose(x[i], ref)
    assert np.all(np.diff(x[:, :, 0], axis=1) <= 0)  # sorted by pt


def test_zenodo_h5_splits_files_and_padding(tmp_path):
    _write_zenodo(tmp_path / "a.h5", seed=0)
    _write_zenodo(tmp_path / "b.h5", seed=1, n_particles=5)
    (xt, yt), (xv, yv), (xs, ys) = ds.load_hls4ml_h5(str(tmp_path / "*.h5"), n_constituents=8,
                                                     constituent_features=("ptrel", "etarel", "phirel", "deltaR"))
    assert xt.shape[1:] == (8, 4) and len(xt) + len(xv) + len(xs) == 78 and yt.shape[1] == 5
    real = np.any(xt != 0, axis=-1)
    assert (~real).sum() > 0  # padding (file b has only 5 slots) stays exactly zero
    assert np.allclose(xt[real].mean(axis=0), 0, atol=1e-5)
    x, _ = ds.read_hls4ml_h5([tmp_path / "a.h5", tmp_path / "b.h5"], max_jets=50)
    assert len(x) == 49  # 40 + 10 read, one unlabelled dropped
    with pytest.raises(KeyError):
        ds.read_hls4ml_h5(tmp_path / "a.h5", constituent_features=("pdgid_x",))

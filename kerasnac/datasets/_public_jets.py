"""Loaders for the public hls4ml LHC jet datasets from files a user already has (nothing is downloaded).

* OpenML ``hls4ml_lhc_jets_hlf`` (id 42468): 830k jets, the 16 high-level features
  (:data:`HLF_FEATURES`) and a nominal ``class`` column with values g, q, t, w, z. Read from the
  ARFF file OpenML serves or from a CSV export (column names with or without the ``j_`` prefix).
* Zenodo record 3602260 (``hls4ml_LHCjet_{30,50,100,150}p_{train,val}.tar.gz``): HDF5 files of
  10,000 jets each, with datasets

  - ``jets`` (n, 59) float: jet-level features; columns named by ``jetFeatureNames``
    (``j_ptfrac, j_pt, j_eta, j_mass, j_tau*_b*, j_zlogz (12), j_c1_b0 ... j_n2_b2, j_tau*_mmdt,
    j_c1_b0_mmdt (34) ... j_n2_b2_mmdt (46), j_mass_trim, j_mass_mmdt (48), j_mass_prun,
    j_mass_sdb2, j_mass_sdm1, j_multiplicity (52), j_g, j_q, j_w, j_z, j_t (53-57), j_undef``);
  - ``jetConstituentList`` (n, N, 16) float: up to N = 30/50/100/150 zero-padded particles with
    ``particleFeatureNames`` ``j1_px, j1_py, j1_pz, j1_e, j1_erel, j1_pt (5), j1_ptrel, j1_eta,
    j1_etarel (8), j1_etarot, j1_phi, j1_phirel (11), j1_phirot, j1_deltaR, j1_costheta,
    j1_costhetarel`` (the names list has a 17th entry, ``j1_pdgid``, with no column);
  - ``jetFeatureNames``, ``particleFeatureNames`` (byte strings) and images ``jetImage`` (unused).

  This layout is what public users of the files read (e.g. columns [12, 34..46, 48, 52] for the
  16 features and ``jets[:, -6:-1]`` for the labels; ``jetConstituentList[:, :, [5, 8, 11]]``
  for (pT, eta_rel, phi_rel)). Columns are looked up by name when the name lists exist.

Both loaders return the generator's format: ``(x_train, y_train), (x_val, y_val), (x_test, y_test)``
with standard scaling fitted on train and one-hot labels in the order :data:`CLASSES`.
"""

from __future__ import annotations

import glob
import gzip
import io
import os

import numpy as np

from ._jet_substructure import HLF_FEATURES
from ._splits import split_scale_onehot

CLASSES = ("g", "q", "w", "z", "t")
PARTICLE_FEATURES = ("px", "py", "pz", "e", "erel", "pt", "ptrel", "eta", "etarel", "etarot", "phi", "phirel",
                     "phirot", "deltaR", "costheta", "costhetarel")
_HLF_COLUMNS = (12, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 48, 52)  # fallback without names
_LABEL_COLUMNS = (53, 54, 55, 56, 57)


def _open_text(path):
    path = os.fspath(path)
    if path.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _read_arff(path):
    """Dense ARFF -> pandas DataFrame (the data section is parsed as CSV, which is fast)."""
    import pandas as pd

    names = []
    with _open_text(path) as f:
        for line in f:
            s = line.strip()
            low = s.lower()
            if low.startswith("@attribute"):
                rest = s[len("@attribute"):].strip()
                if rest.startswith(("'", '"')):
                    q = rest[0]
                    name = rest[1:rest.index(q, 1)]
                else:
                    name = rest.split()[0]
                names.append(name)
            elif low.startswith("@data"):
                break
        else:
            raise ValueError(f"{path}: no @data section; not an ARFF file?")
        body = f.read()
    if body.lstrip().startswith("{"):
        raise ValueError(f"{path}: sparse ARFF is not supported.")
    return pd.read_csv(io.StringIO(body), header=None, names=names, comment="%", quotechar="'",
                       skipinitialspace=True, na_values=["?"])


def _column(df, name):
    for c in (name, "j_" + name):
        if c in df.columns:
            return c
    lower = {str(c).lower(): c for c in df.columns}
    for c in (name.lower(), "j_" + name.lower()):
        if c in lower:
            return lower[c]
    return None


def read_openml_jets(path):
    """Read the OpenML 42468 table (ARFF or CSV, optionally .gz): ``x`` (n, 16) float32 in the order
    of :data:`HLF_FEATURES` and integer labels (n,) in the order :data:`CLASSES`."""
    import pandas as pd

    p = os.fspath(path)
    base = p[:-3] if p.endswith(".gz") else p
    if base.endswith(".arff"):
        df = _read_arff(p)
    elif base.endswith((".csv", ".txt")):
        df = pd.read_csv(p)
    else:
        raise ValueError(f"{path}: expected .arff or .csv (optionally .gz).")
    cols = [_column(df, f) for f in HLF_FEATURES]
    missing = [f for f, c in zip(HLF_FEATURES, cols) if c is None]
    if missing:
        raise KeyError(f"{path}: missing feature columns {missing}; it has {list(df.columns)}.")
    x = df[cols].to_numpy(dtype=np.float32)
    target = next((c for c in ("class", "target", "label", "jet_type") if _column(df, c) is not None), None)
    if target is not None:
        raw = df[_column(df, target)].astype(str).str.strip().str.strip("'\"").str.lower()
        lut = {c: i for i, c in enumerate(CLASSES)}
        bad = sorted(set(raw) - set(lut))
        if bad:
            raise ValueError(f"{path}: unknown class values {bad[:5]}; expected {CLASSES}.")
        labels = raw.map(lut).to_numpy()
    else:
        onehot = [_column(df, c) for c in CLASSES]
        if any(c is None for c in onehot):
            raise KeyError(f"{path}: no 'class' column and no one-hot columns j_g, j_q, j_w, j_z, j_t.")
        labels = df[onehot].to_numpy().argmax(axis=1)
    return x, labels.astype(np.int64)


def load_openml_jets(path, val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0,
                     scale: bool = True):
    """OpenML ``hls4ml_lhc_jets_hlf`` from a local ARFF/CSV file, split, scaled and one-hot.

    Example (with the file a user downloaded once from openml.org/d/42468)::

        (xt, yt), (xv, yv), (xs, ys) = kn.datasets.load_openml_jets("hls4ml_lhc_jets_hlf.arff")
    """
    x, labels = read_openml_jets(path)
    return split_scale_onehot(x, labels, len(CLASSES), val_fraction, test_fraction, seed, scale=scale)


def _expand(paths):
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out = []
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            out += sorted(glob.glob(os.path.join(p, "*.h5")) + glob.glob(os.path.join(p, "*.hdf5")))
        elif any(ch in p for ch in "*?["):
            out += sorted(glob.glob(p))
        else:
            out.append(p)
    if not out:
        raise FileNotFoundError(f"No HDF5 files found in {paths}.")
    return out


def _names(ds):
    return [n.decode() if isinstance(n, bytes) else str(n) for n in ds[()]]


def read_hls4ml_h5(paths, features: str = "constituents", n_constituents: int = 8,
                   constituent_features=("pt", "etarel", "phirel"), max_jets: int | None = None):
    """Read Zenodo 3602260 HDF5 files (a file, a list, a directory or a glob).

    Returns ``x`` and integer labels. ``features="constituents"``: ``x`` (n, N, F), the leading
    ``n_constituents`` particles by pT with ``constituent_features`` (names without ``j1_``),
    zero-padded. ``features="hlf"``: ``x`` (n, 16) in the order of :data:`HLF_FEATURES`.
    Jets without a label (``j_undef``) are dropped.
    """
    import h5py

    if features not in ("constituents", "hlf"):
        raise ValueError(f"features must be 'constituents' or 'hlf', got {features!r}.")
    xs, ys, total = [], [], 0
    for path in _expand(paths):
        with h5py.File(path, "r") as f:
            if "jets" not in f:
                raise KeyError(f"{path}: no 'jets' dataset; keys are {sorted(f.keys())}.")
            jets = f["jets"]
            jnames = _names(f["jetFeatureNames"]) if "jetFeatureNames" in f else None
            lab_cols = [jnames.index("j_" + c) for c in CLASSES] if jnames else list(_LABEL_COLUMNS)
            stop = len(jets) if max_jets is None else min(len(jets), max_jets - total)
            onehot = np.asarray(jets[:stop][:, lab_cols])
            if features == "hlf":
                cols = [jnames.index("j_" + n) for n in HLF_FEATURES] if jnames else list(_HLF_COLUMNS)
                x = np.asarray(jets[:stop][:, cols], dtype=np.float32)
            else:
                pnames = _names(f["particleFeatureNames"]) if "particleFeatureNames" in f else None
                lookup = [("j1_" + n) for n in PARTICLE_FEATURES]
                pn = pnames if pnames else lookup
                try:
                    cols = [pn.index("j1_" + n) for n in constituent_features]
                    pt_col = pn.index("j1_pt")
                except ValueError as e:
                    raise KeyError(f"{path}: unknown particle feature ({e}); names are {pn}.") from None
                cl = np.asarray(f["jetConstituentList"][:stop], dtype=np.float32)
                order = np.argsort(-cl[:, :, pt_col], axis=1, kind="stable")[:, :n_constituents]
                x = np.take_along_axis(cl, order[:, :, None], axis=1)[:, :, cols]
                if x.shape[1] < n_constituents:
                    x = np.concatenate([x, np.zeros((len(x), n_constituents - x.shape[1], len(cols)), np.float32)], 1)
        keep = onehot.sum(axis=1) == 1
        xs.append(x[keep])
        ys.append(onehot[keep].argmax(axis=1))
        total += stop
        if max_jets is not None and total >= max_jets:
            break
    return np.concatenate(xs), np.concatenate(ys).astype(np.int64)


def load_hls4ml_h5(paths, features: str = "constituents", n_constituents: int = 8,
                   constituent_features=("pt", "etarel", "phirel"), max_jets: int | None = None,
                   val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0, scale: bool = True):
    """Zenodo 3602260 jets from local HDF5 files, split, scaled (constituents: per feature over real
    particles, padding stays 0) and one-hot. See :func:`read_hls4ml_h5` for the arguments.

    Example::

        (xt, yt), _, _ = kn.datasets.load_hls4ml_h5("hls4ml_LHCjet_150p_val/", n_constituents=8)
        xt.shape  # (n, 8, 3)
    """
    x, labels = read_hls4ml_h5(paths, features, n_constituents, constituent_features, max_jets)
    return split_scale_onehot(x, labels, len(CLASSES), val_fraction, test_fraction, seed, scale=scale,
                              padding=(features == "constituents"))

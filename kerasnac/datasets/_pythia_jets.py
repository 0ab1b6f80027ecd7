"""Generate hls4ml-like jets with Pythia 8 and FastJet (optional: ``pip install --prefer-binary pythia8mc fastjet``).

Five classes like the hls4ml LHC jet dataset (Coleman et al., arXiv:1709.08705; Duarte et al.,
arXiv:1804.06913), pp collisions at sqrt(s) = 13 TeV, leading-order hard processes:

=====  ============================================================  ========================
class  Pythia 8 processes                                            truth object of the jet
=====  ============================================================  ========================
g      ``HardQCD:gg2gg``, ``HardQCD:qqbar2gg``                       outgoing gluon
q      ``HardQCD:qq2qq``, ``HardQCD:qqbar2qqbarNew`` (u, d, s)       outgoing light quark
w      ``WeakDoubleBoson:ffbar2WW``, W -> hadrons                    W (both decay quarks)
z      ``WeakDoubleBoson:ffbar2gmZgmZ`` (pure Z), Z -> hadrons       Z (both decay quarks)
t      ``Top:gg2ttbar``, ``Top:qqbar2ttbar``, W -> hadrons           top (b and W quarks)
=====  ============================================================  ========================

with ISR, FSR, multiparton interactions and hadronisation on (Monash tune). Visible final-state
particles with |eta| < 5 are clustered with anti-kT, R = 0.8 (FastJet). A jet is kept when it
lies within dR < 0.6 of a truth object of its class, has 950 < pT < 1050 GeV and |eta| < 2.5,
and (``containment=True``) all the object's decay quarks are within dR < R of the jet axis.

Each jet gives its constituents (the leading ``n_constituents`` by pT as (pT, eta_rel, phi_rel),
sorted, zero-padded) and the 16 high-level features computed in numpy
(:mod:`kerasnac.datasets._jet_substructure`). Work is split into chunks of fixed size, each with
its own seed derived from ``(seed, class, chunk)``, so the output does not depend on the number
of worker processes.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np

from .._io import save_npz_atomic
from ._jet_substructure import HLF_FEATURES, constituent_array, delta_phi, hlf_features

CLASSES = ("g", "q", "w", "z", "t")
GENERATOR_VERSION = "kerasnac-jets-1"

_PROCESSES = {
    "g": ["HardQCD:gg2gg = on", "HardQCD:qqbar2gg = on"],
    "q": ["HardQCD:qq2qq = on", "HardQCD:qqbar2qqbarNew = on", "HardQCD:nQuarkNew = 3"],
    "w": ["WeakDoubleBoson:ffbar2WW = on", "24:onMode = off", "24:onIfAny = 1 2 3 4 5"],
    "z": ["WeakDoubleBoson:ffbar2gmZgmZ = on", "WeakZ0:gmZmode = 2", "23:onMode = off",
          "23:onIfAny = 1 2 3 4 5"],
    "t": ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "24:onMode = off", "24:onIfAny = 1 2 3 4 5"],
}


def default_settings(**overrides) -> dict:
    s = dict(ecm=13000.0, pthat_min=900.0, pthat_max=1200.0, jet_r=0.8, pt_min=950.0, pt_max=1050.0,
             eta_max=2.5, match_dr=0.6, containment=True, particle_eta_max=5.0, n_constituents=32,
             z_cut=0.1, sd_beta=0.0, chunk_size=100)
    unknown = set(overrides) - set(s)
    if unknown:
        raise TypeError(f"Unknown generator settings {sorted(unknown)}.")
    s.update(overrides)
    return s


def _require():
    try:
        import fastjet  # noqa: F401
        import pythia8mc  # noqa: F401
    except ImportError as e:
        raise ImportError("Generating jets needs Pythia 8 and FastJet: `pip install --prefer-binary pythia8mc fastjet` "
                          "(pythia8mc 8.317.2 has a manylinux wheel; 8.318.0 is source-only and compiles for "
                          "30+ minutes). The shipped sample (kerasnac.datasets.jets()) needs neither.") from e


def _pythia(cls, seed, s):
    import pythia8mc

    py = pythia8mc.Pythia("", False)
    for line in (["Beams:eCM = %g" % s["ecm"], "PhaseSpace:pTHatMin = %g" % s["pthat_min"],
                  "PhaseSpace:pTHatMax = %g" % s["pthat_max"], "Random:setSeed = on", "Random:seed = %d" % seed,
                  "Next:numberCount = 0", "Next:numberShowEvent = 0", "Next:numberShowInfo = 0",
                  "Next:numberShowProcess = 0", "Init:showProcesses = off", "Init:showMultipartonInteractions = off",
                  "Init:showChangedSettings = off", "Init:showChangedParticleData = off", "Print:quiet = on"]
                 + _PROCESSES[cls]):
        if not py.readString(line):
            raise RuntimeError(f"Pythia rejected setting {line!r}.")
    if not py.init():
        raise RuntimeError("Pythia initialisation failed.")
    return py


def _truth_objects(process, cls):
    """(eta, phi, [(eta, phi) of decay quarks]) for each truth object of the class in the hard process."""
    out = []
    for i in range(process.size()):
        p = process[i]
        aid, st = abs(p.id()), p.status()
        if cls == "g" and aid == 21 and st == 23:
            out.append((p.eta(), p.phi(), []))
        elif cls == "q" and 1 <= aid <= 3 and st == 23:
            out.append((p.eta(), p.phi(), []))
        elif (cls == "w" and aid == 24) or (cls == "z" and aid == 23) or (cls == "t" and aid == 6):
            quarks, stack = [], list(p.daughterList())
            while stack:
                d = process[stack.pop()]
                if 1 <= abs(d.id()) <= 5:
                    quarks.append((d.eta(), d.phi()))
                elif abs(d.id()) in (23, 24, 6):
                    stack.extend(d.daughterList())
            if quarks:
                out.append((p.eta(), p.phi(), quarks))
    return out


def _dr(eta1, phi1, eta2, phi2):
    return float(np.hypot(eta1 - eta2, delta_phi(phi1, phi2)))


def _event_jets(py, fastjet, jet_def, s):
    ev = py.event
    parts = []
    for i in range(ev.size()):
        p = ev[i]
        if p.isFinal() and p.isVisible() and abs(p.eta()) < s["particle_eta_max"]:
            parts.append(fastjet.PseudoJet(p.px(), p.py(), p.pz(), p.e()))
    cs = fastjet.ClusterSequence(parts, jet_def)
    jets = [j for j in fastjet.sorted_by_pt(cs.inclusive_jets(0.5 * s["pt_min"]))]
    return cs, jets


def _generate_chunk(task):
    """Worker: ``n`` jets of one class with one seed. Returns a dict of arrays and counters."""
    cls, seed, n, s = task
    import fastjet

    py = _pythia(cls, seed, s)
    jet_def = fastjet.JetDefinition(fastjet.antikt_algorithm, s["jet_r"])
    N = s["n_constituents"]
    cons, hlf, kin, nconst = [], [], [], []
    n_events = 0
    t0 = time.time()
    while len(hlf) < n:
        if not py.next():
            continue
        n_events += 1
        truth = _truth_objects(py.process, cls)
        if not truth:
            continue
        cs, jets = _event_jets(py, fastjet, jet_def, s)  # cs must outlive the jets' constituents
        used = set()
        for eta_t, phi_t, quarks in truth:
            best, best_dr = None, s["match_dr"]
            for k, j in enumerate(jets):
                d = _dr(j.eta(), j.phi_std(), eta_t, phi_t)
                if d < best_dr and k not in used:
                    best, best_dr = k, d
            if best is None:
                continue
            j = jets[best]
            if not (s["pt_min"] < j.pt() < s["pt_max"] and abs(j.eta()) < s["eta_max"]):
                continue
            if s["containment"] and any(_dr(j.eta(), j.phi_std(), qe, qp) > s["jet_r"] for qe, qp in quarks):
                continue
            used.add(best)
            p4 = np.array([[c.px(), c.py(), c.pz(), c.E()] for c in j.constituents()])
            hlf.append(hlf_features(p4, z_cut=s["z_cut"], beta=s["sd_beta"], r0=s["jet_r"]))
            cons.append(constituent_array(p4, j.eta(), j.phi_std(), N))
            kin.append((j.pt(), j.eta(), j.phi_std(), j.m()))
            nconst.append(len(p4))
            if len(hlf) >= n:
                break
        del cs
    return {"cls": cls, "seed": seed, "constituents": np.array(cons, dtype=np.float32),
            "hlf": np.array(hlf, dtype=np.float32), "kinematics": np.array(kin, dtype=np.float32),
            "n_constituents": np.array(nconst, dtype=np.int32), "events": n_events, "seconds": time.time() - t0}


def chunk_seed(seed: int, cls_index: int, chunk: int) -> int:
    """Pythia seed (1..900,000,000) of one chunk; independent of the number of workers."""
    return 1 + (int(seed) * 1_000_003 + cls_index * 100_003 + chunk * 7919) % 899_999_999


def _chunk_path(cache_dir, task) -> Path:
    cls, seed, n, s = task
    key = hashlib.sha256(json.dumps([GENERATOR_VERSION, cls, seed, n, s], sort_keys=True).encode()).hexdigest()[:12]
    return Path(cache_dir) / f"{cls}_{seed}_{key}.npz"


def _load_chunk(path) -> dict:
    with np.load(path, allow_pickle=False) as f:
        r = {k: f[k] for k in f.files if k != "meta"}
        r.update(json.loads(str(f["meta"])))
    return r


def _save_chunk(path, r) -> None:
    """Atomic write (temporary file + rename), so a killed run never leaves a half chunk behind."""
    path = Path(path)
    meta = {k: r[k] for k in ("cls", "seed", "events", "seconds")}
    save_npz_atomic(path, meta=np.array(json.dumps(meta)), **{k: v for k, v in r.items() if k not in meta})


def generate_jets(n_per_class: int, out=None, seed: int = 0, classes=CLASSES, n_workers: int | None = None,
                  verbose: bool = True, cache_dir=None, **settings):
    """Generate ``n_per_class`` jets of each class; optionally write them to ``out`` (.npz).

    Returns a dict with ``constituents`` (n, N, 3) = (pT [GeV], eta_rel, phi_rel), ``hlf`` (n, 16)
    named by ``hlf_names``, ``labels`` (n,) indices into ``classes``, ``kinematics`` (n, 4) = jet
    (pT, eta, phi, mass) before grooming, ``n_constituents_total`` (n,), and ``metadata``
    (generator and Pythia/FastJet versions, seed, settings, timing). Jets are ordered by class.

    ``cache_dir``: every finished chunk is written there at once (named by its class, seed and a
    hash of the settings), and a rerun with the same arguments loads the chunks already made
    instead of generating them again, so a long generation can be stopped and continued. The
    result is identical whatever the number of runs or workers.
    """
    _require()
    import fastjet
    import pythia8mc

    s = default_settings(**settings)
    classes = tuple(classes)
    for c in classes:
        if c not in _PROCESSES:
            raise ValueError(f"Unknown jet class {c!r}; choose from {CLASSES}.")
    n_workers = n_workers or max(1, (os.cpu_count() or 1))
    tasks = []
    for ci, c in enumerate(classes):
        for k, start in enumerate(range(0, n_per_class, s["chunk_size"])):
            tasks.append((k, ci, (c, chunk_seed(seed, CLASSES.index(c), k),
                                  min(s["chunk_size"], n_per_class - start), s)))
    # chunk-major order: a run that is stopped early has made about as many jets of every class
    tasks = [t for _, _, t in sorted(tasks, key=lambda t: (t[0], t[1]))]
    t0 = time.time()
    results = {}
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        for i, t in enumerate(tasks):
            if _chunk_path(cache_dir, t).exists():
                results[i] = _load_chunk(_chunk_path(cache_dir, t))
        if verbose and results:
            print(f"[jets] {len(results)} of {len(tasks)} chunks already in {cache_dir}", flush=True)
    todo = [i for i in range(len(tasks)) if i not in results]
    if n_workers == 1 or len(todo) <= 1:
        it = map(_generate_chunk, [tasks[i] for i in todo])
        pool = None
    else:
        pool = mp.get_context("spawn").Pool(n_workers)
        it = pool.imap(_generate_chunk, [tasks[i] for i in todo])
    try:
        for i, r in zip(todo, it):
            results[i] = r
            if cache_dir is not None:
                _save_chunk(_chunk_path(cache_dir, tasks[i]), r)
            if verbose:
                done = sum(len(x["hlf"]) for x in results.values())
                el = time.time() - t0
                print(f"[jets] {r['cls']} chunk: {len(r['hlf'])} jets from {r['events']} events in "
                      f"{r['seconds']:.0f}s | total {done}/{len(classes) * n_per_class} in {el:.0f}s "
                      f"({done / el:.1f} jets/s)", flush=True)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    wall = time.time() - t0
    # back to class-major order (classes, then chunks), whatever order the chunks were made in
    results = [results[i] for i in sorted(results, key=lambda i: (classes.index(tasks[i][0]), i))]
    data = {
        "constituents": np.concatenate([r["constituents"] for r in results]),
        "hlf": np.concatenate([r["hlf"] for r in results]),
        "labels": np.concatenate([np.full(len(r["hlf"]), classes.index(str(r["cls"])), np.int8) for r in results]),
        "kinematics": np.concatenate([r["kinematics"] for r in results]),
        "n_constituents_total": np.concatenate([r["n_constituents"] for r in results]),
    }
    try:
        pythia_version = pythia8mc.Pythia("", False).settings.parm("Pythia:versionNumber")
    except Exception:  # pragma: no cover - depends on the binding
        pythia_version = None
    cpu = sum(float(r["seconds"]) for r in results)
    data["metadata"] = {
        "generator": GENERATOR_VERSION, "pythia8mc": getattr(pythia8mc, "__version__", None),
        "pythia_version": pythia_version, "fastjet": getattr(fastjet, "__version__", None),
        "seed": seed, "classes": list(classes), "n_per_class": n_per_class, "settings": s,
        "processes": {c: _PROCESSES[c] for c in classes}, "hlf_names": list(HLF_FEATURES),
        "constituent_names": ["pt", "etarel", "phirel"], "wall_seconds": wall, "n_workers": n_workers,
        "cpu_seconds": cpu, "events": int(sum(int(r["events"]) for r in results)),
        "jets_per_second_wall": len(data["hlf"]) / max(wall, 1e-9),
        "jets_per_cpu_second": len(data["hlf"]) / max(cpu, 1e-9),
    }
    if out is not None:
        save_jets(out, data)
    return data


def save_jets(path, data, float16: bool = False, n_constituents: int | None = None):
    """Write a jets dict to a compressed ``.npz`` (metadata as a JSON string).

    ``float16=True`` stores the float arrays at half precision (about 3 significant digits, far
    finer than any detector resolution), and ``n_constituents`` keeps only the leading particles,
    for a compact file; the metadata records both.
    """
    arrays = {k: v for k, v in data.items() if k != "metadata"}
    meta = dict(data["metadata"])
    if n_constituents is not None:
        arrays["constituents"] = arrays["constituents"][:, :n_constituents]
        meta["stored_constituents"] = int(n_constituents)
    if float16:
        arrays = {k: (v.astype(np.float16) if v.dtype.kind == "f" else v) for k, v in arrays.items()}
        meta["stored_dtype"] = "float16"
    save_npz_atomic(path, metadata=np.array(json.dumps(meta)), **arrays)

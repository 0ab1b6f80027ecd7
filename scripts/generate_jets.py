#!/usr/bin/env python
"""Generate hls4ml-like jets (g, q, W, Z, top at pT ~ 1 TeV) with Pythia 8 + FastJet.

Needs `pip install --prefer-binary pythia8mc fastjet`: pythia8mc 8.317.2 installs from a manylinux wheel
in seconds, while the newest release (8.318.0) is source-only and compiles for 30+ minutes.
Throughput: about 10 jets/s on 2 busy cores (5,000 jets in 8 min).

    # the sample shipped in the package (1,000 jets per class, 32 constituents)
    python scripts/generate_jets.py --preset sample
    # a larger set for real studies (20,000 jets per class, 150 constituents, like Zenodo 3602260)
    python scripts/generate_jets.py --preset large --out jets_pythia8_100k.npz
    # the case-study file kept in the repository (7,750 jets per class, 16 constituents, float16;
    # 9,870 CPU-seconds: 86 min wall on 2 cores shared with other jobs); --n-per-class 20000 makes more
    # with the same seeds and reuses the chunks already made;
    # resumable: every finished chunk is kept in --cache-dir, a rerun continues where it stopped
    python scripts/generate_jets.py --preset case_study
    # anything else
    python scripts/generate_jets.py --n-per-class 5000 --n-constituents 50 --seed 7 --out my_jets.npz

Then: `kn.datasets.jets(path="my_jets.npz", features="constituents", n_constituents=8)`.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PRESETS = {
    "sample": dict(n_per_class=1000, n_constituents=32, seed=2026, chunk_size=100,
                   out=Path(__file__).resolve().parents[1] / "kerasnac/datasets/data/jets_pythia8_sample.npz"),
    "case_study": dict(n_per_class=7750, n_constituents=16, seed=12, chunk_size=250, float16=True,
                       cache_dir=Path("jets_cache_case_study"),
                       out=Path(__file__).resolve().parents[1] / "kerasnac/datasets/data/jets_pythia8_case_study.npz"),
    "large": dict(n_per_class=20000, n_constituents=150, seed=1, chunk_size=500, out=Path("jets_pythia8_large.npz")),
}


def arrays_digest(data, float16=False) -> str:
    """sha256 over the stored arrays (not the timing metadata): equal digests mean a bit-identical sample."""
    import hashlib

    import numpy as np

    h = hashlib.sha256()
    for k in sorted(k for k in data if k != "metadata"):
        v = data[k]
        if float16 and v.dtype.kind == "f":
            v = v.astype(np.float16)
        h.update(k.encode() + np.ascontiguousarray(v).tobytes())
    return h.hexdigest()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=sorted(PRESETS))
    ap.add_argument("--n-per-class", type=int)
    ap.add_argument("--n-constituents", type=int)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--out")
    ap.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    ap.add_argument("--classes", default="g,q,w,z,t")
    ap.add_argument("--chunk-size", type=int, help="jets per Pythia run (default 100; 500 for --preset large)")
    ap.add_argument("--cache-dir", help="keep every finished chunk here; a rerun continues from them")
    ap.add_argument("--float16", action="store_true", help="store float arrays at half precision")
    ap.add_argument("--no-containment", action="store_true", help="do not require the decay quarks inside the jet")
    args = ap.parse_args(argv)
    cfg = dict(PRESETS.get(args.preset, dict(n_per_class=1000, n_constituents=32, seed=0, chunk_size=100,
                                             out=Path("jets_pythia8.npz"))))
    for k in ("n_per_class", "n_constituents", "seed", "out", "chunk_size", "cache_dir"):
        if getattr(args, k) is not None:
            cfg[k] = getattr(args, k)

    from kerasnac.datasets._jets import jet_summary
    from kerasnac.datasets._pythia_jets import generate_jets

    t0 = time.time()
    from kerasnac.datasets._pythia_jets import save_jets

    data = generate_jets(cfg["n_per_class"], out=None, seed=cfg["seed"], classes=tuple(args.classes.split(",")),
                         n_workers=args.workers, n_constituents=cfg["n_constituents"], chunk_size=cfg["chunk_size"],
                         containment=not args.no_containment, cache_dir=cfg.get("cache_dir"))
    data["metadata"]["command"] = "python scripts/generate_jets.py " + " ".join(argv if argv is not None else sys.argv[1:])
    data["metadata"]["sha256_arrays"] = arrays_digest(data, float16=args.float16 or cfg.get("float16", False))
    save_jets(cfg["out"], data, float16=args.float16 or cfg.get("float16", False))
    md = data["metadata"]
    print(f"wrote {cfg['out']} ({os.path.getsize(cfg['out']) / 1e6:.2f} MB): {len(data['labels'])} jets in "
          f"{time.time() - t0:.0f}s wall, {md['jets_per_second_wall']:.1f} jets/s wall, "
          f"{md['jets_per_cpu_second']:.1f} jets/s per core, {md['events']} events")
    print(json.dumps(jet_summary(cfg["out"]), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

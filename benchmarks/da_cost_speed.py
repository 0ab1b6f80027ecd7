"""Time of the ``da_lut`` cost (a da4ml trace) per model, on the baselines and random models of the
shipped spaces, next to the analytical ``lut`` estimate.

    python benchmarks/da_cost_speed.py [--random 5]

Each model is traced once (the ``da_lut`` and ``da_depth`` costs of one model share one trace), with
the costs' solver settings (``kerasnac.hardware.COST_SOLVER_OPTIONS``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import kerasnac as kn
from kerasnac import costs, hardware


def quantized_baselines():
    """(name, model) of the jets_mlp baselines (the float one is traced at ap_fixed<16,6>)."""
    out = []
    for name, shape in (("jets_mlp", None),):
        sp = kn.SearchSpace.from_yaml(name, input_shape=shape)
        for bname, values in sp.baselines.items():
            out.append((f"{name}:{bname}", sp.model_from_values(values)))
    return out


def random_models(n: int, seed: int = 0):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _yosys_reference as yref

    out = []
    for mid, values, sp, frac, wseed in yref.draw_models(n, seed):
        out.append((mid, yref._build(sp, values, frac, wseed)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--random", type=int, default=6, help="random models from the (cut) shipped spaces")
    args = ap.parse_args()
    rows = []
    for name, model in quantized_baselines() + random_models(args.random):
        t0 = time.perf_counter()
        try:
            vals = hardware.da_costs(model)  # what the da_lut/da_depth costs compute
            da, depth = vals["da_lut"], vals["da_depth"]
        except hardware.UnsupportedLayerError as e:
            print(f"{name}: unsupported ({str(e)[:80]})")
            continue
        dt = time.perf_counter() - t0
        t1 = time.perf_counter()
        lut = costs.evaluate(model, ["lut"])["lut"]
        dt_est = time.perf_counter() - t1
        rows.append(dt)
        print(f"{name:40s} params={model.count_params():6d} da_lut={da:9.0f} da_depth={depth:4.0f} "
              f"trace {dt:6.2f} s | analytical lut={lut:9.0f} in {dt_est * 1e3:5.1f} ms")
    print(f"\nda_lut time per model: median {np.median(rows):.2f} s, max {np.max(rows):.2f} s over {len(rows)} models")


if __name__ == "__main__":
    main()
